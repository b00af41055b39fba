"""Derived facts computed in SQL, in one place: what the ingest keeps up to date as mail arrives
and the schema migrations fill in for an older archive, so both hold exactly the same."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, insert, literal_column, select, update
from sqlalchemy.orm import Session, aliased

from listarchive.archive import rawstore
from listarchive.archive.batches import among, chunked
from listarchive.archive.models import (
    Message,
    MessageList,
    Patch,
    PatchLink,
    PatchSubsystem,
    Series,
    Thread,
    ThreadList,
    Trailer,
)
from listarchive.errors import MalformedMessage
from listarchive.mail.extract import PULL, SUGGESTION
from listarchive.mail.message import parse
from listarchive.mail.msgids import MSGID_MAX
from listarchive.mail.patches import extract_patches
from listarchive.mail.series import title_key

# How far up a reply chain a trailer's anchor is looked for (b4 walks the same way).
ANCHOR_DEPTH = 64

# How many senders a thread's summary names (the list index shows them, then "and N more").
SHOWN_PARTICIPANTS = 5


def series_subsystem_links() -> Select[int | None, int]:
    """(series id, subsystem id) for every series, from its patches' subsystem links: what
    ``series_subsystems`` holds, derived."""
    return (select(Patch.series_id, PatchSubsystem.subsystem_id)
            .join(PatchSubsystem, PatchSubsystem.patch_id == Patch.id)
            .where(Patch.series_id.is_not(None)).distinct())


def list_stat_totals() -> Select[int, int, int | None]:
    """(list id, threads, messages) summed from the per-thread rows: what ``list_stats`` holds,
    derived."""
    return (select(ThreadList.list_id, func.count(), func.sum(ThreadList.message_count))
            .group_by(ThreadList.list_id))


def sender_shown(name: str, email: str) -> str:
    """How a thread summary names a sender: the display name, else the address's local part
    (on one line: the summary keeps its senders one a line)."""
    return (name or email.split("@")[0] or "(unknown)").replace("\n", " ")


def summarise(rows: Sequence[Any], root_msgid: str | None
              ) -> tuple[Any, int, datetime | None, datetime | None, list[str]]:
    """A thread's summary over ``rows`` (msgid, subject, sender's name, address, date), oldest
    first: the row shown for it (its root when there, else the first), how many, the first and
    last dates, and its senders in the order they first wrote."""
    root = rows[0]
    people: dict[str, None] = {}
    first: datetime | None = None
    last: datetime | None = None
    for row in rows:
        msgid, _subject, name, email, date = row
        people.setdefault(sender_shown(name, email))
        if date is not None:
            first = date if first is None or date < first else first
            last = date if last is None or date > last else last
        if msgid == root_msgid:
            root = row
    return root, len(rows), first, last, list(people)


@dataclass
class Summaries:
    """What :func:`thread_summaries` found: each thread's senders over all its messages (by
    thread id: ``participants``, ``participant_count``), and its ``thread_lists`` rows."""

    threads: dict[int, dict[str, Any]] = field(default_factory=dict)
    lists: list[dict[str, Any]] = field(default_factory=list)


def _senders(people: list[str]) -> dict[str, Any]:
    return {"participants": "\n".join(people[:SHOWN_PARTICIPANTS]),
            "participant_count": len(people)}


def thread_summaries(session: Session, roots: Mapping[int, str]) -> Summaries:
    """The summaries of these threads (thread id -> its root's Message-ID) that list indexes
    read: on each list the thread has messages on, a ``thread_lists`` row summarised over those
    messages (:func:`summarise`); over every list, its senders (the rest of a thread's summary
    is the thread's own row)."""
    out = Summaries()
    for part in chunked(sorted(roots)):
        members: dict[tuple[int, int], list[Any]] = {}
        everywhere: dict[int, dict[str, Any]] = {}  # a message on two lists is read twice
        for tid, lid, *row in session.execute(
                select(Message.thread_id, MessageList.list_id, Message.msgid, Message.subject,
                       Message.from_name, Message.from_email, Message.sort_date)
                .join(MessageList, MessageList.message_id == Message.id)
                .where(among(session, Message.thread_id, part))
                .order_by(Message.sort_date.asc().nulls_last(), Message.msgid)):
            members.setdefault((int(tid or 0), int(lid)), []).append(row)
            everywhere.setdefault(int(tid or 0), {}).setdefault(str(row[0]), row)
        for tid, unique in everywhere.items():
            out.threads[tid] = _senders(summarise(list(unique.values()), roots[tid])[4])
        for (tid, lid), rows in members.items():
            root, count, first, last, people = summarise(rows, roots[tid])
            out.lists.append({"thread_id": tid, "list_id": lid, "message_count": count,
                              "first_date": first, "last_date": last, "root_msgid": root[0],
                              "subject": root[1], **_senders(people)})
    return out


def fill_thread_summaries(session: Session, step: int = 5_000) -> int:
    """Summarise every thread (:func:`thread_summaries`) in an archive made before the threads
    and their per-list rows kept it; returns how many per-list rows were written."""
    roots = dict(session.execute(select(Thread.id, Thread.root_msgid)).tuples().all())
    ids = sorted(roots)
    written = 0
    for start in range(0, len(ids), step):
        found = thread_summaries(session, {tid: roots[tid] for tid in ids[start:start + step]})
        if found.threads:
            session.execute(update(Thread), [{"id": tid, **senders}
                                             for tid, senders in found.threads.items()])
        if found.lists:
            session.execute(update(ThreadList), found.lists)
        written += len(found.lists)
    return written


def trailer_anchors(thread_ids: Sequence[int]) -> Select[int, str]:
    """(trailer id, anchor Message-ID) of the trailers given in these threads: the nearest
    patch, cover letter or pull request up the reply chain from each trailer's target. A
    review suggestion (a reply with a diff) is climbed past, as ``b4`` does: a ``Reviewed-by``
    given in answer to it counts for the patch it reviews.

    One recursive query: a step climbs from a message to its parent and stops at a patch (so a
    trailer has at most one anchor), at a message that is not stored, or after
    :data:`ANCHOR_DEPTH` steps (a cycle of References). Trailers that reach no patch are absent.
    """
    parent = aliased(Message)
    seed: Select[int, str, int] = (select(Trailer.id.label("trailer"), Trailer.target_msgid.label("msgid"),
                   literal_column("0").label("depth"))
            .join(Message, Message.id == Trailer.message_id)
            .where(Message.thread_id.in_(thread_ids)))
    walk = seed.cte("anchor_walk", recursive=True)
    stop = aliased(Patch)
    step = (select(walk.c.trailer, parent.parent_msgid, walk.c.depth + literal_column("1"))
            .join(parent, parent.msgid == walk.c.msgid)
            .outerjoin(stop, (stop.msgid == walk.c.msgid) & (stop.kind != SUGGESTION))
            .where(stop.id.is_(None), parent.parent_msgid != "",
                   walk.c.depth < literal_column(str(ANCHOR_DEPTH))))
    walk = walk.union_all(step)
    return (select(walk.c.trailer, walk.c.msgid)
            .join(Patch, (Patch.msgid == walk.c.msgid) & (Patch.kind != SUGGESTION)))


def anchor_trailers(session: Session, thread_ids: Sequence[int]) -> int:
    """Bring ``anchor_msgid`` up to date for every trailer given in these threads (a patch that
    arrived after its reviews, or a missing middle of a reply chain, moves anchors); returns how
    many changed."""
    changed = 0
    for part in chunked(thread_ids):
        found = {int(t): str(a) for t, a in session.execute(trailer_anchors(part))}
        rows = session.execute(select(Trailer.id, Trailer.anchor_msgid)
                               .join(Message, Message.id == Trailer.message_id)
                               .where(among(session, Message.thread_id, part))).all()
        updates = [{"id": row.id, "anchor_msgid": found.get(row.id, "")} for row in rows
                   if row.anchor_msgid != found.get(row.id, "")]
        if updates:
            session.execute(update(Trailer), updates)
        changed += len(updates)
    return changed


def fill_pull_heads(session: Session) -> int:
    """Read the head commit of the pull requests of an archive made before it was kept (the
    ingest stores it from then on); returns how many were found."""
    rows = session.execute(select(Patch.id, Message.raw).join(Message, Message.id == Patch.id)
                           .where(Patch.kind == PULL)).all()
    updates = []
    for pid, blob in rows:
        try:
            info = extract_patches(parse(rawstore.unpack(blob)))
        except MalformedMessage:
            continue
        pull = info.pull if info is not None else None
        if pull is not None and pull.head_commit:
            updates.append({"id": pid, "pull_head": pull.head_commit[:40]})
    if updates:
        session.execute(update(Patch), updates)
    return len(updates)


def link_rows(patch_id: int, links: Sequence[str]) -> list[dict[str, object]]:
    """The ``patch_links`` rows of a patch pointing at these Message-IDs (none longer than a
    stored Message-ID can be, which no stored mail can match)."""
    return [{"patch_id": patch_id, "target_msgid": m}
            for m in dict.fromkeys(links) if m and len(m) <= MSGID_MAX]


def fill_series_lookups(session: Session) -> None:
    """Fill what regrouping looks series up by, for an archive made before it was kept: each
    series' title key and each patch's links as rows."""
    keys = [{"id": sid, "title_key": title_key(title)}
            for sid, title in session.execute(select(Series.id, Series.title))]
    if keys:
        session.execute(update(Series), keys)
    found: list[dict[str, object]] = []
    for pid, links in session.execute(select(Patch.id, Patch.links).where(Patch.links != "")):
        found.extend(link_rows(pid, links.split()))
    if found:
        session.execute(insert(PatchLink), found)
