"""Bytes -> :class:`ParsedMessage`: the one adapter between raw mail and the rest of the code.

Parsed with the stdlib ``email`` package under ``policy=compat32``: on the linux-clk set it
parses and extracts roughly eight times faster than ``policy=default`` or mail-parser, and it never
raises on malformed headers (defects are recorded instead). Header values are read by
:mod:`listarchive.mail.headers` (a wrong or unknown charset never loses a message), the MIME parts
by :mod:`listarchive.mail.mimeparts`; here they are put together, with the Message-ID, date and
reference rules of the archive.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import message_from_bytes
from email.message import Message
from functools import cached_property

from listarchive.clock import utcnow
from listarchive.errors import MalformedMessage
from listarchive.mail.headers import (
    Address,
    decode_header_value,
    parse_addresses,
    parse_date,
    raw_header,
    raw_header_value,
    received_date,
    unfold,
)
from listarchive.mail.mimeparts import Attachment, part_filename, part_text, read_parts
from listarchive.mail.msgids import archive_id, extract_msgids, normalize_msgid, synthetic_msgid

MIN_PLAUSIBLE = datetime(1990, 1, 1)
_HEADER_END = re.compile(rb"\r?\n\r?\n")
# The fields body_text reads, with their folded continuation lines.
_CONTENT_FIELD = re.compile(
    rb"^(content-(?:type|transfer-encoding|disposition))[ \t]*:(.*(?:\r?\n[ \t].*)*)",
    re.IGNORECASE | re.MULTILINE)
# A Date more than this after the message was received (or ingested) is a broken clock.
FUTURE_SLACK = timedelta(days=2)
MAX_REFERENCES = 256


@dataclass(frozen=True)
class ParsedMessage:
    msgid: str  # without <>; derived when missing, too long or reused (see flags)
    header_msgid: str
    subject: str
    sender: Address
    to_raw: str  # decoded To:/Cc: values; parsed into addresses on demand (long on kernel lists)
    cc_raw: str
    date: datetime | None  # UTC, naive
    date_raw: str
    date_ok: bool
    received_date: datetime | None
    in_reply_to: str
    references: tuple[str, ...]  # References then In-Reply-To, deduplicated, oldest first
    list_ids: tuple[str, ...]
    body: str  # text/plain parts joined; HTML-only mail converted to text
    attachments: tuple[Attachment, ...]
    # Decoded text of the attachments that may hold a diff: text/x-patch-like types and names,
    # text parts kept out of the body (named or "attachment"), octet-stream without NUL bytes.
    patch_attachments: tuple[str, ...]
    headers: tuple[tuple[str, str], ...]  # every header as received (RFC 2047 not decoded), in order
    flags: frozenset[str] = field(default_factory=frozenset)

    @property
    def parent(self) -> str:
        """The message this one answers: In-Reply-To if usable, else the last reference."""
        if self.in_reply_to:
            return self.in_reply_to
        return self.references[-1] if self.references else ""

    def header(self, name: str) -> str:
        """The first header of that name, RFC 2047-decoded and unfolded ('' when absent)."""
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return decode_header_value(value)
        return ""

    def header_all(self, name: str) -> list[str]:
        lname = name.lower()
        return [decode_header_value(v) for k, v in self.headers if k.lower() == lname]

    # Parsed at first use and kept: a parsed message is kept per process for the pages that
    # show it again, and the reply instructions of a message page read both (the address
    # parser was a fifth of a message page).
    @cached_property
    def to(self) -> tuple[Address, ...]:
        return parse_addresses(self.to_raw)

    @cached_property
    def cc(self) -> tuple[Address, ...]:
        return parse_addresses(self.cc_raw)

    @property
    def sort_date(self) -> datetime | None:
        if self.date_ok:
            return self.date
        if self.received_date is not None and self.received_date >= MIN_PLAUSIBLE:
            return self.received_date
        return None


def fingerprint(sender: Address, date_raw: str, subject: str) -> str:
    """What tells two copies of one message from two messages that reuse a Message-ID."""
    norm = "\n".join((sender.email.lower(), " ".join(date_raw.split()), " ".join(subject.split())))
    return hashlib.sha256(norm.encode("utf-8", "surrogateescape")).hexdigest()


def parse(raw: bytes, now: datetime | None = None) -> ParsedMessage:
    """Parse one message. Raises :class:`MalformedMessage` only when the bytes are not mail at all.

    ``now`` (UTC, naive) bounds plausible dates for mail without a Received: header; it defaults
    to the current time.
    """
    if not raw.strip():
        raise MalformedMessage("empty message")
    try:
        msg = message_from_bytes(raw)
    except (ValueError, TypeError, LookupError, IndexError) as exc:  # defensive: compat32 rarely raises
        raise MalformedMessage(f"unparseable: {exc}") from exc
    except RecursionError as exc:
        # The stdlib parser recurses once per nested multipart: thousands of levels (hostile
        # mail; no mailer nests beyond a dozen) exhaust the stack. Kept raw in quarantine.
        raise MalformedMessage("MIME parts nested too deep to parse") from exc
    if not msg.keys():
        raise MalformedMessage("no header fields found before the body")
    flags: set[str] = set()

    header_msgid = raw_header(msg, "Message-ID")
    msgid, mflags = normalize_msgid(header_msgid)
    flags |= mflags
    if not msgid:
        msgid = synthetic_msgid(raw)
        flags.add("synthetic-msgid")

    subject = decode_header_value(raw_header(msg, "Subject"))
    froms = parse_addresses(decode_header_value(raw_header(msg, "From")))
    sender = froms[0] if froms else Address("", "")
    if not sender.email:
        flags.add("no-from")

    date_raw = unfold(raw_header(msg, "Date"))
    date = parse_date(date_raw)
    received = received_date(msg)
    horizon = (received or now or utcnow()) + FUTURE_SLACK
    date_ok = date is not None and MIN_PLAUSIBLE <= date <= horizon
    if not date_ok:
        flags.add("bad-date")

    # Oldest first, each id once (a dict keeps the first place of each: linear in the header,
    # which hostile mail makes 50,000 ids long), the nearest MAX_REFERENCES kept.
    seen = dict.fromkeys(archive_id(ref)[0]
                         for ref in extract_msgids(raw_header(msg, "References")))
    seen.pop(msgid, None)
    irt_ids = extract_msgids(raw_header(msg, "In-Reply-To"))
    in_reply_to = archive_id(irt_ids[0])[0] if irt_ids else ""
    if in_reply_to == msgid:
        in_reply_to = ""
    if in_reply_to:
        seen.setdefault(in_reply_to)
    refs = list(seen)[-MAX_REFERENCES:]

    list_ids = tuple(extract_msgids(raw_header(msg, "List-Id")))
    body, attachments, patch_texts, body_flags = read_parts(msg)
    flags |= body_flags

    headers = tuple((k, raw_header_value(v)) for k, v in msg.items())
    return ParsedMessage(
        msgid=msgid, header_msgid=unfold(header_msgid), subject=subject, sender=sender,
        to_raw=decode_header_value(raw_header(msg, "To")),
        cc_raw=decode_header_value(raw_header(msg, "Cc")), date=date, date_raw=date_raw,
        date_ok=date_ok, received_date=received, in_reply_to=in_reply_to,
        references=tuple(refs), list_ids=list_ids, body=body, attachments=attachments,
        patch_attachments=patch_texts, headers=headers, flags=frozenset(flags),
    )


def body_text(raw: bytes, limit: int = 0) -> str:
    """The readable body of a message, as :func:`parse` gives it in ``ParsedMessage.body``;
    with ``limit``, about its first ``limit`` bytes (search snippets need no more).

    Single-part text mail (most list mail) takes the short cut of :func:`simple_body`;
    everything else goes through :func:`parse`. Unparseable bytes give ``""``.
    """
    found = simple_body(raw, limit)
    if found is not None:
        return found
    try:
        return parse(raw).body
    except MalformedMessage:
        return ""


def simple_body(raw: bytes, limit: int = 0) -> str | None:
    """The body of single-part text mail read the quick way, or None for any other mail (which
    may carry attachments: :func:`parse` reads it).

    Only the three Content-* fields are read from the header (a kernel list's Received: chains
    make a full header parse the slow part) and the body is decoded by the email package as one
    piece, cut at ``limit`` when it is 8-bit or quoted-printable. The text is what :func:`parse`
    gives as ``ParsedMessage.body``, and such mail has no attachment.
    """
    end = _HEADER_END.search(raw)
    if end is None:
        return None
    msg = Message()
    for name, value in _CONTENT_FIELD.findall(raw, 0, end.start()):
        msg[name.decode("ascii")] = unfold(value.decode("latin-1"))
    encoding = str(msg.get("Content-Transfer-Encoding") or "").strip().lower()
    disposition = str(msg.get("Content-Disposition") or "").split(";")[0].strip().lower()
    if (msg.get_content_type() != "text/plain" or disposition == "attachment"
            or part_filename(msg)):
        return None
    stop = len(raw) if limit <= 0 or encoding == "base64" else end.end() + limit
    msg.set_payload(raw[end.end():stop].decode("ascii", "surrogateescape"))
    return part_text(msg)[0]

