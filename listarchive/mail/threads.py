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
    """A stored message as the tree needs it: ``references`` oldest first, the parent last
    (``ParsedMessage.references``), used to place placeholders for missing ancestors."""

    msgid: str
    parent: str
    date: datetime | None
    references: tuple[str, ...] = ()


@dataclass(frozen=True)
class TreeRow:
    """One line of a thread overview: depth-first order, depth for indentation. A ``ghost`` row
    stands for a Message-ID that replies point to but that is not in the archive (lore shows it
    as ``[not found]``)."""

    msgid: str
    depth: int
    parent: str  # '' for a root
    ghost: bool = False


def _order_key(item: TreeItem) -> tuple[datetime, str]:
    return (item.date or datetime.max, item.msgid)


def build_tree(items: Iterable[TreeItem], ghosts: bool = False) -> list[TreeRow]:
    """Depth-first rows of a thread, children by date.

    A reply whose parent is not among ``items`` becomes a root, or with ``ghosts`` hangs under
    a placeholder row for that parent, itself placed under the nearest earlier References entry
    (another placeholder when that one is missing too), as JWZ's container tree does: two
    replies to one missing message stay siblings, and a reply to a missing reply of a present
    message stays nested under it. Placeholder links follow the earliest message that names
    them, so the tree does not depend on arrival order.

    Cycles (seen with broken mailers that quote their own Message-ID in References) are cut at the
    message that would close the loop, which then becomes a root: every message appears exactly once.
    """
    by_id = {item.msgid: item for item in items}
    parent_of = {m: (i.parent if i.parent and i.parent != m else "") for m, i in by_id.items()}
    ghost_of: dict[str, str] = {}  # placeholder -> its parent ('' for a root)
    ordered = sorted(by_id.values(), key=_order_key)
    if ghosts:
        for item in ordered:
            missing = parent_of[item.msgid]
            if not missing or missing in by_id or missing in ghost_of:
                continue
            refs = list(item.references)
            at = len(refs) - 1 - refs[::-1].index(missing) if missing in refs else len(refs)
            cur = missing
            for ref in reversed(refs[:at]):
                if ref == cur or ref == item.msgid:
                    continue
                ghost_of[cur] = ref
                if ref in by_id or ref in ghost_of:
                    break
                cur = ref
            else:
                ghost_of[cur] = ""
    else:
        parent_of = {m: (p if p in by_id else "") for m, p in parent_of.items()}
    dates: dict[str, datetime | None] = {}
    for item in ordered:  # a placeholder sorts by the earliest message under it
        up = parent_of[item.msgid]
        while up in ghost_of and up not in dates:
            dates[up] = item.date
            up = ghost_of[up]
    nodes = [*((TreeItem(m, p, dates.get(m)) for m, p in ghost_of.items())), *by_id.values()]
    links = {**ghost_of, **parent_of}
    children: dict[str, list[TreeItem]] = {}
    roots: list[TreeItem] = []
    for node in nodes:
        parent = links[node.msgid]
        if parent and parent != node.msgid and parent in links:
            children.setdefault(parent, []).append(node)
        else:
            roots.append(node)
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
            parent = links[item.msgid] if depth else ""
            rows.append(TreeRow(item.msgid, depth, parent, item.msgid in ghost_of))
            for kid in reversed(children.get(item.msgid, [])):
                if kid.msgid not in seen:
                    stack.append((kid, depth + 1))

    for root in roots:
        walk(root)
    # What is left sits on a cycle: no root reaches it. Start from its earliest member.
    for node in sorted(nodes, key=_order_key):
        if node.msgid not in seen:
            walk(node)
    return rows


def pick_root(items: Iterable[TreeItem]) -> str:
    """The thread's root: the earliest message whose parent is not in the thread (else earliest)."""
    pool = list(items)
    if not pool:
        return ""
    ids = {item.msgid for item in pool}
    rootless = [i for i in pool if not i.parent or i.parent not in ids or i.parent == i.msgid]
    return min(rootless or pool, key=_order_key).msgid
