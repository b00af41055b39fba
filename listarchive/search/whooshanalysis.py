"""The Whoosh adapter's analysis: :mod:`listarchive.search.analysis`'s rules as Whoosh
tokenizers, filters and a field type.

Identifiers, paths, addresses and versions are kept whole (``pci_enable_device``, ``v6.1-rc3``,
``john@example.org``) and, at index time only, also split into their parts, so typing either the
whole or a part finds them. English stemming is applied to prose fields (subject, body) and only
to purely alphabetic words. A file in a diff is indexed with each of its directories:
``dfn:drivers/clk/`` is one term lookup, not a prefix expansion. Mail-text fields skip Whoosh's
per-token pipeline at index time (:class:`MailText`).

Whoosh pickles these classes into every index's schema, by module and name: an index written
before they lived here names them in :mod:`listarchive.search.whooshindex`, which keeps them
importable from there.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any

from whoosh.analysis import Filter, LowercaseFilter, Token, Tokenizer
from whoosh.fields import TEXT
from whoosh.formats import Positions
from whoosh.lang.porter import stem as porter_stem
from whoosh.system import pack_uint

from listarchive.search import analysis


class MailTokenizer(Tokenizer):
    """Words of mail and code (:data:`analysis.WORD`), as :mod:`listarchive.search.analysis`
    cuts them.

    At index time a joined word is also emitted split into its pieces, at the same position
    (``v6.1-rc3`` -> ``v6.1-rc3``, ``v6``, ``1``, ``rc3``), so a phrase still lines up; queries
    are tokenized whole, so ``v6.1-rc3`` typed finds exactly that. With ``addresses`` an e-mail
    address also yields its local part, domain and parent domains (``f:kernel.org``).
    """

    def __init__(self, addresses: bool = False) -> None:
        self.addresses = addresses

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MailTokenizer) and other.addresses == self.addresses

    def __hash__(self) -> int:
        return hash((MailTokenizer, self.addresses))

    def __call__(self, value: str, positions: bool = False, chars: bool = False,
                 keeporiginal: bool = False, removestops: bool = True, start_pos: int = 0,
                 start_char: int = 0, tokenize: bool = True, mode: str = "",
                 **kwargs: Any) -> Iterator[Token]:
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        expand = mode != "query"
        for pos, match in enumerate(analysis.WORD.finditer(value)):
            text = match.group(0)
            if len(text) > analysis.MAX_WORD_CHARS:
                continue  # base64 and hex dumps: no one searches for them, they bloat the index
            start = match.start()
            for piece, offset in (analysis.pieces(text, self.addresses) if expand
                                  else ((text, 0),)):
                t.text = piece
                t.boost = 1.0
                t.stopped = False
                if keeporiginal:
                    t.original = piece
                if positions:
                    t.pos = start_pos + pos
                if chars:
                    t.startchar = start_char + start + offset
                    t.endchar = t.startchar + len(piece)
                yield t


@lru_cache(maxsize=100_000)
def stem_word(word: str) -> str:
    """The Porter stem of one word, as the index holds it: ``devices`` -> ``devic``."""
    return str(porter_stem(word))


class ProseStemFilter(Filter):
    """Porter stemming of plain words only: ``devices`` -> ``devic``, ``pci_devices`` kept."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ProseStemFilter)

    def __hash__(self) -> int:
        return hash(ProseStemFilter)

    def __call__(self, tokens: Iterable[Token]) -> Iterator[Token]:
        for t in tokens:
            if not t.stopped and t.text.isalpha():
                t.text = stem_word(t.text)
            yield t


class PathTokenizer(Tokenizer):
    """File names of a diff, one per line, as :func:`analysis.path_terms` expands them (each
    path, its basename and every directory); a query is one path (:func:`analysis.query_path`)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PathTokenizer)

    def __hash__(self) -> int:
        return hash(PathTokenizer)

    def __call__(self, value: str, positions: bool = False, chars: bool = False,
                 keeporiginal: bool = False, removestops: bool = True, start_pos: int = 0,
                 start_char: int = 0, tokenize: bool = True, mode: str = "",
                 **kwargs: Any) -> Iterator[Token]:
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if mode == "query":
            pieces = [path for path in map(analysis.query_path, value.split("\n")) if path]
        else:
            pieces = analysis.path_terms(value.split("\n"))
        for pos, piece in enumerate(pieces):
            t.text = piece
            t.boost = 1.0
            t.stopped = False
            if positions:
                t.pos = start_pos + pos
            if chars:
                t.startchar, t.endchar = start_char, start_char + len(piece)
            yield t


def _code_analyzer(addresses: bool = False) -> Any:
    return MailTokenizer(addresses) | LowercaseFilter()


def _prose_analyzer() -> Any:
    return MailTokenizer() | LowercaseFilter() | ProseStemFilter()


def path_analyzer() -> Any:
    return PathTokenizer() | LowercaseFilter()


class MailText(TEXT):
    """A TEXT field of mail or code words whose index-time analysis is one pass over the value.

    Whoosh's generic path sends every token through a chain of generators as a mutable
    ``Token`` (tokenizer, lower-casing, stemming) and pickles each term's positions; for list
    mail that was about a third of indexing. :meth:`index` produces the very same postings as
    ``analyzer(value, mode="index")`` would (a test compares both on real mail), straight from
    the regular expression's matches. Queries still go through ``analyzer``.
    """

    def __init__(self, *, stem: bool = False, addresses: bool = False, **kwargs: Any) -> None:
        analyzer = _prose_analyzer() if stem else _code_analyzer(addresses)
        super().__init__(analyzer=analyzer, **kwargs)
        self.stem_words = stem
        self.addresses = addresses

    def index(self, value: Any, **kwargs: Any) -> Iterator[tuple[bytes, int, float, bytes]]:
        if kwargs.get("mode", "index") != "index" or not isinstance(value, str):
            yield from super().index(value, **kwargs)
            return
        boost = float(self.format.field_boost)
        positions = isinstance(self.format, Positions)
        encode = self.format.encode if positions else None
        for word, where in _index_words(value, self.stem_words, self.addresses).items():
            freq = len(where)
            value_bytes = encode(where) if encode is not None else pack_uint(freq)
            yield word.encode("utf-8"), freq, freq * boost, value_bytes


def _index_words(value: str, stem: bool, addresses: bool) -> dict[str, list[int]]:
    """Each index term of ``value`` and the positions it occurs at: what MailTokenizer (index
    mode), LowercaseFilter and, with ``stem``, ProseStemFilter give, grouped by term."""
    where: dict[str, list[int]] = {}
    for pos, text in enumerate(analysis.WORD.findall(value)):
        if len(text) > analysis.MAX_WORD_CHARS:
            continue
        if text.isidentifier() or text.isalnum():
            pieces: Iterable[str] = (text,)
        else:
            pieces = [piece for piece, _ in analysis.pieces(text, addresses)]
        for piece in pieces:
            word = piece.lower()
            if stem and word.isalpha():
                word = stem_word(word)
            found = where.get(word)
            if found is None:
                where[word] = [pos]
            else:
                found.append(pos)
    return where
