"""What goes into a search index and what comes out, and the one interface every engine offers.

The indexer hands :class:`SearchDoc` values in; the searcher gets :class:`SearchResult` values
out, for queries written as :mod:`listarchive.search.querytree` trees. Each engine adapter
(:mod:`listarchive.search.tantivyindex`, :mod:`listarchive.search.whooshindex`) implements
:class:`SearchIndex`; nothing outside those modules knows which engine runs
(:mod:`listarchive.search.engine` picks one from the configuration).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol

from listarchive.search import querytree as qt

PUBLIC = "public"
# Bounds the work one message can cost the indexer (a 30 MB patch bomb, a base64 blob pasted inline).
MAX_FIELD_CHARS = 1_000_000
# How much of a message's own text an index keeps for result snippets.
EXCERPT_CHARS = 4000
# Undated mail sorts last in newest-first order: its date column holds this floor, and date
# ranges start above it (the parser accepts no date before 1990).
NO_DATE = -(2**62)


@dataclass(frozen=True)
class SearchDoc:
    """What the indexer gets for one message.

    ``body`` is the non-quoted text without the diff; ``added``/``removed`` are the diff's
    ``+``/``-`` lines without the sign. Free words, ``b:`` and ``nq:`` search those too (as lore
    does), so diff lines are indexed once: passing the diff in ``body`` as well only costs time.
    ``subsystems`` holds the names and the URL slugs of the patch's MAINTAINERS sections (both
    are typed after ``subsystem:``). ``checks`` holds a patch's combined CI state (``fail``)
    and ``CONTEXT:STATE`` for the newest check of each context (``check:``). ``visibility`` is
    ``"public"`` or the key of a restriction (an embargoed thread's id): only viewers holding
    that key find the message. ``excerpt`` is the start of what the sender wrote (unquoted
    lines, a patch's diff included; at most :data:`EXCERPT_CHARS`), stored, not searched:
    result pages cut their snippets from it instead of reading every result's raw mail again.
    """

    msgid: str
    thread_root: str = ""
    subject: str = ""
    from_: str = ""
    to: str = ""
    cc: str = ""
    lists: tuple[str, ...] = ()
    date: datetime | None = None  # naive UTC
    body: str = ""
    quoted: str = ""
    attachments: tuple[str, ...] = ()
    diff_files: tuple[str, ...] = ()
    added: str = ""
    removed: str = ""
    hunk_headers: str = ""
    patch_id: str = ""
    subsystems: tuple[str, ...] = ()
    state: str = ""
    kinds: tuple[str, ...] = ()
    trailers: tuple[str, ...] = ()
    checks: tuple[str, ...] = ()  # combined CI state and CONTEXT:STATE of each newest check
    visibility: str = PUBLIC
    excerpt: str = ""


@dataclass(frozen=True)
class Hit:
    msgid: str
    date: datetime | None
    score: float | None  # None when sorted by date
    excerpt: str | None = None  # SearchDoc.excerpt as stored; None from an index without it


@dataclass(frozen=True)
class SearchResult:
    total: int
    hits: tuple[Hit, ...]


Sort = Literal["date", "relevance"]


class SearchIndex(Protocol):
    """One search index directory, open in this process.

    Searching is thread-safe and never waits for a writer: readers see the last commit. One
    writer at a time, across processes: a second one waits up to a timeout, then
    :class:`~listarchive.errors.IndexBusy`. A commit is atomic; a writer killed before it leaves
    the index as it was.
    """

    def add(self, docs: Iterable[SearchDoc], replace: Collection[str] | None = None,
            expected: int = 0, timeout: float | None = None) -> int:
        """Index ``docs`` in one commit, replacing any indexed message with the same Message-ID.

        ``replace`` names the Message-IDs that may already be indexed (None: any of them); new
        mail is not, and skipping the lookup is cheaper. ``expected`` says how many documents a
        generator will give. The first copy of a Message-ID repeated within ``docs`` wins.
        Returns how many were added; nothing is visible to searches before the commit.
        """
        ...

    def contains(self, msgid: str) -> bool: ...

    def delete(self, msgids: Iterable[str]) -> int:
        """Remove these messages; returns how many documents were removed."""
        ...

    def clear(self) -> None:
        """Empty the index in one commit."""
        ...

    def doc_count(self) -> int: ...

    def search(self, query: qt.Query, *, lists: tuple[str, ...] | None = None,
               viewer_keys: frozenset[str] = frozenset(), sort: Sort = "date", page: int = 1,
               per_page: int = 50) -> SearchResult:
        """One page of the messages matching ``query`` that the viewer may see.

        ``lists`` None searches every list. ``page`` counts from 1; ``per_page`` 0 returns every
        match. Raises :class:`~listarchive.errors.QueryError` for a prefix that would expand to
        too many words. Totals count only what the viewer may see.
        """
        ...

    def snippet(self, msgid: str, query: qt.Query, text: str, maxchars: int = 300) -> str:
        """An HTML fragment of ``text`` (the message's own text) around what ``query`` matched:
        escaped, matches in ``<mark>``; the start of ``text`` when nothing matches."""
        ...

    def close(self) -> None:
        """Finish what the writer started (merges) and release files and locks."""
        ...


def epoch(moment: datetime) -> int:
    """Seconds since 1970 of a naive UTC moment (what the date columns hold)."""
    return int(moment.replace(tzinfo=UTC).timestamp())


def date_value(moment: datetime | None) -> int:
    return NO_DATE if moment is None else max(epoch(moment), NO_DATE + 1)


def from_epoch(value: int | None) -> datetime | None:
    if value is None or value <= NO_DATE:
        return None
    return datetime.fromtimestamp(value, UTC).replace(tzinfo=None)
