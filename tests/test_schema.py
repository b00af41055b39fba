"""The archive's schema, versioned: created whole, upgraded by ``listarchive init`` from an
archive of the previous schema, refused by everything else until then, and never raced."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import backends
import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from ingest.worker import Worker, run_ingest
from listarchive.access.visibility import ANONYMOUS, Viewer
from listarchive.archive import listview, messageview, schema
from listarchive.archive.db import make_engine, open_archive
from listarchive.archive.models import Patch, PatchDiff, PatchLink, Series, Trailer
from listarchive.errors import TemporaryFailure
from listarchive.settings import Settings, from_mapping

DATA = Path(__file__).resolve().parent / "data"
EMBARGO = ["embargo-report-cover.eml", "embargo-report-patch1.eml", "embargo-report-patch2.eml",
           "embargo-reply-outsider.eml", "embargo-reply-public.eml"]
COVER = "embargo-cover-7f3a@secure-example.net"
ADMIN = Viewer(user="admin", is_admin=True)


def settings_in(tmp_path: Path) -> Settings:
    return from_mapping({"storage": {"data_dir": str(tmp_path / "instance")},
                         "search": {"enabled": False},
                         "lists": [{"name": "clk"}, {"name": "security", "restricted": True}]})


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    (tmp_path / "listarchive.toml").write_text(
        f'[storage]\ndata_dir = "{tmp_path / "instance"}"\n[search]\nenabled = false\n'
        '[[lists]]\nname = "clk"\n[[lists]]\nname = "security"\nrestricted = true\n')
    return subprocess.run([sys.executable, "-m", "listarchive.cli", *args], cwd=tmp_path,
                          capture_output=True, timeout=300)


def to_first_wave(settings: Settings) -> None:
    """Turn the archive back into what the previous schema (revision 0001) held: no trailer
    anchors, embargoes by thread only, no recorded revision."""
    engine = make_engine(settings, writer=True)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE embargo_members"))
        conn.execute(sa.text("DROP TABLE checks"))  # revision 0006
        conn.execute(sa.text("DROP TABLE outbox"))  # revision 0007
        conn.execute(sa.text("DROP TABLE follows"))
        conn.execute(sa.text("DROP TABLE review_comments"))  # revision 0008
        conn.execute(sa.text("DROP TABLE patch_diffs"))  # revision 0009
        for name in ("first_date", "root_msgid", "subject", "participants",
                     "participant_count"):  # revision 0010
            conn.execute(sa.text(f"ALTER TABLE thread_lists DROP COLUMN {name}"))
        for name in ("participants", "participant_count"):
            conn.execute(sa.text(f"ALTER TABLE threads DROP COLUMN {name}"))
        conn.execute(sa.text("ALTER TABLE users DROP COLUMN kind"))
        conn.execute(sa.text("DROP TABLE alembic_version"))
        conn.execute(sa.text("DROP TABLE patch_links"))  # revision 0011
        for name in ("ix_series_sender_title", "ix_series_change_id", "ix_patches_sender_date",
                     "ix_state_changes_evidence"):
            conn.execute(sa.text(f"DROP INDEX {name}"))
        conn.execute(sa.text("ALTER TABLE series DROP COLUMN title_key"))
        conn.execute(sa.text("DROP INDEX ix_trailers_anchor_msgid"))
        conn.execute(sa.text("ALTER TABLE trailers DROP COLUMN anchor_msgid"))
        conn.execute(sa.text("ALTER TABLE patches DROP COLUMN pull_head"))
        for name in ("ix_thread_lists_recent", "ix_threads_recent", "ix_series_recent"):
            conn.execute(sa.text(f"DROP INDEX {name}"))
        conn.execute(sa.text("CREATE INDEX ix_thread_lists_list_last "
                             "ON thread_lists (list_id, last_date)"))
        conn.execute(sa.text("CREATE INDEX ix_threads_last_date ON threads (last_date)"))
        conn.execute(sa.text("CREATE INDEX ix_series_date ON series (date)"))
    engine.dispose()


def series_lookups(settings: Settings) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """Each series' title key and each patch's pointers to earlier postings."""
    archive = open_archive(settings)
    with archive.sessions() as session:
        keys = sorted((sid, key) for sid, key in
                      session.execute(select(Series.id, Series.title_key)))
        links = sorted((pid, target) for pid, target in
                       session.execute(select(PatchLink.patch_id, PatchLink.target_msgid)))
    archive.close()
    return keys, links


def shape(settings: Settings) -> dict[str, tuple[set[str], set[str]]]:
    """Each table's columns and index names."""
    engine = make_engine(settings)
    with engine.connect() as conn:
        found = sa.inspect(conn)
        out = {t: ({c["name"] for c in found.get_columns(t)},
                   {str(i["name"]) for i in found.get_indexes(t)})
               for t in found.get_table_names()}
    engine.dispose()
    return out


