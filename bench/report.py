"""BENCHMARKS.md from one run: headline, ingest, latency, search, growth, profile, targets."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bench import engines, plots, postgres, report_pg, review
from bench.corpus import DATE_SHIFT_DAYS, REAL_SETS, SMALL_TAKE
from bench.engines import EngineRun
from bench.hostile import HostileRun
from bench.load import CONCURRENCY, LoadResult
from bench.ours import Incremental, IngestResult
from bench.postgres import PgRun
from bench.profiling import Profile
from bench.review import QueueResult, ReviewRun
from bench.tables import NA, ratio, table

NOTES = Path(__file__).resolve().parent / "notes.md"


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


def _mb(n: float) -> str:
    return f"{n / 1e6:,.0f} MB" if n >= 10e6 else f"{n / 1e6:,.1f} MB"


def _num(x: float, digits: int = 0) -> str:
    return f"{x:,.{digits}f}"


def _ms(r: LoadResult | None, attr: str) -> tuple[str, float | None]:
    if r is None:
        return NA, None
    if not r.ok:
        return NA, None
    value = float(getattr(r, attr))
    return (f"{value:,.1f}" if attr == "rps" else f"{value:.1f} ms"), value


def _headline(run: Run, sr: SizeRun) -> list[str]:
    on = sr.ours_with(True)
    off = sr.ours_with(False)
    pi = sr.peer
    rows: list[list[str]] = []

    def ingest_row(name: str, ours_v: float | None, peer_v: float | None, fmt: str,
                   better: str) -> None:
        o = fmt.format(ours_v) if ours_v else NA
        p = fmt.format(peer_v) if peer_v else NA
        rows.append([name, o, p, ratio(ours_v, peer_v), better])

    def rate(r: IngestResult | None, attr: str = "rate") -> float | None:
        return float(getattr(r, attr)) if r is not None and r.ok else None

    def disk(r: IngestResult | None) -> float | None:
        return sum(r.disk.values()) / sr.raw_bytes if r is not None and r.ok else None

    ingest_row("ingest, messages/s (wall, search index on)", rate(on), rate(pi), "{:,.0f}",
               "higher")
    ingest_row("ingest, messages per CPU-second", rate(on, "rate_cpu"), rate(pi, "rate_cpu"),
               "{:,.0f}", "higher")
    ingest_row("ingest, messages/s (no search index; peer: -L basic)", rate(off),
               rate(sr.peer_basic), "{:,.0f}", "higher")
    ingest_row("ingest, peak RSS (MB)", rate(on, "max_rss_mb"), rate(pi, "max_rss_mb"),
               "{:,.0f}", "lower")
    ingest_row("disk used / raw mail size", disk(on), disk(pi), "{:.2f}", "lower")
    for page in ("message", "thread (T/)", "list index", "t.mbox.gz", "search"):
        for conc, attr, label in ((8, "p95", "p95"), (32, "rps", "requests/s")):
            o_txt, o = _ms(sr.latency("listarchive", page, conc), attr)
            p_txt, p = _ms(sr.latency("public-inbox", page, conc), attr)
            better = "higher" if attr == "rps" else "lower"
            rows.append([f"{page}: {label}, {conc} clients", o_txt, p_txt, ratio(o, p), better])
    for conc, attr, label in ((8, "p95", "p95"), (32, "rps", "requests/s")):
        o_txt, o = _ms(sr.latency(WHOOSH_SERVER, "search", conc), attr)
        p_txt, p = _ms(sr.latency("public-inbox", "search", conc), attr)
        if o is not None:
            rows.append([f"search on the Whoosh engine: {label}, {conc} clients", o_txt, p_txt,
                         ratio(o, p), "higher" if attr == "rps" else "lower"])
    built = _engine_result(run, sr.size, engines.DEFAULT)
    xapian = _xapian_rate(sr)
    if built is not None:
        ingest_row("search index built alone, messages/s (peer: public-inbox-index, Xapian)",
                   built.rate, xapian, "{:,.0f}", "higher")
    head = [f"{sr.size} corpus: {sr.messages:,} messages, {_mb(sr.raw_bytes)}", "listarchive",
            "public-inbox", "ratio (ours / theirs)", "better is"]
    return table(head, rows)


WHOOSH_SERVER = "listarchive-whoosh"
SERVER_LABELS = {"listarchive": "ours", WHOOSH_SERVER: "ours on Whoosh",
                 postgres.SERVER: "ours on PostgreSQL", "public-inbox": "peer"}


def _engine_result(run: Run, size: str, engine: str) -> engines.EngineResult | None:
    return next((r for e in run.engines if e.size == size
                 for r in [e.result(engine)] if r is not None), None)


def _xapian_rate(sr: SizeRun) -> float | None:
    """public-inbox-index's rate on the corpus (msgmap, overview and Xapian at level full)."""
    pi = sr.peer
    if pi is None or not pi.ok or not pi.steps.get("index"):
        return None
    return pi.messages / pi.steps["index"]


