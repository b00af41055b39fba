"""Partial rerolls: a ``[PATCH v2 3/5]`` sent alone, in reply to v1's 3/5, replaces that patch
and keeps the other four of v1, as ``b4 am`` reads it.

b4's rule: a revision N > 1 that lacks some of its patches is a partial reroll when each patch
it has answers (directly, or through the replies above it) a message numbered like it -- the
same ``k/M`` -- of revision N-1; the missing patches are then taken from revision N-1, with the
trailers given to them there (to them, and to the cover letter of N-1, which spoke for them),
and the series applies whole. The trailers given to the cover letter of N-1 are not carried to
the patches N changed: b4 does carry them when N has no cover letter of its own (it reuses the
old one), but an Acked-by given to v1 was not given to v2's new patch.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from listarchive.access.visibility import Viewer, visible_ids
from listarchive.archive.models import Message, Patch, Series
from listarchive.mail.extract import COVER, PATCH
from listarchive.mail.subject import SubjectInfo
from listarchive.review.trailers import TrailerLine, series_lines

# How far up a reply chain the numbered message of the previous revision is looked for.
MAX_CLIMB = 16


def kept_from_previous(session: Session, viewer: Viewer, series: Series,
                       patches: Sequence[Patch]) -> tuple[Patch, ...]:
    """The patches of revision N-1 that this partial reroll keeps (the counters it lacks), in
    counter order; ``()`` when the series is complete or is not a partial reroll."""
    have = {p.counter for p in patches if p.kind == PATCH}
    missing = set(range(1, series.total + 1)) - have
    if series.revision <= 1 or not missing or not have:
        return ()
    previous: set[int] = set()
    for patch in patches:
        answered = _answered_revision(session, patch)
        if answered is None:
            return ()
        previous.add(answered)
    if len(previous) != 1:
        return ()
    (previous_id,) = previous
    found = session.get(Series, previous_id)
    if found is None or found.revision != series.revision - 1 or found.total != series.total:
        return ()
    kept = list(session.scalars(select(Patch).where(
        Patch.series_id == previous_id, Patch.kind == PATCH, Patch.counter.in_(sorted(missing)))
        .order_by(Patch.counter, Patch.id)))
    seen = visible_ids(session, viewer, [p.id for p in kept])
    return tuple(p for p in kept if p.id in seen)


def kept_lines(session: Session, viewer: Viewer, kept: Sequence[Patch], cover: Patch | None
               ) -> dict[int, tuple[TrailerLine, ...]]:
    """The trailer lines of the kept patches: their own and those given to them in revision
    N-1, those given to the cover letter of N-1, and those given to ``cover`` (N's)."""
    if not kept:
        return {}
    old_cover = session.scalars(select(Patch).where(Patch.series_id == kept[0].series_id,
                                                    Patch.kind == COVER)).first()
    if old_cover is not None and not visible_ids(session, viewer, [old_cover.id]):
        old_cover = None
    lines = series_lines(session, viewer, kept, old_cover)
    if cover is None:
        return lines
    for pid, extra in series_lines(session, viewer, kept, cover).items():
        have = {(line.name, line.value) for line in lines.get(pid, ())}
        lines[pid] = (*lines.get(pid, ()), *(line for line in extra if line.via_cover
                                             and (line.name, line.value) not in have))
    return lines


def _answered_revision(session: Session, patch: Patch) -> int | None:
    """The series of the previous revision this patch was sent in answer to: up its reply
    chain, the first message numbered like it, then the patch that message is or answers."""
    msgid = session.scalar(select(Message.parent_msgid).where(Message.id == patch.id)) or ""
    numbered = False
    for _ in range(MAX_CLIMB):
        if not msgid:
            return None
        row = session.execute(select(Message.subject, Message.parent_msgid)
                              .where(Message.msgid == msgid)).first()
        if row is None:
            return None
        subject = SubjectInfo.parse(row.subject)
        numbered = numbered or (subject.counter == patch.counter
                                and subject.total == patch.total)
        if numbered:
            target = session.scalars(select(Patch).where(Patch.msgid == msgid,
                                                         Patch.kind == PATCH)).first()
            if target is not None:
                return target.series_id if target.counter == patch.counter else None
        msgid = row.parent_msgid
    return None
