"""Full-text search on Whoosh: the only module that imports ``whoosh``.

One of the two engines behind :class:`~listarchive.search.documents.SearchIndex` (``[search]
engine = "whoosh"``; tantivy is the default): :class:`SearchDoc` values in, :class:`SearchResult`
values out, queries written as :mod:`listarchive.search.querytree` trees; :func:`compile_query` is
the one place that turns such a tree into Whoosh objects. The analysis follows
:mod:`listarchive.search.analysis`, as the other engine's does.

Design points, each measured or forced by Whoosh:

- Only the Message-ID and the date are stored; the date is also a sortable column, so results in
  date order are sorted from the column without loading any stored document, and a result page
  loads ``per_page`` tiny stored records.
- Restrictions are part of the query (``visibility`` and list terms ANDed in), never a
  post-filter: totals and pages count only what the viewer may see.
- Identifiers, paths, addresses and versions are kept whole (``pci_enable_device``,
  ``v6.1-rc3``, ``john@example.org``) and, at index time only, also split into their parts, so
  typing either the whole or a part finds them. English stemming is applied to prose fields
  (subject, body) and only to purely alphabetic words. A file in a diff is indexed with each of
  its directories: ``dfn:drivers/clk/`` is one term lookup, not a prefix expansion.
- Large batches are indexed by two processes (``procs=2, multisegment=True``) fed while the
  caller is still building documents; the children ask the kernel to kill them when their
  parent dies, because a forked child inherits the parent's ``flock`` on the write lock and an
  orphan would otherwise hold it for ever. Postings are pooled by term in arrays, a fifth of
  Whoosh's memory per posting, so a writer's batch stays in memory (:class:`_Pool`); a new
  segment's field lengths are read once, not once per posting (:class:`_Lengths`); mail-text
  fields skip Whoosh's per-token pipeline (:class:`MailText`); segments are merged by size tier
  (:func:`_merge_tiers`). Together: a 10k-message build went from 164 to about 700 messages/s
  on two cores (figures at scale: BENCHMARKS.md).
- Commits are atomic (a new table-of-contents file renamed into place); a killed writer leaves
  at most unreferenced files, removed by the next commit. Readers open a committed generation
  and never take the lock.
"""

from __future__ import annotations

import ctypes
import logging
import math
import multiprocessing
import signal
import threading
from array import array
from collections.abc import Collection, Iterable, Iterator, Sized
from functools import lru_cache
from pathlib import Path
from typing import Any

from whoosh import index, multiproc, writing
from whoosh import query as wq
from whoosh.analysis import Filter, LowercaseFilter, Token, Tokenizer
from whoosh.fields import ID, KEYWORD, NUMERIC, STORED, TEXT, Schema
from whoosh.filedb.filestore import FileStorage
from whoosh.formats import Positions
from whoosh.lang.porter import stem as porter_stem
from whoosh.multiproc import MpWriter, SubWriterTask
from whoosh.reading import SegmentReader
from whoosh.searching import Searcher
from whoosh.sorting import FieldFacet
from whoosh.system import pack_uint

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

NAME = "whoosh"
LOCK_TIMEOUT = 30.0
PARALLEL_MIN_DOCS = 1000
WRITER_MB = 128
MERGE_MB = 32
MERGE_FACTOR = 10
LARGE_SEGMENT = 1000


# ----------------------------------------------------------------------------------------------
# Analysis


