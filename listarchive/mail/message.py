"""Bytes -> :class:`ParsedMessage`: the one adapter between raw mail and the rest of the code.

Parsed with the stdlib ``email`` package under ``policy=compat32``: on the linux-clk set it
parses and extracts roughly eight times faster than ``policy=default`` or mail-parser, and it never
raises on malformed headers (defects are recorded instead). Header decoding falls back from the
declared charset to UTF-8 to Latin-1, so a wrong or unknown charset never loses a message.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.header import Header, decode_header
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime

from listarchive.clock import utcnow
from listarchive.errors import MalformedMessage
from listarchive.mail.htmltext import html_to_text
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
_SURROGATE_RE = re.compile("[\udc80-\udcff]")
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
class Address:
    name: str
    email: str

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email


@dataclass(frozen=True)
class Attachment:
    index: int  # position among the message's leaf parts (stable: used in download URLs)
    filename: str
    content_type: str
    size: int


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

    @property
    def to(self) -> tuple[Address, ...]:
        return parse_addresses(self.to_raw)

    @property
    def cc(self) -> tuple[Address, ...]:
        return parse_addresses(self.cc_raw)

    @property
    def sort_date(self) -> datetime | None:
        if self.date_ok:
            return self.date
        if self.received_date is not None and self.received_date >= MIN_PLAUSIBLE:
            return self.received_date
        return None


def decode_header_value(value: object) -> str:
    """RFC 2047 decoding that never raises: unknown or lying charsets fall back to UTF-8/Latin-1."""
    if value is None:
        return ""
    text = str(value)
    if "=?" not in text:
        return _unfold(text)
    try:
        chunks = decode_header(text)
    except (ValueError, LookupError, AssertionError):
        return _unfold(text)
    out = []
    for chunk, charset in chunks:
        if isinstance(chunk, str):
            out.append(chunk)
        else:
            out.append(decode_bytes(chunk, charset))
    return _unfold("".join(out))


def _unfold(text: str) -> str:
    return _no_nul(re.sub(r"\r?\n[ \t]*", " ", text).strip())


def _no_nul(text: str) -> str:
    """Text facts never hold NUL (PostgreSQL text cannot, and no reader wants one): it becomes
    U+FFFD, as an undecodable byte would. The raw bytes keep it."""
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def decode_bytes(data: bytes, charset: str | None) -> str:
    for cs in (charset, "utf-8"):
        if not cs:
            continue
        try:
            return data.decode(_charset_alias(cs))
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("latin-1")


def _charset_alias(cs: str) -> str:
    cs = cs.strip().strip('"').lower()
    return {"unknown-8bit": "latin-1", "x-unknown": "latin-1", "ansi_x3.4-1968": "ascii",
            "us-ascii": "ascii", "iso-8859-8-i": "iso-8859-8"}.get(cs, cs)


def _raw_header(msg: Message, name: str) -> str:
    value = msg.get(name)
    return "" if value is None else _raw_header_value(value)


def fingerprint(sender: Address, date_raw: str, subject: str) -> str:
    """What tells two copies of one message from two messages that reuse a Message-ID."""
    norm = "\n".join((sender.email.lower(), " ".join(date_raw.split()), " ".join(subject.split())))
    return hashlib.sha256(norm.encode("utf-8", "surrogateescape")).hexdigest()


def _parse_date(value: str) -> datetime | None:
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


def _received_date(msg: Message) -> datetime | None:
    values = msg.get_all("Received") or []
    for value in values[:1]:
        _, _, when = str(value).rpartition(";")
        return _parse_date(when.strip())
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

    header_msgid = _raw_header(msg, "Message-ID")
    msgid, mflags = normalize_msgid(header_msgid)
    flags |= mflags
    if not msgid:
        msgid = synthetic_msgid(raw)
        flags.add("synthetic-msgid")

    subject = decode_header_value(_raw_header(msg, "Subject"))
    froms = parse_addresses(decode_header_value(_raw_header(msg, "From")))
    sender = froms[0] if froms else Address("", "")
    if not sender.email:
        flags.add("no-from")

    date_raw = _unfold(_raw_header(msg, "Date"))
    date = _parse_date(date_raw)
    received = _received_date(msg)
    horizon = (received or now or utcnow()) + FUTURE_SLACK
    date_ok = date is not None and MIN_PLAUSIBLE <= date <= horizon
    if not date_ok:
        flags.add("bad-date")

    # Oldest first, each id once (a dict keeps the first place of each: linear in the header,
    # which hostile mail makes 50,000 ids long), the nearest MAX_REFERENCES kept.
    seen = dict.fromkeys(archive_id(ref)[0]
                         for ref in extract_msgids(_raw_header(msg, "References")))
    seen.pop(msgid, None)
    irt_ids = extract_msgids(_raw_header(msg, "In-Reply-To"))
    in_reply_to = archive_id(irt_ids[0])[0] if irt_ids else ""
    if in_reply_to == msgid:
        in_reply_to = ""
    if in_reply_to:
        seen.setdefault(in_reply_to)
    refs = list(seen)[-MAX_REFERENCES:]

    list_ids = tuple(extract_msgids(_raw_header(msg, "List-Id")))
    body, attachments, patch_texts, body_flags = _walk(msg)
    flags |= body_flags

    headers = tuple((k, _raw_header_value(v)) for k, v in msg.items())
    return ParsedMessage(
        msgid=msgid, header_msgid=_unfold(header_msgid), subject=subject, sender=sender,
        to_raw=decode_header_value(_raw_header(msg, "To")),
        cc_raw=decode_header_value(_raw_header(msg, "Cc")), date=date, date_raw=date_raw,
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
        msg[name.decode("ascii")] = _unfold(value.decode("latin-1"))
    encoding = str(msg.get("Content-Transfer-Encoding") or "").strip().lower()
    disposition = str(msg.get("Content-Disposition") or "").split(";")[0].strip().lower()
    if (msg.get_content_type() != "text/plain" or disposition == "attachment"
            or _filename(msg)):
        return None
    stop = len(raw) if limit <= 0 or encoding == "base64" else end.end() + limit
    msg.set_payload(raw[end.end():stop].decode("ascii", "surrogateescape"))
    return part_text(msg)[0]


def _raw_header_value(value: object) -> str:
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
    return _no_nul(text)


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
            return _no_nul(payload.decode(_charset_alias(cs))), False
        except (LookupError, UnicodeDecodeError):
            continue
    return _no_nul(payload.decode("latin-1")), True


def _filename(part: Message) -> str:
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


def _walk(msg: Message) -> tuple[str, tuple[Attachment, ...], tuple[str, ...], set[str]]:
    texts: list[str] = []
    htmls: list[str] = []
    attachments: list[Attachment] = []
    patches: list[str] = []
    flags: set[str] = set()
    for index, part in enumerate(leaf_parts(msg)):
        ctype = part.get_content_type()
        disposition = str(part.get("Content-Disposition") or "").split(";")[0].strip().lower()
        filename = _filename(part)
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
