"""Both engine adapters (tantivy and Whoosh), each test run against each: analysis, filters,
paging, crash safety, and known answers on real mail.

Known answers on linux-clk are checked two ways: a few facts looked up by hand (the two
"rust: support formatting of foreign types" patches, v12 and v13; the three revisions of
"clock: qcom: gcc-ipq5424: Add gpll0_out_aux clock", which add ``clk_alpha_pll_postdiv_ro_ops``),
and, for every query, the full answer computed by plain Python over the parsed messages.
"""

from __future__ import annotations

import gzip
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from searchengines import ENGINES, open_index, uncommitted_writer

from listarchive.errors import IndexBusy, QueryError
from listarchive.mail.message import ParsedMessage, parse
from listarchive.search import snippets, tantivyindex, tantivyquery, whooshindex, whooshquery
from listarchive.search.documents import SearchDoc, SearchIndex
from listarchive.search.queryparser import parse_query

pytestmark = pytest.mark.pure

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT.parent / "shared" / "corpora"
CLK = CORPORA / "lore" / "linux-clk-last10000.mboxrd.gz"
SEP = b"\nFrom mboxrd@z Thu Jan  1 00:00:00 1970\n"
HIDDEN_AUTHOR = "bmasney@redhat.com"
NOBODY: frozenset[str] = frozenset()


@pytest.fixture(params=ENGINES)
def engine_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# ---------------------------------------------------------------------------------------------
# Hand-made documents

def _doc(msgid: str, **kw: object) -> SearchDoc:
    return SearchDoc(msgid=msgid, **kw)  # type: ignore[arg-type]


HAND = [
    _doc("patch@x", subject="[PATCH v2] clk: qcom: fix leaking pci_enable_device",
         from_="John Smith <john.smith@kernel.org>", to="linux-clk@vger.kernel.org",
         lists=("linux-clk",), date=datetime(2024, 1, 5, 10), body="Seen on v6.1-rc3 boards.",
         diff_files=("drivers/clk/qcom/gcc-sm8550.c",), added="ret = pci_enable_device(pdev);",
         removed="ret = old_enable(pdev);", hunk_headers="static int gcc_probe(void)",
         kinds=("patch",), subsystems=("COMMON CLK FRAMEWORK", "common-clk-framework"), state="new",
         patch_id="AB12CD"),
    _doc("reply@x", subject="Re: [PATCH v2] clk: qcom: fix leaking pci_enable_device",
         from_="Bob Reviewer <bob@example.com>", lists=("linux-clk",),
         date=datetime(2024, 1, 6, 9), body="Reviewed-by: Bob Reviewer <bob@example.com>",
         quoted="Seen on v6.1-rc3 boards.", kinds=("reply",), trailers=("reviewed-by",)),
    _doc("other@x", subject="[PATCH] net: leaks in drivers/clk-other", from_="Ann <ann@corp.example>",
         lists=("netdev",), date=datetime(2024, 2, 1), diff_files=("drivers/clk-other/x.c",),
         added="leaks++;", kinds=("patch",)),
    _doc("secret@x", subject="[PATCH] clk: embargoed leak fix", from_="Eve <eve@example.com>",
         lists=("linux-clk",), date=datetime(2024, 1, 7), body="leak", kinds=("patch",),
         visibility="embargo-1"),
    _doc("undated@x", subject="clk leak without a date", lists=("linux-clk",)),
]


@pytest.fixture
def hand(tmp_path: Path, engine_name: str) -> Iterator[SearchIndex]:
    ix = open_index(engine_name, tmp_path / "ix")
    ix.add(HAND)
    yield ix
    ix.close()


def ids(ix: SearchIndex, text: str, **kw: object) -> list[str]:
    result = ix.search(parse_query(text), **kw)  # type: ignore[arg-type]
    return [hit.msgid for hit in result.hits]


