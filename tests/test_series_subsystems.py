"""The series-to-subsystem links, which a subsystem's queue reads, always say what the patches'
own links say: after MAINTAINERS is imported, when later mail regroups series, after
``listarchive reindex``, and for an archive made before the links existed.

The archive is the first 800 messages of linux-clk (``../shared/corpora``) in two deliveries with
the real MAINTAINERS file imported in between, so the second half is matched at ingest and
regroups submitters of the first half.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ingest.reindex import reindex
from ingest.subsystems import import_maintainers
from ingest.worker import Worker, run_ingest
from listarchive.access.visibility import ANONYMOUS
from listarchive.archive.models import (
    Patch,
    PatchSubsystem,
    Series,
    SeriesState,
    SeriesSubsystem,
    Subsystem,
)
from listarchive.review.queues import QueueScope, queue
from listarchive.settings import Settings

CORPORA = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"
CLK = CORPORA / "lore" / "linux-clk-last10000.mboxrd.gz"
MAINTAINERS = CORPORA / "kernel" / "MAINTAINERS"
SEP = b"\nFrom mboxrd@z Thu Jan  1 00:00:00 1970\n"


@pytest.fixture(scope="module")
def halves(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if not CLK.is_file() or not MAINTAINERS.is_file():
        pytest.skip("the shared corpora are not beside the project")
    chunks = gzip.decompress(CLK.read_bytes()).split(SEP)
    folder = tmp_path_factory.mktemp("clk")
    first, second = folder / "first.mboxrd", folder / "second.mboxrd"
    first.write_bytes(SEP.join(chunks[:400]) + b"\n")
    second.write_bytes(SEP.join([b"", *chunks[400:800]]) + b"\n")
    return first, second


def stored(worker: Worker) -> set[tuple[int, int]]:
    with worker.sessions() as session:
        return {(s, sub) for s, sub in session.execute(
            select(SeriesSubsystem.series_id, SeriesSubsystem.subsystem_id))}


def derived(worker: Worker) -> set[tuple[int, int]]:
    """The links as the patch rows say them, computed here independently."""
    with worker.sessions() as session:
        return {(int(s), sub) for s, sub in session.execute(
            select(Patch.series_id, PatchSubsystem.subsystem_id)
            .join(PatchSubsystem, PatchSubsystem.patch_id == Patch.id)
            .where(Patch.series_id.is_not(None)))}


def test_links_follow_the_patches(settings: Settings, halves: tuple[Path, Path]) -> None:
    first, second = halves
    run_ingest(settings, [str(first)], "linux-clk")
    worker = Worker(settings)
    assert stored(worker) == set()  # nothing is matched before MAINTAINERS is imported
    import_maintainers(settings, MAINTAINERS)
    after_import = stored(worker)
    assert after_import and after_import == derived(worker)

    run_ingest(settings, [str(second)], "linux-clk")
    grown = stored(worker)
    assert grown == derived(worker)
    assert len(grown) > len(after_import)
    with worker.sessions() as session:
        # Series are regrouped per submitter: some of the first half's series were rebuilt by the
        # second delivery, and no link points at a series that no longer exists.
        assert session.scalar(select(func.count()).select_from(SeriesSubsystem)
                              .where(SeriesSubsystem.series_id.not_in(select(Series.id)))) == 0

    reindex(settings)
    assert stored(worker) == grown
    worker.engine.dispose()


def test_subsystem_queue_counts_every_open_series_of_its_patches(
        settings: Settings, halves: tuple[Path, Path]) -> None:
    first, _ = halves
    run_ingest(settings, [str(first)], "linux-clk")
    import_maintainers(settings, MAINTAINERS)
    worker = Worker(settings)
    with worker.sessions() as session:
        sub = session.scalars(select(Subsystem).where(
            Subsystem.name == "COMMON CLK FRAMEWORK")).one()
        decided = {row.series_id: row for row in session.scalars(select(SeriesState))}
        expected = set()
        for sid, is_rfc in session.execute(
                select(Series.id, Series.is_rfc).join(Patch, Patch.series_id == Series.id)
                .join(PatchSubsystem, PatchSubsystem.patch_id == Patch.id)
                .where(PatchSubsystem.subsystem_id == sub.id)):
            row = decided.get(sid)
            state = (row.state if row is not None and row.state else
                     "rfc" if is_rfc else "new")
            if state in ("new", "under-review") and not (row is not None and row.archived):
                expected.add(sid)
        assert len(expected) > 10
        got = queue(session, ANONYMOUS, QueueScope(subsystem=sub.slug), per_page=500)
        assert got is not None and {r.id for r in got.rows} == expected
        assert got.total == len(expected)
        # Archiving one takes it out of the queue; the links stay.
        archived = min(expected)
        if archived in decided:
            decided[archived].archived = True
        else:
            session.add(SeriesState(series_id=archived, archived=True))
        session.flush()
        got = queue(session, ANONYMOUS, QueueScope(subsystem=sub.slug), per_page=500)
        assert got is not None and archived not in {r.id for r in got.rows}
        assert got.total == len(expected) - 1
        session.rollback()
    worker.engine.dispose()