class MailTokenizer(Tokenizer):
    """Words of mail and code (:data:`analysis.WORD`), as :mod:`listarchive.search.analysis`
    cuts them.

    At index time a joined word is also emitted split into its pieces, at the same position
    (``v6.1-rc3`` -> ``v6.1-rc3``, ``v6``, ``1``, ``rc3``), so a phrase still lines up; queries
    are tokenized whole, so ``v6.1-rc3`` typed finds exactly that. With ``addresses`` an e-mail
    address also yields its local part, domain and parent domains (``f:kernel.org``).
    """

    def __init__(self, addresses: bool = False) -> None:
        self.addresses = addresses

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MailTokenizer) and other.addresses == self.addresses

    def __hash__(self) -> int:
        return hash((MailTokenizer, self.addresses))

    def __call__(self, value: str, positions: bool = False, chars: bool = False,
                 keeporiginal: bool = False, removestops: bool = True, start_pos: int = 0,
                 start_char: int = 0, tokenize: bool = True, mode: str = "",
                 **kwargs: Any) -> Iterator[Token]:
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        expand = mode != "query"
        for pos, match in enumerate(analysis.WORD.finditer(value)):
            text = match.group(0)
            if len(text) > analysis.MAX_WORD_CHARS:
                continue  # base64 and hex dumps: no one searches for them, they bloat the index
            start = match.start()
            for piece, offset in (analysis.pieces(text, self.addresses) if expand
                                  else ((text, 0),)):
                t.text = piece
                t.boost = 1.0
                t.stopped = False
                if keeporiginal:
                    t.original = piece
                if positions:
                    t.pos = start_pos + pos
                if chars:
                    t.startchar = start_char + start + offset
                    t.endchar = t.startchar + len(piece)
                yield t


@lru_cache(maxsize=100_000)
def _stem(word: str) -> str:
    return str(porter_stem(word))


class ProseStemFilter(Filter):
    """Porter stemming of plain words only: ``devices`` -> ``devic``, ``pci_devices`` kept."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ProseStemFilter)

    def __hash__(self) -> int:
        return hash(ProseStemFilter)

    def __call__(self, tokens: Iterable[Token]) -> Iterator[Token]:
        for t in tokens:
            if not t.stopped and t.text.isalpha():
                t.text = _stem(t.text)
            yield t


class PathTokenizer(Tokenizer):
    """File names of a diff, one per line, as :func:`analysis.path_terms` expands them (each
    path, its basename and every directory); a query is one path (:func:`analysis.query_path`)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PathTokenizer)

    def __hash__(self) -> int:
        return hash(PathTokenizer)

    def __call__(self, value: str, positions: bool = False, chars: bool = False,
                 keeporiginal: bool = False, removestops: bool = True, start_pos: int = 0,
                 start_char: int = 0, tokenize: bool = True, mode: str = "",
                 **kwargs: Any) -> Iterator[Token]:
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if mode == "query":
            pieces = [path for path in map(analysis.query_path, value.split("\n")) if path]
        else:
            pieces = analysis.path_terms(value.split("\n"))
        for pos, piece in enumerate(pieces):
            t.text = piece
            t.boost = 1.0
            t.stopped = False
            if positions:
                t.pos = start_pos + pos
            if chars:
                t.startchar, t.endchar = start_char, start_char + len(piece)
            yield t


def _code_analyzer(addresses: bool = False) -> Any:
    return MailTokenizer(addresses) | LowercaseFilter()


def _prose_analyzer() -> Any:
    return MailTokenizer() | LowercaseFilter() | ProseStemFilter()


def _path_analyzer() -> Any:
    return PathTokenizer() | LowercaseFilter()


class MailText(TEXT):
    """A TEXT field of mail or code words whose index-time analysis is one pass over the value.

    Whoosh's generic path sends every token through a chain of generators as a mutable
    ``Token`` (tokenizer, lower-casing, stemming) and pickles each term's positions; for list
    mail that was about a third of indexing. :meth:`index` produces the very same postings as
    ``analyzer(value, mode="index")`` would (a test compares both on real mail), straight from
    the regular expression's matches. Queries still go through ``analyzer``.
    """

    def __init__(self, *, stem: bool = False, addresses: bool = False, **kwargs: Any) -> None:
        analyzer = _prose_analyzer() if stem else _code_analyzer(addresses)
        super().__init__(analyzer=analyzer, **kwargs)
        self.stem_words = stem
        self.addresses = addresses

    def index(self, value: Any, **kwargs: Any) -> Iterator[tuple[bytes, int, float, bytes]]:
        if kwargs.get("mode", "index") != "index" or not isinstance(value, str):
            yield from super().index(value, **kwargs)
            return
        boost = float(self.format.field_boost)
        positions = isinstance(self.format, Positions)
        encode = self.format.encode if positions else None
        for word, where in _index_words(value, self.stem_words, self.addresses).items():
            freq = len(where)
            value_bytes = encode(where) if encode is not None else pack_uint(freq)
            yield word.encode("utf-8"), freq, freq * boost, value_bytes


