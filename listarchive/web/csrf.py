"""CSRF protection for the site's forms: a random token kept in the signed session cookie and
repeated in a hidden ``csrf_token`` field of every form that changes something.

Checked before any POST, PUT, PATCH or DELETE reaches a view, except where no cookie can be
abused: the JSON APIs authenticate each request with ``Authorization: Token`` and never read
the session, and b4's ``POST /LIST/?x=m`` only downloads mail. A missing or wrong token is a
400 (the page that sent it was forged, or is older than the session it came from).
"""

from __future__ import annotations

import hmac
import secrets

from flask import Flask, abort, request, session

from listarchive.web.context import WRITE_METHODS

SESSION_KEY = "csrf"
FIELD = "csrf_token"
# Endpoints and blueprints that read no session: token-authenticated APIs and read-only POSTs.
EXEMPT_BLUEPRINTS = frozenset({"api", "pwapi", "pwchecks"})  # token-authenticated, never a cookie
EXEMPT_ENDPOINTS = frozenset({"pages.list_page"})


def token() -> str:
    """The session's token, made on first use (a form on the page asks for it)."""
    value = session.get(SESSION_KEY)
    if not isinstance(value, str) or len(value) < 32:
        value = secrets.token_urlsafe(32)
        session[SESSION_KEY] = value
    return value


def rotate() -> str:
    """A fresh token, after logging in or out (a token seen before login is worth nothing)."""
    session.pop(SESSION_KEY, None)
    return token()


def valid(sent: str | None) -> bool:
    expected = session.get(SESSION_KEY)
    if not isinstance(expected, str) or not expected or not sent:
        return False
    return hmac.compare_digest(expected.encode(), sent.encode("utf-8", "replace"))


def protect() -> None:
    """``before_request`` hook: refuse a write without the session's token."""
    if request.method not in WRITE_METHODS:
        return
    if request.blueprint in EXEMPT_BLUEPRINTS or request.endpoint in EXEMPT_ENDPOINTS:
        return
    if request.endpoint is None:
        return  # no such route: the 404/405 follows
    sent = request.form.get(FIELD) or request.headers.get("X-CSRF-Token")
    if not valid(sent):
        abort(400, description="the form's security token is missing or out of date; "
                               "reload the page and try again")


def install(app: Flask) -> None:
    app.before_request(protect)
    app.jinja_env.globals["csrf_token"] = token
