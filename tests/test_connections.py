"""How the site and the workers hold their database connections: the site's reads open no
transaction on PostgreSQL, and a pooled connection is pinged only after sitting idle."""

from __future__ import annotations

import time

import backends
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import NullPool

from listarchive.archive import db as archive_db
from listarchive.archive.db import open_archive
from listarchive.settings import Settings


class FakeConnection:
    """A DBAPI connection that records what it was sent and in which mode."""

    def __init__(self, fails: bool = False) -> None:
        self.autocommit = False
        self.fails = fails
        self.sent: list[tuple[str, bool]] = []

    def execute(self, query: str) -> None:
        self.sent.append((query, self.autocommit))
        if self.fails:
            raise OSError("server closed the connection unexpectedly")


class FakeRecord:
    def __init__(self, idle: float | None) -> None:
        self.info: dict[str, float] = {}
        if idle is not None:
            self.info["used"] = time.monotonic() - idle


def test_a_connection_in_use_is_handed_out_without_a_ping() -> None:
    for idle in (None, 0.0, archive_db.PING_AFTER_IDLE / 2):  # new, just used, used lately
        conn = FakeConnection()
        archive_db._ping_when_idle(conn, FakeRecord(idle), None)
        assert conn.sent == [], idle


def test_an_idle_connection_is_pinged_outside_any_transaction() -> None:
    conn = FakeConnection()
    archive_db._ping_when_idle(conn, FakeRecord(archive_db.PING_AFTER_IDLE + 1), None)
    assert conn.sent == [(";", True)]
    assert conn.autocommit is False  # as it was


def test_an_idle_connection_that_is_dead_is_replaced() -> None:
    conn = FakeConnection(fails=True)
    with pytest.raises(DisconnectionError):  # the pool's signal to connect anew and retry
        archive_db._ping_when_idle(conn, FakeRecord(archive_db.PING_AFTER_IDLE + 1), None)
    assert conn.autocommit is False


def test_a_checked_in_connection_is_marked_used() -> None:
    record = FakeRecord(None)
    archive_db._note_use(FakeConnection(), record)
    assert time.monotonic() - record.info["used"] < 1


@pytest.mark.skipif(not backends.POSTGRESQL, reason="transactions on the wire are PostgreSQL's")
def test_the_sites_reads_open_no_transaction_and_its_writes_do(settings: Settings) -> None:
    """A page's statements each commit by themselves (no BEGIN and COMMIT round trips);
    a request that writes gets a transaction."""
    from listarchive.web import create_app
    from listarchive.web.context import db

    app = create_app(settings)
    for method, autocommit in (("GET", True), ("HEAD", True), ("POST", False)):
        with app.test_request_context("/", method=method):
            session = db()
            session.execute(text("SELECT 1"))
            dbapi = session.connection().connection.dbapi_connection
            assert dbapi is not None
            assert dbapi.autocommit is autocommit, method
            status = dbapi.info.transaction_status.name  # type: ignore[attr-defined]
            assert status == ("IDLE" if autocommit else "INTRANS"), method


@pytest.mark.skipif(not backends.POSTGRESQL, reason="a server that goes away is PostgreSQL's")
def test_a_pooled_connection_whose_server_went_away_is_replaced_unseen(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = open_archive(settings)
    try:
        session, other = archive.readers(), archive.sessions()
        first = session.scalar(text("SELECT pg_backend_pid()"))
        assert other.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        session.close()  # back to the pool first (a commit would return the other's first):
        other.close()  # the next to be handed out
        monkeypatch.setattr(archive_db, "PING_AFTER_IDLE", 0.0)  # every connection has idled
        with archive.readers() as session:
            again = session.scalar(text("SELECT pg_backend_pid()"))
        assert again is not None and again != first
    finally:
        archive.close()


@pytest.mark.skipif(not backends.POSTGRESQL, reason="a server that goes away is PostgreSQL's")
def test_a_page_whose_connection_was_lost_answers_503_and_the_next_one_reconnects(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """A connection used moments ago is not pinged: when its server restarted meanwhile, its
    page is a 503 with Retry-After (never a 500), and the next page is served."""
    from listarchive.web import create_app
    from listarchive.web.context import db

    app = create_app(settings)
    client = app.test_client()
    assert client.get("/").status_code == 200
    with app.test_request_context("/"):  # the pool's one connection, which that page used
        pid = db().scalar(text("SELECT pg_backend_pid()"))
    outside = create_engine(settings.db_url, poolclass=NullPool)
    with outside.connect() as conn:
        assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    outside.dispose()
    monkeypatch.setattr(archive_db, "PING_AFTER_IDLE", 1e9)
    lost = client.get("/")
    assert lost.status_code == 503
    assert lost.headers["Retry-After"].isdigit()
    assert b"try again" in lost.data
    assert client.get("/").status_code == 200


@pytest.mark.skipif(backends.POSTGRESQL, reason="a memory map of the file is SQLite's")
def test_the_site_reads_the_file_mapped_and_the_workers_do_not(settings: Settings) -> None:
    """Pages read SQLite's file through a memory map; ingest and reindex, which touch most of
    it, read without one (the pages would count in their memory)."""
    from listarchive.web import create_app
    from listarchive.web.context import db

    app = create_app(settings)
    with app.test_request_context("/"):
        assert db().scalar(text("PRAGMA mmap_size")) == archive_db.MMAP_BYTES
    for writer in (False, True):
        archive = open_archive(settings, writer=writer)
        try:
            with archive.readers() as session:
                assert session.scalar(text("PRAGMA mmap_size")) == 0, writer
        finally:
            archive.close()
