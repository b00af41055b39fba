"""The search language of the site, the CLI and the API, parsed into our own small query tree.

The tree (``Term``, ``Phrase``, ``Prefix``, ``DateRange``, ``Flag``, ``And``, ``Or``, ``Not``) is
what search engines compile from; nothing here knows an engine, so a second engine (SQL full-text)
compiles the same tree and the language does not move.

The language, lore's (public-inbox) plus ours:

- free words are ANDed: ``clk qcom`` finds mail with both words;
- ``"a phrase"``, ``OR``, ``AND``, ``NOT`` (upper case only: ``or`` is a word), ``-word``, ``( )``;
- precedence as in boolean logic and Xapian: NOT and ``-`` bind tightest, then AND (written or
  implied), then OR, so ``a b OR c`` is ``(a b) OR c``;
- ``s: f: t: c: a: b: bs: nq: q: m: dfn: dfa: dfb: dfhh: patchid:`` restrict a word or phrase to a
  field; ``s:(a OR b)`` applies the prefix to every bare word inside the parentheses;
- ``l:`` list, ``subsystem:``, ``state:``, ``is:patch|cover|pull|reply``, ``has:TRAILER-NAME``;
- ``d:`` dates, see :func:`parse_date_range`;
- ``word*`` is a prefix search, at least three characters before the ``*``.

Refused with a :class:`~listarchive.errors.QueryError` that says where: unbalanced parentheses or
quotes, unknown prefixes, bad dates, empty and pure-negative queries (``-foo`` alone would match
nearly everything), queries over 1,000 characters or 64 terms, too-short prefixes. A word that
merely ends in a colon (``clk: qcom: fix``, pasted from a subject) is taken as the word.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import datetime, timedelta

from listarchive.clock import utcnow
from listarchive.errors import QueryError

# b4 asks for the reviews of a series in one query, "patchid:<40 hex> OR ..." for each patch
# (52 characters a patch): these bounds take a 300-patch series.
MAX_QUERY_CHARS = 16_000
MAX_TERMS = 300
MIN_PREFIX_CHARS = 3
MAX_DEPTH = 16  # nested parentheses and negations; keeps every tree walk far from recursion limits
MAX_PREFIX_EXPANSION = 1000  # distinct words a prefix may stand for (engines check it)
LIMITS = {"characters": MAX_QUERY_CHARS, "terms": MAX_TERMS, "prefix": MIN_PREFIX_CHARS,
          "depth": MAX_DEPTH, "expansion": MAX_PREFIX_EXPANSION}

# lore prefix -> field name in the tree (engines map field names to their own columns).
FIELD_PREFIXES: dict[str, str] = {
    "s": "subject", "f": "from", "t": "to", "c": "cc", "a": "address", "b": "body",
    "bs": "subject_body", "nq": "nonquoted", "q": "quoted", "m": "msgid", "dfn": "diff_file",
    "dfa": "diff_removed", "dfb": "diff_added", "dfhh": "diff_hunk", "patchid": "patchid",
}
FLAG_PREFIXES: dict[str, str] = {
    "l": "list", "subsystem": "subsystem", "state": "state", "is": "is", "has": "has",
    "check": "check",
}
DATE_PREFIX = "d"
TEXT_FIELD = "text"  # free words: subject, body and sender
KNOWN_PREFIXES = frozenset(FIELD_PREFIXES) | frozenset(FLAG_PREFIXES) | {DATE_PREFIX}
_PREFIX_OF = {v: k for k, v in FIELD_PREFIXES.items()} | {v: k for k, v in FLAG_PREFIXES.items()}
# Fields whose values are identifiers, not words: no wildcard, no phrase splitting.
_EXACT_FIELDS = frozenset({"msgid", "patchid"})

KINDS = frozenset({"patch", "cover", "pull", "reply"})
STATES = frozenset({"new", "under-review", "accepted", "rejected", "rfc", "not-applicable",
                    "changes-requested", "awaiting-upstream", "superseded", "deferred"})
CHECK_STATES = frozenset({"pending", "success", "warning", "fail"})
_CHECK_CONTEXT_RE = re.compile(r"^[a-z0-9][a-z0-9._/-]{0,254}$")
_TRAILER_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_LIST_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_HEX_RE = re.compile(r"^[0-9a-f]{1,64}$")


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


def _prefix(name: str) -> str:
    if name == TEXT_FIELD:
        return ""
    return _PREFIX_OF.get(name, name) + ":"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _quote_word(text: str) -> str:
    needs = (not text or any(ch.isspace() or ch in '()"' for ch in text)
             or text[0] in "-+" or text in ("AND", "OR", "NOT") or _PREFIX_RE.match(text)
             or "*" in text)
    return _quote(text) if needs else text


def _is_midnight(moment: datetime) -> bool:
    return moment.hour == moment.minute == moment.second == moment.microsecond == 0


def _render_moment(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d}" if _is_midnight(moment) else f"{moment:%Y%m%d%H%M%S}"


# ----------------------------------------------------------------------------------------------
# Dates

_ABSOLUTE_RE = re.compile(
    r"^(\d{4})-?(\d{2})-?(\d{2})(?:[Tt ]?(\d{2}):?(\d{2})(?::?(\d{2}))?)?$")
_RELATIVE_RE = re.compile(r"^(\d{1,6})\.(second|minute|hour|day|week|month|year)s?\.ago$")
_LAST_RE = re.compile(r"^last\.(day|week|month|year)$")
_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400}


def _months_back(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + (moment.month - 1) - months
    year, month = divmod(index, 12)
    month += 1
    if year < 1:
        raise ValueError("before year 1")
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def _point(text: str, now: datetime) -> tuple[datetime, bool]:
    """One side of a range: the moment it names, and whether it names a whole day."""
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if text == "today":
        return today, True
    if text == "yesterday":
        return today - timedelta(days=1), True
    if text == "now":
        return now, False
    m = _ABSOLUTE_RE.match(text)
    if m:
        parts = [int(g) if g else 0 for g in m.groups()]
        moment = datetime(*parts)  # type: ignore[arg-type]
        return moment, m.group(4) is None
    m = _LAST_RE.match(text)
    count, unit = (1, m.group(1)) if m else (0, "")
    if not m:
        m = _RELATIVE_RE.match(text)
        if not m:
            raise ValueError("not a date")
        count, unit = int(m.group(1)), m.group(2)
    if unit == "month":
        return _months_back(now, count), False
    if unit == "year":
        return _months_back(now, 12 * count), False
    return now - timedelta(seconds=count * _UNIT_SECONDS[unit]), False


def parse_date_range(text: str, now: datetime | None = None, position: int = 0) -> DateRange:
    """The value of ``d:`` as a half-open range ``[start, end)`` in naive UTC.

    A side is an absolute day (``2024-01-31``, ``20240131``), a moment (``20240131123000``,
    ``2024-01-31T12:30``), a day relative to ``now`` (``today``, ``yesterday``) or a moment
    relative to it (``3.days.ago``, ``2.weeks.ago``, ``last.month``, ``now``). Days are inclusive
    at both ends: ``d:2024-01-01..2024-01-31`` is all of January. Either side may be left open
    (``d:2.weeks.ago..``, ``d:..2023-12-31``). A single value is the day it names or falls in:
    ``d:3.days.ago`` is that whole calendar day, not everything since.
    """
    if now is None:
        now = utcnow()
    value = text.strip().lower()
    try:
        if ".." not in value:
            moment, _ = _point(value, now)
            day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
            return DateRange(day, day + timedelta(days=1))
        left, right = value.split("..", 1)
        if not left and not right:
            raise QueryError("d: needs a date on at least one side of '..'", position)
        start: datetime | None = _point(left, now)[0] if left else None
        end: datetime | None = None
        if right:
            moment, whole_day = _point(right, now)
            end = moment + timedelta(days=1) if whole_day else moment
    except (ValueError, OverflowError) as exc:
        raise QueryError(
            f"bad date {text!r} in d: (use YYYY-MM-DD, YYYYMMDD, today, yesterday, "
            "N.days.ago, N.weeks.ago, last.month, with '..' for a range)", position) from exc
    if start is not None and end is not None and start >= end:
        raise QueryError(f"date range {text!r} ends before it starts", position)
    return DateRange(start, end)


# ----------------------------------------------------------------------------------------------
# Lexer

_PREFIX_RE = re.compile(r"([A-Za-z]+):")
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
        m = _PREFIX_RE.match(text, i)
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
            if not prefix and word in ("AND", "OR", "NOT"):
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
        if name in _EXACT_FIELDS:
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
