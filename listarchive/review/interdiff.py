"""The read side of ``/series/ID/interdiff``: two revisions of a series family compared with
:mod:`listarchive.mail.rangediff`, from the archived mail alone.

A series' family is every series linked to it by revision links (change-id, a link to the
previous revision, the same title: see ``ingest.seriesstore``), followed both ways and at most
:data:`MAX_FAMILY` series far. The other revision is the previous one (the highest revision
below this one) unless the caller names an earlier member of the family; anything else is
:class:`NotComparable`, which the site answers with a 400 that says why.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from listarchive.access.visibility import Viewer, visible_id
from listarchive.archive import listview, messageview
from listarchive.archive.models import Series, SeriesRevision
from listarchive.archive.patchdiffs import stored_diffs
from listarchive.errors import InvalidChange
from listarchive.mail.extract import PATCH
from listarchive.mail.rangediff import STATUSES, PatchPair, RevisionPatch, range_diff
from listarchive.review.rerolls import kept_from_previous
from listarchive.review.seriesview import visible_series

MAX_FAMILY = 64
# Characters (inputs and result) of the range-diffs kept per process, newest used first.
CACHE_CHARS = 32_000_000


class NotComparable(InvalidChange):
    """The two series asked for are not an earlier and a later revision of one series."""


@dataclass(frozen=True)
class Revision:
    """A series of the family, as the comparison names it."""

    id: int
    revision: int
    title: str
    date: datetime | None
    home_list: str  # a list the anchor message is on, for links to messages


@dataclass(frozen=True)
class Interdiff:
    old: Revision
    new: Revision
    pairs: tuple[PatchPair, ...]
    family: tuple[Revision, ...]  # every visible revision, oldest first

    def count(self, status: str) -> int:
        return sum(1 for pair in self.pairs if pair.status == status)

    @property
    def counts(self) -> dict[str, int]:
        return {status: self.count(status) for status in STATUSES}


def family_ids(session: Session, series_id: int) -> set[int]:
    """``series_id`` and every series linked to it by revision links, transitively (bounded)."""
    seen = {series_id}
    frontier = [series_id]
    while frontier and len(seen) < MAX_FAMILY:
        rows = session.execute(select(SeriesRevision.older_id, SeriesRevision.newer_id).where(
            SeriesRevision.older_id.in_(frontier) | SeriesRevision.newer_id.in_(frontier))).all()
        found = {sid for row in rows for sid in (row.older_id, row.newer_id)} - seen
        frontier = sorted(found)[:MAX_FAMILY - len(seen)]
        seen.update(frontier)
    return seen


def _order(row: Revision) -> tuple[int, datetime, int]:
    return row.revision, row.date or datetime.min, row.id


def family(session: Session, viewer: Viewer, series_id: int) -> list[Revision]:
    """The visible revisions of the series' family, oldest first."""
    ids = sorted(family_ids(session, series_id))
    rows = session.execute(select(Series.id, Series.revision, Series.title, Series.date)
                           .where(Series.id.in_(ids), visible_id(viewer, Series.id))).all()
    homes = messageview.home_lists(session, viewer, [row.id for row in rows])
    return sorted((Revision(row.id, row.revision, row.title, row.date,
                            homes.get(row.id, listview.ALL)) for row in rows), key=_order)


def previous_revision(rows: list[Revision], current: Revision) -> Revision | None:
    earlier = [r for r in rows if _order(r) < _order(current) and r.revision < current.revision]
    return earlier[-1] if earlier else None


def revision_patches(session: Session, viewer: Viewer, series_id: int) -> list[RevisionPatch]:
    """The revision's patches as the comparison reads them: its own, and those a partial
    reroll keeps from the revision before (in counter order)."""
    found = visible_series(session, viewer, series_id)
    if found is None:
        return []
    kept = kept_from_previous(session, viewer, found.series, found.patches)
    patches = sorted([p for p in (*found.patches, *kept) if p.kind == PATCH],
                     key=lambda p: (p.counter, p.id))
    diffs = stored_diffs(session, viewer, [p.id for p in patches])
    out = []
    for patch in patches:
        info = diffs.get(patch.id)
        out.append(RevisionPatch(
            patch.counter, patch.title, info.commit_message if info is not None else "",
            info.diff if info is not None else "", patch.patch_id,
            tuple(line.strip() for line in patch.files.splitlines() if line.strip()), patch.id))
    return out


