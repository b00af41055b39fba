"""Page latency under load: wrk with a Lua script that rotates through a fixed URL list.

Every server gets the same paths, in the same order, from the same client, at the same
concurrency, for the same fixed duration, on 127.0.0.1 only. A URL is first fetched once from
each server; a server that answers an error for more than ``MAX_FAILED`` of a page's URLs has
that row recorded as not available, otherwise the URLs that failed on any server are dropped
for all, so they always answer the same requests. A server may be measured on some pages only
(listarchive on its second search engine: the search page).
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.system import say

CONCURRENCY = (1, 8, 32)
MAX_FAILED = 0.10

# Each wrk thread starts at its own offset in the list and walks it round-robin; done() prints
# one JSON line (latencies in microseconds).
WRK_LUA = r"""
local paths = {}
local i = 0
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
function init(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  i = ((tid or 0) * 97) % #paths
end
function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"status":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"timeout":%d,"p50":%d,"p95":%d,"p99":%d,"mean":%.1f,"max":%d}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.mean, latency.max))
end
"""


@dataclass(frozen=True)
class Page:
    """A row of the latency table: a kind of page and the paths (under the list) to request."""

    name: str
    paths: tuple[str, ...]


@dataclass
class LoadResult:
    server: str
    page: str
    concurrency: int
    ok: bool = False
    error: str = ""
    urls: int = 0
    requests: int = 0
    rps: float = 0.0
    p50: float = 0.0
    p95: float = 0.0
    p99: float = 0.0
    failed: int = 0


@dataclass
class Server:
    """A running server under test (``port`` 0 and ``error`` set when it is not available)."""

    name: str
    port: int
    error: str = ""
    probe_failures: dict[str, str] = field(default_factory=dict)
    pages: tuple[str, ...] = ()  # the pages it is measured on; empty: every page

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def serves(self, page: str) -> bool:
        return not self.pages or page in self.pages


def probe(server: Server, path: str) -> int:
    """HTTP status of one GET (0 when the connection fails)."""
    try:
        with urllib.request.urlopen(server.url(path), timeout=30) as resp:
            resp.read()
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (OSError, ValueError):
        return 0


def usable_paths(page: Page, servers: Sequence[Server]) -> tuple[list[str], dict[str, str]]:
    """Paths that answer 200 on every available server; per-server reasons for unavailability."""
    keep = list(page.paths)
    unavailable: dict[str, str] = {}
    for server in servers:
        if server.error:
            unavailable[server.name] = server.error
            continue
        statuses = {p: probe(server, p) for p in page.paths}
        bad = [p for p, s in statuses.items() if s != 200]
        if len(bad) > MAX_FAILED * len(page.paths):
            codes = sorted({statuses[p] for p in bad})
            unavailable[server.name] = (f"not available: HTTP {'/'.join(map(str, codes))} "
                                        f"on {len(bad)} of {len(page.paths)} URLs "
                                        f"(e.g. {bad[0][:80]})")
        else:
            keep = [p for p in keep if p not in bad]
    return keep, unavailable


def run_wrk(server: Server, paths: Sequence[str], concurrency: int, seconds: int,
            work: Path) -> LoadResult:
    """One bounded wrk run (fixed duration) over ``paths``."""
    res = LoadResult(server.name, "", concurrency, urls=len(paths))
    work.mkdir(parents=True, exist_ok=True)
    script = work / "rotate.lua"
    script.write_text(WRK_LUA)
    listing = work / f"paths-{server.name}.txt"
    listing.write_text("".join(p + "\n" for p in paths))
    threads = min(concurrency, 2)
    # An archive built just before is still being written back to disk; reads behind that
    # writeback stall. Each measurement starts once the kernel has flushed it, so neither
    # server pays for the other's (or its own) ingest.
    os.sync()
    argv = ["wrk", "-t", str(threads), "-c", str(concurrency), "-d", f"{seconds}s",
            "--timeout", "10s", "-s", str(script), server.url("/"), "--", str(listing)]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        res.error = "wrk did not finish"
        return res
    line = next((ln for ln in reversed(out.stdout.splitlines()) if ln.startswith("{")), "")
    if not line:
        res.error = f"wrk: {(out.stderr or out.stdout).strip()[-200:]}"
        return res
    data = json.loads(line)
    res.requests = int(data["requests"])
    res.failed = sum(int(data[k]) for k in ("status", "connect", "read", "write", "timeout"))
    res.rps = res.requests / (data["duration_us"] / 1e6) if data["duration_us"] else 0.0
    res.p50, res.p95, res.p99 = (data[k] / 1000.0 for k in ("p50", "p95", "p99"))
    if res.requests == 0:
        res.error = "no request completed"
    elif res.failed > res.requests * MAX_FAILED:
        res.error = f"{res.failed} of {res.requests} requests failed"
    else:
        res.ok = True
    return res


def measure(pages: Sequence[Page], servers: Sequence[Server], seconds: int,
            work: Path) -> list[LoadResult]:
    """Every page at every concurrency on every server measured on it (servers take turns,
    never overlap)."""
    results: list[LoadResult] = []
    for page in pages:
        on = [server for server in servers if server.serves(page.name)]
        paths, unavailable = usable_paths(page, on)
        for server in on:
            for conc in CONCURRENCY:
                if server.name in unavailable or not paths:
                    reason = unavailable.get(server.name, "no URL answered on both servers")
                    results.append(LoadResult(server.name, page.name, conc, error=reason))
                    continue
                say(f"wrk {server.name} {page.name} c={conc} ({len(paths)} URLs, {seconds} s)")
                res = run_wrk(server, paths, conc, seconds, work)
                res.page = page.name
                results.append(res)
    return results
