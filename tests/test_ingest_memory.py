"""A long ingest holds no more than a short one: what it keeps between batches does not grow
with the number of batches. SQLAlchemy keeps the compiled form of each statement shape it runs;
a statement built as an OR of one condition per item of a batch has a new shape at each batch,
and held a batch's worth of expressions each, for the length of the run."""

from __future__ import annotations

import random

import pytest
from test_review_extraction import read_lore

from ingest.sources import open_source
from ingest.worker import Summary, Worker
from listarchive.settings import from_mapping

MESSAGES = 1500
BATCH = 25


# Bound parameters of the largest statement shape kept: the widest fixed statement is a row of
# one table (22 here); a shape that follows a batch's size had 114 on this mail, and up to 500.
MOST_PARAMETERS = 32


def kept_shapes(worker: Worker) -> list[int]:
    """The bound parameters of each compiled statement the writer's engine keeps."""
    cache = worker.engine._compiled_cache  # noqa: SLF001 - what the run holds, nothing else shows it
    assert cache is not None
    return sorted(len(compiled.binds) for compiled in cache.values())


def test_statement_shapes_kept_do_not_follow_batch_sizes(tmp_path, corpora):
    clk = corpora / "lore" / "linux-clk-last10000.mboxrd.gz"
    if not clk.is_file():
        pytest.skip("the linux-clk corpus is absent")
    mails = read_lore(clk)[:MESSAGES]
    # Shuffled, so that patches arrive apart from their threads: the series scope reads
    # unthreaded neighbours by date windows, and replies are placed on patches batch by batch.
    random.Random(5).shuffle(mails)
    settings = from_mapping({"storage": {"data_dir": str(tmp_path / "a")},
                             "search": {"enabled": False}, "ingest": {"batch_size": BATCH}})
    worker = Worker(settings, "linux-clk")
    try:
        for part in range(3):
            chunk = mails[part * MESSAGES // 3:(part + 1) * MESSAGES // 3]
            path = tmp_path / f"part{part}.mbox"
            path.write_bytes(b"\n".join(chunk) + b"\n")
            summary = Summary()
            worker.ingest(open_source(str(path)), summary)
            assert summary.new == len(chunk)
            shapes = kept_shapes(worker)
            assert len(shapes) > 20  # the run's statements are kept: the cache is on
            assert shapes[-1] <= MOST_PARAMETERS, shapes[-10:]
    finally:
        worker.release()
