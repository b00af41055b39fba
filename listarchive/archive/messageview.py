"""The read side of the archive: pure functions over a session, no web framework.

Every function takes the :class:`~listarchive.access.visibility.Viewer` it answers for and returns small
frozen values (or ``None`` when the thing does not exist *for that viewer*: hidden and unknown
look the same). Views call one of these per request and render what comes back.

``LIST`` arguments are a list name or :data:`ALL`, the pseudo-list of every visible list.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from listarchive.access.visibility import (
    Viewer,
    hidden_threads,
    list_allowed,
    visible_list,
    visible_message,
)
from listarchive.archive import rawstore
from listarchive.archive.batches import chunked, select_in
from listarchive.archive.models import (
    ListStat,
    MailingList,
    Message,
    MessageList,
    Thread,
    ThreadList,
)
from listarchive.mail import mbox
from listarchive.mail.message import ParsedMessage, body_text, parse
from listarchive.mail.threads import TreeItem, TreeRow, build_tree

ALL = "all"
MAX_PER_PAGE = 200
# Thread overviews and JSON trees indent no deeper than this: a hostile chain of thousands of
# replies would otherwise nest HTML and JSON beyond what browsers and encoders accept.
MAX_DEPTH = 64


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


@dataclass(frozen=True)
class MessageRecord:
    """A stored message as the site shows it (header facts from the database, no raw bytes)."""

    pk: int
    msgid: str
    subject: str
    from_name: str
    from_email: str
    date: datetime | None
    sort_date: datetime | None
    in_reply_to: str
    parent_msgid: str
    to_addrs: str
    cc_addrs: str
    sha256: str
    raw_size: int
    ingested_at: datetime
    thread_id: int | None
    lists: tuple[str, ...]


@dataclass(frozen=True)
class ThreadMember:
    record: MessageRecord
    depth: int


@dataclass(frozen=True)
class ThreadView:
    root_msgid: str
    subject: str
    members: tuple[ThreadMember, ...]  # depth-first tree order

    def by_date(self) -> list[MessageRecord]:
        return sorted((m.record for m in self.members),
                      key=lambda r: (r.sort_date or datetime.max, r.msgid))

    def etag(self) -> str:
        """Changes whenever a message joins the thread (members are immutable)."""
        digest = hashlib.sha256()
        for member in sorted(m.record.sha256 for m in self.members):
            digest.update(member.encode())
        return digest.hexdigest()[:32]

    @property
    def last_modified(self) -> datetime | None:
        return max((m.record.ingested_at for m in self.members), default=None)


@dataclass(frozen=True)
class MessagePage:
    record: MessageRecord
    parsed: ParsedMessage
    raw: bytes
    thread: ThreadView
    prev_msgid: str
    next_msgid: str


# --- lists -------------------------------------------------------------------------------------


def _list_stats(session: Session, viewer: Viewer, list_id: int | None = None
                ) -> dict[int, tuple[int, int, datetime | None]]:
    """List id -> (threads, messages, latest activity) over the threads this viewer may see.

    The totals are kept per list by the ingest (``list_stats``); the threads of an embargo that
    leaves the viewer out (usually none) are subtracted, and the latest activity is the first
    visible row of the list's (list, last date) index read backwards. No list is counted
    whole, whatever its size.
    """
    totals = select(ListStat.list_id, ListStat.threads, ListStat.messages)
    hidden = (select(ThreadList.list_id, func.count(), func.sum(ThreadList.message_count))
              .where(ThreadList.thread_id.in_(hidden_threads(viewer)))
              .group_by(ThreadList.list_id))
    if list_id is not None:
        totals = totals.where(ListStat.list_id == list_id)
        hidden = hidden.where(ThreadList.list_id == list_id)
    minus = {int(lid): (int(t), int(m or 0)) for lid, t, m in session.execute(hidden)}
    out: dict[int, tuple[int, int, datetime | None]] = {}
    for lid, threads, messages in session.execute(totals):
        gone_t, gone_m = minus.get(int(lid), (0, 0))
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


def _list_ids(session: Session, viewer: Viewer, name: str) -> list[int] | None:
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
    ids = _list_ids(session, viewer, name)
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
        query = query.order_by(ThreadList.last_date.desc(), ThreadList.thread_id.desc())
    else:
        query = (select(ThreadList.thread_id, func.max(ThreadList.last_date).label("last"))
                 .where(ThreadList.list_id.in_(ids),
                        ThreadList.thread_id.not_in(hidden_threads(viewer)))
                 .group_by(ThreadList.thread_id))
        if before is not None:
            query = query.having(func.max(ThreadList.last_date) < before)
        query = query.order_by(func.max(ThreadList.last_date).desc(),
                               ThreadList.thread_id.desc())
    rows = session.execute(query.offset((page - 1) * per_page).limit(per_page + 1)).all()
    tids = [int(r[0]) for r in rows[:per_page]]
    return IndexPage(summary, tuple(_thread_summaries(session, viewer, tids, ids)), page,
                     per_page, len(rows) > per_page)


def thread_summaries(session: Session, viewer: Viewer, tids: Sequence[int]
                     ) -> list[ThreadSummary]:
    """Summaries of these threads in the given order, counted over every visible list."""
    return _thread_summaries(session, viewer, tids, _list_ids(session, viewer, ALL) or [])


def _thread_summaries(session: Session, viewer: Viewer, tids: Sequence[int],
                      list_ids: Sequence[int]) -> list[ThreadSummary]:
    if not tids:
        return []
    roots = {t.id: t for t in session.scalars(select(Thread).where(Thread.id.in_(tids)))}
    members: dict[int, list[tuple[str, str, datetime | None]]] = {}
    # A correlated EXISTS, not "id IN (every message of the list)": SQLite would build that whole
    # set for each page (45 ms on a 35k-message list instead of 2 ms).
    on_list = exists(select(MessageList.message_id).where(MessageList.message_id == Message.id,
                                                          MessageList.list_id.in_(list_ids)))
    for tid, name, email, date in session.execute(
            select(Message.thread_id, Message.from_name, Message.from_email, Message.sort_date)
            .where(Message.thread_id.in_(tids), on_list, visible_message(viewer))
            .order_by(Message.sort_date)):
        members.setdefault(int(tid or 0), []).append((name, email, date))
    out = []
    for tid in tids:
        thread = roots.get(tid)
        rows = members.get(tid, [])
        if thread is None or not rows:
            continue
        people: list[str] = []
        for name, email, _ in rows:
            who = name or email.split("@")[0] or "(unknown)"
            if who not in people:
                people.append(who)
        dates = [d for _, _, d in rows if d is not None]
        out.append(ThreadSummary(thread.root_msgid, thread.subject, len(rows), tuple(people),
                                 min(dates, default=None), max(dates, default=None)))
    return out


# --- messages ----------------------------------------------------------------------------------


def _records(session: Session, viewer: Viewer, where: Any) -> list[MessageRecord]:
    rows = session.execute(
        select(Message.id, Message.msgid, Message.subject, Message.from_name, Message.from_email,
               Message.date, Message.sort_date, Message.in_reply_to, Message.parent_msgid,
               Message.to_addrs, Message.cc_addrs, Message.sha256, Message.raw_size,
               Message.ingested_at, Message.thread_id)
        .where(where, visible_message(viewer))).all()
    lists = message_lists(session, viewer, [row.id for row in rows])
    return [MessageRecord(pk=row.id, msgid=row.msgid, subject=row.subject,
                          from_name=row.from_name, from_email=row.from_email, date=row.date,
                          sort_date=row.sort_date, in_reply_to=row.in_reply_to,
                          parent_msgid=row.parent_msgid, to_addrs=row.to_addrs,
                          cc_addrs=row.cc_addrs, sha256=row.sha256, raw_size=row.raw_size,
                          ingested_at=row.ingested_at, thread_id=row.thread_id,
                          lists=lists.get(row.id, ()))
            for row in rows]


def message_lists(session: Session, viewer: Viewer, pks: Sequence[int]
                  ) -> dict[int, tuple[str, ...]]:
    """The lists each message was seen on that the viewer may browse, by name; the first is
    the message's home list, where links to it go."""
    out: dict[int, list[str]] = {}
    for row in select_in(session, select(MessageList.message_id, MailingList.name)
                         .join(MailingList, MailingList.id == MessageList.list_id)
                         .where(visible_list(viewer)), MessageList.message_id, pks):
        out.setdefault(row.message_id, []).append(row.name)
    return {pk: tuple(sorted(names)) for pk, names in out.items()}