def _ingest_section(sr: SizeRun) -> list[str]:
    rows = []
    runs = [*sr.ours, *(r for r in (sr.peer_basic, sr.peer) if r)]
    for r in runs:
        if not r.ok:
            rows.append([f"{r.system} ({r.label})", *([NA] * 9), f"failed: {r.error}"])
            continue
        disk = sum(r.disk.values())
        split = ", ".join(f"{k} {_mb(v)}" for k, v in r.disk.items() if v)
        if r.label == "search on" and not r.disk.get("search index"):
            split += " (no search index was written)"
        steps = ", ".join(f"{k} {v:.1f} s" for k, v in r.steps.items())
        rows.append([f"{r.system} ({r.label})", f"{r.messages:,}", f"{r.stored:,}",
                     f"{r.wall:.1f}", _num(r.rate), f"{r.cpu:.1f}", _num(r.rate_cpu),
                     _num(r.max_rss_mb), _mb(disk), f"{disk / r.raw_bytes:.2f}",
                     f"{split}; {steps}"])
    head = ["system", "messages in", "stored", "wall s", "msg/s", "CPU s", "msg/CPU-s",
            "peak RSS MB", "disk", "disk/raw", "details"]
    out = table(head, rows)
    for r in sr.ours:
        if r.summary:
            out.append(f"\n`listarchive ingest --json` ({r.label}): `{r.summary}`")
    if sr.incremental:
        inc = sr.incremental
        out.append("\nIncremental add (search on): " + (
            f"{inc.messages} new messages ingested in {inc.ingest_seconds:.1f} s; the last one "
            f"found by a search (`m:`) {inc.after_commit:.2f} s after the database committed "
            f"it, {inc.searchable_seconds:.1f} s after the ingest started." if inc.ok
            else f"not available ({inc.error})."))
    return out


def _latency_section(sr: SizeRun) -> list[str]:
    out: list[str] = []
    pages = list(dict.fromkeys(r.page for r in sr.load))
    for page in pages:
        servers = [name for name in SERVER_LABELS
                   if any(r.server == name and r.page == page for r in sr.load)]
        extra = [name for name in servers if name not in ("listarchive", "public-inbox")]
        rows = []
        for conc in CONCURRENCY:
            row = [str(conc)]
            p95: dict[str, float | None] = {}
            for server in servers:
                r = sr.latency(server, page, conc)
                if r is None or not r.ok:
                    row += [NA, NA, NA, NA]
                    p95[server] = None
                    continue
                row += [f"{r.p50:.1f}", f"{r.p95:.1f}", f"{r.p99:.1f}", f"{r.rps:,.1f}"]
                p95[server] = r.p95
            row += [ratio(p95.get(name), p95.get("public-inbox"))
                    for name in ("listarchive", *extra)]
            rows.append(row)
        urls = max((r.urls for r in sr.load if r.page == page), default=0)
        out.append(f"\n**{page}** ({urls} URLs rotated)\n")
        head = ["clients"]
        for server in servers:
            label = SERVER_LABELS[server]
            head += [f"{label} p50 ms", f"{label} p95", f"{label} p99", f"{label} req/s"]
        head += ["p95 ratio"] + [f"{SERVER_LABELS[name]} p95 ratio" for name in extra]
        out += table(head, rows)
        errors = {r.error for r in sr.load if r.page == page and r.error}
        for err in sorted(errors):
            out.append(f"\n- {err}")
    return out


def _growth(run: Run) -> list[str]:
    if len(run.sizes) < 2:
        return ["Only one size in this run; `make bench SIZE=scale` (10k, 100k) or "
                "`SIZE=10k,100k,1m` shows how each figure grows with the archive."]
    rows = []
    for sr in sorted(run.sizes, key=lambda s: s.messages):
        on = sr.ours_with(True)
        off = sr.ours_with(False)
        pi = sr.peer
        index = _engine_result(run, sr.size, engines.DEFAULT)
        slow = _engine_result(run, sr.size, "whoosh")

        def lat(server: str, page: str, sr: SizeRun = sr) -> str:
            r = sr.latency(server, page, 8)
            return f"{r.p95:.1f}" if r and r.ok else NA

        rows.append([sr.size, f"{sr.messages:,}",
                     _num(on.rate) if on and on.ok else NA,
                     _num(off.rate) if off and off.ok else NA,
                     _num(pi.rate) if pi and pi.ok else NA,
                     _num(index.rate) if index else NA,
                     f"{index.p95:.2f}" if index else NA,
                     f"{slow.p95:.1f}" if slow else NA,
                     _num(on.max_rss_mb) if on and on.ok else NA,
                     _num(pi.max_rss_mb) if pi and pi.ok else NA,
                     lat("listarchive", "message"), lat("public-inbox", "message"),
                     lat("listarchive", "search"), lat("public-inbox", "search")])
    return table(["size", "messages", "ours msg/s (search on)", "ours msg/s (off)",
                   "peer msg/s", "index alone msg/s (tantivy)", "engine query p95 ms (tantivy)",
                   "engine query p95 ms (Whoosh)", "ours RSS MB", "peer RSS MB",
                   "ours message p95 ms (c=8)",
                   "peer message p95", "ours search p95 ms (c=8)", "peer search p95"], rows)


