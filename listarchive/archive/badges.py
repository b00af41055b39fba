"""What a list index and a message page say about a message that is a patch, a cover letter or
a pull request: its kind, its place in its series, the series' title and revision."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from listarchive.archive.batches import in_list, rows_in
from listarchive.archive.models import Patch, Series


@dataclass(frozen=True)
class MessageBadge:
    patch_id: int
    kind: str
    counter: int
    total: int
    series_id: int | None
    series_title: str
    revision: int


# A badge's columns, read with the message it is about (patches and series joined outer on it).
COLUMNS = (Patch.id, Patch.kind, Patch.counter, Patch.total, Patch.title, Patch.revision,
           Series.id, Series.total, Series.title, Series.revision)


def badge_of(row: Sequence[Any]) -> MessageBadge | None:
    """The badge in a row of :data:`COLUMNS`; ``None`` for a message that is not a patch."""
    pid, kind, counter, total, title, revision, sid, series_total, series_title, \
        series_revision = row
    if pid is None:
        return None
    if sid is None:
        return MessageBadge(pid, kind, counter, total, None, title, revision)
    return MessageBadge(pid, kind, counter, series_total, sid, series_title, series_revision)


# The statement of :func:`message_badges`, built once, of columns only: loading whole patch and
# series objects was most of its time on a message page.
_BADGES = (select(Patch.msgid, *COLUMNS)
           .outerjoin(Series, Series.id == Patch.series_id)
           .where(Patch.msgid.in_(in_list())))


def message_badges(session: Session, shown: Sequence[str]) -> dict[str, MessageBadge]:
    """The badges of those messages that are patches, by Message-ID: the page's own messages,
    which the page read through its viewer's visibility (checking them again cost PostgreSQL
    more to plan than to run)."""
    out: dict[str, MessageBadge] = {}
    for msgid, *row in rows_in(session, _BADGES, shown):
        badge = badge_of(row)
        if badge is not None:
            out[msgid] = badge
    return out
