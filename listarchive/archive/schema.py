"""The archive's schema, versioned with Alembic (revisions in :mod:`listarchive.migrations`).

A new archive is created whole from the models and stamped with the newest revision, by
whichever process opens it first (the first delivery of a mail server, ``listarchive init``, the
site). An archive at an older revision is upgraded by ``listarchive init`` only: every other
command and the site refuse it with a message that says so, rather than half-work on a schema
they do not know (several ingest workers and web servers sharing one PostgreSQL database must
not race to upgrade it). An archive made by a newer listarchive is refused too.

Creating and upgrading happen in one transaction under one lock (SQLite: ``BEGIN IMMEDIATE``;
PostgreSQL: a transaction-level advisory lock), so processes starting at once never race in
``CREATE TABLE``: the first creates, the others wait and find it done.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, func, inspect, select, text
from sqlalchemy.exc import DBAPIError

from listarchive.archive.models import Base
from listarchive.errors import TemporaryFailure

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported where a schema is created, stamped or upgraded, not to find an archive
# current: its import was a tenth of what every delivery from the mail server cost.

MIGRATIONS = Path(__file__).parent.parent / "migrations"
BASELINE = "0001"  # what an archive made before revisions were recorded is
LOCK_KEY = 7_266_311_802  # the advisory lock of schema changes on PostgreSQL


class SchemaError(TemporaryFailure):
    """The archive's schema is not the one this listarchive runs on; the message says what to
    do. A temporary failure: a mail server delivering meanwhile keeps the mail and retries."""


def _config(connection: Connection) -> Config:
    from alembic.config import Config  # noqa: PLC0415

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    """The newest revision this listarchive knows, as Alembic reads the migrations."""
    from alembic.script import ScriptDirectory  # noqa: PLC0415

    found = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert found is not None
    return found


def newest_by_name() -> str:
    """The newest revision from the migrations' file names alone (``r0009_...py`` is revision
    ``0009``; a test holds them to what :func:`head` reads)."""
    return max(path.name[1:5] for path in (MIGRATIONS / "versions").glob("r[0-9][0-9][0-9][0-9]_*.py"))


def revision(connection: Connection) -> str | None:
    """The archive's recorded revision; :data:`BASELINE` for an archive made before revisions
    were recorded; None for an empty database."""
    tables = set(inspect(connection).get_table_names())
    if "messages" not in tables:
        return None
    if "alembic_version" not in tables:
        return BASELINE
    found = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().first()
    return found or BASELINE


def prepare(engine: Engine, upgrade: bool = False) -> str:
    """Create the schema of an empty database, check an existing one, and with ``upgrade``
    bring an older one to the newest revision. Returns what was done: ``created``,
    ``current`` or ``upgraded from REV``. Raises :class:`SchemaError` for an archive this
    listarchive may not use as it is."""
    done = _prepare(engine, upgrade)
    if done.startswith("upgraded") and engine.dialect.name == "postgresql":
        # An upgrade may rewrite whole tables (0010 fills every thread's summaries): the planner
        # gets their statistics now, not at autovacuum's next turn. Upgraded to 0010, the 100k
        # bench archive's list index had 2.26x SQLite's p95 at one client before an analyze,
        # 1.39x after.
        try:
            analyze(engine)
        except DBAPIError as exc:  # the schema is upgraded all the same
            logger.warning("statistics not taken after the upgrade (autovacuum takes them "
                           "in its turn): %s", exc.orig)
    return done


def analyze(engine: Engine) -> None:
    """PostgreSQL: the planner's statistics of every table taken anew, outside a transaction
    (``ANALYZE`` blocks no reader or writer)."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE")


def _prepare(engine: Engine, upgrade: bool) -> str:
    newest = newest_by_name()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(select(func.pg_advisory_xact_lock(LOCK_KEY)))
        found = revision(conn)
        if found == newest:
            return "current"
        from alembic import command  # noqa: PLC0415
        from alembic.script import ScriptDirectory  # noqa: PLC0415

        known = {s.revision for s in ScriptDirectory(str(MIGRATIONS)).walk_revisions()}
        if found is None:
            Base.metadata.create_all(conn)
            command.stamp(_config(conn), newest)
            return "created"
        if found not in known:
            raise SchemaError(f"the archive's schema is at revision {found}, which this "
                              f"listarchive does not know (newest: {newest}): it was made by a "
                              f"newer version")
        if not upgrade:
            raise SchemaError(f"the archive's schema is at revision {found} and this "
                              f"listarchive needs {newest}: run `listarchive init` to upgrade it")
        if "alembic_version" not in set(inspect(conn).get_table_names()):
            command.stamp(_config(conn), BASELINE)
        command.upgrade(_config(conn), newest)
        return f"upgraded from {found}"
