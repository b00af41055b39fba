"""The read side of messages and threads (the write side is ``ingest.messagestore``): pure
functions over a session, no web framework. Lists and their indexes are :mod:`.listview`.

Every function takes the :class:`~listarchive.access.visibility.Viewer` it answers for and returns small
frozen values (or ``None`` when the thing does not exist *for that viewer*: hidden and unknown
look the same). Views call one of these per request and render what comes back.

``LIST`` arguments are a list name or :data:`ALL`, the pseudo-list of every visible list.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, case, exists, func, literal_column, or_, select
from sqlalchemy.orm import Session, aliased

from listarchive.access.visibility import (
    Viewer,
    hidden_msgids,
    list_allowed,
    visible_list,
    visible_message,
)
from listarchive.archive import badges, bodies, listview, rawstore
from listarchive.archive.batches import Reader, in_list, read, rows_in, select_in
from listarchive.archive.models import (
    Check,
    EmbargoMember,
    MailingList,
    Message,
    MessageList,
    Patch,
    Series,
    StateChange,
    Thread,
    ThreadList,
)
from listarchive.archive.records import MessageRecord, ThreadLine, ThreadMember, ThreadView
from listarchive.mail.message import ParsedMessage
from listarchive.mail.threads import TreeItem, TreeRow, build_tree

# Thread overviews and JSON trees indent no deeper than this: a hostile chain of thousands of
# replies would otherwise nest HTML and JSON beyond what browsers and encoders accept.
MAX_DEPTH = 64


@dataclass(frozen=True)
class MessagePage:
    record: MessageRecord
    parsed: ParsedMessage
    thread: ThreadView
    prev_msgid: str
    next_msgid: str


# --- messages ----------------------------------------------------------------------------------


# A message read "on list" for a download of its bytes: its record, lists and whether the list
# may be browsed, nothing of what its page shows (disclosure flag, badge, newest states).
_DOWNLOAD = "download on list"
# What _records finds messages by: one value, or (``in``) a list given in chunks.
_BY_ONE = {"msgid": Message.msgid, "msgid on list": Message.msgid, "thread": Message.thread_id,
           _DOWNLOAD: Message.msgid}
# A message read "on list" with every member of its thread (the message's own row among them).
_WITH_THREAD = "msgid on list, with its thread"
_ON_LIST_PAGE = ("msgid on list", _WITH_THREAD)
_BY_LIST = {"ids": Message.id, "msgids": Message.msgid, "msgids on list": Message.msgid,
            "threads": Message.thread_id}
# A record's header columns in the order MessageRecord declares its fields, from ``pk`` (the id)
# to ``thread_id``, then its lists: a row builds a record by position, several times cheaper
# than by name (0.7 -> 0.15 ms for a search page's fifty).
_HEADER = len(fields(MessageRecord)) - 2
_COLUMNS = (Message.id, *(getattr(Message, f.name) for f in fields(MessageRecord)[1:_HEADER]))
# The newest review state change and CI check of the archive: pages' validators name both.
NEWEST_STATES = (select(func.max(StateChange.id)).scalar_subquery().label("newest_state"),
                 select(func.max(Check.id)).scalar_subquery().label("newest_check"))
# Where a message read "on list" has its badge's columns: after the record's columns, its lists,
# its disclosure flag, the URL's list and the newest states.
_ON_LIST_BADGE = _HEADER + 5


@functools.lru_cache(maxsize=256)
def _records_select(viewer: Viewer, by: str, raw: bool = False) -> Any:
    """The statement of :func:`_records` for one viewer and key, built once: building
    SQLAlchemy's expression tree (and its cache key) anew for each of a search page's queries
    was a tenth of its time. ``raw``: with the stored bytes (a download reads nothing else)."""
    # The lists each message was seen on that the viewer may browse, in the same statement
    # (list names hold no space): on PostgreSQL a second statement was a second round trip.
    # The separator is written into the statement: given as a string, SQLAlchemy renders it
    # at every execution (a tenth of a raw download's statement time).
    lists = (select(func.aggregate_strings(MailingList.name, literal_column("' '")))  # type: ignore[arg-type]
             .select_from(MessageList)
             .join(MailingList, MailingList.id == MessageList.list_id)
             .where(MessageList.message_id == Message.id, visible_list(viewer))
             .scalar_subquery())
    query = select(*_COLUMNS, lists.label("lists")).where(visible_message(viewer))
    if by in ("msgid", *_ON_LIST_PAGE):  # one message, as its page shows it: its disclosure flag
        # (With its thread, for the asked message alone: the members' rows repeat it.)
        flagged = bindparam("value") if by == _WITH_THREAD else Message.msgid
        named = exists(select(EmbargoMember.msgid).where(EmbargoMember.msgid == flagged))
        query = query.add_columns(named.label("embargoed"))
    if by in ("msgids on list", _DOWNLOAD, *_ON_LIST_PAGE):
        # And the list of the URL (NULL when there is no such list).
        query = query.add_columns(
            select(MailingList.restricted).where(MailingList.name == bindparam("list"))
            .scalar_subquery().label("list_restricted"))
    if by in _ON_LIST_PAGE:
        # And for its page, in the same statement: the archive's newest states (the page's
        # validators) and the message's badge (patches and series joined outer on it).
        query = query.add_columns(*NEWEST_STATES)
        assert len(query.selected_columns) == _ON_LIST_BADGE
        if by == _WITH_THREAD:
            # The asked message's badge alone, read once: joined to every member, the patch
            # and series lookups of a 175-message thread cost its page a millisecond.
            badge = (select(Patch.msgid.label("of"),
                            *(c.label(f"badge_{i}") for i, c in enumerate(badges.COLUMNS)))
                     .outerjoin(Series, Series.id == Patch.series_id)
                     .where(Patch.msgid == bindparam("value")).subquery())
            query = (query.outerjoin(badge, badge.c.of == Message.msgid)
                     .add_columns(*list(badge.c)[1:]))
        else:
            query = (query.outerjoin(Patch, Patch.msgid == Message.msgid)
                     .outerjoin(Series, Series.id == Patch.series_id)
                     .add_columns(*badges.COLUMNS))
    if raw and by == _WITH_THREAD:  # the asked message's bytes; the other members' are not read
        query = query.add_columns(
            case((Message.msgid == bindparam("value"), Message.raw)).label("raw"))
    elif raw:
        query = query.add_columns(Message.raw)
    if by == _WITH_THREAD:
        asked = aliased(Message)
        thread = select(asked.thread_id).where(asked.msgid == bindparam("value"))
        return query.where(or_(Message.msgid == bindparam("value"),
                               Message.thread_id == thread.scalar_subquery()))
    if by in _BY_ONE:
        return query.where(_BY_ONE[by] == bindparam("value"))
    return query.where(_BY_LIST[by].in_(in_list()))


@functools.lru_cache(maxsize=256)
def _lists_select(viewer: Viewer) -> Any:
    return (select(MessageList.message_id, MailingList.name)
            .join(MailingList, MailingList.id == MessageList.list_id)
            .where(MessageList.message_id.in_(in_list()), visible_list(viewer)))


def _records(session: Reader, viewer: Viewer, by: str, value: Any) -> list[MessageRecord]:
    """The visible messages whose ``by`` (a key of ``_BY_ONE``) is ``value``, or whose ``by``
    (of ``_BY_LIST``) is among the values of ``value``."""
    return [_record(row, by == "msgid") for row in _rows(session, viewer, by, value)]


def _rows(session: Reader, viewer: Viewer, by: str, value: Any,
          params: dict[str, Any] | None = None) -> list[Row[*tuple[Any, ...]]]:
    query = _records_select(viewer, by)
    if by in _BY_ONE:
        return list(read(session, query, {**(params or {}), "value": value}).all())
    return list(rows_in(session, query, value, params))


def _list_browsable(viewer: Viewer, row: Any, name: str) -> bool:
    """Whether the list ``name`` of a row read "on list" (its ``list_restricted`` column, NULL
    when there is no such list) is one this viewer may browse."""
    return row.list_restricted is not None and list_allowed(viewer, bool(row.list_restricted),
                                                            name)


def _record(row: Any, flagged: bool) -> MessageRecord:
    """A row of :func:`_records_select` as a record; ``flagged``: it has the disclosure flag."""
    values: list[Any] = list(row[:_HEADER])
    lists = row[_HEADER]
    values.append(tuple(sorted(lists.split(" "))) if lists else ())
    values.append(bool(row[_HEADER + 1]) if flagged else None)
    return MessageRecord(*values)


def message_lists(session: Session, viewer: Viewer, pks: Sequence[int]
                  ) -> dict[int, tuple[str, ...]]:
    """The lists each message was seen on that the viewer may browse, by name; the first is
    the message's home list, where links to it go."""
    out: dict[int, list[str]] = {}
    for row in rows_in(session, _lists_select(viewer), pks):
        out.setdefault(row.message_id, []).append(row.name)
    return {pk: tuple(sorted(names)) for pk, names in out.items()}


