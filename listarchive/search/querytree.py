"""Our own small query tree: what the search language parses into and what engines compile from.

The tree (``Term``, ``Phrase``, ``Prefix``, ``DateRange``, ``Flag``, ``And``, ``Or``, ``Not``) is
made of frozen values; nothing here knows an engine, so a second engine (SQL full-text) compiles
the same tree and the language does not move. Each node writes itself back in the language
(:func:`describe`), so a page can show the query it ran; the text is parsed by
:mod:`listarchive.search.queryparser`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import datetime, timedelta

from listarchive.search.vocabulary import OPERATORS, PREFIX_OF, PREFIX_RE, TEXT_FIELD


@dataclass(frozen=True)
class Term:
    field: str
    text: str

    def __str__(self) -> str:
        return _prefix(self.field) + _quote_word(self.text)


@dataclass(frozen=True)
class Phrase:
    field: str
    words: tuple[str, ...]

    def __str__(self) -> str:
        return _prefix(self.field) + _quote(" ".join(self.words))


@dataclass(frozen=True)
class Prefix:
    field: str
    text: str  # without the trailing '*'
    # Where the word starts in the query text, for engines that refuse a huge expansion.
    position: int = dataclass_field(default=-1, compare=False)

    def __str__(self) -> str:
        return _prefix(self.field) + self.text + "*"


@dataclass(frozen=True)
class DateRange:
    """``start <= date < end`` in naive UTC; ``None`` leaves that side open."""

    start: datetime | None
    end: datetime | None

    def __str__(self) -> str:
        day = timedelta(days=1)
        if (self.start is not None and self.end is not None and _is_midnight(self.start)
                and self.end - self.start == day):
            return f"d:{self.start:%Y-%m-%d}"
        left = "" if self.start is None else _render_moment(self.start)
        if self.end is None:
            right = ""
        elif _is_midnight(self.end):
            right = f"{self.end - day:%Y-%m-%d}"  # an end day is inclusive in the language
        else:
            right = f"{self.end:%Y%m%d%H%M%S}"
        return f"d:{left}..{right}"


@dataclass(frozen=True)
class Flag:
    """An exact facet: ``list``, ``subsystem``, ``state``, ``is``, ``has`` or ``check``."""

    name: str
    value: str

    def __str__(self) -> str:
        return _prefix(self.name) + _quote_word(self.value)


@dataclass(frozen=True)
class And:
    items: tuple[Query, ...]

    def __str__(self) -> str:
        return " ".join(f"({item})" if isinstance(item, Or) else str(item) for item in self.items)


@dataclass(frozen=True)
class Or:
    items: tuple[Query, ...]

    def __str__(self) -> str:
        return " OR ".join(f"({item})" if isinstance(item, And) else str(item)
                           for item in self.items)


@dataclass(frozen=True)
class Not:
    item: Query

    def __str__(self) -> str:
        if isinstance(self.item, And | Or):
            return f"-({self.item})"
        return f"-{self.item}"


Query = Term | Phrase | Prefix | DateRange | Flag | And | Or | Not
Leaf = Term | Phrase | Prefix | DateRange | Flag


def describe(query: Query) -> str:
    """The query written back in the language (normalised: relative dates become absolute)."""
    return str(query)


def leaves(query: Query) -> Iterator[Leaf]:
    """Every leaf of the tree, depth first, without recursion."""
    stack: list[Query] = [query]
    while stack:
        node = stack.pop()
        if isinstance(node, And | Or):
            stack.extend(reversed(node.items))
        elif isinstance(node, Not):
            stack.append(node.item)
        else:
            yield node


def is_positive(query: Query) -> bool:
    """Whether the query names something to find, rather than only what to leave out.

    ``foo -bar`` is positive; ``-bar`` and ``foo OR -bar`` are not (each would match nearly the
    whole archive, which is what makes them a cheap denial of service).
    """
    if isinstance(query, Not):
        return False
    if isinstance(query, And):
        return any(is_positive(item) for item in query.items)
    if isinstance(query, Or):
        return all(is_positive(item) for item in query.items)
    return True


def _prefix(name: str) -> str:
    if name == TEXT_FIELD:
        return ""
    return PREFIX_OF.get(name, name) + ":"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _quote_word(text: str) -> str:
    needs = (not text or any(ch.isspace() or ch in '()"' for ch in text)
             or text[0] in "-+" or text in OPERATORS or PREFIX_RE.match(text)
             or "*" in text)
    return _quote(text) if needs else text


def _is_midnight(moment: datetime) -> bool:
    return moment.hour == moment.minute == moment.second == moment.microsecond == 0


def _render_moment(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d}" if _is_midnight(moment) else f"{moment:%Y%m%d%H%M%S}"
