"""Opening an archive: engine, sessions and schema. Nothing here runs at import time.

:func:`open_archive` is the one way in, for the command line, the demo, the site and the ingest
worker alike.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from listarchive.archive import derived
from listarchive.archive.models import Base
from listarchive.errors import TemporaryFailure
from listarchive.settings import Settings


@dataclass(frozen=True)
class Archive:
    """An opened archive: its engine and the factory of its sessions."""

    engine: Engine
    sessions: sessionmaker[Session]

    def close(self) -> None:
        self.engine.dispose()


def open_archive(settings: Settings, writer: bool = False) -> Archive:
    """Connect to the archive of ``settings`` and bring its schema up to date.

    ``writer`` is for processes that store mail (see :func:`make_engine`). A database that is
    locked or unreachable is a :class:`~listarchive.errors.TemporaryFailure`: a mail server
    delivering the message retries later.
    """
    engine = make_engine(settings, writer=writer)
    try:
        init_db(engine)
    except OperationalError as exc:
        engine.dispose()
        raise TemporaryFailure(f"database unavailable: {exc.orig}") from exc
    return Archive(engine, make_sessionmaker(engine))


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=30000")
    # Switching a new database to WAL needs a moment alone with it, and SQLite answers "locked"
    # at once instead of waiting when another process is creating the same file (two mail
    # deliveries to a new archive): retry for a while. Once in WAL, the mode is kept in the file.
    for attempt in range(100):
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError:
            if attempt == 99:
                raise
            time.sleep(0.05)
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA cache_size=-65536")
    cur.close()


def make_engine(settings: Settings, writer: bool = False) -> Engine:
    """The engine for readers (the site), or with ``writer`` for the ingest worker.

    SQLite has one writer at a time. A writer's transactions start with ``BEGIN IMMEDIATE``: it
    waits for the write lock up front (busy_timeout), instead of reading first and then failing
    to upgrade when another process wrote in between (two deliveries from a mail server at once).
    """
    url = settings.db_url
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "isolation_level": None}
                               if writer else {"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        if writer:
            event.listen(engine, "begin", _begin_immediate)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _begin_immediate(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def init_db(engine: Engine) -> None:
    """Create every table that is missing (idempotent).

    Two processes may start at once (a mail server delivering two messages): both see a table
    missing and one loses the race to create it. The loser simply checks again.
    """
    for attempt in range(5):
        try:
            have = inspect(engine)
            fresh_links = not have.has_table("series_subsystems")
            fresh_stats = not have.has_table("list_stats")
            unanchored = have.has_table("trailers") and "anchor_msgid" not in {
                c["name"] for c in have.get_columns("trailers")}
            headless = have.has_table("patches") and "pull_head" not in {
                c["name"] for c in have.get_columns("patches")}
            Base.metadata.create_all(engine)
            if unanchored:
                _add_anchor_column(engine)
                derived.fill_trailer_anchors(engine)
            if headless:
                _add_pull_head_column(engine)
                derived.fill_pull_heads(engine)
            if fresh_links:
                derived.fill_series_subsystems(engine)
            if fresh_stats:
                derived.fill_list_stats(engine)
            return
        except (OperationalError, ProgrammingError) as exc:
            if "already exists" not in str(exc) or attempt == 4:
                raise




def _add_pull_head_column(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE patches ADD COLUMN pull_head VARCHAR(40) "
                             "NOT NULL DEFAULT ''")


def _add_anchor_column(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE trailers ADD COLUMN anchor_msgid VARCHAR(500) "
                             "NOT NULL DEFAULT ''")
        conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS ix_trailers_anchor_msgid "
                             "ON trailers (anchor_msgid)")
