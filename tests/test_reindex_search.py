"""The search index as the archive keeps it, on each engine: rebuilt alone by ``listarchive
reindex --search`` (the real console script), finished by the next catch-up after the indexer
is killed mid-batch, and never answering from another engine's index after the configuration
changed engines."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import backends
import mailfixtures
import pytest
from searchengines import ENGINES

from ingest.worker import run_ingest
from listarchive.archive.db import make_engine, make_sessionmaker
from listarchive.search import engine, indexer, whooshwriter
from listarchive.search.queryparser import parse_query
from listarchive.settings import Settings, from_mapping

ROOT = Path(__file__).resolve().parents[1]
QUERIES = ["s:patch", "f:linux-kernel OR t:linux-kernel@vger.kernel.org", '"the same"']


def _config(tmp_path: Path, enabled: bool, engine_name: str = "tantivy") -> None:
    (tmp_path / "listarchive.toml").write_text(
        "[storage]\ndata_dir = 'instance'\n"
        f"[search]\nenabled = {'true' if enabled else 'false'}\nengine = '{engine_name}'\n")


def _hits(cli, cwd: Path, query: str) -> list[str]:
    out = cli(["search", "--json", "--limit", "0", query], cwd)
    assert out.returncode == 0, out.stderr
    return [r["message_id"] for r in json.loads(out.stdout)["results"]]


def complete(engine_name: str) -> engine.Built:
    """The record of a complete index that engine built in its current layout."""
    return engine.Built(engine_name, engine.ENGINES[engine_name].layout, True)


@pytest.mark.parametrize("engine_name", ENGINES)
def test_search_index_rebuilt_alone_gives_the_same_answers(tmp_path, cli, corpora,
                                                           engine_name) -> None:
    lkml = corpora / "notmuch" / "lkml"
    _config(tmp_path, enabled=True, engine_name=engine_name)
    assert cli(["ingest", "--list", "lkml", str(lkml)], tmp_path).returncode == 0
    before = {q: _hits(cli, tmp_path, q) for q in QUERIES}
    assert all(before.values())

    shutil.rmtree(tmp_path / "instance" / "search")
    gone = cli(["search", "s:patch"], tmp_path)
    assert gone.returncode != 0 and b"reindex --search" in gone.stderr  # says what to run
    done = cli(["reindex", "--search"], tmp_path)
    assert done.returncode == 0, done.stderr
    stored = backends.count_messages(tmp_path / "instance")
    assert done.stdout.startswith(f"indexed {stored} messages".encode())  # every one, once
    assert {q: _hits(cli, tmp_path, q) for q in QUERIES} == before


def test_switching_engines_says_to_reindex_and_never_answers_from_the_old_index(
        tmp_path, cli, corpora) -> None:
    lkml = corpora / "notmuch" / "lkml"
    _config(tmp_path, enabled=True, engine_name="whoosh")
    assert cli(["ingest", "--list", "lkml", str(lkml)], tmp_path).returncode == 0
    before = {q: _hits(cli, tmp_path, q) for q in QUERIES}

    _config(tmp_path, enabled=True, engine_name="tantivy")
    refused = cli(["search", "s:patch"], tmp_path)
    assert refused.returncode != 0
    assert b"built by whoosh" in refused.stderr and b"reindex --search" in refused.stderr
    # new mail is stored (exit 0) but not written into the other engine's index
    late = tmp_path / "late.eml"
    late.write_bytes(b"From: Late Sender <late@example.org>\nSubject: a late zebrafish note\n"
                     b"Message-ID: <late-zebrafish@example.org>\n"
                     b"Date: Mon, 04 Mar 2024 10:00:00 +0000\n\nlate body\n")
    stored = cli(["ingest", "--list", "lkml", str(late)], tmp_path)
    assert stored.returncode == 0 and b"reindex --search" in stored.stderr
    assert engine.built(tmp_path / "instance" / "search") == complete("whoosh")

    assert cli(["reindex", "--search"], tmp_path).returncode == 0
    assert engine.built(tmp_path / "instance" / "search") == complete("tantivy")
    assert {q: _hits(cli, tmp_path, q) for q in QUERIES} == before
    assert _hits(cli, tmp_path, "s:zebrafish") == ["late-zebrafish@example.org"]


@pytest.mark.parametrize("engine_name", ENGINES)
def test_init_makes_an_empty_index_that_answers(tmp_path, cli, engine_name) -> None:
    _config(tmp_path, enabled=True, engine_name=engine_name)
    assert cli(["init"], tmp_path).returncode == 0
    assert engine.built(tmp_path / "instance" / "search") == complete(engine_name)
    assert _hits(cli, tmp_path, "clk") == []


def test_reindex_search_with_search_switched_off_says_so(tmp_path, cli) -> None:
    _config(tmp_path, enabled=False)
    out = cli(["reindex", "--search"], tmp_path)
    assert out.returncode == 2 and b"enabled = false" in out.stderr


def _settings(data: Path, enabled: bool, engine_name: str) -> Settings:
    return from_mapping({"storage": {"data_dir": str(data)},
                         "search": {"enabled": enabled, "engine": engine_name}})


_KILLED_CATCH_UP = """
import logging, sys
from listarchive.archive.db import make_engine, make_sessionmaker
from listarchive.search import indexer
from listarchive.settings import from_mapping
logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")
settings = from_mapping({"storage": {"data_dir": sys.argv[1]},
                         "search": {"enabled": True, "engine": sys.argv[2]}})
