"""The tantivy adapter's analysis: :mod:`listarchive.search.analysis`'s rules as tantivy's own
analyzers, so Python never touches a word of the body while indexing.

Mail and code text is indexed as its ``\\w`` runs, with positions, lower-cased (prose columns
also stemmed, English); a word typed with joiners (``v6.1-rc3``, ``john.smith@kernel.org``,
``drivers/clk``) is looked up as the phrase of its pieces (:mod:`~listarchive.search.tantivyquery`),
so the whole finds exactly what it names and each piece (``rc3``, ``kernel.org``) finds it too,
as the analysis promises. Each index registers :data:`ANALYZERS` under their names when it is
opened; the schema names them per column (:data:`TEXT_COLUMNS`).
"""

from __future__ import annotations

from functools import lru_cache

import tantivy

from listarchive.search import analysis

PROSE = "mail_prose"
CODE = "mail_code"
RAW = "raw"  # tantivy's own: the whole value is one term (exact columns)

# Column -> its analyzer; positions unless listed in analysis.UNPOSITIONED.
TEXT_COLUMNS = {
    "subject": PROSE, "nq": PROSE, "quoted": PROSE,
    "from_addr": CODE, "to_addr": CODE, "cc_addr": CODE,
    "attachments": CODE, "dfa": CODE, "dfb": CODE, "dfhh": CODE,
}


def _analyzer(stem: bool) -> tantivy.TextAnalyzer:
    builder = (tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.regex(r"\w+"))
               .filter(tantivy.Filter.remove_long(analysis.MAX_WORD_CHARS + 1))
               .filter(tantivy.Filter.lowercase()))
    if stem:
        builder = builder.filter(tantivy.Filter.stemmer("english"))
    return builder.build()


ANALYZERS = {PROSE: _analyzer(stem=True), CODE: _analyzer(stem=False)}


@lru_cache(maxsize=100_000)
def stem_word(word: str) -> str:
    """The prose analyzer's stem of one word (snippets mark what the index matched)."""
    found = ANALYZERS[PROSE].analyze(word)
    return found[0] if len(found) == 1 else word


def is_prose(column: str) -> bool:
    return TEXT_COLUMNS[column] == PROSE


def words(column: str, text: str) -> list[str]:
    """The terms ``text`` gives in a text column, as that column's analyzer cuts them."""
    return list(ANALYZERS[TEXT_COLUMNS[column]].analyze(text))


def pieces(text: str) -> list[str]:
    """The ``\\w`` runs of ``text``, lower-cased, unstemmed (``v6.1-rc`` -> ``v6``, ``1``,
    ``rc``)."""
    return list(ANALYZERS[CODE].analyze(text))
