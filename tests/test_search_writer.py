"""The index writer's own posting pool and length lookups write the index Whoosh would write.

``whooshindex._SegmentWriter`` replaces two pieces of Whoosh's segment writer (the posting pool and
the per-posting field-length lookup) for speed. On 300 real linux-clk messages, an index written
by Whoosh's own ``SegmentWriter`` and ones written by ours (all in memory; spilling sorted runs
to disk under a tiny memory limit; merged from two segments) must hold the same postings:
terms, documents, weights, encoded values, and each term's statistics (document frequency,
total weight, shortest and longest field, highest weight).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_search import CLK, corpus_messages, mail_doc
from whoosh import writing

from listarchive.search import whooshindex
from listarchive.search.whooshindex import SearchIndex

Postings = dict[tuple[str, bytes], tuple[Any, ...]]


@pytest.fixture(scope="module")
def fields() -> list[dict[str, Any]]:
    if not CLK.exists():
        pytest.skip("linux-clk corpus not available")
    return [whooshindex._fields(mail_doc(raw)[1]) for raw in corpus_messages(300)]


def build(path: Path, writer_of: Any, fields: list[dict[str, Any]], commits: int = 1) -> None:
    ix = SearchIndex.open(path)
    step = -(-len(fields) // commits)
    for start in range(0, len(fields), step):
        writer = writer_of(ix._ix)
        for one in fields[start:start + step]:
            writer.add_document(**one)
        writer.commit(mergetype=writing.NO_MERGE)
    ix.close()


def postings(path: Path) -> Postings:
    """Every term's statistics and postings, documents named by Message-ID."""
    ix = SearchIndex.open(path, create=False)
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

    build(tmp_path / "memory", lambda ix: whooshindex._SegmentWriter(ix), fields)
    assert postings(tmp_path / "memory") == reference

    # A 1 MB limit: the pool spills sorted runs to disk many times and merges them back.
    build(tmp_path / "spilled", lambda ix: whooshindex._SegmentWriter(ix, limitmb=1), fields)
    assert postings(tmp_path / "spilled") == reference

    # Three segments merged into one by our writer: postings come from the segments' readers.
    merged = tmp_path / "merged"
    build(merged, lambda ix: whooshindex._SegmentWriter(ix), fields, commits=3)
    ix = SearchIndex.open(merged)
    assert len(ix._ix._segments()) == 3
    whooshindex._SegmentWriter(ix._ix).commit(optimize=True)
    assert len(ix._ix._segments()) == 1
    ix.close()
    assert postings(merged) == reference


def test_pool_gives_postings_in_term_then_document_order(tmp_path: Path) -> None:
    ix = SearchIndex.open(tmp_path / "ix")
    writer = whooshindex._SegmentWriter(ix._ix)
    pool = writer.pool
    items = [("b", b"x", 3, 1.0, b"\x01"), ("a", b"z", 1, 2.0, None), ("b", b"x", 1, 1.5, b"v"),
             ("a", b"y", 2, 1.0, b"long value bytes"), ("b", b"w", 0, 1.0, b"\x01")]
    for item in items:
        pool.add(item)
    assert list(pool.iter_postings()) == sorted(items)
    assert pool.fieldnames == {"a", "b"}
    writer.cancel()