def _profile_tables(prof: Profile) -> list[str]:
    out = ["Top functions by own time:", ""]
    out += table(["function", "own s"], [[f"`{n}`", f"{t:.2f}"] for n, t in prof.own])
    out += ["", "Our functions by total time (including callees):", ""]
    out += table(["function", "total s"], [[f"`{n}`", f"{t:.2f}"] for n, t in prof.total])
    return out


def _profile(run: Run) -> list[str]:
    prof = run.profile
    if prof is None:
        return ["Not run."]
    if not prof.ok:
        return [f"Ingest profile not available: {prof.error}"]
    out = [f"pyinstrument (statistical, main process only) over `listarchive ingest --json` of "
           f"the first {prof.count:,} messages of the corpus into a fresh archive with the "
           f"search index on; {prof.wall:.1f} s under the profiler (output: `{prof.note}`).", ""]
    out += _profile_tables(prof)
    for page in run.page_profiles:
        out += ["", f"### Page: {page.subject}", ""]
        if not page.ok:
            out.append(f"Not available: {page.error}")
            continue
        out += [f"{page.count} renders through Flask's test client in one process under "
                f"pyinstrument ({page.wall:.1f} s; {page.note}); profiled because our p95 is "
                "behind public-inbox's at some concurrency.", ""]
        out += _profile_tables(page)
    return out


def _targets(run: Run) -> list[str]:
    rows: list[list[str]] = []
    main = max(run.sizes, key=lambda s: s.messages)
    big = [s for s in run.sizes if s.messages >= 25_000]
    at25 = min(big, key=lambda s: s.messages) if big else None
    at100 = next((s for s in run.sizes if s.messages >= 100_000), None)

    def add(issue: str, target: str, value: float | None, limit: float, higher: bool,
            fmt: str, where: str) -> None:
        if value is None:
            rows.append([issue, target, "not yet (not measured)", NA, where])
            return
        met = value >= limit if higher else value < limit
        rows.append([issue, target, "met" if met else "not yet", fmt.format(value), where])

    clk = run.clk10k or next((s.ours_with(False) for s in run.sizes if s.size == "10k"), None)
    clk_rate = clk.rate if clk and clk.ok else None
    clk_where = "linux-clk 10k, search off" if clk else "not in this run (small size)"
    add("#2", "ingest >= 500 msg/s (linux-clk 10k, search off)", clk_rate, 500, True,
        "{:,.0f} msg/s", clk_where)
    rss = [r.max_rss_mb for s in run.sizes for r in s.ours if r.ok]
    if run.clk10k and run.clk10k.ok:
        rss.append(run.clk10k.max_rss_mb)
    add("#2", "ingest peak RSS < 300 MB at any size", max(rss) if rss else None, 300, False,
        "{:,.0f} MB", "largest over every ingest of this run")
    add("#3", "ingest >= 400 msg/s with patch/series extraction", clk_rate, 400, True,
        "{:,.0f} msg/s", clk_where + " (extraction always on)")
    for page in ("message", "thread (T/)", "list index", "t.mbox.gz"):
        r = at25.latency("listarchive", page, 8) if at25 else None
        add("#4", f"{page} p95 < 50 ms (>= 25k messages, 8 clients)",
            r.p95 if r and r.ok else None, 50, False, "{:.1f} ms",
            f"{at25.size} corpus" if at25 else "no corpus >= 25k in this run")
    q = run.review.queue if run.review else None
    worst = _worst_queue(q)
    q_value = worst.p95 if worst and q and q.open_patches >= 5000 else None
    add("#5", "subsystem queue page (5k open patches) p95 < 100 ms", q_value, 100, False,
        "{:.1f} ms",
        (f"{q.subsystem}, {q.open_patches:,} open patches; worst row at 8 clients: "
         f"{worst.page}" if q and worst and q_value is not None else
         f"only {q.open_patches:,} open patches (smaller run)" if q and worst else
         f"not measured: {q.error}" if q else "not in this run"))
    g = run.review.git_scan if run.review else None
    big_enough = bool(g and g.ok and g.first and g.commits >= 10_000
                      and g.archive_messages >= 25_000)
    add("#5", "git-scan of 10k commits against 25k messages < 30 s",
        g.first.wall if big_enough and g and g.first else None, 30, False, "{:.1f} s",
        (f"{g.commits:,} commits against {g.archive_messages:,} messages, first scan"
         if big_enough and g else
         f"only {g.commits:,} commits / {g.archive_messages:,} messages (smaller run)"
         if g and g.ok else f"not measured: {g.error}" if g else "not in this run"))
    r = at25.latency("listarchive", "search", 1) if at25 else None
    add("#8", "search p95 < 50 ms at 25k (query mix, 1 client)", r.p95 if r and r.ok else None,
        50, False, "{:.1f} ms", f"{at25.size} corpus" if at25 else "no corpus >= 25k")
    r = at100.latency("listarchive", "search", 1) if at100 else None
    add("#8", "search p95 < 150 ms at 100k (query mix, 1 client)",
        r.p95 if r and r.ok else None, 150, False, "{:.1f} ms",
        f"{at100.size} corpus" if at100 else "no 100k+ corpus in this run")
    built = _engine_result(run, main.size, engines.DEFAULT)
    on = main.ours_with(True)
    if built is not None:
        add("#8", "index build >= 600 msg/s (both cores)", built.rate, 600, True,
            "{:,.0f} msg/s", f"{main.size}: `listarchive reindex --search` (index alone)")
    else:
        add("#8", "index build >= 600 msg/s (both cores)", on.rate if on and on.ok else None,
            600, True, "{:,.0f} msg/s", f"{main.size}: whole ingest with search on (a lower bound)")
    inc = main.incremental
    add("#8", "incremental add of 100 messages: seconds until searchable",
        inc.searchable_seconds if inc and inc.ok else None, 10, False, "{:.1f} s",
        f"{main.size}; issue says 'within seconds', read as < 10 s")
    for page in ("interdiff", "patch with comments"):
        r = main.latency("listarchive", page, 8)
        add("#22", f"{page} p95 < 50 ms (8 clients)", r.p95 if r and r.ok else None, 50, False,
            "{:.1f} ms", f"{main.size} corpus, SQLite" + (f", {r.urls} URLs" if r else
                                                          ": no such page in the archive"))
    rows.extend(_search_targets(run))
    return table(["issue", "target", "status", "figure", "measured on"], rows)


