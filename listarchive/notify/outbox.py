"""The outbox: notification mails queued in the database, delivered through the SMTP relay.

Queuing is idempotent: every mail has a ``key`` naming its event and recipient (unique in the
schema), so the same notification is never queued twice, whichever process noticed it.

Delivery never happens inside a web request: after each ingest run, after ``git-scan``, in
``listarchive watch`` and from ``listarchive outbox retry``. Each due mail is first claimed (its
``next_try`` moved past a lease in a conditional UPDATE, committed), then handed to the relay,
then marked sent; so two senders at once never both take one mail. A relay that is down or
refuses costs the mail an attempt and backs it off exponentially (1, 2, 4... minutes, at most
six hours); after ``[notify] max_attempts`` the mail is given up (listed as failed) until a
person runs ``listarchive outbox retry``. A sender that dies between the relay's answer and the
mark may send that one mail again after the lease: the relay's answer and our commit cannot be
one transaction.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from listarchive.archive.batches import chunked
from listarchive.archive.models import OutboxMail
from listarchive.clock import utcnow
from listarchive.settings import NotifyConfig

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)  # how long a claimed mail is left to its sender
FIRST_DELAY = timedelta(minutes=1)
MAX_DELAY = timedelta(hours=6)
BATCH = 200  # mails claimed per round


@dataclass(frozen=True)
class Queued:
    key: str
    recipient: str
    raw: bytes


@dataclass(frozen=True)
class Delivery:
    sent: int
    failed: int  # attempts that failed in this run


@dataclass(frozen=True)
class Waiting:
    """A mail not yet taken by the relay, as ``listarchive outbox list`` shows it."""

    id: int
    key: str
    recipient: str
    subject: str
    attempts: int
    next_try: datetime
    last_error: str
    given_up: bool


def enqueue(session: Session, mails: Iterable[Queued], now: datetime | None = None) -> int:
    """Add the mails whose key is not queued yet; how many were added. The caller holds the
    writers' lock (two noticers never race on one key) and commits."""
    now = now or utcnow()
    todo = {m.key: m for m in mails}
    for part in chunked(list(todo)):
        for key in session.scalars(select(OutboxMail.key).where(OutboxMail.key.in_(part))):
            todo.pop(key, None)
    for mail in todo.values():
        session.add(OutboxMail(key=mail.key, recipient=mail.recipient, raw=mail.raw,
                               created=now, attempts=0, next_try=now, last_error=""))
    session.flush()
    return len(todo)


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed try: 1, 2, 4... minutes, at most 6 hours."""
    return min(FIRST_DELAY * (2 ** max(attempts - 1, 0)), MAX_DELAY)


def waiting(session: Session, config: NotifyConfig, limit: int = 200) -> list[Waiting]:
    """Mails not yet sent (pending and given up), the next due first."""
    rows = session.scalars(select(OutboxMail).where(OutboxMail.sent_at.is_(None))
                           .order_by(OutboxMail.next_try, OutboxMail.id).limit(limit))
    out = []
    for row in rows:
        head = row.raw.split(b"\n\n", 1)[0].decode("utf-8", "replace")
        subject = next((line[9:].strip() for line in head.splitlines()
                        if line.lower().startswith("subject: ")), "")
        out.append(Waiting(row.id, row.key, row.recipient, subject, row.attempts, row.next_try,
                           row.last_error, row.attempts >= config.max_attempts))
    return out


def _claim(sessions: sessionmaker[Session], now: datetime, config: NotifyConfig,
           everything: bool) -> list[tuple[int, str, bytes, int]]:
    """Due mails, each taken from other senders for :data:`LEASE`."""
    with sessions.begin() as session:
        query = (select(OutboxMail.id, OutboxMail.next_try)
                 .where(OutboxMail.sent_at.is_(None), OutboxMail.next_try <= now)
                 .order_by(OutboxMail.next_try, OutboxMail.id).limit(BATCH))
        if not everything:
            query = query.where(OutboxMail.attempts < config.max_attempts)
        due = session.execute(query).all()
        claimed = []
        for pk, next_try in due:
            done = session.execute(update(OutboxMail)
                                   .where(OutboxMail.id == pk, OutboxMail.next_try == next_try,
                                          OutboxMail.sent_at.is_(None))
                                   .values(next_try=now + LEASE))
            if done.rowcount == 1:  # type: ignore[attr-defined]
                claimed.append(pk)
        return [(r.id, r.recipient, r.raw, r.attempts) for r in session.scalars(
            select(OutboxMail).where(OutboxMail.id.in_(claimed)).order_by(OutboxMail.id))]


def _connect(config: NotifyConfig) -> smtplib.SMTP:
    smtp = smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=30)
    try:
        if config.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if config.username:
            smtp.login(config.username, config.password)
    except (OSError, smtplib.SMTPException):
        smtp.close()
        raise
    return smtp


def _record(sessions: sessionmaker[Session], pk: int, now: datetime, error: str | None,
            attempts: int) -> None:
    with sessions.begin() as session:
        if error is None:
            values: dict[str, object] = {"sent_at": now, "attempts": attempts + 1,
                                         "last_error": ""}
        else:
            values = {"attempts": attempts + 1, "last_error": error[:2000],
                      "next_try": now + backoff(attempts + 1)}
        session.execute(update(OutboxMail).where(OutboxMail.id == pk).values(**values))


def deliver(sessions: sessionmaker[Session], config: NotifyConfig, now: datetime | None = None,
            everything: bool = False) -> Delivery:
    """Hand every due mail to the relay (with ``everything``, the given-up ones too)."""
    now = now or utcnow()
    sent = failed = 0
    envelope_from = parseaddr(config.sender)[1]
    while True:
        batch = _claim(sessions, now, config, everything)
        if not batch:
            break
        try:
            smtp: smtplib.SMTP | None = _connect(config)
        except (OSError, smtplib.SMTPException) as exc:
            smtp, reason = None, f"relay {config.smtp_host}:{config.smtp_port}: {exc}"
        for pk, recipient, raw, attempts in batch:
            if smtp is None:
                _record(sessions, pk, now, reason, attempts)
                failed += 1
                continue
            try:
                smtp.sendmail(envelope_from, [recipient], raw)
            except (OSError, smtplib.SMTPException) as exc:
                logger.warning("notification %d to %s not sent: %s", pk, recipient, exc)
                _record(sessions, pk, now, str(exc), attempts)
                failed += 1
                if isinstance(exc, OSError | smtplib.SMTPServerDisconnected):
                    smtp = None  # the connection is gone: the rest wait for the next run
                    reason = f"relay {config.smtp_host}:{config.smtp_port}: {exc}"
            else:
                _record(sessions, pk, now, None, attempts)
                sent += 1
        if smtp is not None:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()
        if len(batch) < BATCH:
            break
    if failed:
        logger.warning("%d notification mails not sent now; they are retried later", failed)
    return Delivery(sent, failed)
