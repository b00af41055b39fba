"""The dependency rules of the code base, checked on the import graph read from the source.

Every ``import`` counts, at the top of a module or inside a function: an import moved into a
function to dodge a cycle is still a cycle.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

pytestmark = pytest.mark.pure

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("listarchive", "ingest")
# The console script (its parser in ``cli``, its subcommands in the ``commands`` package) and the
# demo: each entry point with every module under it.
ENTRY_POINTS = {"listarchive.cli", "listarchive.commands", "listarchive.demo"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def _imports(name: str, path: Path) -> Iterator[tuple[str, tuple[str, ...]]]:
    """(imported module, names taken from it) for every import statement in the file."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, ()
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[:len(base) - node.level + (1 if is_package else 0)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            yield target, tuple(a.name for a in node.names)


@cache
def graph() -> dict[str, set[str]]:
    """Project module -> the project modules it imports (``from pkg import mod`` counts as
    importing ``pkg.mod``)."""
    known = modules()
    out: dict[str, set[str]] = {}
    for name, path in known.items():
        deps: set[str] = set()
        for target, names in _imports(name, path):
            for candidate in [f"{target}.{n}" for n in names] + [target]:
                if candidate in known:
                    deps.add(candidate)
                    break
        deps.discard(name)
        out[name] = deps
    return out


@cache
def external() -> dict[str, set[str]]:
    """Project module -> top-level names of the outside packages it imports."""
    known = modules()
    return {name: {target.split(".")[0] for target, _ in _imports(name, path)
                   if target and target.split(".")[0] not in PACKAGES}
            for name, path in known.items()}


def _under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_the_graph_sees_the_project() -> None:
    g = graph()
    assert "listarchive.mail.message" in g and "ingest.worker" in g
    assert "listarchive.mail.message" in g["ingest.worker"]
    assert "listarchive.archive.db" in g["listarchive.web"]


def test_mail_floor_is_pure() -> None:
    """``listarchive.mail`` turns bytes into facts: no database, no models, no worker, no web;
    within the project it leans on nothing but itself, the named errors and the clock."""
    offenders = {}
    for name, deps in graph().items():
        if not _under(name, "listarchive.mail"):
            continue
        inside = {d for d in deps if not _under(d, "listarchive.mail")
                  and d not in ("listarchive.errors", "listarchive.clock")}
        outside = external()[name] & {"sqlalchemy", "flask", "werkzeug", "whoosh", "tantivy"}
        if inside or outside:
            offenders[name] = sorted(inside | outside)
    assert offenders == {}


def test_only_entry_points_import_the_worker() -> None:
    offenders = {name: sorted(d for d in deps if _under(d, "ingest"))
                 for name, deps in graph().items()
                 if _under(name, "listarchive")
                 and not any(_under(name, entry) for entry in ENTRY_POINTS)}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_flask_only_in_web_package() -> None:
    offenders = sorted(name for name, libs in external().items()
                       if libs & {"flask", "werkzeug", "jinja2", "markupsafe"}
                       and not _under(name, "listarchive.web"))
    assert offenders == []


def test_ingest_worker_does_not_load_flask() -> None:
    code = ("import sys, ingest.worker, ingest.reindex, ingest.watch, ingest.quarantine, "
            "listarchive.cli; assert 'flask' not in sys.modules, 'flask imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_search_and_show_on_the_command_line_do_not_load_the_site() -> None:
    """``listarchive search`` and ``show`` print the API's JSON shapes without importing the
    site: Flask and its page modules were a quarter of each command's time."""
    code = ("import sys, listarchive.console; "
            "assert not {'flask', 'listarchive.web'} & set(sys.modules), 'the site imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


# A search engine's adapter is a few modules of listarchive.search, one concept each (analysis,
# schema, query compilation, writers, the index); nothing else imports the engine.
SEARCH_ADAPTERS = {
    "whoosh": {f"listarchive.search.whoosh{part}"
               for part in ("analysis", "schema", "query", "writer", "index")},
    "tantivy": {f"listarchive.search.tantivy{part}"
                for part in ("analysis", "schema", "query", "index")},
}


def test_third_party_engines_sit_behind_one_adapter() -> None:
    adapters = {"unidiff": {"listarchive.mail.patches"},
                **SEARCH_ADAPTERS,
                "bs4": {"listarchive.mail.htmltext"}}
    assert set().union(*adapters.values()) <= set(modules())  # the rule names real modules
    users: dict[str, set[str]] = {lib: set() for lib in adapters}
    for name, libs in external().items():
        for lib in libs & set(adapters):
            users[lib].add(name)
    assert all(users[lib] <= adapters[lib] for lib in adapters), users


def test_search_adapters_are_entered_through_their_index_alone() -> None:
    """The rest of the code reaches a search engine's adapter only through its index class,
    which :mod:`listarchive.search.engine` picks from the configuration."""
    for lib, members in SEARCH_ADAPTERS.items():
        entries = {(name, dep) for name, deps in graph().items() if name not in members
                   for dep in deps & members}
        assert entries == {("listarchive.search.engine", f"listarchive.search.{lib}index")}, entries


def _cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(g):
        if root in index:
            continue
        work = [(root, iter(sorted(g[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(g.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles() -> None:
    g = {name: deps for name, deps in graph().items()}
    # A package's __init__ importing its own modules is how a package presents itself, not a
    # cycle between rooms: leave those edges out, keep everything else.
    g = {name: {d for d in deps if not (d.startswith(name + ".")
                                         and modules()[name].name == "__init__.py")}
         for name, deps in g.items()}
    assert _cycles(g) == []


def test_no_private_names_imported_across_modules() -> None:
    offenders = []
    for name, path in modules().items():
        for target, names in _imports(name, path):
            if not (target.startswith(PACKAGES)):
                continue
            offenders.extend(f"{name}: {target}.{n}" for n in names if n.startswith("_"))
    assert offenders == []


def test_no_stdlib_shadowing_module_names() -> None:
    shadow = {"email", "mailbox", "threading", "html", "json", "queue", "types", "logging",
              "select", "string", "random"}
    assert not {n.rsplit(".", 1)[-1] for n in modules()} & shadow