TARGET_SIZES = ("default", "100k", "300k")  # 35k, 100k and 300k messages


def _search_targets(run: Run) -> list[list[str]]:
    """Issue 19's targets: tantivy's search against public-inbox's at 35k, 100k and 300k."""
    rows: list[list[str]] = []
    third = 1 / 3 + 1e-9

    def add(target: str, value: float | None, limit: float, higher: bool, fmt: str,
            where: str) -> None:
        if value is None:
            rows.append(["#19", target, "not yet (not measured)", NA, where])
            return
        met = value >= limit if higher else value <= limit
        rows.append(["#19", target, "met" if met else "not yet", fmt.format(value), where])

    by_size = {sr.size: sr for sr in run.sizes}
    for size in TARGET_SIZES:
        sr = by_size.get(size)
        where = f"{size} corpus" if sr else f"{size}: not in this run"
        for conc in CONCURRENCY:
            o = sr.latency("listarchive", "search", conc) if sr else None
            p = sr.latency("public-inbox", "search", conc) if sr else None
            add(f"search p95 <= 1/3 of public-inbox's, {conc} client{'s' if conc > 1 else ''}",
                o.p95 / p.p95 if o and p and o.ok and p.ok and p.p95 else None, third, False,
                "{:.2f}x", where)
        o = sr.latency("listarchive", "search", 32) if sr else None
        p = sr.latency("public-inbox", "search", 32) if sr else None
        add("search requests/s at 32 clients >= 3x public-inbox's",
            o.rps / p.rps if o and p and o.ok and p.ok and p.rps else None, 3, True,
            "{:.2f}x", where)
        built = _engine_result(run, size, engines.DEFAULT) if sr else None
        xapian = _xapian_rate(sr) if sr else None
        add("index build >= 3x public-inbox-index's (Xapian) rate",
            built.rate / xapian if built and xapian else None, 3, True, "{:.2f}x",
            f"{where}: `reindex --search` against `public-inbox-index`" if sr else where)
        add("index size <= 1x the raw mail",
            built.index_bytes / built.raw_bytes if built and built.raw_bytes else None,
            1 + 1e-9, False, "{:.2f}x", where)
        add("index build peak RSS < 400 MB", built.max_rss_mb if built else None,
            400 - 1e-9, False, "{:,.0f} MB", where)
    hundred, three = by_size.get("100k"), by_size.get("300k")
    growth = None
    if hundred and three:
        pairs = [(s.latency("listarchive", "search", 8), s.latency("public-inbox", "search", 8))
                 for s in (hundred, three)]
        if all(o and p and o.ok and p.ok for o, p in pairs):
            (o1, p1), (o3, p3) = pairs
            assert o1 and p1 and o3 and p3
            growth = (o3.p95 / o1.p95) / (p3.p95 / p1.p95)
    add("search p95 grows less than public-inbox's from 100k to 300k (8 clients)", growth,
        1 - 1e-9, False, "{:.2f}x (ours' growth / theirs)",
        "100k and 300k corpora" if growth is not None else "needs 100k and 300k in one run")
    main = max(run.sizes, key=lambda s: s.messages)
    inc = main.incremental
    add("a new message searchable within 1 s of its ingest committing",
        inc.after_commit if inc and inc.ok else None, 1.0, False, "{:.2f} s",
        f"{main.size}: 100 new messages, the last one polled every 10 ms")
    return rows


