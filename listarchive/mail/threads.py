"""Threading, JWZ-style, without recursion on user data.

Two facts are derived from References/In-Reply-To:

* membership: a thread is a connected component of the graph whose nodes are Message-IDs (stored
  messages and *ghosts*, referenced but never seen) and whose edges join a message to every id it
  references. A component does not depend on arrival order, and a late message that references two
  ghosts merges their threads, which is exactly what JWZ's container table does;
* shape: each message's parent is the message it answers (``ParsedMessage.parent``); the tree is built
  at read time from those links, loop-safe against cyclic References.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

K = TypeVar("K", bound=Hashable)


class UnionFind:
    """Disjoint sets over hashable keys; path halving keeps it iterative."""

    def __init__(self) -> None:
        self.parent: dict[object, object] = {}

    def find(self, key: object) -> object:
        parent = self.parent
        parent.setdefault(key, key)
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    def union(self, a: object, b: object) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra

    def groups(self) -> dict[object, list[object]]:
        out: dict[object, list[object]] = {}
        for key in list(self.parent):
            out.setdefault(self.find(key), []).append(key)
        return out


def components(links: Iterable[tuple[str, Sequence[str]]]) -> list[set[str]]:
    """Connected components of (msgid, referenced ids) pairs; every id appears in exactly one."""
    uf = UnionFind()
    for msgid, refs in links:
        uf.find(msgid)
        for ref in refs:
            uf.union(msgid, ref)
    return [set(map(str, members)) for members in uf.groups().values()]


@dataclass(frozen=True)
class TreeItem:
    msgid: str
    parent: str
    date: datetime | None


@dataclass(frozen=True)
class TreeRow:
    """One line of a thread overview: depth-first order, depth for indentation."""

    msgid: str
    depth: int
    parent: str  # '' for a root


def _order_key(item: TreeItem) -> tuple[datetime, str]:
    return (item.date or datetime.max, item.msgid)


def build_tree(items: Iterable[TreeItem]) -> list[TreeRow]:
    """Depth-first rows of a thread, children by date; a missing parent makes a root.

    Cycles (seen with broken mailers that quote their own Message-ID in References) are cut at the
    message that would close the loop, which then becomes a root: every message appears exactly once.
    """
    by_id = {item.msgid: item for item in items}
    children: dict[str, list[TreeItem]] = {}
    roots: list[TreeItem] = []
    for item in by_id.values():
        if item.parent and item.parent in by_id and item.parent != item.msgid:
            children.setdefault(item.parent, []).append(item)
        else:
            roots.append(item)
    for kids in children.values():
        kids.sort(key=_order_key)
    roots.sort(key=_order_key)
    rows: list[TreeRow] = []
    seen: set[str] = set()

    def walk(start: TreeItem) -> None:
        stack: list[tuple[TreeItem, int]] = [(start, 0)]
        while stack:
            item, depth = stack.pop()
            if item.msgid in seen:
                continue
            seen.add(item.msgid)
            parent = item.parent if depth else ""
            rows.append(TreeRow(item.msgid, depth, parent))
            for kid in reversed(children.get(item.msgid, [])):
                if kid.msgid not in seen:
                    stack.append((kid, depth + 1))

    for root in roots:
        walk(root)
    # What is left sits on a cycle: no root reaches it. Start from its earliest member.
    for item in sorted(by_id.values(), key=_order_key):
        if item.msgid not in seen:
            walk(item)
    return rows


def pick_root(items: Iterable[TreeItem]) -> str:
    """The thread's root: the earliest message whose parent is not in the thread (else earliest)."""
    pool = list(items)
    if not pool:
        return ""
    ids = {item.msgid for item in pool}
    rootless = [i for i in pool if not i.parent or i.parent not in ids or i.parent == i.msgid]
    return min(rootless or pool, key=_order_key).msgid