def _index_words(value: str, stem: bool, addresses: bool) -> dict[str, list[int]]:
    """Each index term of ``value`` and the positions it occurs at: what MailTokenizer (index
    mode), LowercaseFilter and, with ``stem``, ProseStemFilter give, grouped by term."""
    where: dict[str, list[int]] = {}
    for pos, text in enumerate(analysis.WORD.findall(value)):
        if len(text) > analysis.MAX_WORD_CHARS:
            continue
        if text.isidentifier() or text.isalnum():
            pieces: Iterable[str] = (text,)
        else:
            pieces = [piece for piece, _ in analysis.pieces(text, addresses)]
        for piece in pieces:
            word = piece.lower()
            if stem and word.isalpha():
                word = _stem(word)
            found = where.get(word)
            if found is None:
                where[word] = [pos]
            else:
                found.append(pos)
    return where


def build_schema() -> Schema:
    return Schema(
        msgid=ID(stored=True, unique=True),
        thread=ID(),
        date=NUMERIC(numtype=int, bits=64, signed=True, stored=True, sortable=True),
        subject=MailText(stem=True, field_boost=2.0),
        from_addr=MailText(addresses=True),
        to_addr=MailText(addresses=True),
        cc_addr=MailText(addresses=True),
        lists=KEYWORD(lowercase=True),
        nq=MailText(stem=True),
        # No positions on the bulky secondary fields: indexing is a third faster and the index
        # smaller; a phrase there is matched as all of its words (see _words_query).
        quoted=MailText(stem=True, phrase=False),
        attachments=MailText(phrase=False),
        dfn=TEXT(analyzer=_path_analyzer(), phrase=False),
        dfa=MailText(phrase=False),
        dfb=MailText(phrase=False),
        dfhh=MailText(phrase=False),
        patchid=ID(),
        subsystems=KEYWORD(commas=True, lowercase=True),
        state=ID(),
        kinds=KEYWORD(lowercase=True),
        trailers=KEYWORD(lowercase=True),
        checks=KEYWORD(lowercase=True),
        visibility=ID(),
        excerpt=STORED(),  # kept for snippets, not searched
    )


def _fields(doc: SearchDoc) -> dict[str, Any]:
    def cap(text: str) -> str:
        return text[:MAX_FIELD_CHARS]

    out: dict[str, Any] = {
        "msgid": doc.msgid, "subject": cap(doc.subject), "from_addr": cap(doc.from_),
        "to_addr": cap(doc.to), "cc_addr": cap(doc.cc), "nq": cap(doc.body),
        "quoted": cap(doc.quoted), "visibility": doc.visibility or PUBLIC,
        "excerpt": doc.excerpt,
    }
    optional: dict[str, str] = {
        "thread": doc.thread_root,
        "lists": " ".join(doc.lists),
        "attachments": cap("\n".join(doc.attachments)),
        "dfn": cap("\n".join(doc.diff_files)),
        "dfa": cap(doc.removed), "dfb": cap(doc.added), "dfhh": cap(doc.hunk_headers),
        "patchid": doc.patch_id.lower(),
        "subsystems": ",".join(analysis.facet_value(s) for s in doc.subsystems),
        "state": doc.state.lower(),
        "kinds": " ".join(doc.kinds),
        "trailers": " ".join(doc.trailers),
        "checks": " ".join(doc.checks),
    }
    out.update({k: v for k, v in optional.items() if v})
    out["date"] = date_value(doc.date)
    return out


# ----------------------------------------------------------------------------------------------
# Query compilation


def _analyze(schema: Schema, fname: str, text: str) -> list[str]:
    fld = schema[fname]
    if isinstance(fld, ID):
        return [text]
    if isinstance(fld, KEYWORD):
        return [" ".join(text.split()).lower()]
    return [t.text for t in fld.analyzer(text, mode="query")]


