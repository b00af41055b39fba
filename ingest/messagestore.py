"""The only module that writes mail facts to the database.

Functions take a session and never commit: the worker owns the transaction (one per batch), so a
crash leaves either the whole batch or none of it, and re-running the ingest repairs the rest
(everything is idempotent by Message-ID and content hash). Hot paths use Core statements over whole
batches: a few queries per batch instead of several per message.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, delete, func, insert, select, update
from sqlalchemy.orm import Session, aliased

from listarchive.archive import derived, rawstore
from listarchive.archive.batches import among, chunked
from listarchive.archive.db import UNCACHED
from listarchive.archive.models import (
    ListStat,
    MailingList,
    Message,
    MessageList,
    Node,
    Person,
    Quarantined,
    Thread,
    ThreadList,
)
from listarchive.mail.message import ParsedMessage, fingerprint
from listarchive.mail.threads import components
from listarchive.settings import ListConfig


@dataclass(frozen=True)
class Incoming:
    """One parsed message on its way in, with the lists it was seen on (names already resolved)."""

    raw: bytes
    parsed: ParsedMessage
    lists: tuple[int, ...]
    sha256: str
    packed: bytes = b""  # ``raw`` compressed already (see ingest.prepare.finish); else here


@dataclass
class BatchOutcome:
    new: int = 0
    duplicate: int = 0
    new_ids: list[int] = field(default_factory=list)
    new_items: list[tuple[int, str, ParsedMessage]] = field(default_factory=list)  # pk, msgid
    threads: set[int] = field(default_factory=set)


def ensure_lists(session: Session, configs: Iterable[ListConfig]) -> dict[str, int]:
    """Create or update the configured lists; return every stored list's id by name."""
    stored = {ml.name: ml for ml in session.scalars(select(MailingList))}
    for cfg in configs:
        ml = stored.get(cfg.name)
        if ml is None:
            ml = MailingList(name=cfg.name)
            session.add(ml)
            stored[cfg.name] = ml
        ml.list_id, ml.description = cfg.list_id, cfg.description
        ml.address, ml.restricted = cfg.address, cfg.restricted
    session.flush()
    return {name: ml.id for name, ml in stored.items()}


def ensure_list(session: Session, name: str) -> int:
    ml = session.scalars(select(MailingList).where(MailingList.name == name)).first()
    if ml is None:
        ml = MailingList(name=name)
        session.add(ml)
        session.flush()
    return ml.id


def derived_msgid(msgid: str, fp: str) -> str:
    """The id given to a different message reusing an existing Message-ID.

    Derived from the content fingerprint, so that several copies of that second message (list
    re-deliveries with other Received: headers) still deduplicate among themselves.
    """
    return f"{msgid[:440]}.dup-{fp[:16]}"


def _existing(session: Session, msgids: Iterable[str]) -> dict[str, tuple[int, str, str]]:
    found: dict[str, tuple[int, str, str]] = {}
    ids = sorted(set(msgids))
    for part in chunked(ids):
        rows = session.execute(
            select(Message.msgid, Message.id, Message.fingerprint, Message.sha256)
            .where(among(session, Message.msgid, part)))
        for msgid, pk, fp, sha in rows:
            found[msgid] = (pk, fp, sha)
    return found


def _people(session: Session, senders: dict[str, str]) -> dict[str, int]:
    """Person ids by lower-cased address, creating the missing ones."""
    found: dict[str, int] = {}
    emails = sorted(senders)
    for part in chunked(emails):
        for email, pk in session.execute(select(Person.email, Person.id)
                                         .where(among(session, Person.email, part))):
            found[email] = pk
    missing = [{"email": e, "name": senders[e][:255]} for e in emails if e not in found]
    if missing:
        for email, pk in session.execute(insert(Person).returning(Person.email, Person.id),
                                         missing):
            found[email] = pk
    return found


