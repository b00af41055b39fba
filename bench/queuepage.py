"""Issue 5's queue figure: a subsystem's review queue page under load.

A search-off archive of linux-clk ingested once, then again as copy 1, 2, ... (the replication
of :mod:`bench.corpus`) with the real kernel MAINTAINERS imported first, until the subsystem
with the most open patches (catch-alls such as ``THE REST`` left out) has at least ``min_open``
of them; then ``/s/SLUG/queue/`` and its bookmarked variants under wrk, served as in
:func:`bench.ours.serve`. Nothing of the product is imported (see :mod:`bench.review`).
"""

from __future__ import annotations

import os
import re
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from bench import ours
from bench.corpus import CORPORA, REAL_SETS, SMALL_TAKE, iter_real, rewrite_copy, write_mboxrd
from bench.load import LoadResult, Page, Server, probe, run_wrk, usable_paths
from bench.ours import read_archive, run_cli
from bench.system import say, stop

MAINTAINERS = CORPORA.parent / "kernel" / "MAINTAINERS"
QUEUE_CONCURRENCY = (1, 8)
OPEN_STATES = ("new", "under-review")
MAX_COPIES = 12
_QUEUE_TOTAL = re.compile(r"(\d+) series ")


@dataclass
class QueueResult:
    """The queue figure and what it was measured on."""

    small: bool
    min_open: int
    seconds: int = 0  # wrk's duration per row and client count
    ok: bool = False
    error: str = ""
    subsystem: str = ""
    slug: str = ""
    open_patches: int = 0  # patches linked to the subsystem, state new/under-review, not archived
    queue_series: int = 0  # the page's own count of series waiting
    copies: int = 0  # linux-clk ingested this many times (copy 0 = the real mail)
    messages_read: int = 0
    messages_stored: int = 0
    ingest_seconds: float = 0.0
    sections: str = ""  # what `listarchive maintainers import` said
    submitter: str = ""
    load_average: str = ""  # 1, 5, 15 min, when the load started (other work skews it)
    pages: dict[str, str] = field(default_factory=dict)  # row name -> URL
    load: list[LoadResult] = field(default_factory=list)

    def latency(self, page: str, conc: int) -> LoadResult | None:
        return next((r for r in self.load if r.page == page and r.concurrency == conc), None)


def _is_catch_all(name: str, patterns: str) -> bool:
    """``THE REST`` and any section with a file pattern starting with a glob (``F: *``)."""
    files = [line.split("\t", 1)[-1].strip() for line in patterns.splitlines()
             if line.startswith("F:")]
    return name.upper() == "THE REST" or any(f[:1] in "*?[" for f in files)


def open_patches(db: Path) -> list[tuple[str, str, int]]:
    """(name, slug, open patches) per subsystem, most first, catch-alls left out.

    Open = kind ``patch``, effective state new or under-review (no state row means new, or rfc
    for an RFC), not archived; any rank of the subsystem counts, as in the queue's own scope.
    """
    rows = read_archive(db, """
        SELECT s.name, s.slug, s.patterns, count(*) FROM patch_subsystems ps
        JOIN patches p ON p.id = ps.patch_id JOIN subsystems s ON s.id = ps.subsystem_id
        LEFT JOIN patch_states st ON st.patch_id = p.id
        WHERE p.kind = 'patch' AND coalesce(st.archived, 0) = 0
          AND coalesce(nullif(st.state, ''), CASE WHEN p.is_rfc THEN 'rfc' ELSE 'new' END)
              IN (?, ?)
        GROUP BY s.id ORDER BY count(*) DESC, s.name""", OPEN_STATES)
    return [(n, slug, int(c)) for n, slug, pat, c in rows if not _is_catch_all(n, pat)]


def _top_submitter(db: Path, slug: str) -> str:
    """The address with the most open series in the subsystem's queue (a bookmark they'd keep)."""
    rows = read_archive(db, """
        SELECT se.sender_email, count(DISTINCT se.id) FROM series se
        JOIN patches p ON p.series_id = se.id
        JOIN patch_subsystems ps ON ps.patch_id = p.id
        JOIN subsystems s ON s.id = ps.subsystem_id
        LEFT JOIN series_states st ON st.series_id = se.id
        WHERE s.slug = ? AND coalesce(st.archived, 0) = 0
          AND coalesce(nullif(st.state, ''), CASE WHEN se.is_rfc THEN 'rfc' ELSE 'new' END)
              IN (?, ?)
        GROUP BY se.sender_email ORDER BY 2 DESC LIMIT 1""", (slug, *OPEN_STATES))
    return str(rows[0][0]) if rows else ""


