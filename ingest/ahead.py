"""Preparing the next batch while the one before it is stored.

Parsing a message, reading its patches, trailers and links, compressing it and checking the
DKIM signature of a reply that says a command is about half of what it costs the ingest, and
needs no database. A bulk import hands that to helper processes, one batch ahead of the write
transaction that stores the batch before, so the spare cores prepare while the database
writes. A delivery of one message (or a batch of fewer than :data:`LEAST` new messages) is
prepared in the process itself: a helper would cost more to start than the mail.

A helper that fails (killed for memory, a crash in a C extension) costs nothing but speed:
its batch is prepared again in the process, and the rest of the input too.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType

from ingest.prepare import Limits, Outcome, Prepared, finish, prepare, prepare_all
from ingest.rawmail import RawMail
from listarchive.archive import rawstore
from listarchive.clock import utcnow
from listarchive.mail.dkimsig import DnsFunc

logger = logging.getLogger(__name__)
HELPERS_MAX = 4
LEAST = 200  # fresh messages in a batch worth a helper's start (about half a second)
Work = Callable[[list[RawMail], Limits, datetime], list[Outcome]]


def helper_count() -> int:
    """Helper processes for a bulk import: every core but the one that stores, up to four."""
    return max(0, min(HELPERS_MAX, (os.cpu_count() or 1) - 1))


@dataclass(frozen=True)
class Ready:
    """A batch as read, the time it was prepared at, and its mail not stored before, prepared."""

    batch: list[RawMail]
    now: datetime
    prepared: list[Prepared]


@dataclass
class _Pending:
    batch: list[RawMail]
    now: datetime
    fresh: list[RawMail]
    parts: list[Future[list[Outcome]]]


class Ahead:
    """``with Ahead(limits, skip) as ahead: for ready in ahead.batches(batches): ...``

    ``skip`` names the content hashes of a batch that need no preparing (stored before)."""

    def __init__(self, limits: Limits, skip: Callable[[list[RawMail]], set[str]],
                 dnsfunc: DnsFunc | None = None, helpers: int | None = None,
                 work: Work = prepare_all, least: int | None = None) -> None:
        self.limits = limits
        self.dnsfunc = dnsfunc
        self.least = LEAST if least is None else least
        self.skip = skip
        self.helpers = helper_count() if helpers is None else helpers
        self.work = work
        self.pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Ahead:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def batches(self, batches: Iterable[list[RawMail]]) -> Iterator[Ready]:
        pending: deque[_Pending] = deque()
        for batch in batches:
            now = utcnow()
            seen = self.skip(batch)
            fresh = [m for m in batch if rawstore.sha256(m.data) not in seen]
            parts = self._submit(fresh, now)
            if not parts:
                while pending:  # in order: what was handed out first is stored first
                    yield self._collect(pending.popleft())
                yield Ready(batch, now, self._here(fresh, now))
                continue
            pending.append(_Pending(batch, now, fresh, parts))
            if len(pending) > 1:
                yield self._collect(pending.popleft())
        while pending:
            yield self._collect(pending.popleft())

    def _submit(self, fresh: list[RawMail], now: datetime) -> list[Future[list[Outcome]]]:
        if not self.helpers or len(fresh) < self.least:
            return []
        if self.pool is None:
            # spawn: helpers start from a clean interpreter, not a copy of this process with
            # its database connections and the search engine's threads; and they are this
            # process's own children, so their CPU time counts in its rusage.
            self.pool = ProcessPoolExecutor(self.helpers,
                                            mp_context=multiprocessing.get_context("spawn"))
        size = -(-len(fresh) // self.helpers)
        try:
            return [self.pool.submit(self.work, fresh[i:i + size], self.limits, now)
                    for i in range(0, len(fresh), size)]
        except RuntimeError as exc:  # a pool already broken refuses new work
            self._give_up(exc)
            return []

    def _collect(self, pending: _Pending) -> Ready:
        outcomes: list[Outcome] = []
        try:
            for part in pending.parts:
                outcomes.extend(part.result())
        except Exception as exc:  # noqa: BLE001 - a broken helper costs speed, never mail
            self._give_up(exc)
            return Ready(pending.batch, pending.now, self._here(pending.fresh, pending.now))
        return Ready(pending.batch, pending.now,
                     [Prepared(mail, *outcome)
                      for mail, outcome in zip(pending.fresh, outcomes, strict=True)])

    def _here(self, fresh: list[RawMail], now: datetime) -> list[Prepared]:
        """Prepared in this process."""
        return [finish(prepare(m, self.limits, now), self.dnsfunc) for m in fresh]

    def _give_up(self, exc: BaseException) -> None:
        if self.helpers:
            logger.warning("preparing mail in this process from now on: a helper failed: "
                           "%s: %s", type(exc).__name__, exc)
        self.helpers = 0
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None
