"""Per-request plumbing shared by the views: the session, the viewer, parameters, absolute URLs.

Parameters are checked in :mod:`listarchive.web.params`.
"""

from __future__ import annotations

from flask import abort, current_app, g, request
from flask import session as cookie
from sqlalchemy.orm import Session, sessionmaker

from listarchive.access import accounts
from listarchive.access.visibility import Viewer, viewer_for
from listarchive.archive.models import User
from listarchive.settings import Settings

# The methods of requests that may change something (forms, the APIs' writes).
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def settings() -> Settings:
    value: Settings = current_app.extensions["listarchive.settings"]
    return value


def db() -> Session:
    """The request's session, opened on first use and closed when the request ends; a
    reader's (:attr:`~listarchive.archive.db.Archive.readers`) unless the method writes."""
    if "db" not in g:
        kind = "sessionmaker" if request.method in WRITE_METHODS else "readers"
        maker: sessionmaker[Session] = current_app.extensions[f"listarchive.{kind}"]
        g.db = maker()
    session: Session = g.db
    return session


def current_user() -> User | None:
    """The logged-in user (``user_id`` in the signed session cookie), or None. An account
    deleted since the cookie was issued counts as logged out."""
    if "user" not in g:
        uid = cookie.get("user_id")
        g.user = db().get(User, uid) if isinstance(uid, int) else None
    user: User | None = g.user
    return user


def viewer_of(user: User | None) -> Viewer:
    """What ``user`` may read (lists granted, groups, embargoes allowing them); anonymous for
    None."""
    return viewer_for(db(), user)


def viewer() -> Viewer:
    """The current visitor as a :class:`Viewer` (the logged-in user, else anonymous)."""
    if "viewer" not in g:
        g.viewer = viewer_of(current_user())
    found: Viewer = g.viewer
    return found


def token_user() -> User:
    """The user of the request's ``Authorization: Token ...`` header; 401 without one or with
    a token that matches nobody. The APIs' writes use only this, never the session cookie, so
    they need no CSRF token and a page on another site cannot make them."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "token" or not value.strip():
        abort(401, description="this needs an API token: Authorization: Token ...")
    user = accounts.authenticate_token(db(), value)
    if user is None:
        abort(401, description="unknown or revoked API token")
    return user


def site_url() -> str:
    """Scheme, host and prefix of the site: ``web.base_url`` if set, else what the client used."""
    base = settings().base_url
    if base:
        return base
    return request.host_url.rstrip("/") + request.script_root


def absolute(path: str) -> str:
    return site_url() + path
