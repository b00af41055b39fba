"""Patchwork's events, derived from what the archive already keeps (no table of their own):
``patch-created`` and ``cover-created`` from stored patches, ``series-created`` and
``series-completed`` from series (dated by the arrival of their anchor, and of their last
patch), ``patch-state-changed`` and ``patch-delegated`` from the history, ``check-created``
from checks.

Each event has a stable id, ``8 * object id + category code`` (the object is a message, a
history entry or a check), and is ordered newest first by (date, id). Pages are cut by that key
(:class:`Cursor`), not by an offset, so events arriving between two requests never push an
event onto the next page a second time. Events about messages the viewer may not see are left
out, like the messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, literal, or_, select
from sqlalchemy.orm import Session

from listarchive.access.visibility import Viewer, visible_id
from listarchive.archive.models import Check, Message, MessageList, Patch, Series, StateChange

CATEGORIES: dict[str, int] = {
    "patch-created": 1, "cover-created": 2, "series-created": 3, "series-completed": 4,
    "patch-state-changed": 5, "patch-delegated": 6, "check-created": 7}
MAX_PER_PAGE = 200


@dataclass(frozen=True)
class Cursor:
    """Where the previous page ended: events strictly older than (date, id) come next."""

    date: datetime
    id: int

    def __str__(self) -> str:
        return f"{self.date:%Y%m%d%H%M%S%f}-{self.id}"

    @staticmethod
    def parse(text: str) -> Cursor | None:
        stamp, _, ident = text.partition("-")
        try:
            return Cursor(datetime.strptime(stamp, "%Y%m%d%H%M%S%f"), int(ident))
        except ValueError:
            return None


@dataclass(frozen=True)
class Event:
    id: int
    category: str
    date: datetime
    message_id: int  # the patch, cover or series (its anchor message) the event is about
    previous: str = ""  # a state or delegate before (state-changed, delegated)
    current: str = ""
    actor_id: int | None = None
    check_id: int | None = None


@dataclass(frozen=True)
class EventQuery:
    categories: tuple[str, ...] = ()
    project_id: int | None = None
    since: datetime | None = None
    cursor: Cursor | None = None
    per_page: int = 30


def _sources(query: EventQuery) -> list[tuple[str, Any]]:
    """(category, select of id, date, message pk, previous, current, actor, check id)."""
    arrived = Message.ingested_at
    completed = (select(Patch.series_id.label("sid"), func.max(Message.ingested_at).label("at"))
                 .join(Message, Message.id == Patch.id).where(Patch.series_id.is_not(None))
                 .group_by(Patch.series_id).subquery())
    none = literal("")
    out: list[tuple[str, Any]] = [
        ("patch-created", select(Patch.id * 8 + 1, arrived, Patch.id, none, none,
                                 literal(None), literal(None))
         .join(Message, Message.id == Patch.id).where(Patch.kind.in_(("patch", "pull")))),
        ("cover-created", select(Patch.id * 8 + 2, arrived, Patch.id, none, none,
                                 literal(None), literal(None))
         .join(Message, Message.id == Patch.id).where(Patch.kind == "cover")),
        ("series-created", select(Series.id * 8 + 3, arrived, Series.id, none, none,
                                  literal(None), literal(None))
         .join(Message, Message.id == Series.id)),
        ("series-completed", select(Series.id * 8 + 4, completed.c.at, Series.id, none, none,
                                    literal(None), literal(None))
         .join(completed, completed.c.sid == Series.id).where(Series.complete.is_(True))),
        ("patch-state-changed", select(StateChange.id * 8 + 5, StateChange.at,
                                       StateChange.object_id, StateChange.from_value,
                                       StateChange.to_value, StateChange.user_id,
                                       literal(None))
         .where(StateChange.object_kind == "patch", StateChange.field == "state")),
        ("patch-delegated", select(StateChange.id * 8 + 6, StateChange.at,
                                   StateChange.object_id, StateChange.from_value,
                                   StateChange.to_value, StateChange.user_id, literal(None))
         .where(StateChange.object_kind == "patch", StateChange.field == "delegate")),
        ("check-created", select(Check.id * 8 + 7, Check.created, Check.patch_id, none,
                                 Check.state, Check.user_id, Check.id)),
    ]
    return [(name, sel) for name, sel in out
            if not query.categories or name in query.categories]


def events(session: Session, viewer: Viewer, query: EventQuery) -> tuple[list[Event], bool]:
    """One page of events, newest first, and whether another follows."""
    per_page = max(1, min(query.per_page, MAX_PER_PAGE))
    found: list[Event] = []
    for name, sel in _sources(query):
        cols = sel.selected_columns
        ident, date, pk = cols[0], cols[1], cols[2]
        sel = sel.where(date.is_not(None), visible_id(viewer, pk))
        if query.project_id is not None:
            sel = sel.where(pk.in_(select(MessageList.message_id)
                                   .where(MessageList.list_id == query.project_id)))
        if query.since is not None:
            sel = sel.where(date >= query.since)
        if query.cursor is not None:
            c = query.cursor
            sel = sel.where(or_(date < c.date, and_(date == c.date, ident < c.id)))
        sel = sel.order_by(date.desc(), ident.desc()).limit(per_page + 1)
        found.extend(Event(int(row[0]), name, row[1], int(row[2]), str(row[3] or ""),
                           str(row[4] or ""), row[5], row[6]) for row in session.execute(sel))
    found.sort(key=lambda e: (e.date, e.id), reverse=True)
    return found[:per_page], len(found) > per_page


def projects_of(session: Session, pks: Sequence[int]) -> dict[int, int]:
    """Message pk -> the lowest id of the lists it was seen on (the event's project)."""
    out: dict[int, int] = {}
    if pks:
        for mid, lid in session.execute(select(MessageList.message_id, MessageList.list_id)
                                        .where(MessageList.message_id.in_(sorted(set(pks))))
                                        .order_by(MessageList.list_id)):
            out.setdefault(mid, lid)
    return out