def home_lists(session: Session, viewer: Viewer, pks: Sequence[int]) -> dict[int, str]:
    """Each message's home list (see :func:`message_lists`); absent when it has none visible."""
    return {pk: names[0] for pk, names in message_lists(session, viewer, pks).items() if names}


def find_message(session: Reader, viewer: Viewer, msgid: str) -> MessageRecord | None:
    """The message with that archive id, with the visible lists it was seen on."""
    found = _records(session, viewer, "msgid", msgid)
    return found[0] if found else None


@dataclass(frozen=True)
class MessageAt:
    """What a message URL finds (:func:`find_message_on`)."""

    browsable: bool  # the URL's list is one the viewer may browse
    record: MessageRecord | None = None
    # The newest review state change and CI check of the archive, read with the message.
    states: tuple[int, int] | None = None
    raw: bytes | None = None  # the stored bytes, when asked for
    badge: badges.MessageBadge | None = None  # when read (``badge_read``): its badge, if any
    badge_read: bool = False
    # Its visible thread, when asked for and the message has one (as :func:`thread_view`).
    thread: ThreadView | None = None


def find_message_on(session: Reader, viewer: Viewer, msgid: str, name: str,
                    raw: bool = False, thread: bool = False) -> MessageAt:
    """Whether ``name`` is a list this viewer may browse (:func:`listview.list_exists`), and
    :func:`find_message`: what a message URL needs first, in one statement when the message is
    there (each statement is a round trip on PostgreSQL); with ``raw``, its stored bytes too
    (a URL under ``/all/`` has them read by :func:`raw_message`); with ``thread``, its thread
    too, in the same statement: message, thread and download pages need both, and a second
    statement was a sixth of a message page's time on PostgreSQL. (With both, the bytes are
    the asked message's alone: a message page parses it when this process has not yet.)"""
    if name == listview.ALL:
        return MessageAt(True, find_message(session, viewer, msgid))
    params = {"value": msgid, "list": name}
    members: list[Row[Any]] = []
    if thread:
        members = list(read(session, _records_select(viewer, _WITH_THREAD, raw), params).all())
        row = next((r for r in members if r.msgid == msgid), None)
    elif raw:
        row = read(session, _records_select(viewer, _DOWNLOAD, True), params).first()
    else:
        row = read(session, _records_select(viewer, "msgid on list"), params).first()
    if row is None:
        return MessageAt(listview.list_exists(session, viewer, name))
    if not _list_browsable(viewer, row, name):
        return MessageAt(False)
    if raw and not thread:  # a download: the record and its bytes, nothing a page shows
        return MessageAt(True, _record(row, False), raw=rawstore.unpack(row.raw))
    record = _record(row, True)
    view = None
    if members and record.thread_id is not None:
        view = _members_tree(session, [_record(member, False) for member in members])
    return MessageAt(True, record,
                     (int(row.newest_state or 0), int(row.newest_check or 0)),
                     rawstore.unpack(row.raw) if raw and row.raw is not None else None,
                     badges.badge_of(row[_ON_LIST_BADGE:_ON_LIST_BADGE + len(badges.COLUMNS)]),
                     badge_read=True, thread=view)