def home_lists(session: Session, viewer: Viewer, pks: Sequence[int]) -> dict[int, str]:
    """Each message's home list (see :func:`message_lists`); absent when it has none visible."""
    return {pk: names[0] for pk, names in message_lists(session, viewer, pks).items() if names}


def find_message(session: Session, viewer: Viewer, msgid: str) -> MessageRecord | None:
    """The message with that archive id, with the visible lists it was seen on."""
    found = _records(session, viewer, Message.msgid == msgid)
    return found[0] if found else None


def raw_message(session: Session, viewer: Viewer, msgid: str) -> bytes | None:
    """The stored bytes, exactly as received."""
    blob = session.scalar(select(Message.raw).where(Message.msgid == msgid,
                                                    visible_message(viewer)))
    return rawstore.unpack(blob) if blob is not None else None


def thread_view(session: Session, viewer: Viewer, msgid: str) -> ThreadView | None:
    """The visible members of the thread holding ``msgid``, in tree order with depths."""
    record = find_message(session, viewer, msgid)
    if record is None or record.thread_id is None:
        return None
    return _thread_of(session, viewer, record.thread_id)


def _thread_of(session: Session, viewer: Viewer, thread_id: int) -> ThreadView:
    records = {r.msgid: r for r in _records(session, viewer, Message.thread_id == thread_id)}
    rows: list[TreeRow] = build_tree(TreeItem(r.msgid, r.parent_msgid, r.sort_date)
                                     for r in records.values())
    thread = session.get(Thread, thread_id)
    members = tuple(ThreadMember(records[row.msgid], min(row.depth, MAX_DEPTH)) for row in rows)
    root = members[0].record.msgid if members else ""
    subject = members[0].record.subject if members else (thread.subject if thread else "")
    return ThreadView(root, subject, members)


