"""Issue 5's git-scan figure: ``listarchive git-scan`` over a repository of the corpus's own
patches (:mod:`bench.scanrepo`), twice, against a copy of the search-off archive the run
already built."""

from __future__ import annotations

import multiprocessing
import os
import re
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bench import ours
from bench.ours import read_archive, run_cli
from bench.scanrepo import build_repo
from bench.system import say


@dataclass
class ScanRun:
    """One ``listarchive git-scan`` run."""

    ok: bool = False
    error: str = ""
    wall: float = 0.0
    cpu: float = 0.0
    max_rss_mb: float = 0.0
    output: str = ""
    commits_read: int = 0
    matched: int = 0
    changed: int = 0


@dataclass
class GitScanResult:
    small: bool
    ok: bool = False
    error: str = ""
    archive: str = ""  # the archive copied (its folder under bench/scratch)
    archive_messages: int = 0
    archive_patches: int = 0
    patches_used: int = 0
    commits: int = 0
    build_seconds: float = 0.0
    by_patch_id: int = 0
    by_author_subject: int = 0
    load_average: str = ""  # 1, 5, 15 min, just before the first scan
    first: ScanRun | None = None
    second: ScanRun | None = None


_SCAN_OUT = re.compile(r"read (\d+) new commits .*: (\d+) patches matched, (\d+) marked accepted")


def _scan(cfg: Path, repo: Path) -> ScanRun:
    m = run_cli(cfg, "git-scan", str(repo), "main", timeout=600)
    run = ScanRun(wall=m.wall, cpu=m.cpu, max_rss_mb=m.max_rss_mb, output=m.stdout.strip())
    found = _SCAN_OUT.search(m.stdout)
    if m.returncode != 0 or found is None:
        run.error = m.failure()
        return run
    run.ok = True
    run.commits_read, run.matched, run.changed = (int(x) for x in found.groups())
    return run


def measure_git_scan(source: Path, mbox: Path, work: Path, small: bool) -> GitScanResult:
    """Copy the archive at ``source``, build the repository from ``mbox``, scan twice."""
    res = GitScanResult(small=small, archive=source.name)
    src_db = source / "data" / "listarchive.sqlite3"
    if not src_db.exists():
        res.error = f"no archive at {source.name}"
        return res
    home = work / f"review-gitscan-{source.name}"
    cfg = ours.write_config(home, search=False)
    shutil.rmtree(home / "data")
    shutil.copytree(source / "data", home / "data")
    db = home / "data" / "listarchive.sqlite3"
    repo = work / f"review-repo-{source.name}"
    res.archive_messages = int(read_archive(db, "SELECT count(*) FROM messages")[0][0])
    res.archive_patches = int(read_archive(db, "SELECT count(*) FROM patches WHERE kind = 'patch'")[0][0])
    started = time.monotonic()
    want = 300 if small else 5000
    say(f"review: writing a repository of {2 * want} commits with git fast-import")
    # In a fresh process: the parsed patches would otherwise stay in this one, and Linux counts
    # the memory a child was forked with in its peak RSS, so git-scan's figure would carry it.
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        res.patches_used, res.commits = pool.submit(build_repo, mbox, want,
                                                    repo).result()
    res.build_seconds = time.monotonic() - started
    res.load_average = " ".join(f"{x:.2f}" for x in os.getloadavg())
    say(f"review: git-scan of {res.commits} commits against {res.archive_messages} messages")
    res.first = _scan(cfg, repo)
    res.second = _scan(cfg, repo)
    if not res.first.ok or not res.second.ok:
        res.error = (res.first.error or res.second.error)
        return res
    for reason, n in read_archive(db, """SELECT reason, count(*) FROM state_changes
                                 WHERE rule = 'git' AND to_value = 'accepted'
                                 GROUP BY reason LIKE '%matched by patch-id%'"""):
        if "matched by patch-id" in str(reason):
            res.by_patch_id = int(n)
        else:
            res.by_author_subject = int(n)
    res.ok = True
    return res