sessions = make_sessionmaker(make_engine(settings, writer=True))
indexer.catch_up(settings, sessions, batch=300)
"""


@pytest.fixture(scope="module")
def clk_2000(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """2,000 linux-clk messages stored once, without search: each test indexes copies."""
    clk = ROOT.parent / "shared" / "corpora" / "lore" / "linux-clk-last10000.mboxrd.gz"
    if not clk.is_file():
        pytest.skip("the shared corpora are not beside the project")
    base = tmp_path_factory.mktemp("clk-2000")
    mbox = base / "clk.mbox"
    mbox.write_bytes(mailfixtures.first_messages(clk, 2000))
    settings = _settings(base / "instance", False, "tantivy")
    run_ingest(settings, [str(mbox)], "linux-clk")
    return settings


@pytest.fixture
def killed_and_clean(clk_2000: Settings, tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    with backends.copied(clk_2000, killed), backends.copied(clk_2000, clean):
        yield killed, clean


@pytest.mark.slow
@pytest.mark.sqlite_only
@pytest.mark.parametrize("engine_name", ENGINES)
def test_indexer_killed_mid_batch_answers_correctly_after_the_next_catch_up(
        killed_and_clean, engine_name) -> None:
    """SIGKILL while a batch is being indexed: searches keep answering from the last commit
    (never an empty index), and the next catch-up leaves the index a clean build gives."""
    killed, clean = killed_and_clean
    stored = backends.count_messages(killed)

    proc = subprocess.Popen([sys.executable, "-c", _KILLED_CATCH_UP, str(killed), engine_name],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert proc.stdout is not None
        committed: list[str] = []
        for line in proc.stdout:  # two batches committed, then kill inside the third
            if line.startswith("indexed"):
                committed.append(line)
                if len(committed) == 2:
                    break
        assert len(committed) == 2, "the catch-up ended before its third batch"
        time.sleep(0.15)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    db = sqlite3.connect(killed / "listarchive.sqlite3")
    # The index's own position, kept beside it.
    watermark = json.loads((killed / "search" / "positions.json").read_text())["messages"]
    third = db.execute("SELECT id FROM messages ORDER BY id LIMIT 1 OFFSET 899").fetchone()[0]
    assert int(watermark) < third  # killed before the third batch was recorded as done

    settings = _settings(killed, True, engine_name)
    # Search switched on for a full archive: the index answers once complete, not before.
    with pytest.raises(engine.SearchUnavailable):
        engine.open_reader(settings)
    sessions = make_sessionmaker(make_engine(settings, writer=True))
    indexer.catch_up(settings, sessions)  # the next catch-up (an ingest would run it)
    reference = _settings(clean, True, engine_name)
    indexer.catch_up(reference, make_sessionmaker(make_engine(reference, writer=True)))

    ours, theirs = engine.open_reader(settings), engine.open_reader(reference)
    assert ours.doc_count() == theirs.doc_count() == stored
    for text in ("clk", "f:sboyd@kernel.org", 'dfn:drivers/clk/qcom/ s:"add support"',
                 "is:reply -has:reviewed-by", "d:2025-06-20..2025-06-22"):
        query = parse_query(text)
        mine, clean_answer = ours.search(query, per_page=0), theirs.search(query, per_page=0)
        assert mine.total == len({h.msgid for h in mine.hits}) == clean_answer.total > 0, text
        assert [h.msgid for h in mine.hits] == [h.msgid for h in clean_answer.hits], text


BACKLOG = 3_000
BACKLOG_BATCH = 1_000


@pytest.mark.whoosh
def test_a_backlog_indexed_in_parallel_batches_is_whole(tmp_path, corpora, monkeypatch) -> None:
    """A backlog of real mail goes through Whoosh's two-process writer in full batches: every
    message is indexed exactly once, and merges by tier lose nothing. (Scaled down from the
    indexer's own: batches of ``BACKLOG_BATCH`` instead of 2,000 and tiers of 4 segments
    instead of 10, so that 3,000 messages take the same paths, merges included.)"""
    monkeypatch.setattr(whooshwriter, "MERGE_FACTOR", 4)
    mbox = tmp_path / "mips.mbox"
    mbox.write_bytes(mailfixtures.first_messages(
        corpora / "lore" / "linux-mips-first10000.mboxrd.gz", BACKLOG))
    settings = _settings(tmp_path / "d", False, "whoosh")
    run_ingest(settings, [str(mbox)], "mips")
    settings = _settings(tmp_path / "d", True, "whoosh")
    assert BACKLOG_BATCH >= whooshwriter.PARALLEL_MIN_DOCS
    sessions = make_sessionmaker(make_engine(settings, writer=True))
    stored = backends.count_messages(tmp_path / "d")
    assert stored > BACKLOG - 50
    # Replies that give an older message a trailer re-index it: counted again, not stored twice.
    assert indexer.catch_up(settings, sessions, batch=BACKLOG_BATCH) >= stored
    ix = engine.open_reader(settings)
    assert ix.doc_count() == stored

    def tiers() -> Counter[int]:
        return Counter(int(math.log10(size) // math.log10(whooshwriter.MERGE_FACTOR))
                       for seg in ix._ix._segments()  # type: ignore[attr-defined]
                       if (size := max(1, seg.doc_count_all())) < whooshwriter.LARGE_SEGMENT)

    # A commit merges the tiers that already held MERGE_FACTOR segments, then adds its own: up
    # to one per writer process and one for the merge. (How the two writer processes share a
    # batch decides the tiers: 500 + 500 documents fall in one, 750 + 250 in two.)
    assert all(n < whooshwriter.MERGE_FACTOR + 3 for n in tiers().values()), tiers()
    # The next commit (here one that adds nothing) merges every full tier into its one new
    # segment, which may fill the tier it lands in up to MERGE_FACTOR, and loses nothing.
    ix._ix.writer().commit(mergetype=whooshwriter.merge_tiers)  # type: ignore[attr-defined]
    ix = engine.open_reader(settings)
    assert all(n <= whooshwriter.MERGE_FACTOR for n in tiers().values()), tiers()
    assert ix.doc_count() == stored
    assert ix.search(parse_query("d:1990-01-01..")).total == ix.search(
        parse_query("l:mips")).total