ANALYSIS = [
    ("pci_enable_device", {"patch@x", "reply@x"}),  # subject of both, added line of one
    ("dfb:pci_enable_device", {"patch@x"}),
    ("pci", set()),  # identifiers are whole words
    ("dfb:pci_enable*", {"patch@x"}),
    ("v6.1-rc3", {"patch@x", "reply@x"}),  # typed whole (body, and quoted in the reply)
    ("nq:rc3", {"patch@x"}),  # a part of a version string, not in quoted text
    ("q:v6.1-rc3", {"reply@x"}),
    ("f:john.smith@kernel.org", {"patch@x"}),
    ("f:kernel.org", {"patch@x"}),  # domain of an address
    ("f:smith", {"patch@x"}),
    ('f:"john smith"', {"patch@x"}),
    ("a:vger.kernel.org", {"patch@x"}),
    ("t:linux-clk@vger.kernel.org", {"patch@x"}),
    ("dfn:drivers/clk/", {"patch@x"}),  # not drivers/clk-other/
    ("dfn:drivers/clk", {"patch@x"}),
    ("dfn:drivers/clk/qcom/gcc-sm8550.c", {"patch@x"}),
    ("dfn:gcc-sm8550.c", {"patch@x"}),  # basename
    ("dfn:drivers/clk*", {"patch@x", "other@x"}),
    ("dfa:old_enable", {"patch@x"}),
    ("dfhh:gcc_probe", {"patch@x"}),
    ("s:leak", {"patch@x", "reply@x", "other@x", "undated@x"}),  # stemmed: leaking, leaks
    ("dfb:leak", set()),  # no stemming in code: leaks++ stays "leaks"
    ('s:"fix leaking"', {"patch@x", "reply@x"}),
    ("m:<patch@x>", {"patch@x"}),
    ("patchid:ab12cd", {"patch@x"}),
    ("l:netdev", {"other@x"}),
    ('subsystem:"common clk framework"', {"patch@x"}),
    ("subsystem:common-clk-framework", {"patch@x"}),  # the URL slug
    ("state:new", {"patch@x"}),
    ("is:reply", {"reply@x"}),
    ("has:reviewed-by", {"reply@x"}),
    ("d:2024-01-05..2024-01-06", {"patch@x", "reply@x"}),
    ("d:2024-01-06..", {"reply@x", "other@x"}),
    ("clk -is:reply", {"patch@x", "other@x", "undated@x"}),  # other@x: drivers/clk-other
    ("(is:reply OR l:netdev) -f:ann", {"reply@x"}),
]


@pytest.mark.parametrize("text,expected", ANALYSIS, ids=[a[0] for a in ANALYSIS])
def test_hand_made_answers(hand: SearchIndex, text: str, expected: set[str]) -> None:
    assert set(ids(hand, text)) == expected


def test_hidden_documents_are_neither_returned_nor_counted(hand: SearchIndex) -> None:
    public = hand.search(parse_query("leak"), viewer_keys=NOBODY)
    assert "secret@x" not in {h.msgid for h in public.hits}
    assert public.total == len(public.hits) == 4
    allowed = hand.search(parse_query("leak"), viewer_keys=frozenset({"embargo-1"}))
    assert allowed.total == 5 and "secret@x" in {h.msgid for h in allowed.hits}
    assert hand.search(parse_query("embargoed"), viewer_keys=frozenset({"embargo-2"})).total == 0


def test_list_restriction_and_date_order(hand: SearchIndex) -> None:
    result = hand.search(parse_query("leak"), lists=("linux-clk",))
    # newest first; the undated message last
    assert [h.msgid for h in result.hits] == ["reply@x", "patch@x", "undated@x"]
    assert result.hits[0].date == datetime(2024, 1, 6, 9) and result.hits[-1].date is None
    assert all(h.score is None for h in result.hits)
    both = hand.search(parse_query("leak"), lists=("linux-clk", "netdev"))
    assert both.total == 4


