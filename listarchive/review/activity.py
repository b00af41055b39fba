"""The read side of a list's or a subsystem's activity over time: messages, new series and
accepted series per week, how long series wait for their first review and for acceptance
(median per month), and who gives the most review trailers.

Every figure is aggregate SQL over a bounded window (``weeks`` weeks ending with the scope's
newest message), grouped by week in the database; the delays take one row per series of the
window (first review and acceptance found with ``MIN``/``MAX`` in SQL) and only their medians
are computed here, as SQLite has no percentile function. The same SQL runs on SQLite and
PostgreSQL: only the week number of a date is written per dialect.

Nothing the viewer may not read is counted: messages go through ``visible_message``, series
and trailers through ``visible_id``, and a restricted list is no scope at all for a viewer
without a grant on it (``None``, as for an unknown list).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, and_, cast, func, literal, or_, select
from sqlalchemy.orm import Session, aliased

from listarchive.access.visibility import Viewer, visible_id, visible_message
from listarchive.archive import listview
from listarchive.archive.models import (
    Message,
    MessageList,
    Patch,
    Series,
    SeriesState,
    SeriesSubsystem,
    StateChange,
    Trailer,
)
from listarchive.review.states import series_state_column
from listarchive.review.subsystems import find_subsystem

DEFAULT_WEEKS = 26
MAX_WEEKS = 104
REVIEW_TRAILERS = ("Reviewed-by", "Acked-by")  # what counts as a first review
GIVEN_TRAILERS = ("Reviewed-by", "Acked-by", "Tested-by")  # what makes a top reviewer
TOP_REVIEWERS = 10


@dataclass(frozen=True)
class Scope:
    """What the figures are about: a list (``all`` for every visible list) or a subsystem."""

    kind: str  # list | subsystem
    name: str  # the list's name, or the subsystem's slug
    title: str  # as a page names it
    list_ids: tuple[int, ...] = ()  # kind list, not all
    subsystem_id: int = 0  # kind subsystem


@dataclass(frozen=True)
class Week:
    start: date  # a Monday
    messages: int
    series: int  # new series posted that week
    accepted: int  # series accepted that week


@dataclass(frozen=True)
class Month:
    month: str  # YYYY-MM, the month the series were posted
    series: int
    reviewed: int  # of them, those with a review or a reply from someone else
    median_review_hours: float | None
    accepted: int
    median_accept_hours: float | None


@dataclass(frozen=True)
class Reviewer:
    name: str
    email: str
    trailers: int


@dataclass(frozen=True)
class Activity:
    scope: Scope
    weeks: tuple[Week, ...]
    months: tuple[Month, ...]
    reviewers: tuple[Reviewer, ...]

    @property
    def empty(self) -> bool:
        return not any(w.messages or w.series or w.accepted for w in self.weeks)

    def as_json(self) -> dict[str, Any]:
        return {"scope": {"kind": self.scope.kind, "name": self.scope.name},
                "weeks": [{"start": w.start.isoformat(), "messages": w.messages,
                           "series": w.series, "accepted": w.accepted} for w in self.weeks],
                "months": [{"month": m.month, "series": m.series, "reviewed": m.reviewed,
                            "median_review_hours": m.median_review_hours,
                            "accepted": m.accepted,
                            "median_accept_hours": m.median_accept_hours}
                           for m in self.months],
                "reviewers": [{"name": r.name, "email": r.email, "trailers": r.trailers}
                              for r in self.reviewers]}


# --- scopes ------------------------------------------------------------------------------------


def list_scope(session: Session, viewer: Viewer, name: str) -> Scope | None:
    """The list ``name`` (or ``all``) as this viewer may see it; None when unknown or hidden."""
    if not listview.list_exists(session, viewer, name):
        return None
    if name == listview.ALL:
        return Scope("list", name, "every list")
    ids = listview.list_ids(session, viewer, name)
    return Scope("list", name, name, tuple(ids or ()))


def subsystem_scope(session: Session, slug: str) -> Scope | None:
    found = find_subsystem(session, slug)
    if found is None:
        return None
    return Scope("subsystem", found.ref.slug, found.ref.name, subsystem_id=found.id)


def _series_in(scope: Scope) -> ColumnElement[bool]:
    """SQL condition on :class:`Series`: a series of the scope (its anchor on the list, or it
    touches the subsystem)."""
    if scope.kind == "subsystem":
        return Series.id.in_(select(SeriesSubsystem.series_id)
                             .where(SeriesSubsystem.subsystem_id == scope.subsystem_id))
    if scope.list_ids:
        return Series.id.in_(select(MessageList.message_id)
                             .where(MessageList.list_id.in_(scope.list_ids)))
    return literal(True)


def _messages_in(scope: Scope) -> ColumnElement[bool]:
    """SQL condition on :class:`Message`: on the list, or in a thread where a series of the
    subsystem was posted."""
    if scope.kind == "subsystem":
        anchor = aliased(Message)
        return Message.thread_id.in_(
            select(anchor.thread_id).join(Series, Series.id == anchor.id)
            .where(_series_in(scope), anchor.thread_id.is_not(None)))
    if scope.list_ids:
        return Message.id.in_(select(MessageList.message_id)
                              .where(MessageList.list_id.in_(scope.list_ids)))
    return literal(True)


# --- the week of a date, in SQL ----------------------------------------------------------------


def _week_of(session: Session, column: Any, origin: datetime) -> ColumnElement[int]:
    """Whole weeks from ``origin`` (a Monday, 00:00) to ``column`` (not before it)."""
    if session.get_bind().dialect.name == "sqlite":
        days = func.julianday(column) - func.julianday(literal(origin.isoformat(" ")))
        return cast(days / 7, Integer)
    seconds = func.extract("epoch", column - literal(origin))
    return cast(func.floor(seconds / 604800), Integer)


def _monday(day: datetime) -> datetime:
    start = day - timedelta(days=day.weekday())
    return start.replace(hour=0, minute=0, second=0, microsecond=0)


# --- the figures -------------------------------------------------------------------------------


def activity(session: Session, viewer: Viewer, scope: Scope, weeks: int = DEFAULT_WEEKS
             ) -> Activity:
    """The figures of ``scope`` over the ``weeks`` weeks ending with its newest message (the
    window is where the scope's mail is, so an old archive shows its last months, not an empty
    present), or fewer when its first message is more recent."""
    weeks = max(1, min(weeks, MAX_WEEKS))
    visible = visible_message(viewer)
    oldest, newest = session.execute(select(func.min(Message.sort_date),
                                            func.max(Message.sort_date))
                                     .where(_messages_in(scope), visible)).one()
    if newest is None:
        return Activity(scope, (), (), ())
    accepted_q = _accepted_at(scope, viewer).subquery()
    last_accepted = session.scalar(select(func.max(accepted_q.c.at)))
    if last_accepted is not None and last_accepted > newest:  # accepted since the last mail
        newest = last_accepted
    # A young list starts where its mail does, not with months of nothing.
    origin = max(_monday(newest) - timedelta(weeks=weeks - 1), _monday(oldest or newest))
    end = _monday(newest) + timedelta(weeks=1)
    weeks = (end - origin).days // 7
    counts: dict[str, dict[int, int]] = {"messages": {}, "series": {}, "accepted": {}}

    week = _week_of(session, Message.sort_date, origin)
    for index, n in session.execute(
            select(week, func.count()).where(_messages_in(scope), visible,
                                             Message.sort_date >= origin,
                                             Message.sort_date < end)
            .group_by(week)):
        counts["messages"][int(index)] = int(n)
    week = _week_of(session, Series.date, origin)
    for index, n in session.execute(
            select(week, func.count()).where(_series_in(scope), visible_id(viewer, Series.id),
                                             Series.date >= origin, Series.date < end)
            .group_by(week)):
        counts["series"][int(index)] = int(n)
    week = _week_of(session, accepted_q.c.at, origin)
    for index, n in session.execute(
            select(week, func.count()).select_from(accepted_q)
            .where(accepted_q.c.at >= origin, accepted_q.c.at < end).group_by(week)):
        counts["accepted"][int(index)] = int(n)
    out_weeks = tuple(Week((origin + timedelta(weeks=i)).date(), counts["messages"].get(i, 0),
                           counts["series"].get(i, 0), counts["accepted"].get(i, 0))
                      for i in range(weeks))
    return Activity(scope, out_weeks, _months(session, viewer, scope, origin, end),
                    _reviewers(session, viewer, scope, origin, end))


def _accepted_at(scope: Scope, viewer: Viewer) -> Select[Any]:
    """Accepted series of the scope, one row each: id, posting date, and when they were accepted
    (the latest acceptance recorded for the series or one of its patches, by a person or by
    git-scan; else when the series' state was last computed)."""
    change = aliased(StateChange)
    statement: Any = (select(Series.id.label("id"), Series.date.label("posted"),
                   func.coalesce(func.max(change.at), func.max(SeriesState.updated_at))
                   .label("at"))
            .join(SeriesState, SeriesState.series_id == Series.id)
            .outerjoin(Patch, Patch.series_id == Series.id)
            .outerjoin(change, and_(change.field == "state", change.to_value == "accepted",
                                    or_(and_(change.object_kind == "series",
                                             change.object_id == Series.id),
                                        and_(change.object_kind == "patch",
                                             change.object_id == Patch.id))))
            .where(series_state_column() == "accepted", _series_in(scope),
                   visible_id(viewer, Series.id))
            .group_by(Series.id, Series.date))
    return statement


def _months(session: Session, viewer: Viewer, scope: Scope, origin: datetime, end: datetime
            ) -> tuple[Month, ...]:
    """Per month of posting: how many series, and the median hours to the first review (the
    first Reviewed-by/Acked-by, or the first reply to one of its mails from someone other than
    its sender) and to acceptance."""
    reply = aliased(Message)
    first_reply = dict(session.execute(
        select(Patch.series_id, func.min(reply.date))
        .join(Series, Series.id == Patch.series_id)
        .join(reply, reply.parent_msgid == Patch.msgid)
        .where(_series_in(scope), visible_id(viewer, Series.id), Series.date >= origin,
               Series.date < end, reply.from_email != Series.sender_email,
               reply.date >= Series.date, visible_id(viewer, reply.id))
        .group_by(Patch.series_id)).all())
    given = aliased(Message)
    first_trailer = dict(session.execute(
        select(Patch.series_id, func.min(given.date))
        .join(Series, Series.id == Patch.series_id)
        .join(Trailer, Trailer.target_msgid == Patch.msgid)
        .join(given, given.id == Trailer.message_id)
        .where(_series_in(scope), visible_id(viewer, Series.id), Series.date >= origin,
               Series.date < end, Trailer.own.is_(False), Trailer.mismatch.is_(False),
               Trailer.name.in_(REVIEW_TRAILERS), given.date >= Series.date,
               visible_id(viewer, given.id))
        .group_by(Patch.series_id)).all())
    accepted_q = _accepted_at(scope, viewer).subquery()
    accepted = {sid: at for sid, at in session.execute(
        select(accepted_q.c.id, accepted_q.c.at)) if at is not None}
    by_month: dict[str, dict[str, list[float]]] = {}
    for sid, posted in session.execute(
            select(Series.id, Series.date).where(_series_in(scope), visible_id(viewer, Series.id),
                                                 Series.date >= origin, Series.date < end)):
        if posted is None:
            continue
        month = by_month.setdefault(posted.strftime("%Y-%m"),
                                    {"series": [], "review": [], "accept": []})
        month["series"].append(0.0)
        reviewed = [d for d in (first_reply.get(sid), first_trailer.get(sid)) if d is not None]
        if reviewed:
            month["review"].append(_hours(posted, min(reviewed)))
        if sid in accepted:
            month["accept"].append(_hours(posted, accepted[sid]))
    return tuple(Month(key, len(v["series"]), len(v["review"]), _median(v["review"]),
                       len(v["accept"]), _median(v["accept"]))
                 for key, v in sorted(by_month.items()))


def _hours(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds() / 3600)


def _median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def _reviewers(session: Session, viewer: Viewer, scope: Scope, origin: datetime, end: datetime
               ) -> tuple[Reviewer, ...]:
    """Who gave the most Reviewed-by, Acked-by and Tested-by trailers to the scope's series in
    the window (counted by address; a trailer that names someone other than its sender is not
    theirs and is not counted)."""
    given = aliased(Message)
    count = func.count(Trailer.id)
    rows = session.execute(
        select(Trailer.person_email, func.max(given.from_name), count)
        .join(given, given.id == Trailer.message_id)
        .join(Patch, Patch.msgid == Trailer.target_msgid)
        .join(Series, Series.id == Patch.series_id)
        .where(_series_in(scope), Trailer.own.is_(False), Trailer.mismatch.is_(False),
               Trailer.name.in_(GIVEN_TRAILERS), Trailer.person_email != "",
               given.date >= origin, given.date < end, visible_id(viewer, given.id),
               visible_id(viewer, Series.id))
        .group_by(Trailer.person_email)
        .order_by(count.desc(), Trailer.person_email)
        .limit(TOP_REVIEWERS)).all()
    return tuple(Reviewer(name or email, email, int(n)) for email, name, n in rows)
