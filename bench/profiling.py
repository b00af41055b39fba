"""Profiles with pyinstrument: an ingest, and the slowest pages rendered in-process.

pyinstrument samples the main process only: work an ingest hands to a process pool shows up as
the time the main process waits for it. The pages are rendered through Flask's test client
(no HTTP server), so their profile is the application's own time.
"""

from __future__ import annotations

import os
import pstats
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.ours import BIN, LIST, write_config
from bench.system import run_measured, say

OUR_CODE = ("/listarchive/", "/ingest/", "/templates/")

# Renders each path of the list file through the test client; the status codes are printed so
# a profile of error pages is not mistaken for one of real pages.
PAGE_DRIVER = """
import collections, sys
from listarchive.web import create_app
client = create_app().test_client()
codes: collections.Counter[int] = collections.Counter()
with open(sys.argv[1], encoding="utf-8") as fh:
    for path in fh.read().splitlines():
        codes[client.get(path).status_code] += 1
print(dict(codes))
"""


@dataclass
class Profile:
    """Where the time goes: the top functions by own time and (our code) by total time."""

    subject: str
    count: int
    ok: bool = False
    error: str = ""
    wall: float = 0.0
    note: str = ""
    own: list[tuple[str, float]] = field(default_factory=list)
    total: list[tuple[str, float]] = field(default_factory=list)


def _frame_name(key: tuple[str, int, str]) -> str:
    filename, line, func = key
    parts = Path(filename).parts
    for anchor in ("listarchive", "ingest", "templates", "site-packages"):
        if anchor in parts:
            idx = len(parts) - 1 - parts[::-1].index(anchor)
            short = "/".join(parts[idx + (anchor == "site-packages"):])
            return f"{func} ({short}:{line})"
    return f"{func} ({Path(filename).name}:{line})"


def _summarise(res: Profile, path: Path, top: int) -> None:
    table = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    by_own = sorted(table.items(), key=lambda kv: kv[1][2], reverse=True)
    by_total = sorted(table.items(), key=lambda kv: kv[1][3], reverse=True)
    res.own = [(_frame_name(k), v[2]) for k, v in by_own[:top]]
    res.total = [(_frame_name(k), v[3]) for k, v in by_total
                 if any(part in k[0] for part in OUR_CODE) and not k[2].startswith("<")][:top]
    res.ok = True


def _pyinstrument(argv: Sequence[str], out: Path, env: dict[str, str] | None = None,
                  timeout: float = 1800) -> tuple[float, str, str]:
    """(wall seconds, error or "", last line of the program's output)."""
    pyi = BIN / "pyinstrument"
    if not pyi.exists():
        return 0.0, "pyinstrument is not installed", ""
    m = run_measured([str(pyi), "-r", "pstats", "-o", str(out), *argv], env=env,
                     timeout=timeout)
    last = (m.stdout.strip().splitlines() or [""])[-1]
    if m.returncode != 0 or not out.exists():
        return m.wall, m.failure(), last
    return m.wall, "", last


def ingest(mbox: Path, messages: int, home: Path, top: int = 15) -> Profile:
    """pyinstrument over ``listarchive ingest`` (search index on) into a fresh archive."""
    res = Profile("ingest", messages)
    exe = BIN / "listarchive"
    cfg = write_config(home, search=True)
    init = run_measured([str(exe), "-c", str(cfg), "init"], timeout=300)
    if init.returncode != 0:
        res.error = "init failed, " + init.failure()
        return res
    say(f"profiling listarchive ingest of {messages} messages with pyinstrument")
    out = home / "ingest.pstats"
    res.wall, res.error, res.note = _pyinstrument(
        [str(exe), "-c", str(cfg), "ingest", "--list", LIST, "--json", str(mbox)], out)
    if not res.error:
        _summarise(res, out, top)
    return res


def pages(home: Path, page_paths: Mapping[str, Sequence[str]], rounds: int = 30,
          top: int = 12) -> list[Profile]:
    """Each page's paths rendered ``rounds`` times in total, one profile per page."""
    out: list[Profile] = []
    driver = home / "render_pages.py"
    driver.write_text(PAGE_DRIVER)
    env = dict(os.environ, LISTARCHIVE_CONFIG=str(home / "listarchive.toml"))
    for name, paths in page_paths.items():
        if not paths:
            continue
        repeated = [paths[i % len(paths)] for i in range(max(rounds, len(paths)))]
        res = Profile(name, len(repeated))
        listing = home / "profile-paths.txt"
        listing.write_text("\n".join(repeated) + "\n", encoding="utf-8")
        stats = home / f"page-{len(out)}.pstats"
        say(f"profiling {len(repeated)} renders of the {name} page")
        res.wall, res.error, codes = _pyinstrument([str(driver), str(listing)], stats,
                                                   env=env, timeout=600)
        res.note = f"HTTP status counts {codes}"
        if not res.error:
            _summarise(res, stats, top)
        out.append(res)
    return out