def kept_diffs(settings: Settings) -> dict[int, tuple[bytes, bytes, str]]:
    archive = open_archive(settings)
    with archive.sessions() as session:
        found = {row.patch_id: (row.commit_message, row.diff, row.files) for row in
                 session.execute(select(PatchDiff.patch_id, PatchDiff.commit_message,
                                        PatchDiff.diff, PatchDiff.files))}
    archive.close()
    return found


def list_pages(settings: Settings) -> dict[str, tuple[listview.ThreadSummary, ...]]:
    """Each list's index as an administrator reads it (from the summaries kept per list)."""
    archive = open_archive(settings)
    with archive.sessions() as session:
        found = {}
        for name in ("clk", "security", listview.ALL):
            index = listview.list_index(session, ADMIN, name)
            assert index is not None
            found[name] = index.threads
    archive.close()
    return found


def anchored(settings: Settings) -> dict[int, str]:
    archive = open_archive(settings)
    with archive.sessions() as session:
        found = dict(session.execute(select(Trailer.id, Trailer.anchor_msgid)).all())
    archive.close()
    return {k: str(v) for k, v in found.items()}


def test_a_new_archive_is_created_at_the_newest_revision(tmp_path):
    settings = settings_in(tmp_path)
    archive = open_archive(settings)
    with archive.engine.connect() as conn:
        assert schema.revision(conn) == schema.head()
    archive.close()
    done = cli(tmp_path, "init")
    assert done.returncode == 0 and b"current" in done.stdout


def test_an_archive_of_the_previous_schema_is_upgraded_by_init(tmp_path):
    settings = settings_in(tmp_path)
    run_ingest(settings, [str(DATA / "series-v2-in-reply-to-v1.mbox"),
                          str(DATA / "pull-request-ref-on-its-own-line.eml")], "clk")
    run_ingest(settings, [str(DATA / name) for name in EMBARGO], "security")
    before = anchored(settings)
    assert sum(1 for a in before.values() if a) >= 2
    diffs = kept_diffs(settings)
    assert len(diffs) >= 3
    pages = list_pages(settings)
    assert all(pages.values()) and any(t.participant_count > 1 for t in pages["clk"])
    lookups = series_lookups(settings)
    assert all(key for _, key in lookups[0]) and lookups[1]
    to_first_wave(settings)

    # Nothing but init works on it, and nothing half-works: a delivery is told to retry.
    with pytest.raises(TemporaryFailure, match="listarchive init"):
        Worker(settings)
    delivery = cli(tmp_path, "ingest", "--list", "clk", "-")
    assert delivery.returncode == 75 and b"listarchive init" in delivery.stderr
    with pytest.raises(schema.SchemaError, match="listarchive init"):
        from listarchive.web import create_app
        create_app(settings)

    done = cli(tmp_path, "init")
    assert done.returncode == 0, done.stderr
    assert b"upgraded from 0001" in done.stdout and b"password" not in done.stdout
    if backends.POSTGRESQL:  # the tables it rewrote are analyzed, not left to autovacuum
        with make_engine(settings).connect() as conn:
            assert conn.exec_driver_sql(
                "SELECT analyze_count FROM pg_stat_user_tables"
                " WHERE relid = 'thread_lists'::regclass").scalar_one() >= 1
    fresh = replace(settings_in(tmp_path / "fresh"), database_url=backends.archive_url())
    open_archive(fresh).close()
    assert shape(settings) == shape(fresh), "the upgrade does not reach what a new archive is"
    assert anchored(settings) == before  # the anchors the ingest would have kept
    assert kept_diffs(settings) == diffs  # and the patches' diffs
    assert list_pages(settings) == pages  # and the lists' thread summaries
    assert series_lookups(settings) == lookups  # and what regrouping finds series by
    archive = open_archive(settings)
    with archive.sessions() as session:  # the pull request's head, which git-scan looks for
        assert list(session.scalars(select(Patch.pull_head).where(Patch.kind == "pull"))) == \
            ["1d4d15a8d7e9bc4f9a4cd1e1a5b1e0ae3d9c5ce2"]
    archive.close()
    archive = open_archive(settings)
    with archive.sessions() as session:
        assert messageview.find_message(session, ANONYMOUS, COVER) is None  # still hidden
    with archive.engine.connect() as conn:
        assert schema.revision(conn) == schema.head()
    archive.close()
    assert cli(tmp_path, "init").returncode == 0  # again: nothing to do


def test_an_archive_of_a_newer_listarchive_is_refused(tmp_path):
    settings = settings_in(tmp_path)
    open_archive(settings).close()
    engine = make_engine(settings, writer=True)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    done = cli(tmp_path, "init")
    assert done.returncode != 0 and b"newer version" in done.stderr


def test_processes_creating_one_archive_at_once_do_not_race(tmp_path):
    cli(tmp_path, "--help")  # writes the configuration only
    procs = [subprocess.Popen([sys.executable, "-m", "listarchive.cli", "init"], cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(8)]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, [err[-400:] for _, err in outputs]
    assert sum(b"(created" in out for out, _ in outputs) == 1
    settings = settings_in(tmp_path)
    archive = open_archive(settings)
    with archive.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Trailer)) == 0
    archive.close()
