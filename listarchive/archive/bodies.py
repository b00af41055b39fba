"""The stored mail of records read back: raw bytes, parsed messages and snippet bodies.

Parsing is most of what a thread page or a feed costs, and stored mail never changes, so parsed
messages are kept per process by content hash, within a memory budget. The records come from
the read side (:mod:`.messageview`), already checked against the viewer: nothing here looks at
who asks.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from listarchive.archive import rawstore
from listarchive.archive.batches import select_in
from listarchive.archive.models import Message
from listarchive.archive.records import MessageRecord
from listarchive.mail import mbox
from listarchive.mail.message import ParsedMessage, body_text, parse


class ParsedCache:
    """Parsed messages by content hash, newest use last: stored mail never changes, and thread
    pages parse fifty at a time. Bounded by the memory the parsed messages take (about twice
    their raw size), not by their number: a cache of 2,048 messages was 45 MB of an ingest
    worker's peak RSS (the worker places review comments through these pages' readers), and a
    few large messages must not make it grow further."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.used = 0
        self._items: OrderedDict[tuple[str, datetime], tuple[ParsedMessage, int, str]] = \
            OrderedDict()
        self._keys: dict[str, tuple[str, datetime]] = {}  # by Message-ID, what is kept

    def get(self, record: MessageRecord) -> ParsedMessage | None:
        key = (record.sha256, record.ingested_at)
        hit = self._items.get(key)
        if hit is None:
            return None
        self._items.move_to_end(key)
        return hit[0]

    def put(self, record: MessageRecord, parsed: ParsedMessage) -> None:
        key = (record.sha256, record.ingested_at)
        cost = 2 * record.raw_size
        if key in self._items or cost > self.budget:
            return
        self._items[key] = (parsed, cost, record.msgid)
        self._keys[record.msgid] = key
        self.used += cost
        while self.used > self.budget:
            old, (_parsed, freed, msgid) = self._items.popitem(last=False)
            self.used -= freed
            if self._keys.get(msgid) == old:
                del self._keys[msgid]

    def holds(self, msgid: str) -> bool:
        """Whether a message of that Message-ID is kept, before its record is read: a page
        that finds none asks for the stored bytes with the record, in the same statement."""
        return msgid in self._keys


PARSED_CACHE_BYTES = 24 << 20  # per process
_PARSED_CACHE = ParsedCache(PARSED_CACHE_BYTES)
SNIPPET_BYTES = 65_536


def is_parsed(msgid: str) -> bool:
    """Whether this process keeps a parsed message of that Message-ID (see ``holds``)."""
    return _PARSED_CACHE.holds(msgid)


def parsed_messages(session: Session, records: Sequence[MessageRecord],
                    known: Mapping[int, bytes] | None = None) -> dict[int, ParsedMessage]:
    """The records (read for the viewer: a thread's members, say) parsed, by pk. ``known``:
    stored bytes already read with the records, by pk (the others are read if needed)."""
    out: dict[int, ParsedMessage] = {}
    missing: list[MessageRecord] = []
    for r in records:
        hit = _PARSED_CACHE.get(r)
        if hit is None:
            missing.append(r)
        else:
            out[r.pk] = hit
    known = known or {}
    stored = {**raws(session, [r.pk for r in missing if r.pk not in known]), **known}
    for r in missing:
        if r.pk in stored:
            out[r.pk] = parse(stored[r.pk], now=r.ingested_at)
            _PARSED_CACHE.put(r, out[r.pk])
    return out


def body_texts(session: Session, records: Sequence[MessageRecord]) -> dict[int, str]:
    """The readable body of each record, at least its first :data:`SNIPPET_BYTES` (search
    snippets): from the parsed-message cache when a page already parsed it, else read with the
    header parser only (no MIME walk)."""
    out: dict[int, str] = {}
    missing: list[int] = []
    for r in records:
        hit = _PARSED_CACHE.get(r)
        if hit is None:
            missing.append(r.pk)
        else:
            out[r.pk] = hit.body
    for pk, raw in raws(session, missing).items():
        out[pk] = body_text(raw, SNIPPET_BYTES)
    return out


def raws(session: Session, pks: Sequence[int]) -> dict[int, bytes]:
    return {row.id: rawstore.unpack(row.raw)
            for row in select_in(session, select(Message.id, Message.raw), Message.id, pks)}


def mboxrd_of(session: Session, records: Sequence[MessageRecord]) -> bytes:
    """The records' raw messages as one mboxrd file, oldest first (what ``git am`` wants)."""
    ordered = sorted(records, key=lambda r: (r.sort_date or datetime.max, r.msgid))
    stored = raws(session, [r.pk for r in ordered])
    return b"".join(mbox.to_mboxrd(stored[r.pk]) for r in ordered if r.pk in stored)


def with_bodies(session: Session, records: Sequence[MessageRecord]
                ) -> list[tuple[MessageRecord, ParsedMessage]]:
    """The records with their parsed messages, in the same order."""
    parsed = parsed_messages(session, records)
    return [(r, parsed[r.pk]) for r in records if r.pk in parsed]
