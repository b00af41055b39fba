"""Several writers into one archive at once, as a real list has them: two bulk imports and
eight mail-server deliveries at the same moment, into SQLite or a shared PostgreSQL.

Every message must be stored exactly once, every process must exit 0 or 75 (75 is a retry the
mail server makes), and everything derived from the mail (threads and their roots, series and
their revisions, trailers and their anchors, people, list totals) must equal what one process
ingesting the same input in sequence makes."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import backends
import pytest
from mailfixtures import first_messages
from sqlalchemy import select
from sqlalchemy.orm import aliased

from listarchive.archive.db import open_archive
from listarchive.archive.derived import list_stat_totals
from listarchive.archive.models import (
    ListStat,
    Message,
    Patch,
    Person,
    Series,
    SeriesRevision,
    Thread,
    ThreadList,
    Trailer,
)
from listarchive.settings import load

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "lore" / \
    "linux-clk-last10000.mboxrd.gz"
MESSAGES = 360
DELIVERIES = 8
BULK = "bulk.toml"


def split_mbox(data: bytes) -> list[bytes]:
    """The messages of an mboxrd file, each with its From_ line."""
    out: list[list[bytes]] = []
    prev_blank = True
    for line in data.splitlines(keepends=True):
        if line.startswith(b"From ") and prev_blank:
            out.append([])
        out[-1].append(line)
        prev_blank = line.strip() == b""
    return [b"".join(m) for m in out]


def as_delivered(message: bytes) -> bytes:
    """One mboxrd message as a mail server pipes it: no From_ line, no >From quoting."""
    lines = message.splitlines(keepends=True)[1:]
    return b"".join(line[1:] if line.lstrip(b">").startswith(b"From ") and line.startswith(b">")
                    else line for line in lines)


def archive_dir(base: Path, url: str) -> Path:
    """A folder whose listarchive.toml has the mail server's deliveries give up on the write
    lock after 2 s (then retried), and whose bulk.toml, for the same archive, has the bulk
    imports wait as long as a busy machine makes them: they must never give up."""
    base.mkdir()
    database = f"database_url = '{url}'\n" if url else ""
    for name, wait in (("listarchive.toml", 2), (BULK, 120)):
        (base / name).write_text(
            f"[storage]\ndata_dir = 'instance'\n{database}lock_timeout = {wait}\n"
            "[search]\nenabled = false\n")
    return base


def start(args: list[str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "listarchive.cli", *args], cwd=cwd,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def deliver_until_stored(cwd: Path, raws: list[bytes]) -> list[int]:
    """Deliver every message at once; retry those answered 75 as a mail server does. The
    first answers, one per message."""
    first: list[int] = []
    pending = raws
    for attempt in range(20):
        procs = [start(["ingest", "--list", "linux-clk", "-"], cwd) for _ in pending]
        results = [p.communicate(raw, timeout=600) for p, raw in zip(procs, pending, strict=True)]
        codes = [p.returncode for p in procs]
        assert set(codes) <= {0, 75}, [r[1].decode()[-800:] for r, c in zip(results, codes,
                                                                             strict=True) if c]
        if attempt == 0:
            first = codes
        pending = [raw for raw, code in zip(pending, codes, strict=True) if code == 75]
        if not pending:
            return first
        time.sleep(0.5)
    raise AssertionError(f"{len(pending)} deliveries still refused after 20 tries")


def snapshot(base: Path) -> dict[str, Any]:
    """Everything derived from the mail, in terms that do not depend on row ids."""
    archive = open_archive(load(base / "listarchive.toml"))
    try:
        with archive.sessions() as s:
            msgids = list(s.scalars(select(Message.msgid)))
            by_thread: dict[int, set[str]] = {}
            for msgid, tid in s.execute(select(Message.msgid, Message.thread_id)):
                by_thread.setdefault(tid, set()).add(msgid)
            threads = {(frozenset(by_thread.get(t.id, ())), t.root_msgid, t.message_count,
                        t.first_date, t.last_date) for t in s.scalars(select(Thread))}
            thread_lists = Counter((frozenset(by_thread.get(tl.thread_id, ())), tl.message_count,
                                    tl.last_date) for tl in s.scalars(select(ThreadList)))
            anchor = {sid: a for sid, a in s.execute(select(Series.id, Series.anchor_msgid))}
            members: dict[int, set[str]] = {}
            for msgid, sid in s.execute(select(Patch.msgid, Patch.series_id)):
                if sid is not None:
                    members.setdefault(sid, set()).add(msgid)
            series = {(x.anchor_msgid, x.cover_msgid, x.revision, x.total, x.received,
                       x.complete, x.missing, frozenset(members.get(x.id, ())))
                      for x in s.scalars(select(Series))}
            patches = {(p.msgid, p.kind, anchor.get(p.series_id), p.patch_id, p.counter)
                       for p in s.scalars(select(Patch))}
            older, newer = aliased(Series), aliased(Series)
            revisions = set(map(tuple, s.execute(
                select(older.anchor_msgid, newer.anchor_msgid, SeriesRevision.reason)
                .join(older, older.id == SeriesRevision.older_id)
                .join(newer, newer.id == SeriesRevision.newer_id))))
            trailers = Counter(map(tuple, s.execute(
                select(Message.msgid, Trailer.target_msgid, Trailer.anchor_msgid, Trailer.name,
                       Trailer.value).join(Message, Message.id == Trailer.message_id))))
            people = set(s.scalars(select(Person.email)))
            kept = {lid: (t, m) for lid, t, m in s.execute(
                select(ListStat.list_id, ListStat.threads, ListStat.messages)) if t or m}
            recount = {lid: (t, int(m)) for lid, t, m in s.execute(list_stat_totals())}
    finally:
        archive.close()
    assert len(msgids) == len(set(msgids))
    assert kept == recount, "list totals kept by the ingest differ from a recount"
    return {"messages": set(msgids), "threads": threads, "thread_lists": thread_lists,
            "series": series, "patches": patches, "revisions": revisions,
            "trailers": trailers, "people": people, "totals": sorted(kept.values())}


def test_two_bulk_imports_and_eight_deliveries_at_once_equal_one_import_in_sequence(tmp_path):
    if not CORPUS.is_file():
        pytest.skip("the shared corpora are not beside the project")
    mail = split_mbox(first_messages(CORPUS, MESSAGES))
    # Interleaved halves, so that most threads and series have messages in both imports, and
    # deliveries that reply into threads the imports are building.
    bulk = mail[:-DELIVERIES]
    halves = [b"".join(bulk[0::2]), b"".join(bulk[1::2])]
    deliveries = [as_delivered(m) for m in mail[-DELIVERIES:]]
    for i, half in enumerate(halves):
        (tmp_path / f"half{i}.mbox").write_bytes(half)

    together = archive_dir(tmp_path / "together", "")
    assert subprocess.run([sys.executable, "-m", "listarchive.cli", "init"], cwd=together,
                          capture_output=True).returncode == 0
    imports = [start(["-c", BULK, "ingest", "--list", "linux-clk",
                      str(tmp_path / f"half{i}.mbox")], together) for i in range(2)]
    deliver_until_stored(together, deliveries)
    for proc in imports:
        out, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err.decode()[-2000:]

    in_sequence = archive_dir(tmp_path / "sequence", backends.archive_url())
    for i in range(2):
        done = subprocess.run([sys.executable, "-m", "listarchive.cli", "ingest", "--list",
                               "linux-clk", str(tmp_path / f"half{i}.mbox")], cwd=in_sequence,
                              capture_output=True, timeout=900)
        assert done.returncode == 0, done.stderr.decode()[-2000:]
    for raw in deliveries:
        done = subprocess.run([sys.executable, "-m", "listarchive.cli", "ingest", "--list",
                               "linux-clk", "-"], cwd=in_sequence, input=raw, capture_output=True)
        assert done.returncode == 0, done.stderr.decode()[-2000:]

    got, want = snapshot(together), snapshot(in_sequence)
    assert len(want["messages"]) == MESSAGES
    assert len(want["series"]) > 10 and len(want["trailers"]) > 10, "the slice has no review"
    for key in want:
        assert got[key] == want[key], key
