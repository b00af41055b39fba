"""The archive site. :func:`create_app` is the single wiring point (``listarchive serve`` and
``gunicorn 'listarchive.web:create_app()'`` both call it); importing this package builds nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, Response, g, render_template, request
from werkzeug.exceptions import HTTPException

from listarchive import settings as settings_mod
from listarchive.db import make_engine, make_sessionmaker
from listarchive.settings import Settings

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
# No inline script or style anywhere: mail that slips markup past escaping still cannot run.
PAGE_CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
            "form-action 'self'; frame-ancestors 'none'")


def create_app(settings: Settings | None = None) -> Flask:
    """The WSGI application for ``settings`` (read with :func:`listarchive.settings.load`
    when ``None``): one database session per request, blueprints, filters, error pages."""
    from listarchive.web import api, filters, views

    if settings is None:
        settings = settings_mod.load()
    app = Flask(__name__, template_folder=str(TEMPLATES), static_folder="static")
    app.config["SECRET_KEY"] = settings.secret_key or None
    app.config["JSON_SORT_KEYS"] = False
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.url_map.strict_slashes = True
    app.extensions["listarchive.settings"] = settings
    app.extensions["listarchive.sessionmaker"] = make_sessionmaker(make_engine(settings))
    app.jinja_env.filters.update(filters.FILTERS)
    app.jinja_env.autoescape = True
    app.register_blueprint(api.bp)
    app.register_blueprint(views.bp)

    @app.teardown_appcontext
    def close_session(_exc: BaseException | None) -> None:
        session = g.pop("db", None)
        if session is not None:
            session.close()

    @app.after_request
    def security_headers(resp: Response) -> Response:
        resp.headers.setdefault("Content-Security-Policy", PAGE_CSP)
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
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
        body = render_template("error.html", code=code, reason=reason, title=exc.name)
        return Response(body, status=code, headers={k: v for k, v in resp.headers.items()
                                                    if k.lower() in ("allow", "location")},
                        mimetype="text/html")

    return app
