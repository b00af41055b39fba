"""Message URLs split into Message-ID and suffix (``/T/``, ``/raw``, ``/2-foo.patch``...); the
id's own encoding is :mod:`listarchive.mail.msgids`.

The path is split *before* decoding, from the raw request URI, so that an id containing
``/T/`` or ``/raw`` (``20240101.1234/raw@host``, encoded ``%2F``) is not mistaken for a suffix.
When the server hands over no raw URI, or a client sent the ``/`` literally, the known suffixes
are matched from the end instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from listarchive.mail.msgids import MSGID_MAX, BadMsgid, check_msgid, percent_decode, unquote_msgid

# What may follow the Message-ID segment; '' is the bare id (redirected to the slash form).
SUFFIXES = ("", "/", "/T/", "/t/", "/raw", "/t.mbox.gz", "/t.atom", "/T", "/t")
_ATTACHMENT_RE = re.compile(r"^/(\d{1,4})-([^/]*)$")
# Encoded ids are up to three times longer than the stored ones (every byte as %XX).
MAX_ENCODED = MSGID_MAX * 3 * 4


@dataclass(frozen=True)
class MessagePath:
    msgid: str
    suffix: str  # one of SUFFIXES, or '/N-name' for an attachment
    attachment: int | None = None


def _suffix(tail: str) -> tuple[str, int | None] | None:
    if tail in SUFFIXES:
        return tail, None
    m = _ATTACHMENT_RE.match(tail)
    if m:
        return tail, int(m.group(1))
    return None


def split_message_path(rest: str, raw: bool) -> MessagePath:
    """Split what follows ``/LIST/`` into Message-ID and suffix.

    ``rest`` is still percent-encoded when ``raw`` is true (from the request URI), else already
    decoded (from PATH_INFO). Raises :class:`BadMsgid` when nothing sensible can be read.
    """
    if len(rest) > MAX_ENCODED:
        raise BadMsgid("URL too long for a Message-ID")
    if raw:
        head, slash, tail = rest.partition("/")
        found = _suffix(slash + tail)
        if found is not None:
            return MessagePath(unquote_msgid(head), found[0], found[1])
        rest = percent_decode(rest)
    # Decoded path: the longest known suffix at the end wins, the rest is the id.
    for suffix in sorted(SUFFIXES, key=len, reverse=True):
        if suffix and rest.endswith(suffix) and len(rest) > len(suffix):
            return MessagePath(check_msgid(rest[: -len(suffix)]), suffix)
    m = re.search(r"/(\d{1,4})-([^/]*)$", rest)
    if m and m.start() > 0:
        return MessagePath(check_msgid(rest[: m.start()]), rest[m.start():], int(m.group(1)))
    return MessagePath(check_msgid(rest), "")


def raw_path(environ: dict[str, object]) -> str | None:
    """The request path as the client sent it (still percent-encoded), without the query.

    Servers put it in ``REQUEST_URI`` (werkzeug, waitress) or ``RAW_URI`` (gunicorn) as a
    Latin-1 string of the bytes received; an absolute-form URI loses its scheme and host.
    granian gives none (the decoded path is split instead, see the module's documentation).
    """
    for key in ("RAW_URI", "REQUEST_URI"):
        value = environ.get(key)
        if isinstance(value, str) and value:
            path = value.split("?", 1)[0].split("#", 1)[0]
            if "://" in path:
                path = "/" + path.split("://", 1)[1].partition("/")[2]
            try:
                return path.encode("latin-1").decode("utf-8")
            except (UnicodeEncodeError, UnicodeDecodeError):
                return None
    return None