def _words_query(schema: Schema, fname: str, text: str) -> wq.Query:
    tokens = _analyze(schema, fname, text)
    if not tokens:
        return wq.NullQuery
    if len(tokens) == 1:
        return wq.Term(fname, tokens[0])
    if schema[fname].format.supports("positions"):
        return wq.Phrase(fname, tokens)
    return wq.And([wq.Term(fname, tok) for tok in tokens])


def _prefix_query(searcher: Searcher | None, fname: str, leaf: qt.Prefix) -> wq.Query:
    text = leaf.text.lower()
    if fname == "dfn":
        text = text.lstrip("/")
    stems = {text, _stem(text)} if fname in analysis.STEMMED and text.isalpha() else {text}
    queries: list[wq.Query] = []
    for stem_text in sorted(stems):
        if searcher is not None:
            count = 0
            for _ in searcher.reader().expand_prefix(fname, stem_text):
                count += 1
                if count > MAX_PREFIX_EXPANSION:
                    raise QueryError(f"{leaf} matches more than {MAX_PREFIX_EXPANSION} different "
                                     "words; type more of the word", max(leaf.position, 0))
        queries.append(wq.Prefix(fname, stem_text))
    return queries[0] if len(queries) == 1 else wq.Or(queries)


def _one_or(queries: list[wq.Query]) -> wq.Query:
    return queries[0] if len(queries) == 1 else wq.Or(queries)


def compile_query(tree: qt.Query, schema: Schema, searcher: Searcher | None = None) -> wq.Query:
    """Our query tree as a Whoosh query (``searcher`` lets prefix expansions be bounded)."""
    if isinstance(tree, qt.Term):
        return _one_or([_words_query(schema, f, tree.text) for f in analysis.SEARCHED[tree.field]])
    if isinstance(tree, qt.Phrase):
        text = " ".join(tree.words)
        return _one_or([_words_query(schema, f, text) for f in analysis.SEARCHED[tree.field]])
    if isinstance(tree, qt.Prefix):
        return _one_or([_prefix_query(searcher, f, tree) for f in analysis.SEARCHED[tree.field]])
    if isinstance(tree, qt.DateRange):
        start = NO_DATE + 1 if tree.start is None else epoch(tree.start)
        end = None if tree.end is None else epoch(tree.end)
        return wq.NumericRange("date", start, end, endexcl=True)
    if isinstance(tree, qt.Flag):
        fname = analysis.FLAG_COLUMNS[tree.name]
        return wq.Term(fname, _analyze(schema, fname, tree.value)[0])
    if isinstance(tree, qt.Not):
        return wq.Not(compile_query(tree.item, schema, searcher))
    if isinstance(tree, qt.Or):
        return wq.Or([compile_query(item, schema, searcher) for item in tree.items])
    # And: Whoosh's AndNot miscounts over several segments (5 instead of 1 on linux-clk for
    # "f:sboyd@kernel.org -is:reply"), its And over a Not matcher does not.
    return wq.And([compile_query(item, schema, searcher) for item in tree.items])


def _restrict(searcher: Searcher, q: wq.Query, lists: tuple[str, ...] | None,
              viewer_keys: frozenset[str]) -> tuple[wq.Query, wq.Query | None]:
    """The query narrowed to the lists asked for, and a mask of what the viewer may not see.

    Both are built from the few distinct values the index holds: a list filter that covers
    every indexed list is dropped, and the mask names only the hidden visibility keys (usually
    none). Intersecting with "every public document" instead walked every posting of the index
    for each query (55% of a query's time on a 35k-message archive).
    """
    allowed = {PUBLIC} | set(viewer_keys)
    hidden = [wq.Term("visibility", k) for k in _lexicon(searcher, "visibility")
              if k not in allowed]
    if lists is not None:
        wanted = {name.lower() for name in lists}
        if not set(_lexicon(searcher, "lists")) <= wanted:
            q = wq.And([_one_or([wq.Term("lists", name) for name in sorted(wanted)]), q])
    return q, (_one_or(hidden) if hidden else None)


def _lexicon(searcher: Searcher, field: str) -> list[str]:
    values = searcher.lexicon(field)
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values]


# ----------------------------------------------------------------------------------------------
# The index