def test_relevance_order_scores(hand: SearchIndex) -> None:
    result = hand.search(parse_query("leak"), sort="relevance")
    scores = [h.score for h in result.hits]
    assert all(s is not None for s in scores)
    assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]


def test_snippet_escapes_mail_and_marks_matches(hand: SearchIndex) -> None:
    text = 'Hi <script>alert("x")</script>\nthe leaks & pci_enable_device(p) are fixed'
    out = hand.snippet("patch@x", parse_query("leak pci_enable_device"), text)
    assert "<script>" not in out and "&lt;script&gt;" in out and "&amp;" in out
    assert "<mark>leaks</mark>" in out and "<mark>pci_enable_device</mark>" in out
    plain = hand.snippet("patch@x", parse_query("absent"), "<b>" + "x" * 400)
    assert plain.startswith("&lt;b&gt;") and "<mark>" not in plain and plain.endswith("…")


@pytest.mark.parametrize("words, text", [
    (["leak"], "leak leaks xleak _leak leak_x LEAK Leaky"),
    (["clk", "clk/core"], "drivers/clk/core.c and clk/core and clk/coreish, clk"),
    (["a"], "a " * 200),
    (["pci_enable_device", "pci"], "pci_enable_device(pci) pcipci épci pci"),
    (["fix", "fixe"], "fixes fixed prefix FIX"),
    (["a-b", "b"], "a-b b a-bc"),  # "b" starts a word inside the match of "a-b"
    (["istanbul"], "\u0130stanbul istanbul ISTANBUL"),  # lower case is longer: scanned whole
])
def test_snippet_matches_are_the_patterns_matches(words: list[str], text: str) -> None:
    found_by = snippets.matcher(words)
    assert found_by is not None
    for start in (0, 3):
        expected = [(m.start(), m.end()) for m in found_by.pattern.finditer(text, start)]
        assert [(m.start(), m.end()) for m in found_by.matches(text, start)] == expected
        assert expected or start > 0  # every case has a match to find


