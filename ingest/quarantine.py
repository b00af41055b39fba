"""Quarantined messages: listed for an operator, retried after a parser fix."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from ingest import messagestore
from ingest.prepare import prepare
from ingest.rawmail import RawMail
from ingest.worker import Summary, Worker
from listarchive.archive import rawstore
from listarchive.archive.models import Quarantined
from listarchive.clock import utcnow
from listarchive.settings import Settings


@dataclass(frozen=True)
class QuarantineRow:
    id: int
    created_at: datetime
    raw_size: int
    reason: str
    source: str


def list_quarantined(settings: Settings) -> list[QuarantineRow]:
    worker = Worker(settings)
    with worker.sessions() as session:
        rows = session.execute(select(Quarantined.id, Quarantined.created_at, Quarantined.raw_size,
                                      Quarantined.reason, Quarantined.source)
                               .order_by(Quarantined.id))
        return [QuarantineRow(row.id, row.created_at, row.raw_size, row.reason, row.source)
                for row in rows]


def retry_quarantined(settings: Settings, ids: list[int] | None = None) -> tuple[int, int]:
    """Parse each quarantined message again; those that now parse are stored and released."""
    released = still = 0
    now = utcnow()
    with Worker(settings).sessions() as session:
        query = select(Quarantined.id, Quarantined.raw, Quarantined.source, Quarantined.list_name)
        if ids:
            query = query.where(Quarantined.id.in_(ids))
        rows = session.execute(query.order_by(Quarantined.id)).all()
    for qid, blob, source, list_name in rows:
        mail = RawMail(rawstore.unpack(blob), source, "")
        if prepare(mail, settings, now).parsed is None:
            still += 1
            continue
        worker = Worker(settings, list_name or None)
        worker.store([mail], Summary())
        with worker.sessions.begin() as session:
            messagestore.release_quarantined(session, qid)
        released += 1
    return released, still
