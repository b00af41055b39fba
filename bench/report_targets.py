"""The targets the issues set, each met or not yet, with the figure of this run it is held to."""

from __future__ import annotations

from collections.abc import Callable

from bench import engines
from bench.load import CONCURRENCY, LoadResult
from bench.results import Run
from bench.review import QueueResult
from bench.tables import NA, table


def _target(issue: str, target: str, value: float | None, limit: float, higher: bool, fmt: str,
            where: str, strict: bool = False) -> list[str]:
    """A row of the table: ``value`` held to ``limit`` (at least it when ``higher``, else at
    most it, or below it when ``strict``)."""
    if value is None:
        return [issue, target, "not yet (not measured)", NA, where]
    met = value >= limit if higher else value < limit if strict else value <= limit
    return [issue, target, "met" if met else "not yet", fmt.format(value), where]


Add = Callable[[str, float | None, float, bool, str, str], None]


def _adder(rows: list[list[str]], issue: str) -> Add:
    """``add(target, value, limit, higher, fmt, where)``: a row of ``issue`` onto ``rows``."""
    def add(target: str, value: float | None, limit: float, higher: bool, fmt: str,
            where: str) -> None:
        rows.append(_target(issue, target, value, limit, higher, fmt, where))
    return add


def targets(run: Run) -> list[str]:
    """The table of every target: issue, target, status, figure, what it was measured on."""
    rows: list[list[str]] = []
    main = max(run.sizes, key=lambda s: s.messages)
    big = [s for s in run.sizes if s.messages >= 25_000]
    at25 = min(big, key=lambda s: s.messages) if big else None
    at100 = next((s for s in run.sizes if s.messages >= 100_000), None)

    def add(issue: str, target: str, value: float | None, limit: float, higher: bool,
            fmt: str, where: str) -> None:
        rows.append(_target(issue, target, value, limit, higher, fmt, where, strict=True))

    clk = run.clk10k or next((s.ours_with(False) for s in run.sizes if s.size == "10k"), None)
    clk_rate = clk.rate if clk and clk.ok else None
    clk_where = "linux-clk 10k, search off" if clk else "not in this run (small size)"
    add("#2", "ingest >= 500 msg/s (linux-clk 10k, search off)", clk_rate, 500, True,
        "{:,.0f} msg/s", clk_where)
    ingests = [r for s in run.sizes for r in s.ours if r.ok]
    if run.clk10k and run.clk10k.ok:
        ingests.append(run.clk10k)
    anon = max((r.max_anon_mb for r in ingests), default=0.0)
    add("#2, #21", "ingest peak RSS < 300 MB at any size",
        max(r.max_rss_mb for r in ingests) if ingests else None, 300, False, "{:,.0f} MB",
        "largest over every ingest of this run" + (
            f"; anonymous memory (sampled, no mapped files) at most {anon:,.0f} MB"
            if anon else ""))
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
    built = run.engine_result(main.size, engines.DEFAULT)
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
    rows.extend(_scale_targets(run))
    return table(["issue", "target", "status", "figure", "measured on"], rows)


TARGET_SIZES = ("default", "100k", "300k")  # 35k, 100k and 300k messages


def _search_targets(run: Run) -> list[list[str]]:
    """Issue 19's targets: tantivy's search against public-inbox's at 35k, 100k and 300k."""
    rows: list[list[str]] = []
    third = 1 / 3 + 1e-9
    add = _adder(rows, "#19")

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
        built = run.engine_result(size, engines.DEFAULT) if sr else None
        xapian = sr.xapian_rate() if sr else None
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


def _worst_queue(q: QueueResult | None) -> LoadResult | None:
    """The queue row with the highest p95 at 8 clients (what the target is held to)."""
    rows = [r for r in (q.load if q else []) if r.ok and r.concurrency == 8]
    return max(rows, key=lambda r: r.p95) if rows else None


# Issue 21 holds the ingest and the pages to public-inbox's at 300k and 1M; 100k shows the way.
SCALE_SIZES = ("100k", "300k", "1m")
SCALE_PAGES = ("message", "thread (T/)", "list index", "t.mbox.gz", "raw", "Atom (new.atom)",
               "thread Atom (t.atom)")


