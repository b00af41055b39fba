"""Which engine an archive's search index is built with: chosen by ``[search] engine``,
remembered by the index itself.

The index folder holds a small record (:data:`RECORD`): the engine that built the index, the
version of its layout, and whether it is complete. Nothing is served from an index the
configured engine did not build (or built in an older layout), or from one being rebuilt:
searches raise :class:`~listarchive.errors.SearchUnavailable` saying to run ``listarchive
reindex --search``, and catch-ups leave such an index alone. A rebuild records its index as
incomplete until the catch-up that follows reaches the newest message, so a crashed rebuild is
finished by the next catch-up and no half-built index answers meanwhile. An index written
before the record existed is Whoosh's (it was the only engine).
"""

from __future__ import annotations

import functools
import importlib
import json
import logging
import os
import shutil
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from listarchive.errors import SearchUnavailable
from listarchive.search.documents import SearchIndex
from listarchive.settings import SEARCH_ENGINES, Settings

if TYPE_CHECKING:
    from listarchive.search.tantivyindex import TantivyIndex
    from listarchive.search.whooshindex import WhooshIndex

    Adapter = type[TantivyIndex] | type[WhooshIndex]

logger = logging.getLogger(__name__)



class _Adapters(Mapping[str, "Adapter"]):
    """Each engine's adapter class by name, its module imported when first asked for: a
    process uses one engine, and a mail server's delivery should not pay for the other's
    import (Whoosh's was a tenth of it)."""

    _where = {"tantivy": ("listarchive.search.tantivyindex", "TantivyIndex"),
              "whoosh": ("listarchive.search.whooshindex", "WhooshIndex")}

    def __getitem__(self, name: str) -> Adapter:
        module, cls = self._where[name]
        found: Adapter = getattr(importlib.import_module(module), cls)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(SEARCH_ENGINES)

    def __len__(self) -> int:
        return len(SEARCH_ENGINES)


ENGINES = _Adapters()
RECORD = "engine.json"
REBUILD = "run `listarchive reindex --search`"


@dataclass(frozen=True)
class Built:
    """What the record says: the engine that built the index, its layout, whether it is whole."""

    engine: str
    layout: int
    complete: bool

    @property
    def current(self) -> bool:
        """Built by an engine this version knows, in the layout it writes."""
        adapter = ENGINES.get(self.engine)
        return adapter is not None and adapter.layout == self.layout


def built(index_dir: Path) -> Built | None:
    """The record of the index in ``index_dir``; None when there is no index there."""
    try:
        data = json.loads((Path(index_dir) / RECORD).read_text(encoding="utf-8"))
        return Built(str(data["engine"]), int(data["layout"]), bool(data["complete"]))
    except FileNotFoundError:
        whoosh = ENGINES["whoosh"]  # its first indexes were made before the record was
        if whoosh.exists(index_dir):
            return Built(whoosh.name, 1, True)
        return None
    except (ValueError, KeyError, TypeError) as exc:
        raise SearchUnavailable(f"the search index record {Path(index_dir) / RECORD} is "
                                f"damaged: {REBUILD}") from exc


def _record(index_dir: Path, found: Built) -> None:
    """Write the record atomically (a new file renamed over the old one)."""
    tmp = index_dir / (RECORD + ".new")
    tmp.write_text(json.dumps({"engine": found.engine, "layout": found.layout,
                               "complete": found.complete}) + "\n", encoding="utf-8")
    os.replace(tmp, index_dir / RECORD)


def usable(settings: Settings, found: Built | None) -> Built:
    """``found`` if the configured engine may read and extend it, else SearchUnavailable
    saying why and what to run."""
    if found is None:
        raise SearchUnavailable(f"the search index has not been built yet: {REBUILD}")
    if found.engine != settings.search_engine:
        raise SearchUnavailable(
            f"the search index was built by {found.engine} and the configuration names "
            f"{settings.search_engine} ([search] engine): {REBUILD}")
    if not found.current:
        raise SearchUnavailable(f"the search index was built by an older version of "
                                f"listarchive: {REBUILD}")
    return found


_SHARED: dict[Path, tuple[tuple[int, int] | None, str, SearchIndex]] = {}
_SHARED_LOCK = threading.Lock()


def _stamp(index_dir: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(index_dir / RECORD)
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns


@functools.lru_cache(maxsize=16)
def _resolved(index_dir: str) -> Path:
    """The folder's real path, as a key of the open indexes: resolved once per process (a
    system call per path component, at every search)."""
    return Path(index_dir).resolve()


def open_reader(settings: Settings) -> SearchIndex:
    """The index for searching: opened once per folder and process, reused until its record
    changes (a rebuild, another engine). SearchUnavailable while it is not the configured
    engine's, or not complete."""
    index_dir = _resolved(str(settings.index_dir))
    stamp = _stamp(index_dir)
    with _SHARED_LOCK:
        cached = _SHARED.get(index_dir)
        if cached is not None and cached[:2] == (stamp, settings.search_engine):
            return cached[2]
        found = usable(settings, built(index_dir))
        if not found.complete:
            raise SearchUnavailable("the search index is being built and answers once it is "
                                    f"complete (if no build is running: {REBUILD})")
        try:
            index: SearchIndex = ENGINES[found.engine].open(index_dir, create=False)
        except (OSError, ValueError) as exc:
            raise SearchUnavailable(f"the search index cannot be opened ({exc}): "
                                    f"{REBUILD}") from exc
        if cached is not None:
            cached[2].close()
        _SHARED[index_dir] = (stamp, settings.search_engine, index)
        return index


def open_writer(settings: Settings, *, create: bool, complete: bool = True) -> SearchIndex:
    """The index for the indexer. A missing index is created when ``create`` says the indexer
    starts from nothing, recorded as ``complete`` or not; an existing one must be usable by the
    configured engine (SearchUnavailable says what to run)."""
    index_dir = Path(settings.index_dir)
    found = built(index_dir)
    if found is None and create:
        return _create(settings, complete)
    usable(settings, found)
    return ENGINES[settings.search_engine].open(index_dir, create=False, writing=True)


def open_rebuild(settings: Settings) -> SearchIndex:
    """An empty index of the configured engine in place of what the folder held, recorded as
    incomplete until :func:`mark_complete`. The configured engine's own index is emptied by a
    commit under its write lock (a concurrent writer waits); any other is removed."""
    index_dir = Path(settings.index_dir)
    try:
        found = built(index_dir)
    except SearchUnavailable:
        found = None
    if found is not None and found.engine == settings.search_engine and found.current:
        index = ENGINES[found.engine].open(index_dir, create=False, writing=True)
        _record(index_dir, Built(found.engine, found.layout, False))
        index.clear()
        return index
    if index_dir.exists():
        shutil.rmtree(index_dir)
    return _create(settings, complete=False)


def _create(settings: Settings, complete: bool) -> SearchIndex:
    index_dir = Path(settings.index_dir)
    adapter = ENGINES[settings.search_engine]
    index = adapter.open(index_dir, create=True, writing=True)
    _record(index_dir, Built(adapter.name, adapter.layout, complete))
    return index


def mark_complete(settings: Settings) -> None:
    """Record the index as complete (the catch-up reached the newest message)."""
    index_dir = Path(settings.index_dir)
    found = built(index_dir)
    if found is not None and not found.complete:
        _record(index_dir, Built(found.engine, found.layout, True))
        logger.info("search index complete")
