"""What one ``make bench`` run measured, per corpus size and as a whole, and how it comes back
from the ``results.json`` the run saved (``--report-only``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from bench import engines, postgres, review
from bench.engines import EngineResult, EngineRun
from bench.hostile import HostileRun
from bench.load import CONCURRENCY, LoadResult
from bench.ours import Incremental, IngestResult
from bench.postgres import PgRun
from bench.profiling import Profile
from bench.review import ReviewRun


@dataclass
class SizeRun:
    size: str
    messages: int
    raw_bytes: int
    facts_threads: list[tuple[str, int]] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    message_sample: int = 0
    ours: list[IngestResult] = field(default_factory=list)
    peer: IngestResult | None = None
    peer_basic: IngestResult | None = None
    load: list[LoadResult] = field(default_factory=list)
    incremental: Incremental | None = None
    postgres: PgRun | None = None  # absent from the results of runs before it was measured
    left_out: list[str] = field(default_factory=list)  # a lean size: what it did not measure

    def ours_with(self, search: bool) -> IngestResult | None:
        label = "search on" if search else "search off"
        return next((r for r in self.ours if r.label == label), None)

    def ours_with_workers(self, workers: int) -> IngestResult | None:
        """SQLite with search on, ``workers`` ingests at once into the one archive."""
        return next((r for r in self.ours if r.label == f"search on, {workers} workers"), None)

    def latency(self, server: str, page: str, conc: int) -> LoadResult | None:
        return next((r for r in self.load if r.server == server and r.page == page
                     and r.concurrency == conc), None)

    def behind(self, page: str) -> bool:
        """Our p95 is worse than public-inbox's at some concurrency (or theirs is missing)."""
        for conc in CONCURRENCY:
            o = self.latency("listarchive", page, conc)
            p = self.latency("public-inbox", page, conc)
            if o and o.ok and (p is None or not p.ok or o.p95 > p.p95):
                return True
        return False

    def xapian_rate(self) -> float | None:
        """public-inbox-index's rate on the corpus (msgmap, overview and Xapian at level full)."""
        pi = self.peer
        if pi is None or not pi.ok or not pi.steps.get("index"):
            return None
        return pi.messages / pi.steps["index"]


@dataclass
class Run:
    size_arg: str
    machine: dict[str, str]
    installed: list[str]
    wrk_seconds: int
    sizes: list[SizeRun] = field(default_factory=list)
    profile: Profile | None = None
    page_profiles: list[Profile] = field(default_factory=list)
    clk10k: IngestResult | None = None
    total_seconds: float = 0.0
    review: ReviewRun | None = None
    engines: list[EngineRun] = field(default_factory=list)
    hostile: HostileRun | None = None
    # The sizes ``--lean`` named (runs before it existed had its default).
    lean: list[str] = field(default_factory=lambda: ["1m"])

    def engine_result(self, size: str, engine: str) -> EngineResult | None:
        """The index ``engine`` built alone from the archive of the ``size`` corpus."""
        return next((r for e in self.engines if e.size == size
                     for r in [e.result(engine)] if r is not None), None)


def load_run(path: Path) -> Run:
    """A Run back from the ``results.json`` a run saved (for ``--report-only``)."""
    data = json.loads(path.read_text(encoding="utf-8"))

    def ingest(d: dict[str, object] | None) -> IngestResult | None:
        return IngestResult(**d) if d else None  # type: ignore[arg-type]

    def prof(d: dict[str, object] | None) -> Profile | None:
        if not d:
            return None
        d = dict(d)
        d["own"] = [tuple(x) for x in d["own"]]  # type: ignore[attr-defined]
        d["total"] = [tuple(x) for x in d["total"]]  # type: ignore[attr-defined]
        return Profile(**d)  # type: ignore[arg-type]

    sizes = []
    for s in data.pop("sizes"):
        s["ours"] = [ingest(r) for r in s["ours"]]
        s["peer"] = ingest(s.get("peer"))
        s["peer_basic"] = ingest(s.get("peer_basic"))
        s["load"] = [LoadResult(**r) for r in s["load"]]
        s["incremental"] = Incremental(**s["incremental"]) if s.get("incremental") else None
        s["postgres"] = postgres.from_dict(s.get("postgres"))
        s["facts_threads"] = [tuple(t) for t in s["facts_threads"]]
        sizes.append(SizeRun(**s))
    data["profile"] = prof(data.get("profile"))
    data["page_profiles"] = [prof(p) for p in data.get("page_profiles", [])]
    data["clk10k"] = ingest(data.get("clk10k"))
    data["review"] = review.from_dict(data.get("review"))
    data["engines"] = [e for e in (engines.from_dict(d) for d in data.get("engines", [])) if e]
    found = data.get("hostile")
    data["hostile"] = HostileRun(found["normal_ms"], [tuple(h) for h in found["hostile"]],
                                 found["error"]) if found else None
    return Run(sizes=sizes, **data)
