"""The search document of a stored message, built from the database: the header fields and
facets from their tables, the body from the raw mail (the write side's input; the indexer,
:mod:`listarchive.search.indexer`, decides which messages to build and when).

Every message is diff-searchable, not only patches: a review reply with a "something like
this?" diff is found by ``dfn:``, ``dfb:`` and ``dfhh:`` like the patch it answers. A patch's
``state:`` is its own, a cover letter's its series'; ``visibility`` is the key of the message's
embargo if it has one, else ``list:NAME`` when every list it reached is restricted, else public.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from listarchive.access.visibility import embargo_keys
from listarchive.archive import rawstore
from listarchive.archive.batches import select_in
from listarchive.archive.models import (
    MailingList,
    Message,
    MessageList,
    Patch,
    PatchState,
    PatchSubsystem,
    Series,
    SeriesState,
    Subsystem,
    Thread,
)
from listarchive.mail.extract import SUGGESTION
from listarchive.mail.message import parse, simple_body
from listarchive.mail.patches import PatchInfo, diff_start, extract_patches, parse_patch_text
from listarchive.mail.quotes import split_quoted
from listarchive.review import checks
from listarchive.review.states import patch_state_column, series_state_column
from listarchive.review.trailers import trailer_names
from listarchive.search.documents import EXCERPT_CHARS, SearchDoc

RAW_CHUNK = 200


def _without_diff(body: str) -> str:
    start = diff_start(body)
    return body[:start] if start >= 0 else body


def row_select() -> Any:
    """What a document needs from the messages table, the raw bytes apart (see _raws): rows of
    this select are what :func:`documents` takes."""
    return (select(Message.id, Message.msgid, Message.subject, Message.from_name,
                   Message.from_email, Message.to_addrs, Message.cc_addrs, Message.sort_date,
                   Message.parent_msgid, Thread.root_msgid)
            .outerjoin(Thread, Thread.id == Message.thread_id))


def _raws(session: Session, rows: Sequence[Any]) -> Iterator[tuple[Any, bytes]]:
    """Each row with its raw message, read :data:`RAW_CHUNK` at a time: a batch's rows are
    held for the whole batch, and with their raw bytes they were most of the indexer's memory
    (110 MB for 8,000 linux-clk messages)."""
    for first in range(0, len(rows), RAW_CHUNK):
        chunk = rows[first:first + RAW_CHUNK]
        raw = {pk: data for pk, data in session.execute(
            select(Message.id, Message.raw).where(Message.id.in_([row.id for row in chunk])))}
        for row in chunk:
            yield row, rawstore.unpack(raw[row.id])


def rows_of(session: Session, ids: Sequence[int]) -> list[Any]:
    """The rows of these messages (see :func:`row_select`)."""
    return list(select_in(session, row_select(), Message.id, ids))


def _states(session: Session, ids: Sequence[int]) -> dict[int, str]:
    """The effective state of the patches and cover letters among ``ids`` (a cover letter shows
    its series' state)."""
    out: dict[int, str] = {}
    out.update((int(pid), str(state)) for pid, state in session.execute(
        select(Patch.id, patch_state_column())
        .outerjoin(PatchState, PatchState.patch_id == Patch.id)
        .where(Patch.id.in_(ids), Patch.kind != "cover")))
    out.update((int(pid), str(state)) for pid, state in session.execute(
        select(Patch.id, series_state_column())
        .join(Series, Series.id == Patch.series_id)
        .outerjoin(SeriesState, SeriesState.series_id == Series.id)
        .where(Patch.id.in_(ids), Patch.kind == "cover")))
    return out


def _mail_text(raw: bytes) -> tuple[str, tuple[str, ...], PatchInfo | None]:
    """The body, the attachments' file names and the patch facts of a stored message.

    The database has the header fields; only the body is read from the raw bytes, the quick
    way for single-part text mail (most list mail: parsing its whole header, Received: chains
    and all, was half of building a document), by a full parse for the rest."""
    body = simple_body(raw)
    if body is not None:
        return body, (), parse_patch_text(body)
    parsed = parse(raw)
    names = tuple(a.filename for a in parsed.attachments if a.filename)
    return parsed.body, names, extract_patches(parsed)


def documents(session: Session, rows: Sequence[Any]) -> Iterator[tuple[int, SearchDoc]]:
    """The search document of each row (see :func:`row_select`), with its message pk, built as
    they are asked for: the facets of all of them are read first, in a few statements, and
    the raw mail :data:`RAW_CHUNK` messages at a time."""
    if not rows:
        return
    ids = [row.id for row in rows]
    state_of = _states(session, ids)
    embargoed = embargo_keys(session, ids)
    lists: dict[int, list[tuple[str, bool]]] = defaultdict(list)
    for mid, name, restricted in session.execute(
            select(MessageList.message_id, MailingList.name, MailingList.restricted)
            .join(MailingList).where(MessageList.message_id.in_(ids))):
        lists[mid].append((name, restricted))
    kind_of: dict[int, str] = {
        pid: kind for pid, kind in session.execute(select(Patch.id, Patch.kind)
                                                   .where(Patch.id.in_(ids)))}
    # subsystem: takes the MAINTAINERS name or its URL slug, so the facet holds both.
    subsystems: dict[int, list[str]] = defaultdict(list)
    for pid, name, slug in session.execute(
            select(PatchSubsystem.patch_id, Subsystem.name, Subsystem.slug)
            .join(Subsystem).where(PatchSubsystem.patch_id.in_(ids))):
        subsystems[pid].extend((name, slug) if slug else (name,))
    trailers = trailer_names(session, ids)
    check_facets = checks.facets(session, [pid for pid, kind in kind_of.items()
                                           if kind != "cover"])
    for row, raw in _raws(session, rows):
        mid, msgid = row.id, row.msgid
        body, attached, info = _mail_text(raw)
        kind = kind_of.get(mid)
        # Any diff is indexed, a reply's inline one too. A patch's diff is indexed once, as
        # added/removed lines, its body being the text above it; a reply keeps its whole body
        # (prose often follows its diff), the diff lines counting twice for free words only.
        is_patch = kind == "patch"
        own, quoted = split_quoted(_without_diff(body) if is_patch else body)
        # Result snippets show the sender's own lines, a patch's diff included.
        excerpt = (split_quoted(body[:4 * EXCERPT_CHARS])[0] if is_patch else own)[:EXCERPT_CHARS]
        kinds = [kind] if kind is not None else []
        if row.parent_msgid:
            kinds.append("reply")
        on = lists.get(mid, [])
        public = any(not restricted for _, restricted in on) or not on
        # An embargo outranks the list key: the database check still asks for both.
        visibility = embargoed.get(mid) or ("public" if public else f"list:{on[0][0]}")
        yield mid, SearchDoc(
            msgid=msgid, thread_root=row.root_msgid or msgid, subject=row.subject,
            from_=f"{row.from_name} {row.from_email}", to=row.to_addrs, cc=row.cc_addrs,
            lists=tuple(name for name, _ in on), date=row.sort_date, body=own, quoted=quoted,
            attachments=attached,
            diff_files=tuple(f.path for f in info.files) if info else (),
            added="\n".join(info.added_lines) if info else "",
            removed="\n".join(info.removed_lines) if info else "",
            hunk_headers="\n".join(info.hunk_headers) if info else "",
            patch_id=info.patch_id if info else "",
            subsystems=tuple(subsystems.get(mid, ())),
            state=state_of.get(mid, "new") if kind and kind != SUGGESTION else "",
            kinds=tuple(kinds), trailers=tuple(sorted(trailers.get(mid, ()))),
            checks=check_facets.get(mid, ()),
            visibility=visibility, excerpt=excerpt)
