"""Search-result snippets and the quick body reader they use, on real mail."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.sources import open_source
from listarchive.errors import MalformedMessage
from listarchive.mail.message import body_text, parse
from listarchive.search import snippets, tantivyanalysis, whooshanalysis
from listarchive.search.queryparser import parse_query

pytestmark = pytest.mark.pure


def _marked(query: str, text: str, maxchars: int = 300,
            stem: Callable[[str], str] = tantivyanalysis.stem_word) -> str:
    words = snippets.query_words(parse_query(query), stem)
    return snippets.mark(text, snippets.matcher(words), maxchars)


@pytest.mark.parametrize("stem", [tantivyanalysis.stem_word, whooshanalysis.stem_word],
                         ids=["tantivy", "whoosh"])
def test_prose_words_mark_their_inflections_and_identifiers_stay_whole(
        stem: Callable[[str], str]) -> None:
    out = _marked("retry pci_enable_device", "The retries of pci_enable_device_mem retry here",
                  stem=stem)
    assert "<mark>retries</mark>" in out and "<mark>retry</mark>" in out
    assert "<mark>pci_enable_device_mem</mark>" in out  # starts with the typed identifier
    assert _marked("leak", "no leaking-free wording: bleak", stem=stem) == (
        "no <mark>leaking</mark>-free wording: bleak")


def test_ids_and_dates_mark_nothing_and_excluded_words_are_harmless() -> None:
    text = "see a1b2@example.org from 2024"
    assert "<mark>" not in _marked("m:a1b2@example.org d:2024-01-01..", text)
    assert _marked("clk -rcu", "clk and rcu").count("<mark>") == 2


def test_window_starts_near_the_first_match_and_says_where_it_was_cut() -> None:
    text = "intro " * 100 + "the <needle> is here " + "tail " * 100
    out = _marked("needle", text, maxchars=120)
    assert out.startswith("…") and out.endswith("…")
    assert "&lt;<mark>needle</mark>&gt;" in out and len(out) < 200
    # Nothing matched: the start of the text, escaped.
    assert _marked("absent", "<i>" + "y" * 500, maxchars=50).startswith("&lt;i&gt;yyy")


def test_only_the_head_of_a_huge_body_is_scanned() -> None:
    text = "x " * snippets.SCAN_CHARS + "needle"
    assert "<mark>" not in _marked("needle", text)


# Letters whose lower case is one character and that case folding maps nowhere else.
_TEXT = st.text(alphabet="abcdeKLMNxyz_éÉ .-/\n<>&", max_size=400)
_WORDS = st.lists(st.text(alphabet="abcdeklmnxyz_é.-/", min_size=1, max_size=5),
                  min_size=1, max_size=4)


@given(_TEXT, _WORDS)
def test_the_substring_lookout_finds_the_match_the_pattern_alone_finds(
        text: str, words: list[str]) -> None:
    found_by = snippets.matcher(words)
    assert found_by is not None
    alone = found_by.pattern.search(text)
    first = found_by.first(text)
    assert (first.span() if first else None) == (alone.span() if alone else None)


def test_a_lower_case_that_moves_positions_still_marks_the_word() -> None:
    # "İ" lower-cases to two characters: positions in the lower-cased text would be off.
    assert "<mark>leaks</mark>" in _marked("leak", "İİİİ " * 30 + "it leaks")


def test_regex_metacharacters_in_queries_are_literal() -> None:
    assert _marked('"a.b (c)"', "a.b (c) axb") == "<mark>a.b</mark> (<mark>c</mark>) axb"


CORPORA = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"
SETS = ["lore/linux-clk-last10000.mboxrd.gz", "lore/linux-mips-first10000.mboxrd.gz",
        "hyperkitty", "cpython-email", "mailparser", "public-inbox", "patchew", "notmuch",
        "linux-duks-mlh"]
# The corpora keep their provenance, scripts and expected results beside the messages.
NOT_MAIL = (".py", ".txt", ".pytest", ".md", ".json", ".toml")


@pytest.mark.parametrize("name", SETS)
def test_quick_body_equals_the_full_parse_on_real_mail(name: str) -> None:
    """The short cut must give exactly the body a full parse gives (charsets, QP, base64,
    HTML-only and multipart mail included), and with a limit a prefix of it."""
    if not (CORPORA / name).exists():
        pytest.skip("the shared corpora are not beside the project")
    checked = refused = 0
    for mail in itertools.islice(open_source(str(CORPORA / name)).read(), 1500):
        if mail.origin.endswith(NOT_MAIL):
            continue
        try:
            full = parse(mail.data).body
        except MalformedMessage:  # not mail (a README beside the messages): never stored
            refused += 1
            continue
        assert body_text(mail.data) == full, mail.position
        cut = body_text(mail.data, 4096)
        assert full.startswith(cut[:-4]), mail.position
        checked += 1
    assert checked > 0 and refused < checked  # a parser that refuses all fails here
