"""Full-text search on tantivy (a Rust engine, through its official Python binding): the only
module that imports ``tantivy``, and the default engine.

One of the two engines behind :class:`~listarchive.search.documents.SearchIndex`:
:class:`SearchDoc` values in, :class:`SearchResult` values out, queries written as
:mod:`listarchive.search.querytree` trees; :func:`compile_query` is the one place that turns such a
tree into tantivy queries. Matching, sorting and counting run in compiled code.

The analysis is :mod:`listarchive.search.analysis`'s, done by tantivy's own analyzers (Python
never touches a word of the body while indexing):

- Mail and code text is indexed as its ``\\w`` runs, with positions, lower-cased (prose columns
  also stemmed, English); a word typed with joiners (``v6.1-rc3``, ``john.smith@kernel.org``,
  ``drivers/clk``) is looked up as the phrase of its pieces, so the whole finds exactly what
  it names and each piece (``rc3``, ``kernel.org``) finds it too, as the analysis promises.
  Bulky secondary columns keep no positions (:data:`analysis.UNPOSITIONED`): a phrase there is
  all of its words.
- A diff's files are indexed as :func:`analysis.path_terms` gives them, one exact term each;
  facets, Message-IDs and patch-ids as exact terms.
- The date is a fast column: newest-first pages are sorted from it without scoring, and only
  the Message-IDs and excerpts (for snippets) of the page shown are read from the document
  store.

Restrictions are part of the query (the lists asked for, and a ``visibility`` mask built from
the few keys the index holds), never a post-filter: totals count only what the viewer may see.

Writes: one writer per directory, across processes (tantivy's lock file, released by the kernel
when a writer dies), held for one commit; its indexing threads run beside the Python that
builds the documents. A commit
is atomic (``meta.json`` renamed into place); a killed writer leaves unreferenced files that the
next writer's garbage collection removes. Readers reload when ``meta.json`` changes.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import zlib
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import tantivy

from listarchive.errors import IndexBusy, QueryError
from listarchive.search import analysis, snippets
from listarchive.search import querytree as qt
from listarchive.search.documents import (
    MAX_FIELD_CHARS,
    NO_DATE,
    PUBLIC,
    Hit,
    SearchDoc,
    SearchResult,
    Sort,
    date_value,
    epoch,
    from_epoch,
)
from listarchive.search.vocabulary import MAX_PREFIX_EXPANSION

logger = logging.getLogger(__name__)

NAME = "tantivy"
LOCK_TIMEOUT = 30.0
WRITER_MB = 128  # the indexing threads' memory budget, shared between them
WRITER_THREADS = 2
_PROSE = "mail_prose"
_CODE = "mail_code"
_RAW = "raw"

# Column -> its analyzer; positions unless listed in analysis.UNPOSITIONED.
_TEXT_COLUMNS = {
    "subject": _PROSE, "nq": _PROSE, "quoted": _PROSE,
    "from_addr": _CODE, "to_addr": _CODE, "cc_addr": _CODE,
    "attachments": _CODE, "dfa": _CODE, "dfb": _CODE, "dfhh": _CODE,
}
_EXACT_COLUMNS = ("dfn", "patchid", "lists", "subsystems", "state", "kinds", "trailers",
                  "checks", "visibility")
_SUBJECT_BOOST = 2.0  # relevance order: a word in the subject counts twice


def _analyzer(stem: bool) -> tantivy.TextAnalyzer:
    builder = (tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.regex(r"\w+"))
               .filter(tantivy.Filter.remove_long(analysis.MAX_WORD_CHARS + 1))
               .filter(tantivy.Filter.lowercase()))
    if stem:
        builder = builder.filter(tantivy.Filter.stemmer("english"))
    return builder.build()


_ANALYZERS = {_PROSE: _analyzer(stem=True), _CODE: _analyzer(stem=False)}


def build_schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("msgid", stored=True, tokenizer_name=_RAW, index_option="basic")
    builder.add_integer_field("date", indexed=True, fast=True)
    builder.add_integer_field("order", fast=True)  # date, then a tie-break: see _order
    builder.add_bytes_field("excerpt", stored=True)  # kept for snippets, not searched
    for column, analyzer in _TEXT_COLUMNS.items():
        option = "freq" if column in analysis.UNPOSITIONED else "position"
        builder.add_text_field(column, tokenizer_name=analyzer, index_option=option)
    for column in _EXACT_COLUMNS:
        builder.add_text_field(column, tokenizer_name=_RAW, index_option="basic")
    return builder.build()


@lru_cache(maxsize=100_000)
def _stem(word: str) -> str:
    """The prose analyzer's stem of one word (snippets mark what the index matched)."""
    found = _ANALYZERS[_PROSE].analyze(word)
    return found[0] if len(found) == 1 else word


