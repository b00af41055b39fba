"""The search language of the site, the CLI and the API, read into our query tree
(:mod:`listarchive.search.querytree`) by a lexer and a recursive-descent parser.

The language, lore's (public-inbox) plus ours:

- free words are ANDed: ``clk qcom`` finds mail with both words;
- ``"a phrase"``, ``OR``, ``AND``, ``NOT`` (upper case only: ``or`` is a word), ``-word``, ``( )``;
- precedence as in boolean logic and Xapian: NOT and ``-`` bind tightest, then AND (written or
  implied), then OR, so ``a b OR c`` is ``(a b) OR c``;
- ``s: f: t: c: a: b: bs: nq: q: m: dfn: dfa: dfb: dfhh: patchid:`` restrict a word or phrase to a
  field; ``s:(a OR b)`` applies the prefix to every bare word inside the parentheses;
- ``l:`` list, ``subsystem:``, ``state:``, ``is:patch|cover|pull|reply``, ``has:TRAILER-NAME``;
- ``d:`` dates, see :func:`listarchive.search.querydates.parse_date_range`;
- ``word*`` is a prefix search, at least three characters before the ``*``.

The prefixes, facet values and bounds are :mod:`listarchive.search.vocabulary`'s.

Refused with a :class:`~listarchive.errors.QueryError` that says where: unbalanced parentheses or
quotes, unknown prefixes, bad dates, empty and pure-negative queries (``-foo`` alone would match
nearly everything), queries past the bounds (characters, terms, nesting), too-short prefixes. A word that
merely ends in a colon (``clk: qcom: fix``, pasted from a subject) is taken as the word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from listarchive.clock import utcnow
from listarchive.errors import QueryError
from listarchive.search.querydates import parse_date_range
from listarchive.search.querytree import And, Flag, Not, Or, Phrase, Prefix, Query, Term, is_positive
from listarchive.search.vocabulary import (
    CHECK_STATES,
    DATE_PREFIX,
    EXACT_FIELDS,
    FIELD_PREFIXES,
    FLAG_PREFIXES,
    KINDS,
    KNOWN_PREFIXES,
    MAX_DEPTH,
    MAX_QUERY_CHARS,
    MAX_TERMS,
    MIN_PREFIX_CHARS,
    OPERATORS,
    PREFIX_RE,
    STATES,
    TEXT_FIELD,
)

_CHECK_CONTEXT_RE = re.compile(r"^[a-z0-9][a-z0-9._/-]{0,254}$")
_TRAILER_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_LIST_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_HEX_RE = re.compile(r"^[0-9a-f]{1,64}$")


# ----------------------------------------------------------------------------------------------
# Lexer

_WORD_END = frozenset('()"')


@dataclass(frozen=True)
class _Token:
    kind: str  # ( ) OR AND NOT NEG WORD PHRASE GROUP END
    pos: int
    value: str = ""
    prefix: str = ""  # the prefix written before a WORD, PHRASE or GROUP ('' when none)


def _read_phrase(text: str, start: int) -> tuple[str, int]:
    """The content of the quoted string opening at ``start``, and the index after it."""
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in '"\\':
            out.append(text[i + 1])
            i += 2
            continue
        if ch == '"':
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise QueryError("unclosed quote", start)


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    terms = 0
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch in "()":
            out.append(_Token(ch, i))
            i += 1
            continue
        if ch in "-+":
            if i + 1 >= n or text[i + 1].isspace() or text[i + 1] == ")":
                raise QueryError(f"nothing after {ch!r}", i)
            if ch == "-":
                out.append(_Token("NEG", i))
            i += 1  # '+' (Xapian's "required") is what every word already is
            continue
        start = i
        prefix = ""
        m = PREFIX_RE.match(text, i)
        if m and not text.startswith("//", m.end()):
            name = m.group(1)
            after = m.end()
            bare = after >= n or text[after].isspace() or text[after] == ")"
            if name in KNOWN_PREFIXES:
                if bare:
                    raise QueryError(f"nothing after {name}: (write the value right after the "
                                     "colon, no space)", start)
                prefix, i = name, after
            elif bare:
                # "clk: qcom: fix" pasted from a subject: the word, not a prefix.
                terms += 1
                out.append(_Token("WORD", start, name))
                i = after
                _check_terms(terms, start)
                continue
            else:
                raise QueryError(f"unknown prefix {name}: (known: "
                                 f"{', '.join(sorted(KNOWN_PREFIXES))}; quote the word to "
                                 "search for it as text)", start)
        if i < n and text[i] == '"':
            value, i = _read_phrase(text, i)
            terms += 1
            out.append(_Token("PHRASE", start, value, prefix))
        elif i < n and text[i] == "(" and prefix:
            out.append(_Token("GROUP", start, "", prefix))
            i += 1
            continue
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in _WORD_END:
                j += 1
            word = text[i:j]
            i = j
            if not prefix and word in OPERATORS:
                out.append(_Token(word, start))
                continue
            terms += 1
            out.append(_Token("WORD", start, word, prefix))
        _check_terms(terms, start)
    out.append(_Token("END", n))
    return out


def _check_terms(terms: int, position: int) -> None:
    if terms > MAX_TERMS:
        raise QueryError(f"too many terms (at most {MAX_TERMS})", position)


# ----------------------------------------------------------------------------------------------
# Parser

class _Parser:
    def __init__(self, tokens: list[_Token], now: datetime) -> None:
        self.tokens = tokens
        self.i = 0
        self.now = now
        self.depth = 0

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def expr(self, context: str) -> Query:
        items = [self.and_expr(context)]
        while self.peek().kind == "OR":
            tok = self.take()
            if self.peek().kind in ("OR", "AND", ")", "END"):
                raise QueryError("OR needs a term on both sides", tok.pos)
            items.append(self.and_expr(context))
        return _join(Or, items)

    def and_expr(self, context: str) -> Query:
        tok = self.peek()
        if tok.kind in ("OR", "AND"):
            raise QueryError(f"{tok.kind} needs a term on both sides", tok.pos)
        items = [self.unary(context)]
        while self.peek().kind not in ("OR", ")", "END"):
            if self.peek().kind == "AND":
                tok = self.take()
                if self.peek().kind in ("OR", "AND", ")", "END"):
                    raise QueryError("AND needs a term on both sides", tok.pos)
            items.append(self.unary(context))
        return _join(And, items)

    def unary(self, context: str) -> Query:
        tok = self.peek()
        if tok.kind in ("NOT", "NEG", "(", "GROUP"):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise QueryError(f"nested too deeply (at most {MAX_DEPTH} levels)", tok.pos)
            try:
                return self._unary(context)
            finally:
                self.depth -= 1
        return self._unary(context)

    def _unary(self, context: str) -> Query:
        tok = self.peek()
        if tok.kind in ("NOT", "NEG"):
            self.take()
            if self.peek().kind in ("OR", "AND", ")", "END"):
                raise QueryError(f"nothing to exclude after {'NOT' if tok.kind == 'NOT' else '-'}",
                                 tok.pos)
            inner = self.unary(context)
            return inner.item if isinstance(inner, Not) else Not(inner)
        return self.primary(context)

    def primary(self, context: str) -> Query:
        tok = self.take()
        if tok.kind in ("(", "GROUP"):
            if self.peek().kind == ")":
                raise QueryError("empty parentheses", tok.pos)
            if self.peek().kind == "END":
                raise QueryError("unbalanced parenthesis: '(' is never closed", tok.pos)
            inner = self.expr(tok.prefix or context)
            close = self.take()
            if close.kind != ")":
                raise QueryError("unbalanced parenthesis: '(' is never closed", tok.pos)
            return inner
        if tok.kind == ")":
            raise QueryError("unbalanced parenthesis: ')' without '('", tok.pos)
        if tok.kind in ("WORD", "PHRASE"):
            return self.leaf(tok, tok.prefix or context)
        raise QueryError("unexpected end of query", tok.pos)  # pragma: no cover - END handled

    def leaf(self, tok: _Token, prefix: str) -> Query:
        value, pos, phrase = tok.value, tok.pos, tok.kind == "PHRASE"
        if prefix == DATE_PREFIX:
            return parse_date_range(value, self.now, pos)
        if prefix in FLAG_PREFIXES:
            if not phrase and "*" in value:
                raise QueryError(f"wildcards do not work with {prefix}:", pos)
            return _flag(FLAG_PREFIXES[prefix], value, pos)
        name = FIELD_PREFIXES.get(prefix, TEXT_FIELD)
        if name in EXACT_FIELDS:
            if "*" in value:
                raise QueryError(f"wildcards do not work with {prefix}:", pos)
            value = value.strip().strip("<>").strip()
            if not value:
                raise QueryError(f"empty value for {prefix}:", pos)
            if name == "patchid":
                value = value.lower()
                if not _HEX_RE.match(value):
                    raise QueryError("patchid: takes the hexadecimal id of `git patch-id`", pos)
            return Term(name, value)
        if phrase:
            words = tuple(value.split())
            if not words:
                raise QueryError("empty phrase", pos)
            return Term(name, words[0]) if len(words) == 1 else Phrase(name, words)
        if "*" in value:
            stem = value[:-1] if value.endswith("*") else ""
            if not stem or "*" in stem:
                raise QueryError("'*' works only at the end of a word (prefix search)", pos)
            if len(stem) < MIN_PREFIX_CHARS:
                raise QueryError(f"prefix {stem + '*'!r} is too short: type at least "
                                 f"{MIN_PREFIX_CHARS} characters before '*'", pos)
            return Prefix(name, stem, pos)
        return Term(name, value)


def _flag(name: str, value: str, pos: int) -> Flag:
    if name == "subsystem":
        value = " ".join(value.split())
        if not value:
            raise QueryError("empty subsystem name", pos)
        return Flag(name, value)
    value = value.strip().lower()
    if name == "is" and value not in KINDS:
        raise QueryError(f"is: takes one of {', '.join(sorted(KINDS))}", pos)
    if name == "state" and value not in STATES:
        raise QueryError(f"state: takes one of {', '.join(sorted(STATES))}", pos)
    if name == "check":
        context, _, state = value.rpartition(":")
        if state not in CHECK_STATES or (context and not _CHECK_CONTEXT_RE.match(context)):
            raise QueryError(f"check: takes a CI result ({', '.join(sorted(CHECK_STATES))}), "
                             "alone or after a context: check:fail, check:CONTEXT:fail", pos)
    if name == "has" and not _TRAILER_RE.match(value):
        raise QueryError("has: takes a trailer name such as reviewed-by", pos)
    if name == "list" and not _LIST_RE.match(value):
        raise QueryError(f"{value!r} is not a list name", pos)
    return Flag(name, value)


def _join(kind: type[And] | type[Or], items: list[Query]) -> Query:
    if len(items) == 1:
        return items[0]
    flat: list[Query] = []
    for item in items:
        flat.extend(item.items if isinstance(item, kind) else (item,))
    return kind(tuple(flat))


def parse_query(text: str, now: datetime | None = None) -> Query:
    """Parse ``text`` into a query tree or raise :class:`QueryError` saying where it fails.

    ``now`` (naive UTC) anchors relative dates; it defaults to the current time.
    """
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"query is longer than {MAX_QUERY_CHARS} characters", MAX_QUERY_CHARS)
    if now is None:
        now = utcnow()
    tokens = _tokens(text)
    if tokens[0].kind == "END":
        raise QueryError("empty query", 0)
    parser = _Parser(tokens, now)
    query = parser.expr("")
    tail = parser.peek()
    if tail.kind == ")":
        raise QueryError("unbalanced parenthesis: ')' without '('", tail.pos)
    if not is_positive(query):
        raise QueryError("a query needs at least one term to find, not only terms to exclude", 0)
    return query
