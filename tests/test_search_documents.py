"""What the indexer makes of a message, on each engine: every diff a message carries is
diff-searchable, a review reply's inline diff as much as a patch's, while a diff it only quotes
is not.

``two-diffs-in-one-reply.eml`` is a review reply proposing two diffs with prose around them;
``reply-quoting-a-diff.eml`` quotes a patch's diff and asks a question.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from searchengines import ENGINES

from ingest.worker import run_ingest
from listarchive.search import engine
from listarchive.search.queryparser import parse_query
from listarchive.settings import Settings, from_mapping

DATA = Path(__file__).resolve().parent / "data"
PROPOSED = "two-diffs@example.org"
QUOTING = "reply-quoting-a-diff@example.org"


@pytest.fixture(params=ENGINES)
def archive(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    settings = from_mapping({"storage": {"data_dir": str(tmp_path / "instance")},
                             "search": {"enabled": True, "engine": request.param}})
    run_ingest(settings, [str(DATA / "two-diffs-in-one-reply.eml"),
                          str(DATA / "reply-quoting-a-diff.eml")], "linux-clk")
    return settings


def hits(settings: Settings, text: str) -> set[str]:
    result = engine.open_reader(settings).search(parse_query(text), per_page=0)
    return {h.msgid for h in result.hits}


@pytest.mark.parametrize("text", [
    "dfn:include/linux/clk-foo.h",  # the second of the reply's two diffs
    "dfn:drivers/clk/clk-foo.c",
    "dfn:drivers/clk/",
    "dfb:BAR",  # an added line
    'dfa:"int b"',  # a removed line
    "dfhh:foo_set_rate",  # the function of a hunk
    'nq:"header needs"',  # prose between the diffs stays searchable
    "b:thanks",  # and after them
    "s:re dfn:clk-foo.h",  # a basename
])
def test_a_replys_inline_diffs_are_diff_searchable(archive: Settings, text: str) -> None:
    assert hits(archive, text) == {PROPOSED}


def test_a_quoted_diff_is_not_the_replys_diff(archive: Settings) -> None:
    assert hits(archive, "dfn:drivers/clk/clk-bar.c") == set()
    assert hits(archive, "dfb:quoted_new") == set()
    assert hits(archive, "q:quoted_new") == {QUOTING}  # found as quoted text


def test_the_index_keeps_the_senders_own_text_for_snippets(archive: Settings) -> None:
    hits = engine.open_reader(archive).search(parse_query("dfb:BAR"), per_page=0).hits
    assert [h.msgid for h in hits] == [PROPOSED]
    excerpt = hits[0].excerpt or ""
    assert "Maybe like this:" in excerpt and "+#define BAR 2" in excerpt and "Thanks" in excerpt
    assert "Something is wrong here" not in excerpt  # quoted