def interdiff(session: Session, viewer: Viewer, series_id: int, from_id: int | None = None
              ) -> Interdiff | None:
    """``series_id`` compared with ``from_id`` (default: its previous revision); ``None`` when
    the series is unknown or hidden, :class:`NotComparable` when there is nothing to compare
    it with or ``from_id`` is not an earlier revision of it."""
    rows = family(session, viewer, series_id)
    current = next((r for r in rows if r.id == series_id), None)
    if current is None:
        return None
    if from_id is None:
        old = previous_revision(rows, current)
        if old is None:
            raise NotComparable(f"series {series_id} is the first revision archived here: "
                                "there is no earlier one to compare it with")
    else:
        old = next((r for r in rows if r.id == from_id), None)
        if old is None:
            raise NotComparable(f"series {from_id} is not a revision of series {series_id} "
                                "(or is not archived here)")
        if old.id == current.id or _order(old) > _order(current):
            raise NotComparable(f"series {from_id} is not an earlier revision than "
                                f"series {series_id}: compare the other way round")
    pairs = compared(revision_patches(session, viewer, old.id),
                     revision_patches(session, viewer, current.id))
    return Interdiff(old, current, pairs, tuple(rows))


Key = tuple[tuple[RevisionPatch, ...], tuple[RevisionPatch, ...]]


class _Kept:
    """Range-diffs by what they compare, the least recently used dropped first once they
    hold more than ``limit`` characters (inputs and result)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.chars = 0
        self.entries: OrderedDict[Key, tuple[tuple[PatchPair, ...], int]] = OrderedDict()
        self.lock = threading.Lock()  # a threaded server shares the process

    def get(self, key: Key) -> tuple[PatchPair, ...] | None:
        with self.lock:
            hit = self.entries.get(key)
            if hit is None:
                return None
            self.entries.move_to_end(key)
            return hit[0]

    def put(self, key: Key, pairs: tuple[PatchPair, ...]) -> None:
        size = sum(len(p.message) + len(p.diff) for p in (*key[0], *key[1])) + sum(
            len(line) for pair in pairs for line in (*pair.diff_lines, *pair.message_lines))
        with self.lock:
            if key in self.entries:
                return
            self.entries[key] = (pairs, size)
            self.chars += size
            while self.chars > self.limit:
                self.chars -= self.entries.popitem(last=False)[1][1]


_kept = _Kept(CACHE_CHARS)


def compared(old: Sequence[RevisionPatch], new: Sequence[RevisionPatch]
             ) -> tuple[PatchPair, ...]:
    """:func:`~listarchive.mail.rangediff.range_diff` of the two revisions, kept per process:
    a 32-patch reroll whose patch-ids all changed costs 24 ms, a two-patch one with long diffs
    12 ms, and a range-diff is asked for again and again (its page, its text and JSON twins, the
    series page's carried comments).

    The key is what is compared, the patches with their texts, as the viewer sees them: an
    entry answers only the very same question, so it can neither go stale nor show one reader
    a patch hidden from them.
    """
    key = (tuple(old), tuple(new))
    found = _kept.get(key)
    if found is None:
        found = tuple(range_diff(old, new))
        _kept.put(key, found)
    return found


def patch_pairs(session: Session, viewer: Viewer, series_id: int
                ) -> tuple[Revision | None, list[PatchPair]]:
    """The previous revision and how this one's patches pair with its (``(None, [])`` for a
    first revision): what the series page carries comments and trailers across with."""
    try:
        found = interdiff(session, viewer, series_id)
    except NotComparable:
        return None, []
    if found is None:
        return None, []
    return found.old, list(found.pairs)

