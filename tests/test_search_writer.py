"""The Whoosh adapter's own writing machinery: it writes the index Whoosh would write.

``whooshwriter._SegmentWriter`` replaces two pieces of Whoosh's segment writer (the posting pool and
the per-posting field-length lookup) for speed. On 300 real linux-clk messages, an index written
by Whoosh's own ``SegmentWriter`` and ones written by ours (all in memory; spilling sorted runs
to disk under a tiny memory limit; merged from two segments) must hold the same postings:
terms, documents, weights, encoded values, and each term's statistics (document frequency,
total weight, shortest and longest field, highest weight). Its fast path for mail text gives the
analyzer's postings; small commits are merged by size tier, large batches written by two
processes, large segments never merged.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from test_search import CLK, _doc, corpus_messages, ids, mail_doc
from whoosh import writing

from listarchive.search import whooshanalysis, whooshindex, whooshschema, whooshwriter
from listarchive.search.queryparser import parse_query
from listarchive.search.whooshindex import WhooshIndex

pytestmark = pytest.mark.pure

Postings = dict[tuple[str, bytes], tuple[Any, ...]]


@pytest.fixture(scope="module")
def fields() -> list[dict[str, Any]]:
    if not CLK.exists():
        pytest.skip("linux-clk corpus not available")
    return [whooshschema.fields(mail_doc(raw)[1]) for raw in corpus_messages(300)]


def build(path: Path, writer_of: Any, fields: list[dict[str, Any]], commits: int = 1) -> None:
    ix = WhooshIndex.open(path)
    step = -(-len(fields) // commits)
    for start in range(0, len(fields), step):
        writer = writer_of(ix._ix)
        for one in fields[start:start + step]:
            writer.add_document(**one)
        writer.commit(mergetype=writing.NO_MERGE)
    ix.close()


def postings(path: Path) -> Postings:
    """Every term's statistics and postings, documents named by Message-ID."""
    ix = WhooshIndex.open(path, create=False)
    out: Postings = {}
    with ix._ix.searcher() as searcher:
        reader = searcher.reader()
        msgid = {doc: fields["msgid"] for doc, fields in reader.iter_docs()}
        for fieldname, text in reader.all_terms():
            if fieldname == "date":
                continue  # numeric trie terms: same values, compared through "msgid" below
            info = reader.term_info(fieldname, text)
            matcher = reader.postings(fieldname, text)
            rows = []
            while matcher.is_active():
                rows.append((msgid[matcher.id()], matcher.weight(), matcher.value()))
                matcher.next()
            out[fieldname, text] = (info.doc_frequency(), info.weight(), info.min_length(),
                                    info.max_length(), info.max_weight(), tuple(sorted(rows)))
    ix.close()
    return out


def test_our_writer_writes_the_postings_whoosh_writes(tmp_path: Path,
                                                      fields: list[dict[str, Any]]) -> None:
    build(tmp_path / "whoosh", lambda ix: writing.SegmentWriter(ix), fields)
    reference = postings(tmp_path / "whoosh")
    assert len(reference) > 10_000

    build(tmp_path / "memory", lambda ix: whooshwriter._SegmentWriter(ix), fields)
    assert postings(tmp_path / "memory") == reference

    # A 1 MB limit: the pool spills sorted runs to disk many times and merges them back.
    build(tmp_path / "spilled", lambda ix: whooshwriter._SegmentWriter(ix, limitmb=1), fields)
    assert postings(tmp_path / "spilled") == reference

    # Three segments merged into one by our writer: postings come from the segments' readers.
    merged = tmp_path / "merged"
    build(merged, lambda ix: whooshwriter._SegmentWriter(ix), fields, commits=3)
    ix = WhooshIndex.open(merged)
    assert len(ix._ix._segments()) == 3
    whooshwriter._SegmentWriter(ix._ix).commit(optimize=True)
    assert len(ix._ix._segments()) == 1
    ix.close()
    assert postings(merged) == reference


def test_pool_gives_postings_in_term_then_document_order(tmp_path: Path) -> None:
    ix = WhooshIndex.open(tmp_path / "ix")
    writer = whooshwriter._SegmentWriter(ix._ix)
    pool = writer.pool
    items = [("b", b"x", 3, 1.0, b"\x01"), ("a", b"z", 1, 2.0, None), ("b", b"x", 1, 1.5, b"v"),
             ("a", b"y", 2, 1.0, b"long value bytes"), ("b", b"w", 0, 1.0, b"\x01")]
    for item in items:
        pool.add(item)
    assert list(pool.iter_postings()) == sorted(items)
    assert pool.fieldnames == {"a", "b"}
    writer.cancel()


