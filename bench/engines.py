"""Issue 8's engine figures: the search index built alone, with each of the two Whoosh packages.

Both packages install the same ``whoosh`` module, so the one not in the venv is installed with
``pip --target`` into the scratch folder and put first on ``PYTHONPATH`` for its runs. Each run
copies the search-off archive of the corpus, rebuilds its index with ``listarchive reindex
--search`` (a child process: wall, CPU seconds, peak RSS), and then answers the run's query mix
in one process through ``listarchive.search.whooshindex`` (engine time only: no page, no HTTP), so the two
packages are compared on the same documents and the same queries. With both packages, each is
built twice in the order A B B A and reported as the mean of its two runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bench.ours import BIN
from bench.system import du, run_measured, say

ORIGINAL = "whoosh==2.7.4"  # the last release of the original package (2016)
INSTALLED = "whoosh-reloaded"  # the fork the project depends on (pyproject.toml)

# Run in the child: times every query of the mix against the rebuilt index, prints JSON.
_PROBE = """
import json, sys, time, whoosh
from pathlib import Path
from listarchive.search import query, whooshindex
index = whooshindex.SearchIndex.open(Path(sys.argv[1]), create=False)
queries = json.loads(Path(sys.argv[2]).read_text())
index.search(query.parse_query("clk"))
times, totals = [], []
for rounds in range(2):
    for q in queries:
        start = time.perf_counter()
        result = index.search(query.parse_query(q), per_page=50)
        times.append((time.perf_counter() - start) * 1000)
        totals.append(result.total)
times.sort()
print(json.dumps({"version": whoosh.versionstring(), "n": len(times),
                  "p50": times[len(times) // 2], "p95": times[int(len(times) * 0.95)],
                  "matches": sum(totals[:len(queries)])}))
"""


@dataclass
class EngineResult:
    package: str
    version: str = ""
    ok: bool = False
    error: str = ""
    messages: int = 0
    wall: float = 0.0
    cpu: float = 0.0
    max_rss_mb: float = 0.0
    index_bytes: int = 0
    raw_bytes: int = 0
    queries: int = 0
    p50: float = 0.0
    p95: float = 0.0
    matches: int = 0  # hits summed over the mix: both packages must agree
    builds: int = 1  # how many builds the figures are the mean of

    @property
    def rate(self) -> float:
        return self.messages / self.wall if self.ok and self.wall else 0.0


@dataclass
class EngineRun:
    size: str
    results: list[EngineResult] = field(default_factory=list)


def _original(scratch: Path) -> Path | str:
    """A folder holding the original ``whoosh`` package, or an error message."""
    target = scratch / "whoosh-original"
    if (target / "whoosh" / "__init__.py").exists():
        return target
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                           "--target", str(target), ORIGINAL],
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        return f"pip install {ORIGINAL} failed: {done.stderr.strip()[-300:]}"
    return target


def _one(package: str, source: Path, queries: Path, home: Path, raw_bytes: int,
         pythonpath: Path | None) -> EngineResult:
    res = EngineResult(package, raw_bytes=raw_bytes)
    db = source / "data" / "listarchive.sqlite3"
    if not db.exists():
        res.error = f"no search-off archive at {source}"
        return res
    if home.exists():
        shutil.rmtree(home)
    (home / "data").mkdir(parents=True)
    shutil.copy2(db, home / "data" / db.name)
    cfg = home / "listarchive.toml"
    cfg.write_text(f'[storage]\ndata_dir = "{home / "data"}"\n\n[search]\nenabled = true\n',
                   encoding="utf-8")
    env = None
    if pythonpath is not None:
        env = dict(os.environ, PYTHONPATH=str(pythonpath), PYTHONWARNINGS="ignore")
    say(f"search index build alone with {package}")
    m = run_measured([str(BIN / "listarchive"), "-c", str(cfg), "reindex", "--search"],
                     env=env, timeout=3600)
    if m.returncode != 0:
        res.error = f"reindex --search exit {m.returncode}: {m.stderr.strip()[-300:]}"
        return res
    res.wall, res.cpu, res.max_rss_mb = m.wall, m.cpu, m.max_rss_mb
    try:
        res.messages = int(m.stdout.split()[1])
    except (IndexError, ValueError):
        res.error = f"unexpected output: {m.stdout[:200]}"
        return res
    res.index_bytes = du(home / "data" / "search")
    probe = subprocess.run([str(BIN / "python"), "-c", _PROBE, str(home / "data" / "search"),
                            str(queries)], capture_output=True, text=True, env=env,
                           timeout=1800)
    if probe.returncode != 0:
        res.error = f"query probe failed: {probe.stderr.strip()[-300:]}"
        return res
    found = json.loads(probe.stdout.strip().splitlines()[-1])
    res.version = found["version"]
    res.queries, res.p50, res.p95 = found["n"], found["p50"], found["p95"]
    res.matches = found["matches"]
    res.ok = True
    say(f"  {res.rate:.0f} msg/s, query p95 {res.p95:.1f} ms ({res.version})")
    return res


def measure(size: str, source: Path, queries: list[str], raw_bytes: int,
            scratch: Path, original: bool = True) -> EngineRun:
    """Build the index of ``source`` (a search-off archive) with each package (only the
    installed one without ``original``); time the mix."""
    run = EngineRun(size)
    qfile = scratch / f"queries-{size}.json"
    qfile.write_text(json.dumps(queries), encoding="utf-8")
    mine = scratch / f"engine-{size}-reloaded"
    found = _original(scratch) if original else None
    if found is None:
        run.results.append(_one(INSTALLED, source, qfile, mine, raw_bytes, None))
    elif isinstance(found, str):
        run.results.append(_one(INSTALLED, source, qfile, mine, raw_bytes, None))
        run.results.append(EngineResult("whoosh", error=found))
    else:
        # Whichever build runs first on a freshly copied archive is slower (the page cache,
        # the machine's other work): both packages are built twice, in the order A B B A, and
        # each is reported as the mean of its two builds.
        theirs = scratch / f"engine-{size}-original"
        first = _one(INSTALLED, source, qfile, mine, raw_bytes, None)
        second = _one("whoosh", source, qfile, theirs, raw_bytes, found)
        third = _one("whoosh", source, qfile, theirs, raw_bytes, found)
        fourth = _one(INSTALLED, source, qfile, mine, raw_bytes, None)
        run.results += [mean(first, fourth), mean(second, third)]
    for home in (scratch / f"engine-{size}-reloaded", scratch / f"engine-{size}-original"):
        shutil.rmtree(home, ignore_errors=True)  # a copy of the archive: gigabytes at 100k
    return run


def mean(a: EngineResult, b: EngineResult) -> EngineResult:
    """One figure from two builds of the same package: times averaged, the larger RSS and
    index; a failed build makes the pair failed."""
    if not (a.ok and b.ok):
        return a if not a.ok else b
    return EngineResult(
        a.package, a.version, True, "", a.messages, (a.wall + b.wall) / 2, (a.cpu + b.cpu) / 2,
        max(a.max_rss_mb, b.max_rss_mb), max(a.index_bytes, b.index_bytes), a.raw_bytes,
        a.queries + b.queries, (a.p50 + b.p50) / 2, (a.p95 + b.p95) / 2, a.matches,
        builds=a.builds + b.builds)


def from_dict(data: dict[str, object] | None) -> EngineRun | None:
    if not data:
        return None
    found = data.get("results", [])
    results = [EngineResult(**r) for r in found if isinstance(r, dict)] if isinstance(
        found, list) else []
    return EngineRun(str(data.get("size", "")), results)
