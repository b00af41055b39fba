"""listarchive measured through its real command line, and served by granian as deployed.

Nothing is imported from the product: every figure comes from ``listarchive`` run as a child
process, exactly as a user runs it, so a broken or missing piece is recorded, not fatal.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.system import (
    Measured,
    du,
    free_port,
    run_measured,
    run_together,
    say,
    stop,
    wait_for_port,
)

LIST = "bench"
BIN = Path(sys.executable).parent
# The load client is one address asking for thousands of searches and downloads a minute: what
# the per-address rate limits exist to refuse (429). The served archives run without them.
NO_LIMITS = '[limits]\nsearch = ""\ndownload = ""\napi = ""\n\n'


@dataclass
class IngestResult:
    """One ingest of the corpus into a fresh archive (either system)."""

    system: str
    label: str
    messages: int
    raw_bytes: int
    ok: bool = False
    error: str = ""
    wall: float = 0.0
    cpu: float = 0.0
    max_rss_mb: float = 0.0
    max_anon_mb: float = 0.0  # sampled (bench.system): allocated, not mapped files
    stored: int = 0
    summary: dict[str, object] = field(default_factory=dict)
    disk: dict[str, int] = field(default_factory=dict)
    steps: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.messages / self.wall if self.ok and self.wall else 0.0

    @property
    def rate_cpu(self) -> float:
        return self.messages / self.cpu if self.ok and self.cpu else 0.0


def write_config(home: Path, search: bool, database_url: str = "") -> Path:
    """A fresh data folder and its TOML config (the keys of ``listarchive/settings.py``);
    ``database_url`` names a PostgreSQL database instead of SQLite in the data folder."""
    if home.exists():
        shutil.rmtree(home)
    (home / "data").mkdir(parents=True)
    cfg = home / "listarchive.toml"
    url = f'database_url = "{database_url}"\n' if database_url else ""
    cfg.write_text(
        "[storage]\n"
        f'data_dir = "{home / "data"}"\n{url}\n'
        "[search]\n"
        f"enabled = {'true' if search else 'false'}\n\n"
        f"{NO_LIMITS}"
        "[[lists]]\n"
        f'name = "{LIST}"\n'
        'address = "bench@example.org"\n'
        'description = "benchmark corpus"\n',
        encoding="utf-8",
    )
    return cfg


def run_cli(cfg: Path, *args: str, timeout: float = 900) -> Measured:
    """``listarchive -c CFG ARGS...`` run to completion, measured."""
    return run_measured([str(BIN / "listarchive"), "-c", str(cfg), *args], timeout=timeout)


def read_archive(db: Path, query: str, args: Sequence[object] = ()) -> list[tuple[Any, ...]]:
    """The rows of one query on an archive's SQLite file, opened read-only."""
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return list(conn.execute(query, tuple(args)))