def test_fast_field_analysis_gives_the_analyzers_postings_on_real_mail() -> None:
    """MailText.index skips Whoosh's token pipeline; its postings must be exactly the ones the
    field's analyzer produces (terms, frequencies, weights and encoded positions)."""
    if not CLK.exists():
        pytest.skip("linux-clk corpus not available")
    schema = whooshschema.build_schema()
    fast = [name for name in schema.names() if isinstance(schema[name], whooshanalysis.MailText)]
    assert {"subject", "nq", "quoted", "to_addr", "cc_addr", "dfb"} <= set(fast)
    compared = 0
    for raw in corpus_messages(400):
        fields = whooshschema.fields(mail_doc(raw)[1])
        for name in fast:
            value = fields.get(name)
            if not value:
                continue
            field = schema[name]
            generic = sorted(super(whooshanalysis.MailText, field).index(value))
            assert sorted(field.index(value)) == generic, (name, value[:200])
            compared += 1
    assert compared > 1000


def test_small_commits_are_merged_by_size_tier(tmp_path: Path) -> None:
    """One message per commit (``watch`` on a quiet list) must not leave a segment per message:
    a tier of MERGE_FACTOR one-message segments becomes one segment of the next tier."""
    ix = WhooshIndex.open(tmp_path / "ix")
    counts = []
    for i in range(whooshwriter.MERGE_FACTOR + 1):
        ix.add([_doc(f"m{i}@x", subject=f"tiered word{i}")])
        counts.append(len(ix._ix._segments()))
    assert counts[: whooshwriter.MERGE_FACTOR] == list(range(1, whooshwriter.MERGE_FACTOR + 1))
    assert counts[-1] == 1  # the ten merged into the segment written with the newest
    assert ix.search(parse_query("s:tiered"), per_page=0).total == whooshwriter.MERGE_FACTOR + 1
    assert ids(ix, "s:word3") == ["m3@x"]


def test_a_large_batch_is_indexed_by_two_processes_into_separate_segments(
        tmp_path: Path) -> None:
    ix = WhooshIndex.open(tmp_path / "ix")
    n = whooshwriter.PARALLEL_MIN_DOCS + 10
    docs = (_doc(f"p{i}@x", subject=f"parallel item{i}", date=datetime(2024, 1, 1)
                 + timedelta(minutes=i)) for i in range(n))
    assert ix.add(docs, expected=n) == n
    assert len(ix._ix._segments()) == 2
    assert ix.search(parse_query("s:parallel"), per_page=0).total == n
    assert ids(ix, "s:item7") == ["p7@x"]
    assert ix.add(_doc(f"p{i}@x") for i in range(3)) == 3  # re-adding replaces
    assert ix.doc_count() == n


def test_large_segments_are_never_merged(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A bulk build's segments stay as written: merging rewrites every posting in Python."""
    monkeypatch.setattr(whooshwriter, "LARGE_SEGMENT", 3)
    ix = WhooshIndex.open(tmp_path / "ix")
    for i in range(whooshwriter.MERGE_FACTOR + 1):
        ix.add([_doc(f"b{i}-{j}@x", subject=f"bulk{i}") for j in range(3)])
    assert len(ix._ix._segments()) == whooshwriter.MERGE_FACTOR + 1
    assert ix.search(parse_query("d:1990-01-01.. OR s:bulk0"), per_page=0).total >= 3
    assert ix.doc_count() == 3 * (whooshwriter.MERGE_FACTOR + 1)


def test_an_index_naming_the_analysis_where_it_used_to_live_still_opens(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whoosh pickles the schema into the index, naming our analysis classes by module: an index
    written while they lived in ``whooshindex`` names them there, and must open and answer."""
    for cls in whooshindex.PICKLED:
        monkeypatch.setattr(cls, "__module__", "listarchive.search.whooshindex")
    WhooshIndex.open(tmp_path / "ix").add([_doc("old@x", subject="Leaking clocks",
                                                from_="a@kernel.org")])
    monkeypatch.undo()
    toc = b"".join(p.read_bytes() for p in (tmp_path / "ix").glob("*.toc"))
    assert b"listarchive.search.whooshindex" in toc and b"whooshanalysis" not in toc
    reopened = WhooshIndex.open(tmp_path / "ix", create=False)
    assert ids(reopened, "s:leak f:kernel.org") == ["old@x"]