@functools.lru_cache(maxsize=256)
def _raw_select(viewer: Viewer) -> Any:
    return select(Message.raw).where(Message.msgid == bindparam("msgid"), visible_message(viewer))


def raw_message(session: Reader, viewer: Viewer, msgid: str) -> bytes | None:
    """The stored bytes, exactly as received. The statement is built once per viewer: built
    anew for each request, its cache key was half of what a raw download cost."""
    blob = read(session, _raw_select(viewer), {"msgid": msgid}).scalar()
    return rawstore.unpack(blob) if blob is not None else None


def thread_view(session: Session, viewer: Viewer, msgid: str,
                record: MessageRecord | None = None) -> ThreadView | None:
    """The visible members of the thread holding ``msgid``, in tree order with depths.
    ``record``: the message ``msgid`` as :func:`find_message` just gave it for this viewer, if
    at hand (it is not read again)."""
    if record is None or record.msgid != msgid:
        record = find_message(session, viewer, msgid)
    if record is None or record.thread_id is None:
        return None
    return _thread_of(session, viewer, record.thread_id)


def _thread_of(session: Session, viewer: Viewer, thread_id: int) -> ThreadView:
    view = _members_tree(session, _records(session, viewer, "thread", thread_id))
    if view.members:
        return view
    thread = session.get(Thread, thread_id)  # nothing visible: the subject kept for it
    return ThreadView("", thread.subject if thread else "", view.members, view.lines)


