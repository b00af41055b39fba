"""The ingestion worker: sources -> parse -> store, one transaction per batch.

A batch is stored whole or not at all, and everything is idempotent by Message-ID, so killing the
worker at any moment and running it again gives the archive an uninterrupted run would have given.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO

from sqlalchemy import exists, func, select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ingest import messagestore, seriesstore
from ingest.ahead import Ahead, Ready
from ingest.prepare import Limits, Prepared, finish, prepare
from ingest.rawmail import RawMail, Source
from ingest.sources import open_source
from listarchive.access.embargorules import embargo_rules, follow_replies
from listarchive.archive import rawstore
from listarchive.archive.batches import select_in
from listarchive.archive.db import (
    PlannerStatistics,
    make_engine,
    make_sessionmaker,
    open_archive,
)
from listarchive.archive.derived import anchor_trailers
from listarchive.archive.models import Message, MessageList, Patch, Series, SourceState, Thread
from listarchive.clock import utcnow
from listarchive.errors import ConfigError, ListarchiveError, TemporaryFailure
from listarchive.mail.dkimsig import keys_from_file
from listarchive.mail.extract import MailFacts, mail_facts
from listarchive.mail.maintainers import SubsystemMatcher
from listarchive.mail.message import ParsedMessage
from listarchive.memory import give_back
from listarchive.notify.notices import notify
from listarchive.review import mailcommands, placement
from listarchive.review.rules import automatic_transitions
from listarchive.search.indexer import catch_up
from listarchive.settings import Settings, check_list_name

logger = logging.getLogger(__name__)
FALLBACK_LIST = "inbox"


@dataclass
class Summary:
    read: int = 0
    new: int = 0
    duplicate: int = 0
    quarantined: int = 0
    threads: int = 0
    patches: int = 0
    series: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {"read": self.read, "new": self.new, "duplicate": self.duplicate,
                "quarantined": self.quarantined, "threads": self.threads,
                "patches": self.patches, "series": self.series,
                "seconds": round(self.seconds, 3)}


class ListResolver:
    """Which lists a message belongs to: ``--list``, else List-Id/address of a configured list."""

    def __init__(self, session: Session, settings: Settings, forced: str | None) -> None:
        self.ids = messagestore.ensure_lists(session, settings.lists)
        self.forced: int | None = None
        if forced is not None:
            check_list_name(forced)
            self.forced = self.ids.get(forced) or messagestore.ensure_list(session, forced)
            self.ids[forced] = self.forced
        self.by_list_id = {c.list_id.lower(): self.ids[c.name] for c in settings.lists if c.list_id}
        self.by_address = {c.address.lower(): self.ids[c.name] for c in settings.lists
                           if c.address}
        self.session = session
        self.created: set[str] = set()  # lists made in the transaction under way

    def resolve(self, parsed: ParsedMessage) -> tuple[int, ...]:
        if self.forced is not None:
            return (self.forced,)
        found = {self.by_list_id[i.lower()] for i in parsed.list_ids if i.lower() in self.by_list_id}
        if not found and self.by_address:
            for addr in (*parsed.to, *parsed.cc):
                lid = self.by_address.get(addr.email.lower())
                if lid is not None:
                    found.add(lid)
        if not found:
            if FALLBACK_LIST not in self.ids:
                self.ids[FALLBACK_LIST] = messagestore.ensure_list(self.session, FALLBACK_LIST)
                self.created.add(FALLBACK_LIST)
            found.add(self.ids[FALLBACK_LIST])
        return tuple(sorted(found))

    def forget_uncommitted(self) -> None:
        """The transaction that created lists rolled back: they do not exist after all."""
        for name in self.created:
            self.ids.pop(name, None)
        self.created.clear()


class _Refused(ListarchiveError):
    """The database refused a batch for a reason a retry cannot fix (a value no column can
    hold): what stores it one message at a time, to find the one."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def select_in_session(sessions: sessionmaker[Session], hashes: set[str], list_id: int
                      ) -> list[str]:
    """The hashes among ``hashes`` of messages stored and already on list ``list_id``.

    Looked up by hash, then by (message, list): joined, SQLite walked every message of the list
    for each batch (a sixth of an ingest's time at 100,000 messages, growing with the list)."""
    on_list = exists().where(MessageList.message_id == Message.id, MessageList.list_id == list_id)
    with sessions() as session:
        return [row.sha256 for row in select_in(
            session, select(Message.sha256).where(on_list), Message.sha256, hashes)]


