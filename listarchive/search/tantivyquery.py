"""The tantivy adapter's queries: :func:`compile_query` is the one place that turns our query
tree (:mod:`listarchive.search.querytree`) into tantivy queries.

Words typed are cut by the columns' analyzers (:mod:`~listarchive.search.tantivyanalysis`): one
term, or the phrase of its pieces (all of them, on a column without positions). Prefixes are
expanded against the searcher's words and refused past :data:`MAX_PREFIX_EXPANSION`. In
relevance order a word in the subject counts twice.
"""

from __future__ import annotations

import tantivy

from listarchive.errors import QueryError
from listarchive.search import analysis, tantivyanalysis
from listarchive.search import querytree as qt
from listarchive.search.documents import NO_DATE, epoch
from listarchive.search.tantivyschema import build_schema
from listarchive.search.vocabulary import MAX_PREFIX_EXPANSION

_SUBJECT_BOOST = 2.0  # relevance order: a word in the subject counts twice


class _Compiler:
    """Turns one query tree into a tantivy query for one searcher (prefixes are expanded
    against that searcher's words, and refused past :data:`MAX_PREFIX_EXPANSION`)."""

    def __init__(self, schema: tantivy.Schema, searcher: tantivy.Searcher | None,
                 scored: bool) -> None:
        self.schema = schema
        self.searcher = searcher
        self.option = "freq" if scored else "basic"

    def term(self, column: str, value: str) -> tantivy.Query:
        return tantivy.Query.term_query(self.schema, column, value, index_option=self.option)

    def words(self, column: str, text: str) -> tantivy.Query:
        """Words typed for one column: a term, else the phrase of their pieces (all of them,
        on a column without positions)."""
        if column == "msgid":
            return self.term(column, text)
        if column == "patchid":
            return self.term(column, text.lower())
        if column == analysis.PATH:
            path = analysis.query_path(text)
            return self.term(column, path) if path else tantivy.Query.empty_query()
        tokens = tantivyanalysis.words(column, text)
        if not tokens:
            return tantivy.Query.empty_query()
        if len(tokens) == 1:
            return self.term(column, tokens[0])
        if column in analysis.UNPOSITIONED:
            return _all([self.term(column, t) for t in tokens])
        words: list[str | tuple[int, str]] = list(tokens)
        return tantivy.Query.phrase_query(self.schema, column, words)

    def expand(self, column: str, prefix: str, leaf: qt.Prefix) -> list[str]:
        """The words of ``column`` starting with ``prefix``, refused past the limit."""
        if self.searcher is None:
            return []
        found = self.searcher.terms_with_prefix(column, prefix, limit=MAX_PREFIX_EXPANSION + 1)
        if len(found) > MAX_PREFIX_EXPANSION:
            raise QueryError(f"{leaf} matches more than {MAX_PREFIX_EXPANSION} different words; "
                             "type more of the word", max(leaf.position, 0))
        return [word for word, _ in found]

    def prefix(self, column: str, leaf: qt.Prefix) -> tantivy.Query:
        """``word*``: the words starting with it (and, in prose, with its stem); typed with
        joiners (``v6.1-rc*``), the phrase of its pieces ending in such a word."""
        if column == analysis.PATH:
            return self.term_set(column, self.expand(column, analysis.query_path(leaf.text), leaf))
        pieces = tantivyanalysis.pieces(leaf.text)
        if not pieces:
            return tantivy.Query.empty_query()
        prose = tantivyanalysis.is_prose(column)
        stem = tantivyanalysis.stem_word
        last, head = pieces[-1], [stem(p) if prose else p for p in pieces[:-1]]
        starts = sorted({last, stem(last)} if prose and last.isalpha() else {last})
        words = sorted({w for start in starts for w in self.expand(column, start, leaf)})
        if not head:
            return self.term_set(column, words)
        if column in analysis.UNPOSITIONED:
            return _all([*(self.term(column, p) for p in head), self.term_set(column, words)])
        # Pieces are \w runs: nothing in them needs escaping in a regular expression.
        return _any([tantivy.Query.regex_phrase_query(self.schema, column, [*head, start + ".*"])
                     for start in starts])

    def term_set(self, column: str, terms: list[str]) -> tantivy.Query:
        if not terms:
            return tantivy.Query.empty_query()
        return tantivy.Query.term_set_query(self.schema, column, terms)

    def compile(self, tree: qt.Query, boost: bool = False) -> tantivy.Query:
        if isinstance(tree, qt.Term | qt.Phrase):
            text = tree.text if isinstance(tree, qt.Term) else " ".join(tree.words)
            return _any([self.boosted(c, self.words(c, text), boost)
                         for c in analysis.SEARCHED[tree.field]])
        if isinstance(tree, qt.Prefix):
            return _any([self.prefix(c, tree) for c in analysis.SEARCHED[tree.field]])
        if isinstance(tree, qt.DateRange):
            start = NO_DATE + 1 if tree.start is None else epoch(tree.start)
            if tree.end is None:
                return tantivy.Query.range_query(self.schema, "date", tantivy.FieldType.Integer,
                                                 start, None)
            return tantivy.Query.range_query(self.schema, "date", tantivy.FieldType.Integer,
                                             start, epoch(tree.end), include_upper=False)
        if isinstance(tree, qt.Flag):
            return self.term(analysis.FLAG_COLUMNS[tree.name], analysis.facet_value(tree.value))
        if isinstance(tree, qt.Not):
            return tantivy.Query.boolean_query([
                (tantivy.Occur.Must, tantivy.Query.all_query()),
                (tantivy.Occur.MustNot, self.compile(tree.item))])
        if isinstance(tree, qt.Or):
            return _any([self.compile(item, boost) for item in tree.items])
        clauses = [(tantivy.Occur.MustNot, self.compile(item.item)) if isinstance(item, qt.Not)
                   else (tantivy.Occur.Must, self.compile(item, boost)) for item in tree.items]
        return tantivy.Query.boolean_query(clauses)

    @staticmethod
    def boosted(column: str, query: tantivy.Query, boost: bool) -> tantivy.Query:
        if boost and column == "subject":
            return tantivy.Query.boost_query(query, _SUBJECT_BOOST)
        return query


def _any(queries: list[tantivy.Query]) -> tantivy.Query:
    if len(queries) == 1:
        return queries[0]
    return tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in queries])


def _all(queries: list[tantivy.Query]) -> tantivy.Query:
    if len(queries) == 1:
        return queries[0]
    return tantivy.Query.boolean_query([(tantivy.Occur.Must, q) for q in queries])


def compile_query(tree: qt.Query, schema: tantivy.Schema | None = None,
                  searcher: tantivy.Searcher | None = None, scored: bool = False) -> tantivy.Query:
    """Our query tree as a tantivy query (``searcher`` expands and bounds prefixes; without it
    a prefix matches nothing)."""
    return _Compiler(schema or build_schema(), searcher, scored).compile(tree, boost=scored)
