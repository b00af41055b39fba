"""Full-text search on tantivy (a Rust engine, through its official Python binding), the
default engine: the adapter's index, behind :class:`~listarchive.search.documents.SearchIndex`:
:class:`SearchDoc` values in, :class:`SearchResult` values out, queries written as
:mod:`listarchive.search.querytree` trees. Matching, sorting and counting run in compiled code.

``tantivy`` is imported by this adapter's modules alone: the analysis
(:mod:`~listarchive.search.tantivyanalysis`, following :mod:`listarchive.search.analysis` as the
other engine's does), the schema (:mod:`~listarchive.search.tantivyschema`), the query
compilation (:mod:`~listarchive.search.tantivyquery`) and this module, which opens an index,
writes batches and searches it.

Restrictions are part of the query (the lists asked for, and a ``visibility`` mask built from
the few keys the index holds), never a post-filter: totals count only what the viewer may see.

Writes: one writer per directory, across processes (tantivy's lock file, released by the kernel
when a writer dies), held for one commit; its indexing threads run beside the Python that
builds the documents. A commit is atomic (``meta.json`` renamed into place); a killed writer
leaves unreferenced files that the next writer's garbage collection removes. Readers reload when
``meta.json`` changes.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import tantivy

from listarchive.errors import IndexBusy, QueryError
from listarchive.search import analysis, snippets
from listarchive.search import querytree as qt
from listarchive.search.documents import PUBLIC, Hit, SearchDoc, SearchResult, Sort, from_epoch
from listarchive.search.tantivyanalysis import ANALYZERS, stem_word
from listarchive.search.tantivyquery import compile_query
from listarchive.search.tantivyschema import build_schema, fields

logger = logging.getLogger(__name__)

NAME = "tantivy"
LOCK_TIMEOUT = 30.0
WRITER_MB = 128  # the indexing threads' memory budget, shared between them
WRITER_THREADS = 2


class TantivyIndex:
    """One tantivy index directory (a :class:`~listarchive.search.documents.SearchIndex`).

    Thread-safe for searching. Each write takes the writer (waiting up to ``LOCK_TIMEOUT``
    seconds for another process's), commits, lets the merges its commit started finish and
    gives the lock back, so a web request changing a state never waits behind a long catch-up
    for more than one batch.
    """

    name = NAME
    layout = 4  # changes when an index written before cannot be read as it is (2: excerpts,
    # 3: checks, 4: the sort key with its tie-break)

    def __init__(self, path: Path, ix: tantivy.Index) -> None:
        self._path = path
        self._ix = ix
        for name, analyzer in ANALYZERS.items():
            ix.register_tokenizer(name, analyzer)
        self._schema = ix.schema
        self._lock = threading.Lock()
        self._generation: tuple[int, int, int] | None = None
        self._searcher: tantivy.Searcher | None = None
        self._lexicons: dict[str, list[str]] = {}

    @staticmethod
    def exists(index_dir: Path) -> bool:
        return (Path(index_dir) / "meta.json").is_file()

    @classmethod
    def open(cls, index_dir: Path, create: bool = True, writing: bool = False) -> TantivyIndex:
        """Open the index in ``index_dir``, creating an empty one there if allowed.
        Raises ``FileNotFoundError`` when there is none and ``create`` is false."""
        del writing  # readers and writers open the same way
        index_dir = Path(index_dir)
        if cls.exists(index_dir):
            ix = tantivy.Index.open(str(index_dir))
        elif not create:
            raise FileNotFoundError(f"no search index in {index_dir}")
        else:
            index_dir.mkdir(parents=True, exist_ok=True)
            ix = tantivy.Index(build_schema(), path=str(index_dir), reuse=False)
        ix.config_reader(reload_policy="manual")
        return cls(index_dir, ix)

    def close(self) -> None:
        with self._lock:
            self._searcher = None

    # -- writing

    @contextmanager
    def _writing(self, timeout: float | None = None) -> Iterator[tantivy.IndexWriter]:
        """The index's writer for one commit: rolled back if the block fails; the lock is
        given back after the merges the commit started (an abandoned merge is lost work)."""
        deadline = time.monotonic() + (LOCK_TIMEOUT if timeout is None else timeout)
        while True:
            try:
                writer = self._ix.writer(heap_size=WRITER_MB * 1024 * 1024,
                                         num_threads=WRITER_THREADS)
                break
            except ValueError as exc:
                if "LockBusy" not in str(exc):
                    raise
                if time.monotonic() >= deadline:
                    raise IndexBusy("the search index is being written by another process") from exc
                time.sleep(0.1)
        try:
            yield writer
        except BaseException:
            writer.rollback()
            raise
        finally:
            writer.wait_merging_threads()

    def add(self, docs: Iterable[SearchDoc], replace: Collection[str] | None = None,
            expected: int = 0, timeout: float | None = None) -> int:
        """See :meth:`listarchive.search.documents.SearchIndex.add`. Documents are handed to
        the indexing threads as they come, while the caller builds the next ones."""
        del expected  # the writer's threads take any number of documents
        replace_all = replace is None and self.doc_count() > 0
        seen: set[str] = set()
        with self._writing(timeout) as writer:
            for doc in docs:
                if doc.msgid in seen:
                    continue
                seen.add(doc.msgid)
                if replace_all or (replace is not None and doc.msgid in replace):
                    writer.delete_documents_by_term("msgid", doc.msgid)
                writer.add_document(tantivy.Document.from_dict(fields(doc), self._schema))
            if seen:
                writer.commit()
        return len(seen)

    def delete(self, msgids: Iterable[str]) -> int:
        present = [m for m in dict.fromkeys(msgids) if self.contains(m)]
        if present:
            with self._writing() as writer:
                for msgid in present:
                    writer.delete_documents_by_term("msgid", msgid)
                writer.commit()
        return len(present)

    def clear(self) -> None:
        with self._writing() as writer:
            writer.delete_all_documents()
            writer.commit()

    # -- reading

    def _current(self) -> tantivy.Searcher:
        """The searcher of the last commit: reloaded when ``meta.json`` was replaced (each
        commit renames a new one into place), a ``stat`` per query otherwise.

        Another process's writer may merge away and delete the segments of the commit being
        opened; opening again reads the newer commit."""
        for attempt in range(3):
            st = os.stat(self._path / "meta.json")
            generation = (st.st_ino, st.st_mtime_ns, st.st_size)
            if self._searcher is not None and generation == self._generation:
                break
            try:
                self._ix.reload()
            except (ValueError, OSError):
                if attempt == 2:
                    raise
                time.sleep(0.01)
                continue
            self._searcher = self._ix.searcher()
            self._generation = generation
            self._lexicons = {}
            break
        assert self._searcher is not None
        return self._searcher

    def _lexicon(self, searcher: tantivy.Searcher, column: str) -> list[str]:
        found = self._lexicons.get(column)
        if found is None:
            found = self._lexicons[column] = [w for w, _ in searcher.terms_with_prefix(column, "")]
        return found

    def doc_count(self) -> int:
        with self._lock:
            return int(self._current().num_docs)

    def contains(self, msgid: str) -> bool:
        with self._lock:
            searcher = self._current()
        query = tantivy.Query.term_query(self._schema, "msgid", msgid, index_option="basic")
        return _count(searcher.search(query, 1, count=True)) > 0

    def _restrict(self, searcher: tantivy.Searcher, query: tantivy.Query,
                  lists: tuple[str, ...] | None, viewer_keys: frozenset[str]) -> tantivy.Query:
        """The query narrowed to the lists asked for (unless they are every list indexed),
        minus the documents under the visibility keys this viewer does not hold (usually
        none: intersecting with every public document instead costs a pass over them)."""
        clauses = [(tantivy.Occur.Must, query)]
        if lists is not None:
            wanted = sorted({analysis.facet_value(name) for name in lists})
            if not set(self._lexicon(searcher, "lists")) <= set(wanted):
                clauses.append((tantivy.Occur.Must,
                                tantivy.Query.term_set_query(self._schema, "lists", wanted)))
        allowed = {PUBLIC} | set(viewer_keys)
        hidden = [k for k in self._lexicon(searcher, "visibility") if k not in allowed]
        if hidden:
            clauses.append((tantivy.Occur.MustNot,
                            tantivy.Query.term_set_query(self._schema, "visibility", hidden)))
        return query if len(clauses) == 1 else tantivy.Query.boolean_query(clauses)

    def search(self, query: qt.Query, *, lists: tuple[str, ...] | None = None,
               viewer_keys: frozenset[str] = frozenset(), sort: Sort = "date", page: int = 1,
               per_page: int = 50) -> SearchResult:
        if page < 1 or per_page < 0:
            raise QueryError("page counts from 1 and per_page may not be negative", None)
        with self._lock:
            searcher = self._current()
            scored = sort == "relevance"
            q = self._restrict(searcher, compile_query(query, self._schema, searcher, scored),
                               lists, viewer_keys)
        order = None if scored else "order"
        offset = 0 if per_page == 0 else (page - 1) * per_page
        limit = per_page
        if per_page == 0:
            limit = max(1, _count(searcher.search(q, 1, count=True, order_by_field=order)))
        found = searcher.search(q, limit, count=True, order_by_field=order, offset=offset)
        addresses = [address for _, address in found.hits]
        dates = searcher.fast_field_values("date", addresses) if addresses else []
        hits = []
        for (value, address), when in zip(found.hits, dates, strict=True):
            stored = searcher.doc(address)
            excerpt = stored.get_first("excerpt")
            hits.append(Hit(stored["msgid"][0], from_epoch(_int(when)),
                            float(value) if scored else None,
                            excerpt.decode("utf-8", "replace") if excerpt else ""))
        return SearchResult(_count(found), tuple(hits))

    def snippet(self, msgid: str, query: qt.Query, text: str, maxchars: int = 300) -> str:
        """See :meth:`listarchive.search.documents.SearchIndex.snippet`; the index stores no
        text, so ``msgid`` is unused."""
        del msgid
        return snippets.mark(text, _snippet_pattern(query), maxchars)


def _count(result: tantivy.SearchResult) -> int:
    return int(result.count or 0)  # type: ignore[attr-defined]  # missing from the stubs


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@lru_cache(maxsize=256)
def _snippet_pattern(query: qt.Query) -> Any:
    return snippets.matcher(snippets.query_words(query, stem_word))