def _clk_copy(path: Path, copy: int, small: bool) -> int:
    """Copy ``copy`` of linux-clk (its first messages for ``small``) as an mboxrd file."""
    clk = REAL_SETS[0]
    work = path.parent / "src"
    messages: Iterator[bytes] = iter_real(clk, work)
    take = SMALL_TAKE[clk.name] if small else None
    out = (rewrite_copy(raw, copy) for i, raw in enumerate(messages)
           if take is None or i < take)
    return write_mboxrd(out, path)


def build_queue_archive(home: Path, res: QueueResult) -> bool:
    """Fill ``home`` (search off) until a real subsystem has ``res.min_open`` open patches.

    MAINTAINERS is imported into the empty archive, so each patch is linked to its subsystems
    as it is stored. Copies are ingested one at a time because how many are needed depends on
    how many of a copy's patches stay open (a copy's later revisions supersede its earlier
    ones, as in the real list).
    """
    cfg = ours.write_config(home, search=False)
    for args in (("init",), ("maintainers", "import", str(MAINTAINERS))):
        m = run_cli(cfg, *args)
        if m.returncode != 0:
            res.error = f"{' '.join(args[:1])}: {m.failure()}"
            return False
        res.sections = m.stdout.strip()
    db = home / "data" / "listarchive.sqlite3"
    for copy in range(MAX_COPIES):
        mbox = home.parent / "review-clk-copy.mboxrd"
        count = _clk_copy(mbox, copy, res.small)
        say(f"review: ingest of linux-clk copy {copy} ({count} messages, search off)")
        m = run_cli(cfg, "ingest", "--list", ours.LIST, "--json", str(mbox))
        mbox.unlink()
        res.ingest_seconds += m.wall
        res.copies = copy + 1
        res.messages_read += count
        if m.returncode != 0:
            res.error = f"ingest of copy {copy}: {m.failure()}"
            return False
        stored = ours.ingest_summary(m.stdout).get("new", 0)
        res.messages_stored += stored if isinstance(stored, int) else 0
        best = open_patches(db)
        if best and best[0][2] >= res.min_open:
            res.subsystem, res.slug, res.open_patches = best[0]
            res.submitter = _top_submitter(db, res.slug)
            return True
    res.error = (f"no subsystem reached {res.min_open} open patches after {MAX_COPIES} copies "
                 f"(best: {best[0] if best else 'none'})")
    return False


def queue_pages(slug: str, submitter: str, has_next: bool) -> dict[str, str]:
    """The rows of the queue table: the page, bookmarked filters, and page 2 when it exists."""
    base = f"/s/{slug}/queue/"
    pages = {"queue": base, "queue ?state=new": base + "?state=new"}
    if submitter:
        pages["queue ?submitter="] = base + "?submitter=" + quote(submitter, safe="@")
    if has_next:
        pages["queue ?page=2"] = base + "?page=2"
    return pages


def measure_queue(home: Path, seconds: int, work: Path, small: bool) -> QueueResult:
    """Build the archive, serve it (:func:`bench.ours.serve`), and run wrk on each queue URL."""
    res = QueueResult(small=small, min_open=200 if small else 5000, seconds=seconds)
    if not MAINTAINERS.exists():
        res.error = f"no MAINTAINERS file at {MAINTAINERS}"
        return res
    if not build_queue_archive(home, res):
        return res
    say(f"review: {res.subsystem} has {res.open_patches} open patches after {res.copies} "
        "copies of linux-clk")
    return load_queue(home, res, seconds, work)


def load_queue(home: Path, res: QueueResult, seconds: int, work: Path) -> QueueResult:
    """Serve the archive at ``home`` and run wrk on each queue URL of ``res.slug``."""
    proc, port, err = ours.serve(home)
    server = Server("listarchive", port, err)
    if proc is None:
        res.error = err
        return res
    try:
        first = probe(server, f"/s/{res.slug}/queue/")
        if first != 200:
            res.error = f"/s/{res.slug}/queue/ answered HTTP {first}"
            return res
        with urllib.request.urlopen(server.url(f"/s/{res.slug}/queue/"), timeout=60) as r:
            html = r.read().decode("utf-8", "replace")
        found = _QUEUE_TOTAL.search(html)
        res.queue_series = int(found.group(1)) if found else 0
        res.pages = queue_pages(res.slug, res.submitter, 'rel="next"' in html)
        res.load_average = " ".join(f"{x:.2f}" for x in os.getloadavg())
        for name, url in res.pages.items():
            paths, unavailable = usable_paths(Page(name, (url,)), [server])
            for conc in QUEUE_CONCURRENCY:
                if not paths:
                    res.load.append(LoadResult(server.name, name, conc, error=unavailable
                                                    .get(server.name, "did not answer 200")))
                    continue
                say(f"wrk listarchive {name} c={conc} ({seconds} s)")
                got = run_wrk(server, paths, conc, seconds, work)
                got.page = name
                res.load.append(got)
        res.ok = True
    finally:
        stop(proc)
    return res
