"""Series and patches as an mbox that ``git am`` applies, trailers collected (like ``b4 am``).

Each patch is re-written as a plain UTF-8 message: the original From, Date and Message-ID, a
``[PATCH vN k/M]`` subject, and the body with the collected trailers and a ``Link:`` to the
archive inserted after the commit message's own trailers, above the ``---`` line. The diff is
kept byte-for-byte as the sender wrote it, so ``git am`` builds the same tree.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC
from email.header import Header
from email.utils import format_datetime, formataddr
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from ingest.message import ParsedMessage, parse
from listarchive import rawstore
from listarchive.mbox import to_mboxrd
from listarchive.models import Message, Patch
from listarchive.reviews import CollectedTrailer, series_view

_SEPARATOR = re.compile(r"^---[ \t]*$", re.M)
_DIFF_START = re.compile(r"^(diff --git |Index: |--- \S)", re.M)
_TRAILER_LINE = re.compile(r"^[A-Za-z][A-Za-z0-9-]*: \S")


def _split_body(body: str) -> tuple[str, str]:
    """(commit message, rest from the ``---`` line or the diff on), LF line ends."""
    body = body.replace("\r\n", "\n")
    diff = _DIFF_START.search(body)
    limit = diff.start() if diff else len(body)
    sep = None
    for match in _SEPARATOR.finditer(body, 0, limit):
        sep = match
        break
    cut = sep.start() if sep else limit
    rest = body[cut:]
    if sep is None:
        rest = "---\n" + rest
    return body[:cut], rest


def with_trailers(message: str, extra: Sequence[str]) -> str:
    """Append trailer lines to a commit message's trailer block, skipping ones already there."""
    lines = message.rstrip("\n").split("\n")
    present = {line.strip().lower() for line in lines}
    new = [t for t in extra if t.strip().lower() not in present]
    if not new:
        return "\n".join(lines) + "\n"
    last = lines[-1] if lines else ""
    glue = [] if _TRAILER_LINE.match(last) else [""]
    return "\n".join([*lines, *glue, *new]) + "\n"


def patch_mail(raw: bytes, subject: str, trailers: Sequence[CollectedTrailer],
               link: str) -> bytes:
    parsed: ParsedMessage = parse(raw)
    message, rest = _split_body(parsed.body)
    extra = [f"{t.name}: {t.value}" for t in trailers]
    if link:
        extra.append(f"Link: {link}")
    body = with_trailers(message, extra) + rest
    if not body.endswith("\n"):
        body += "\n"
    sender = formataddr((parsed.sender.name, parsed.sender.email), charset="utf-8")
    date = (format_datetime(parsed.date.replace(tzinfo=UTC)) if parsed.date is not None
            else parsed.date_raw)
    encoded_subject = subject if subject.isascii() else Header(subject, "utf-8").encode()
    head = (f"From: {sender}\nDate: {date}\nSubject: {encoded_subject}\n"
            f"Message-ID: <{parsed.msgid}>\nMIME-Version: 1.0\n"
            "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n")
    return to_mboxrd((head + body).encode("utf-8", "surrogateescape"))


def patch_subject(title: str, revision: int, counter: int, total: int, rfc: bool) -> str:
    tags = ["RFC"] if rfc else []
    tags.append("PATCH")
    if revision > 1:
        tags.append(f"v{revision}")
    if total > 1:
        width = len(str(total))
        tags.append(f"{counter:0{width}d}/{total}")
    return f"[{' '.join(tags)}] {title}"


def archive_link(base_url: str, msgid: str) -> str:
    return f"{base_url}/r/{quote(msgid, safe='@!$&()*+,;=:~')}" if base_url else ""


def _raw(session: Session, msgid: str) -> bytes:
    blob = session.scalar(select(Message.raw).where(Message.msgid == msgid))
    return rawstore.unpack(blob) if blob is not None else b""


def series_mbox(session: Session, series_id: int, base_url: str = "") -> bytes | None:
    """The ``/series/ID/mbox`` download: every received patch in order, trailers collected."""
    view = series_view(session, series_id)
    if view is None:
        return None
    total = max(view.series.total, len(view.patches))
    out = []
    for patch in view.patches:
        if patch.kind != "patch":
            continue
        subject = patch_subject(patch.title, patch.revision, patch.counter or 1, total,
                                patch.is_rfc)
        out.append(patch_mail(_raw(session, patch.msgid), subject, view.trailers.get(patch.id, ()),
                              archive_link(base_url, patch.msgid)))
    return b"".join(out)


def single_patch_mbox(session: Session, patch_id: int, base_url: str = "") -> bytes | None:
    """``/patch/ID/mbox``: one patch, with the trailers its series collected for it."""
    patch = session.get(Patch, patch_id)
    if patch is None or patch.kind != "patch":
        return None
    trailers: Sequence[CollectedTrailer] = ()
    if patch.series_id is not None:
        view = series_view(session, patch.series_id)
        if view is not None:
            trailers = view.trailers.get(patch.id, ())
    subject = patch_subject(patch.title, patch.revision, patch.counter or 1, patch.total,
                            patch.is_rfc)
    return patch_mail(_raw(session, patch.msgid), subject, trailers,
                      archive_link(base_url, patch.msgid))
