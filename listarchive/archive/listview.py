"""The read side of lists: the directory of lists with their totals, a list's index of
threads (newest activity first), and thread summaries.

Every function takes the :class:`~listarchive.access.visibility.Viewer` it answers for; a list
the viewer may not browse answers like one that does not exist. ``LIST`` arguments are a list
name or :data:`ALL`, the pseudo-list of every visible list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from listarchive.access.visibility import (
    Viewer,
    hidden_msgids,
    hidden_threads,
    list_allowed,
    visible_list,
    visible_message,
)
from listarchive.archive.models import (
    ListStat,
    MailingList,
    Message,
    MessageList,
    Thread,
    ThreadList,
)

ALL = "all"
MAX_PER_PAGE = 200


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
    participants: tuple[str, ...]
    first_date: datetime | None
    last_date: datetime | None


@dataclass(frozen=True)
class IndexPage:
    mailing_list: ListSummary
    threads: tuple[ThreadSummary, ...]
    page: int
    per_page: int
    has_next: bool


# --- lists -------------------------------------------------------------------------------------


def _list_stats(session: Session, viewer: Viewer, list_id: int | None = None
                ) -> dict[int, tuple[int, int, datetime | None]]:
    """List id -> (threads, messages, latest activity) over the threads this viewer may see.

    The totals are kept per list by the ingest (``list_stats``); what an embargo hides from the
    viewer (usually nothing) is subtracted: its messages, and the threads it hides whole. The
    latest activity is the first visible row of the list's (list, last date) index read
    backwards. No list is counted whole, whatever its size.
    """
    totals = select(ListStat.list_id, ListStat.threads, ListStat.messages)
    threads_gone = (select(ThreadList.list_id, func.count())
                    .where(ThreadList.thread_id.in_(hidden_threads(viewer)))
                    .group_by(ThreadList.list_id))
    messages_gone = (select(MessageList.list_id, func.count())
                     .join(Message, Message.id == MessageList.message_id)
                     .where(Message.msgid.in_(hidden_msgids(viewer)))
                     .group_by(MessageList.list_id))
    if list_id is not None:
        totals = totals.where(ListStat.list_id == list_id)
        threads_gone = threads_gone.where(ThreadList.list_id == list_id)
        messages_gone = messages_gone.where(MessageList.list_id == list_id)
    minus_t = {int(lid): int(n) for lid, n in session.execute(threads_gone)}
    minus_m = {int(lid): int(n) for lid, n in session.execute(messages_gone)}
    out: dict[int, tuple[int, int, datetime | None]] = {}
    for lid, threads, messages in session.execute(totals):
        gone_t, gone_m = minus_t.get(int(lid), 0), minus_m.get(int(lid), 0)
        last = session.scalar(
            select(ThreadList.last_date)
            .where(ThreadList.list_id == lid, ThreadList.thread_id.not_in(hidden_threads(viewer)),
                   ThreadList.last_date.is_not(None))
            .order_by(ThreadList.last_date.desc()).limit(1))
        out[int(lid)] = (int(threads) - gone_t, int(messages) - gone_m, last)
    return out


def _list_summaries(session: Session, viewer: Viewer) -> list[ListSummary]:
    stats = _list_stats(session, viewer)
    out = []
    for lst in session.scalars(select(MailingList).where(visible_list(viewer))
                               .order_by(MailingList.name)):
        threads, messages, last = stats.get(lst.id, (0, 0, None))
        out.append(ListSummary(lst.name, lst.description, lst.address, messages, threads, last))
    return out


def list_directory(session: Session, viewer: Viewer) -> list[ListSummary]:
    """Every list the viewer may browse, by name, with counts and latest activity."""
    return _list_summaries(session, viewer)


def list_exists(session: Session, viewer: Viewer, name: str) -> bool:
    """Whether ``name`` (or :data:`ALL`) is a list this viewer may browse: what a message, thread
    or search URL needs to know, without the counts of :func:`get_list` (which read every
    membership row of the list: most of a message page's time on a 100k-message list)."""
    if name == ALL:
        return True
    found = session.execute(select(MailingList.restricted)
                            .where(MailingList.name == name)).first()
    return found is not None and list_allowed(viewer, bool(found[0]), name)


def get_list(session: Session, viewer: Viewer, name: str) -> ListSummary | None:
    """One list (or :data:`ALL`, summed over the visible lists); ``None`` when unknown/hidden."""
    if name == ALL:
        lists = _list_summaries(session, viewer)
        return ListSummary(ALL, "every list of this archive", "",
                           sum(s.messages for s in lists), sum(s.threads for s in lists),
                           max((s.last_activity for s in lists if s.last_activity), default=None))
    lst = session.scalars(select(MailingList).where(MailingList.name == name)).first()
    if lst is None or not list_allowed(viewer, lst.restricted, lst.name):
        return None
    threads, messages, last = _list_stats(session, viewer, lst.id).get(lst.id, (0, 0, None))
    return ListSummary(lst.name, lst.description, lst.address, messages, threads, last)


def list_ids(session: Session, viewer: Viewer, name: str) -> list[int] | None:
    query = select(MailingList.id).where(visible_list(viewer))
    if name != ALL:
        query = query.where(MailingList.name == name)
    ids = list(session.scalars(query))
    return ids if ids or name == ALL else None


def list_index(session: Session, viewer: Viewer, name: str, page: int = 1, per_page: int = 50,
               before: datetime | None = None) -> IndexPage | None:
    """Threads of a list, newest activity first; ``before`` keeps only older activity (``?t=``).

    Counts, participants and dates are computed from the messages the viewer may see, so a thread
    cross-posted to a restricted list does not reveal how many hidden replies it has.
    """
    summary = get_list(session, viewer, name)
    ids = list_ids(session, viewer, name)
    if summary is None or ids is None:
        return None
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    if len(ids) == 1:
        # One list: a thread has one row there, so the (list, last activity) index gives the
        # page directly, without grouping every thread of the list first.
        query = (select(ThreadList.thread_id, ThreadList.last_date)
                 .where(ThreadList.list_id == ids[0],
                        ThreadList.thread_id.not_in(hidden_threads(viewer))))
        if before is not None:
            query = query.where(ThreadList.last_date < before)
        query = query.order_by(ThreadList.last_date.desc().nulls_last(),
                               ThreadList.thread_id.desc())
    else:
        query = (select(ThreadList.thread_id, func.max(ThreadList.last_date).label("last"))
                 .where(ThreadList.list_id.in_(ids),
                        ThreadList.thread_id.not_in(hidden_threads(viewer)))
                 .group_by(ThreadList.thread_id))
        if before is not None:
            query = query.having(func.max(ThreadList.last_date) < before)
        query = query.order_by(func.max(ThreadList.last_date).desc().nulls_last(),
                               ThreadList.thread_id.desc())
    rows = session.execute(query.offset((page - 1) * per_page).limit(per_page + 1)).all()
    tids = [int(r.thread_id) for r in rows[:per_page]]
    return IndexPage(summary, tuple(_thread_summaries(session, viewer, tids, ids)), page,
                     per_page, len(rows) > per_page)


def thread_summaries(session: Session, viewer: Viewer, tids: Sequence[int]
                     ) -> list[ThreadSummary]:
    """Summaries of these threads in the given order, counted over every visible list."""
    return _thread_summaries(session, viewer, tids, list_ids(session, viewer, ALL) or [])


def _thread_summaries(session: Session, viewer: Viewer, tids: Sequence[int],
                      list_ids: Sequence[int]) -> list[ThreadSummary]:
    """Summaries counted over the messages the viewer may see on these lists. The root shown is
    the thread's root when visible, else its earliest visible message: a thread that a hidden
    report was merged into must not show the report's subject."""
    if not tids:
        return []
    roots = {t.id: t for t in session.scalars(select(Thread).where(Thread.id.in_(tids)))}
    members: dict[int, list[Any]] = {}
    # A correlated EXISTS, not "id IN (every message of the list)": SQLite would build that whole
    # set for each page (45 ms on a 35k-message list instead of 2 ms).
    on_list = exists(select(MessageList.message_id).where(MessageList.message_id == Message.id,
                                                          MessageList.list_id.in_(list_ids)))
    for row in session.execute(
            select(Message.thread_id, Message.msgid, Message.subject, Message.from_name,
                   Message.from_email, Message.sort_date)
            .where(Message.thread_id.in_(tids), on_list, visible_message(viewer))
            .order_by(Message.sort_date.asc().nulls_last(), Message.msgid)):
        members.setdefault(int(row.thread_id or 0), []).append(row)
    out = []
    for tid in tids:
        thread = roots.get(tid)
        rows = members.get(tid, [])
        if thread is None or not rows:
            continue
        people: list[str] = []
        for row in rows:
            who = row.from_name or row.from_email.split("@")[0] or "(unknown)"
            if who not in people:
                people.append(who)
        dates = [row.sort_date for row in rows if row.sort_date is not None]
        root = next((row for row in rows if row.msgid == thread.root_msgid), rows[0])
        out.append(ThreadSummary(root.msgid, root.subject, len(rows), tuple(people),
                                 min(dates, default=None), max(dates, default=None)))
    return out


