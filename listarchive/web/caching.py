"""Validators and cache rules for pages and downloads, so that browsers, crawlers and a reverse
proxy in front of the site ask again cheaply (a 304 costs no parsing, no rendering, no gzip).

An ETag names everything a response is made of: the stored messages it shows (their sha256;
stored mail never changes), the review states it shows (the newest state change of the
archive), and who looks (pages differ for a signed-in reader). Visibility needs no part of its
own: the members a viewer may see are part of what the thread's tag is made of.

Cache-Control: what an anonymous reader gets is public by construction (an anonymous viewer
sees nothing restricted), so it may be kept by a shared cache for a while, a raw message or an
attachment for a day, a page for a minute. What a signed-in reader gets is ``private`` and
revalidated every time; ``Vary: Cookie`` keeps a shared cache from serving one to the other.
A response that sets a cookie is never public.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from flask import Response, g, request, session
from sqlalchemy import select
from werkzeug.datastructures import ETags

from listarchive.archive import messageview
from listarchive.web.context import db, viewer

PAGE_MAX_AGE = 60  # pages change when their thread or a review state does
DOWNLOAD_MAX_AGE = 86400  # raw messages and attachments never change (an embargo may hide one)


def states_version() -> str:
    """The newest review state change and the newest CI check of the archive ("0.0" for
    none), once per request: pages show both."""
    if "states_version" not in g:
        row = db().execute(select(*messageview.NEWEST_STATES)).one()
        read_states(int(row[0] or 0), int(row[1] or 0))
    found: str = g.states_version
    return found


def read_states(newest_change: int, newest_check: int) -> None:
    """What :func:`states_version` gives for this request, read by the caller with what the
    page shows (a message URL's first statement): one statement less."""
    g.states_version = f"{newest_change}.{newest_check}"


def tag(*parts: str, states: bool = True) -> str:
    """The ETag of a response made of ``parts`` for the current viewer (with the review states
    unless ``states`` is false: downloads show none)."""
    who = viewer()
    digest = hashlib.sha256()
    for part in (*parts, "" if who.anonymous else f"user:{who.user_id}",
                 str(states_version()) if states else ""):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:32]


def _policy(resp: Response, max_age: int) -> Response:
    if viewer().anonymous and not session.modified:
        resp.cache_control.public = True
        resp.cache_control.max_age = max_age
    else:
        resp.cache_control.private = True
        resp.cache_control.no_cache = True
    resp.vary.add("Cookie")
    return resp


def is_fresh(if_none_match: ETags, if_modified_since: datetime | None, etag: str,
             last_modified: datetime | None) -> bool:
    """Whether a client holding ``If-None-Match`` (else ``If-Modified-Since``) has the version
    ``etag`` of ``last_modified``."""
    if if_none_match:
        return if_none_match.contains(etag)
    return if_modified_since is not None and last_modified is not None and \
        last_modified.replace(microsecond=0, tzinfo=if_modified_since.tzinfo) <= if_modified_since


def not_modified(etag: str, last_modified: datetime | None, max_age: int = PAGE_MAX_AGE
                 ) -> Response | None:
    """A 304 when the client holds this version (``If-None-Match``, else
    ``If-Modified-Since``), with the headers the full answer would carry; else None."""
    if not is_fresh(request.if_none_match, request.if_modified_since, etag, last_modified):
        return None
    resp = Response(status=304)
    resp.set_etag(etag)
    if last_modified is not None:
        resp.last_modified = last_modified
    return _policy(resp, max_age)


def finish(resp: Response, etag: str, last_modified: datetime | None,
           max_age: int = PAGE_MAX_AGE) -> Response:
    """``resp`` with its validators and its cache rule."""
    resp.set_etag(etag)
    if last_modified is not None:
        resp.last_modified = last_modified
    return _policy(resp, max_age)
