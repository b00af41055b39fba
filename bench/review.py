"""Issue 5's two speed figures: a subsystem's review queue page, and ``listarchive git-scan``.

Queue page: :mod:`bench.queuepage`. git-scan: :mod:`bench.gitscan`, over a repository written
from the corpus's patches by :mod:`bench.scanrepo`. This module runs both for one ``make bench``
run and reads them back from ``results.json``.

Like :mod:`bench.ours`, nothing of the product is imported: the archives are built and scanned
by the ``listarchive`` command, and the facts reported about them (open patches, what the scan
decided) are read from the archive's SQLite file with the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.gitscan import GitScanResult, ScanRun, measure_git_scan
from bench.load import LoadResult
from bench.queuepage import QueueResult, measure_queue
from bench.system import say


@dataclass
class ReviewRun:
    """Issue 5's figures of one ``make bench`` run."""

    size: str
    queue: QueueResult | None = None
    git_scan: GitScanResult | None = None


def measure(size: str, archive: Path, mbox: Path, seconds: int, work: Path,
            small: bool, pages: bool = True) -> ReviewRun:
    """Both figures: the queue on its own linux-clk archive (unless ``pages`` is false: no HTTP
    measurements in this run), git-scan against a copy of ``archive`` built from ``mbox``."""
    run = ReviewRun(size)
    if pages:
        # Named by what it holds, so a small run does not replace the full queue archive.
        queue_home = work / ("review-queue-small" if small else "review-queue")
        run.queue = measure_queue(queue_home, seconds, work / "wrk", small)
        if run.queue.error:
            say(f"review: queue not measured: {run.queue.error}")
    run.git_scan = measure_git_scan(archive, mbox, work, small)
    if run.git_scan.error:
        say(f"review: git-scan not measured: {run.git_scan.error}")
    return run


def from_dict(data: dict[str, Any] | None) -> ReviewRun | None:
    """A :class:`ReviewRun` back from ``results.json`` (None when the run had none)."""
    if not data:
        return None
    queue = data.get("queue")
    scan = data.get("git_scan")
    run = ReviewRun(str(data.get("size", "")))
    if queue:
        queue = dict(queue)
        queue["load"] = [LoadResult(**r) for r in queue.get("load", [])]
        run.queue = QueueResult(**queue)
    if scan:
        scan = dict(scan)
        for key in ("first", "second"):
            scan[key] = ScanRun(**scan[key]) if scan.get(key) else None
        run.git_scan = GitScanResult(**scan)
    return run