def thread_root(session: Session, viewer: Viewer, record: MessageRecord) -> str:
    """The Message-ID at the root of the record's thread as this viewer sees it."""
    if record.thread_id is None:
        return record.msgid
    return _thread_of(session, viewer, record.thread_id).root_msgid or record.msgid


def message_page(session: Session, viewer: Viewer, msgid: str,
                 record: MessageRecord | None = None) -> MessagePage | None:
    """Everything the message page shows: the record, its parsed body, its thread and neighbours.
    ``record``: what :func:`find_message` just gave for this viewer and ``msgid``, if at hand."""
    if record is None or record.msgid != msgid:
        record = find_message(session, viewer, msgid)
    raw = raw_message(session, viewer, msgid) if record else None
    if record is None or raw is None:
        return None
    thread = (_thread_of(session, viewer, record.thread_id) if record.thread_id is not None
              else ThreadView(record.msgid, record.subject, (ThreadMember(record, 0),)))
    order = [m.record.msgid for m in thread.members]
    at = order.index(msgid) if msgid in order else -1
    prev_id = order[at - 1] if at > 0 else ""
    next_id = order[at + 1] if 0 <= at < len(order) - 1 else ""
    return MessagePage(record, parse(raw, now=record.ingested_at), raw, thread, prev_id, next_id)


def thread_messages(session: Session, viewer: Viewer, msgid: str
                    ) -> list[tuple[MessageRecord, ParsedMessage, int]] | None:
    """Each visible message of the thread parsed, with its depth (for ``T/`` and ``t/``)."""
    thread = thread_view(session, viewer, msgid)
    if thread is None:
        return None
    parsed = _parsed(session, [m.record for m in thread.members])
    return [(m.record, parsed[m.record.pk], m.depth)
            for m in thread.members if m.record.pk in parsed]


# Parsed messages by content hash: stored mail never changes, and thread pages parse fifty at a
# time. Bounded, per process.
_PARSED_CACHE: OrderedDict[tuple[str, datetime], ParsedMessage] = OrderedDict()
PARSED_CACHE_SIZE = 2048
SNIPPET_BYTES = 65_536


