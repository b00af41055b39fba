"""The one place the site talks to the search engine (``listarchive.search.whooshindex``).

Views ask :func:`run_search` and get records the viewer may see; the query language
(``listarchive.search.query``) and the engine stay behind this module. When the engine is not
installed or the index is missing, :class:`SearchUnavailable` becomes a 503 page.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup
from sqlalchemy.orm import Session

from listarchive.access.visibility import Viewer
from listarchive.archive import messageview
from listarchive.archive.messageview import MessageRecord
from listarchive.settings import Settings


class SearchUnavailable(Exception):
    """Search is switched off or its engine/index cannot be opened."""


@dataclass(frozen=True)
class SearchOutcome:
    total: int
    records: tuple[MessageRecord, ...]
    # Message-ID -> HTML fragment, escaped by the engine with matches in <mark> (pages only).
    snippets: tuple[tuple[str, str], ...] = ()

    def snippet(self, msgid: str) -> Markup:
        return Markup(dict(self.snippets).get(msgid, ""))


def _engine() -> tuple[Any, Any]:
    try:
        search = importlib.import_module("listarchive.search.whooshindex")
        searchquery = importlib.import_module("listarchive.search.query")
    except ImportError as exc:
        raise SearchUnavailable("the search engine is not installed") from exc
    return search, searchquery


def run_search(session: Session, settings: Settings, viewer: Viewer, text: str, list_name: str,
               page: int = 1, per_page: int = 50, snippets: bool = False) -> SearchOutcome:
    """Matches of ``text`` on ``list_name`` (or ``all``), newest first; with ``snippets``, an
    extract of each result's own (unquoted) text around the matched words.

    Raises :class:`~listarchive.errors.QueryError` for a query that cannot be parsed (the
    message says where) and :class:`SearchUnavailable` when there is no engine or index.
    """
    if not settings.search_enabled:
        raise SearchUnavailable("search is switched off in this archive's configuration")
    search, searchquery = _engine()
    query = searchquery.parse_query(text)
    if not settings.index_dir.is_dir():
        raise SearchUnavailable("the search index has not been built yet")
    try:
        index = search.SearchIndex.shared(settings.index_dir)
    except (OSError, ValueError) as exc:
        raise SearchUnavailable("the search index cannot be opened") from exc
    lists = None if list_name == messageview.ALL else (list_name,)
    result = index.search(query, lists=lists, viewer_keys=viewer.search_keys(), sort="date",
                          page=page, per_page=per_page)
    msgids = [hit.msgid for hit in result.hits]
    records = tuple(messageview.records_by_msgid(session, viewer, msgids))
    extracts: list[tuple[str, str]] = []
    if snippets and records:
        bodies = messageview.body_texts(session, records)
        for record in records:
            own = "\n".join(line for line in bodies.get(record.pk, "").splitlines()
                             if not line.lstrip().startswith(">"))
            extracts.append((record.msgid, index.snippet(record.msgid, query, own)))
    return SearchOutcome(int(result.total), records, tuple(extracts))
