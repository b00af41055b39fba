"""How ``make test`` shares the tests between pytest-xdist workers (``--dist loadgroup``).

A test goes to whichever worker is free, alone, unless something is built once for several
tests: the tests of a module with a module fixture stay together on one worker, and so do all
the tests (of any module) that read one of the worlds built once per run (``site``,
``review_world``...), in the order one process runs them. So a module's archive is built once,
and a test that changes a world sees what the tests before it changed, as it does without
xdist. The work that takes longest starts first, so that no worker is left alone with it at
the end.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

try:  # pytest 9 keeps a node's id here, and no longer reads the attribute xdist sets
    from _pytest.nodeid import coerce_node_id
except ImportError:
    coerce_node_id = None

TESTS = Path(__file__).resolve().parent

# Modules of a minute or more on a 2-core machine (measured with --durations), longest first
# (test_two_machines runs in the PostgreSQL half only). Only the order of the start depends on
# this list: a module missing from it runs all the same.
HEAVY_FIRST = (
    "test_two_machines", "test_ingest_corpora", "test_reindex_search", "test_review_extraction",
    "test_hostile_mail", "test_crash", "test_fidelity_corpus", "test_web_browser",
    "test_stored_comments", "test_regroup", "test_ingest", "test_mail_commands",
    "test_embargo_walk", "test_series_grouping", "test_schema", "test_search",
    "test_search_writer", "test_fidelity_mail", "test_search_states", "test_web_newcomer",
    "test_concurrency",
)

# Autouse, in every module, and cheap: no reason to keep a module together.
_EVERYWHERE = {"module_database"}


def _ours(fixturedef: pytest.FixtureDef[object]) -> bool:
    try:
        return Path(inspect.getfile(fixturedef.func)).resolve().parent == TESTS
    except TypeError:
        return False


def _keys(item: pytest.Item) -> set[str]:
    """What ``item`` shares with other tests: its module's fixtures, the run's worlds."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return set()
    keys = set()
    for name in item.fixturenames:
        defs = info.name2fixturedefs.get(name)
        if not defs or name in _EVERYWHERE or not _ours(defs[-1]):
            continue
        if defs[-1].scope == "session":
            keys.add(name)
        elif defs[-1].scope in ("package", "module", "class"):
            keys.add(Path(str(item.path)).stem)
    return keys


def group_and_order(items: list[pytest.Item]) -> None:
    """Mark each test that shares something with its ``xdist_group`` (the tests sharing one
    thing, directly or through another, form one group) and put the heavy work first."""
    parent: dict[str, str] = {}

    def find(key: str) -> str:
        while parent.setdefault(key, key) != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    keys = {item.nodeid: _keys(item) for item in items}
    for found in keys.values():
        first, *rest = sorted(found) or [""]
        for other in rest:
            parent[find(other)] = find(first)
    units: dict[str, list[pytest.Item]] = {}
    for item in items:
        found = keys[item.nodeid]
        group = find(min(found)) if found else ""
        if group:
            item.add_marker(pytest.mark.xdist_group(group))
            if coerce_node_id is not None:
                # xdist (3.8) tells groups apart by an "@group" suffix of the node id, which
                # it writes where pytest 9 no longer reads it: give the id pytest reads.
                item._id = coerce_node_id(f"{item.nodeid}@{group}")
        units.setdefault(group or item.nodeid, []).append(item)

    def rank(unit: list[pytest.Item]) -> int:
        modules = {Path(str(item.path)).stem for item in unit}
        return min((HEAVY_FIRST.index(m) for m in modules if m in HEAVY_FIRST),
                   default=len(HEAVY_FIRST))

    items[:] = [item for unit in sorted(units.values(), key=rank) for item in unit]