def _parsed(session: Session, records: Sequence[MessageRecord]) -> dict[int, ParsedMessage]:
    out: dict[int, ParsedMessage] = {}
    missing: list[MessageRecord] = []
    for r in records:
        hit = _PARSED_CACHE.get((r.sha256, r.ingested_at))
        if hit is None:
            missing.append(r)
        else:
            _PARSED_CACHE.move_to_end((r.sha256, r.ingested_at))
            out[r.pk] = hit
    raws = _raws(session, [r.pk for r in missing])
    for r in missing:
        if r.pk in raws:
            out[r.pk] = _PARSED_CACHE[(r.sha256, r.ingested_at)] = parse(raws[r.pk],
                                                                          now=r.ingested_at)
    while len(_PARSED_CACHE) > PARSED_CACHE_SIZE:
        _PARSED_CACHE.popitem(last=False)
    return out


def body_texts(session: Session, records: Sequence[MessageRecord]) -> dict[int, str]:
    """The readable body of each record, at least its first :data:`SNIPPET_BYTES` (search
    snippets): from the parsed-message cache when a page already parsed it, else read with the
    header parser only (no MIME walk)."""
    out: dict[int, str] = {}
    missing: list[int] = []
    for r in records:
        hit = _PARSED_CACHE.get((r.sha256, r.ingested_at))
        if hit is None:
            missing.append(r.pk)
        else:
            out[r.pk] = hit.body
    for pk, raw in _raws(session, missing).items():
        out[pk] = body_text(raw, SNIPPET_BYTES)
    return out


def _raws(session: Session, pks: Sequence[int]) -> dict[int, bytes]:
    return {row.id: rawstore.unpack(row.raw)
            for row in select_in(session, select(Message.id, Message.raw), Message.id, pks)}


def mboxrd_of(session: Session, records: Sequence[MessageRecord]) -> bytes:
    """The records' raw messages as one mboxrd file, oldest first (what ``git am`` wants)."""
    ordered = sorted(records, key=lambda r: (r.sort_date or datetime.max, r.msgid))
    raws = _raws(session, [r.pk for r in ordered])
    return b"".join(mbox.to_mboxrd(raws[r.pk]) for r in ordered if r.pk in raws)


def thread_mbox(session: Session, viewer: Viewer, msgid: str) -> bytes | None:
    """The whole visible thread of ``msgid`` as mboxrd (uncompressed)."""
    thread = thread_view(session, viewer, msgid)
    if thread is None:
        return None
    return mboxrd_of(session, [m.record for m in thread.members])


def recent_messages(session: Session, viewer: Viewer, name: str, limit: int = 25
                    ) -> list[tuple[MessageRecord, ParsedMessage]] | None:
    """The newest messages of a list (for ``new.atom``); ``None`` for an unknown list."""
    ids = _list_ids(session, viewer, name)
    if ids is None:
        return None
    pks = list(session.scalars(
        select(MessageList.message_id).join(Message, Message.id == MessageList.message_id)
        .where(MessageList.list_id.in_(ids), visible_message(viewer))
        .group_by(MessageList.message_id)
        .order_by(func.max(Message.sort_date).desc()).limit(limit)))
    return parsed_records(session, viewer, pks)


def parsed_records(session: Session, viewer: Viewer, pks: Sequence[int]
                   ) -> list[tuple[MessageRecord, ParsedMessage]]:
    """Records with parsed bodies, in the order of ``pks`` (hidden ones dropped)."""
    records = {r.pk: r for r in _records(session, viewer, Message.id.in_(list(pks)))}
    parsed = _parsed(session, list(records.values()))
    return [(records[pk], parsed[pk]) for pk in pks if pk in records and pk in parsed]


def records_by_msgid(session: Session, viewer: Viewer, msgids: Sequence[str]
                     ) -> list[MessageRecord]:
    """Visible records for these ids, in the given order (search results)."""
    found = {r.msgid: r for r in _records(session, viewer, Message.msgid.in_(list(msgids)))}
    return [found[m] for m in msgids if m in found]


def expand_threads(session: Session, viewer: Viewer, records: Sequence[MessageRecord]
                   ) -> list[MessageRecord]:
    """Every visible member of the threads of ``records`` (``POST ?x=m&t=1``)."""
    out = {r.msgid: r for r in records}
    for part in chunked(r.thread_id for r in records if r.thread_id is not None):
        out.update((rec.msgid, rec) for rec in _records(session, viewer,
                                                        Message.thread_id.in_(part)))
    return list(out.values())
