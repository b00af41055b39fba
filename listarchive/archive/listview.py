"""The read side of lists: the directory of lists with their totals, a list's index of
threads (newest activity first), and thread summaries.

Every function takes the :class:`~listarchive.access.visibility.Viewer` it answers for; a list
the viewer may not browse answers like one that does not exist. ``LIST`` arguments are a list
name or :data:`ALL`, the pseudo-list of every visible list.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, exists, func, literal, or_, select, true
from sqlalchemy.orm import Session

from listarchive.access.visibility import (
    Viewer,
    hidden_msgids,
    hidden_threads,
    list_allowed,
    visible_list,
    visible_message,
)
from listarchive.archive import badges
from listarchive.archive.badges import MessageBadge
from listarchive.archive.batches import AnySelect, Reader, in_list, read, rows_in, select_in
from listarchive.archive.derived import SHOWN_PARTICIPANTS, summarise
from listarchive.archive.models import (
    ListStat,
    MailingList,
    Message,
    MessageList,
    Patch,
    Series,
    Thread,
    ThreadList,
)

ALL = "all"
MAX_PER_PAGE = 200


def fixed(count: int) -> Any:
    """A LIMIT or OFFSET written into the statement, not sent as a parameter: PostgreSQL
    estimates a generic plan for ``LIMIT $1`` as if it kept a tenth of the rows, so it planned
    the statement anew at every request instead of keeping its plan."""
    return literal(count, literal_execute=True)


@dataclass(frozen=True)
class ListSummary:
    name: str
    description: str
    address: str
    messages: int
    threads: int
    last_activity: datetime | None


@dataclass(frozen=True)
class ThreadSummary:
    root_msgid: str
    subject: str
    messages: int
    participants: tuple[str, ...]  # the first senders, at most SHOWN_PARTICIPANTS
    participant_count: int  # how many different senders
    first_date: datetime | None
    last_date: datetime | None


@dataclass(frozen=True)
class Cursor:
    """A place in a list index: a thread's last activity and its id (which orders threads of
    the same moment). Pages go from one cursor to the next along the (list, last activity)
    index, so the thousandth page costs what the first does; page numbers would make a
    crawler walking every page pay for every page before it again."""

    last_date: datetime | None
    thread_id: int

    def token(self) -> str:
        when = self.last_date.strftime("%Y%m%d%H%M%S%f") if self.last_date else "undated"
        return f"{when}-{self.thread_id}"

    @classmethod
    def parse(cls, token: str) -> Cursor:
        """The cursor a :meth:`token` names; ValueError for anything else."""
        when, sep, tid = token.partition("-")
        if not sep or not tid.isascii() or not tid.isdigit() or len(tid) > 18:
            raise ValueError(token)
        if when == "undated":
            return cls(None, int(tid))
        if not (when.isascii() and when.isdigit() and len(when) == 20):
            raise ValueError(token)
        return cls(datetime.strptime(when, "%Y%m%d%H%M%S%f"), int(tid))


@dataclass(frozen=True)
class IndexPage:
    mailing_list: ListSummary
    threads: tuple[ThreadSummary, ...]
    page: int
    per_page: int
    has_next: bool
    older: Cursor | None = None  # the last thread shown, if older ones follow
    newer: Cursor | None = None  # the first thread shown, if newer ones exist
    badges: Mapping[str, MessageBadge] = field(default_factory=dict)  # by the roots' Message-IDs


# --- lists -------------------------------------------------------------------------------------


def hidden_thread_ids(session: Session, viewer: Viewer) -> frozenset[int]:
    """The threads an embargo hides whole from this viewer (:func:`hidden_threads`), read once
    for a page: usually none, and then the page's statements carry no condition for them (on
    PostgreSQL a ``NOT IN`` subquery kept the planner off the (list, last activity) index)."""
    return frozenset(tid for tid in session.scalars(hidden_threads(viewer)) if tid is not None)


def _list_stats(session: Session, viewer: Viewer, list_id: int | None = None,
                hidden_tids: frozenset[int] | None = None
                ) -> dict[int, tuple[int, int, datetime | None]]:
    """List id -> (threads, messages, latest activity) over the threads this viewer may see.

    The totals are kept per list by the ingest (``list_stats``); what an embargo hides from the
    viewer (usually nothing) is subtracted: its messages, and the threads it hides whole. The
    latest activity is the first visible row of the list's (list, last date) index read
    backwards. No list is counted whole, whatever its size.
    """
    gone = hidden_thread_ids(session, viewer) if hidden_tids is None else hidden_tids
    totals = select(ListStat.list_id, ListStat.threads, ListStat.messages)
    threads_gone = (select(ThreadList.list_id, func.count())
                    .where(ThreadList.thread_id.in_(sorted(gone)))
                    .group_by(ThreadList.list_id))
    # The hidden messages first (usually none; one indexed lookup per hidden Message-ID),
    # then their list memberships: joined in one statement, SQLite read every membership row
    # of the list to test each against the empty set (42 ms a list page at 35k messages).
    hidden = list(session.scalars(select(Message.id).where(
        Message.msgid.in_(hidden_msgids(viewer)))))
    messages_gone: Any = (select(MessageList.list_id, func.count())
                          .group_by(MessageList.list_id))
    if list_id is not None:
        totals = totals.where(ListStat.list_id == list_id)
        threads_gone = threads_gone.where(ThreadList.list_id == list_id)
        messages_gone = messages_gone.where(MessageList.list_id == list_id)
    minus_t = {int(lid): int(n) for lid, n in session.execute(threads_gone)} if gone else {}
    minus_m: dict[int, int] = {}
    rows: list[Any] = list(select_in(session, messages_gone, MessageList.message_id, hidden))
    for lid, n in rows:
        minus_m[int(lid)] = minus_m.get(int(lid), 0) + int(n)
    out: dict[int, tuple[int, int, datetime | None]] = {}
    for lid, threads, messages in session.execute(totals):
        gone_t, gone_m = minus_t.get(int(lid), 0), minus_m.get(int(lid), 0)
        newest = (select(ThreadList.last_date)
                  .where(ThreadList.list_id == lid, ThreadList.last_date.is_not(None))
                  .order_by(ThreadList.last_date.desc().nulls_last()).limit(1))  # as indexed
        if gone:
            newest = newest.where(ThreadList.thread_id.not_in(sorted(gone)))
        last = session.scalar(newest)
        out[int(lid)] = (int(threads) - gone_t, int(messages) - gone_m, last)
    return out


def _list_summaries(session: Session, viewer: Viewer,
                    hidden_tids: frozenset[int] | None = None) -> list[ListSummary]:
    stats = _list_stats(session, viewer, hidden_tids=hidden_tids)
    out = []
    for lst in session.scalars(select(MailingList).where(visible_list(viewer))
                               .order_by(MailingList.name)):
        threads, messages, last = stats.get(lst.id, (0, 0, None))
        out.append(ListSummary(lst.name, lst.description, lst.address, messages, threads, last))
    return out


def list_directory(session: Session, viewer: Viewer) -> list[ListSummary]:
    """Every list the viewer may browse, by name, with counts and latest activity."""
    found = _every_list(session, viewer)
    return found[0] if found is not None else _list_summaries(session, viewer)


# Built once: every message, thread and search page asks.
_RESTRICTED = select(MailingList.restricted).where(MailingList.name == bindparam("name"))


def list_exists(session: Reader, viewer: Viewer, name: str) -> bool:
    """Whether ``name`` (or :data:`ALL`) is a list this viewer may browse: what a message, thread
    or search URL needs to know, without the counts of :func:`get_list` (which read every
    membership row of the list: most of a message page's time on a 100k-message list)."""
    if name == ALL:
        return True
    found = read(session, _RESTRICTED, {"name": name}).first()
    return found is not None and list_allowed(viewer, bool(found[0]), name)


def get_list(session: Session, viewer: Viewer, name: str,
             hidden_tids: frozenset[int] | None = None) -> ListSummary | None:
    """One list (or :data:`ALL`, summed over the visible lists); ``None`` when unknown/hidden.
    ``hidden_tids``: :func:`hidden_thread_ids` when the caller has read them."""
    scope = _scope_of(session, viewer, name, hidden_tids)
    return scope.summary if scope is not None else None


@functools.lru_cache(maxsize=512)
def _list_rows(viewer: Viewer) -> AnySelect:
    """Every list, by name, with whether an embargo in force hides any message from this
    viewer, its totals and its latest activity (as :func:`_list_stats` reads them with
    nothing hidden): while no embargo hides anything (nearly always), the lists' summaries
    are this one statement."""
    newest = (select(ThreadList.last_date)
              .where(ThreadList.list_id == MailingList.id, ThreadList.last_date.is_not(None))
              .order_by(ThreadList.last_date.desc().nulls_last()).limit(fixed(1)))  # as indexed
    return (select(MailingList.id, MailingList.name, MailingList.description,
                   MailingList.address, MailingList.restricted,
                   exists(hidden_msgids(viewer)).label("embargoed"),
                   ListStat.threads, ListStat.messages, newest.scalar_subquery().label("newest"))
            .outerjoin(ListStat, ListStat.list_id == MailingList.id)
            .order_by(MailingList.name))


@functools.lru_cache(maxsize=512)
def _list_row(viewer: Viewer) -> AnySelect:
    """One list of :func:`_list_rows`, by name."""
    return _list_rows(viewer).where(MailingList.name == bindparam("name"))


def _every_list(session: Session, viewer: Viewer
                ) -> tuple[list[ListSummary], list[int], bool] | None:
    """The lists this viewer may browse (their summaries and ids) and whether those are every
    list, all from :func:`_list_rows`; ``None`` when an embargo hides something from it (the
    caller counts what it may see)."""
    rows = read(session, _list_rows(viewer), {}).all()
    if any(row.embargoed for row in rows):
        return None
    shown = [row for row in rows if list_allowed(viewer, bool(row.restricted), row.name)]
    return ([ListSummary(row.name, row.description, row.address, row.messages or 0,
                         row.threads or 0, row.newest) for row in shown],
            [int(row.id) for row in shown], len(shown) == len(rows))


@dataclass(frozen=True)
class _Scope:
    """What a list index is over, for one viewer."""

    summary: ListSummary
    ids: list[int]  # the lists (:func:`list_ids`)
    gone: frozenset[int]  # the threads an embargo hides whole (:func:`hidden_thread_ids`)
    every: bool | None  # for ALL, whether the lists are every list (None: not read yet)
    embargoed: bool  # an embargo in force hides something from the viewer


def _scope_of(session: Session, viewer: Viewer, name: str,
                     hidden_tids: frozenset[int] | None = None) -> _Scope | None:
    """:func:`get_list` with what a list index needs besides: the hidden threads are read only
    when an embargo hides something (``hidden_tids``: when the caller has read them)."""
    if name == ALL:
        found = _every_list(session, viewer)
        if found is not None:
            lists, ids, every = found
            gone: frozenset[int] = frozenset()
        else:
            gone = hidden_thread_ids(session, viewer) if hidden_tids is None else hidden_tids
            lists, every = _list_summaries(session, viewer, gone), None
            ids = list_ids(session, viewer, ALL) or []
        return _Scope(ListSummary(ALL, "every list of this archive", "",
                                  sum(s.messages for s in lists), sum(s.threads for s in lists),
                                  max((s.last_activity for s in lists if s.last_activity),
                                      default=None)), ids, gone, every, found is None)
    row = read(session, _list_row(viewer), {"name": name}).first()
    if row is None:
        return None
    return _one_scope(session, viewer, row, hidden_tids)


def _one_scope(session: Session, viewer: Viewer, row: Sequence[Any],
               hidden_tids: frozenset[int] | None) -> _Scope | None:
    """The scope of one list from its row of :func:`_list_row` (``None``: hidden)."""
    lid, name, description, address, restricted, embargoed, threads, messages, last = tuple(row)
    if not list_allowed(viewer, bool(restricted), name):
        return None
    if embargoed:
        if hidden_tids is None:
            hidden_tids = hidden_thread_ids(session, viewer)
        threads, messages, last = _list_stats(session, viewer, lid, hidden_tids).get(
            lid, (0, 0, None))
    else:
        hidden_tids, threads, messages = frozenset(), threads or 0, messages or 0
    return _Scope(ListSummary(name, description, address, messages, threads, last), [lid],
                  hidden_tids, False, bool(embargoed))


def _partly_hidden(session: Session, viewer: Viewer) -> frozenset[int]:
    """The threads with a message an embargo hides from this viewer (one indexed lookup per
    hidden message; embargoes are few): their kept summaries count what it may not see."""
    return frozenset(tid for tid in session.scalars(
        select(Message.thread_id).where(Message.msgid.in_(hidden_msgids(viewer))))
        if tid is not None)


@dataclass(frozen=True)
class _Placed:
    """A thread placed in a list index by the last activity its reader may see."""

    thread_id: int
    last_date: datetime | None

    def key(self) -> tuple[bool, datetime, int]:
        """Greater for newer, in the index's order: newest activity first, then the higher
        id, undated threads last."""
        return (self.last_date is not None, self.last_date or datetime.min, self.thread_id)

    def row(self) -> tuple[Any, ...]:
        """As a row of the index's statement whose summary is counted apart (last column)."""
        return (self.thread_id, self.last_date, True)


def _merged(rows: Sequence[Any], placed: Sequence[_Placed], newest_first: bool) -> list[Any]:
    """``rows`` of an index statement (in its order) with the threads ``placed`` apart."""
    if not placed:
        return list(rows)
    both = [*rows, *(p.row() for p in placed)]
    return sorted(both, key=lambda r: _Placed(int(r[0]), r[1]).key(), reverse=newest_first)


def list_ids(session: Session, viewer: Viewer, name: str) -> list[int] | None:
    query = select(MailingList.id).where(visible_list(viewer))
    if name != ALL:
        query = query.where(MailingList.name == name)
    ids = list(session.scalars(query))
    return ids if ids or name == ALL else None


def list_index(session: Session, viewer: Viewer, name: str, page: int = 1, per_page: int = 50,
               before: datetime | None = None, older: Cursor | None = None,
               newer: Cursor | None = None) -> IndexPage | None:
    """Threads of a list, newest activity first. ``before`` keeps only older activity (lore's
    ``?t=``); ``older`` / ``newer`` give the page after / before a cursor of another page;
    ``page`` counts pages from the newest (cheap only for the first few).

    Counts, participants and dates are those of the messages the viewer may see, so a thread
    cross-posted to a restricted list does not reveal how many hidden replies it has. They are
    read from the summaries the ingest keeps per list (on :data:`ALL`, per thread), which count
    exactly those messages, except for a thread with a message the viewer may not see (one an
    embargo hides from it, or, on :data:`ALL`, one on a list it may not browse): that thread
    is counted anew from its messages.
    """
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    if name != ALL and page == 1 and before is None and older is None and newer is None:
        first = _first_page(session, viewer, name, per_page)
        if first is not None:
            return first
    scope = _scope_of(session, viewer, name)
    if scope is None:
        return None
    every = scope.every
    if name == ALL and every is None:
        every = len(scope.ids) == session.scalar(select(func.count(MailingList.id)))
    every = bool(every) and name == ALL
    # A thread with a message an embargo hides from this viewer is placed by what it may see:
    # its kept last activity would date it by the hidden reply (and say one came). Such threads
    # (embargoes are few) are counted apart and merged into the page read from the index.
    apart = _partly_hidden(session, viewer) - scope.gone if scope.embargoed else frozenset()
    moved = _summaries_by_thread(session, viewer, sorted(apart), scope.ids)
    query, tid, last, grouped = threads_by_activity(session, viewer, name, scope.ids,
                                                    scope.gone | apart, every=every)
    placed = [_Placed(t, summary.last_date) for t, summary in moved.items()
              if before is None or (summary.last_date is not None
                                    and summary.last_date < before)]

    def where(query: Any, condition: Any) -> Any:
        return query.having(condition) if grouped else query.where(condition)

    if before is not None:
        query = where(query, last < before)
    if newer is not None:
        # The page just above the cursor: read upwards from it, then turn it round.
        query = where(query, _after(last, tid, newer)).order_by(last.asc().nulls_first(), tid.asc())
        query = _summarised(query.limit(fixed(per_page + 1)), every, grouped, scope.ids, True)
        above = [p for p in placed if p.key() > _Placed(newer.thread_id, newer.last_date).key()]
        rows = _merged(session.execute(query).all(), above, newest_first=False)[:per_page + 1]
        rows.reverse()
        more_newer, rows = len(rows) > per_page, rows[-per_page:]
        more_older = True
    else:
        skip = 0
        if older is not None:
            query = where(query, _before(last, tid, older))
            placed = [p for p in placed
                      if p.key() < _Placed(older.thread_id, older.last_date).key()]
        query = query.order_by(last.desc().nulls_last(), tid.desc())
        if older is None and page > 1:
            # The threads placed apart may come before this page: read from as far back as
            # they could push it, and as far as the page's own end.
            wanted = (page - 1) * per_page
            start = max(0, wanted - len(placed) - 1)
            query = query.offset(fixed(start)).limit(fixed(wanted - start + per_page + 1))
            rows = list(session.execute(_summarised(query, every, grouped, scope.ids, False)))
            if start > 0:
                if not rows:  # fewer threads than the page's start
                    rows, placed = [], []
                else:  # the first row read only says where the read starts
                    boundary = _Placed(int(rows[0][0]), rows[0][1]).key()
                    start += 1 + sum(p.key() > boundary for p in placed)
                    placed = [p for p in placed if p.key() < boundary]
                    rows = rows[1:]
            skip = wanted - start
        else:
            query = _summarised(query.limit(fixed(per_page + 1)), every, grouped, scope.ids,
                                False)
            rows = list(session.execute(query))
        rows = _merged(rows, placed, newest_first=True)[skip:skip + per_page + 1]
        more_older, rows = len(rows) > per_page, rows[:per_page]
        more_newer = older is not None or page > 1 or before is not None
    return _index_page(session, viewer, scope, rows, moved, page, per_page, more_older,
                       more_newer)


def _index_page(session: Session, viewer: Viewer, scope: _Scope, rows: Sequence[Any],
                moved: dict[int, ThreadSummary], page: int, per_page: int, more_older: bool,
                more_newer: bool) -> IndexPage:
    """A list index from the rows of its page (:func:`_summarised`) and the threads placed
    apart (``moved``, by thread)."""
    tids = [int(r[0]) for r in rows]
    # Threads whose kept summary would count what the viewer may not see are counted anew:
    # those with a message on a list it may not browse, or that an embargo hides from it.
    partly = {thread_id for thread_id, row in zip(tids, rows, strict=True) if row[-1]}
    counted = {**_summaries_by_thread(session, viewer, [t for t in tids if t in partly
                                                        and t not in moved], scope.ids), **moved}
    marks = badges.message_badges(session, [counted[t].root_msgid for t in tids if t in counted])
    shown: list[ThreadSummary] = []
    for thread_id, row in zip(tids, rows, strict=True):
        if thread_id in partly:
            if thread_id in counted:
                shown.append(counted[thread_id])
            continue
        thread = _kept_summary(row[:_KEPT_END])
        shown.append(thread)
        if (badge := badges.badge_of(row[_KEPT_END:-1])) is not None:
            marks[thread.root_msgid] = badge
    return IndexPage(scope.summary, tuple(shown), page, per_page, more_older,
                     older=Cursor(rows[-1][1], int(rows[-1][0])) if rows and more_older else None,
                     newer=Cursor(rows[0][1], int(rows[0][0])) if rows and more_newer else None,
                     badges=marks)


def _first_page(session: Session, viewer: Viewer, name: str, per_page: int
                ) -> IndexPage | None:
    """The first page of one list's index read with the list's row, in one statement (on
    PostgreSQL each statement is a round trip, which cost the page as much CPU as reading its
    threads); ``None`` when the page must be read after the row: the list is unknown to the
    viewer (the page then says so) or has no thread, or an embargo hides something from it."""
    rows = read(session, _first_page_select(viewer, per_page), {"name": name}).all()
    if not rows or rows[0].embargoed:  # (a list with no thread yet is read the long way)
        return None
    width = len(_list_row(viewer).selected_columns)  # the list's row ends each row
    scope = _one_scope(session, viewer, rows[0][-width:], frozenset())
    if scope is None:
        return None
    threads = [row[:-width] for row in rows]
    return _index_page(session, viewer, scope, threads[:per_page], {}, 1, per_page,
                       len(threads) > per_page, False)


@functools.lru_cache(maxsize=512)
def _first_page_select(viewer: Viewer, per_page: int) -> AnySelect:
    """The statement of :func:`_first_page`, built once: the newest threads as
    :func:`threads_by_activity` reads one list's, each row followed by the list's row. (That
    row is asked with a LIMIT, though names are unique: it keeps SQLite from merging it into
    the join, which computed its totals again for each thread.)"""
    listed = _list_row(viewer).limit(fixed(1)).subquery()
    tid, last = ThreadList.thread_id, ThreadList.last_date
    this_list = select(MailingList.id).where(MailingList.name == bindparam("name"))
    page = (select(tid, last).where(ThreadList.list_id == this_list.scalar_subquery())
            .order_by(last.desc().nulls_last(), tid.desc()).limit(fixed(per_page + 1)))
    return (_summarised(page, False, False, (), False).add_columns(*listed.c)
            .outerjoin(listed, true()))


def _kept_columns(kept: type[Thread] | type[ThreadList]) -> tuple[Any, ...]:
    """A thread's summary as the ingest keeps it, on a list (ThreadList) or on every list
    (Thread), read after the thread's id and last activity."""
    return (kept.root_msgid, kept.subject, kept.message_count, kept.participants,
            kept.participant_count, kept.first_date)


_KEPT_END = 8  # the thread's id and last activity, then the summary


def _summarised(page: Any, every: bool, grouped: bool, ids: Sequence[int],
                ascending: bool) -> Any:
    """A page of :func:`threads_by_activity` (ordered, limited) with each thread's kept
    summary (the thread's own when ``every`` list is read, else one list's or, for several
    lists, the thread's own again), the badge of the message it shows, and whether the thread
    has a message on a list not among ``ids`` (the kept summary then counts messages the viewer
    may not see): the whole page in one statement."""
    if not grouped:  # every list, or one: nothing is elsewhere
        kept = Thread if every else ThreadList
        return (page.add_columns(*_kept_columns(kept), *badges.COLUMNS, literal(False))
                .outerjoin(Patch, Patch.msgid == kept.root_msgid)
                .outerjoin(Series, Series.id == Patch.series_id))
    # Some of the lists: the page of threads, then what was kept for them.
    inner = page.subquery()
    tid, last = inner.c
    elsewhere = exists(select(ThreadList.thread_id).where(ThreadList.thread_id == tid,
                                                          ThreadList.list_id.not_in(ids)))
    order = ((last.asc().nulls_first(), tid.asc()) if ascending
             else (last.desc().nulls_last(), tid.desc()))
    return (select(tid, last, *_kept_columns(Thread), *badges.COLUMNS, elsewhere)
            .join(Thread, Thread.id == tid)
            .outerjoin(Patch, Patch.msgid == Thread.root_msgid)
            .outerjoin(Series, Series.id == Patch.series_id)
            .order_by(*order))


def _kept_summary(row: Any) -> ThreadSummary:
    _tid, last, root_msgid, subject, count, people, people_count, first = row
    return ThreadSummary(root_msgid, subject, count, tuple(people.split("\n")) if people else (),
                         people_count, first, last)


def threads_by_activity(session: Session, viewer: Viewer, name: str, ids: Sequence[int],
                        hidden_tids: frozenset[int] | None = None, every: bool | None = None
                        ) -> tuple[Any, Any, Any, bool]:
    """The visible threads of the lists ``ids`` (those :func:`list_ids` gave for ``name``) as
    ``(query, thread id column, last activity column, grouped)``, unordered; ``grouped`` says a
    condition on the last activity goes in ``HAVING``. Ordered newest first, the query reads an
    index from its top: the cost of a page does not grow with the list. ``every``: whether
    ``ids`` are every list, when the caller knows."""
    gone = sorted(hidden_thread_ids(session, viewer) if hidden_tids is None
                  else hidden_tids)
    if name != ALL:
        every = False
    elif every is None:
        every = len(ids) == session.scalar(select(func.count(MailingList.id)))
    if every:
        # Every list: a thread's own last activity is its latest on any list, and the
        # threads' index orders them without grouping the rows of every list.
        tid, last = Thread.id, Thread.last_date  # type: tuple[Any, Any]
        query = select(tid, last).where(exists(
            select(ThreadList.thread_id).where(ThreadList.thread_id == Thread.id)))
        return (query.where(tid.not_in(gone)) if gone else query), tid, last, False
    if len(ids) == 1:
        # One list: a thread has one row there, so the (list, last activity) index gives the
        # page directly, without grouping every thread of the list first.
        tid, last = ThreadList.thread_id, ThreadList.last_date
        query = select(tid, last).where(ThreadList.list_id == ids[0])
        return (query.where(tid.not_in(gone)) if gone else query), tid, last, False
    tid, last = ThreadList.thread_id, func.max(ThreadList.last_date)
    query = select(tid, last.label("last")).where(ThreadList.list_id.in_(ids))
    if gone:
        query = query.where(tid.not_in(gone))
    query = query.group_by(tid)
    return query, tid, last, True


def newest_threads(session: Session, viewer: Viewer, name: str, ids: Sequence[int],
                   older: Cursor | None = None, limit: int = 25) -> list[Cursor]:
    """Up to ``limit`` threads of :func:`threads_by_activity`, newest activity first, after
    ``older`` when given (keyset: no offset is scanned)."""
    query, tid, last, grouped = threads_by_activity(session, viewer, name, ids)
    if older is not None:
        condition = _before(last, tid, older)
        query = query.having(condition) if grouped else query.where(condition)
    rows = session.execute(query.order_by(last.desc().nulls_last(), tid.desc()).limit(fixed(limit)))
    return [Cursor(row[1], int(row[0])) for row in rows]


def _before(last: Any, tid: Any, at: Cursor) -> Any:
    """Rows after ``at`` in newest-first order (undated threads come last)."""
    if at.last_date is None:
        return and_(last.is_(None), tid < at.thread_id)
    return or_(last < at.last_date, and_(last == at.last_date, tid < at.thread_id),
               last.is_(None))


def _after(last: Any, tid: Any, at: Cursor) -> Any:
    """Rows before ``at`` in newest-first order."""
    if at.last_date is None:
        return or_(last.is_not(None), tid > at.thread_id)
    return or_(last > at.last_date, and_(last == at.last_date, tid > at.thread_id))


def thread_summaries(session: Session, viewer: Viewer, tids: Sequence[int]
                     ) -> list[ThreadSummary]:
    """Summaries of these threads in the given order, counted over every visible list."""
    return _thread_summaries(session, viewer, tids, list_ids(session, viewer, ALL) or [])


# The roots of some threads (``ids``), and their visible messages on some lists (``lists``),
# oldest first: built once (per viewer), read as rows past the ORM.
_ROOTS = select(Thread.id, Thread.root_msgid).where(Thread.id.in_(in_list()))


@functools.lru_cache(maxsize=256)
def _members_select(viewer: Viewer) -> AnySelect:
    # A correlated EXISTS, not "id IN (every message of the list)": SQLite would build that whole
    # set for each page (45 ms on a 35k-message list instead of 2 ms).
    on_list = exists(select(MessageList.message_id).where(
        MessageList.message_id == Message.id,
        MessageList.list_id.in_(bindparam("lists", expanding=True))))
    return (select(Message.thread_id, Message.msgid, Message.subject, Message.from_name,
                   Message.from_email, Message.sort_date)
            .where(Message.thread_id.in_(in_list()), on_list, visible_message(viewer))
            .order_by(Message.sort_date.asc().nulls_last(), Message.msgid))


def _summaries_by_thread(session: Session, viewer: Viewer, tids: Sequence[int],
                         list_ids: Sequence[int]) -> dict[int, ThreadSummary]:
    """Summaries counted over the messages the viewer may see on these lists, as the ingest
    keeps them (:func:`~listarchive.archive.derived.summarise`); none for a thread of which it
    may see nothing there. The root shown is the thread's root when visible, else its earliest
    visible message: a thread that a hidden report was merged into must not show the report's
    subject."""
    if not tids:
        return {}
    roots: dict[int, str] = {row[0]: row[1] for row in rows_in(session, _ROOTS, tids)}
    members: dict[int, list[Any]] = {}
    for tid, *row in rows_in(session, _members_select(viewer), tids, {"lists": list(list_ids)}):
        members.setdefault(tid or 0, []).append(row)
    out = {}
    for tid in tids:
        root_msgid = roots.get(tid)
        rows = members.get(tid, [])
        if root_msgid is None or not rows:
            continue
        root, count, first, last, people = summarise(rows, root_msgid)
        out[tid] = ThreadSummary(root[0], root[1], count, tuple(people[:SHOWN_PARTICIPANTS]),
                                 len(people), first, last)
    return out


def _thread_summaries(session: Session, viewer: Viewer, tids: Sequence[int],
                      list_ids: Sequence[int]) -> list[ThreadSummary]:
    """:func:`_summaries_by_thread` in the order of ``tids``."""
    found = _summaries_by_thread(session, viewer, tids, list_ids)
    return [found[tid] for tid in tids if tid in found]


