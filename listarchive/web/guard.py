"""What the site does before a request reaches a view, against hostile clients.

- **Hosts and proxies**: absolute URLs come from ``web.base_url``, or from a Host header only
  when it names a trusted host (Flask's ``TRUSTED_HOSTS``: anything else is a 400, so a forged
  ``Host: evil.example`` never ends up in a redirect or a feed); the client's address is read
  through ``web.trusted_proxies`` reverse proxies (werkzeug's ``ProxyFix``), so that login
  throttling and rate limits see clients, not the proxy.
- **Rate limits** per client address on the doors that cost the most (search, whole-thread and
  search downloads, the APIs), counted by the ``limits`` library (moving windows, in memory or a
  shared Redis/Memcached); past a limit the answer is 429 with ``Retry-After``. Logged-in users
  (maintainers with work to do) are not limited.
- **NUL characters** in parameters are refused: no stored text holds one.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Flask, Response, abort, request, session
from limits import RateLimitItem, parse, storage, strategies
from werkzeug.middleware.proxy_fix import ProxyFix

from listarchive.settings import Settings

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")


@dataclass(frozen=True)
class Door:
    name: str
    limit: RateLimitItem


def trusted_hosts(settings: Settings) -> list[str]:
    """The host names the site answers to."""
    hosts = list(settings.trusted_hosts)
    if settings.base_url:
        host = urlsplit(settings.base_url).hostname
        if host:
            hosts.append(host)
    if not settings.trusted_hosts:
        hosts.extend(LOCAL_HOSTS)
        if settings.host not in ("", "0.0.0.0", "::"):
            hosts.append(settings.host)
    return hosts


def door_of(doors: dict[str, Door]) -> Door | None:
    """Which limited door this request knocks at, if any."""
    path = request.path
    if path.startswith("/api/"):
        if path == "/api/v1/search":
            return doors.get("search") or doors.get("api")
        return doors.get("api")
    if path.endswith("/t.mbox.gz") or request.values.get("x") == "m":
        return doors.get("download")
    if "q" in request.args or "q" in request.form:
        return doors.get("search")
    return None


def install(app: Flask, settings: Settings) -> None:
    app.config["TRUSTED_HOSTS"] = trusted_hosts(settings)
    if settings.trusted_proxies:
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]
    doors = {name: Door(name, parse(value)) for name, value in (
        ("search", settings.limit_search), ("download", settings.limit_download),
        ("api", settings.limit_api)) if value}
    limiter = strategies.MovingWindowRateLimiter(storage.storage_from_string(
        settings.limit_storage))

    @app.before_request
    def refuse_nul() -> None:
        # No stored text holds a NUL, and PostgreSQL cannot even compare one: a parameter with
        # one (``?q=%00``) can only be an attack or an accident.
        if any("\x00" in value for values in (request.args, request.form)
               for value in values.values()):
            abort(400, description="parameters may not contain NUL characters")

    @app.before_request
    def rate_limit() -> Response | None:
        door = door_of(doors)
        if door is None or session.get("user_id") is not None:
            return None
        key = f"{door.name}:{request.remote_addr or 'unknown'}"
        if limiter.hit(door.limit, key):
            return None
        reset = limiter.get_window_stats(door.limit, key).reset_time
        wait = max(1, math.ceil(reset - time.time()))
        resp = Response(f"Too many requests: at most {door.limit} for {door.name} from one "
                        f"address. Try again in {wait} seconds.\n", status=429,
                        mimetype="text/plain")
        resp.headers["Retry-After"] = str(wait)
        return resp
