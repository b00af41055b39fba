"""The tantivy adapter's schema: the columns an index has, and a
:class:`~listarchive.search.documents.SearchDoc` as the values of those columns.

Text columns are cut by :mod:`~listarchive.search.tantivyanalysis`'s analyzers; bulky secondary
columns keep no positions (:data:`analysis.UNPOSITIONED`): a phrase there is all of its words. A
diff's files are indexed as :func:`analysis.path_terms` gives them, one exact term each; facets,
Message-IDs and patch-ids as exact terms. The date is a fast column, and so is the newest-first
sort key (:func:`_order`): pages are sorted from it without scoring, and only the Message-IDs and
excerpts (for snippets) of the page shown are read from the document store.
"""

from __future__ import annotations

import zlib
from typing import Any

import tantivy

from listarchive.search import analysis
from listarchive.search.documents import MAX_FIELD_CHARS, PUBLIC, SearchDoc, date_value
from listarchive.search.tantivyanalysis import RAW, TEXT_COLUMNS

_EXACT_COLUMNS = ("dfn", "patchid", "lists", "subsystems", "state", "kinds", "trailers",
                 "checks", "visibility")
_TIE_BITS = 22
_ORDER_SPAN = 1 << 40  # seconds either side of 1970; an undated message sorts last


def build_schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("msgid", stored=True, tokenizer_name=RAW, index_option="basic")
    builder.add_integer_field("date", indexed=True, fast=True)
    builder.add_integer_field("order", fast=True)  # date, then a tie-break: see _order
    builder.add_bytes_field("excerpt", stored=True)  # kept for snippets, not searched
    for column, analyzer in TEXT_COLUMNS.items():
        option = "freq" if column in analysis.UNPOSITIONED else "position"
        builder.add_text_field(column, tokenizer_name=analyzer, index_option=option)
    for column in _EXACT_COLUMNS:
        builder.add_text_field(column, tokenizer_name=RAW, index_option="basic")
    return builder.build()


def _order(doc: SearchDoc) -> int:
    """The newest-first sort key: the date in seconds, then a hash of the Message-ID, so that
    mail of the same second comes in one order in every index of the same mail, however its
    segments were written and merged (sorting by the date alone left ties in segment order)."""
    seconds = max(min(date_value(doc.date), _ORDER_SPAN), -_ORDER_SPAN)
    return (seconds << _TIE_BITS) | (zlib.crc32(doc.msgid.encode()) & ((1 << _TIE_BITS) - 1))


def fields(doc: SearchDoc) -> dict[str, Any]:
    """The column values tantivy indexes for one message (empty columns left out)."""

    def cap(text: str) -> str:
        return text[:MAX_FIELD_CHARS]

    out: dict[str, Any] = {
        "msgid": doc.msgid, "date": date_value(doc.date), "order": _order(doc),
        "visibility": doc.visibility or PUBLIC,
    }
    text = {
        "subject": doc.subject, "from_addr": doc.from_, "to_addr": doc.to, "cc_addr": doc.cc,
        "nq": doc.body, "quoted": doc.quoted, "attachments": "\n".join(doc.attachments),
        "dfa": doc.removed, "dfb": doc.added, "dfhh": doc.hunk_headers,
    }
    out.update((k, cap(v)) for k, v in text.items() if v)
    exact: dict[str, list[str]] = {
        "dfn": analysis.path_terms(doc.diff_files[:10_000]),
        "patchid": [doc.patch_id.lower()] if doc.patch_id else [],
        "lists": [analysis.facet_value(v) for v in doc.lists],
        "subsystems": [analysis.facet_value(v) for v in doc.subsystems],
        "state": [doc.state.lower()] if doc.state else [],
        "kinds": [analysis.facet_value(v) for v in doc.kinds],
        "trailers": [analysis.facet_value(v) for v in doc.trailers],
        "checks": [analysis.facet_value(v) for v in doc.checks],
    }
    out.update((k, v) for k, v in exact.items() if v)
    if doc.excerpt:
        out["excerpt"] = doc.excerpt.encode("utf-8", "surrogatepass")
    return out
