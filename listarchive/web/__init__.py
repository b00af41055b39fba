"""The archive site. :func:`create_app` is the single wiring point (``listarchive serve`` and
``granian --interface wsgi --factory listarchive.web:create_app`` both call it); importing this
package builds nothing.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import weakref
from typing import Any

from flask import Flask, Response, g, make_response, render_template, request
from flask.json.provider import DefaultJSONProvider
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import (
    HTTPException,
    SecurityError,
    ServiceUnavailable,
    default_exceptions,
)

from listarchive import settings as settings_mod
from listarchive.archive.db import make_engine, make_sessionmaker, open_archive
from listarchive.archive.sitekey import site_secret
from listarchive.errors import Forbidden, IndexBusy, InvalidChange, ListarchiveError, NotFound
from listarchive.search.follow import Follower
from listarchive.search.indexer import catch_up, refresh_states
from listarchive.settings import Settings
from listarchive.web import (
    activitypages,
    admin,
    apiv1,
    auth,
    b4pages,
    csrf,
    events,
    filters,
    follows,
    guard,
    interdiffpages,
    pages,
    patchworkapi,
    patchworkchecks,
    queuepages,
    rawfast,
    reviewfeeds,
    reviewpages,
    statechanges,
)
from listarchive.web.context import WRITE_METHODS, current_user, db

logger = logging.getLogger(__name__)

# No inline script or style anywhere: mail that slips markup past escaping still cannot run.
PAGE_CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
            "form-action 'self'; frame-ancestors 'none'")
STATE_REFRESH_WAIT = 2.0  # seconds a write request waits for the search index's lock
# Documents a write request re-indexes itself (a second or two, in one process: below the
# size at which the index writer starts helper processes); more are left to the next catch-up.
STATE_REFRESH_MAX = 500
DATABASE_RETRY_AFTER = 2  # seconds a client is asked to wait when the database is unavailable
FOLLOW_INTERVAL = 1.0  # seconds between a web server's looks at the database for new facts
_startup_frozen = False


class SafeJSONProvider(DefaultJSONProvider):
    """JSON with ``<``, ``>`` and ``&`` written as ``\\u003c``...: the same data for every JSON
    parser, and no markup from mail even if a client ignores the Content-Type."""

    sort_keys = False

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        text = super().dumps(obj, **kwargs)
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """A request body nested deeper than the parser's stack (``[[[[...]]]]``) is bad JSON
        like any other, answered 400 by the views, not a 500."""
        try:
            return super().loads(s, **kwargs)
        except RecursionError as exc:
            raise ValueError("JSON nested too deep") from exc


class ArchiveFlask(Flask):
    json_provider_class = SafeJSONProvider


def _follow_the_database(app: Flask, settings: Settings) -> None:
    """Keep this machine's search index following the shared database (``[search] follow``),
    from a thread started by the first request: after a server forks its workers, not before.
    Every worker process starts one; one of them does the work, on a connection of its own."""
    own = dataclasses.replace(settings, pool_size=1, pool_overflow=0)
    sessions = make_sessionmaker(make_engine(own))
    served = weakref.ref(app)  # an application dropped (a test's) takes its thread with it
    follower = Follower(settings.index_dir, lambda: catch_up(settings, sessions, timeout=0),
                        FOLLOW_INTERVAL, alive=lambda: served() is not None)
    app.extensions["listarchive.follower"] = follower

    @app.before_request
    def start_following() -> None:
        follower.start()


def _freeze_startup_objects() -> None:
    """Leave what a web process is built from out of the garbage collector's full passes.

    A full collection walks every object the collector tracks. In a web worker that is mostly
    what the application is made of (modules, SQLAlchemy's mappers, Flask's routes: 105,000 of
    116,000 objects after 3,000 message pages), which lives as long as the process: each full
    pass took 55-60 ms, a request in a hundred waiting behind it. Frozen once, after a
    collection so that no garbage is kept: 3.7 ms. Once per process (the first application a
    process builds; a test session builds many)."""
    global _startup_frozen
    if _startup_frozen:
        return
    _startup_frozen = True
    gc.collect()
    gc.freeze()


def create_app(settings: Settings | None = None) -> Flask:
    """The WSGI application for ``settings`` (read with :func:`listarchive.settings.load`
    when ``None``): one database session per request, blueprints, filters, error pages."""
    if settings is None:
        settings = settings_mod.load()
    app = ArchiveFlask(__name__, template_folder="templates", static_folder="static")
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = settings.base_url.startswith("https://")
    app.url_map.strict_slashes = True
    app.extensions["listarchive.settings"] = settings
    # Refuses an archive of another schema version, saying why.
    archive = open_archive(settings, mapped=True)
    app.config["SECRET_KEY"] = site_secret(archive, settings.secret_key)
    app.extensions["listarchive.sessionmaker"] = archive.sessions
    app.extensions["listarchive.readers"] = archive.readers
    app.jinja_env.filters.update(filters.FILTERS)
    app.jinja_env.autoescape = True
    csrf.install(app)
    guard.install(app, settings)
    for blueprint in (apiv1.bp, patchworkapi.bp, patchworkchecks.bp, events.bp, auth.bp,
                      statechanges.bp, queuepages.bp, reviewpages.bp, interdiffpages.bp,
                      reviewfeeds.bp, admin.bp, b4pages.bp, activitypages.bp, follows.bp,
                      pages.bp):
        app.register_blueprint(blueprint)
    if settings.follows:
        _follow_the_database(app, settings)
    follower = app.extensions.get("listarchive.follower")
    app.wsgi_app = rawfast.RawDownloads(  # type: ignore[method-assign]
        app.wsgi_app, archive.reader_engine, app.config["TRUSTED_HOSTS"], PAGE_CSP,
        on_request=follower.start if follower is not None else None)

    @app.context_processor
    def logged_in() -> dict[str, Any]:
        me = current_user()
        return {"me": me, "my_follows": follows.followed(db(), me)}

    @app.teardown_appcontext
    def close_session(_exc: BaseException | None) -> None:
        session = g.pop("db", None)
        if session is not None:
            session.close()

    @app.after_request
    def follow_states(resp: Response) -> Response:
        # A write that changed states (a form, a bulk change, an API call) committed before
        # this: rebuild those search documents now, so ``state:`` agrees with the page the
        # browser is sent to. An ingest holding the index's lock does it when it catches up.
        if request.method in WRITE_METHODS and resp.status_code < 400:
            try:
                refresh_states(settings, app.extensions["listarchive.sessionmaker"],
                               timeout=STATE_REFRESH_WAIT, limit=STATE_REFRESH_MAX)
            except IndexBusy:
                logger.info("search index busy; state changes are indexed at the next catch-up")
            except OSError as exc:  # the change itself is committed: never answer it with a 500
                logger.warning("state changes not indexed (next catch-up does it): %s", exc)
        return resp

    @app.after_request
    def security_headers(resp: Response) -> Response:
        resp.headers.setdefault("Content-Security-Policy", PAGE_CSP)
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        return resp

    @app.errorhandler(NotFound)
    @app.errorhandler(Forbidden)
    @app.errorhandler(InvalidChange)
    def refused(exc: ListarchiveError) -> Any:
        """A core operation's named refusal, as the HTTP status that means it."""
        status = 404 if isinstance(exc, NotFound) else 403 if isinstance(exc, Forbidden) else 400
        db().rollback()
        return http_error(default_exceptions[status](description=str(exc)))

    @app.errorhandler(OperationalError)
    def database_unavailable(exc: OperationalError) -> Any:
        """The database went away (a restart, a failover), refused a connection or timed out
        on a lock: 503 with Retry-After, the site's "try again later". After a lost
        connection SQLAlchemy has replaced the pool's connections: the next request
        reconnects."""
        logger.warning("database unavailable: %s", exc.orig)
        resp = make_response(http_error(ServiceUnavailable(
            description="the database is unavailable for a moment: try again shortly")))
        resp.headers["Retry-After"] = str(DATABASE_RETRY_AFTER)
        return resp

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        code = exc.code or 500
        reason = exc.description or exc.name
        if request.path.startswith("/api/"):
            return {"error": reason, "status": code}, code
        resp = exc.get_response()
        if 300 <= code < 400:
            return resp
        if isinstance(exc, SecurityError):  # an untrusted Host: no URL of this site can be built
            return Response(f"{code} {exc.name}: {reason}\n", status=code, mimetype="text/plain")
        body = render_template("error.html", code=code, reason=reason, title=exc.name)
        return Response(body, status=code, headers={k: v for k, v in resp.headers.items()
                                                    if k.lower() in ("allow", "location")},
                        mimetype="text/html")

    _freeze_startup_objects()
    return app