def test_huge_prefix_expansion_is_refused(hand: SearchIndex,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    hand.add([_doc(f"w{i}@x", body=f"wordy{i}") for i in range(6)])
    monkeypatch.setattr(whooshquery, "MAX_PREFIX_EXPANSION", 5)
    monkeypatch.setattr(tantivyquery, "MAX_PREFIX_EXPANSION", 5)
    with pytest.raises(QueryError) as info:
        hand.search(parse_query("clk wor*"))
    assert "more than 5" in str(info.value) and info.value.position == 4
    assert hand.search(parse_query("wordy1*")).total == 1


def test_replace_delete_clear(hand: SearchIndex) -> None:
    assert hand.doc_count() == 5
    hand.add([_doc("patch@x", subject="replaced entirely")])
    assert hand.doc_count() == 5
    assert ids(hand, "s:replaced") == ["patch@x"] and ids(hand, "dfb:pci_enable_device") == []
    assert hand.delete(["reply@x", "missing@x"]) == 1
    assert hand.doc_count() == 4 and ids(hand, "is:reply") == []
    hand.clear()
    assert hand.doc_count() == 0 and hand.search(parse_query("leak")).total == 0


def test_a_copy_repeated_in_one_batch_is_indexed_once(tmp_path: Path, engine_name: str) -> None:
    ix = open_index(engine_name, tmp_path / "ix")
    assert ix.add([_doc("a@x", subject="first copy"), _doc("a@x", subject="second copy")]) == 1
    assert ids(ix, "s:copy") == ["a@x"] and ids(ix, "s:second") == []


def test_open_without_create(tmp_path: Path, engine_name: str) -> None:
    with pytest.raises(FileNotFoundError):
        open_index(engine_name, tmp_path / "none", create=False)
    open_index(engine_name, tmp_path / "ix").add(HAND[:1])
    assert open_index(engine_name, tmp_path / "ix", create=False).doc_count() == 1


def test_readers_are_not_blocked_by_a_writer(hand: SearchIndex, tmp_path: Path,
                                             engine_name: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    with uncommitted_writer(engine_name, tmp_path / "ix", _doc("pending@x", subject="leak")):
        reader = open_index(engine_name, tmp_path / "ix", create=False)
        assert reader.search(parse_query("leak")).total == 4  # committed state only
        # a second writer waits for the lock, then gives up without writing anything
        monkeypatch.setattr(whooshindex, "LOCK_TIMEOUT", 0.3)
        monkeypatch.setattr(tantivyindex, "LOCK_TIMEOUT", 0.3)
        with pytest.raises(IndexBusy):
            reader.add([_doc("late@x", subject="late")])
    assert hand.search(parse_query("leak")).total == 4 and ids(hand, "s:late") == []
    hand.add([_doc("late@x", subject="late")])  # the lock is free again
    assert ids(hand, "s:late") == ["late@x"]


_KILL_SCRIPT = """
import sys
from pathlib import Path
from listarchive.search import engine
from listarchive.search.documents import SearchDoc
ix = engine.ENGINES[sys.argv[2]].open(Path(sys.argv[1]))
for batch in range(1000):
    ix.add(SearchDoc(f"b{batch}-{i}@x", subject=f"kill test message {i}",
                     body=" ".join(f"word{(i * 7 + k) % 997}" for k in range(300)))
           for i in range(200))
    print(batch, flush=True)
"""


@pytest.mark.slow
def test_killed_writer_leaves_a_usable_index(tmp_path: Path, engine_name: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    index_dir = tmp_path / "ix"
    proc = subprocess.Popen([sys.executable, "-c", _KILL_SCRIPT, str(index_dir), engine_name],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert proc.stdout is not None
        for _ in range(2):  # two batches committed, the third being written
            assert proc.stdout.readline().strip()
        time.sleep(0.3)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        ix = open_index(engine_name, index_dir, create=False)
        count = ix.doc_count()
        assert count >= 400 and count % 200 == 0
        assert ix.search(parse_query('s:"kill test"'), per_page=0).total == count
        monkeypatch.setattr(whooshindex, "LOCK_TIMEOUT", 15.0)
        monkeypatch.setattr(tantivyindex, "LOCK_TIMEOUT", 15.0)
        ix.add([_doc("after@x", subject="after the crash")])  # the dead writer's lock is free
        assert ids(ix, "s:crash") == ["after@x"] and ix.doc_count() == count + 1
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # any orphan left in the session we started
        except ProcessLookupError:
            pass


# ---------------------------------------------------------------------------------------------
# Real mail: the first 2,000 messages of linux-clk

_FROM_QUOTED = re.compile(rb"^>(>*From )", re.M)
_TRAILER = re.compile(r"^\s*([A-Za-z-]+-by):", re.M)


def corpus_messages(limit: int) -> Iterator[bytes]:
    data = gzip.decompress(CLK.read_bytes())
    chunks = data.split(SEP, limit)
    chunks[0] = chunks[0].split(b"\n", 1)[1]
    for chunk in chunks[:limit]:
        yield _FROM_QUOTED.sub(rb"\1", chunk)


def mail_doc(raw: bytes) -> tuple[ParsedMessage, SearchDoc]:
    """A minimal SearchDoc for a message: quoted lines split off, diff lines extracted."""
    msg = parse(raw)
    text = "\n".join([msg.body, *msg.patch_attachments])
    nq: list[str] = []
    quoted: list[str] = []
    added: list[str] = []
    removed: list[str] = []
    hunks: list[str] = []
    files: list[str] = []
    in_diff = False
    for line in text.split("\n"):
        if line.startswith(">"):
            quoted.append(line.lstrip("> "))
            continue
        if line.startswith("diff --git "):
            in_diff = True
            files.extend(n for n in re.findall(r"\s[ab]/(\S+)", line) if n not in files)
        elif not in_diff:
            nq.append(line)
        elif line.startswith("@@"):
            hunks.append(line.split("@@")[-1].strip())
        elif line.startswith("+") and not line.startswith("+++"):
            added.append(line[1:])
        elif line.startswith("-") and not line.startswith("---"):
            removed.append(line[1:])
    kinds = []
    if re.match(r"(?i)re:", msg.subject):
        kinds.append("reply")
    elif files:
        kinds.append("patch")
    elif re.search(r"\[PATCH[^\]]*\b0+/\d+\]", msg.subject):
        kinds.append("cover")
    doc = SearchDoc(
        msgid=msg.msgid, subject=msg.subject, from_=str(msg.sender),
        to=", ".join(map(str, msg.to)), cc=", ".join(map(str, msg.cc)), lists=("linux-clk",),
        date=msg.sort_date, body="\n".join(nq), quoted="\n".join(quoted),
        attachments=tuple(a.filename for a in msg.attachments if a.filename),
        diff_files=tuple(files), added="\n".join(added), removed="\n".join(removed),
        hunk_headers="\n".join(hunks), kinds=tuple(kinds),
        trailers=tuple(sorted({t.lower() for t in _TRAILER.findall("\n".join(nq))})),
        visibility="embargo-7" if msg.sender.email.lower() == HIDDEN_AUTHOR else "public")
    return msg, doc


@pytest.fixture(scope="module")
def clk_docs() -> list[SearchDoc]:
    if not CLK.exists():
        pytest.skip("linux-clk corpus not available")
    return [mail_doc(raw)[1] for raw in corpus_messages(2000)]


@pytest.fixture(scope="module", params=ENGINES)
def clk(request: pytest.FixtureRequest, clk_docs: list[SearchDoc],
        tmp_path_factory: pytest.TempPathFactory) -> tuple[SearchIndex, list[SearchDoc]]:
    ix = open_index(str(request.param), tmp_path_factory.mktemp("clk") / "ix")
    for first in range(0, len(clk_docs), 1000):  # two commits
        ix.add(clk_docs[first:first + 1000])
    return ix, clk_docs


def visible(docs: list[SearchDoc]) -> list[SearchDoc]:
    return [d for d in docs if d.visibility == "public"]


def word_in(word: str, text: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text, re.I) is not None


def answer(ix: SearchIndex, text: str, **kw: object) -> set[str]:
    result = ix.search(parse_query(text), per_page=0, **kw)  # type: ignore[arg-type]
    assert result.total == len(result.hits)
    return {h.msgid for h in result.hits}


def test_clk_by_author(clk: tuple[SearchIndex, list[SearchDoc]]) -> None:
    ix, docs = clk
    expected = {d.msgid for d in docs if "<sboyd@kernel.org>" in d.from_}
    assert len(expected) == 72
    assert answer(ix, "f:sboyd@kernel.org") == expected


def test_clk_subject_phrase(clk: tuple[SearchIndex, list[SearchDoc]]) -> None:
    ix, docs = clk
    expected = {d.msgid for d in visible(docs)
                if re.search(r"foreign\s+types?\b", d.subject, re.I)}
    assert answer(ix, 's:"foreign types"') == expected and len(expected) > 20
    assert answer(ix, 's:"foreign types" is:patch') == {
        "20250619-cstr-core-v12-2-80c9c7b45900@gmail.com",
        "20250701-cstr-core-v13-2-29f7d3eb97a6@gmail.com"}


def test_clk_file_in_diff(clk: tuple[SearchIndex, list[SearchDoc]]) -> None:
    ix, docs = clk
    expected = {d.msgid for d in visible(docs)
                if any(f.startswith("drivers/clk/qcom/") for f in d.diff_files)}
    assert len(expected) > 40
    assert answer(ix, "dfn:drivers/clk/qcom/") == expected


def test_clk_added_identifier(clk: tuple[SearchIndex, list[SearchDoc]]) -> None:
    ix, docs = clk
    name = "clk_alpha_pll_postdiv_ro_ops"
    expected = {d.msgid for d in visible(docs) if word_in(name, d.added)}
    assert answer(ix, f"dfb:{name}") == expected == {
        "20250617-qcom_ipq5424_nsscc-v1-4-4dc2d6b3cdfc@quicinc.com",
        "20250627-qcom_ipq5424_nsscc-v2-4-8d392f65102a@quicinc.com",
        "20250710-qcom_ipq5424_nsscc-v3-4-f149dc461212@quicinc.com"}


def test_clk_date_range(clk: tuple[SearchIndex, list[SearchDoc]]) -> None:
    ix, docs = clk
    start, end = datetime(2025, 7, 1), datetime(2025, 7, 8)  # the end day is inclusive
    expected = {d.msgid for d in visible(docs) if d.date and start <= d.date < end}
    assert 0 < len(expected) < len(docs)
    assert answer(ix, "d:2025-07-01..2025-07-07") == expected
    assert answer(ix, "d:..2025-06-30") | expected | answer(ix, "d:2025-07-08..") == {
        d.msgid for d in visible(docs)}


def test_clk_combined_or_not_and_kinds(clk: tuple[SearchIndex, list[SearchDoc]]) -> None:
    ix, docs = clk
    authors = ("<sboyd@kernel.org>", "<krzk@kernel.org>")
    expected = {d.msgid for d in docs if any(a in d.from_ for a in authors)
                and "reply" not in d.kinds}
    assert answer(ix, "(f:sboyd@kernel.org OR f:krzk@kernel.org) -is:reply") == expected
    assert expected
    replies = {d.msgid for d in visible(docs) if "reply" in d.kinds}
    assert answer(ix, "is:reply") == replies
    reviewed = {d.msgid for d in visible(docs) if "reviewed-by" in d.trailers
                and not any(f.startswith("drivers/clk/qcom/") for f in d.diff_files)}
    assert answer(ix, "has:reviewed-by NOT dfn:drivers/clk/qcom") == reviewed


def test_clk_sorted_by_date_and_paged(clk: tuple[SearchIndex, list[SearchDoc]]) -> None:
    ix, docs = clk
    q = parse_query("clk")
    everything = ix.search(q, per_page=0)
    dates = [h.date for h in everything.hits]
    assert all(d is not None for d in dates)
    assert dates == sorted(dates, reverse=True)  # type: ignore[type-var]
    first, second = ix.search(q, page=1, per_page=20), ix.search(q, page=2, per_page=20)
    assert first.total == second.total == everything.total > 40
    assert [h.msgid for h in first.hits + second.hits] == [
        h.msgid for h in everything.hits[:40]]
    beyond = ix.search(q, page=everything.total // 20 + 2, per_page=20)
    assert beyond.total == everything.total and beyond.hits == ()
    matching = {h.msgid for h in everything.hits}
    newest = max(d.date for d in docs if d.msgid in matching and d.date)
    assert first.hits[0].date is not None and newest - first.hits[0].date < timedelta(seconds=1)


def test_clk_visibility(clk: tuple[SearchIndex, list[SearchDoc]]) -> None:
    ix, docs = clk
    hidden = {d.msgid for d in docs if d.visibility != "public"}
    assert len(hidden) == 95
    assert ix.search(parse_query(f"f:{HIDDEN_AUTHOR}")).total == 0
    assert answer(ix, f"f:{HIDDEN_AUTHOR}", viewer_keys=frozenset({"embargo-7"})) == hidden
    public = ix.search(parse_query("clk"), per_page=5)
    keyed = ix.search(parse_query("clk"), per_page=5, viewer_keys=frozenset({"embargo-7"}))
    hidden_clk = answer(ix, f"clk f:{HIDDEN_AUTHOR}", viewer_keys=frozenset({"embargo-7"}))
    assert keyed.total - public.total == len(hidden_clk) > 0
