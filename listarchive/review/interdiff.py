"""The read side of ``/series/ID/interdiff``: two revisions of a series family compared with
:mod:`listarchive.mail.rangediff`, from the archived mail alone.

A series' family is every series linked to it by revision links (change-id, a link to the
previous revision, the same title: see ``ingest.seriesstore``), followed both ways and at most
:data:`MAX_FAMILY` series far. The other revision is the previous one (the highest revision
below this one) unless the caller names an earlier member of the family; anything else is
:class:`NotComparable`, which the site answers with a 400 that says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from listarchive.access.visibility import Viewer, visible_ids
from listarchive.archive.models import SeriesRevision
from listarchive.archive.patchdiffs import stored_diffs
from listarchive.errors import InvalidChange
from listarchive.mail.extract import PATCH
from listarchive.mail.rangediff import STATUSES, PatchPair, RevisionPatch, range_diff
from listarchive.review.rerolls import kept_from_previous
from listarchive.review.seriesview import SeriesRow, series_rows, visible_series

MAX_FAMILY = 64


class NotComparable(InvalidChange):
    """The two series asked for are not an earlier and a later revision of one series."""


@dataclass(frozen=True)
class Interdiff:
    old: SeriesRow
    new: SeriesRow
    pairs: tuple[PatchPair, ...]
    family: tuple[SeriesRow, ...]  # every visible revision, oldest first

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


def _order(row: SeriesRow) -> tuple[int, datetime, int]:
    return row.revision, row.date or datetime.min, row.id


def family(session: Session, viewer: Viewer, series_id: int) -> list[SeriesRow]:
    """The visible revisions of the series' family, oldest first."""
    ids = sorted(family_ids(session, series_id))
    return sorted(series_rows(session, viewer, ids), key=_order)


def previous_revision(rows: list[SeriesRow], current: SeriesRow) -> SeriesRow | None:
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
    if current is None or not visible_ids(session, viewer, [series_id]):
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
    pairs = range_diff(revision_patches(session, viewer, old.id),
                       revision_patches(session, viewer, current.id))
    return Interdiff(old, current, tuple(pairs), tuple(rows))


def patch_pairs(session: Session, viewer: Viewer, series_id: int
                ) -> tuple[SeriesRow | None, list[PatchPair]]:
    """The previous revision and how this one's patches pair with its (``(None, [])`` for a
    first revision): what the series page carries comments and trailers across with."""
    try:
        found = interdiff(session, viewer, series_id)
    except NotComparable:
        return None, []
    if found is None:
        return None, []
    return found.old, list(found.pairs)

