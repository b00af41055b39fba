"""Killing a real ingest (SIGKILL) at any moment, then re-running it, gives the archive that an
uninterrupted run gives: nothing lost, nothing doubled, no half-written thread."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import backends
import pytest

CONFIG = "[storage]\ndata_dir = 'instance'\n[search]\nenabled = false\n[ingest]\nbatch_size = 100\n"


def snapshot(db: Path) -> dict[str, object]:
    con = sqlite3.connect(db)
    try:
        msgs = con.execute("SELECT msgid, sha256 FROM messages ORDER BY msgid").fetchall()
        threads = con.execute(
            "SELECT group_concat(msgid, ' ') FROM (SELECT thread_id, msgid FROM messages "
            "ORDER BY msgid) GROUP BY thread_id").fetchall()
        stats = con.execute("SELECT root_msgid, message_count, last_date FROM threads "
                            "ORDER BY root_msgid").fetchall()
        patches = con.execute("SELECT msgid, kind, patch_id FROM patches ORDER BY msgid").fetchall()
        series = con.execute("SELECT anchor_msgid, revision, received, complete FROM series "
                             "ORDER BY anchor_msgid").fetchall()
        lists = con.execute("SELECT count(*) FROM message_lists").fetchone()
    finally:
        con.close()
    return {"messages": msgs, "threads": sorted(threads), "stats": stats, "lists": lists,
            "patches": patches, "series": series}


def ingest(cwd: Path, src: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "listarchive.cli", "ingest", "--list", "clk",
                             str(src)], cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


@pytest.fixture
def clean(clk_archive, tmp_path):
    """An uninterrupted run (the run's linux-clk archive, copied: ingested in batches of the
    default size, which must not matter either)."""
    with backends.copied(clk_archive[0], tmp_path / "clean") as settings:
        yield settings.data_dir


@pytest.mark.slow
@pytest.mark.sqlite_only
def test_sigkill_mid_ingest_then_rerun_equals_clean_run(tmp_path, corpora, clean):
    src = corpora / "lore" / "linux-clk-last10000.mboxrd.gz"
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    (crashed / "listarchive.toml").write_text(CONFIG)

    db = crashed / "instance" / "listarchive.sqlite3"
    kills = 0
    for wait_for in (500, 3000, 6000):  # kill at three different depths into the run
        proc = ingest(crashed, src)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                con = sqlite3.connect(db, timeout=1)
                n = con.execute("SELECT count(*) FROM messages").fetchone()[0]
                con.close()
            except sqlite3.Error:
                n = 0
            if n >= wait_for:
                break
            time.sleep(0.05)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait(timeout=60)
    assert kills >= 2
    assert ingest(crashed, src).wait(timeout=600) == 0
    assert snapshot(db) == snapshot(clean / "listarchive.sqlite3")