def _clients(n: int) -> str:
    return f"{n} client{'s' if n > 1 else ''}"


def _worst(pairs: list[tuple[int, float]]) -> tuple[int, float] | None:
    """The concurrency and ratio of the worst pair, ``None`` if any concurrency is missing."""
    return max(pairs, key=lambda p: p[1]) if len(pairs) == len(CONCURRENCY) else None


def _scale_targets(run: Run) -> list[list[str]]:
    """Issue 21's targets: ingest and every page against public-inbox's at 300k and 1M, and
    cost that stays flat from 10k to 1M."""
    rows: list[list[str]] = []
    add = _adder(rows, "#21")

    by_size = {sr.size: sr for sr in run.sizes}
    for size in SCALE_SIZES:
        sr = by_size.get(size)
        if sr is None:
            rows.append(["#21", f"ingest and every page against public-inbox's at {size}",
                         "not yet (not measured)", NA, f"{size}: not in this run"])
            continue
        where = f"{size} corpus" + (" (the target is at 300k and 1M)" if size == "100k" else "")
        off, basic = sr.ours_with(False), sr.peer_basic
        add("ingest without search >= public-inbox's `-L basic` rate",
            off.rate / basic.rate if off and basic and off.ok and basic.ok and basic.rate
            else None, 1, True, "{:.2f}x", where)
        on, full = sr.ours_with(True), sr.peer  # public-inbox's import, then its Xapian index
        add("ingest with search >= 3x public-inbox's full (Xapian) rate",
            on.rate / full.rate if on and full and on.ok and full.ok and full.rate else None, 3,
            True, "{:.2f}x",
            f"{size}: public-inbox's Xapian index left out (lean)" if sr.left_out else where)
        for page in SCALE_PAGES:
            p95: list[tuple[int, float]] = []
            rps: list[tuple[int, float]] = []
            for conc in CONCURRENCY:
                o = sr.latency("listarchive", page, conc)
                p = sr.latency("public-inbox", page, conc)
                if o and p and o.ok and p.ok and p.p95 and o.rps:
                    p95.append((conc, o.p95 / p.p95))
                    rps.append((conc, p.rps / o.rps))  # inverted: above 1 is behind
            worst_p95, worst_rps = _worst(p95), _worst(rps)
            add(f"{page}: p95 <= public-inbox's at 1, 8 and 32 clients (worst ratio)",
                worst_p95[1] if worst_p95 else None, 1, False, "{:.2f}x",
                f"{where}, worst at {_clients(worst_p95[0])}" if worst_p95 else where)
            add(f"{page}: requests/s >= public-inbox's at 1, 8 and 32 clients (worst ratio)",
                1 / worst_rps[1] if worst_rps else None, 1, True, "{:.2f}x",
                f"{where}, worst at {_clients(worst_rps[0])}" if worst_rps else where)
    small, million, hundred = by_size.get("10k"), by_size.get("1m"), by_size.get("100k")
    a = small.ours_with(False) if small else None
    b = million.ours_with(False) if million else None
    add("ingest CPU per message at 1M within 1.3x of 10k's (search off)",
        (b.cpu / b.messages) / (a.cpu / a.messages)
        if a and b and a.ok and b.ok and a.cpu and a.messages and b.messages else None,
        1.3, False, "{:.2f}x", "10k and 1m corpora" if a and b else "needs 10k and 1m in one run")
    growth: list[tuple[str, float]] = []
    if hundred and million:
        for page in SCALE_PAGES:
            for conc in CONCURRENCY:
                lo = hundred.latency("listarchive", page, conc)
                hi = million.latency("listarchive", page, conc)
                if lo and hi and lo.ok and hi.ok and lo.p95:
                    growth.append((f"{page}, {conc} clients", hi.p95 / lo.p95))
    worst_growth = max(growth, key=lambda g: g[1]) if growth else None
    add("every page's p95 at 1M within 1.5x of its p95 at 100k (worst page)",
        worst_growth[1] if worst_growth else None, 1.5, False, "{:.2f}x",
        f"100k and 1m corpora, worst: {worst_growth[0]}" if worst_growth
        else "needs 100k and 1m in one run")
    return rows
