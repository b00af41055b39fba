"""A bulk import prepares its next batch in a helper process while it stores the one before
(:mod:`ingest.ahead`): what it stores is exactly what one process stores, hostile mail is
quarantined with the same reasons, and a helper that dies costs speed, never mail."""

from __future__ import annotations

import logging
import os
from concurrent.futures import Future
from datetime import datetime
from pathlib import Path

import backends
import pytest
from mailfixtures import NO_LIMITS, first_messages
from sqlalchemy import select

from ingest import ahead
from ingest.prepare import Limits, Outcome, finish, prepare
from ingest.rawmail import RawMail
from ingest.sources import open_source
from ingest.worker import run_ingest
from listarchive.archive import rawstore
from listarchive.archive.db import open_archive
from listarchive.archive.models import (
    Message,
    Patch,
    Quarantined,
    Series,
    StateChange,
    Thread,
)
from listarchive.clock import utcnow
from listarchive.mail.dkimsig import keys_from_file
from listarchive.settings import Settings, from_mapping

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "lore" / \
    "linux-clk-last10000.mboxrd.gz"
DATA = Path(__file__).parent / "data"
HOSTILE = ("not-mail-binary.eml", "xss-headers.eml", "no-message-id.eml", "future-date.eml")

pytestmark = pytest.mark.skipif(not CORPUS.is_file(), reason="the linux-clk corpus is absent")


def _mbox(base: Path) -> Path:
    """600 real messages with hostile ones dealt among them, as one mboxrd file."""
    parts = [first_messages(CORPUS, 600)]
    for name in HOSTILE:
        body = (DATA / name).read_bytes().replace(b"\nFrom ", b"\n>From ")
        parts.append(b"From hostile@example.org Thu Jan  1 00:00:00 1970\n" + body.rstrip(b"\n")
                     + b"\n\n")
    path = base / "mixed.mbox"
    path.write_bytes(b"".join(parts))
    return path


def _settings(base: Path) -> Settings:
    return from_mapping({
        "limits": NO_LIMITS,
        "storage": {"data_dir": str(base / "instance"), "database_url": backends.archive_url()},
        "search": {"enabled": False}, "ingest": {"batch_size": 60},
        "lists": [{"name": "linux-clk"}]}, base=base)


def _stored(settings: Settings) -> tuple[object, ...]:
    archive = open_archive(settings)
    try:
        with archive.sessions() as session:
            roots = {pk: root for pk, root in session.execute(select(Thread.id, Thread.root_msgid))}
            # in the order stored: batches are stored in the order read
            messages = [(m.msgid, m.sha256, roots.get(m.thread_id or 0, ""), m.subject)
                        for m in session.scalars(select(Message).order_by(Message.id))]
            patches = sorted(tuple(row) for row in session.execute(
                select(Patch.msgid, Patch.kind, Patch.patch_id)))
            series = sorted(tuple(row) for row in session.execute(
                select(Series.anchor_msgid, Series.title, Series.revision, Series.total,
                       Series.received, Series.complete)))
            quarantined = sorted(session.scalars(select(Quarantined.reason)))
            # what replies said ("Applied, thanks", pw-bot:) and their DKIM results
            changes = sorted(tuple(row) for row in session.execute(
                select(StateChange.object_kind, StateChange.field, StateChange.from_value,
                       StateChange.to_value, StateChange.reason)))
    finally:
        archive.close()
    return messages, patches, series, quarantined, changes


def test_prepared_ahead_stores_what_one_process_stores(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mbox = _mbox(tmp_path)
    handed: list[int] = []
    submit = ahead.Ahead._submit

    def counted(self: ahead.Ahead, fresh: list[RawMail], now: datetime) -> list[Future[object]]:
        parts = submit(self, fresh, now)
        handed.append(len(parts))
        return parts  # type: ignore[return-value]

    monkeypatch.setattr(ahead.Ahead, "_submit", counted)
    results = []
    for helpers in (0, 2):
        monkeypatch.setattr(ahead, "helper_count", lambda n=helpers: n)
        monkeypatch.setattr(ahead, "LEAST", 1)
        base = tmp_path / f"helpers-{helpers}"
        base.mkdir()
        settings = _settings(base)
        summary = run_ingest(settings, [str(mbox)], "linux-clk")
        again = run_ingest(settings, [str(mbox)], "linux-clk")  # a re-run skips what it has
        results.append((summary.read, summary.new, summary.duplicate, summary.quarantined,
                        again.new, again.duplicate, _stored(settings)))
    inline, helped = results
    assert sum(handed) >= 2 * (600 // 60), "the second archive's batches went to helpers"
    assert inline[0] == 600 + len(HOSTILE)
    assert inline[6][3], "the hostile mail was quarantined"
    assert helped == inline


def _die(mails: list[RawMail], limits: Limits, now: datetime) -> list[Outcome]:
    os._exit(3)  # a helper killed for memory, or a crash in a C extension


@pytest.mark.pure
def test_a_helper_that_dies_costs_speed_never_mail(tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "forty.mbox").write_bytes(first_messages(CORPUS, 40))
    mails = list(open_source(str(tmp_path / "forty.mbox")).read(""))
    batches = [mails[:20], mails[20:]]
    limits = Limits(10_000_000, 20.0)
    caplog.set_level(logging.WARNING, logger="ingest.ahead")
    with ahead.Ahead(limits, lambda _batch: set(), helpers=1, work=_die, least=1) as runner:
        ready = list(runner.batches(batches))
        assert runner.helpers == 0
    assert [r.batch for r in ready] == batches
    now = utcnow()
    for r in ready:
        assert [p.mail for p in r.prepared] == r.batch
        alone = [prepare(m, limits, now) for m in r.batch]
        assert [(p.parsed.msgid if p.parsed else None, p.reason) for p in r.prepared] == \
            [(p.parsed.msgid if p.parsed else None, p.reason) for p in alone]
    assert "a helper failed" in caplog.text


COMMAND = b"""From: Maintainer <maint@example.org>
To: linux-clk@vger.kernel.org
Subject: Re: [PATCH] clk: fix the divider
Message-ID: <command-reply@example.org>
In-Reply-To: <the-patch@example.org>
Date: Thu, 4 Jan 2024 10:00:00 +0000
DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=sel; h=from:subject; bh=AAAA; b=AAAA

pw-bot: cr
"""


@pytest.mark.pure
def test_a_helper_compresses_and_checks_signatures_as_the_process_does(tmp_path: Path) -> None:
    """What a helper sends back is what the process would store: the compressed bytes, and the
    DKIM result of a reply that says a command (from the configured key file, no DNS)."""
    (tmp_path / "forty.mbox").write_bytes(first_messages(CORPUS, 40))
    mails = [*open_source(str(tmp_path / "forty.mbox")).read(""),
             RawMail(COMMAND, "command", "")]
    keys = tmp_path / "dkim-keys"
    keys.write_text("other._domainkey.example.net v=DKIM1; k=rsa; p=AAAA\n")
    limits = Limits(10_000_000, 20.0, str(keys))
    with ahead.Ahead(limits, lambda _batch: set(), helpers=1, least=1) as runner:
        [ready] = list(runner.batches([mails]))
        assert runner.helpers == 1, "the helper did the work"
    assert all(rawstore.unpack(p.packed) == p.mail.data for p in ready.prepared if p.parsed)
    signed = {p.mail.origin: p.signature for p in ready.prepared if p.signature}
    assert signed["command"] == "unverified"
    here = [finish(prepare(m, limits, ready.now), keys_from_file(keys)) for m in mails]
    assert signed == {p.mail.origin: p.signature for p in here if p.signature}