def ingest_summary(stdout: str) -> dict[str, object]:
    """The JSON object ``listarchive ingest --json`` prints as its last line ({} without one)."""
    for line in reversed(stdout.strip().splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return {}


def disk_split(data: Path) -> dict[str, int]:
    """Bytes under the data folder: the SQL database, the search index, everything else."""
    out = {"database": 0, "search index": 0, "other": 0}
    if not data.exists():
        return out
    for entry in data.iterdir():
        if entry.name.startswith("listarchive.sqlite3"):
            out["database"] += du(entry)
        elif entry.name == "search":
            out["search index"] += du(entry)
        else:
            out["other"] += du(entry)
    return out


def ingest(mbox: Path, messages: int, raw_bytes: int, search: bool, home: Path,
           timeout: float, database_url: str = "",
           halves: tuple[Path, ...] = ()) -> IngestResult:
    """``listarchive init`` then ``listarchive ingest --json`` into a fresh archive.

    With ``halves`` (the corpus split in two), one ``listarchive ingest`` per half, all started
    at once into the one archive: wall time from the first start to the last exit, CPU seconds
    summed, peak RSS the largest worker's. ``database_url``: a PostgreSQL archive (its server's
    own memory is not in the figures)."""
    label = ("search on" if search else "search off") + (
        f", {len(halves)} workers" if halves else "")
    system = "listarchive on PostgreSQL" if database_url else "listarchive"
    res = IngestResult(system, label, messages, raw_bytes)
    exe = BIN / "listarchive"
    if not exe.exists():
        res.error = "the listarchive command is not installed"
        return res
    cfg = write_config(home, search, database_url)
    init = run_measured([str(exe), "-c", str(cfg), "init"], timeout=300)
    if init.returncode != 0:
        res.error = "init failed, " + init.failure()
        return res
    say(f"{system} ingest ({label}) of {messages} messages")
    runs = run_together([[str(exe), "-c", str(cfg), "ingest", "--list", LIST, "--json",
                          str(part)] for part in (halves or (mbox,))], timeout=timeout)
    res.wall = max(m.wall for m in runs)  # every worker starts at once
    res.cpu = sum(m.cpu for m in runs)
    res.max_rss_mb = max(m.max_rss_mb for m in runs)
    res.max_anon_mb = max(m.max_anon_mb for m in runs)
    summaries = [ingest_summary(m.stdout) for m in runs]
    res.summary = summaries[0] if len(runs) == 1 else {"workers": summaries}
    res.disk = disk_split(home / "data")
    res.steps = {"init": init.wall, **({"ingest": runs[0].wall} if len(runs) == 1 else
                                       {f"worker {i + 1}": m.wall for i, m in enumerate(runs)})}
    failed = [m for m in runs if m.returncode != 0 or m.timed_out]
    if failed:
        res.error = "; ".join(m.failure() for m in failed)
        return res
    res.ok = True
    new = [s.get("new", 0) for s in summaries]
    res.stored = sum(n for n in new if isinstance(n, int))
    say(f"  {res.rate:.0f} msg/s wall, {res.cpu:.0f} s CPU, peak RSS {res.max_rss_mb:.0f} MB "
        f"({res.max_anon_mb:.0f} MB anonymous)")
    return res


def serve(home: Path) -> tuple[subprocess.Popen[bytes] | None, int, str]:
    """The site on a loopback port, served as ``docs/deploy/listarchive-web.service`` serves it
    (granian, WSGI, one Python thread per worker) with 2 workers, as public-inbox-httpd gets 2;
    (None, 0, reason) when it cannot start."""
    check = subprocess.run([sys.executable, "-c", "from listarchive.web import create_app"],
                           capture_output=True, text=True)
    if check.returncode != 0:
        lines = check.stderr.strip().splitlines() or ["no output"]
        return None, 0, f"listarchive.web does not import: {lines[-1][:200]}"
    granian = BIN / "granian"
    if not granian.exists():
        return None, 0, "granian is not installed in the venv"
    port = free_port()
    env = dict(os.environ, LISTARCHIVE_CONFIG=str(home / "listarchive.toml"))
    log = (home / "server.log").open("wb")
    proc = subprocess.Popen([str(granian), *SERVER_ARGS, "--workers", "2",
                             "--host", "127.0.0.1", "--port", str(port), SITE],
                            env=env, stdout=log, stderr=log, start_new_session=True)
    if not wait_for_port(port, proc):
        stop(proc)
        tail = (home / "server.log").read_text(errors="replace").strip().splitlines()
        return None, 0, f"granian did not start: {(tail or ['no output'])[-1][:200]}"
    return proc, port, ""


# How the deployment unit runs the site (docs/deploy/listarchive-web.service), less its
# worker count and address.
SERVER_ARGS = ("--interface", "wsgi", "--blocking-threads", "1", "--no-ws", "--factory")
SITE = "listarchive.web:create_app"


@dataclass
class Incremental:
    """100 new messages into a built archive: when the last one is committed to the database,
    and when a search finds it (issues 8 and 19)."""

    messages: int
    ok: bool = False
    error: str = ""
    ingest_seconds: float = 0.0
    searchable_seconds: float = 0.0  # from the start of the ingest
    after_commit: float = 0.0  # from its commit in the database to the first search finding it


# Run in a child beside the ingest: polls the database (read-only) for the message's commit and
# then the search index, as a site process would ask it, every 10 ms; prints the two moments.
_POLL = """
import json, sqlite3, sys, time
from listarchive import settings
from listarchive.errors import SearchUnavailable
from listarchive.search import engine, querytree
s = settings.load(sys.argv[1])
mid, limit = sys.argv[2], float(sys.argv[3])
db = sqlite3.connect(f"file:{s.data_dir / 'listarchive.sqlite3'}?mode=ro", uri=True, timeout=5)
wanted = querytree.Term("msgid", mid)
print("ready", flush=True)
committed = found = None
start = time.monotonic()
while time.monotonic() - start < limit and found is None:
    now = time.monotonic()
    if committed is None and db.execute("SELECT 1 FROM messages WHERE msgid = ?",
                                        (mid,)).fetchone():
        committed = now
    if committed is not None:
        try:
            if engine.open_reader(s).search(wanted, per_page=1).total:
                found = time.monotonic()
        except SearchUnavailable:
            pass
    time.sleep(0.01)
print(json.dumps({"committed": committed, "found": found, "start": start}))
"""


def incremental(mbox: Path, messages: int, mid: str, home: Path,
                limit: float = 120.0) -> Incremental:
    """Ingest ``mbox`` into the archive at ``home`` while a child polls for the commit of
    ``mid`` in the database and for the search finding it."""
    res = Incremental(messages)
    exe = BIN / "listarchive"
    cfg = home / "listarchive.toml"
    poll = subprocess.Popen([str(BIN / "python"), "-c", _POLL, str(cfg), mid, str(limit)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        assert poll.stdout is not None
        if poll.stdout.readline().strip() != "ready":
            res.error = "the poller did not start"
            return res
        start = time.monotonic()
        m = run_measured([str(exe), "-c", str(cfg), "ingest", "--list", LIST, "--json",
                          str(mbox)], timeout=600)
        res.ingest_seconds = m.wall
        if m.returncode != 0:
            res.error = "ingest " + m.failure()
            return res
        out, err = poll.communicate(timeout=limit + 30)
    finally:
        if poll.poll() is None:
            stop(poll)
    found = ingest_summary(out)
    if not found.get("committed") or not found.get("found"):
        res.error = f"not searchable after {limit:.0f} s" if found else f"poller: {err[-200:]}"
        return res
    res.ok = True
    res.searchable_seconds = float(found["found"]) - start  # type: ignore[arg-type]
    res.after_commit = float(found["found"]) - float(found["committed"])  # type: ignore[arg-type]
    return res


REVIEW_SAMPLE = 50  # URLs of each review page the load client rotates through


def review_paths(home: Path, limit: int = REVIEW_SAMPLE) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Issue 22's pages in the archive served from ``home``, picked after its ingest (series
    ids are message ids, which the corpus scan does not know): ``/series/ID/interdiff`` of
    series with a previous revision (a lower revision number), and ``/patch/ID/`` of the
    patches with the most review comments placed on their diff lines. Empty when the archive
    has none (or no database)."""
    db = home / "data" / "listarchive.sqlite3"
    if not db.is_file():
        return (), ()
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        # A later revision number than the series it follows: copies of the same series in
        # the replicated corpora share change-ids and link to each other at one revision,
        # where the interdiff rightly says there is nothing earlier to compare with.
        newer = [r[0] for r in conn.execute(
            "SELECT DISTINCT r.newer_id FROM series_revisions r "
            "JOIN series n ON n.id = r.newer_id JOIN series o ON o.id = r.older_id "
            "WHERE n.revision > o.revision ORDER BY r.newer_id LIMIT ?", (limit,))]
        commented = [r[0] for r in conn.execute(
            "SELECT patch_id FROM review_comments GROUP BY patch_id "
            "ORDER BY count(*) DESC, patch_id LIMIT ?", (limit,))]
    return (tuple(f"/series/{i}/interdiff" for i in newer),
            tuple(f"/patch/{i}/" for i in commented))
