"""Atom documents (RFC 4287) for ``new.atom``, ``t.atom`` and search feeds.

Built with ElementTree rather than a template so that the XML is well-formed whatever the mail
holds; characters XML 1.0 forbids (NUL, most C0 controls, lone surrogates, seen in mail with a
wrong charset) are dropped first, or feed readers reject the whole feed.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from listarchive.archive.records import MessageRecord
from listarchive.clock import iso
from listarchive.mail.message import ParsedMessage

ATOM_NS = "http://www.w3.org/2005/Atom"
MAX_CONTENT = 20_000
_NOT_XML_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class Entry:
    record: MessageRecord
    parsed: ParsedMessage | None
    url: str


@dataclass(frozen=True)
class Item:
    """An entry that is not one message: a state change, a comment, a new revision."""

    title: str
    url: str  # absolute; also the entry's id, with ``key`` appended
    updated: datetime | None
    author: str
    content: str
    key: str = ""


def xml_text(text: str) -> str:
    return _NOT_XML_RE.sub("", text)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrs)
    if text is not None:
        el.text = xml_text(text)
    return el


def atom(title: str, self_url: str, alt_url: str, entries: Sequence[Entry],
         updated: datetime | None) -> bytes:
    """The feed; ``id`` of feed and entries are their absolute page URLs (as lore does)."""
    feed = ET.Element("feed", {"xmlns": ATOM_NS})
    _sub(feed, "title", title)
    _sub(feed, "link", rel="alternate", type="text/html", href=alt_url)
    _sub(feed, "link", rel="self", type="application/atom+xml", href=self_url)
    _sub(feed, "id", alt_url)
    stamp = updated or max((e.record.sort_date for e in entries if e.record.sort_date),
                           default=None)
    _sub(feed, "updated", iso(stamp) or "1970-01-01T00:00:00Z")
    _sub(feed, "generator", "listarchive")
    for entry in entries:
        rec = entry.record
        item = _sub(feed, "entry")
        author = _sub(item, "author")
        _sub(author, "name", rec.from_name or rec.from_email or "unknown")
        if rec.from_email:
            _sub(author, "email", rec.from_email)
        _sub(item, "title", rec.subject or "(no subject)")
        _sub(item, "updated", iso(rec.sort_date) or iso(rec.ingested_at) or "")
        _sub(item, "link", rel="alternate", type="text/html", href=entry.url)
        _sub(item, "id", entry.url)
        if entry.parsed is not None:
            body = entry.parsed.body
            if len(body) > MAX_CONTENT:
                body = body[:MAX_CONTENT] + "\n[... truncated]"
            _sub(item, "content", body, type="text")
    xml: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return xml


def atom_items(title: str, self_url: str, alt_url: str, items: Sequence[Item]) -> bytes:
    """A feed of :class:`Item` entries, newest first (series and subsystem feeds)."""
    feed = ET.Element("feed", {"xmlns": ATOM_NS})
    _sub(feed, "title", title)
    _sub(feed, "link", rel="alternate", type="text/html", href=alt_url)
    _sub(feed, "link", rel="self", type="application/atom+xml", href=self_url)
    _sub(feed, "id", alt_url)
    ordered = sorted(items, key=lambda i: i.updated or datetime.min, reverse=True)
    _sub(feed, "updated", iso(ordered[0].updated if ordered else None) or "1970-01-01T00:00:00Z")
    _sub(feed, "generator", "listarchive")
    for item in ordered:
        entry = _sub(feed, "entry")
        _sub(_sub(entry, "author"), "name", item.author or "listarchive")
        _sub(entry, "title", item.title or "(no title)")
        _sub(entry, "updated", iso(item.updated) or "1970-01-01T00:00:00Z")
        _sub(entry, "link", rel="alternate", type="text/html", href=item.url)
        _sub(entry, "id", item.url + item.key)
        if item.content:
            _sub(entry, "content", item.content[:MAX_CONTENT], type="text")
    xml: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return xml
