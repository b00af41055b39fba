"""Followed searches: new messages matching a reader's saved query, one mail per look.

A followed search's target is ``LIST/QUERY`` (``all/`` for every list), as its page was
``/LIST/?q=QUERY``. At each look the query runs once per follower, as that follower (the index
hands back only what their viewer may read), newest first and bounded (:data:`PER_LOOK`); the
hits among the messages that arrived since the last look are mailed. A message arriving with an
old date may fall outside the newest :data:`PER_LOOK` hits and is then not mailed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from listarchive.access.visibility import Viewer
from listarchive.archive.models import Follow
from listarchive.errors import QueryError, SearchUnavailable
from listarchive.mail.msgids import quote_msgid
from listarchive.notify.letters import follow_letter
from listarchive.notify.outbox import Queued
from listarchive.search.searcher import run_search
from listarchive.settings import Settings

logger = logging.getLogger(__name__)

PER_LOOK = 200  # hits read per followed search and look
SHOWN = 50  # messages listed in one mail


def split_target(target: str) -> tuple[str, str]:
    """``clk/s:fix`` -> (``clk``, ``s:fix``)."""
    list_name, _, query = target.partition("/")
    return list_name or "all", query


def search_mails(session: Session, settings: Settings, viewer: Viewer, address: str,
                 follow: Follow, new_messages: Sequence[int], now: datetime) -> list[Queued]:
    if not settings.search_enabled:
        return []
    list_name, query = split_target(follow.target)
    try:
        found = run_search(session, settings, viewer, query, list_name, per_page=PER_LOOK)
    except (QueryError, SearchUnavailable) as exc:
        logger.warning("followed search %r not run: %s", follow.target, exc)
        return []
    lowest, highest = min(new_messages), max(new_messages)
    hits = [r for r in found.records if lowest <= r.pk <= highest]
    if not hits:
        return []
    base = settings.base_url or f"http://{settings.host}:{settings.port}"
    lines = [f"{len(hits)} new message(s) match \"{query}\" on {list_name}:", ""]
    for record in hits[:SHOWN]:
        lines += [f"  {record.subject}", f"    {record.from_name or record.from_email}",
                  f"    {base}/r/{quote_msgid(record.msgid)}", ""]
    if len(hits) > SHOWN:
        lines.append(f"  ... and {len(hits) - SHOWN} more")
    raw = follow_letter(settings.notify.sender, address, f"New mail matching: {query}",
                        tuple(lines), f"the search \"{query}\" on {list_name}", now)
    key = f"search:{follow.id}:{highest}>{address}"
    return [Queued(key, address, raw)]
