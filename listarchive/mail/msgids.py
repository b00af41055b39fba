"""Message-IDs: as read from mail headers, and as written in URLs (lore's form).

In headers: ``<id@host>`` normally, ``id@host`` from old mailers, a comment after the id, values
longer than the schema's indexes allow (:data:`MSGID_MAX`: hashed), or none at all (a stable id
made from the message's content).

In URLs: every byte outside ``A-Za-z0-9-._~!$&'()*+,;=:@`` is percent-encoded from UTF-8, so
``/`` becomes ``%2F`` while ``@`` and ``+`` stay literal (the links kernel commits carry). Read:
any percent-encoding is accepted (``%40``, ``%2F``, ``%2B``, lower-case hex), and ``+`` is a plus,
never a space (it is a path, not a form). Pages, feeds, the APIs and the ``Link:`` lines of the
am-ready downloads all write ids with :func:`quote_msgid`.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import quote, unquote

# Message-IDs longer than this are replaced by a derived one (see normalize_msgid); it keeps
# unique indexes within PostgreSQL's btree limits and hostile input bounded.
MSGID_MAX = 500
SAFE = "-._~!$&'()*+,;=:@"
_MSGID_RE = re.compile(r"<([^<>\s]+)>")
_CONTROL = re.compile("[\x00-\x1f\x7f]")  # no URL can carry these
_BARE_MSGID_RE = re.compile(r"^\s*<?([^<>\s]+@[^<>\s]+?)>?\s*$")


class BadMsgid(ValueError):
    """The text cannot be a stored Message-ID (empty, too long, control characters)."""


def extract_msgids(text: str) -> list[str]:
    return [m for m in _MSGID_RE.findall(text)]


def normalize_msgid(header_value: str) -> tuple[str, set[str]]:
    """The archive id for a Message-ID header value, and flags ('' when there is none).

    Seen in the wild: ``<id@host>`` (normal), ``id@host`` without brackets (old mailers),
    ``<id@host> (added by postmaster)`` and values longer than a database index allows.
    """
    ids = extract_msgids(header_value)
    msgid = ids[0] if ids else ""
    if not msgid:
        m = _BARE_MSGID_RE.match(header_value)
        msgid = m.group(1) if m else ""
    return archive_id(msgid)


def archive_id(msgid: str) -> tuple[str, set[str]]:
    """The id the archive keeps for ``msgid``, and a flag when it had to be replaced: ids longer
    than :data:`MSGID_MAX` (``long-msgid``) or holding control characters, which no URL could
    carry (``ctl-msgid``), become a hash of themselves, the same wherever they appear (in
    Message-ID, In-Reply-To or References), so threads still connect."""
    if len(msgid) > MSGID_MAX:
        return _hashed(msgid, "long"), {"long-msgid"}
    if _CONTROL.search(msgid):
        return _hashed(msgid, "ctl"), {"ctl-msgid"}
    return msgid, set()


def _hashed(msgid: str, kind: str) -> str:
    return hashlib.sha256(msgid.encode("utf-8", "surrogateescape")).hexdigest() + f"@{kind}.invalid"


def synthetic_msgid(raw: bytes) -> str:
    """A stable id for a message without Message-ID, from what identifies it whatever the route:
    From, Date, Subject and the body (not Received:/List headers, which differ per copy)."""
    head, _, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
    keep = [line for line in re.split(rb"\n(?![ \t])", head)
            if line[:5].lower() in (b"from:", b"date:", b"subje")]
    digest = hashlib.sha256(b"\n".join(sorted(keep)) + b"\n\n" + body).hexdigest()
    return f"{digest[:40]}@synthetic.invalid"


def quote_msgid(msgid: str) -> str:
    """``a/b+c@x y`` -> ``a%2Fb+c@x%20y`` (safe inside one path segment)."""
    return quote(msgid, safe=SAFE)


def unquote_msgid(text: str) -> str:
    """Decode one encoded id; invalid UTF-8 is kept as Latin-1 characters (never raises)."""
    return check_msgid(percent_decode(text))


def percent_decode(text: str) -> str:
    if "%" not in text:
        return text
    try:
        return unquote(text, errors="strict")
    except UnicodeDecodeError:
        return unquote(text, encoding="latin-1")


def check_msgid(msgid: str) -> str:
    """Refuse what no stored id can be: empty, longer than the schema allows, control bytes."""
    if not msgid:
        raise BadMsgid("empty Message-ID")
    if len(msgid) > MSGID_MAX:
        raise BadMsgid(f"Message-ID longer than {MSGID_MAX} characters")
    if _CONTROL.search(msgid):
        raise BadMsgid("Message-ID with control characters")
    return msgid
