"""The read side of a patch's review discussion: the replies below it in thread order, and the
comments among them placed on the diff lines they answer (:mod:`listarchive.mail.linecomments`).

The replies are read for the viewer: one the viewer may not see is neither listed nor counted.
The comments and their counts are read where the ingest placed them
(:mod:`listarchive.review.placement`, its write side), with no parse of a reply's quoting. A
patch's replies are the messages below it in its thread tree (a reply to a reply included), at
most :data:`MAX_REPLIES` of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from listarchive.access.visibility import Viewer, visible_id
from listarchive.archive import bodies, messageview
from listarchive.archive.batches import in_list, rows_in
from listarchive.archive.models import Patch, ReviewComment
from listarchive.archive.records import MessageRecord, ThreadLine, ThreadView
from listarchive.mail.extract import PATCH
from listarchive.mail.linecomments import LineComment

MAX_REPLIES = 300  # below one patch
MAX_PLACED_DEPTH = 2  # replies deeper than a reply to a reply are listed, not placed


@dataclass(frozen=True)
class Comment:
    """A comment placed on a line of a patch's diff, with who wrote it and where."""

    path: str
    old_line: int
    new_line: int
    text: str
    quoted: str
    msgid: str
    author: str
    email: str
    date: datetime | None
    home_list: str
    patch_id: int = 0


@dataclass(frozen=True)
class Reply:
    record: MessageRecord
    depth: int  # 1: answers the patch
    body: str
    comments: int  # how many of its comments are placed on the diff


@dataclass(frozen=True)
class Discussion:
    comments: tuple[Comment, ...]
    replies: tuple[Reply, ...]


def below(thread: ThreadView, msgid: str) -> list[tuple[MessageRecord, int]]:
    """The visible messages below ``msgid`` in the tree, in thread order, with their depth
    relative to it (the tree lists each subtree right after its root)."""
    lines = thread.lines or tuple(ThreadLine(m.record.msgid, m.depth, m.record)
                                  for m in thread.members)
    at = next((i for i, line in enumerate(lines) if line.msgid == msgid), None)
    if at is None:
        return []
    top = lines[at].depth
    out: list[tuple[MessageRecord, int]] = []
    for line in lines[at + 1:]:
        if line.depth <= top:
            break
        if line.record is not None:
            out.append((line.record, line.depth - top))
            if len(out) >= MAX_REPLIES:
                break
    return out


def _comment(found: LineComment, record: MessageRecord, patch_id: int) -> Comment:
    return Comment(found.path, found.old_line, found.new_line, found.text, found.quoted,
                   record.msgid, record.from_name or record.from_email, record.from_email,
                   record.date, record.lists[0] if record.lists else "all", patch_id)


def discussions(session: Session, viewer: Viewer, patches: Sequence[Patch],
                known: Sequence[MessageRecord] = ()) -> dict[int, Discussion]:
    """The discussion of each patch (kind ``patch``) the viewer may see: one thread read per
    thread, every reply parsed once (to be shown), the comments read where the ingest placed
    them. ``known``: records of some of the patches, already read for this viewer."""
    wanted = [p for p in patches if p.kind == PATCH]
    records = {r.pk: r for r in known}
    missing = [p.msgid for p in wanted if p.id not in records]
    if missing:
        records.update((r.pk, r) for r in messageview.records_by_msgid(session, viewer, missing))
    threads: dict[int, ThreadView] = {}
    under: dict[int, list[tuple[MessageRecord, int]]] = {}
    for patch in wanted:
        record = records.get(patch.id)
        if record is None or record.thread_id is None:
            continue
        if record.thread_id not in threads:
            threads[record.thread_id] = messageview.record_thread(session, viewer, record)
        under[patch.id] = below(threads[record.thread_id], patch.msgid)
    below_all = {r.pk: r for rows in under.values() for r, _ in rows}
    texts = {pk: m.body for pk, m in
             bodies.parsed_messages(session, list(below_all.values())).items()}
    placed = _placed(session, sorted(under), sorted(below_all))
    out: dict[int, Discussion] = {}
    for pid, rows in under.items():
        comments: list[Comment] = []
        listed: list[Reply] = []
        for record, depth in rows:
            found = placed.get((pid, record.pk), [])
            comments.extend(_comment(c, record, pid) for c in found)
            listed.append(Reply(record, depth, texts.get(record.pk, ""), len(found)))
        out[pid] = Discussion(tuple(comments), tuple(listed))
    return out


def _placed(session: Session, patch_ids: Sequence[int], replies: Sequence[int]
            ) -> dict[tuple[int, int], list[LineComment]]:
    """The comments placed on these patches by these replies (which the caller found visible),
    by (patch, reply), in the reply's order."""
    if not patch_ids:
        return {}
    out: dict[tuple[int, int], list[LineComment]] = {}
    wanted = set(patch_ids)
    for row in rows_in(session, _PLACED, replies):
        if row.patch_id in wanted:  # a reply's comments are on the patch it answers, or few
            out.setdefault((row.patch_id, row.message_id), []).append(
                LineComment(row.path, row.old_line, row.new_line, row.text, row.quoted))
    return out


# Built once: building it anew for each page was a twentieth of a commented patch page's time.
# Rows in the order placed (a reply's comments in its order), whatever the chunks.
_PLACED = (select(ReviewComment.patch_id, ReviewComment.message_id, ReviewComment.path,
                  ReviewComment.old_line, ReviewComment.new_line, ReviewComment.text,
                  ReviewComment.quoted)
           .where(ReviewComment.message_id.in_(in_list()))
           .order_by(ReviewComment.patch_id, ReviewComment.message_id, ReviewComment.rank))


def comment_counts(session: Session, viewer: Viewer, patches: Sequence[Patch]) -> dict[int, int]:
    """How many placed comments each patch has (patches without any are left out), read from
    where the ingest stored them: comments of a reply the viewer may not see are not counted."""
    ids = [p.id for p in patches if p.kind == PATCH]
    if not ids:
        return {}
    return {int(pid): int(n) for pid, n in session.execute(
        select(ReviewComment.patch_id, func.count())
        .where(ReviewComment.patch_id.in_(ids), visible_id(viewer, ReviewComment.patch_id),
               visible_id(viewer, ReviewComment.message_id))
        .group_by(ReviewComment.patch_id))}


def series_comment_counts(session: Session, viewer: Viewer, series_ids: Sequence[int]
                          ) -> dict[int, int]:
    """How many placed comments the patches of each series have, in one grouped query (series
    without any are left out); the viewer's visibility as in :func:`comment_counts`."""
    if not series_ids:
        return {}
    return {int(sid or 0): int(n) for sid, n in session.execute(
        select(Patch.series_id, func.count()).select_from(ReviewComment)
        .join(Patch, Patch.id == ReviewComment.patch_id)
        .where(Patch.series_id.in_(list(series_ids)),
               visible_id(viewer, ReviewComment.patch_id),
               visible_id(viewer, ReviewComment.message_id))
        .group_by(Patch.series_id))}
