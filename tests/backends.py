"""The database the tests run on: SQLite (each archive its own file, the default) or a real
PostgreSQL server, chosen for the whole run by ``LISTARCHIVE_TEST_BACKEND=postgresql`` with
``LISTARCHIVE_TEST_DATABASE_URL`` naming the server (``.ci/pg-start`` starts a throw-away one).

On PostgreSQL every test that makes an archive gets a schema of its own in that database, named
through ``$LISTARCHIVE_DATABASE_URL`` (which the archive reads when its configuration names no
database, in the test process and in the commands it runs alike); each module gets one for the
archives its module fixtures build; the archives built once for the whole run name theirs
(:func:`archive_url`). Schemas are dropped when their test or module ends. Under pytest-xdist
each worker makes its schemas in a database of its own (:func:`run_database_url`), dropped when
it ends.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import NoReturn, TypeVar

from sqlalchemy import Engine, create_engine, event, make_url

from listarchive.settings import DATABASE_URL_ENV, Settings

F = TypeVar("F", bound=Callable[..., object])

BACKEND = os.environ.get("LISTARCHIVE_TEST_BACKEND", "sqlite")
SERVER_URL = os.environ.get("LISTARCHIVE_TEST_DATABASE_URL", "")
POSTGRESQL = BACKEND == "postgresql"

# The pytest-xdist worker this process is ("gw0", "gw1"...; "" when the tests run in one process).
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")

_server: Engine | None = None
_admin: Engine | None = None
_run_url: str | None = None
# Module fixtures that build an archive (in the module's schema): a test using one works in
# that schema too, so that the commands it runs on the archive find it.
ARCHIVE_FIXTURES: set[Callable[..., object]] = set()


def archive_fixture(func: F) -> F:
    """Mark a module fixture that builds an archive (see :data:`ARCHIVE_FIXTURES`)."""
    ARCHIVE_FIXTURES.add(func)
    return func


def server() -> Engine:
    """Connected to the server's own database: makes and drops databases."""
    global _server
    if _server is None:
        _server = create_engine(SERVER_URL, isolation_level="AUTOCOMMIT")
    return _server


def run_database_url() -> str:
    """The database this process makes its schemas in: the server's, or under pytest-xdist one
    of each worker's own. Advisory locks (the writers' lock) are per database, so two workers'
    archives in one database would wait for each other, and a test holding that lock on
    purpose would hold up the other worker's."""
    global _run_url
    if _run_url is None:
        _run_url = SERVER_URL
        if WORKER:
            name = f"w_{os.environ.get('PYTEST_XDIST_TESTRUNUID', '')[:12]}_{WORKER}"
            with server().connect() as conn:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                conn.exec_driver_sql(f"CREATE DATABASE {name}")
            _run_url = _database_url(name)
    return _run_url


def drop_run_database() -> None:
    """Drop a worker's database (:func:`run_database_url`) with every schema left in it."""
    global _admin
    if _run_url is None or _run_url == SERVER_URL:
        return
    if _admin is not None:
        _admin.dispose()
        _admin = None
    with server().connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {make_url(_run_url).database} WITH (FORCE)")


def admin() -> Engine:
    global _admin
    if _admin is None:
        _admin = create_engine(run_database_url(), isolation_level="AUTOCOMMIT")
    return _admin