def threads_of(session: Session, viewer: Viewer, thread_ids: Sequence[int]
               ) -> dict[int, ThreadView]:
    """The threads of these ids with a member this viewer may see, as :func:`thread_view`
    gives each, read together: a statement for every few hundred threads, not one a thread."""
    by_thread: dict[int, dict[str, MessageRecord]] = {}
    for record in _records(session, viewer, "threads", thread_ids):
        by_thread.setdefault(int(record.thread_id or 0), {})[record.msgid] = record
    refs = _orphan_references(session, [r for records in by_thread.values()
                                        for r in records.values()])
    return {tid: _tree(records, refs) for tid, records in by_thread.items()}


def _orphan_references(session: Reader, records: Iterable[MessageRecord]
                       ) -> dict[int, tuple[str, ...]]:
    """The References of the records whose parent is not among the records of their thread:
    they place the placeholders of missing parents (only orphans need them)."""
    records = list(records)
    present = {(r.thread_id, r.msgid) for r in records}
    orphans = [r.pk for r in records
               if r.parent_msgid and (r.thread_id, r.parent_msgid) not in present]
    return {row.id: tuple(row.references.split()) for row in select_in(
        session, select(Message.id, Message.references), Message.id, orphans)}


def _members_tree(session: Reader, members: Iterable[MessageRecord]) -> ThreadView:
    """The tree of one thread's visible records (the references of its orphans read)."""
    records = {r.msgid: r for r in members}
    return _tree(records, _orphan_references(session, records.values()))


def _tree(records: Mapping[str, MessageRecord], refs: Mapping[int, tuple[str, ...]]
          ) -> ThreadView:
    """A thread's visible records in tree order with depths."""
    rows: list[TreeRow] = build_tree(
        (TreeItem(r.msgid, r.parent_msgid, r.sort_date, refs.get(r.pk, ()))
         for r in records.values()), ghosts=True)
    lines = tuple(ThreadLine(row.msgid, min(row.depth, MAX_DEPTH),
                             None if row.ghost else records[row.msgid]) for row in rows)
    members = tuple(ThreadMember(line.record, line.depth) for line in lines
                    if line.record is not None)
    if members:
        return ThreadView(members[0].record.msgid, members[0].record.subject, members, lines)
    return ThreadView("", "", members, lines)


def thread_root(session: Session, viewer: Viewer, record: MessageRecord) -> str:
    """The Message-ID at the root of the record's thread as this viewer sees it."""
    if record.thread_id is None:
        return record.msgid
    return _thread_of(session, viewer, record.thread_id).root_msgid or record.msgid


def record_thread(session: Session, viewer: Viewer, record: MessageRecord) -> ThreadView:
    """The visible thread of ``record`` (the message alone if it has none)."""
    if record.thread_id is None:
        return ThreadView(record.msgid, record.subject, (ThreadMember(record, 0),),
                          (ThreadLine(record.msgid, 0, record),))
    return _thread_of(session, viewer, record.thread_id)


def message_page(session: Session, viewer: Viewer, msgid: str,
                 record: MessageRecord | None = None, thread: ThreadView | None = None,
                 raw: bytes | None = None) -> MessagePage | None:
    """Everything the message page shows: the record, its parsed body, its thread and neighbours.
    ``record``, ``thread`` and ``raw``: what :func:`find_message`, :func:`record_thread` and
    :func:`find_message_on` just gave for this viewer and ``msgid``, if at hand."""
    if record is None or record.msgid != msgid:
        record, thread, raw = find_message(session, viewer, msgid), None, None
    # Parsed once per process (the record is this viewer's): a page read again reads no bytes.
    known = {record.pk: raw} if record and raw is not None else None
    parsed = bodies.parsed_messages(session, [record], known).get(record.pk) if record else None
    if record is None or parsed is None:
        return None
    if thread is None:
        thread = record_thread(session, viewer, record)
    order = [m.record.msgid for m in thread.members]
    at = order.index(msgid) if msgid in order else -1
    prev_id = order[at - 1] if at > 0 else ""
    next_id = order[at + 1] if 0 <= at < len(order) - 1 else ""
    return MessagePage(record, parsed, thread, prev_id, next_id)


