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

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from tqdm import tqdm

from ingest import messagestore, seriesstore
from ingest.sources import RawMail, Source, open_source
from listarchive.access.embargo import embargo_rules
from listarchive.archive import rawstore
from listarchive.archive.db import open_archive
from listarchive.archive.derived import anchor_trailers
from listarchive.archive.models import Patch, Series, SourceState, Thread
from listarchive.clock import utcnow
from listarchive.errors import MalformedMessage, TemporaryFailure
from listarchive.mail.extract import mail_facts
from listarchive.mail.maintainers import SubsystemMatcher
from listarchive.mail.message import ParsedMessage, parse
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
            found.add(self.ids[FALLBACK_LIST])
        return tuple(sorted(found))


@dataclass(frozen=True)
class Prepared:
    mail: RawMail
    parsed: ParsedMessage | None
    reason: str


def prepare(mail: RawMail, settings: Settings, now: datetime) -> Prepared:
    if len(mail.data) > settings.max_message_bytes:
        return Prepared(mail, None, f"larger than ingest.max_message_bytes "
                                    f"({len(mail.data)} > {settings.max_message_bytes} bytes)")
    try:
        return Prepared(mail, parse(mail.data, now=now), "")
    except MalformedMessage as exc:
        return Prepared(mail, None, str(exc))
    except Exception as exc:  # noqa: BLE001 - hostile mail must never stop an ingest
        # The stdlib MIME code can still trip over input nobody anticipated; the message is kept
        # in quarantine with the error as its reason, and a parser fix plus `quarantine retry`
        # brings it back.
        logger.exception("parser error on %s", mail.origin)
        return Prepared(mail, None, f"parser error: {type(exc).__name__}: {exc}")


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
        self.list_name = list_name
        try:
            with self.sessions.begin() as session:
                self.lists = ListResolver(session, settings, list_name)
        except OperationalError as exc:
            raise TemporaryFailure(f"database unavailable: {exc.orig}") from exc
        self._matcher: tuple[SubsystemMatcher, dict[str, int]] | None | bool = False

    def derive(self, session: Session, items: list[tuple[int, str, ParsedMessage]],
               threads: set[int]) -> None:
        """Everything derived from freshly stored messages, inside their batch's transaction:
        patches, trailers and their anchors, series, automatic states, embargo rules."""
        if self._matcher is False:
            self._matcher = seriesstore.load_matcher(session)
        matcher = self._matcher if not isinstance(self._matcher, bool) else None
        facts = [(pk, msgid, parsed, mail_facts(parsed)) for pk, msgid, parsed in items]
        senders = seriesstore.store_facts(session, facts, matcher)
        anchor_trailers(session, sorted(threads))
        seriesstore.regroup(session, senders)
        automatic_transitions(session, items)
        embargo_rules(session, items)

    def store(self, batch: list[RawMail], summary: Summary, source_key: str = "",
              save_position: bool = False) -> None:
        now = utcnow()
        prepared = [prepare(m, self.settings, now) for m in batch]
        try:
            with self.sessions.begin() as session:
                self.lists.session = session
                incoming = []
                for p in prepared:
                    if p.parsed is None:
                        if messagestore.quarantine(session, p.mail.data, p.reason, p.mail.origin,
                                            self.list_name or "", now):
                            logger.warning("quarantined %s: %s", p.mail.origin, p.reason)
                        summary.quarantined += 1
                        summary.problems.append(f"{p.mail.origin}: {p.reason}")
                        continue
                    incoming.append(messagestore.Incoming(p.mail.data, p.parsed,
                                                   self.lists.resolve(p.parsed),
                                                   rawstore.sha256(p.mail.data)))
                outcome = messagestore.store_batch(session, incoming, now)
                messagestore.refresh_threads(session, outcome.threads)
                self.derive(session, outcome.new_items, outcome.threads)
                if save_position and batch:
                    _save_position(session, source_key, batch[-1].position)
        except DBAPIError as exc:
            # Locked or unreachable database, full disk: the transaction rolled back whole.
            raise TemporaryFailure(f"database unavailable, nothing stored from this batch: "
                                   f"{exc.orig}") from exc
        summary.read += len(batch)
        summary.new += outcome.new
        summary.duplicate += outcome.duplicate

    def ingest(self, source: Source, summary: Summary, position: str = "",
               save_position: bool = False, progress: Callable[[int], None] | None = None) -> None:
        for batch in batched(source.read(position), self.settings.batch_size):
            self.store(batch, summary, source.key, save_position)
            if progress is not None:
                progress(len(batch))

    def index(self) -> int:
        """Bring the search index up to what is stored (a no-op when search is off)."""

        return catch_up(self.settings, self.sessions)

    def totals(self, summary: Summary) -> None:
        with self.sessions() as session:
            summary.threads = session.scalar(select(func.count()).select_from(Thread)) or 0
            summary.patches = session.scalar(select(func.count()).select_from(Patch)
                                             .where(Patch.kind == "patch")) or 0
            summary.series = session.scalar(select(func.count()).select_from(Series)) or 0

    def position(self, key: str) -> str:
        with self.sessions() as session:
            return session.scalar(select(SourceState.position)
                                  .where(SourceState.source == key)) or ""


def _save_position(session: Session, key: str, position: str) -> None:
    row = session.scalars(select(SourceState).where(SourceState.source == key)).first()
    if row is None:
        session.add(SourceState(source=key, position=position))
    else:
        row.position = position


def run_ingest(settings: Settings, specs: list[str], list_name: str | None = None,
               stdin: BinaryIO | None = None, show_progress: bool = False) -> Summary:
    """What ``listarchive ingest`` does: every source in turn, then the totals."""
    started = time.monotonic()
    summary = Summary()
    worker = Worker(settings, list_name)
    sources = [open_source(spec, stdin=stdin) for spec in specs]
    bar = None
    if show_progress:
        bar = tqdm(unit=" msg", desc="ingest", smoothing=0.1)
    try:
        for source in sources:
            worker.ingest(source, summary, progress=bar.update if bar is not None else None)
    finally:
        if bar is not None:
            bar.close()
    worker.index()
    worker.totals(summary)
    summary.seconds = time.monotonic() - started
    return summary
