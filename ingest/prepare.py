"""Everything one message costs before it is stored: parse, then read its patches, trailers and
links. Done outside the write transaction, so a costly message never holds the lock the other
deliveries of the list wait for, and under a budget per message: what does not finish in
``ingest.max_message_seconds`` is quarantined as too costly to process, never a hang.

Any failure of one message (a parser error on input nobody anticipated, a number too large for a
column) is that message's: it is quarantined with the reason and its batch goes on.
"""

from __future__ import annotations

import functools
import logging
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Protocol

from ingest.rawmail import RawMail
from listarchive.archive import rawstore
from listarchive.errors import MalformedMessage
from listarchive.mail.dkimsig import DnsFunc, dkim_status, keys_from_file
from listarchive.mail.extract import MailFacts, mail_facts
from listarchive.mail.message import ParsedMessage, parse
from listarchive.review.mailcommands import may_command
from listarchive.settings import Settings

logger = logging.getLogger(__name__)
TOO_COSTLY = "too costly to process"


@dataclass(frozen=True)
class Prepared:
    mail: RawMail
    parsed: ParsedMessage | None
    facts: MailFacts | None
    reason: str  # why it goes to quarantine ('' when it is stored)
    packed: bytes = b""  # the bytes as stored (rawstore.pack), when :func:`finish` has run
    signature: str = ""  # the DKIM result of a reply that may say a command; '' otherwise


class Budget(Protocol):
    """What preparing a message may cost: :class:`~listarchive.settings.Settings` says it."""

    @property
    def max_message_bytes(self) -> int: ...

    @property
    def max_message_seconds(self) -> float: ...


@dataclass(frozen=True)
class Limits:
    """The budget, and where DKIM keys come from ('' for DNS), as a helper process is given
    them."""

    max_message_bytes: int
    max_message_seconds: float
    dkim_keys: str = ""

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(settings.max_message_bytes, settings.max_message_seconds,
                   str(settings.dkim_keys or ""))


# What a helper process sends back for one message (its raw bytes stay where they were read):
# parsed, facts, reason, packed, signature.
Outcome = tuple[ParsedMessage | None, MailFacts | None, str, bytes, str]


class _OverBudget(Exception):
    pass


@contextmanager
def budget(seconds: float) -> Iterator[None]:
    """Raise :class:`_OverBudget` inside the block once ``seconds`` have passed. In the main
    thread (the command line, a mail server's delivery) a timer interrupts the work; elsewhere
    (``watch`` run from a thread) the time is checked when the block ends."""
    started = time.monotonic()
    interrupt = threading.current_thread() is threading.main_thread()
    previous = None
    if interrupt:
        def over(_signum: int, _frame: FrameType | None) -> None:
            raise _OverBudget

        previous = signal.signal(signal.SIGALRM, over)
        signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        if interrupt:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    if time.monotonic() - started > seconds:
        raise _OverBudget


def prepare_all(mails: list[RawMail], limits: Limits, now: datetime) -> list[Outcome]:
    """:func:`prepare` for each of ``mails``, in a helper process (see :mod:`ingest.ahead`)."""
    dnsfunc = _keys(limits.dkim_keys) if limits.dkim_keys else None
    out: list[Outcome] = []
    for mail in mails:
        done = finish(prepare(mail, limits, now), dnsfunc)
        out.append((done.parsed, done.facts, done.reason, done.packed, done.signature))
    return out


@functools.lru_cache(maxsize=4)
def _keys(path: str) -> DnsFunc:
    return keys_from_file(Path(path))


def finish(done: Prepared, dnsfunc: DnsFunc | None) -> Prepared:
    """The rest of what a parsed message costs before its transaction, outside the budget (a
    DNS lookup may be slow; that is not the message's fault): its bytes compressed as stored,
    and the DKIM result of a reply that may say a command."""
    if done.parsed is None:
        return done
    signature = dkim_status(done.mail.data, dnsfunc) if may_command(done.parsed) else ""
    return replace(done, packed=rawstore.pack(done.mail.data), signature=signature)


def prepare(mail: RawMail, settings: Budget, now: datetime) -> Prepared:
    """Parse one message and read what it says, or say why it goes to quarantine."""
    if len(mail.data) > settings.max_message_bytes:
        return Prepared(mail, None, None, f"larger than ingest.max_message_bytes "
                                          f"({len(mail.data)} > {settings.max_message_bytes} bytes)")
    try:
        with budget(settings.max_message_seconds):
            parsed = parse(mail.data, now=now)
            return Prepared(mail, parsed, mail_facts(parsed), "")
    except _OverBudget:
        return Prepared(mail, None, None, f"{TOO_COSTLY} (over {settings.max_message_seconds:g} s)")
    except MalformedMessage as exc:
        return Prepared(mail, None, None, str(exc))
    except Exception as exc:  # noqa: BLE001 - one message must never stop an ingest
        # Input nobody anticipated: the message is kept in quarantine with the error as its
        # reason, and a fix plus `listarchive quarantine retry` brings it back.
        logger.warning("%s: %s: %s", mail.origin, type(exc).__name__, exc)
        return Prepared(mail, None, None, f"parser error: {type(exc).__name__}: {exc}"[:2000])