def thread_messages(session: Session, viewer: Viewer, msgid: str,
                    thread: ThreadView | None = None
                    ) -> list[tuple[MessageRecord, ParsedMessage, int]] | None:
    """Each visible message of the thread parsed, with its depth (for ``T/`` and ``t/``).
    ``thread``: what :func:`thread_view` just gave for this viewer and ``msgid``, if at hand."""
    if thread is None:
        thread = thread_view(session, viewer, msgid)
    if thread is None:
        return None
    parsed = bodies.parsed_messages(session, [m.record for m in thread.members])
    return [(m.record, parsed[m.record.pk], m.depth)
            for m in thread.members if m.record.pk in parsed]


def thread_lines(session: Session, viewer: Viewer, msgid: str, thread: ThreadView | None = None
                 ) -> list[tuple[ThreadLine, ParsedMessage | None]] | None:
    """The nested thread (``t/``): every line of the tree in order, each message parsed, the
    placeholders of missing messages with ``None``. ``thread``: what :func:`thread_view` just
    gave for this viewer and ``msgid``, if at hand."""
    if thread is None:
        thread = thread_view(session, viewer, msgid)
    if thread is None:
        return None
    parsed = bodies.parsed_messages(session, [m.record for m in thread.members])
    return [(line, parsed.get(line.record.pk) if line.record is not None else None)
            for line in thread.lines
            if line.record is None or line.record.pk in parsed]


def thread_mbox(session: Session, viewer: Viewer, msgid: str) -> bytes | None:
    """The whole visible thread of ``msgid`` as mboxrd (uncompressed)."""
    thread = thread_view(session, viewer, msgid)
    if thread is None:
        return None
    return bodies.mboxrd_of(session, [m.record for m in thread.members])


def recent_messages(session: Session, viewer: Viewer, name: str, limit: int = 25
                    ) -> list[MessageRecord] | None:
    """The newest messages of a list, newest first (for ``new.atom``); ``None`` for an unknown
    list.

    Read from the newest threads down, ``limit`` threads at a time: a thread's last activity on
    a list is its newest message there, so once ``limit`` messages are found that are no older
    than the next thread's last activity, no later thread can hold a newer one. The cost follows
    the size of those threads, never the size of the list."""
    if name != listview.ALL:
        rows = read(session, _newest_on_list(viewer, limit), {"name": name}).all()
        if rows and not rows[0].embargoed and _newest_complete(rows, limit):
            return [_record(row, False) for row in rows]
    ids = listview.list_ids(session, viewer, name)
    if ids is None:
        return None
    on_lists = select(MessageList.message_id).where(MessageList.message_id == Message.id,
                                                    MessageList.list_id.in_(ids))
    found: list[tuple[datetime | None, int]] = []
    older: listview.Cursor | None = None
    while True:
        threads = listview.newest_threads(session, viewer, name, ids, older, limit)
        if not threads:
            break
        found.extend((row.sort_date, int(row.id)) for row in session.execute(
            select(Message.id, Message.sort_date)
            .where(Message.thread_id.in_([t.thread_id for t in threads]),
                   visible_message(viewer), exists(on_lists))
            .order_by(Message.sort_date.desc().nulls_last(), Message.id.desc()).limit(limit)))
        found.sort(key=lambda it: (it[0] is not None, it[0] or datetime.min, it[1]),
                   reverse=True)
        del found[limit:]
        older = threads[-1]
        if len(threads) < limit or (len(found) == limit and (
                older.last_date is None or (found[-1][0] is not None
                                            and found[-1][0] >= older.last_date))):
            break
    records = {r.pk: r for r in _records(session, viewer, "ids", [pk for _, pk in found])}
    return [records[pk] for _, pk in found if pk in records]


