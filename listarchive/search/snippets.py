"""Search-result snippets: a short, escaped extract of a message around what the query matched.

Engine-neutral on purpose: a snippet is cut from the message text the page already has, with
one compiled regular expression built from the query's words, so no engine needs to store text
or re-tokenise a whole message per result. Matching mirrors the index's analysis closely enough
for a reader's eye: case-insensitive, a word matches at the start of a word (``leak`` marks
``leaks``), and a prose word's stem is tried too (``retry`` -> ``retri`` marks ``retries``).

Only the first :data:`SCAN_CHARS` characters are searched: a 5 MB patch bomb costs what a long
mail costs.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from listarchive.search import querytree as qt

SCAN_CHARS = 200_000
BEFORE = 60
# Fields whose words never appear in the body text: ids and hashes.
_NOT_IN_TEXT = frozenset({"msgid", "patchid"})
_WORD = re.compile(r"\w+(?:[.\-+@/']+\w+)*")


def query_words(query: qt.Query, stem: Callable[[str], str] | None = None) -> frozenset[str]:
    """The lower-cased words (and their stems with ``stem``) a snippet should mark.

    Prefix leaves give their prefix (every word starting with it matches). Negated parts of the
    query are included too: marking a word the reader excluded is harmless and keeps this simple.

    >>> from listarchive.search.queryparser import parse_query
    >>> sorted(query_words(parse_query('s:"Fix leaks" dfn:drivers/clk/ clk_* m:a@b')))
    ['clk_', 'drivers/clk', 'fix', 'leaks']
    """
    words: set[str] = set()
    for leaf in qt.leaves(query):
        if not isinstance(leaf, qt.Term | qt.Phrase | qt.Prefix) or leaf.field in _NOT_IN_TEXT:
            continue
        if isinstance(leaf, qt.Term | qt.Phrase):
            text = leaf.text if isinstance(leaf, qt.Term) else " ".join(leaf.words)
            found = _WORD.findall(text.lower())
        else:
            found = [leaf.text.lower()]
        for word in found:
            if not word:
                continue
            words.add(word)
            if stem is not None and word.isalpha():
                words.add(stem(word))
    return frozenset(words)


@dataclass(frozen=True)
class Matcher:
    """What :func:`mark` looks for: the words, and one pattern matching any of them at the
    start of a word."""

    words: tuple[str, ...]
    pattern: re.Pattern[str]

    def first(self, text: str) -> re.Match[str] | None:
        """The first match in the scanned start of ``text``. The lower-cased text is searched
        for each word first (a substring search, in C): where none occurs, which is most
        results of most queries, the pattern never runs; otherwise it starts at the earliest.
        (A match only the pattern's case folding finds, such as the long s for ``s``, is then
        not marked: the snippet is cut from the start of the text instead.)"""
        scanned = text[:SCAN_CHARS]
        lower = scanned.lower()
        if len(lower) != len(scanned):  # a character whose lower case is longer: positions move
            return self.pattern.search(scanned)
        at = min((i for i in (lower.find(w) for w in self.words) if i >= 0), default=-1)
        return self.pattern.search(scanned, at) if at >= 0 else None

    def matches(self, text: str, start: int = 0) -> Iterator[re.Match[str]]:
        """The pattern's matches in ``text`` from ``start``, as ``finditer`` finds them, with
        the pattern tried only where the lower-cased text holds one of the words: scanning
        every position was most of a snippet's time. (A text whose lower case is longer is
        scanned whole.)"""
        lower = text.lower()
        if len(lower) != len(text):
            yield from self.pattern.finditer(text, start)
            return
        starts: set[int] = set()
        for word in self.words:
            at = lower.find(word, start)
            while at >= 0:
                starts.add(at)
                at = lower.find(word, at + 1)
        pos = start
        for at in sorted(starts):
            if at < pos:
                continue
            m = self.pattern.match(text, at)
            if m is not None:
                yield m
                pos = m.end()


def matcher(words: Iterable[str]) -> Matcher | None:
    """What marks any of ``words`` at the start of a word; None for no words."""
    ordered = tuple(sorted({w.lower() for w in words if w}, key=lambda w: (-len(w), w)))
    if not ordered:
        return None
    alternatives = "|".join(re.escape(w) for w in ordered)
    return Matcher(ordered, re.compile(rf"(?<!\w)(?:{alternatives})[\w]*", re.IGNORECASE))


def mark(text: str, found_by: Matcher | None, maxchars: int = 300) -> str:
    """An HTML fragment of at most about ``maxchars`` characters of ``text``: escaped, matches
    in ``<mark>``, starting a little before the first match (the start of ``text`` when nothing
    matches), with ``…`` where it was cut.

    >>> mark("a <b> leaks here", matcher(["leak"]))
    'a &lt;b&gt; <mark>leaks</mark> here'
    >>> mark("x" * 10, None, maxchars=4)
    'xxxx…'
    """
    found = found_by.first(text) if found_by is not None else None
    start = 0
    if found is not None and found.start() > BEFORE:
        start = found.start() - BEFORE
        space = text.find(" ", start, found.start())
        start = space + 1 if space >= 0 else start
    end = min(len(text), start + maxchars)
    if end < len(text):
        space = text.rfind(" ", start + maxchars // 2, end)
        end = space if space > 0 else end
    piece = text[start:end]
    out: list[str] = ["…"] if start > 0 else []
    pos = 0
    if found_by is not None and found is not None and found.start() < end:
        # Nothing before the first match can match (half the results of the bench's queries
        # have no match at all), and the pattern is tried only where a word starts.
        for m in found_by.matches(piece, found.start() - start):
            out.append(html.escape(piece[pos:m.start()], quote=True))
            out.append("<mark>" + html.escape(m.group(0), quote=True) + "</mark>")
            pos = m.end()
    out.append(html.escape(piece[pos:], quote=True))
    if end < len(text):
        out.append("…")
    return "".join(out)