def store_batch(session: Session, items: Sequence[Incoming], now: datetime) -> BatchOutcome:
    """Store new messages, link duplicates to the lists they were seen on, thread the new ones."""
    out = BatchOutcome()
    fps = [fingerprint(it.parsed.sender, it.parsed.date_raw, it.parsed.subject) for it in items]
    keys: list[str] = []
    for it, fp in zip(items, fps, strict=True):
        keys.append(it.parsed.msgid)
        keys.append(derived_msgid(it.parsed.msgid, fp))
    existing = _existing(session, keys)

    rows: list[dict[str, object]] = []
    parsed_of: dict[str, ParsedMessage] = {}
    memberships: dict[str, set[int]] = {}  # msgid -> lists (new and duplicate alike)
    senders: dict[str, str] = {}
    for it, fp in zip(items, fps, strict=True):
        p = it.parsed
        msgid, flags = p.msgid, set(p.flags)
        hit = existing.get(msgid)
        if hit is not None and hit[1] != fp and hit[2] != it.sha256:
            msgid = derived_msgid(p.msgid, fp)
            flags.add("reused-msgid")
            hit = existing.get(msgid)
        memberships.setdefault(msgid, set()).update(it.lists)
        if hit is not None:
            out.duplicate += 1
            continue
        existing[msgid] = (0, fp, it.sha256)  # a second copy later in this batch is a duplicate
        email = p.sender.email.lower()[:320]
        if email:
            senders.setdefault(email, p.sender.name)
        rows.append(_message_row(it, msgid, fp, flags, now))
        parsed_of[msgid] = p
    people = _people(session, senders) if senders else {}
    # Threads first, so that each new message is stored with its thread (an update of every
    # new row after it would rewrite each, and each index of messages).
    linked = join_threads(session, [(str(r["msgid"]), str(r["references"]).split())
                                    for r in rows])
    for row in rows:
        row["sender_id"] = people.get(str(row["from_email"]).lower())
        row["thread_id"] = linked.thread[str(row["msgid"])]

    new_ids = _insert_messages(session, rows) if rows else {}
    out.new = len(new_ids)
    out.new_ids = list(new_ids.values())
    out.new_items = [(pk, msgid, parsed_of[msgid]) for msgid, pk in new_ids.items()]
    joined = _add_memberships(session, memberships, new_ids)
    out.threads = linked.touched
    # A message already stored, now also seen on another list: its thread's per-list view
    # (the list index and its counts) gains that list.
    old = sorted(joined - set(new_ids.values()))
    for part in chunked(old):
        out.threads.update(int(t) for (t,) in session.execute(
            select(Message.thread_id).where(among(session, Message.id, part))) if t is not None)
    return out


def _insert_messages(session: Session, rows: list[dict[str, object]]) -> dict[str, int]:
    """Insert the rows of new messages; the id of each, by msgid.

    On PostgreSQL the ids are taken from the sequence first and the rows sent as one pipelined
    executemany: the alternative, a multi-row INSERT ... RETURNING of a few hundred raw messages
    at a time, cost the ingest process more than the server spent storing them (psycopg splits
    each such statement's text to find its thousands of parameters, and none is reused).
    SQLite, in the process, returns the ids of its multi-row INSERT as cheaply."""
    if session.get_bind().dialect.name != "postgresql":
        result = session.execute(insert(Message).returning(Message.msgid, Message.id), rows)
        return {str(m): int(pk) for m, pk in result.all()}
    ids = session.scalars(select(func.nextval(func.pg_get_serial_sequence("messages", "id")))
                          .select_from(func.generate_series(1, len(rows)))).all()
    for row, pk in zip(rows, ids, strict=True):
        row["id"] = int(pk)
    session.execute(insert(Message), rows)
    return {str(row["msgid"]): int(row["id"]) for row in rows}  # type: ignore[call-overload]


def _message_row(it: Incoming, msgid: str, fp: str, flags: set[str],
                 now: datetime) -> dict[str, object]:
    p = it.parsed
    return {
        "msgid": msgid, "header_msgid": p.header_msgid[:2000], "sha256": it.sha256,
        "fingerprint": fp, "raw": it.packed or rawstore.pack(it.raw), "raw_size": len(it.raw),
        **derived_columns(p), "flags": ",".join(sorted(flags)), "ingested_at": now,
    }


def derived_columns(p: ParsedMessage) -> dict[str, object]:
    """Columns recomputed from the raw message by reindex."""
    return {
        "subject": p.subject, "from_name": p.sender.name, "from_email": p.sender.email[:320],
        "to_addrs": p.to_raw, "cc_addrs": p.cc_raw, "date": p.date, "date_raw": p.date_raw[:500],
        "sort_date": p.sort_date, "in_reply_to": p.in_reply_to, "parent_msgid": p.parent,
        "references": " ".join(p.references), "attachments": len(p.attachments),
    }


def _add_memberships(session: Session, memberships: dict[str, set[int]],
                     new_ids: dict[str, int]) -> set[int]:
    """Put messages on the lists they were seen on; returns the pks that joined a list."""
    ids = dict(new_ids)
    old = [m for m in memberships if m not in ids]
    for part in chunked(old):
        ids.update((m, pk) for m, pk in session.execute(
            select(Message.msgid, Message.id).where(among(session, Message.msgid, part))).all())
    wanted = {(ids[m], lst) for m, lists in memberships.items() if m in ids for lst in lists}
    have: set[tuple[int, int]] = set()
    pks = sorted({pk for pk, _ in wanted})
    for pk_part in chunked(pks):
        have.update((m, lst) for m, lst in session.execute(
            select(MessageList.message_id, MessageList.list_id)
            .where(among(session, MessageList.message_id, pk_part))).all())
    missing = sorted(wanted - have)
    if missing:
        session.execute(insert(MessageList),
                        [{"message_id": m, "list_id": lst} for m, lst in missing])
    return {m for m, _ in missing}