def _merge_tiers(writer: Any, segments: list[Any]) -> list[Any]:
    """Merge policy: segments below :data:`LARGE_SEGMENT` documents are grouped into size tiers
    by powers of :data:`MERGE_FACTOR` (1-9 documents, 10-99, ...), and a tier is merged into
    one segment of the next when it holds MERGE_FACTOR of them. Large segments (what a bulk
    build's writer processes write) are never merged. Returns the segments left as they are.

    Whoosh merges posting by posting in Python, at about two thirds of the cost of indexing
    the same messages again: its own policy took 40% of building a 10k-message index, and tier
    merges of large segments halved the build rate at 100k. Small commits (``watch``, one
    delivery at a time) still end up in few segments; a bulk build leaves two segments per
    batch, which searches read one after the other.
    """
    tiers: dict[int, list[Any]] = {}
    keep: list[Any] = []
    for seg in segments:
        size = max(1, int(seg.doc_count_all()))
        if size >= LARGE_SEGMENT:
            keep.append(seg)
            continue
        tiers.setdefault(int(math.log10(size) // math.log10(MERGE_FACTOR)), []).append(seg)
    for members in tiers.values():
        if len(members) < MERGE_FACTOR:
            keep.extend(members)
            continue
        for seg in members:
            reader = SegmentReader(writer.storage, writer.schema, seg)
            writer.add_reader(reader)
            reader.close()
    return keep


class _Lengths:
    """A new segment's field lengths, read once per field and document.

    Writing a segment, Whoosh asks the segment's per-document reader for the field length of
    every posting (for the block statistics of relevance ranking), a seek and a read each time:
    a quarter of writing a segment. This answers from a list filled on first use of a field.
    """

    def __init__(self, reader: Any) -> None:
        self._reader = reader
        self._count = int(reader.doc_count_all())
        self._tables: dict[str, list[int]] = {}

    def doc_field_length(self, docnum: int, fieldname: str, default: int = 0) -> int:
        table = self._tables.get(fieldname)
        if table is None:
            length = self._reader.doc_field_length
            table = [length(doc, fieldname, default) for doc in range(self._count)]
            self._tables[fieldname] = table
        return table[docnum]


_Posting = tuple[str, bytes, int, float, bytes | None]


class _Pool(writing.PostingPool):
    """Whoosh's posting pool, holding postings grouped by term instead of one tuple each.

    Whoosh keeps every posting as a 5-tuple (~200 bytes) and sorts them all when the segment
    is written; a writer process indexing 4,000 messages (1.3 million postings) passed its
    memory limit and pickled sorted runs to disk and back, a quarter of its time. Here a
    posting costs about a fifth of that (document numbers and weights in arrays, short values
    shared), documents arrive in number order so each term's postings are already sorted, and
    only the terms are sorted at the end. Past the limit it still spills a run (Whoosh's
    format), so memory stays bounded whatever the batch.
    """

    _SHARED_VALUE = 8  # values up to this many bytes (frequencies, one position) are shared

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._terms: dict[tuple[str, bytes], tuple[array[int], array[float], list[Any]]] = {}
        self._unsorted: set[tuple[str, bytes]] = set()
        self._values: dict[bytes, bytes] = {}

    def add(self, item: _Posting) -> None:
        fieldname, text, docnum, weight, value = item
        key = (fieldname, text)
        slot = self._terms.get(key)
        size = 20
        if slot is None:
            slot = self._terms[key] = (array("I"), array("d"), [])
            self.fieldnames.add(fieldname)
            size += 300 + len(text)
        docs, weights, values = slot
        if docs and docnum < docs[-1]:
            self._unsorted.add(key)  # postings merged from several segments out of order
        docs.append(docnum)
        weights.append(weight)
        if value is not None and len(value) <= self._SHARED_VALUE:
            value = self._values.setdefault(value, value)
        elif value is not None:
            size += 33 + len(value)
        values.append(value)
        self.currentsize += size
        if self.currentsize > self.limit:
            self.save()

    def _sorted(self) -> Iterator[_Posting]:
        terms, unsorted = self._terms, self._unsorted
        self._terms, self._unsorted, self.currentsize = {}, set(), 0
        for key in sorted(terms):
            fieldname, text = key
            docs, weights, values = terms.pop(key)
            rows: Iterable[tuple[int, float, Any]] = zip(docs, weights, values, strict=True)
            if key in unsorted:
                rows = sorted(rows, key=lambda row: row[0])
            for docnum, weight, value in rows:
                yield fieldname, text, docnum, weight, value

    def save(self) -> None:
        if self._terms:
            path, f = self._new_run()
            self._write_run(f, self._sorted())
            self._add_run(path)

    def items(self, maxfiles: int = 128) -> Iterator[_Posting]:
        if not self.runs:
            return self._sorted()
        return super().items(maxfiles)

    iter_postings = items


class _FastWriting:
    """What our writers change in Whoosh's segment writer: the pool and the length lookups."""

    def _fast_pool(self: Any) -> None:
        old = self.pool
        self.pool = _Pool(old.tempstore, old.segment, limitmb=old.limit // (1024 * 1024))

    def _flush_segment(self: Any) -> None:
        self.perdocwriter.close()
        reader = self.per_document_reader() if self.codec.length_stats else None
        self.fieldwriter.add_postings(self.schema, _Lengths(reader) if reader else None,
                                      self.pool.iter_postings())
        self.fieldwriter.close()
        if reader:
            reader.close()


class _SegmentWriter(_FastWriting, writing.SegmentWriter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fast_pool()


def _die_with_parent() -> None:
    """Ask Linux to SIGTERM this process when its parent dies (no-op elsewhere)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class _ChildTask(SubWriterTask):
    """A writer process started fresh (spawned), not forked: a fork would carry the caller's
    whole memory (an ingest's batch of raw mail) into each writer's resident size."""

    @staticmethod
    def _Popen(process_obj: Any) -> Any:  # noqa: N802 - multiprocessing's hook name
        from multiprocessing.popen_spawn_posix import Popen

        return Popen(process_obj)

    def run(self) -> None:
        _die_with_parent()
        # This process is a fresh interpreter that only runs this task: point the task's
        # module at our segment writer (Whoosh's run() names the class it instantiates).
        multiproc.SegmentWriter = _SegmentWriter
        super().run()


class _ParallelWriter(_FastWriting, MpWriter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fast_pool()
        spawn = multiprocessing.get_context("spawn")  # queues of the writers' start method
        self.jobqueue = spawn.Queue(self.procs * 4)
        self.resultqueue = spawn.Queue()

    def _new_task(self) -> _ChildTask:
        task = _ChildTask(self.storage, self.indexname, self.jobqueue, self.resultqueue,
                          self.subargs, self.multisegment)
        self.tasks.append(task)
        task.start()
        return task


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
        # A large batch is split between two indexing processes, each writing its own segment
        # (both cores; 2 x 1,500 linux-clk messages went from 480 to 760 docs/s); the writers
        # are spawned, not forked (see _ChildTask). Each writer's posting pool is kept in
        # memory up to WRITER_MB (half an 8,000-message batch: a writer peaked at 190 MB): spilling
        # sorted runs to disk and merging them back pickles every posting twice (a quarter of
        # the time). The indexer's batches are sized so that a 35k archive builds in a handful
        # of commits: every merge rewrites postings.
        wait = LOCK_TIMEOUT if timeout is None else timeout
        if ndocs >= PARALLEL_MIN_DOCS:
            # The parent only merges segments (tier merges), in a smaller pool: its process
            # already holds the caller's memory, an ingest's for instance.
            return _ParallelWriter(self._ix, procs=2, multisegment=True, batchsize=250,
                                   subargs={"limitmb": WRITER_MB}, timeout=wait,
                                   delay=0.1, limitmb=MERGE_MB)
        return _SegmentWriter(self._ix, timeout=wait, delay=0.1, limitmb=WRITER_MB)

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
                writer.add_document(**_fields(doc))
        except BaseException:
            writer.cancel()
            raise
        if not seen:
            writer.cancel()
            return 0
        writer.commit(mergetype=_merge_tiers)
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
            q, mask = _restrict(searcher, compile_query(query, self._schema, searcher), lists,
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
    return snippets.matcher(snippets.query_words(query, _stem))
