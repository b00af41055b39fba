"""The per-process cache of parsed messages is bounded by the memory they take, not by their
count: a few very large messages must not hold the cache (and a worker's RSS) above its budget."""

from __future__ import annotations

from datetime import datetime

import pytest

from listarchive.archive.bodies import ParsedCache
from listarchive.archive.records import MessageRecord
from listarchive.mail.message import parse

pytestmark = pytest.mark.pure

WHEN = datetime(2025, 1, 1)


def record(n: int, raw_size: int) -> MessageRecord:
    return MessageRecord(pk=n, msgid=f"m{n}@x", subject="", from_name="", from_email="",
                         date=None, sort_date=None, in_reply_to="", parent_msgid="",
                         sha256=f"{n:064x}", raw_size=raw_size,
                         ingested_at=WHEN, thread_id=None, lists=())


PARSED = parse(b"From: a@b\nSubject: s\nMessage-ID: <m@x>\n\nbody\n")


def test_cache_keeps_the_newest_uses_within_its_budget() -> None:
    cache = ParsedCache(budget=10_000)
    for n in range(4):
        cache.put(record(n, 1_000), PARSED)  # 2,000 each: all four fit
    assert cache.get(record(0, 1_000)) is PARSED  # 0 is now the newest use
    cache.put(record(4, 2_500), PARSED)  # 5,000 more: the oldest uses (1, 2) go
    assert [cache.get(record(n, 1_000)) is PARSED for n in range(5)] == [
        True, False, False, True, True]
    assert cache.used == 9_000 <= cache.budget
    # What it holds by Message-ID (asked before a record is read) follows what it keeps.
    assert [cache.holds(f"m{n}@x") for n in range(6)] == [True, False, False, True, True, False]


def test_a_message_larger_than_the_budget_is_not_kept_and_evicts_nothing() -> None:
    cache = ParsedCache(budget=10_000)
    cache.put(record(1, 1_000), PARSED)
    cache.put(record(2, 6_000), PARSED)
    assert cache.get(record(2, 6_000)) is None and cache.get(record(1, 1_000)) is PARSED
    assert cache.used == 2_000
