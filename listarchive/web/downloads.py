"""Byte downloads: raw messages, attachments, gzipped mboxrd; with validators for caching.

Stored messages never change, so their sha256 is a strong ETag. Downloads are marked
``nosniff`` and, for attachments, ``application/octet-stream`` + ``attachment`` so that a browser
never renders mail content as a page of this site.
"""

from __future__ import annotations

import gzip
import re
import threading
from collections import OrderedDict
from datetime import datetime
from email import message_from_bytes
from urllib.parse import quote

from flask import Response, abort, request

from listarchive.archive import bodies, messageview
from listarchive.archive.records import MessageRecord, ThreadView
from listarchive.mail.mimeparts import leaf_parts
from listarchive.web import caching
from listarchive.web.context import db, viewer

_CHARSET_VALUE = re.compile(rb"\"?([A-Za-z0-9_.:-]{1,40})")
_FILENAME_RE = re.compile(r"[^A-Za-z0-9._+-]+")
DOWNLOAD_CSP = "default-src 'none'; sandbox"


def _finish(resp: Response, etag: str, last_modified: datetime | None,
            max_age: int = caching.DOWNLOAD_MAX_AGE) -> Response:
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Content-Security-Policy"] = DOWNLOAD_CSP
    return caching.finish(resp, etag, last_modified, max_age)


def _stored(record: MessageRecord, data: bytes | None) -> bytes:
    """The message's stored bytes: ``data`` when read with its record, else read now."""
    if data is None:
        data = messageview.raw_message(db(), viewer(), record.msgid)
    if data is None:
        abort(404)
    return data


def raw(record: MessageRecord, data: bytes | None = None) -> Response:
    """The stored bytes (``data``, if read with the record) as text/plain with the charset the
    message declares (UTF-8 if none)."""
    etag = record.sha256
    early = caching.not_modified(etag, record.ingested_at, caching.DOWNLOAD_MAX_AGE)
    if early is not None:
        return early
    data = _stored(record, data)
    return _finish(Response(data, content_type=raw_content_type(data)), etag, record.ingested_at)


def raw_content_type(data: bytes) -> str:
    """text/plain with the charset the message's header declares (UTF-8 if none)."""
    # Found with bytes.find, no decoding: a decoded copy of the header was about a tenth of
    # the anonymous raw download's own time, and a case-insensitive regular expression over
    # the header (which cannot skip ahead to a literal) a fifth.
    end = data.find(b"\n\n", 0, 8192)
    if end < 0:
        end = 8192
    crlf = data.find(b"\n\r\n", 0, end)  # (searched only before the first, if any)
    if crlf >= 0:
        end = crlf
    lowered = data[:end].lower()
    at = lowered.find(b"charset=")
    while at >= 0:
        m = _CHARSET_VALUE.match(data, at + 8, end)
        if m:
            return f"text/plain; charset={m.group(1).decode('ascii').lower()}"
        at = lowered.find(b"charset=", at + 8)
    return "text/plain; charset=utf-8"


def attachment(record: MessageRecord, index: int, data: bytes | None = None) -> Response:
    """Leaf part ``index`` (``listarchive.mail.mimeparts.Attachment.index``) as a plain file
    download; ``data``: the stored bytes, if read with the record."""
    etag = f"{record.sha256}-{index}"
    early = caching.not_modified(etag, record.ingested_at, caching.DOWNLOAD_MAX_AGE)
    if early is not None:
        return early
    data = _stored(record, data)
    parts = leaf_parts(message_from_bytes(data))
    if not 0 <= index < len(parts):
        abort(404, description="this message has no attachment with that number")
    part = parts[index]
    payload = part.get_payload(decode=True)
    body = payload if isinstance(payload, bytes) else b""
    try:
        name = part.get_filename() or f"part-{index}"
    except (ValueError, LookupError, TypeError):
        name = f"part-{index}"
    resp = Response(body, content_type="application/octet-stream")
    resp.headers["Content-Disposition"] = content_disposition(str(name))
    return _finish(resp, etag, record.ingested_at)


def content_disposition(name: str) -> str:
    """``attachment`` with an ASCII fallback name and the RFC 5987 UTF-8 one.

    A hostile name (``../../x.html"; x=``, newlines) ends up as harmless characters in both.
    """
    name = name.replace("\\", "/").rsplit("/", 1)[-1] or "attachment"
    ascii_name = _FILENAME_RE.sub("_", name).strip("._") or "attachment"
    return (f'attachment; filename="{ascii_name[:100]}"; '
            f"filename*=UTF-8''{quote(name[:200], safe='')}")


def gzip_mbox(mboxrd: bytes, stem: str) -> Response:
    """A gzip *file* (application/gzip), never ``Content-Encoding: gzip``: b4 and git want the
    compressed bytes, and an HTTP client would silently unpack an encoded body."""
    return _gzip_response(gzip.compress(mboxrd, compresslevel=6, mtime=0), stem)


def _gzip_response(data: bytes, stem: str) -> Response:
    resp = Response(data, content_type="application/gzip")
    resp.headers["Content-Disposition"] = content_disposition(f"{stem}.mbox.gz")
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


def thread_mbox(record: MessageRecord, thread: ThreadView | None = None) -> Response:
    """``t.mbox.gz``: the record's visible thread (``thread``, if read with it)."""
    if thread is None:
        thread = messageview.thread_view(db(), viewer(), record.msgid, record)
    if thread is None:
        abort(404)
    etag = f"t-{thread.etag()}"
    early = caching.not_modified(etag, thread.last_modified)
    if early is not None:
        return early
    if request.method == "HEAD":
        return _finish(Response(b"", content_type="application/gzip"), etag,
                       thread.last_modified, caching.PAGE_MAX_AGE)
    data = _THREAD_GZ.get(etag)
    if data is None:
        data = gzip.compress(bodies.mboxrd_of(db(), [m.record for m in thread.members]),
                             compresslevel=6, mtime=0)
        _THREAD_GZ.put(etag, data)
    return _finish(_gzip_response(data, "t"), etag, thread.last_modified, caching.PAGE_MAX_AGE)


class _BytesCache:
    """A small per-process LRU of immutable downloads, bounded in bytes. Keys are content
    hashes of exactly what is inside (the thread's visible members), so a reader can only ever
    get bytes they were allowed to build."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.items: OrderedDict[str, bytes] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self.lock:
            data = self.items.get(key)
            if data is not None:
                self.items.move_to_end(key)
            return data

    def put(self, key: str, data: bytes) -> None:
        if len(data) > self.limit // 8:
            return
        with self.lock:
            if key in self.items:
                return
            self.items[key] = data
            self.size += len(data)
            while self.size > self.limit:
                _, old = self.items.popitem(last=False)
                self.size -= len(old)


# Compressing a 50-message thread costs more than everything else on that request.
_THREAD_GZ = _BytesCache(64 * 1024 * 1024)