def new_schema() -> tuple[str, str]:
    """A fresh, empty schema and the URL that makes it the archive's."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    with admin().connect() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {name}")
    base = run_database_url()
    sep = "&" if "?" in base else "?"
    return name, f"{base}{sep}options=-csearch_path%3D{name}"


def drop_schema(name: str) -> None:
    with admin().connect() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {name} CASCADE")


def _database_url(name: str) -> str:
    return make_url(SERVER_URL).set(database=name).render_as_string(hide_password=False)


@contextmanager
def template_url() -> Iterator[str]:
    """The database URL for an archive built once and copied whole by :func:`copied` for each
    test that changes it ('' on SQLite: a file in its data folder). On PostgreSQL it is a
    database of its own, dropped when the block ends: the server copies a database, not a
    schema."""
    if not POSTGRESQL:
        yield ""
        return
    name = f"tpl_{uuid.uuid4().hex[:16]}"
    with server().connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield _database_url(name)
    finally:
        with server().connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextmanager
def copied(source: Settings, data_dir: Path) -> Iterator[Settings]:
    """A copy of the archive of ``source`` (built with a :func:`template_url`) in ``data_dir``,
    as it was when copied: its data folder, its SQLite file read through SQLite, on PostgreSQL
    its database (dropped when the block ends). The copy's settings name its database, and so
    does ``$LISTARCHIVE_DATABASE_URL`` while the block runs, for the commands a test runs."""
    db_file = source.data_dir / "listarchive.sqlite3"
    if source.data_dir.exists():  # on PostgreSQL, an archive without search writes no file
        shutil.copytree(source.data_dir, data_dir, ignore=lambda folder, names: [
            n for n in names if n.startswith(db_file.name)] if Path(folder) == source.data_dir
            else [])
    if not POSTGRESQL:
        if db_file.exists():
            with closing(sqlite3.connect(db_file)) as src, \
                    closing(sqlite3.connect(data_dir / db_file.name)) as dest:
                src.backup(dest)
        yield replace(source, data_dir=data_dir)
        return
    template = make_url(source.database_url).database
    name = f"t_{uuid.uuid4().hex[:16]}"
    with server().connect() as conn:
        # The server copies a database nobody is connected to: the builder's pooled sessions go.
        conn.exec_driver_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = %s AND pid <> pg_backend_pid()", (template,))
        conn.exec_driver_sql(f"CREATE DATABASE {name} TEMPLATE {template}")
    url = _database_url(name)
    saved_env = os.environ.get(DATABASE_URL_ENV)
    os.environ[DATABASE_URL_ENV] = url
    try:
        yield replace(source, data_dir=data_dir, database_url=url)
    finally:
        if saved_env is None:
            os.environ.pop(DATABASE_URL_ENV, None)
        else:
            os.environ[DATABASE_URL_ENV] = saved_env
        with server().connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextmanager
def no_database(who: str) -> Iterator[None]:
    """Any database opened in the block raises, in this process (SQLAlchemy or sqlite3) and in
    the commands it runs (their database URL names no server)."""
    def refuse(*_args: object, **_kwargs: object) -> NoReturn:
        raise AssertionError(f"{who} is marked pure but opened a database: remove the mark, so "
                             "that it runs on PostgreSQL too")

    saved_env, saved_connect = os.environ.get(DATABASE_URL_ENV), sqlite3.connect
    os.environ[DATABASE_URL_ENV] = "postgresql+psycopg://marked-pure@127.0.0.1:1/none"
    sqlite3.connect = refuse  # type: ignore[assignment]
    event.listen(Engine, "do_connect", refuse)
    try:
        yield
    finally:
        event.remove(Engine, "do_connect", refuse)
        sqlite3.connect = saved_connect
        if saved_env is None:
            os.environ.pop(DATABASE_URL_ENV, None)
        else:
            os.environ[DATABASE_URL_ENV] = saved_env


_kept: list[str] = []


def archive_url() -> str:
    """The database URL for an archive built once for the whole run ('' on SQLite: a file in
    its data folder). Its schema stays until the server is thrown away."""
    if not POSTGRESQL:
        return ""
    name, url = new_schema()
    _kept.append(name)
    return url


def count_messages(data_dir: Path) -> int:
    """How many messages the archive in ``data_dir`` holds (on either database)."""
    from sqlalchemy import func, select

    from listarchive.archive.db import open_archive
    from listarchive.archive.models import Message
    from listarchive.settings import from_mapping

    archive = open_archive(from_mapping({"storage": {"data_dir": str(data_dir)},
                                         "search": {"enabled": False}}))
    try:
        with archive.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(Message)) or 0)
    finally:
        archive.close()


@contextmanager
def writes_held(data_dir: Path) -> Iterator[None]:
    """Hold the archive's write lock, as a long transaction of another writer would."""
    from listarchive.archive.db import WRITER_LOCK, make_engine
    from listarchive.settings import from_mapping

    engine = make_engine(from_mapping({"storage": {"data_dir": str(data_dir)},
                                       "search": {"enabled": False}}))
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN EXCLUSIVE")
            else:
                conn.exec_driver_sql(f"SELECT pg_advisory_lock({WRITER_LOCK})")
            try:
                yield
            finally:
                if conn.dialect.name == "sqlite":
                    conn.exec_driver_sql("ROLLBACK")
                else:
                    conn.exec_driver_sql(f"SELECT pg_advisory_unlock({WRITER_LOCK})")
    finally:
        engine.dispose()