def _engines(run: Run) -> list[str]:
    rows = []
    for e in run.engines:
        sr = next((s for s in run.sizes if s.size == e.size), None)
        xapian = _xapian_rate(sr) if sr else None
        for r in e.results:
            if not r.ok:
                rows.append([e.size, r.engine, f"not measured: {r.error}", *([""] * 6)])
                continue
            rows.append([e.size, r.engine, f"{r.messages:,}",
                         f"{r.rate:,.0f} ({r.messages / r.cpu:,.0f} per CPU-s)" if r.cpu else NA,
                         ratio(r.rate, xapian), f"{r.max_rss_mb:,.0f} MB",
                         f"{_mb(r.index_bytes)} ({r.index_bytes / r.raw_bytes:.2f}x raw)"
                         if r.raw_bytes else _mb(r.index_bytes),
                         f"{r.p50:.2f} / {r.p95:.2f} / {r.slowest:.1f}", f"{r.matches:,}"])
        pi = sr.peer if sr else None
        if pi is not None and pi.ok and xapian:
            index_bytes = pi.disk.get("search index", 0)
            cpu = pi.steps.get("index cpu", 0.0)
            rows.append([e.size, "public-inbox (Xapian)", f"{pi.stored:,}",
                         f"{xapian:,.0f} ({pi.messages / cpu:,.0f} per CPU-s)" if cpu else NA,
                         "1.00x", f"{pi.max_rss_mb:,.0f} MB (import or index)",
                         f"{_mb(index_bytes)} ({index_bytes / pi.raw_bytes:.2f}x raw)",
                         "not measured alone", NA])
    return [
        "Each engine's index rebuilt from the search-off archive of the same corpus with "
        "`listarchive reindex --search` (`[search] engine = ...` in the copy's config; both "
        "cores: tantivy's two indexing threads beside the Python that builds the documents, "
        "Whoosh's two writer processes), one build each, tantivy first; then the run's query "
        "mix (every query twice, 50 results per page, newest first) answered in one process "
        "through `listarchive.search.engine`: engine time, no page rendering or HTTP. "
        "public-inbox's row is `public-inbox-index` of the same corpus (msgmap, overview and "
        "Xapian at level full; its import into git is not counted) from the ingest table; its "
        "queries are only measured through its pages. 'vs public-inbox-index' is the build "
        "rate's ratio. 'matches' sums the hits of the mix; the two engines differ slightly "
        "where their analyses do (see the notes).",
        "",
        *table(["corpus", "engine", "messages", "build msg/s (wall)", "vs public-inbox-index",
                 "peak RSS", "index size", "query p50 / p95 / slowest ms", "matches"], rows),
    ]


def _worst_queue(q: QueueResult | None) -> LoadResult | None:
    """The queue row with the highest p95 at 8 clients (what the target is held to)."""
    rows = [r for r in (q.load if q else []) if r.ok and r.concurrency == 8]
    return max(rows, key=lambda r: r.p95) if rows else None


