"""Per-message ingest cost on pathological mail (bench/hostilemail.py), next to as many normal
messages of the run's corpus, each delivered alone as a mail server delivers it
(``listarchive ingest --list hostile --json -``). The figure is the ingest's own ``seconds``
(from opening the archive to the commit and the search catch-up), so interpreter start-up, the
same for both, is left out."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from statistics import median

from bench.corpus import split_mboxrd, unescape_mboxrd
from bench.hostilemail import messages
from bench.ours import BIN


@dataclass
class HostileRun:
    normal_ms: list[float] = field(default_factory=list)
    hostile: list[tuple[str, float, str]] = field(default_factory=list)  # what, ms, outcome
    error: str = ""

    def normal_median(self) -> float:
        return median(self.normal_ms) if self.normal_ms else 0.0


def _deliver(config: Path, raw: bytes) -> tuple[float, str]:
    done = subprocess.run([str(BIN / "listarchive"), "-c", str(config), "ingest", "--list",
                           "hostile", "--json", "-"], input=raw, capture_output=True, timeout=900)
    if done.returncode:
        return 0.0, f"exit {done.returncode}"
    summary = json.loads(done.stdout.decode().splitlines()[-1])
    outcome = "quarantined" if summary["quarantined"] else "stored"
    return float(summary["seconds"]) * 1000, outcome


def measure(mbox: Path, scratch: Path) -> HostileRun:
    home = scratch / "hostile"
    home.mkdir(parents=True, exist_ok=True)
    for old in home.glob("instance*"):
        subprocess.run(["rm", "-rf", str(old)], check=False)
    config = home / "listarchive.toml"
    config.write_text(f'[storage]\ndata_dir = "{home / "instance"}"\n[search]\nenabled = true\n')
    run = HostileRun()
    hostile = list(messages())
    try:
        with mbox.open("rb") as stream:
            for raw in islice(split_mboxrd(stream), len(hostile)):
                ms, outcome = _deliver(config, unescape_mboxrd(raw))
                if outcome == "stored":
                    run.normal_ms.append(ms)
        for what, raw in hostile:
            ms, outcome = _deliver(config, raw)
            run.hostile.append((what, ms, outcome))
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        run.error = f"{type(exc).__name__}: {exc}"
    return run
