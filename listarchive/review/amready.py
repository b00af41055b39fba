"""Series and patches as an mbox that ``git am`` applies, trailers collected (like ``b4 am``):
the one place the am-ready downloads are made.

Each patch is re-written as a plain UTF-8 message: the original From, Date and Message-ID, a
``[PATCH vN k/M]`` subject, and the body with the collected trailers and a ``Link:`` to the
archive inserted after the commit message's own trailers, above the ``---`` line. The diff is
kept byte-for-byte as the sender wrote it, so ``git am`` builds the same tree. Only the patches
and trailers the reader may see go in (:mod:`listarchive.review.seriesview`,
:mod:`listarchive.review.trailers`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC
from email.header import Header
from email.utils import format_datetime, formataddr

from sqlalchemy import select
from sqlalchemy.orm import Session

from listarchive.access.visibility import Viewer, visible_ids
from listarchive.archive import rawstore
from listarchive.archive.batches import select_in
from listarchive.archive.models import Message, Patch
from listarchive.mail.extract import PATCH
from listarchive.mail.mbox import to_mboxrd
from listarchive.mail.message import ParsedMessage, parse
from listarchive.mail.msgids import quote_msgid
from listarchive.mail.patches import diff_start
from listarchive.review.rerolls import kept_from_previous, kept_lines
from listarchive.review.seriesview import SeriesDetail, mbox_filename, visible_series
from listarchive.review.trailers import TrailerLine, patch_lines, series_lines

_SEPARATOR = re.compile(r"^---[ \t]*$", re.M)
_TRAILER_LINE = re.compile(r"^[A-Za-z][A-Za-z0-9-]*: \S")


def _split_body(body: str) -> tuple[str, str]:
    """(commit message, rest from the ``---`` line or the diff on), LF line ends."""
    body = body.replace("\r\n", "\n")
    start = diff_start(body)
    limit = start if start >= 0 else len(body)
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


def patch_mail(raw: bytes, subject: str, trailers: Sequence[TrailerLine],
               link: str) -> bytes:
    parsed: ParsedMessage = parse(raw)
    message, rest = _split_body(parsed.body)
    extra = [f"{t.name}: {t.value}" for t in trailers]
    if link:
        extra.append(f"Link: {link}")
    body = with_trailers(message, extra) + rest
    if not body.endswith("\n"):
        body += "\n"
    sender = address_header(parsed.sender.name, parsed.sender.email)
    date = (format_datetime(parsed.date.replace(tzinfo=UTC)) if parsed.date is not None
            else parsed.date_raw)
    encoded_subject = subject if subject.isascii() else Header(subject, "utf-8").encode()
    head = (f"From: {sender}\nDate: {date}\nSubject: {encoded_subject}\n"
            f"Message-ID: <{parsed.msgid}>\nMIME-Version: 1.0\n"
            "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n")
    return to_mboxrd((head + body).encode("utf-8", "surrogateescape"))


def address_header(name: str, email: str) -> str:
    """``From:`` as ``git format-patch`` writes it: a non-ASCII name RFC 2047-encoded, the
    address as it is (an address with non-ASCII characters stays UTF-8, which the mbox carries
    as 8-bit text)."""
    try:
        return formataddr((name, email), charset="utf-8")
    except UnicodeError:
        display = formataddr((name, "a@b"), charset="utf-8").removesuffix(" <a@b>") if name else ""
        return f"{display} <{email}>" if display else email


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
    return f"{base_url}/r/{quote_msgid(msgid)}" if base_url else ""


def series_has_mbox(detail: SeriesDetail) -> bool:
    """Whether ``/series/ID/mbox`` has something for ``git am``: a pull request never does,
    nor a cover letter whose patches are not archived (git am of an empty mbox exits 0 having
    applied nothing)."""
    return not detail.row.is_pull and any(p.kind == PATCH for p in detail.patches)


def series_mbox(session: Session, viewer: Viewer, series_id: int, base_url: str = ""
                ) -> tuple[str, bytes] | None:
    """``(filename, mbox)`` of ``/series/ID/mbox``: the visible patches ready for ``git am``,
    with the trailers the viewer can see collected (as ``b4 am`` applies them) and a ``Link:``
    to each patch; ``None`` when the series is unknown, hidden, or holds no patch (a pull
    request). A partial reroll comes whole: the patches it keeps from the previous revision
    are put in their places, with their trailers (see :mod:`listarchive.review.rerolls`)."""
    found = visible_series(session, viewer, series_id)
    if found is None or not any(p.kind == PATCH for p in found.patches):
        return None
    lines = series_lines(session, viewer, found.patches, found.cover)
    kept = kept_from_previous(session, viewer, found.series, found.patches)
    lines.update(kept_lines(session, viewer, kept, found.cover))
    patches = sorted([*found.patches, *kept], key=lambda p: (p.counter, p.id))
    total = max(found.series.total, len(patches))
    raws = {row.id: row.raw for row in select_in(session, select(Message.id, Message.raw),
                                                  Message.id, [p.id for p in patches])}
    out = []
    for patch in patches:
        if patch.kind != PATCH or patch.id not in raws:
            continue
        subject = patch_subject(patch.title, found.series.revision, patch.counter or 1, total,
                                patch.is_rfc)
        collected = [line for line in lines.get(patch.id, ()) if line.applies]
        out.append(patch_mail(rawstore.unpack(raws[patch.id]), subject, collected,
                              archive_link(base_url, patch.msgid)))
    series = found.series
    return mbox_filename(series.revision, series.date, series.title), b"".join(out)


def patch_mbox(session: Session, viewer: Viewer, patch_id: int, base_url: str = ""
               ) -> bytes | None:
    """``/patch/ID/mbox``: one patch for ``git am``, with the trailers the viewer may see."""
    patch = session.get(Patch, patch_id)
    if patch is None or patch.kind != PATCH or not visible_ids(session, viewer, [patch_id]):
        return None
    lines: tuple[TrailerLine, ...] = ()
    found = visible_series(session, viewer, patch.series_id) if patch.series_id else None
    if found is not None:
        lines = series_lines(session, viewer, found.patches, found.cover).get(patch.id, ())
    else:
        lines = patch_lines(session, viewer, patch)
    blob = session.scalar(select(Message.raw).where(Message.id == patch_id))
    if blob is None:
        return None
    subject = patch_subject(patch.title, patch.revision, patch.counter or 1, patch.total,
                            patch.is_rfc)
    return patch_mail(rawstore.unpack(blob), subject, [t for t in lines if t.applies],
                      archive_link(base_url, patch.msgid))