def _review(rv: ReviewRun) -> list[str]:
    out = ["### Subsystem review queue", ""]
    q = rv.queue
    if q is None:
        out.append("Not run (`--skip-load`).")
    elif q.error and not q.load:
        out.append(f"Not available: {q.error}")
    else:
        clk = REAL_SETS[0]
        base = (f"the first {SMALL_TAKE[clk.name]:,} messages of {clk.name}" if q.small
                else f"{clk.name} (`{clk.file}`)")
        out += [
            f"A separate search-off archive: `listarchive init`, then `listarchive maintainers "
            f"import` of the kernel's MAINTAINERS (`../shared/corpora/kernel/MAINTAINERS`; "
            f"{q.sections}), then {base} ingested {q.copies} times (copy 0 is the real mail, "
            "copy k is rewritten as for the large corpora: `.copyk` Message-IDs, dates moved "
            f"back k x {DATE_SHIFT_DAYS} days), one copy at a time until a subsystem has at "
            f"least {q.min_open:,} open patches; {q.messages_read:,} messages read, "
            f"{q.messages_stored:,} stored, {q.ingest_seconds:.0f} s of ingest.",
            "",
            f"Measured: **{q.subsystem}** (`/s/{q.slug}/queue/`), the subsystem with the most "
            f"open patches once catch-alls (`THE REST`, sections whose file patterns start with "
            f"a glob) are left out: **{q.open_patches:,} open patches** (linked to the "
            "subsystem at any rank, state new or under-review, not archived; counted in the "
            f"archive's SQLite file) in **{q.queue_series:,} series** waiting (the page's own "
            "count; the queue lists series, 100 a page, oldest first). Served by gunicorn "
            "(2 sync workers) as for the other pages, loaded with wrk "
            f"(`bench/load.py`, {q.seconds} s per row and client count), anonymous "
            f"reader. Load average (1, 5, 15 min) when the load started: {q.load_average}.",
            "",
        ]
        rows = []
        for name, url in q.pages.items():
            for conc in sorted({r.concurrency for r in q.load}):
                r = q.latency(name, conc)
                if r is None or not r.ok:
                    rows.append([name, f"`{url}`", str(conc), NA, NA, NA, NA,
                                 r.error if r else "not run"])
                    continue
                rows.append([name, f"`{url}`", str(conc), f"{r.p50:.1f}", f"{r.p95:.1f}",
                             f"{r.p99:.1f}", f"{r.rps:,.1f}", ""])
        out += table(["row", "URL", "clients", "p50 ms", "p95 ms", "p99 ms", "req/s", "note"],
                      rows)
        if q.error:
            out += ["", f"Error: {q.error}"]
    out += ["", "### git-scan", ""]
    g = rv.git_scan
    if g is None:
        out.append("Not run.")
        return out
    if not g.first:
        out.append(f"Not available: {g.error}")
        return out
    out += [
        f"Archive: a copy of `bench/scratch/{g.archive}` (the {rv.size} corpus ingested with "
        f"search off earlier in the run, not ingested again): {g.archive_messages:,} messages, "
        f"{g.archive_patches:,} patches.",
        "",
        f"Repository: {g.commits:,} commits written by `git fast-import` "
        f"({g.build_seconds:.1f} s including reading the corpus): {g.patches_used:,} patches "
        "of the corpus picked at random (fixed seed) among those that can be rebuilt (no "
        "renames, mode changes, binary files or missing final newlines), in mailbox order, "
        "each as two commits. The first writes the patch's pre-image: every file as the "
        "hunks' context and removed lines, at their places relative to the file's start and "
        "to each other, unchanged stretches shortened to at most "
        f"{review.MAX_GAP} filler lines (new files deleted). The second writes the "
        "post-image, with the mail's author (the in-body "
        "`From:` when present), date, subject without its `[PATCH ...]` brackets and message, "
        "so its diff is the mail's diff and `git patch-id --stable` agrees with the archive's "
        "when git's diff lays out the hunks as the sender's did. Half the commits are real "
        "patches, the other half pre-image commits by another author.",
        "",
    ]
    rows = []
    for label, s in (("first scan", g.first), ("second scan, right after", g.second)):
        if s is None:
            continue
        if not s.ok:
            rows.append([label, NA, NA, NA, NA, NA, NA, s.error])
            continue
        rows.append([label, f"{s.wall:.2f}", f"{s.cpu:.2f}", _num(s.max_rss_mb),
                     f"{s.commits_read:,}", f"{s.matched:,}", f"{s.changed:,}", ""])
    out += table(["`listarchive git-scan REPO main`", "wall s", "CPU s", "peak RSS MB",
                   "commits read", "patches matched", "marked accepted", "note"], rows)
    out += ["", f"Accepted by the first scan, as recorded in the patches' state history: "
            f"{g.by_patch_id:,} matched by patch-id, {g.by_author_subject:,} by author and "
            "subject (fewer than the patches in the repository: a patch sent again unchanged, "
            "in a resend or a later revision, has the same patch-id, and the scan marks the "
            "newest of them). The second scan finds the branch tip it stored and reads nothing. "
            f"Load average before the first scan: {g.load_average}."]
    return out


