"""The bench report's "PostgreSQL beside SQLite" section: figures from the run, ratios and
targets computed from them, and results.json of runs before the column still loading."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from bench.load import LoadResult
from bench.ours import IngestResult
from bench.postgres import SERVER, PgRun, from_dict
from bench.report_pg import PAGES, section
from bench.results import Run, SizeRun, load_run

pytestmark = pytest.mark.pure


def _ingest(system: str, label: str, wall: float, rss: float) -> IngestResult:
    return IngestResult(system, label, 1000, 4_000_000, ok=True, wall=wall, cpu=wall,
                        max_rss_mb=rss, stored=1000, disk={"database": 8_000_000})


def _load(server: str, p95: float, rps: float) -> list[LoadResult]:
    return [LoadResult(server, page, conc, ok=True, urls=10, requests=100, rps=rps, p50=p95 / 2,
                       p95=p95, p99=p95 * 2) for page in PAGES for conc in (1, 8, 32)]


SQLITE_ONE = _ingest("listarchive", "search on", 2.0, 200)  # 500 msg/s
SQLITE_TWO = _ingest("listarchive", "search on, 2 workers", 2.5, 190)  # 400 msg/s
PEER = _ingest("public-inbox", "full", 10.0, 300)  # 100 msg/s
PG = PgRun("small", version="15.18", one=_ingest("listarchive on PostgreSQL", "search on", 2.5, 150),
           two=_ingest("listarchive on PostgreSQL", "search on, 2 workers", 1.6, 140),
           served="/tmp/x")
LOAD = [*_load("listarchive", 10.0, 200.0), *_load(SERVER, 12.0, 180.0),
        *_load("public-inbox", 20.0, 100.0)]


def _row(lines: list[str], start: str) -> list[str]:
    found = next(line for line in lines if line.startswith(f"| {start} |"))
    return [cell.strip() for cell in found.strip("|").split("|")]


def test_section_puts_the_three_systems_side_by_side() -> None:
    lines = section(PG, SQLITE_ONE, SQLITE_TWO, PEER, LOAD)
    assert _row(lines, "ingest, msg/s, 1 worker") == ["ingest, msg/s, 1 worker", "500", "400",
                                                      "100", "0.80x", ""]
    two = _row(lines, "ingest, msg/s, 2 workers at once")
    assert two[1:5] == ["400", "625", "n/a", "1.56x"]
    assert two[5] == "two workers >= SQLite's best (500): met"
    assert _row(lines, "message: p95 ms, 8 clients")[1:] == ["10.0", "12.0", "20.0", "1.20x",
                                                            "<= 1.3x SQLite's: met"]
    assert _row(lines, "search: requests/s, 32 clients")[1:5] == ["200.0", "180.0", "100.0",
                                                                 "0.90x"]
    assert any("pages with p95 within 1.3x of SQLite's: 5 of 5 measured" in line
               for line in lines)


def test_a_slower_column_is_not_yet_met() -> None:
    slow = PgRun("small", one=PG.one, two=_ingest("listarchive on PostgreSQL",
                                                  "search on, 2 workers", 4.0, 140))
    load = [*_load("listarchive", 10.0, 200.0), *_load(SERVER, 14.0, 150.0)]
    lines = section(slow, SQLITE_ONE, SQLITE_TWO, None, load)
    assert _row(lines, "ingest, msg/s, 2 workers at once")[5].endswith(": not yet")
    assert _row(lines, "list index: p95 ms, 8 clients")[5] == "<= 1.3x SQLite's: not yet"
    assert _row(lines, "list index: p95 ms, 8 clients")[3] == "n/a"


def test_a_column_not_run_says_why_and_old_results_say_so() -> None:
    lines = section(PgRun("small", error="not run: PostgreSQL is not installed"), SQLITE_ONE,
                    None, PEER, _load("listarchive", 10.0, 200.0))
    assert lines[0] == "PostgreSQL column not run: PostgreSQL is not installed."
    assert _row(lines, "message: p95 ms, 8 clients")[2] == "n/a"
    assert section(None, SQLITE_ONE, None, PEER, [])[0].startswith("Not measured")


def test_results_json_round_trip_and_older_results(tmp_path: Path) -> None:
    assert from_dict(json.loads(json.dumps(asdict(PG)))) == PG
    assert from_dict(None) is None
    run = Run("small", {}, [], 3, sizes=[SizeRun("small", 1000, 4_000_000, ours=[SQLITE_ONE],
                                                 load=LOAD, postgres=PG)])
    saved = tmp_path / "results.json"
    saved.write_text(json.dumps(asdict(run), default=str))
    assert load_run(saved).sizes[0].postgres == PG
    older = asdict(run)
    del older["sizes"][0]["postgres"]
    saved.write_text(json.dumps(older, default=str))
    assert load_run(saved).sizes[0].postgres is None
