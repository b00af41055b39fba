"""Opening an archive: engine, sessions and schema. Nothing here runs at import time.

:func:`open_archive` is the one way in, for the command line, the demo, the site and the ingest
worker alike.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, DisconnectionError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from listarchive.archive import schema
from listarchive.errors import TemporaryFailure
from listarchive.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Archive:
    """An opened archive: its engine and the factories of its sessions."""

    engine: Engine
    sessions: sessionmaker[Session]
    # Sessions that only read (the site's GET and HEAD requests). On PostgreSQL each of their
    # statements commits by itself: no BEGIN and COMMIT around a page's few statements, two
    # round trips of the five to eight a page makes. Nothing is lost: at READ COMMITTED each
    # statement of a transaction sees its own snapshot anyway. And closing such a session
    # sends no ROLLBACK, at which psycopg forgets its prepared statements (the server then
    # planned each of a page's statements anew at every request). On SQLite a read starts
    # no transaction; the same factory serves.
    readers: sessionmaker[Session]

    @property
    def reader_engine(self) -> Engine:
        """The engine of :attr:`readers`, for a read on a bare connection."""
        bind = self.readers.kw["bind"]
        assert isinstance(bind, Engine)
        return bind

    def close(self) -> None:
        self.engine.dispose()


def open_archive(settings: Settings, writer: bool = False, upgrade: bool = False,
                 mapped: bool = False) -> Archive:
    """Connect to the archive of ``settings``, creating its schema in an empty database.

    ``writer`` is for processes that store mail (see :func:`make_engine`); ``upgrade`` (only
    ``listarchive init`` and the demo) brings an older schema up to date, which everything else
    refuses (:mod:`listarchive.archive.schema`); ``mapped``: see :func:`make_engine`. A
    database that is locked or unreachable is a :class:`~listarchive.errors.TemporaryFailure`:
    a mail server delivering the message retries later.
    """
    engine = make_engine(settings, writer=writer, mapped=mapped)
    prepared = make_engine(settings, writer=True) if not writer else engine
    try:
        schema.prepare(prepared, upgrade=upgrade)
    except (OperationalError, IntegrityError) as exc:
        engine.dispose()
        raise TemporaryFailure(f"database unavailable: {exc.orig}") from exc
    except BaseException:
        engine.dispose()
        raise
    finally:
        if prepared is not engine:
            prepared.dispose()
    readers = engine
    if engine.dialect.name == "postgresql":
        readers = engine.execution_options(isolation_level="AUTOCOMMIT")
    return Archive(engine, make_sessionmaker(engine), make_sessionmaker(readers))


def insert_new(session: Session, model: Any) -> Any:
    """An INSERT into ``model``'s table that skips the rows whose key is there already
    (``ON CONFLICT DO NOTHING``, which both databases speak): what two processes storing the
    same fact at once both get to do."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(model).on_conflict_do_nothing()


CACHE_KIB = 16384

# The execution option for a statement whose shape changes from one call to the next (an OR of
# one condition per item of a batch): SQLAlchemy would keep each shape's compiled form, with
# its expressions, in the engine's cache for the rest of the run, and the next batch's shape
# rarely matches one of them. Over a 100k-message ingest those shapes were 110 of the cache's
# 190 entries; without them the ingest's peak RSS went from 282 to 234 MB.
UNCACHED = {"compiled_cache": None}


# How much of the database file a site's connection maps into memory (``mapped``) instead of
# copying pages through read(): the pages stay the operating system's, shared by every worker
# and reclaimable. A search page's fifty records read from pages out of the connection's cache
# took 1.1-1.5 ms through read() and 0.95-1.05 ms mapped (100k messages, 50 ids at random).
# Processes that scan the archive (ingest, reindex) read without it: the pages they touch would
# count as theirs in every measure of their memory.
MMAP_BYTES = 1 << 30


def _sqlite_pragmas(dbapi_conn: Any, wait: float, mapped: bool) -> None:
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout={int(wait * 1000)}")
    # Switching a new database to WAL needs a moment alone with it, and SQLite answers "locked"
    # at once instead of waiting when another process is creating the same file (two mail
    # deliveries to a new archive): retry for a while. Once in WAL, the mode is kept in the file.
    tries = max(1, int(wait / 0.05))
    for attempt in range(tries):
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError:
            if attempt == tries - 1:
                raise
            time.sleep(0.05)
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    # Pages a connection keeps in its own cache, in KiB. The operating system caches the file
    # too; a larger cache made no measurable difference to ingest CPU on a 10k linux-clk import,
    # while 64 MiB per connection was 70 MB of the worker's peak RSS.
    cur.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
    if mapped:
        cur.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
    cur.close()