def _method(run: Run, sr: SizeRun) -> list[str]:
    real = ", ".join(f"{r.name} ({r.count:,}, `{r.file}`)" for r in REAL_SETS)
    small = ", ".join(f"{n} {k}" for k, n in SMALL_TAKE.items())
    return [
        "### Corpus",
        f"- Real mail from `../shared/corpora/lore/` (relative to the repository root): {real}. "
        "The mboxrd files are split on `From ` lines (mboxrd escapes body lines, so every such "
        "line is a separator); the epoch bundle is cloned once into `bench/scratch/src/` and "
        "each commit's blob `m` is read with one `git cat-file --batch`, escaped for mboxrd.",
        "- `SIZE=default`: the three sets once, in that order (35,218 messages). "
        f"`SIZE=small`: the first messages of each set ({small}). `SIZE=10k`: the first 10,000, "
        "which is exactly the linux-clk set.",
        "- `SIZE=100k`, `300k`, `1m`: the three sets, then copy 1, 2, ... of them until the size "
        "is reached. In copy k every Message-ID named in `Message-ID`, `References` and "
        "`In-Reply-To` gets `.copyk` appended to its local part (`<a@b>` -> `<a.copyk@b>`; an id "
        "without `@` gets it at the end), so a reply points at its parent's copy and each thread "
        "is copied whole; `Date` is moved back by "
        f"k x {DATE_SHIFT_DAYS} days (dates that do not parse are left alone). Bodies and every "
        "other header are unchanged, so nothing deduplicates away and the mail stays real. The real "
        "sets themselves reuse a few Message-IDs (54 in the default corpus: resent or "
        "cross-posted mail, reported as duplicates by listarchive); every copy repeats them, so "
        "the 100k corpus has 99,812 distinct Message-IDs.",
        "- Everything is written to one mboxrd file in `bench/scratch/` (git-ignored); both "
        "systems ingest that same file.",
        "",
        "### Ingest",
        "- listarchive: `listarchive -c CFG init` (not timed), then `listarchive -c CFG ingest "
        "--list bench --json CORPUS` into a fresh data folder; the config sets `[storage] "
        "data_dir` and `[search] enabled = true|false`.",
        "- public-inbox: `public-inbox-init -V2 bench DIR URL ADDR` (not timed); import = a "
        "short Perl program that reads the mboxrd with `PublicInbox::MboxReader` and writes "
        "each message with `PublicInbox::Import` (public-inbox's own git fast-import writer, "
        "v2 layout: one commit per message, blob `m`, a new epoch every ~1 GB packed like "
        "`V2Writable`); index = `public-inbox-index DIR` (msgmap, overview SQLite, Xapian at "
        "the default `full` level, default shard count). Ingest time = import + index. This "
        "is the path a lore mirror takes (epochs, then `public-inbox-index`); per-message "
        "`public-inbox-mda` would be far slower and is not what anyone bulk-loads with.",
        "- Wall time from process start to exit; CPU seconds and peak RSS from `os.wait4` on "
        "the child, which includes every process it waited for (git fast-import, index shards, "
        "a process pool). Peak RSS is the largest single process, not a sum.",
        "- Disk: block usage (`du`) of the data folder, split into the SQL database, the search "
        "index and the rest (blobs); for public-inbox, git epochs (messages), SQLite (msgmap, "
        "over.sqlite3) and Xapian shards. Raw size = the mboxrd file.",
        "",
        "### Pages",
        "- listarchive served by gunicorn, 2 sync workers (`gunicorn -w 2 -b 127.0.0.1:PORT "
        "'listarchive.web:create_app()'`, `LISTARCHIVE_CONFIG` pointing at the search-on "
        "archive); public-inbox by `public-inbox-httpd -W 2` on the same machine. Both on "
        "127.0.0.1, one server at a time. Our archives are served with the per-address rate "
        "limits (`[limits]`) off: the load client is one address.",
        f"- Client: `wrk` (Debian), {run.wrk_seconds} s per measurement, 1, 8 and 32 "
        "connections (min(connections, 2) threads), with a Lua script that rotates through "
        "the page's URL list; latency percentiles from wrk's histogram, requests/s = "
        "completed requests / duration. The client shares the 2 cores with the server. "
        "Every measurement starts after `sync` has returned (no writeback of a just-built "
        "archive under way).",
        f"- URLs, the same for both: message page `/bench/MSGID/` for {sr.message_sample} "
        "random Message-IDs; thread page `/bench/MSGID/T/` and `/bench/MSGID/t.mbox.gz` for the "
        f"{len(sr.facts_threads)} threads whose size is closest to 50 messages (sizes "
        f"{', '.join(str(n) for _m, n in sr.facts_threads)}); list index `/bench/`; search "
        f"`/bench/?q=...` over {len(sr.queries)} queries built from the corpus: 50 `f:` senders, "
        "50 `s:` subject words, 40 two-word subject phrases, 40 `dfn:` file names from diffs, "
        "30 one-month `d:` ranges, 10 `f:` + `s:` combinations (fixed seed).",
        "- The search page is measured on a third server too, *ours on Whoosh*: a copy of the "
        "same archive whose index was built by Whoosh (the copy of the engines table, config "
        "`[search] engine = \"whoosh\"`), served the same way; the default server answers "
        "from tantivy. URLs failing on any of the three are dropped for all.",
        "- Incremental add: 100 messages new to the archive (copies of its first ones) are "
        "ingested while a child process polls, every 10 ms, the database (read-only) for the "
        "last one's commit and then `listarchive.search.engine` for a search finding it, as a "
        "site process would ask; the figure is the time between the two.",
        "- gunicorn's sync workers close the connection after each response, so wrk reconnects "
        "for every request to listarchive; public-inbox-httpd keeps connections alive. This "
        "is part of what a production deployment of each would do, so it stays in the figures.",
        "- Each URL is fetched once from each server first. A server failing more than 10% of "
        "a page's URLs gets that row marked not available; otherwise URLs failing on either "
        "server are dropped for both (public-inbox answers 404 to a search with no match, so "
        "such queries are dropped).",
    ]