def batched(items: Iterable[RawMail], size: int) -> Iterator[list[RawMail]]:
    batch: list[RawMail] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class Worker:
    """Owns the database session factory and the per-batch transactions."""

    def __init__(self, settings: Settings, list_name: str | None = None) -> None:
        self.settings = settings
        self.archive = open_archive(settings, writer=True)
        self.engine = self.archive.engine
        self.sessions: sessionmaker[Session] = self.archive.sessions
        # Reading without the writers' lock (taken by every writer transaction: SQLite's
        # BEGIN IMMEDIATE, PostgreSQL's advisory lock), so reads never wait behind other writers.
        self.reader_engine = make_engine(settings)
        self.readers: sessionmaker[Session] = make_sessionmaker(self.reader_engine)
        self.statistics = PlannerStatistics(self.reader_engine)
        self.list_name = list_name
        try:
            with self.sessions.begin() as session:
                self.lists = ListResolver(session, settings, list_name)
        except OperationalError as exc:
            raise TemporaryFailure(f"database unavailable: {exc.orig}") from exc
        self._matcher: tuple[SubsystemMatcher, dict[str, int]] | None | bool = False
        try:
            dnsfunc = keys_from_file(settings.dkim_keys) if settings.dkim_keys else None
        except OSError as exc:
            raise ConfigError("automation.dkim_keys", f"cannot be read: {exc}") from exc
        self.commands = mailcommands.Policy(settings.require_dkim, dnsfunc)
        self._signatures: dict[int, str] = {}

    def derive(self, session: Session, items: list[tuple[int, str, ParsedMessage]],
               threads: set[int], facts: dict[int, MailFacts] | None = None) -> None:
        """Everything derived from freshly stored messages, inside their batch's transaction:
        patches, trailers and their anchors, series, automatic states, embargo rules.
        ``facts`` are what :func:`ingest.prepare.prepare` read (by ``id()`` of the parsed
        message); without them (``reindex``) they are read here."""
        if self._matcher is False:
            self._matcher = seriesstore.load_matcher(session)
        matcher = self._matcher if not isinstance(self._matcher, bool) else None
        known = facts or {}
        found = [(pk, msgid, parsed, known.get(id(parsed)) or mail_facts(parsed))
                 for pk, msgid, parsed in items]
        seeds = seriesstore.store_facts(session, found, matcher)
        anchor_trailers(session, sorted(threads))
        seriesstore.regroup(session, seeds)
        automatic_transitions(session, items)
        mailcommands.run(session, items, self.commands, self._signatures)
        embargo_rules(session, items, self.settings.embargo_reporters)
        follow_replies(session, threads)

    def store(self, batch: list[RawMail], summary: Summary, source_key: str = "",
              save_position: bool = False, ready: Ready | None = None) -> None:
        """Store a batch in one transaction. A batch the database refuses for a reason other
        than a lock or a lost connection (a value no column can hold) is stored again one
        message at a time, and the message the database refuses alone is quarantined.
        ``ready``: the batch already prepared (:mod:`ingest.ahead`)."""
        if ready is None:
            now = utcnow()
            seen = self._already_stored(batch)
            prepared = [finish(prepare(m, self.settings, now), self.commands.dnsfunc)
                        for m in batch if rawstore.sha256(m.data) not in seen]
        else:
            now, prepared = ready.now, ready.prepared
        # DKIM of the replies that say a command, verified before the write transaction.
        self._signatures = {id(p.parsed): p.signature for p in prepared if p.signature}
        try:
            outcome = self._store(prepared, summary, now, source_key,
                                  batch[-1].position if save_position and batch else None)
        except _Refused:
            outcome = messagestore.BatchOutcome()
            for one in prepared:
                self.store_prepared(one, summary, now, outcome)
            if save_position and batch:
                self._store([], summary, now, source_key, batch[-1].position)
        summary.read += len(batch)
        summary.new += outcome.new
        summary.duplicate += outcome.duplicate + len(batch) - len(prepared)

    def store_prepared(self, one: Prepared, summary: Summary, now: datetime,
                       total: messagestore.BatchOutcome) -> None:
        """Store one prepared message in a transaction of its own (quarantined if refused)."""
        try:
            outcome = self._store([one], summary, now, "", None)
        except _Refused as refused:
            outcome = self._store([Prepared(one.mail, None, None, refused.reason)], summary,
                                  now, "", None)
        total.new += outcome.new
        total.duplicate += outcome.duplicate

    def _store(self, prepared: list[Prepared], summary: Summary, now: datetime,
               source_key: str, position: str | None) -> messagestore.BatchOutcome:
        problems: list[str] = []
        try:
            with self.sessions.begin() as session:
                self.lists.session = session
                incoming = []
                facts: dict[int, MailFacts] = {}
                for p in prepared:
                    if p.parsed is None:
                        messagestore.quarantine(session, p.mail.data, p.reason, p.mail.origin,
                                                self.list_name or "", now)
                        problems.append(f"{p.mail.origin}: {p.reason}")
                        continue
                    if p.facts is not None:
                        facts[id(p.parsed)] = p.facts
                    incoming.append(messagestore.Incoming(p.mail.data, p.parsed,
                                                          self.lists.resolve(p.parsed),
                                                          rawstore.sha256(p.mail.data),
                                                          p.packed))
                outcome = messagestore.store_batch(session, incoming, now)
                messagestore.refresh_threads(session, outcome.threads)
                self.derive(session, outcome.new_items, outcome.threads, facts)
                if position is not None:
                    _save_position(session, source_key, position)
        except (OperationalError, IntegrityError) as exc:
            # Locked or unreachable database, full disk, another writer first: the transaction
            # rolled back whole and the mail server (or a re-run) tries again.
            self.lists.forget_uncommitted()
            raise TemporaryFailure(f"database unavailable, nothing stored from this batch: "
                                   f"{exc.orig}") from exc
        except TemporaryFailure:
            self.lists.forget_uncommitted()
            raise
        except Exception as exc:  # noqa: BLE001 - one message must never take a batch down
            self.lists.forget_uncommitted()
            raise _Refused(f"could not be stored: {type(exc).__name__}: {exc}"[:2000]) from exc
        self.lists.created.clear()
        self.statistics.stored(outcome.new)
        self.place_comments(outcome)
        for problem in problems:  # counted once committed: a refused batch is stored again
            logger.warning("quarantined %s", problem)
        summary.quarantined += len(problems)
        summary.problems.extend(problems)
        return outcome

    def place_comments(self, outcome: messagestore.BatchOutcome) -> None:
        """Place the review comments the batch's messages bring, once the batch is committed:
        the threads are read and the replies parsed on a reader's session, outside the writers'
        lock, and the rows written in a short transaction of their own. The mail is stored
        whatever happens here: on a failure the batch's messages are remembered as unplaced,
        and the next batch (of this worker or another) places their pairs with its own."""
        if not outcome.new_ids:
            return
        new = set(outcome.new_ids)
        try:
            with self.readers() as session:
                left = placement.unplaced(session)
                found = placement.placements(
                    session, {*outcome.threads, *(t for t in left.values() if t is not None)},
                    new | set(left),
                    {pk: parsed.body for pk, _msgid, parsed in outcome.new_items})
            if found.pairs or left:
                with self.sessions.begin() as session:
                    placement.store(session, found)
                    placement.forget_unplaced(session, left)
        except DBAPIError as exc:
            logger.warning("review comments of %d new messages not placed yet: %s",
                           len(new), exc.orig)
            try:
                with self.sessions.begin() as session:
                    placement.remember_unplaced(session, new)
            except DBAPIError as again:
                logger.error("review comments of %d new messages left for `listarchive "
                             "reindex`: %s", len(new), again.orig)

    def _already_stored(self, batch: list[RawMail]) -> set[str]:
        """Content hashes of mail stored before, with its every list already recorded: a re-run
        over the same input skips them without parsing them again. Only with ``--list`` (which
        names the one list they belong on); other mail is parsed to learn its lists."""
        if self.lists.forced is None or not batch:
            return set()
        hashes = {rawstore.sha256(m.data) for m in batch}
        return set(select_in_session(self.readers, hashes, self.lists.forced))

    def ingest(self, source: Source, summary: Summary, position: str = "",
               save_position: bool = False, progress: Callable[[int], None] | None = None) -> None:
        with Ahead(Limits.of(self.settings), self._already_stored,
                   self.commands.dnsfunc) as ahead:
            for ready in ahead.batches(batched(source.read(position), self.settings.batch_size)):
                self.store(ready.batch, summary, source.key, save_position, ready)
                if progress is not None:
                    progress(len(ready.batch))

    def release(self) -> None:
        """Close the pooled connections (each keeps its own page cache, up to
        :data:`~listarchive.archive.db.CACHE_KIB`) and give the memory freed since back to the
        system: what an ingest does once its mail is stored, before it indexes."""
        self.engine.dispose()
        self.reader_engine.dispose()
        give_back()

    def index(self) -> int:
        """Bring the search index up to what is stored (a no-op when search is off)."""
        return catch_up(self.settings, self.readers)  # it reads only: positions are files

    def notify(self) -> None:
        """Queue and send the notifications of what changed (when notifications are on). Like
        the index, after the mail is committed: a relay that is down never fails a delivery."""
        try:
            notify(self.settings, self.sessions)
        except Exception as exc:  # noqa: BLE001 - logged; the next run queues and sends it
            logger.warning("notifications not sent now (the next run does it): %s", exc)

    def totals(self, summary: Summary) -> None:
        with self.readers() as session:
            summary.threads = session.scalar(select(func.count()).select_from(Thread)) or 0
            summary.patches = session.scalar(select(func.count()).select_from(Patch)
                                             .where(Patch.kind == "patch")) or 0
            summary.series = session.scalar(select(func.count()).select_from(Series)) or 0

    def position(self, key: str) -> str:
        with self.readers() as session:
            return session.scalar(select(SourceState.position)
                                  .where(SourceState.source == key)) or ""