def _words(column: str, text: str) -> list[str]:
    return list(_ANALYZERS[_TEXT_COLUMNS[column]].analyze(text))


def _order(doc: SearchDoc) -> int:
    """The newest-first sort key: the date in seconds, then a hash of the Message-ID, so that
    mail of the same second comes in one order in every index of the same mail, however its
    segments were written and merged (sorting by the date alone left ties in segment order)."""
    seconds = max(min(date_value(doc.date), _ORDER_SPAN), -_ORDER_SPAN)
    return (seconds << _TIE_BITS) | (zlib.crc32(doc.msgid.encode()) & ((1 << _TIE_BITS) - 1))


_TIE_BITS = 22
_ORDER_SPAN = 1 << 40  # seconds either side of 1970; an undated message sorts last


def _fields(doc: SearchDoc) -> dict[str, Any]:
    def cap(text: str) -> str:
        return text[:MAX_FIELD_CHARS]

    out: dict[str, Any] = {
        "msgid": doc.msgid, "date": date_value(doc.date), "order": _order(doc),
        "visibility": doc.visibility or PUBLIC,
    }
    text = {
        "subject": doc.subject, "from_addr": doc.from_, "to_addr": doc.to, "cc_addr": doc.cc,
        "nq": doc.body, "quoted": doc.quoted, "attachments": "\n".join(doc.attachments),
        "dfa": doc.removed, "dfb": doc.added, "dfhh": doc.hunk_headers,
    }
    out.update((k, cap(v)) for k, v in text.items() if v)
    exact: dict[str, list[str]] = {
        "dfn": analysis.path_terms(doc.diff_files[:10_000]),
        "patchid": [doc.patch_id.lower()] if doc.patch_id else [],
        "lists": [analysis.facet_value(v) for v in doc.lists],
        "subsystems": [analysis.facet_value(v) for v in doc.subsystems],
        "state": [doc.state.lower()] if doc.state else [],
        "kinds": [analysis.facet_value(v) for v in doc.kinds],
        "trailers": [analysis.facet_value(v) for v in doc.trailers],
        "checks": [analysis.facet_value(v) for v in doc.checks],
    }
    out.update((k, v) for k, v in exact.items() if v)
    if doc.excerpt:
        out["excerpt"] = doc.excerpt.encode("utf-8", "surrogatepass")
    return out


# ----------------------------------------------------------------------------------------------
# Query compilation


