"""PNG plots for BENCHMARKS.md: ingest rate against archive size, latency per page."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from bench.load import CONCURRENCY  # noqa: E402
from bench.results import Run  # noqa: E402

COLOURS = {"listarchive": "#1f77b4", "listarchive-whoosh": "#9ecae1",
           "listarchive-postgresql": "#2ca02c", "public-inbox": "#d62728"}
LABELS = {"listarchive-whoosh": "listarchive on Whoosh",
          "listarchive-postgresql": "listarchive on PostgreSQL"}


def _ingest(run: Run, path: Path) -> bool:
    series: dict[str, list[tuple[int, float]]] = {}
    for sr in run.sizes:
        runs = [*sr.ours, *(r for r in (sr.peer_basic, sr.peer) if r)]
        for r in runs:
            if r.ok:
                series.setdefault(f"{r.system} ({r.label})", []).append((sr.messages, r.rate))
    if not series:
        return False
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, points in series.items():
        xs, ys = zip(*sorted(points), strict=True)
        colour = COLOURS["public-inbox" if name.startswith("public") else "listarchive"]
        lean = "off" in name or "basic" in name  # no search index: hollow squares, dashed
        ax.plot(xs, ys, "--" if lean else "-", marker="s" if lean else "o",
                mfc="none" if lean else colour, color=colour, label=name)
    ax.set_xscale("log")
    ax.set_xlabel("messages in the archive (fresh ingest)")
    ax.set_ylabel("messages / s (wall)")
    ax.set_ylim(bottom=0)
    ax.set_title("Ingest rate against archive size")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _latency(run: Run, path: Path) -> bool:
    sr = max(run.sizes, key=lambda s: s.messages)
    pages = list(dict.fromkeys(r.page for r in sr.load))
    if not pages or not any(r.ok for r in sr.load):
        return False
    fig, axes = plt.subplots(1, len(CONCURRENCY), figsize=(13, 4.2), sharey=True)
    servers = [s for s in COLOURS if any(r.server == s and r.ok for r in sr.load)]
    width = 0.8 / max(1, len(servers))
    for ax, conc in zip(axes, CONCURRENCY, strict=True):
        for k, server in enumerate(servers):
            xs, p95, low, high = [], [], [], []
            for i, page in enumerate(pages):
                r = sr.latency(server, page, conc)
                if r is None or not r.ok:
                    continue
                xs.append(i + (k - (len(servers) - 1) / 2) * width)
                p95.append(r.p95)
                low.append(r.p95 - r.p50)
                high.append(r.p99 - r.p95)
            if xs:
                ax.bar(xs, p95, width, color=COLOURS[server],
                       label=f"{LABELS.get(server, server)} p95",
                       yerr=[low, high], capsize=3, ecolor="black")
        ax.set_xticks(range(len(pages)), pages, rotation=30, ha="right")
        ax.set_yscale("log")
        ax.set_title(f"{conc} concurrent client{'s' if conc > 1 else ''}")
        ax.grid(True, axis="y", alpha=0.3)
    axes[0].set_ylabel("latency, ms (bar p95, whiskers p50..p99)")
    axes[0].legend()
    fig.suptitle(f"Page latency, {sr.size} corpus ({sr.messages:,} messages)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def draw(run: Run, folder: Path) -> list[Path]:
    """Write the plots that have data; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, fn in (("ingest-rate.png", _ingest), ("latency.png", _latency)):
        path = folder / name
        if fn(run, path):
            out.append(path)
        elif path.exists():
            path.unlink()
    return out
