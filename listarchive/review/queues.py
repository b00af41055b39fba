"""Review queues: what waits for review in a list, a subsystem, or a reviewer's own subsystems.

A queue is the open series (new or under-review, or the state asked for), not archived, oldest
first, with A/R/T counts (the same as every other page's, :mod:`listarchive.review.trailers`),
review comments (as the ingest placed them), submitter, size and delegate, in a fixed number
of queries whatever its length: a subsystem's candidates are one range of the series-subsystem
links, and visibility is checked on the series' ids without reading their message rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from listarchive.access.visibility import Viewer, visible_id, visible_list
from listarchive.archive import listview, messageview
from listarchive.archive.models import (
    Grant,
    MailingList,
    Message,
    MessageList,
    Patch,
    Series,
    SeriesState,
    SeriesSubsystem,
    Subsystem,
    User,
)
from listarchive.review import checks, subsystems
from listarchive.review.discussion import series_comment_counts
from listarchive.review.seriesview import (
    SeriesFilters,
    apply_filters,
    check_state,
    with_series_state,
)
from listarchive.review.states import series_state_column
from listarchive.review.trailers import Counts, series_counts

# What a reviewer still has to look at: the default of every queue.
OPEN_STATES = ("new", "under-review")


@dataclass(frozen=True)
class QueueRow:
    id: int
    title: str
    revision: int
    is_rfc: bool
    submitter_name: str
    submitter_email: str
    date: datetime | None
    received: int
    total: int
    complete: bool
    counts: Counts
    state: str
    delegate: str
    files: int
    insertions: int
    deletions: int
    home_list: str
    check: str = ""  # combined CI state of its patches (review.checks); '' without checks
    comments: int = 0  # review comments placed on the diff lines of its patches


@dataclass(frozen=True)
class QueuePage:
    title: str  # what the queue is of: a list's name, a subsystem's, "my queue"
    rows: tuple[QueueRow, ...]
    total: int  # series matching, over all pages
    page: int
    per_page: int
    has_next: bool
    filters: SeriesFilters


@dataclass(frozen=True)
class QueueScope:
    """Whose queue: a list (or :data:`listview.ALL`), a subsystem slug, or a user's grants."""

    list_name: str = ""
    subsystem: str = ""
    user_id: int | None = None


def _scope_condition(session: Session, viewer: Viewer, scope: QueueScope
                     ) -> tuple[str, ColumnElement[bool]] | None:
    """(title, SQL condition on Series) for the scope; None when the list or subsystem is
    unknown (or the list hidden)."""
    if scope.subsystem:
        sub = session.scalars(select(Subsystem).where(subsystems.named(scope.subsystem))).first()
        if sub is None:
            return None
        return sub.name, Series.id.in_(
            select(SeriesSubsystem.series_id).where(SeriesSubsystem.subsystem_id == sub.id))
    if scope.user_id is not None:
        user = session.get(User, scope.user_id)
        if user is None:
            return None
        grants = session.execute(select(Grant.scope_kind, Grant.scope_name)
                                 .where(Grant.user_id == user.id)).all()
        list_names = [n for k, n in grants if k == "list"]
        sub_names = [n.lower() for k, n in grants if k == "subsystem"]
        conds: list[ColumnElement[bool]] = []
        if list_names:
            conds.append(Series.id.in_(
                select(MessageList.message_id)
                .join(MailingList, MailingList.id == MessageList.list_id)
                .where(MailingList.name.in_(list_names))))
        if sub_names:
            conds.append(Series.id.in_(
                select(SeriesSubsystem.series_id)
                .join(Subsystem, Subsystem.id == SeriesSubsystem.subsystem_id)
                .where(func.lower(Subsystem.name).in_(sub_names)
                       | Subsystem.slug.in_(sub_names))))
        if not conds:
            # An admin without grants looks after everything; anyone else after nothing.
            return "my queue", (Series.id > 0) if user.is_admin else (Series.id < 0)
        cond = conds[0]
        for extra in conds[1:]:
            cond = cond | extra
        return "my queue", cond
    name = scope.list_name or listview.ALL
    if name == listview.ALL:
        return name, Series.id > 0
    lst = session.scalars(select(MailingList.id).where(MailingList.name == name,
                                                       visible_list(viewer))).first()
    if lst is None:
        return None
    return name, Series.id.in_(select(MessageList.message_id).where(MessageList.list_id == lst))


def queue(session: Session, viewer: Viewer, scope: QueueScope,
          filters: SeriesFilters | None = None, page: int = 1, per_page: int = 50
          ) -> QueuePage | None:
    """What needs review in ``scope``: series in :data:`OPEN_STATES` (or ``filters.state``),
    not archived, oldest first, with A/R/T counts, submitter and size. ``None`` for an unknown
    list or subsystem. A fixed number of queries whatever the queue's length."""
    filters = filters or SeriesFilters()
    check_state(filters.state)
    found = _scope_condition(session, viewer, scope)
    if found is None:
        return None
    title, cond = found
    state_col = series_state_column()
    base = with_series_state(select(Series.id)).where(
        cond, visible_id(viewer, Series.id), func.coalesce(SeriesState.archived, False).is_(False))
    base = base.where(state_col == filters.state if filters.state
                      else state_col.in_(OPEN_STATES))
    base = apply_filters(base, filters)
    per_page = max(1, min(per_page, listview.MAX_PER_PAGE))
    # The page's ids and the queue's length in one pass: the scope and visibility conditions
    # are checked once per candidate series, not once for a count and again for the page (on
    # a 2,000-series subsystem queue that second pass was a third of the render).
    window = session.execute(base.add_columns(func.count().over().label("total"))
                             .order_by(Series.date.asc().nulls_last(), Series.id)
                             .offset((page - 1) * per_page).limit(per_page + 1)).all()
    if window:
        total = int(window[0].total)
    elif page > 1:  # past the end: the window has no row to carry the count
        total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    else:
        total = 0
    rows = session.execute(
        select(Series, state_col, User.name, Message.from_name)
        .outerjoin(SeriesState, SeriesState.series_id == Series.id)
        .join(Message, Message.id == Series.id)
        .outerjoin(User, User.id == SeriesState.delegate_id)
        .where(Series.id.in_([int(r.id) for r in window]))
        .order_by(Series.date.asc().nulls_last(), Series.id)).all()
    ids = [r.Series.id for r in rows[:per_page]]
    counts = series_counts(session, viewer, ids)
    sizes: dict[int, tuple[int, int, int]] = {}
    if ids:
        for sid, files, ins, dels in session.execute(
                select(Patch.series_id, func.sum(Patch.file_count), func.sum(Patch.insertions),
                       func.sum(Patch.deletions))
                .where(Patch.series_id.in_(ids)).group_by(Patch.series_id)):
            sizes[int(sid or 0)] = (int(files or 0), int(ins or 0), int(dels or 0))
    homes = messageview.home_lists(session, viewer, ids)
    check_states = checks.series_states(session, ids)
    talk = series_comment_counts(session, viewer, ids)
    out = []
    for series, state, delegate, from_name in rows[:per_page]:
        files, ins, dels = sizes.get(series.id, (0, 0, 0))
        out.append(QueueRow(series.id, series.title, series.revision, series.is_rfc,
                            from_name or "", series.sender_email, series.date, series.received,
                            series.total, series.complete, counts.get(series.id, Counts()),
                            state, delegate or "", files, ins, dels,
                            homes.get(series.id, listview.ALL),
                            check_states.get(series.id, ""), talk.get(series.id, 0)))
    return QueuePage(title, tuple(out), int(total), page, per_page, len(rows) > per_page,
                     filters)
