"""The MIME parts of a message: its readable body, its attachments, and the diffs attached.

Parts are walked iteratively (hostile mail nests multiparts thousands deep). Text parts are
decoded with the charset fallbacks of :mod:`listarchive.mail.headers`; HTML-only mail is turned
into text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

from listarchive.mail.headers import charset_alias, decode_bytes, decode_header_value, no_nul
from listarchive.mail.htmltext import html_to_text

_PATCH_NAME_RE = re.compile(r"\.(patch|diff|dif)$", re.I)
_PATCH_TYPES = frozenset({"text/x-patch", "text/x-diff", "text/x-diff-patch", "application/x-patch",
                          "text/diff", "application/x-diff", "application/patch",
                          "application/diff"})
# Attachments whose bytes may be a diff although their type does not say so: mailers without a
# type for .diff files send them as octet-stream. Read only when they hold no NUL byte.
_OPAQUE_TYPES = frozenset({"application/octet-stream", "application/unknown",
                           "application/x-unknown", "application/text"})
MAX_DIFF_ATTACHMENT = 4 << 20


@dataclass(frozen=True)
class Attachment:
    index: int  # position among the message's leaf parts (stable: used in download URLs)
    filename: str
    content_type: str
    size: int


def part_text(part: Message) -> tuple[str, bool]:
    """Decoded text of a leaf part, and whether the charset had to be guessed."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return "", False
    charset = part.get_content_charset()
    for cs in (charset, "utf-8"):
        if not cs:
            continue
        try:
            return no_nul(payload.decode(charset_alias(cs))), False
        except (LookupError, UnicodeDecodeError):
            continue
    return no_nul(payload.decode("latin-1")), True


def part_filename(part: Message) -> str:
    """The part's file name, RFC 2047-decoded ('' when it has none or it cannot be read)."""
    try:
        name = part.get_filename()
    except (ValueError, LookupError, TypeError):
        name = None
    return decode_header_value(name) if name else ""


def leaf_parts(msg: Message) -> list[Message]:
    """Leaf MIME parts in order, iteratively (no recursion on hostile nesting depth)."""
    out: list[Message] = []
    stack = [msg]
    while stack:
        part = stack.pop()
        if part.is_multipart():
            children = part.get_payload()
            if isinstance(children, list):
                stack.extend(c for c in reversed(children) if isinstance(c, Message))
        else:
            out.append(part)
    return out


def read_parts(msg: Message) -> tuple[str, tuple[Attachment, ...], tuple[str, ...], set[str]]:
    """The body (text/plain parts joined; HTML-only mail as text), the attachments, the decoded
    text of the parts that may hold a diff, and the flags (``bad-charset``, ``html-only``)."""
    texts: list[str] = []
    htmls: list[str] = []
    attachments: list[Attachment] = []
    patches: list[str] = []
    flags: set[str] = set()
    for index, part in enumerate(leaf_parts(msg)):
        ctype = part.get_content_type()
        disposition = str(part.get("Content-Disposition") or "").split(";")[0].strip().lower()
        filename = part_filename(part)
        is_patch = ctype in _PATCH_TYPES or bool(_PATCH_NAME_RE.search(filename))
        if ctype.startswith("text/") and ctype != "text/html":
            text, guessed = part_text(part)
            if guessed:
                flags.add("bad-charset")
            if not is_patch and ctype == "text/plain" and disposition != "attachment" \
                    and not filename:
                texts.append(text)
                continue
            # A diff attached as text: Thunderbird's text/x-patch, mutt's "attachment;
            # filename=swap-diff", Pine's inline part named "junk" (1990s linux-mips).
            patches.append(text)
            if is_patch:
                continue
        elif ctype == "text/html" and disposition != "attachment" and not filename:
            text, _ = part_text(part)
            htmls.append(text)
            continue
        payload = part.get_payload(decode=True)
        size = len(payload) if isinstance(payload, bytes) else 0
        if (isinstance(payload, bytes) and (is_patch or ctype in _OPAQUE_TYPES)
                and not ctype.startswith("text/") and 0 < size <= MAX_DIFF_ATTACHMENT
                and b"\0" not in payload):
            patches.append(decode_bytes(payload, part.get_content_charset()))
        attachments.append(Attachment(index, filename, ctype, size))
    if texts:
        body = "\n".join(texts)
    elif htmls:
        body = "\n".join(html_to_text(h) for h in htmls)
        flags.add("html-only")
    else:
        body = ""
    return body, tuple(attachments), tuple(patches), flags

