"""The Whoosh adapter's schema: the fields an index has, and a
:class:`~listarchive.search.documents.SearchDoc` as the values of those fields.

Only the Message-ID, the date and the excerpt (for snippets) are stored; the date is also a
sortable column, so results in date order are sorted from the column without loading any stored
document, and a result page loads ``per_page`` tiny stored records.
"""

from __future__ import annotations

from typing import Any

from whoosh.fields import ID, KEYWORD, NUMERIC, STORED, TEXT, Schema

from listarchive.search import analysis
from listarchive.search.documents import MAX_FIELD_CHARS, PUBLIC, SearchDoc, date_value
from listarchive.search.whooshanalysis import MailText, path_analyzer


def build_schema() -> Schema:
    """The fields of a new index: the Message-ID, the date and the excerpt are stored."""
    return Schema(
        msgid=ID(stored=True, unique=True),
        thread=ID(),
        date=NUMERIC(numtype=int, bits=64, signed=True, stored=True, sortable=True),
        subject=MailText(stem=True, field_boost=2.0),
        from_addr=MailText(addresses=True),
        to_addr=MailText(addresses=True),
        cc_addr=MailText(addresses=True),
        lists=KEYWORD(lowercase=True),
        nq=MailText(stem=True),
        # No positions on the bulky secondary fields: indexing is a third faster and the index
        # smaller; a phrase there is matched as all of its words (see whooshquery).
        quoted=MailText(stem=True, phrase=False),
        attachments=MailText(phrase=False),
        dfn=TEXT(analyzer=path_analyzer(), phrase=False),
        dfa=MailText(phrase=False),
        dfb=MailText(phrase=False),
        dfhh=MailText(phrase=False),
        patchid=ID(),
        subsystems=KEYWORD(commas=True, lowercase=True),
        state=ID(),
        kinds=KEYWORD(lowercase=True),
        trailers=KEYWORD(lowercase=True),
        checks=KEYWORD(lowercase=True),
        visibility=ID(),
        excerpt=STORED(),  # kept for snippets, not searched
    )


def fields(doc: SearchDoc) -> dict[str, Any]:
    """The field values Whoosh indexes for one message (empty optional fields left out)."""

    def cap(text: str) -> str:
        return text[:MAX_FIELD_CHARS]

    out: dict[str, Any] = {
        "msgid": doc.msgid, "subject": cap(doc.subject), "from_addr": cap(doc.from_),
        "to_addr": cap(doc.to), "cc_addr": cap(doc.cc), "nq": cap(doc.body),
        "quoted": cap(doc.quoted), "visibility": doc.visibility or PUBLIC,
        "excerpt": doc.excerpt,
    }
    optional: dict[str, str] = {
        "thread": doc.thread_root,
        "lists": " ".join(doc.lists),
        "attachments": cap("\n".join(doc.attachments)),
        "dfn": cap("\n".join(doc.diff_files)),
        "dfa": cap(doc.removed), "dfb": cap(doc.added), "dfhh": cap(doc.hunk_headers),
        "patchid": doc.patch_id.lower(),
        "subsystems": ",".join(analysis.facet_value(s) for s in doc.subsystems),
        "state": doc.state.lower(),
        "kinds": " ".join(doc.kinds),
        "trailers": " ".join(doc.trailers),
        "checks": " ".join(doc.checks),
    }
    out.update({k: v for k, v in optional.items() if v})
    out["date"] = date_value(doc.date)
    return out
