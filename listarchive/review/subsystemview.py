"""The read side of MAINTAINERS subsystems: a subsystem's page (its recent patch threads and
series) and the index of every subsystem with what the archive holds of it. Series are read
through :mod:`.seriesview`, so a subsystem shows what the series list shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from listarchive.access.visibility import Viewer, visible_message
from listarchive.archive import listview
from listarchive.archive.models import (
    Message,
    PatchSubsystem,
    Series,
    SeriesState,
    SeriesSubsystem,
    Subsystem,
)
from listarchive.review.seriesview import SeriesFilters, SeriesListPage, series_list
from listarchive.review.states import DONE, series_state_column
from listarchive.review.subsystems import SubsystemRef, find_subsystem, subsystem_ref


@dataclass(frozen=True)
class SubsystemPage:
    subsystem: SubsystemRef
    threads: tuple[listview.ThreadSummary, ...]
    series: SeriesListPage


@dataclass(frozen=True)
class SubsystemEntry:
    """A line of the subsystem index: a MAINTAINERS section and what the archive has of it."""

    subsystem: SubsystemRef
    series: int
    open_series: int
    last_activity: datetime | None


def subsystem_page(session: Session, viewer: Viewer, slug: str, limit: int = 30
                   ) -> SubsystemPage | None:
    """A MAINTAINERS section with its recent patch threads and series; ``None`` if unknown."""
    sub = find_subsystem(session, slug)
    if sub is None:
        return None
    touching: ColumnElement[bool] = Message.id.in_(
        select(PatchSubsystem.patch_id).where(PatchSubsystem.subsystem_id == sub.id))
    tids = [int(t or 0) for t in session.scalars(
        select(Message.thread_id).where(touching, visible_message(viewer),
                                        Message.thread_id.is_not(None))
        .group_by(Message.thread_id).order_by(func.max(Message.sort_date).desc().nulls_last())
        .limit(limit))]
    series = series_list(session, viewer, listview.ALL, SeriesFilters(subsystem=slug),
                         per_page=limit)
    assert series is not None
    return SubsystemPage(sub.ref, tuple(listview.thread_summaries(session, viewer, tids)),
                         series)


def subsystem_index(session: Session, viewer: Viewer) -> list[SubsystemEntry]:
    """Every imported MAINTAINERS section with its series the viewer may see (how many, how many
    still open, the newest one's date): those with recent series first, then by name."""
    visible = (select(Series.id, Series.date, series_state_column().label("state"))
               .outerjoin(SeriesState, SeriesState.series_id == Series.id)
               .join(Message, Message.id == Series.id).where(visible_message(viewer))
               .subquery())
    open_state = visible.c.state.not_in(sorted(DONE))
    counts = {sid: (int(total), int(still_open or 0), last) for sid, total, still_open, last in
              session.execute(
                  select(SeriesSubsystem.subsystem_id, func.count(),
                         func.sum(case((open_state, 1), else_=0)), func.max(visible.c.date))
                  .join(visible, visible.c.id == SeriesSubsystem.series_id)
                  .group_by(SeriesSubsystem.subsystem_id))}
    entries = [SubsystemEntry(subsystem_ref(sub), *counts.get(sub.id, (0, 0, None)))
               for sub in session.scalars(select(Subsystem))]
    entries.sort(key=lambda e: (e.last_activity is None,
                                -(e.last_activity.timestamp() if e.last_activity else 0),
                                e.subsystem.name.lower()))
    return entries
