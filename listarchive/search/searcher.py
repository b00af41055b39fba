"""The read side of search: what the site, the API and the command line ask.

:func:`run_search` parses the query (:mod:`listarchive.search.queryparser`), asks the index with the
viewer's access keys and returns the records the viewer may see, with snippets when asked; which
engine answers is :mod:`listarchive.search.engine`'s business. The write side, which keeps the
index following the database, is :mod:`listarchive.search.indexer`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from sqlalchemy.orm import Session

from listarchive.access.visibility import Viewer
from listarchive.archive import bodies, listview, messageview
from listarchive.archive.records import MessageRecord
from listarchive.errors import SearchUnavailable
from listarchive.mail.quotes import split_quoted
from listarchive.search import engine
from listarchive.search.queryparser import parse_query
from listarchive.settings import Settings


@dataclass(frozen=True)
class SearchOutcome:
    total: int
    records: tuple[MessageRecord, ...]
    # Message-ID -> HTML fragment, escaped by the engine with matches in <mark> (pages only).
    snippets: tuple[tuple[str, str], ...] = ()
    # Whether the list searched is one the viewer may browse (a search URL answers 404 if not;
    # no records then).
    list_found: bool = True

    @cached_property
    def _snippet_of(self) -> dict[str, str]:
        return dict(self.snippets)

    def snippet(self, msgid: str) -> str:
        return self._snippet_of.get(msgid, "")


def run_search(session: Session, settings: Settings, viewer: Viewer, text: str, list_name: str,
               page: int = 1, per_page: int = 50, snippets: bool = False) -> SearchOutcome:
    """Matches of ``text`` on ``list_name`` (or ``all``), newest first; with ``snippets``, an
    extract of each result's own (unquoted) text around the matched words. When the viewer may
    not browse ``list_name`` (no such list, or a restricted one), no matches and ``list_found``
    false.

    Raises :class:`~listarchive.errors.QueryError` for a query that cannot be parsed (the
    message says where) and :class:`SearchUnavailable` when there is no index to answer (none,
    another engine's, one being built: the message says what to run).
    """
    if not settings.search_enabled:
        raise SearchUnavailable("search is switched off in this archive's configuration")
    query = parse_query(text)
    index = engine.open_reader(settings)
    lists = None if list_name == listview.ALL else (list_name,)
    result = index.search(query, lists=lists, viewer_keys=viewer.search_keys(), sort="date",
                          page=page, per_page=per_page)
    # The records, and the list of the URL checked in the same statement.
    browsable, listed = messageview.records_on(session, viewer,
                                               [hit.msgid for hit in result.hits], list_name)
    if not browsable:
        return SearchOutcome(0, (), list_found=False)
    records = tuple(listed)
    extracts: list[tuple[str, str]] = []
    if snippets and records:
        # The index keeps the start of each message's own text; only an index written
        # without it sends us back to the raw mail (decompressing and reading 50 bodies
        # was two thirds of a result page's time).
        texts = {hit.msgid: hit.excerpt for hit in result.hits if hit.excerpt is not None}
        missing = [record for record in records if record.msgid not in texts]
        if missing:
            found = bodies.body_texts(session, missing)
            texts.update((r.msgid, split_quoted(found.get(r.pk, ""))[0]) for r in missing)
        extracts = [(r.msgid, index.snippet(r.msgid, query, texts[r.msgid])) for r in records]
    return SearchOutcome(int(result.total), records, snippets=tuple(extracts))
