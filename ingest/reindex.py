"""``listarchive reindex``: rebuild every derived fact from the stored raw messages.

Messages are re-derived in a fixed order (by primary key) and threading is order-independent, so
the result equals what any arrival order would have given. A reindex stopped half-way leaves
an archive that the next reindex completes.
"""

from __future__ import annotations

import time

from sqlalchemy import select

from ingest import messagestore, seriesstore
from ingest.worker import Summary, Worker
from listarchive.access.embargorules import reset_replies
from listarchive.archive import rawstore
from listarchive.archive.models import Message
from listarchive.clock import utcnow
from listarchive.mail.message import parse
from listarchive.review import placement
from listarchive.search.indexer import rebuild
from listarchive.settings import Settings

CHUNK = 1000


def reindex(settings: Settings) -> Summary:
    started = time.monotonic()
    summary = Summary()
    worker = Worker(settings)
    now = utcnow()
    with worker.sessions.begin() as session:
        messagestore.reset_derived(session)
        seriesstore.reset(session)
        reset_replies(session)
        placement.reset(session)
    # One transaction per chunk: deliveries arriving meanwhile wait for a chunk, not for the
    # whole rebuild (tens of minutes on a large archive). Threading is order-independent, so
    # whatever they store in between ends in the same threads.
    last = 0
    while True:
        with worker.sessions.begin() as session:
            rows = session.execute(select(Message.id, Message.msgid, Message.raw)
                                   .where(Message.id > last).order_by(Message.id)
                                   .limit(CHUNK)).all()
            if not rows:
                break
            last = rows[-1].id
            facts = []
            items = []
            for row in rows:
                parsed = parse(rawstore.unpack(row.raw), now=now)
                messagestore.rederive(session, row.id, parsed)
                facts.append((row.id, row.msgid, list(parsed.references)))
                items.append((row.id, row.msgid, parsed))
            touched = messagestore.link_threads(session, facts)
            messagestore.refresh_threads(session, touched)
            worker.derive(session, items, touched)
        summary.read += len(rows)
    with worker.sessions.begin() as session:
        placement.place_everywhere(session)
    rebuild(settings, worker.sessions)
    worker.totals(summary)
    summary.seconds = time.monotonic() - started
    return summary
