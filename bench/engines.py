"""The search engines side by side on the same documents: tantivy (the default) and Whoosh.

Each engine's run copies the search-off archive of the corpus, writes a config naming the
engine (``[search] engine = ...``), rebuilds the index with ``listarchive reindex --search`` (a
child process: wall, CPU seconds, peak RSS) and then answers the run's query mix in one child
process through ``listarchive.search.engine`` (engine time only: no page, no HTTP), so both are
compared on the same documents and the same queries; public-inbox's Xapian index of the same
corpus is the third row (from its ingest). The Whoosh copy is kept for the search page's load
test (served like the default archive) and removed by :func:`discard`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from bench.ours import BIN, LIST, NO_LIMITS
from bench.system import du, run_measured, say

ENGINES = ("tantivy", "whoosh")
DEFAULT = "tantivy"  # what `listarchive` uses without `[search] engine` (the search-on ingest)

# Run in the child: times every query of the mix against the rebuilt index, prints JSON.
_PROBE = """
import json, sys, time
from pathlib import Path
from listarchive import settings
from listarchive.search import engine
from listarchive.search.queryparser import parse_query
s = settings.load(sys.argv[1])
index = engine.open_reader(s)
queries = json.loads(Path(sys.argv[2]).read_text())
index.search(parse_query("clk"))
times, totals = [], []
for rounds in range(2):
    for q in queries:
        start = time.perf_counter()
        result = index.search(parse_query(q), per_page=50)
        times.append((time.perf_counter() - start) * 1000)
        totals.append(result.total)
times.sort()
print(json.dumps({"n": len(times), "p50": times[len(times) // 2],
                  "p95": times[int(len(times) * 0.95)], "max": times[-1],
                  "matches": sum(totals[:len(queries)])}))
"""


@dataclass
class EngineResult:
    engine: str
    ok: bool = False
    error: str = ""
    messages: int = 0
    wall: float = 0.0
    cpu: float = 0.0
    max_rss_mb: float = 0.0
    max_anon_mb: float = 0.0
    index_bytes: int = 0
    raw_bytes: int = 0
    queries: int = 0
    p50: float = 0.0
    p95: float = 0.0
    slowest: float = 0.0
    matches: int = 0  # hits summed over the mix

    @property
    def rate(self) -> float:
        return self.messages / self.wall if self.ok and self.wall else 0.0


@dataclass
class EngineRun:
    size: str
    results: list[EngineResult] = field(default_factory=list)
    served: dict[str, str] = field(default_factory=dict)  # engine -> data folder kept to serve

    def result(self, engine: str) -> EngineResult | None:
        return next((r for r in self.results if r.engine == engine and r.ok), None)


def home_of(scratch: Path, size: str, engine: str) -> Path:
    return scratch / f"engine-{size}-{engine}"


def write_config(home: Path, engine: str) -> Path:
    cfg = home / "listarchive.toml"
    cfg.write_text(f'[storage]\ndata_dir = "{home / "data"}"\n\n[search]\nenabled = true\n'
                   f'engine = "{engine}"\n\n{NO_LIMITS}[[lists]]\nname = "{LIST}"\n',
                   encoding="utf-8")
    return cfg


def _one(engine: str, source: Path, queries: Path, home: Path, raw_bytes: int) -> EngineResult:
    res = EngineResult(engine, raw_bytes=raw_bytes)
    db = source / "data" / "listarchive.sqlite3"
    if not db.exists():
        res.error = f"no search-off archive at {source}"
        return res
    if home.exists():
        shutil.rmtree(home)
    (home / "data").mkdir(parents=True)
    shutil.copy2(db, home / "data" / db.name)
    cfg = write_config(home, engine)
    say(f"search index build alone with {engine}")
    m = run_measured([str(BIN / "listarchive"), "-c", str(cfg), "reindex", "--search"],
                     timeout=3600)
    if m.returncode != 0:
        res.error = f"reindex --search exit {m.returncode}: {m.stderr.strip()[-300:]}"
        return res
    res.wall, res.cpu, res.max_rss_mb, res.max_anon_mb = m.wall, m.cpu, m.max_rss_mb, m.max_anon_mb
    try:
        res.messages = int(m.stdout.split()[1])
    except (IndexError, ValueError):
        res.error = f"unexpected output: {m.stdout[:200]}"
        return res
    res.index_bytes = du(home / "data" / "search")
    probe = subprocess.run([str(BIN / "python"), "-c", _PROBE, str(cfg), str(queries)],
                           capture_output=True, text=True, timeout=1800)
    if probe.returncode != 0:
        res.error = f"query probe failed: {probe.stderr.strip()[-300:]}"
        return res
    found = json.loads(probe.stdout.strip().splitlines()[-1])
    res.queries, res.p50, res.p95 = found["n"], found["p50"], found["p95"]
    res.slowest, res.matches = found["max"], found["matches"]
    res.ok = True
    say(f"  {res.rate:.0f} msg/s, query p95 {res.p95:.2f} ms")
    return res


def measure(size: str, source: Path, queries: list[str], raw_bytes: int,
            scratch: Path) -> EngineRun:
    """Build the index of ``source`` (a search-off archive) with each engine and time the mix;
    the Whoosh copy is kept to be served (see :func:`discard`)."""
    run = EngineRun(size)
    qfile = scratch / f"queries-{size}.json"
    qfile.write_text(json.dumps(queries), encoding="utf-8")
    for engine in ENGINES:
        home = home_of(scratch, size, engine)
        result = _one(engine, source, qfile, home, raw_bytes)
        run.results.append(result)
        if result.ok and engine != DEFAULT:
            run.served[engine] = str(home)
        else:
            shutil.rmtree(home, ignore_errors=True)  # a copy of the archive: gigabytes at 100k
    return run


def discard(run: EngineRun) -> None:
    for home in run.served.values():
        shutil.rmtree(home, ignore_errors=True)


def from_dict(data: dict[str, object] | None) -> EngineRun | None:
    if not data:
        return None
    found = data.get("results", [])
    known = set(EngineResult.__dataclass_fields__)
    results = [EngineResult(**{k: v for k, v in r.items() if k in known})
               for r in found if isinstance(r, dict) and "engine" in r] if isinstance(
        found, list) else []
    served = data.get("served", {})
    return EngineRun(str(data.get("size", "")), results,
                     dict(served) if isinstance(served, dict) else {})