@dataclass
class Linked:
    """What joining messages to threads did: the threads it touched, the thread of each msgid."""

    touched: set[int] = field(default_factory=set)
    thread: dict[str, int] = field(default_factory=dict)


def join_threads(session: Session, facts: Sequence[tuple[str, Sequence[str]]]) -> Linked:
    """Join Message-IDs (msgid, references) to threads, creating ghosts and merging threads,
    before or after their messages are stored: :func:`store_batch` inserts new messages with
    their thread, :func:`link_threads` moves stored ones.

    Membership is a connected component, so the result is the same whatever the arrival order;
    only the surviving thread's numeric id (the lowest) depends on it, and no URL uses it.
    """
    all_ids = sorted({m for m, refs in facts for m in (m, *refs)})
    node_thread: dict[str, int] = {}
    for part in chunked(all_ids):
        node_thread.update((m, t) for m, t in session.execute(
            select(Node.msgid, Node.thread_id).where(among(session, Node.msgid, part))).all())
    wanted = {m for m, _ in facts}
    linked = Linked()
    new_nodes: list[dict[str, object]] = []

    def place(comp: set[str], tid: int) -> None:
        linked.touched.add(tid)
        new_nodes.extend({"msgid": m, "thread_id": tid} for m in comp if m not in node_thread)
        linked.thread.update((m, tid) for m in comp & wanted)

    # Ids already in one thread belong together even when no reference in this batch says so:
    # join them through a pseudo node per existing thread.
    links: list[tuple[str, Sequence[str]]] = list(facts)
    links.extend((m, [f"\0thread:{tid}"]) for m, tid in node_thread.items())
    fresh: list[set[str]] = []
    merged: dict[int, int] = {}  # a thread emptied -> the thread its members join
    for comp in components(links):
        comp = {m for m in comp if not m.startswith("\0")}
        threads = sorted({node_thread[m] for m in comp if m in node_thread})
        if not threads:
            fresh.append(comp)
            continue
        for other in threads[1:]:
            merged[other] = threads[0]
            linked.touched.discard(other)
        place(comp, threads[0])
    _merge_threads(session, merged)
    if fresh:  # the new threads in one statement (its root is set when its messages are)
        tids = session.scalars(insert(Thread).returning(Thread.id, sort_by_parameter_order=True),
                               [{"root_msgid": min(comp)} for comp in fresh]).all()
        for comp, tid in zip(fresh, tids, strict=True):
            place(comp, tid)
    if new_nodes:
        session.execute(insert(Node), new_nodes)
    return linked


def link_threads(session: Session, facts: Sequence[tuple[int, str, Sequence[str]]]) -> set[int]:
    """Join stored messages (pk, msgid, references) to threads (:func:`join_threads`); the
    threads touched."""
    linked = join_threads(session, [(m, refs) for _, m, refs in facts])
    moves = [{"id": pk, "thread_id": linked.thread[m]} for pk, m, _ in facts]
    if moves:  # one statement (executemany), not one a thread: each is a round trip on a server
        session.execute(update(Message), moves)
    return linked.touched


def _merge_threads(session: Session, into: dict[int, int]) -> None:
    """Move the nodes and messages of each thread among ``into``'s keys to the thread it maps
    to, and drop the emptied threads: the same few statements for every merge of a batch. A
    thread is either emptied or kept, never both: no merge waits on another.

    One merge at a time cost seven statements a merge; two workers importing one list's mail
    at once met a merge every 18 messages (a reply whose thread the other worker had stored),
    and on PostgreSQL those round trips were half of a batch's statements."""
    for part in chunked(into):
        moves = {old: into[old] for old in part}
        for model in (Node, Message):
            session.execute(update(model).where(model.thread_id.in_(part))
                            .values(thread_id=case(moves, value=model.thread_id)),
                            execution_options=UNCACHED)
        _count_out(session, part)
        session.execute(delete(ThreadList).where(ThreadList.thread_id.in_(part)))
        session.execute(delete(Thread).where(Thread.id.in_(part)))