def _save_position(session: Session, key: str, position: str) -> None:
    row = session.scalars(select(SourceState).where(SourceState.source == key)).first()
    if row is None:
        session.add(SourceState(source=key, position=position))
    else:
        row.position = position


def run_ingest(settings: Settings, specs: list[str], list_name: str | None = None,
               stdin: BinaryIO | None = None, show_progress: bool = False,
               progress: Callable[[int], None] | None = None) -> Summary:
    """What ``listarchive ingest`` does: every source in turn, then the totals. ``progress``
    is told how many messages each stored batch had (``show_progress`` draws a bar)."""
    started = time.monotonic()
    summary = Summary()
    worker = Worker(settings, list_name)
    sources = [open_source(spec, stdin=stdin) for spec in specs]
    bar = None
    if show_progress:
        # Imported here: reading its version costs every mail server delivery 35 ms, and a
        # delivery draws no bar.
        from tqdm import tqdm

        bar = tqdm(unit=" msg", desc="ingest", smoothing=0.1)
        progress = bar.update
    try:
        for source in sources:
            worker.ingest(source, summary, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    # The mail is committed: nothing after this may turn a stored delivery into a failure the
    # mail server would bounce or retry (exit 1 or 75). The index catches up at the next run,
    # in the memory the stored batches and the connections' page caches freed.
    worker.release()
    try:
        worker.index()
    except Exception as exc:  # noqa: BLE001 - logged; the next ingest or watch pass indexes it
        logger.warning("search index not brought up to date now (the next ingest does it): %s",
                       exc)
    worker.notify()
    try:
        worker.totals(summary)
    except DBAPIError as exc:
        logger.warning("archive totals not read: %s", exc.orig)
    summary.seconds = time.monotonic() - started
    return summary
