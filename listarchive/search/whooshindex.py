"""Full-text search on Whoosh: the adapter's index, behind
:class:`~listarchive.search.documents.SearchIndex` (``[search] engine = "whoosh"``; tantivy is
the default): :class:`SearchDoc` values in, :class:`SearchResult` values out, queries written as
:mod:`listarchive.search.querytree` trees.

``whoosh`` is imported by this adapter's modules alone: the analysis
(:mod:`~listarchive.search.whooshanalysis`, following :mod:`listarchive.search.analysis` as the
other engine's does), the schema (:mod:`~listarchive.search.whooshschema`), the query
compilation (:mod:`~listarchive.search.whooshquery`), the writers
(:mod:`~listarchive.search.whooshwriter`) and this module, which opens an index, writes batches
and searches it.

Commits are atomic (a new table-of-contents file renamed into place); a killed writer leaves at
most unreferenced files, removed by the next commit. Readers open a committed generation and
never take the lock.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Iterable, Sized
from functools import lru_cache
from pathlib import Path
from typing import Any

from whoosh import index, writing
from whoosh.filedb.filestore import FileStorage
from whoosh.searching import Searcher
from whoosh.sorting import FieldFacet

from listarchive.errors import IndexBusy, QueryError
from listarchive.search import querytree as qt
from listarchive.search import snippets, whooshwriter
from listarchive.search.documents import Hit, SearchDoc, SearchResult, Sort, from_epoch
from listarchive.search.whooshanalysis import (
    MailText,
    MailTokenizer,
    PathTokenizer,
    ProseStemFilter,
    stem_word,
)
from listarchive.search.whooshquery import compile_query, restrict
from listarchive.search.whooshschema import build_schema, fields

logger = logging.getLogger(__name__)

NAME = "whoosh"
LOCK_TIMEOUT = 30.0
# Whoosh pickles the schema into every index, naming each class by module: indexes written
# before the analysis had a module of its own name these here, so they stay importable here.
PICKLED = (MailText, MailTokenizer, PathTokenizer, ProseStemFilter)


def _storage(index_dir: Path, mmap: bool = True) -> FileStorage:
    return FileStorage(str(index_dir), supports_mmap=mmap)


class WhooshIndex:
    """One Whoosh index directory (a :class:`~listarchive.search.documents.SearchIndex`).
    Thread-safe for searching; one writer at a time (a lock file shared by processes: a second
    writer waits up to ``LOCK_TIMEOUT`` seconds)."""

    name = NAME
    layout = 3  # changes when an index written before cannot be read as it is (2: excerpts,
    # 3: checks)

    def __init__(self, ix: index.Index) -> None:
        self._ix = ix
        self._schema = ix.schema
        self._lock = threading.Lock()
        self._searcher: Searcher | None = None

    @staticmethod
    def exists(index_dir: Path) -> bool:
        return Path(index_dir).is_dir() and bool(index.exists_in(str(index_dir)))

    @classmethod
    def open(cls, index_dir: Path, create: bool = True, writing: bool = False) -> WhooshIndex:
        """Open the index in ``index_dir``, creating an empty one there if allowed.

        Readers map segment files into memory (fast lookups). The indexer (``writing``) does
        not: it reopens a growing index after every commit, and the mapped pages of each
        generation counted as its resident memory (700 MB after 10k messages; 180 MB without).
        Raises ``FileNotFoundError`` when there is none and ``create`` is false.
        """
        index_dir = Path(index_dir)
        mmap = not writing
        if cls.exists(index_dir):
            return cls(_storage(index_dir, mmap).open_index())
        if not create:
            raise FileNotFoundError(f"no search index in {index_dir}")
        index_dir.mkdir(parents=True, exist_ok=True)
        return cls(_storage(index_dir, mmap).create_index(build_schema()))

    def close(self) -> None:
        with self._lock:
            if self._searcher is not None:
                self._searcher.close()
                self._searcher = None

    def _writer(self, ndocs: int, timeout: float | None = None) -> Any:
        # One writer process or two, by the size of the batch (see whooshwriter).
        return whooshwriter.open_writer(self._ix, ndocs,
                                        LOCK_TIMEOUT if timeout is None else timeout)

    def add(self, docs: Iterable[SearchDoc], replace: Collection[str] | None = None,
            expected: int = 0, timeout: float | None = None) -> int:
        """Index ``docs`` in one commit, replacing any indexed message with the same Message-ID.

        ``docs`` is consumed as it comes (with two writer processes, they index while the
        caller is still producing documents); ``expected`` says how many a generator will give
        (a sized collection says it itself), which picks one or two writer processes. The first
        copy of a Message-ID repeated within ``docs`` wins.

        ``replace`` names the Message-IDs that may already be indexed (None: any of them). The
        indexer knows that new mail is not, and skipping the writer's delete-by-term for it
        matters: that lookup maps every segment's term files and cost ~35 MB of resident memory
        per thousand messages on a growing index. Returns how many were added. Nothing is
        visible to searches until the commit, and a crash before it leaves the index as it was.
        ``timeout`` bounds the wait for another writer's lock (default ``LOCK_TIMEOUT``); past
        it :class:`IndexBusy` is raised and nothing is written.
        """
        replace_all = replace is None and self._ix.doc_count_all() > 0
        try:
            writer = self._writer(len(docs) if isinstance(docs, Sized) else expected, timeout)
        except index.LockError as exc:
            raise IndexBusy("the search index is being written by another process") from exc
        seen: set[str] = set()
        try:
            for doc in docs:
                if doc.msgid in seen:
                    continue
                seen.add(doc.msgid)
                if replace_all or (replace is not None and doc.msgid in replace):
                    writer.delete_by_term("msgid", doc.msgid)
                writer.add_document(**fields(doc))
        except BaseException:
            writer.cancel()
            raise
        if not seen:
            writer.cancel()
            return 0
        writer.commit(mergetype=whooshwriter.merge_tiers)
        return len(seen)

    def contains(self, msgid: str) -> bool:
        with self._lock:
            return self._current().document_number(msgid=msgid) is not None

    def delete(self, msgids: Iterable[str]) -> int:
        """Remove these messages; returns how many index documents were removed."""
        writer = self._ix.writer(timeout=LOCK_TIMEOUT, delay=0.1)
        removed = 0
        try:
            for msgid in msgids:
                removed += writer.delete_by_term("msgid", msgid)
        except BaseException:
            writer.cancel()
            raise
        writer.commit()
        return removed

    def clear(self) -> None:
        """Empty the index (one atomic commit that drops every segment)."""
        writer = self._ix.writer(timeout=LOCK_TIMEOUT, delay=0.1)
        writer.commit(mergetype=writing.CLEAR)

    def doc_count(self) -> int:
        return int(self._ix.doc_count())

    def _current(self) -> Searcher:
        # A fresh searcher per commit: Searcher.refresh() reuses segment readers and keeps
        # showing documents deleted since (seen with delete() in the tests).
        if self._searcher is not None and not self._searcher.up_to_date():
            self._searcher.close()
            self._searcher = None
        if self._searcher is None:
            self._searcher = self._ix.searcher()
        return self._searcher

    def search(self, query: qt.Query, *, lists: tuple[str, ...] | None = None,
               viewer_keys: frozenset[str] = frozenset(),
               sort: Sort = "date", page: int = 1,
               per_page: int = 50) -> SearchResult:
        """One page of the messages matching ``query`` that the viewer may see.

        ``lists`` None searches every list. ``page`` counts from 1; ``per_page`` 0 returns every
        match. Raises :class:`QueryError` when a prefix would expand to too many words.
        """
        if page < 1 or per_page < 0:
            raise QueryError("page counts from 1 and per_page may not be negative", None)
        with self._lock:
            searcher = self._current()
            q, mask = restrict(searcher, compile_query(query, self._schema, searcher), lists,
                               viewer_keys)
            limit = None if per_page == 0 else page * per_page
            if sort == "date":
                # Newest first from the date column, without scoring: Whoosh's sorting
                # collector still asks every matcher for BM25 scores nobody reads (a fifth
                # of a common phrase's time) unless the context has no weighting.
                collector = searcher.collector(limit=limit, mask=mask,
                                               sortedby=FieldFacet("date", reverse=True))
                searcher.search_with_collector(q, collector, searcher.boolean_context())
                results = collector.results()
            else:
                results = searcher.search(q, limit=limit, mask=mask)
            total = len(results)
            first = 0 if per_page == 0 else (page - 1) * per_page
            hits = []
            for hit in results[first:]:
                stored = hit.fields()
                score = hit.score if sort == "relevance" else None
                hits.append(Hit(stored["msgid"], from_epoch(stored.get("date")),
                                None if score is None else float(score),
                                str(stored.get("excerpt", ""))))
        return SearchResult(total, tuple(hits))

    def snippet(self, msgid: str, query: qt.Query, text: str, maxchars: int = 300) -> str:
        """An HTML fragment of ``text`` around the words ``query`` matched, escaped, matches in
        ``<mark>``; the start of ``text`` when nothing matches.

        ``msgid`` names the message the text comes from; Whoosh stores no text, so it is unused.
        """
        del msgid
        return snippets.mark(text, _snippet_pattern(query), maxchars)


@lru_cache(maxsize=256)
def _snippet_pattern(query: qt.Query) -> Any:
    return snippets.matcher(snippets.query_words(query, stem_word))