def refresh_threads(session: Session, thread_ids: Iterable[int]) -> None:
    """Recompute each thread's root, subject, dates, counts and per-list rows from its members."""
    tids = sorted(set(thread_ids))
    parent = aliased(Message)
    for part in chunked(tids):
        stats = {tid: (n, first, last) for tid, n, first, last in session.execute(
            select(Message.thread_id, func.count(), func.min(Message.sort_date),
                   func.max(Message.sort_date))
            .where(among(session, Message.thread_id, part)).group_by(Message.thread_id))}
        # Root candidates: members whose parent is not stored in the same thread.
        cands: dict[int, tuple[tuple[datetime, str], str]] = {}
        rows = session.execute(
            select(Message.thread_id, Message.msgid, Message.sort_date, Message.subject)
            .outerjoin(parent, and_(parent.msgid == Message.parent_msgid,
                                    parent.thread_id == Message.thread_id))
            .where(among(session, Message.thread_id, part), parent.id.is_(None)))
        subjects: dict[int, str] = {}
        for tid_, msgid, date, subject in rows:
            tid = int(tid_ or 0)
            key = (date or datetime.max, msgid)
            if tid not in cands or key < cands[tid][0]:
                cands[tid] = (key, msgid)
                subjects[tid] = subject
        heads: list[dict[str, Any]] = []
        for tid in part:
            if tid not in stats:
                continue  # a thread of ghosts only cannot exist: link_threads gives it a message
            if tid not in cands:  # every member on a cycle
                first = session.execute(
                    select(Message.msgid, Message.subject).where(Message.thread_id == tid)
                    .order_by(Message.sort_date.asc().nulls_last(), Message.msgid).limit(1)).one()
                cands[tid] = ((datetime.max, first[0]), first[0])
                subjects[tid] = first[1]
            n, first_date, last_date = stats[tid]
            heads.append({"id": tid, "root_msgid": cands[tid][1], "subject": subjects[tid],
                          "first_date": first_date, "last_date": last_date, "message_count": n})
        summaries = derived.thread_summaries(session, {h["id"]: h["root_msgid"] for h in heads})
        for head in heads:  # every message is on a list: no thread is without senders
            head.update(summaries.threads.get(head["id"], {}))
        if heads:  # one statement for the chunk (executemany): each is a round trip on a server
            session.execute(update(Thread), heads)
        _count_out(session, part)
        session.execute(delete(ThreadList).where(ThreadList.thread_id.in_(part)))
        if summaries.lists:
            session.execute(insert(ThreadList), summaries.lists)
            added: dict[int, tuple[int, int]] = {}
            for row in summaries.lists:
                lst, n = row["list_id"], row["message_count"]
                threads, messages = added.get(lst, (0, 0))
                added[lst] = (threads + 1, messages + n)
            _add_to_stats(session, added)


def _count_out(session: Session, thread_ids: Sequence[object]) -> None:
    """Take these threads' per-list rows out of the list totals (before they are deleted)."""
    _add_to_stats(session, {int(lst): (-int(n), -int(m or 0)) for lst, n, m in session.execute(
        select(ThreadList.list_id, func.count(), func.sum(ThreadList.message_count))
        .where(among(session, ThreadList.thread_id, thread_ids)).group_by(ThreadList.list_id))})


def _add_to_stats(session: Session, delta: dict[int, tuple[int, int]]) -> None:
    """Add (threads, messages) to each list's totals."""
    if not delta:
        return
    have = set(session.scalars(select(ListStat.list_id).where(ListStat.list_id.in_(delta))))
    for lst, (threads, messages) in sorted(delta.items()):
        if lst in have:
            session.execute(update(ListStat).where(ListStat.list_id == lst).values(
                threads=ListStat.threads + threads, messages=ListStat.messages + messages))
        else:
            session.execute(insert(ListStat).values(list_id=lst, threads=threads,
                                                    messages=messages))


def quarantine(session: Session, raw: bytes, reason: str, source: str, list_name: str,
               now: datetime) -> bool:
    """Keep an unparseable message with its reason; False when it is already there."""
    sha = rawstore.sha256(raw)
    if session.scalar(select(Quarantined.id).where(Quarantined.sha256 == sha)) is not None:
        return False
    session.execute(insert(Quarantined), [{
        "sha256": sha, "raw": rawstore.pack(raw), "raw_size": len(raw), "reason": reason[:2000],
        "source": source[:2000], "list_name": list_name, "created_at": now}])
    return True


def release_quarantined(session: Session, qid: int) -> None:
    session.execute(delete(Quarantined).where(Quarantined.id == qid))


def reset_derived(session: Session) -> None:
    """Drop everything derived from raw messages (reindex rebuilds it)."""
    session.execute(update(Message).values(thread_id=None))
    session.execute(delete(ThreadList))
    session.execute(delete(ListStat))
    session.execute(delete(Node))
    session.execute(delete(Thread))


def rederive(session: Session, pk: int, parsed: ParsedMessage) -> None:
    session.execute(update(Message).where(Message.id == pk).values(**derived_columns(parsed)))