def make_engine(settings: Settings, writer: bool = False, mapped: bool = False) -> Engine:
    """The engine for readers (the site), or with ``writer`` for the ingest worker; ``mapped``
    (the site's pages, on SQLite): reads through a memory map of the file (:data:`MMAP_BYTES`).

    SQLite has one writer at a time. A writer's transactions start with ``BEGIN IMMEDIATE``: it
    waits for the write lock up front (busy_timeout), instead of reading first and then failing
    to upgrade when another process wrote in between (two deliveries from a mail server at once).
    """
    url = settings.db_url
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        wait = settings.lock_timeout
        engine = create_engine(url, connect_args={"timeout": wait, "isolation_level": None}
                               if writer else {"timeout": wait})
        event.listen(engine, "connect", lambda conn, record: _sqlite_pragmas(conn, wait, mapped))
        if writer:
            event.listen(engine, "begin", _begin_immediate)
        return engine
    # A writer waits for the writers' lock at most lock_timeout, then fails as a temporary
    # failure; statements of the site never wait on a lock for long either.
    given = make_url(url).query.get("options", "")
    options = " ".join(filter(None, [given if isinstance(given, str) else " ".join(given),
                                     f"-c lock_timeout={int(settings.lock_timeout * 1000)}"]))
    engine = create_engine(url, pool_size=settings.pool_size,
                           max_overflow=settings.pool_overflow, pool_recycle=3600,
                           connect_args={"options": options})
    event.listen(engine, "checkout", _ping_when_idle)
    event.listen(engine, "checkin", _note_use)
    if writer:
        event.listen(engine, "begin", _writer_lock)
    return engine


# A pooled connection unused this long is pinged before it is handed out (see _ping_when_idle).
PING_AFTER_IDLE = 10.0


def _ping_when_idle(dbapi_conn: Any, record: Any, proxy: Any) -> None:
    """Ping a pooled connection before use only when it sat idle ``PING_AFTER_IDLE`` seconds.

    SQLAlchemy's ``pool_pre_ping`` pings at every checkout: a round trip per page, one of the
    five a message page made. A connection that served a request seconds ago is alive unless
    the server restarted since; the first statement on such a connection then fails, and the
    pool replaces all its connections. One that sat idle longer (a server restart, a
    firewall's timeout) is pinged, and replaced before anyone uses it if it is dead."""
    del proxy
    last = record.info.get("used")
    if last is None or time.monotonic() - last < PING_AFTER_IDLE:
        return
    try:
        was = dbapi_conn.autocommit
        dbapi_conn.autocommit = True  # the ping must not open a transaction
        try:
            dbapi_conn.execute(";")
        finally:
            dbapi_conn.autocommit = was
    except Exception as exc:  # anything the driver raises: the connection is not usable
        raise DisconnectionError(f"idle connection is dead: {exc}") from exc


def _note_use(dbapi_conn: Any, record: Any) -> None:
    del dbapi_conn
    record.info["used"] = time.monotonic()


def _writer_lock(conn: Any) -> None:
    """PostgreSQL: a writer's transaction waits for the others', as on SQLite. Deliveries and
    bulk ingests then never race in threading, series or totals (each reads what it updates),
    while parsing, the costly part, runs outside the lock in every worker at once; readers are
    never held up."""
    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITER_LOCK})")


def lock_writes(session: Session) -> None:
    """Take the writers' lock in a session of a reader engine that is about to write (a state
    change from the site): on SQLite the database's own lock does it."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"SELECT pg_advisory_xact_lock({WRITER_LOCK})"))


WRITER_LOCK = 7_266_311_801  # the advisory lock of every transaction that stores mail


def _begin_immediate(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


class PlannerStatistics:
    """Keeps PostgreSQL's table statistics in step with a bulk import.

    PostgreSQL plans each statement from the statistics its last ``ANALYZE`` took, and
    autovacuum takes them once a minute at best. While an import fills a young archive they
    describe tables a fraction of their real size: the lookup of a batch's 500 Message-IDs was
    then planned as a scan of the whole messages table (100 ms a batch at 20,000 messages,
    against a few milliseconds by its index). So an import analyzes the database each time the
    messages it stored outnumber those the statistics counted: a dozen times in a million
    messages, never for one delivery. ``engine``: one whose connections take no lock on
    beginning (the reader's); on SQLite this does nothing."""

    LEAST = 1000  # new messages before the first ANALYZE of an import

    def __init__(self, engine: Engine) -> None:
        self.engine = engine if engine.dialect.name == "postgresql" else None
        self.counted = -1.0  # messages in the statistics (pg_class.reltuples; -1: not read)
        self.fresh = 0  # messages stored since

    def stored(self, new: int) -> None:
        """``new`` messages were committed: analyze when they outnumber those counted."""
        if self.engine is None or not new:
            return
        self.fresh += new
        try:
            if self.counted < 0:
                self.counted = self._counted()
            if self.fresh <= max(self.LEAST, self.counted):
                return
            schema.analyze(self.engine)
            self.counted, self.fresh = self._counted(), 0
        except DBAPIError as exc:  # autovacuum at it, a lock timeout: the next batch tries again
            logger.debug("ANALYZE after %d new messages not run: %s", self.fresh, exc.orig)

    def _counted(self) -> float:
        with self.engine.connect() as conn:  # type: ignore[union-attr]
            return float(conn.exec_driver_sql(
                "SELECT reltuples FROM pg_class WHERE oid = 'messages'::regclass").scalar_one())
