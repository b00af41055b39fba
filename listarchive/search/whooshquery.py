"""The Whoosh adapter's queries: :func:`compile_query` is the one place that turns our query
tree (:mod:`listarchive.search.querytree`) into Whoosh query objects, and :func:`restrict`
narrows one to what a viewer may see.

Restrictions are part of the query (list terms ANDed in, a mask of the hidden ``visibility``
keys), never a post-filter: totals and pages count only what the viewer may see. Words are cut
by the fields' own analyzers in query mode (:mod:`listarchive.search.whooshanalysis`): a word
typed with joiners is looked up whole.
"""

from __future__ import annotations

from whoosh import query as wq
from whoosh.fields import ID, KEYWORD, Schema
from whoosh.searching import Searcher

from listarchive.errors import QueryError
from listarchive.search import analysis
from listarchive.search import querytree as qt
from listarchive.search.documents import NO_DATE, PUBLIC, epoch
from listarchive.search.vocabulary import MAX_PREFIX_EXPANSION
from listarchive.search.whooshanalysis import stem_word


def _analyze(schema: Schema, fname: str, text: str) -> list[str]:
    fld = schema[fname]
    if isinstance(fld, ID):
        return [text]
    if isinstance(fld, KEYWORD):
        return [" ".join(text.split()).lower()]
    return [t.text for t in fld.analyzer(text, mode="query")]


def _words_query(schema: Schema, fname: str, text: str) -> wq.Query:
    tokens = _analyze(schema, fname, text)
    if not tokens:
        return wq.NullQuery
    if len(tokens) == 1:
        return wq.Term(fname, tokens[0])
    if schema[fname].format.supports("positions"):
        return wq.Phrase(fname, tokens)
    return wq.And([wq.Term(fname, tok) for tok in tokens])


def _prefix_query(searcher: Searcher | None, fname: str, leaf: qt.Prefix) -> wq.Query:
    text = leaf.text.lower()
    if fname == "dfn":
        text = text.lstrip("/")
    stems = {text, stem_word(text)} if fname in analysis.STEMMED and text.isalpha() else {text}
    queries: list[wq.Query] = []
    for stem_text in sorted(stems):
        if searcher is not None:
            count = 0
            for _ in searcher.reader().expand_prefix(fname, stem_text):
                count += 1
                if count > MAX_PREFIX_EXPANSION:
                    raise QueryError(f"{leaf} matches more than {MAX_PREFIX_EXPANSION} different "
                                     "words; type more of the word", max(leaf.position, 0))
        queries.append(wq.Prefix(fname, stem_text))
    return queries[0] if len(queries) == 1 else wq.Or(queries)


def _one_or(queries: list[wq.Query]) -> wq.Query:
    return queries[0] if len(queries) == 1 else wq.Or(queries)


def compile_query(tree: qt.Query, schema: Schema, searcher: Searcher | None = None) -> wq.Query:
    """Our query tree as a Whoosh query (``searcher`` lets prefix expansions be bounded)."""
    if isinstance(tree, qt.Term):
        return _one_or([_words_query(schema, f, tree.text) for f in analysis.SEARCHED[tree.field]])
    if isinstance(tree, qt.Phrase):
        text = " ".join(tree.words)
        return _one_or([_words_query(schema, f, text) for f in analysis.SEARCHED[tree.field]])
    if isinstance(tree, qt.Prefix):
        return _one_or([_prefix_query(searcher, f, tree) for f in analysis.SEARCHED[tree.field]])
    if isinstance(tree, qt.DateRange):
        start = NO_DATE + 1 if tree.start is None else epoch(tree.start)
        end = None if tree.end is None else epoch(tree.end)
        return wq.NumericRange("date", start, end, endexcl=True)
    if isinstance(tree, qt.Flag):
        fname = analysis.FLAG_COLUMNS[tree.name]
        return wq.Term(fname, _analyze(schema, fname, tree.value)[0])
    if isinstance(tree, qt.Not):
        return wq.Not(compile_query(tree.item, schema, searcher))
    if isinstance(tree, qt.Or):
        return wq.Or([compile_query(item, schema, searcher) for item in tree.items])
    # And: Whoosh's AndNot miscounts over several segments (5 instead of 1 on linux-clk for
    # "f:sboyd@kernel.org -is:reply"), its And over a Not matcher does not.
    return wq.And([compile_query(item, schema, searcher) for item in tree.items])


def restrict(searcher: Searcher, q: wq.Query, lists: tuple[str, ...] | None,
             viewer_keys: frozenset[str]) -> tuple[wq.Query, wq.Query | None]:
    """The query narrowed to the lists asked for, and a mask of what the viewer may not see.

    Both are built from the few distinct values the index holds: a list filter that covers
    every indexed list is dropped, and the mask names only the hidden visibility keys (usually
    none). Intersecting with "every public document" instead walked every posting of the index
    for each query (55% of a query's time on a 35k-message archive).
    """
    allowed = {PUBLIC} | set(viewer_keys)
    hidden = [wq.Term("visibility", k) for k in _lexicon(searcher, "visibility")
              if k not in allowed]
    if lists is not None:
        wanted = {name.lower() for name in lists}
        if not set(_lexicon(searcher, "lists")) <= wanted:
            q = wq.And([_one_or([wq.Term("lists", name) for name in sorted(wanted)]), q])
    return q, (_one_or(hidden) if hidden else None)


def _lexicon(searcher: Searcher, field: str) -> list[str]:
    values = searcher.lexicon(field)
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values]
