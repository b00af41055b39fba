"""Series regrouped batch by batch, writing only what a batch changed, end where one regroup
of everything from nothing ends: the same series, members, revision links and subsystem links,
whatever order the mail arrives in."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import backends
import pytest
from sqlalchemy import delete, select, update
from test_activity import DEV, DIFF, T0
from test_activity import mail as activity_mail
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
        everything = list(session.scalars(select(Patch.msgid).where(Patch.kind != "suggest")))
        assert session.scalar(select(Message.id).limit(1)) is not None
        regroup(session, everything)
    assert snapshot(first) == batched

    # Another arrival order, batch by batch, ends the same.
    other = ingest_in_order(tmp_path / "b", mails, seed=11)
    assert snapshot(other) == batched


# Hand-made mail for what a batch can change far from its own thread.
def mail(msgid: str, subject: str, hours: float, body: str, parent: str = "",
         sender: str = DEV) -> bytes:
    return activity_mail(msgid, sender, subject, T0 + timedelta(hours=hours), body, parent)


def deliver_one_by_one(base: Path, mails: list[bytes]):
    """Each mail a batch of its own, then the snapshot, then everything regrouped from nothing
    (which must give the same)."""
    url = backends.new_schema()[1] if backends.POSTGRESQL else ""
    settings = from_mapping({"storage": {"data_dir": str(base), "database_url": url},
                             "search": {"enabled": False}})
    base.mkdir()
    for i, one in enumerate(mails):
        (base / f"{i}.mbox").write_bytes(b"From mboxrd@z Thu Jan  1 00:00:00 1970\n" + one)
        run_ingest(settings, [str(base / f"{i}.mbox")], "linux-clk")
    batched = snapshot(settings)
    with Worker(settings).sessions.begin() as session:
        session.execute(update(Patch).values(series_id=None))
        session.execute(delete(SeriesRevision))
        session.execute(delete(Series))
        regroup(session, list(session.scalars(select(Patch.msgid))))
    assert snapshot(settings) == batched
    return batched


def test_unthreaded_patches_are_chained_by_the_one_that_arrives_between_them(tmp_path):
    # git send-email --no-thread: three patches 8 hours apart, the middle one arriving last.
    # The first and third are 16 hours apart, two series until the second bridges them.
    patches = [mail(f"nothread-{n}@example.org", f"[PATCH {n}/3] clk: part {n}", 8 * (n - 1),
                    DIFF.format(name=f"p{n}")) for n in (1, 2, 3)]
    found = deliver_one_by_one(tmp_path / "a", [patches[0], patches[2], patches[1]])
    members = [s[-1] for s in found["series"]]
    assert members == [("nothread-1@example.org", "nothread-2@example.org",
                        "nothread-3@example.org")]


def test_a_reroll_that_arrived_first_is_linked_when_its_older_revision_comes(tmp_path):
    # v2 was renamed, so titles do not match; its cover points at v1: the link is found when v1
    # arrives, although v2's own mail is not in v1's batch.
    v1 = [mail("v1-cover@example.org", "[PATCH 0/1] clk: add the foo gate", 0, "Adds foo.\n"),
          mail("v1-1@example.org", "[PATCH 1/1] clk: add foo", 0.1,
               DIFF.format(name="foo"), parent="v1-cover@example.org")]
    v2 = [mail("v2-cover@example.org", "[PATCH v2 0/1] clk: gate the foo clock", 48,
               "Renamed.\n\nv1: https://lore.kernel.org/r/v1-cover@example.org\n"),
          mail("v2-1@example.org", "[PATCH v2 1/1] clk: gate foo", 48.1,
               DIFF.format(name="foo2"), parent="v2-cover@example.org")]
    found = deliver_one_by_one(tmp_path / "a", v2 + v1)
    assert found["revisions"] == [("v1-cover@example.org", "v2-cover@example.org", "link")]


@pytest.mark.parametrize("order", ["v1 first", "v2 first"])
def test_revisions_sent_from_two_addresses_are_linked_by_change_id(tmp_path, order):
    # b4's web relay sends as devnull+user.example.org@kernel.org; the next revision comes from
    # the author's own address. Different titles: only the change-id ties them.
    change = "\n---\nchange-id: 20240304-foo-gate-1a2b3c4d5e6f\n"
    relay = "Dev Eloper via B4 Relay <devnull+dev.example.org@kernel.org>"
    v1 = [mail("relay-cover@kernel.org", "[PATCH 0/1] clk: add the foo gate", 0, "Adds foo." + change,
               sender=relay),
          mail("relay-1@kernel.org", "[PATCH 1/1] clk: add foo", 0.1,
               DIFF.format(name="foo"), parent="relay-cover@kernel.org", sender=relay)]
    v2 = [mail("own-cover@example.org", "[PATCH v2 0/1] clk: gate the foo clock", 48,
               "Renamed." + change),
          mail("own-1@example.org", "[PATCH v2 1/1] clk: gate foo", 48.1,
               DIFF.format(name="foo2"), parent="own-cover@example.org")]
    found = deliver_one_by_one(tmp_path / "a", v1 + v2 if order == "v1 first" else v2 + v1)
    assert found["revisions"] == [("relay-cover@kernel.org", "own-cover@example.org",
                                   "change-id")]


@pytest.mark.parametrize("order", [(0, 1, 2, 3), (3, 2, 1, 0), (2, 0, 3, 1)])
def test_patches_another_sender_sent_in_answer_to_the_cover_join_its_series(tmp_path, order):
    # The author's cover and 1/3, then 2/3 and 3/3 from a co-maintainer, each In-Reply-To the
    # cover (linux-clk's "[PATCH v18 00/16] rust: replace kernel::str::CStr" was finished this
    # way): one series in any arrival order, the same as a regroup of everything.
    other = "Co Maintainer <co@example.org>"
    posted = [mail("cover@example.org", "[PATCH v2 0/3] clk: foo gates", 0, "Three gates.\n"),
              mail("p1@example.org", "[PATCH v2 1/3] clk: foo one", 0.1,
                   DIFF.format(name="one"), parent="cover@example.org"),
              mail("p2@example.org", "[PATCH v2 2/3] clk: foo two", 0.5,
                   DIFF.format(name="two"), parent="cover@example.org", sender=other),
              mail("p3@example.org", "[PATCH v2 3/3] clk: foo three", 0.6,
                   DIFF.format(name="three"), parent="cover@example.org", sender=other)]
    found = deliver_one_by_one(tmp_path / "a", [posted[i] for i in order])
    assert [s[-1] for s in found["series"]] == [
        ("cover@example.org", "p1@example.org", "p2@example.org", "p3@example.org")]
