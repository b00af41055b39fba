"""The audit log of restricted threads: one entry per message whose visibility changed (who or
which rule restricted, disclosed or un-published it, who was allowed), and every signed-in view
of an embargoed message. Written by :mod:`listarchive.access.embargo` and
:mod:`listarchive.access.embargorules`; read by ``listarchive audit`` and the admins' page. The
search indexer follows it to refresh what the ingest hid.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from listarchive.archive.models import AuditEvent
from listarchive.clock import utcnow

ACTIONS = ("viewed", "restricted", "disclosed", "unpublished", "allowed")


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor: str
    action: str
    target_msgid: str
    embargo_id: int | None
    detail: str


def record(session: Session, actor: str, action: str, msgid: str, embargo_id: int | None,
           detail: str = "", now: datetime | None = None) -> None:
    """One entry: ``actor`` (a user name, ``console``, ``expiry`` or a rule) did ``action``
    (one of :data:`ACTIONS`) to ``msgid``."""
    session.add(AuditEvent(actor=actor[:64], action=action, target_msgid=msgid,
                           embargo_id=embargo_id, at=now or utcnow(), detail=detail))


def record_each(session: Session, actor: str, action: str, embargo_id: int,
                msgids: Iterable[str], detail: str, now: datetime) -> None:
    """One entry per message whose visibility changed."""
    for msgid in msgids:
        record(session, actor, action, msgid, embargo_id, detail, now)


def audit_log(session: Session, limit: int = 50) -> list[AuditEntry]:
    """The newest audit entries first (``listarchive audit``, the admins' page)."""
    query = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    if limit > 0:
        query = query.limit(limit)
    return [AuditEntry(e.at, e.actor, e.action, e.target_msgid, e.embargo_id, e.detail)
            for e in session.scalars(query)]
