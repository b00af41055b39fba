"""Header values as text: RFC 2047 words, lying charsets, raw 8-bit bytes, addresses, dates.

Nothing here raises on mail content: a declared charset that is wrong or unknown falls back to
UTF-8, then Latin-1, so a header is never lost; NUL becomes U+FFFD in every text fact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import Header, decode_header
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime

_SURROGATE_RE = re.compile("[\udc80-\udcff]")


@dataclass(frozen=True)
class Address:
    name: str
    email: str

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email


def decode_header_value(value: object) -> str:
    """RFC 2047 decoding that never raises: unknown or lying charsets fall back to UTF-8/Latin-1."""
    if value is None:
        return ""
    text = str(value)
    if "=?" not in text:
        return unfold(text)
    try:
        chunks = decode_header(text)
    except (ValueError, LookupError, AssertionError):
        return unfold(text)
    out = []
    for chunk, charset in chunks:
        if isinstance(chunk, str):
            out.append(chunk)
        else:
            out.append(decode_bytes(chunk, charset))
    return unfold("".join(out))


def unfold(text: str) -> str:
    """A folded header value on one line, trimmed, without NUL."""
    return no_nul(re.sub(r"\r?\n[ \t]*", " ", text).strip())


def no_nul(text: str) -> str:
    """Text facts never hold NUL (PostgreSQL text cannot, and no reader wants one): it becomes
    U+FFFD, as an undecodable byte would. The raw bytes keep it."""
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Bytes as text in ``charset``, else UTF-8, else Latin-1 (which never fails)."""
    for cs in (charset, "utf-8"):
        if not cs:
            continue
        try:
            return data.decode(charset_alias(cs))
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("latin-1")


def charset_alias(cs: str) -> str:
    """The codec Python knows for a charset name mailers write (``unknown-8bit``, ``us-ascii``)."""
    cs = cs.strip().strip('"').lower()
    return {"unknown-8bit": "latin-1", "x-unknown": "latin-1", "ansi_x3.4-1968": "ascii",
            "us-ascii": "ascii", "iso-8859-8-i": "iso-8859-8"}.get(cs, cs)


def raw_header(msg: Message, name: str) -> str:
    """The first header of that name as text, RFC 2047 words left encoded ('' when absent)."""
    value = msg.get(name)
    return "" if value is None else raw_header_value(value)


def parse_date(value: str) -> datetime | None:
    """An RFC 5322 date as naive UTC, or None when it does not parse."""
    if not value:
        return None
    try:
        dt = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if dt is None:
        return None
    if 100 <= dt.year <= 199:
        # Y2K-era mailers printed tm_year (years since 1900) as the year: "Mon, 3 Jan 100".
        try:
            dt = dt.replace(year=dt.year + 1900)
        except ValueError:
            return None
    try:
        if dt.tzinfo is not None:
            dt = dt.astimezone(UTC).replace(tzinfo=None)
    except (OverflowError, ValueError):
        return None
    return dt


def received_date(msg: Message) -> datetime | None:
    """When the nearest mail server received the message (the newest ``Received:`` field)."""
    values = msg.get_all("Received") or []
    for value in values[:1]:
        _, _, when = str(value).rpartition(";")
        return parse_date(when.strip())
    return None


def parse_addresses(value: str) -> tuple[Address, ...]:
    """Addresses of a decoded header value; never raises on junk."""
    if not value:
        return ()
    out = []
    for display, email in getaddresses([value]):
        if email or display:
            out.append(Address(display.strip(), email.strip()))
    return tuple(out)


def raw_header_value(value: object) -> str:
    """A header value as text. Raw 8-bit bytes (a UTF-8 Message-ID or name sent without RFC 2047,
    seen from some webmail) come back from compat32 as an ``unknown-8bit`` Header or with
    surrogates; they are decoded as UTF-8, else Latin-1, never replaced by U+FFFD."""
    if isinstance(value, Header):
        return "".join(chunk if isinstance(chunk, str)
                       else decode_bytes(chunk, None if cs in (None, "unknown-8bit") else cs)
                       for chunk, cs in decode_header(value))
    text = str(value)
    if _SURROGATE_RE.search(text):
        text = decode_bytes(text.encode("ascii", "surrogateescape"), "utf-8")
    return no_nul(text)

