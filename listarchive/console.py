"""Terminal output of ``listarchive search`` and ``listarchive show``.

The JSON printed is exactly the API's (``/api/v1/search`` without ``next``,
``/api/v1/messages/MSGID``): both are built by :mod:`listarchive.apijson`. The command line reads
as an anonymous visitor: restricted mail is not shown to whoever can run the command.
"""

from __future__ import annotations

import json

from listarchive import apijson
from listarchive.access.visibility import ANONYMOUS
from listarchive.archive import listview, messageview
from listarchive.archive.db import open_archive
from listarchive.errors import ListarchiveError
from listarchive.search import engine
from listarchive.search.queryparser import parse_query
from listarchive.settings import Settings

EX_OK, EX_NOTFOUND = 0, 1
PAGE = 200


def search_command(settings: Settings, words: list[str], list_name: str | None, limit: int,
                   as_json: bool) -> int:
    query = parse_query(" ".join(words))
    if not settings.search_enabled:
        raise ListarchiveError("search is switched off (search.enabled = false)")
    index = engine.open_reader(settings)
    sessions = open_archive(settings).sessions
    lists = None if list_name in (None, listview.ALL) else (list_name,)
    msgids: list[str] = []
    total = 0
    page = 1
    while True:
        per_page = PAGE if limit == 0 else min(PAGE, limit - len(msgids))
        result = index.search(query, lists=lists, viewer_keys=ANONYMOUS.search_keys(),
                              sort="date", page=page, per_page=per_page)
        total = int(result.total)
        msgids.extend(hit.msgid for hit in result.hits)
        if not result.hits or len(msgids) >= total or (limit and len(msgids) >= limit):
            break
        page += 1
    with sessions() as session:
        records = messageview.records_by_msgid(session, ANONYMOUS, msgids)
        if as_json:
            print(json.dumps({"total": total,
                              "results": [apijson.summary_json(r) for r in records]},
                             ensure_ascii=False))
            return EX_OK
        for r in records:
            date = r.date.strftime("%Y-%m-%d %H:%M") if r.date else "????-??-?? ??:??"
            print(f"{date}  {r.from_name or r.from_email:<24.24}  {r.subject}\n"
                  f"{'':18}<{r.msgid}>")
        print(f"{total} match{'es' if total != 1 else ''}"
              + (f", {len(records)} shown" if len(records) < total else ""))
    return EX_OK


def show_command(settings: Settings, msgid: str, as_json: bool) -> int:
    msgid = msgid.strip()
    if msgid.startswith("<") and msgid.endswith(">"):
        msgid = msgid[1:-1]
    sessions = open_archive(settings).sessions
    with sessions() as session:
        obj = apijson.message_json(session, ANONYMOUS, msgid)
        if obj is None:
            print(f"listarchive: no message <{msgid}> in this archive")
            return EX_NOTFOUND
        if as_json:
            print(json.dumps(obj, ensure_ascii=False))
            return EX_OK
        raw = messageview.raw_message(session, ANONYMOUS, msgid) or b""
    print(f"Message-ID: <{obj['message_id']}>\nLists: {', '.join(obj['lists'])}\n"
          f"Thread: <{obj['thread']}>")
    if obj["series"]:
        s = obj["series"]
        print(f"Series: {s['id']} v{s['version']} {s['number']}/{s['total']}")
    print()
    print(raw.decode("utf-8", "replace"))
    return EX_OK