@functools.lru_cache(maxsize=256)
def _newest_on_list(viewer: Viewer, limit: int) -> Any:
    """The first round of :func:`recent_messages` on one list, and its records, in one
    statement (each statement is a round trip on PostgreSQL): the newest ``limit`` messages
    of the list's newest ``limit`` threads, each row with whether an embargo hides anything
    from the viewer, how many threads the round read and the last activity of its last."""
    this_list = (select(MailingList.id)
                 .where(MailingList.name == bindparam("name"), visible_list(viewer))
                 .scalar_subquery())
    newest = (select(ThreadList.thread_id, ThreadList.last_date)
              .where(ThreadList.list_id == this_list)
              .order_by(ThreadList.last_date.desc().nulls_last(), ThreadList.thread_id.desc())
              .limit(listview.fixed(limit)).subquery())
    on_list = select(MessageList.message_id).where(MessageList.message_id == Message.id,
                                                   MessageList.list_id == this_list)
    query = _records_select(viewer, "ids")
    base = select(*query.selected_columns).where(visible_message(viewer))
    threads = select(func.count()).select_from(newest).scalar_subquery()
    last = (select(newest.c.last_date)
            .order_by(newest.c.last_date.asc().nulls_first(), newest.c.thread_id.asc())
            .limit(listview.fixed(1)).scalar_subquery())
    order = (Message.sort_date.desc().nulls_last(), Message.id.desc())
    # The messages picked first, then their records: the lists of each are read for those
    # alone, not for every message of the threads.
    picked = (select(Message.id)
              .where(Message.thread_id.in_(select(newest.c.thread_id)), exists(on_list),
                     visible_message(viewer))
              .order_by(*order).limit(listview.fixed(limit)))
    return (base.where(Message.id.in_(picked))
            .add_columns(exists(hidden_msgids(viewer)).label("embargoed"),
                         threads.label("threads"), last.label("last"))
            .order_by(*order))


def _newest_complete(rows: Sequence[Any], limit: int) -> bool:
    """Whether the rows of :func:`_newest_on_list` are the list's newest messages: as in
    :func:`recent_messages`, its threads were all the list has, or its ``limit`` messages are
    no older than the last activity of the last thread read."""
    first = rows[0]
    if first.threads < limit:
        return True
    oldest = rows[-1].sort_date
    return len(rows) == limit and (first.last is None or (oldest is not None
                                                          and oldest >= first.last))


def parsed_records(session: Session, viewer: Viewer, pks: Sequence[int]
                   ) -> list[tuple[MessageRecord, ParsedMessage]]:
    """Records with parsed bodies, in the order of ``pks`` (hidden ones dropped)."""
    records = {r.pk: r for r in _records(session, viewer, "ids", pks)}
    parsed = bodies.parsed_messages(session, list(records.values()))
    return [(records[pk], parsed[pk]) for pk in pks if pk in records and pk in parsed]


def records_by_msgid(session: Session, viewer: Viewer, msgids: Sequence[str]
                     ) -> list[MessageRecord]:
    """Visible records for these ids, in the given order."""
    found = {r.msgid: r for r in _records(session, viewer, "msgids", msgids)}
    return [found[m] for m in msgids if m in found]


def records_on(session: Session, viewer: Viewer, msgids: Sequence[str], name: str
               ) -> tuple[bool, list[MessageRecord]]:
    """Whether ``name`` is a list this viewer may browse (:func:`listview.list_exists`), and
    :func:`records_by_msgid` (none when it is not): what a search URL needs, in one statement
    when a record is found (each statement is a round trip on PostgreSQL)."""
    if name == listview.ALL or not msgids:
        return listview.list_exists(session, viewer, name), records_by_msgid(session, viewer, msgids)
    rows = _rows(session, viewer, "msgids on list", msgids, {"list": name})
    if not rows:
        return listview.list_exists(session, viewer, name), []
    if not _list_browsable(viewer, rows[0], name):
        return False, []
    found = {r.msgid: r for r in (_record(row, False) for row in rows)}
    return True, [found[m] for m in msgids if m in found]


def expand_threads(session: Session, viewer: Viewer, records: Sequence[MessageRecord]
                   ) -> list[MessageRecord]:
    """Every visible member of the threads of ``records`` (``POST ?x=m&t=1``)."""
    out = {r.msgid: r for r in records}
    out.update((rec.msgid, rec) for rec in _records(
        session, viewer, "threads", [r.thread_id for r in records if r.thread_id is not None]))
    return list(out.values())
