"""The Whoosh adapter's writers: how a batch of documents becomes segments, in one process or
two, and how segments are merged.

Large batches are indexed by two processes (``procs=2, multisegment=True``) fed while the caller
is still building documents; the children ask the kernel to kill them when their parent dies,
because a forked child inherits the parent's ``flock`` on the write lock and an orphan would
otherwise hold it for ever. Postings are pooled by term in arrays, a fifth of Whoosh's memory per
posting, so a writer's batch stays in memory (:class:`_Pool`); a new segment's field lengths are
read once, not once per posting (:class:`_Lengths`); mail-text fields skip Whoosh's per-token
pipeline (:class:`~listarchive.search.whooshanalysis.MailText`); segments are merged by size tier
(:func:`merge_tiers`). Together: a 10k-message build went from 164 to about 700 messages/s on two
cores (figures at scale: BENCHMARKS.md).
"""

from __future__ import annotations

import ctypes
import math
import multiprocessing
import signal
from array import array
from collections.abc import Iterable, Iterator
from typing import Any

from whoosh import index, multiproc, writing
from whoosh.multiproc import MpWriter, SubWriterTask
from whoosh.reading import SegmentReader

PARALLEL_MIN_DOCS = 1000
WRITER_MB = 128
MERGE_MB = 32
MERGE_FACTOR = 10
LARGE_SEGMENT = 1000


def open_writer(ix: index.Index, ndocs: int, timeout: float) -> Any:
    """A writer of ``ix`` for a batch of ``ndocs`` documents, waiting up to ``timeout`` seconds
    for another writer's lock (then Whoosh's ``LockError``); commit it with
    ``mergetype=merge_tiers``.

    A large batch is split between two indexing processes, each writing its own segment (both
    cores; 2 x 1,500 linux-clk messages went from 480 to 760 docs/s); the writers are spawned,
    not forked (see _ChildTask). Each writer's posting pool is kept in memory up to WRITER_MB
    (half an 8,000-message batch: a writer peaked at 190 MB): spilling sorted runs to disk and
    merging them back pickles every posting twice (a quarter of the time). The indexer's batches
    are sized so that a 35k archive builds in a handful of commits: every merge rewrites
    postings.
    """
    if ndocs >= PARALLEL_MIN_DOCS:
        # The parent only merges segments (tier merges), in a smaller pool: its process
        # already holds the caller's memory, an ingest's for instance.
        return _ParallelWriter(ix, procs=2, multisegment=True, batchsize=250,
                               subargs={"limitmb": WRITER_MB}, timeout=timeout,
                               delay=0.1, limitmb=MERGE_MB)
    return _SegmentWriter(ix, timeout=timeout, delay=0.1, limitmb=WRITER_MB)


def merge_tiers(writer: Any, segments: list[Any]) -> list[Any]:
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

