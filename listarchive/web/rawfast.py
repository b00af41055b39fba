"""The raw message for anonymous readers, answered before the framework.

``/LIST/MSGID/raw`` is what b4, scripts and crawlers fetch most, and the cheapest answer the
archive has: one indexed statement and the stored bytes. Through Flask the framework's own
work per request (request context, routing, hooks, the session cookie, the response object)
was most of it: cProfile of 300 downloads shows no single cost above a few percent, and a
WSGI function doing the same statement answered about three times the requests per second
under the same gunicorn.

So a request that can only be an anonymous reader's raw download (GET or HEAD, no cookie,
no credentials, no query, a trusted Host) is answered here, with the same statement, the same
visibility (:data:`~listarchive.access.visibility.ANONYMOUS`) and the same headers as the
site's view (:func:`listarchive.web.downloads.raw`). Everything else, and every answer that is
not the message (not found, elsewhere, a bad URL, a database that went away), goes to the
site unchanged, which answers it as it always has.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import SecurityError
from werkzeug.http import http_date, parse_date, parse_etags, quote_etag
from werkzeug.sansio.utils import get_host

from listarchive.access.visibility import ANONYMOUS
from listarchive.archive import listview, messageview
from listarchive.mail.msgids import BadMsgid
from listarchive.settings import LIST_NAME_RE
from listarchive.web import caching
from listarchive.web.downloads import DOWNLOAD_CSP, raw_content_type
from listarchive.web.paths import raw_path, split_message_path

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class RawDownloads:
    """WSGI middleware in front of the site: see the module's documentation."""

    def __init__(self, site: WSGIApp, readers: Engine, hosts: list[str],
                 page_csp: str, on_request: Callable[[], None] | None = None) -> None:
        """``site``: the WSGI application behind; ``readers``: the engine of its read-only
        sessions (a download reads on a bare connection: a session's own work was a quarter
        of the answer's time);
        ``hosts``: the Host names it trusts; ``page_csp``: the policy its 304s carry;
        ``on_request``: what the site does at every request before its views (start the
        search follower), done here too."""
        self.site = site
        self.readers = readers
        self.hosts = tuple(hosts)
        self.page_csp = page_csp
        self.on_request = on_request

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        answer = None
        if self._anonymous_raw(environ):
            if self.on_request is not None:
                self.on_request()
            answer = self._answer(environ)
        if answer is None:
            return self.site(environ, start_response)
        status, headers, body = answer
        start_response(status, headers)
        return [body] if body and environ["REQUEST_METHOD"] != "HEAD" else []

    def _anonymous_raw(self, environ: dict[str, Any]) -> bool:
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return False
        if not str(environ.get("PATH_INFO", "")).endswith("/raw"):
            return False
        if environ.get("QUERY_STRING") or environ.get("HTTP_COOKIE") or \
                environ.get("HTTP_AUTHORIZATION"):
            return False
        # (the site refuses an untrusted host, saying why)
        return _trusted(environ.get("wsgi.url_scheme", "http"), environ.get("HTTP_HOST"),
                        _server(environ), self.hosts)

    def _answer(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes] | None:
        """The download (status, headers, body), or None when the site is to answer."""
        path_info = str(environ.get("PATH_INFO", ""))
        name = path_info.split("/", 2)[1]
        if name != listview.ALL and not LIST_NAME_RE.match(name):
            return None
        head = f"{environ.get('SCRIPT_NAME', '')}/{name}/"
        sent = raw_path(environ)
        try:
            if sent is not None and sent.startswith(head):
                path = split_message_path(sent[len(head):], raw=True)
            else:
                path = split_message_path(path_info[len(f"/{name}/"):], raw=False)
        except (BadMsgid, ValueError):
            return None
        if path.suffix != "/raw" or path.attachment is not None:
            return None
        try:
            with self.readers.connect() as connection:
                found = messageview.find_message_on(connection, ANONYMOUS, path.msgid, name,
                                                    raw=True)
                record, data = found.record, found.raw
                if not found.browsable or record is None or (
                        name != listview.ALL and name not in record.lists):
                    return None
                if data is None:  # under /all/ the bytes are read apart, as the site does
                    data = messageview.raw_message(connection, ANONYMOUS, record.msgid)
        except SQLAlchemyError:
            return None  # the site says the database is unavailable
        if data is None:
            return None
        etag, modified = record.sha256, record.ingested_at
        fresh = caching.is_fresh(parse_etags(environ.get("HTTP_IF_NONE_MATCH")),
                                 parse_date(environ.get("HTTP_IF_MODIFIED_SINCE")), etag, modified)
        # The headers as a list, given to the server as they are: through a response object
        # (each header parsed, checked and copied) they were about a sixth of this answer's
        # own time. They are the ones the site's view sends (a test compares them).
        headers = [
            ("Content-Security-Policy", self.page_csp if fresh else DOWNLOAD_CSP),
            ("X-Content-Type-Options", "nosniff"),
            ("ETag", quote_etag(etag)),
            # (a 304 carries no Last-Modified: werkzeug drops it from the site's)
            *((("Last-Modified", http_date(modified)),) if modified is not None and not fresh
              else ()),
            ("Cache-Control", CACHE_CONTROL),
            ("Vary", "Cookie"),
            ("Referrer-Policy", "same-origin"),
        ]
        if fresh:
            return "304 NOT MODIFIED", headers, b""
        headers += [("Content-Type", raw_content_type(data)), ("Content-Length", str(len(data)))]
        return "200 OK", headers, data


CACHE_CONTROL = f"public, max-age={caching.DOWNLOAD_MAX_AGE}"


@functools.lru_cache(maxsize=64)
def _trusted(scheme: str, host: str | None, server: tuple[str, int | None] | None,
             hosts: tuple[str, ...]) -> bool:
    """Whether werkzeug's check lets the request's Host through, remembered for the few a
    site is asked for (the check encodes the name in IDNA each time)."""
    try:
        get_host(scheme, host, server, list(hosts))
    except SecurityError:
        return False
    return True


def _server(environ: dict[str, Any]) -> tuple[str, int | None] | None:
    name = environ.get("SERVER_NAME")
    if not name:
        return None
    port = environ.get("SERVER_PORT")
    return str(name), int(port) if port and str(port).isdigit() else None
