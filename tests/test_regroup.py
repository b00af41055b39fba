"""Series regrouped batch by batch, writing only what a batch changed, end where one regroup
of everything from nothing ends: the same series, members, revision links and subsystem links,
whatever order the mail arrives in."""

from __future__ import annotations

import random
from pathlib import Path

import backends
import pytest
from sqlalchemy import delete, select, update
from test_review_extraction import read_lore, review_snapshot

from ingest.seriesstore import regroup
from ingest.subsystems import import_maintainers
from ingest.worker import Worker, run_ingest
from listarchive.archive.models import (
    Message,
    Patch,
    Series,
    SeriesRevision,
    SeriesSubsystem,
    Subsystem,
)
from listarchive.settings import from_mapping

MESSAGES = 1500
MAINTAINERS = """\
COMMON CLK FRAMEWORK
M:\tMichael Turquette <mturquette@baylibre.com>
L:\tlinux-clk@vger.kernel.org
S:\tMaintained
F:\tdrivers/clk/
F:\tinclude/linux/clk.h

ARM/QUALCOMM SUPPORT
M:\tBjorn Andersson <andersson@kernel.org>
S:\tMaintained
F:\tdrivers/clk/qcom/
F:\tarch/arm64/boot/dts/qcom/
"""


def snapshot(settings) -> dict[str, object]:
    out = review_snapshot(settings)
    with Worker(settings).sessions() as session:
        anchor = dict(session.execute(select(Series.id, Series.anchor_msgid)).all())
        out["subsystems"] = sorted((anchor[sid], name) for sid, name in session.execute(
            select(SeriesSubsystem.series_id, Subsystem.name)
            .join(Subsystem, Subsystem.id == SeriesSubsystem.subsystem_id)))
        out["titles"] = sorted(session.execute(select(Series.anchor_msgid, Series.title,
                                                      Series.date, Series.change_id)).all())
    return out


def ingest_in_order(base: Path, mails: list[bytes], seed: int):
    # An archive of its own on PostgreSQL too (the test's schema is the first one's).
    url = backends.new_schema()[1] if backends.POSTGRESQL and base.name != "a" else ""
    settings = from_mapping({"storage": {"data_dir": str(base), "database_url": url},
                             "search": {"enabled": False}, "ingest": {"batch_size": 25}})
    order = list(mails)
    random.Random(seed).shuffle(order)
    (base.parent / f"{base.name}.mbox").write_bytes(b"\n".join(order) + b"\n")
    maintainers = base.parent / "MAINTAINERS"
    maintainers.write_text(MAINTAINERS)
    half = len(order) // 2
    # MAINTAINERS imported halfway, so that later batches carry subsystem links in as well.
    (base.parent / f"{base.name}-1.mbox").write_bytes(b"\n".join(order[:half]) + b"\n")
    (base.parent / f"{base.name}-2.mbox").write_bytes(b"\n".join(order[half:]) + b"\n")
    run_ingest(settings, [str(base.parent / f"{base.name}-1.mbox")], "linux-clk")
    import_maintainers(settings, maintainers)
    run_ingest(settings, [str(base.parent / f"{base.name}-2.mbox")], "linux-clk")
    return settings


def test_batches_in_any_order_equal_one_regroup_of_everything(tmp_path, corpora):
    clk = corpora / "lore" / "linux-clk-last10000.mboxrd.gz"
    if not clk.is_file():
        pytest.skip("the shared corpora are not beside the project")
    mails = read_lore(clk)[:MESSAGES]
    first = ingest_in_order(tmp_path / "a", mails, seed=7)
    batched = snapshot(first)
    assert len(batched["series"]) > 100 and batched["revisions"] and batched["subsystems"]

    # Everything regrouped at once from nothing, in the same archive.
    with Worker(first).sessions.begin() as session:
        session.execute(update(Patch).values(series_id=None))
        session.execute(delete(SeriesRevision))
        session.execute(delete(Series))
        senders = set(session.scalars(select(Patch.sender_email).distinct()))
        assert session.scalar(select(Message.id).limit(1)) is not None
        regroup(session, senders)
    assert snapshot(first) == batched

    # Another arrival order, batch by batch, ends the same.
    other = ingest_in_order(tmp_path / "b", mails, seed=11)
    assert snapshot(other) == batched
