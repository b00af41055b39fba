"""Engine and session wiring. Nothing here runs at import time."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Engine,
    Select,
    create_engine,
    event,
    exists,
    func,
    insert,
    inspect,
    select,
)
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from listarchive.archive.models import (
    Base,
    ListStat,
    Patch,
    PatchSubsystem,
    SeriesSubsystem,
    ThreadList,
)
from listarchive.settings import Settings


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
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
            Base.metadata.create_all(engine)
            if fresh_links:
                _derive_series_subsystems(engine)
            if fresh_stats:
                derive_list_stats(engine)
            return
        except (OperationalError, ProgrammingError) as exc:
            if "already exists" not in str(exc) or attempt == 4:
                raise


def series_subsystem_links() -> Select[int | None, int]:
    """(series id, subsystem id) for every series, from its patches' subsystem links: what
    ``series_subsystems`` holds, derived."""
    return (select(Patch.series_id, PatchSubsystem.subsystem_id)
            .join(PatchSubsystem, PatchSubsystem.patch_id == Patch.id)
            .where(Patch.series_id.is_not(None)).distinct())


def list_stat_totals() -> Select[int, int, int | None]:
    """(list id, threads, messages) summed from the per-thread rows: what ``list_stats`` holds,
    derived."""
    return (select(ThreadList.list_id, func.count(), func.sum(ThreadList.message_count))
            .group_by(ThreadList.list_id))


def derive_list_stats(engine: Engine) -> None:
    """Fill the list totals of an archive made before they were kept. Lists that already have
    theirs are left alone: another process may have created the table a moment before this one
    looked, and be keeping them already (eight deliveries starting on a new archive at once)."""
    totals = list_stat_totals().subquery()
    with engine.begin() as conn:
        conn.execute(insert(ListStat).from_select(
            ["list_id", "threads", "messages"],
            select(totals).where(totals.c.list_id.not_in(select(ListStat.list_id)))))


def _derive_series_subsystems(engine: Engine) -> None:
    """Fill the series-subsystem links of an archive made before they existed (the ingest keeps
    them from then on; ``reindex`` and ``maintainers import`` rebuild them)."""
    links = series_subsystem_links().subquery()
    with engine.begin() as conn:
        conn.execute(insert(SeriesSubsystem).from_select(
            ["series_id", "subsystem_id"],
            select(links).where(~exists(select(SeriesSubsystem.series_id).where(
                SeriesSubsystem.series_id == links.c.series_id,
                SeriesSubsystem.subsystem_id == links.c.subsystem_id)))))
