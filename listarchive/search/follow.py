"""Where one search index stands in the database, and the one process at a time that moves it.

Several machines may share one database, each keeping a search index of its own (as every
public-inbox mirror keeps its own), so an index keeps its positions beside itself, in
:data:`POSITIONS`: the newest message it holds, how far it followed the state history and the
audit log (embargo visibility), the CI checks, and the subsystems version its ``subsystem:`` facets show.

Those records are commit-ordered: every transaction that stores mail, changes a state or an
embargo, or imports MAINTAINERS holds the writers' lock (:mod:`listarchive.archive.db`), so
their ids are committed in increasing order and a position never passes an id that commits
later.

One process moves an index's positions at a time: :func:`following` holds an ``flock`` on
:data:`LOCK` (the kernel releases it when its holder dies) from reading the positions to writing
them after the index's commit, so two catch-ups on one machine never add a message twice.

:class:`Follower` keeps a web server's index following the database (``[search] follow``):
one thread per process, and only one process per index does the work.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, ClassVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from listarchive.archive.models import AuditEvent, Check, Message, Meta, StateChange
from listarchive.errors import IndexBusy

logger = logging.getLogger(__name__)

POSITIONS = "positions.json"
LOCK = "follow.lock"
LEADER = "follower.lock"
SUBSYSTEMS_VERSION = "subsystems_version"  # a Meta key: bumped by every MAINTAINERS import
# Where archives kept the one index's positions before each index kept its own.
LEGACY_KEYS = {"messages": "search_watermark", "states": "search_state_watermark",
               "checks": "search_check_watermark", "visibility": "search_visibility_watermark"}


@dataclass
class Positions:
    """How far one index follows each record: ids of messages, state history entries, CI
    checks and audit entries, and the subsystems version."""

    messages: int = 0
    states: int = 0
    checks: int = 0
    visibility: int = 0
    subsystems: int = 0

    @classmethod
    def load(cls, index_dir: Path, session: Session) -> Positions:
        """The positions recorded beside the index; for an index made before they were kept
        there, the ones the database kept (its only index's)."""
        try:
            data = json.loads((index_dir / POSITIONS).read_text(encoding="utf-8"))
            return cls(**{key: int(data.get(key, 0)) for key in asdict(cls())})
        except FileNotFoundError:
            pass
        except (ValueError, TypeError) as exc:
            logger.warning("search positions unreadable (%s): starting from the database's", exc)
        legacy = {row.key: row.value for row in session.execute(
            select(Meta.key, Meta.value).where(Meta.key.in_(LEGACY_KEYS.values())))}
        return cls(**{field: int(legacy.get(key) or 0) for field, key in LEGACY_KEYS.items()},
                   subsystems=subsystems_version(session))

    def reached(self, heads: Positions) -> bool:
        """Whether these positions follow every record to ``heads`` (:func:`heads`)."""
        return (self.messages >= heads.messages and self.states >= heads.states
                and self.checks >= heads.checks and self.visibility >= heads.visibility
                and self.subsystems == heads.subsystems)

    def save(self, index_dir: Path) -> None:
        """Write the positions atomically (a new file renamed over the old one)."""
        tmp = index_dir / (POSITIONS + ".new")
        tmp.write_text(json.dumps(asdict(self)) + "\n", encoding="utf-8")
        os.replace(tmp, index_dir / POSITIONS)


def heads(session: Session) -> Positions:
    """Where the database's records end: its newest message, state history entry, CI check and
    audit entry, and its subsystems version. One statement: an index that follows them all
    already has nothing to do (a web server's follower asks every second)."""
    newest = (select(func.max(Message.id)).scalar_subquery(),
              select(func.max(StateChange.id)).scalar_subquery(),
              select(func.max(Check.id)).scalar_subquery(),
              select(func.max(AuditEvent.id)).scalar_subquery(),
              select(Meta.value).where(Meta.key == SUBSYSTEMS_VERSION).scalar_subquery())
    row = session.execute(select(*newest)).one()
    return Positions(*(int(value or 0) for value in row))


def subsystems_version(session: Session) -> int:
    value = session.scalar(select(Meta.value).where(Meta.key == SUBSYSTEMS_VERSION))
    return int(value) if value else 0


def bump_subsystems_version(session: Session) -> None:
    """Record, in the transaction that replaced the subsystems, that every index's
    ``subsystem:`` facets are out of date."""
    row = session.get(Meta, SUBSYSTEMS_VERSION)
    if row is None:
        session.add(Meta(key=SUBSYSTEMS_VERSION, value="1"))
    else:
        row.value = str(int(row.value or 0) + 1)


def _flock(path: Path, timeout: float | None) -> IO[bytes] | None:
    """The open lock file with an exclusive flock, waiting up to ``timeout`` seconds (None: as
    long as it takes); None when still held by another process then."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "ab")  # noqa: SIM115 (closed by the caller, which releases the lock)
    if timeout is None:
        fcntl.flock(handle, fcntl.LOCK_EX)
        return handle
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle
        except BlockingIOError:
            if time.monotonic() >= deadline:
                handle.close()
                return None
            time.sleep(0.05)


# One holder per process too: flock is per open file, so two threads of one process would
# both get it through two opens; a lock per index orders them first.
_IN_PROCESS: dict[Path, threading.Lock] = {}
_IN_PROCESS_GUARD = threading.Lock()


def _thread_lock(index_dir: Path) -> threading.Lock:
    key = Path(index_dir).resolve()
    with _IN_PROCESS_GUARD:
        return _IN_PROCESS.setdefault(key, threading.Lock())


@contextmanager
def following(index_dir: Path, timeout: float | None = None) -> Iterator[None]:
    """Hold the index's follow lock (see the module's docstring); IndexBusy after ``timeout``
    seconds (None: wait as long as it takes)."""
    in_process = _thread_lock(index_dir)
    if not in_process.acquire(timeout=-1 if timeout is None else timeout):
        raise IndexBusy("the search index is being brought up to date by another thread")
    try:
        handle = _flock(Path(index_dir) / LOCK, timeout)
        if handle is None:
            raise IndexBusy("the search index is being brought up to date by another process")
        try:
            yield
        finally:
            handle.close()
    finally:
        in_process.release()


class Follower:
    """Brings one index up to date every ``interval`` seconds with ``step`` (the indexer's
    catch-up), in a daemon thread. Every process of a web server may start one; only the
    process holding :data:`LEADER` works, the others wait to take over if it dies."""

    started: ClassVar[weakref.WeakSet[Follower]] = weakref.WeakSet()

    @classmethod
    def stop_all(cls) -> None:
        """Stop every follower this process started: before the databases they follow go
        away on purpose (the test suite drops its own at the end)."""
        for follower in list(cls.started):
            follower.stop()

    def __init__(self, index_dir: Path, step: Callable[[], object], interval: float = 1.0,
                 alive: Callable[[], bool] = lambda: True) -> None:
        self.index_dir = Path(index_dir)
        self.step = step
        self.interval = interval
        self.alive = alive  # false once what it serves is gone: the thread ends
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._leader: IO[bytes] | None = None
        self._starting = threading.Lock()

    def start(self) -> None:
        with self._starting:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="search-follower",
                                                daemon=True)
                self._thread.start()
                Follower.started.add(self)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)

    def _run(self) -> None:
        try:
            while not self._stop.is_set() and self.alive():
                if self._leader is None:
                    self._leader = _flock(self.index_dir / LEADER, 0)
                if self._leader is not None:
                    try:
                        self.step()
                    except IndexBusy:
                        pass  # an ingest on this machine is catching up: next time
                    except Exception:  # the next round tries again; a web server stays up
                        logger.exception("search index not brought up to date")
                self._stop.wait(self.interval)
        finally:
            if self._leader is not None:
                self._leader.close()
