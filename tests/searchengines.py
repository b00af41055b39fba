"""The search engines the tests run against, and a way to hold an engine's write lock the way a
running ingest does."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from listarchive.search import engine, tantivyindex, tantivyschema, whooshindex, whooshschema
from listarchive.search.documents import SearchDoc, SearchIndex

ENGINES = tuple(engine.ENGINES)


def open_index(name: str, path: Path, create: bool = True) -> SearchIndex:
    return engine.ENGINES[name].open(path, create=create)


@contextmanager
def uncommitted_writer(name: str, path: Path,
                       pending: SearchDoc | None = None) -> Iterator[None]:
    """Another index object holding the write lock of the index at ``path``, with ``pending``
    added and never committed (an ingest's writer, say)."""
    if name == "whoosh":
        writer = whooshindex.WhooshIndex.open(path, create=False)._writer(1)
        try:
            if pending is not None:
                writer.add_document(**whooshschema.fields(pending))
            yield
        finally:
            writer.cancel()
    else:
        ix = tantivyindex.TantivyIndex.open(path, create=False)
        with ix._writing() as writer:
            if pending is not None:
                writer.add_document(tantivyindex.tantivy.Document.from_dict(
                    tantivyschema.fields(pending), ix._schema))
            yield
            writer.rollback()