class _Compiler:
    """Turns one query tree into a tantivy query for one searcher (prefixes are expanded
    against that searcher's words, and refused past :data:`MAX_PREFIX_EXPANSION`)."""

    def __init__(self, schema: tantivy.Schema, searcher: tantivy.Searcher | None,
                 scored: bool) -> None:
        self.schema = schema
        self.searcher = searcher
        self.option = "freq" if scored else "basic"

    def term(self, column: str, value: str) -> tantivy.Query:
        return tantivy.Query.term_query(self.schema, column, value, index_option=self.option)

    def words(self, column: str, text: str) -> tantivy.Query:
        """Words typed for one column: a term, else the phrase of their pieces (all of them,
        on a column without positions)."""
        if column == "msgid":
            return self.term(column, text)
        if column == "patchid":
            return self.term(column, text.lower())
        if column == analysis.PATH:
            path = analysis.query_path(text)
            return self.term(column, path) if path else tantivy.Query.empty_query()
        tokens = _words(column, text)
        if not tokens:
            return tantivy.Query.empty_query()
        if len(tokens) == 1:
            return self.term(column, tokens[0])
        if column in analysis.UNPOSITIONED:
            return _all([self.term(column, t) for t in tokens])
        words: list[str | tuple[int, str]] = list(tokens)
        return tantivy.Query.phrase_query(self.schema, column, words)

    def expand(self, column: str, prefix: str, leaf: qt.Prefix) -> list[str]:
        """The words of ``column`` starting with ``prefix``, refused past the limit."""
        if self.searcher is None:
            return []
        found = self.searcher.terms_with_prefix(column, prefix, limit=MAX_PREFIX_EXPANSION + 1)
        if len(found) > MAX_PREFIX_EXPANSION:
            raise QueryError(f"{leaf} matches more than {MAX_PREFIX_EXPANSION} different words; "
                             "type more of the word", max(leaf.position, 0))
        return [word for word, _ in found]

    def prefix(self, column: str, leaf: qt.Prefix) -> tantivy.Query:
        """``word*``: the words starting with it (and, in prose, with its stem); typed with
        joiners (``v6.1-rc*``), the phrase of its pieces ending in such a word."""
        if column == analysis.PATH:
            return self.term_set(column, self.expand(column, analysis.query_path(leaf.text), leaf))
        pieces = list(_ANALYZERS[_CODE].analyze(leaf.text))
        if not pieces:
            return tantivy.Query.empty_query()
        prose = _TEXT_COLUMNS[column] == _PROSE
        last, head = pieces[-1], [_stem(p) if prose else p for p in pieces[:-1]]
        starts = sorted({last, _stem(last)} if prose and last.isalpha() else {last})
        words = sorted({w for start in starts for w in self.expand(column, start, leaf)})
        if not head:
            return self.term_set(column, words)
        if column in analysis.UNPOSITIONED:
            return _all([*(self.term(column, p) for p in head), self.term_set(column, words)])
        # Pieces are \w runs: nothing in them needs escaping in a regular expression.
        return _any([tantivy.Query.regex_phrase_query(self.schema, column, [*head, start + ".*"])
                     for start in starts])

    def term_set(self, column: str, terms: list[str]) -> tantivy.Query:
        if not terms:
            return tantivy.Query.empty_query()
        return tantivy.Query.term_set_query(self.schema, column, terms)

    def compile(self, tree: qt.Query, boost: bool = False) -> tantivy.Query:
        if isinstance(tree, qt.Term | qt.Phrase):
            text = tree.text if isinstance(tree, qt.Term) else " ".join(tree.words)
            return _any([self.boosted(c, self.words(c, text), boost)
                         for c in analysis.SEARCHED[tree.field]])
        if isinstance(tree, qt.Prefix):
            return _any([self.prefix(c, tree) for c in analysis.SEARCHED[tree.field]])
        if isinstance(tree, qt.DateRange):
            start = NO_DATE + 1 if tree.start is None else epoch(tree.start)
            if tree.end is None:
                return tantivy.Query.range_query(self.schema, "date", tantivy.FieldType.Integer,
                                                 start, None)
            return tantivy.Query.range_query(self.schema, "date", tantivy.FieldType.Integer,
                                             start, epoch(tree.end), include_upper=False)
        if isinstance(tree, qt.Flag):
            return self.term(analysis.FLAG_COLUMNS[tree.name], analysis.facet_value(tree.value))
        if isinstance(tree, qt.Not):
            return tantivy.Query.boolean_query([
                (tantivy.Occur.Must, tantivy.Query.all_query()),
                (tantivy.Occur.MustNot, self.compile(tree.item))])
        if isinstance(tree, qt.Or):
            return _any([self.compile(item, boost) for item in tree.items])
        clauses = [(tantivy.Occur.MustNot, self.compile(item.item)) if isinstance(item, qt.Not)
                   else (tantivy.Occur.Must, self.compile(item, boost)) for item in tree.items]
        return tantivy.Query.boolean_query(clauses)

    @staticmethod
    def boosted(column: str, query: tantivy.Query, boost: bool) -> tantivy.Query:
        if boost and column == "subject":
            return tantivy.Query.boost_query(query, _SUBJECT_BOOST)
        return query


def _any(queries: list[tantivy.Query]) -> tantivy.Query:
    if len(queries) == 1:
        return queries[0]
    return tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in queries])


def _all(queries: list[tantivy.Query]) -> tantivy.Query:
    if len(queries) == 1:
        return queries[0]
    return tantivy.Query.boolean_query([(tantivy.Occur.Must, q) for q in queries])


def compile_query(tree: qt.Query, schema: tantivy.Schema | None = None,
                  searcher: tantivy.Searcher | None = None, scored: bool = False) -> tantivy.Query:
    """Our query tree as a tantivy query (``searcher`` expands and bounds prefixes; without it
    a prefix matches nothing)."""
    return _Compiler(schema or build_schema(), searcher, scored).compile(tree, boost=scored)


# ----------------------------------------------------------------------------------------------
# The index


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
        for name, analyzer in _ANALYZERS.items():
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
                writer.add_document(tantivy.Document.from_dict(_fields(doc), self._schema))
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
    return snippets.matcher(snippets.query_words(query, _stem))
