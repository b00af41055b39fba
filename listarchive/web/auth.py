"""``/login`` and ``/logout``: maintainers and reviewers sign in to change states; reading needs
no account.

The session is Flask's signed cookie (HttpOnly, SameSite=Lax) holding ``user_id`` and the CSRF
token. Logging in starts a new session (a cookie planted before login is worth nothing) and the
attempt is counted by :func:`listarchive.access.accounts.check_login`, which refuses an address that
failed too often; its count is committed whatever the outcome.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request
from flask import session as cookie

from listarchive.access import accounts
from listarchive.web import csrf
from listarchive.web.context import current_user, db

bp = Blueprint("auth", __name__)


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this site only (``//evil.example/`` and
    ``https://...`` would send the fresh session's owner elsewhere)."""
    if (not target or not target.startswith("/") or target.startswith("//")
            or "\\" in target or any(ord(c) < 32 for c in target)):
        return "/"
    return target


@bp.route("/login", methods=["GET", "HEAD"])
def login_form() -> Any:
    return render_template("login.html", next=safe_next(request.args.get("next")), error="",
                           user=current_user())


@bp.route("/login", methods=["POST"])
def login() -> Any:
    name = request.form.get("name", "").strip()[:64]
    password = request.form.get("password", "")[:1024]
    target = safe_next(request.form.get("next"))
    ip = request.remote_addr or "unknown"
    session = db()
    if not name or not password:
        return render_template("login.html", next=target, user=None,
                               error="give your user name and password"), 400
    if accounts.login_blocked(session, name, ip):
        session.commit()
        return render_template("login.html", next=target, user=None,
                               error="too many failed attempts: wait a while and try again"), 429
    user = accounts.check_login(session, name, password, ip)
    session.commit()  # counts the failure, or stores a refreshed password hash
    if user is None:
        return render_template("login.html", next=target, user=None,
                               error="wrong user name or password"), 401
    cookie.clear()
    cookie["user_id"] = user.id
    csrf.rotate()
    return redirect(target, 303)


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    cookie.clear()
    return redirect("/", 303)
