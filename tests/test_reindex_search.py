"""``listarchive reindex --search``: the search index alone rebuilt from the stored mail, by the
real console script, with the two-process writer a large backlog uses."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import backends

from listarchive.search import indexer, whooshindex


def _config(tmp_path: Path, enabled: bool) -> None:
    (tmp_path / "listarchive.toml").write_text(
        "[storage]\ndata_dir = 'instance'\n"
        f"[search]\nenabled = {'true' if enabled else 'false'}\n")


def _hits(cli, cwd: Path, query: str) -> list[str]:
    out = cli(["search", "--json", "--limit", "0", query], cwd)
    assert out.returncode == 0, out.stderr
    return [r["message_id"] for r in json.loads(out.stdout)["results"]]


def test_search_index_rebuilt_alone_gives_the_same_answers(tmp_path, cli, corpora) -> None:
    lkml = corpora / "notmuch" / "lkml"
    _config(tmp_path, enabled=True)
    assert cli(["ingest", "--list", "lkml", str(lkml)], tmp_path).returncode == 0
    queries = ["s:patch", "f:linux-kernel OR t:linux-kernel@vger.kernel.org", '"the same"']
    before = {q: _hits(cli, tmp_path, q) for q in queries}
    assert all(before.values())

    shutil.rmtree(tmp_path / "instance" / "search")
    assert cli(["search", "s:patch"], tmp_path).returncode != 0  # no index: a clear failure
    done = cli(["reindex", "--search"], tmp_path)
    assert done.returncode == 0, done.stderr
    stored = backends.count_messages(tmp_path / "instance")
    assert done.stdout.startswith(f"indexed {stored} messages".encode())  # every one, once
    assert {q: _hits(cli, tmp_path, q) for q in queries} == before


def test_reindex_search_with_search_switched_off_says_so(tmp_path, cli) -> None:
    _config(tmp_path, enabled=False)
    out = cli(["reindex", "--search"], tmp_path)
    assert out.returncode == 2 and b"enabled = false" in out.stderr


def test_a_backlog_indexed_in_parallel_batches_is_whole(tmp_path, corpora) -> None:
    """A 10k backlog goes through the two-process writer in full batches: every message is
    indexed exactly once, and merges by tier lose nothing."""
    from ingest.worker import run_ingest
    from listarchive.archive.db import make_engine, make_sessionmaker
    from listarchive.settings import from_mapping

    settings = from_mapping({"storage": {"data_dir": str(tmp_path / "d")},
                             "search": {"enabled": False}})
    run_ingest(settings, [str(corpora / "lore" / "linux-mips-first10000.mboxrd.gz")], "mips")
    settings = from_mapping({"storage": {"data_dir": str(tmp_path / "d")},
                             "search": {"enabled": True}})
    assert indexer.BATCH >= whooshindex.PARALLEL_MIN_DOCS
    sessions = make_sessionmaker(make_engine(settings, writer=True))
    stored = backends.count_messages(tmp_path / "d")
    assert stored > 9_900
    # Replies that give an older message a trailer re-index it: counted again, not stored twice.
    assert indexer.catch_up(settings, sessions) >= stored
    ix = whooshindex.SearchIndex.open(settings.index_dir, create=False)
    try:
        assert ix.doc_count() == stored
        from listarchive.search.query import parse_query

        assert ix.search(parse_query("d:1990-01-01..")).total == ix.search(
            parse_query("l:mips")).total
    finally:
        ix.close()
