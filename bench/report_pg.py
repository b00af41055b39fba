"""BENCHMARKS.md's "PostgreSQL beside SQLite": one table per corpus size, from one run's figures."""

from __future__ import annotations

from collections.abc import Sequence

from bench.load import LoadResult
from bench.ours import IngestResult
from bench.postgres import SERVER, PgRun
from bench.tables import NA, ratio, table

PAGES = ("message", "thread (T/)", "list index", "t.mbox.gz", "search")
P95_CLIENTS, RPS_CLIENTS = 8, 32  # as in the headline
PAGE_TARGET = 1.3  # PostgreSQL's p95 at most this many times SQLite's


def _rate(r: IngestResult | None) -> float | None:
    return r.rate if r is not None and r.ok else None


def _rss(r: IngestResult | None) -> float | None:
    return r.max_rss_mb if r is not None and r.ok else None


def _disk(r: IngestResult | None) -> float | None:
    return sum(r.disk.values()) / r.raw_bytes if r is not None and r.ok and r.raw_bytes else None


def _fmt(value: float | None, fmt: str) -> str:
    return fmt.format(value) if value is not None else NA


def _page(load: Sequence[LoadResult], server: str, page: str, conc: int,
          attr: str) -> float | None:
    found = next((r for r in load if r.server == server and r.page == page
                  and r.concurrency == conc), None)
    return float(getattr(found, attr)) if found is not None and found.ok else None


def _met(ok: bool) -> str:
    return "met" if ok else "not yet"


def section(pg: PgRun | None, sqlite_one: IngestResult | None, sqlite_two: IngestResult | None,
            peer: IngestResult | None, load: Sequence[LoadResult]) -> list[str]:
    """The table of one size: SQLite, PostgreSQL and public-inbox columns, PostgreSQL / SQLite
    ratios and the issue's targets (two PostgreSQL workers ingest at least as fast as SQLite
    does, its way or with two workers; each page's p95 within 1.3x of SQLite's)."""
    if pg is None:
        return ["Not measured in this run (its results predate the PostgreSQL column)."]
    out: list[str] = []
    if pg.error:
        out += [f"PostgreSQL column {pg.error}.", ""]
    rows: list[list[str]] = []
    best_sqlite = max((v for v in (_rate(sqlite_one), _rate(sqlite_two)) if v), default=None)
    pg_two = _rate(pg.two)
    ingest_target = (f"two workers >= SQLite's best ({_fmt(best_sqlite, '{:,.0f}')}): "
                     f"{_met(pg_two >= best_sqlite)}" if pg_two and best_sqlite else
                     "two workers >= SQLite's best: not measured")
    for label, s, p, i, fmt, target in (
        ("ingest, msg/s, 1 worker", _rate(sqlite_one), _rate(pg.one), _rate(peer), "{:,.0f}", ""),
        ("ingest, msg/s, 2 workers at once", _rate(sqlite_two), pg_two, None, "{:,.0f}",
         ingest_target),
        ("ingest, peak RSS MB, 1 worker", _rss(sqlite_one), _rss(pg.one), _rss(peer), "{:,.0f}",
         ""),
        ("ingest, peak RSS MB, 2 workers (larger one)", _rss(sqlite_two), _rss(pg.two), None,
         "{:,.0f}", ""),
        ("disk used / raw mail (database and search index)", _disk(sqlite_one), _disk(pg.two),
         _disk(peer), "{:.2f}", ""),
    ):
        rows.append([label, _fmt(s, fmt), _fmt(p, fmt), _fmt(i, fmt), ratio(p, s), target])
    met = measured = 0
    for page in PAGES:
        s, p, i = (_page(load, name, page, P95_CLIENTS, "p95")
                   for name in ("listarchive", SERVER, "public-inbox"))
        target = ""
        if s and p:
            measured += 1
            met += p <= PAGE_TARGET * s
            target = f"<= {PAGE_TARGET}x SQLite's: {_met(p <= PAGE_TARGET * s)}"
        rows.append([f"{page}: p95 ms, {P95_CLIENTS} clients", _fmt(s, "{:.1f}"),
                     _fmt(p, "{:.1f}"), _fmt(i, "{:.1f}"), ratio(p, s), target])
        s, p, i = (_page(load, name, page, RPS_CLIENTS, "rps")
                   for name in ("listarchive", SERVER, "public-inbox"))
        rows.append([f"{page}: requests/s, {RPS_CLIENTS} clients", _fmt(s, "{:,.1f}"),
                     _fmt(p, "{:,.1f}"), _fmt(i, "{:,.1f}"), ratio(p, s), ""])
    out += table(["", "SQLite", "PostgreSQL", "public-inbox", "PostgreSQL / SQLite", "target"],
                 rows)
    out += ["", f"Targets: {ingest_target}; pages with p95 within {PAGE_TARGET}x of SQLite's: "
            f"{met} of {measured} measured ({len(PAGES)} pages)."]
    notes = [f"{r.system} ({r.label}) failed: {r.error}"
             for r in (sqlite_one, sqlite_two, pg.one, pg.two) if r is not None and not r.ok]
    notes += sorted({f"PostgreSQL server: {r.error}" for r in load
                     if r.server == SERVER and r.error})
    out += [f"- {note}" for note in notes]
    return out


def method(pgs: Sequence[PgRun]) -> list[str]:
    """How the column is measured (one paragraph under the tables)."""
    version = next((p.version for p in pgs if p.version), "")
    return [
        f"PostgreSQL {version or '(not run)'} in a throw-away cluster per corpus size, started by "
        "the bench with `.ci/pg-start` in `bench/scratch/` (the test suite's: trust "
        "authentication on 127.0.0.1, `fsync`, `synchronous_commit` and `full_page_writes` "
        "off, so commits cost no disk flush; SQLite's archive runs with its own defaults) and "
        "stopped at the end of the size. Each ingest goes into a new database: `listarchive "
        "init`, then `listarchive ingest --list bench --json` with the search index on, as for "
        "SQLite. *1 worker*: the whole corpus in one process. *2 workers*: the corpus dealt "
        "into two mboxrd files by alternate messages, one `listarchive ingest` on each, started "
        "together into one archive (one database, one data folder for the search index); wall "
        "time from the start of the first to the end of the last, peak RSS the larger worker's. "
        "SQLite's 2-worker figure is the same pair of processes on one SQLite file. Peak RSS is "
        "the ingest processes' own: PostgreSQL's server processes are not in it. Disk: "
        "`pg_database_size` plus the data folder (the search index). Pages: the 2-worker "
        "archive served exactly as the SQLite one (2 workers, its web servers "
        "following the database into their search index), measured in the same run by the "
        "same load client, one server at a time; public-inbox has one writer per inbox, so "
        "it has no 2-worker figure.",
    ]