def _hostile(h: HostileRun) -> list[str]:
    if h.error:
        return [f"Not measured: {h.error}."]
    normal = h.normal_median()
    rows = [[what, f"{ms:.0f}", f"{ms / normal:.1f}x" if normal else "-", outcome]
            for what, ms, outcome in h.hostile]
    return [f"Each message delivered alone (`listarchive ingest --list hostile --json -`); the "
            f"ingest's own time per delivery. Normal mail (the first {len(h.normal_ms)} messages "
            f"of the corpus, same way): median {normal:.0f} ms, slowest "
            f"{max(h.normal_ms, default=0):.0f} ms. Every pathological message must be stored "
            "or quarantined with its reason, within `ingest.max_message_seconds`.", "",
            *table(["pathological message", "ms", "vs normal median", "outcome"], rows)]


def write(run: Run, output: Path) -> None:
    """Render the report and the plots."""
    main = max(run.sizes, key=lambda s: s.messages)
    m = run.machine
    pngs = plots.draw(run, output.parent / "bench" / "plots")
    lines = [
        "# Benchmarks: listarchive and public-inbox, side by side",
        "",
        f"Generated by `make bench SIZE={run.size_arg}` on {m['date']}, commit {m['commit']}, "
        f"in {run.total_seconds / 60:.1f} minutes. Every figure below comes from this one run, "
        "on the same input for both systems. How each was measured is under *Method*.",
        "",
        "## Headline",
        "",
        *_headline(run, main),
        "",
        f"Machine: {m['cpu']}, {m['nproc']} cores, {m['memory']} RAM, {m['os']}, kernel "
        f"{m['kernel']}. public-inbox {m['public-inbox']} (Xapian {m['xapian']}), "
        f"{m['git']}, Python {m['python']}, SQLite {m['sqlite']}, {m['gunicorn']}, "
        f"wrk {m['wrk'].split(' Copyright')[0].removeprefix('wrk ')}. "
        "Load average (1, 5, 15 min) when the run started: "
        f"{m.get('load average', 'not recorded')}.",
        "",
    ]
    if pngs:
        lines += ["## Plots", ""] + [f"![{p.stem}](bench/plots/{p.name})" for p in pngs] + [""]
    lines += ["## Targets from the issues", "", *_targets(run), ""]
    for sr in run.sizes:
        lines += [f"## Ingest: {sr.size} corpus ({sr.messages:,} messages, "
                  f"{_mb(sr.raw_bytes)} of mboxrd)", "", *_ingest_section(sr), ""]
        if sr.load:
            lines += [f"## Pages under load: {sr.size} corpus", "",
                      "Latency in milliseconds; ratio = our p95 / public-inbox's p95 "
                      "(below 1 means we are faster).", *_latency_section(sr), ""]
    lines += ["## PostgreSQL beside SQLite", ""]
    for sr in run.sizes:
        lines += [f"### {sr.size} corpus ({sr.messages:,} messages)", "",
                  *report_pg.section(sr.postgres, sr.ours_with(True), sr.ours_with_workers(2),
                                     sr.peer, sr.load), ""]
    lines += report_pg.method([sr.postgres for sr in run.sizes if sr.postgres]) + [""]
    if run.clk10k:
        lines += ["## Ingest: linux-clk 10k alone (issue 2's reference set)", "",
                  *_ingest_section(SizeRun("clk10k", run.clk10k.messages,
                                           run.clk10k.raw_bytes, ours=[run.clk10k])), ""]
    if run.review:
        lines += ["## Patch status tracking: review queue and git-scan (issue 5)", "",
                  *_review(run.review), ""]
    if run.engines:
        lines += ["## Search engines side by side: tantivy, Whoosh and public-inbox", "",
                  *_engines(run), ""]
    if run.hostile:
        lines += ["## Pathological mail (issue 18)", "", *_hostile(run.hostile), ""]
    lines += ["## Cost growth", "", *_growth(run), ""]
    lines += ["## Where ingest time goes (profile)", "", *_profile(run), ""]
    if NOTES.exists():
        lines += ["## Analysis", "", NOTES.read_text(encoding="utf-8").strip(), ""]
    lines += ["## Method", "", *_method(run, main), ""]
    if run.installed:
        lines += [f"(This run installed {', '.join(run.installed)} from Debian first.)", ""]
    output.write_text("\n".join(lines), encoding="utf-8")


def load_run(path: Path) -> Run:
    """A Run back from the ``results.json`` a run saved (for ``--report-only``)."""
    import json

    from bench.load import LoadResult as Load

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
        s["load"] = [Load(**r) for r in s["load"]]
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
