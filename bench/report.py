"""BENCHMARKS.md from one run: headline, ingest, latency, search, growth, profile, targets."""

from __future__ import annotations

from pathlib import Path

from bench import engines, postgres, report_method, report_pg, report_review, report_targets
from bench.hostile import HostileRun
from bench.load import CONCURRENCY, LoadResult
from bench.ours import IngestResult
from bench.profiling import Profile
from bench.results import Run, SizeRun
from bench.tables import NA, mb, num, ratio, table

NOTES = Path(__file__).resolve().parent / "notes.md"
# The headline's pages against public-inbox: issue 21's and the search page.
HEADLINE_PAGES = ("message", "thread (T/)", "list index", "t.mbox.gz", "search", "raw",
                  "Atom (new.atom)", "thread Atom (t.atom)")


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
    if on is not None and on.max_anon_mb:
        ingest_row("ingest, peak anonymous RSS (MB, sampled; no mapped files)",
                   rate(on, "max_anon_mb"), rate(pi, "max_anon_mb") or None, "{:,.0f}", "lower")
    ingest_row("disk used / raw mail size", disk(on), disk(pi), "{:.2f}", "lower")
    for page in HEADLINE_PAGES:
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
    built = run.engine_result(sr.size, engines.DEFAULT)
    xapian = sr.xapian_rate()
    if built is not None:
        ingest_row("search index built alone, messages/s (peer: public-inbox-index, Xapian)",
                   built.rate, xapian, "{:,.0f}", "higher")
    head = [f"{sr.size} corpus: {sr.messages:,} messages, {mb(sr.raw_bytes)}", "listarchive",
            "public-inbox", "ratio (ours / theirs)", "better is"]
    return table(head, rows)


WHOOSH_SERVER = "listarchive-whoosh"
SERVER_LABELS = {"listarchive": "ours", WHOOSH_SERVER: "ours on Whoosh",
                 postgres.SERVER: "ours on PostgreSQL", "public-inbox": "peer"}


def rss(r: IngestResult | engines.EngineResult) -> str:
    """Peak RSS in MB, with the sampled anonymous part after it when the run measured it."""
    return num(r.max_rss_mb) + (f" ({num(r.max_anon_mb)})" if r.max_anon_mb else "")


def _ingest_section(sr: SizeRun) -> list[str]:
    rows = []
    runs = [*sr.ours, *(r for r in (sr.peer_basic, sr.peer) if r)]
    for r in runs:
        if not r.ok:
            rows.append([f"{r.system} ({r.label})", *([NA] * 9), f"failed: {r.error}"])
            continue
        disk = sum(r.disk.values())
        split = ", ".join(f"{k} {mb(v)}" for k, v in r.disk.items() if v)
        if r.label == "search on" and not r.disk.get("search index"):
            split += " (no search index was written)"
        steps = ", ".join(f"{k} {v:.1f} s" for k, v in r.steps.items())
        rows.append([f"{r.system} ({r.label})", f"{r.messages:,}", f"{r.stored:,}",
                     f"{r.wall:.1f}", num(r.rate), f"{r.cpu:.1f}", num(r.rate_cpu),
                     rss(r), mb(disk), f"{disk / r.raw_bytes:.2f}",
                     f"{split}; {steps}"])
    head = ["system", "messages in", "stored", "wall s", "msg/s", "CPU s", "msg/CPU-s",
            "peak RSS MB (anonymous)", "disk", "disk/raw", "details"]
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
        index = run.engine_result(sr.size, engines.DEFAULT)
        slow = run.engine_result(sr.size, "whoosh")

        def lat(server: str, page: str, sr: SizeRun = sr) -> str:
            r = sr.latency(server, page, 8)
            return f"{r.p95:.1f}" if r and r.ok else NA

        basic = sr.peer_basic
        rows.append([sr.size, f"{sr.messages:,}",
                     num(on.rate) if on and on.ok else NA,
                     num(off.rate) if off and off.ok else NA,
                     f"{1000 / off.rate_cpu:.2f}" if off and off.ok and off.rate_cpu else NA,
                     num(pi.rate) if pi and pi.ok else NA,
                     num(basic.rate) if basic and basic.ok else NA,
                     num(index.rate) if index else NA,
                     f"{index.p95:.2f}" if index else NA,
                     f"{slow.p95:.1f}" if slow else NA,
                     rss(on) if on and on.ok else NA,
                     rss(pi) if pi and pi.ok else NA,
                     lat("listarchive", "message"), lat("public-inbox", "message"),
                     lat("listarchive", "search"), lat("public-inbox", "search")])
    return table(["size", "messages", "ours msg/s (search on)", "ours msg/s (off)",
                   "ours CPU ms per message (off)", "peer msg/s (Xapian)",
                   "peer msg/s (-L basic)", "index alone msg/s (tantivy)", "engine query p95 ms (tantivy)",
                   "engine query p95 ms (Whoosh)", "ours RSS MB (anonymous)",
                   "peer RSS MB (anonymous)",
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


def _engines(run: Run) -> list[str]:
    rows = []
    for e in run.engines:
        sr = next((s for s in run.sizes if s.size == e.size), None)
        xapian = sr.xapian_rate() if sr else None
        for r in e.results:
            if not r.ok:
                rows.append([e.size, r.engine, f"not measured: {r.error}", *([""] * 6)])
                continue
            rows.append([e.size, r.engine, f"{r.messages:,}",
                         f"{r.rate:,.0f} ({r.messages / r.cpu:,.0f} per CPU-s)" if r.cpu else NA,
                         ratio(r.rate, xapian), f"{rss(r)} MB",
                         f"{mb(r.index_bytes)} ({r.index_bytes / r.raw_bytes:.2f}x raw)"
                         if r.raw_bytes else mb(r.index_bytes),
                         f"{r.p50:.2f} / {r.p95:.2f} / {r.slowest:.1f}", f"{r.matches:,}"])
        pi = sr.peer if sr else None
        if pi is not None and pi.ok and xapian:
            index_bytes = pi.disk.get("search index", 0)
            cpu = pi.steps.get("index cpu", 0.0)
            rows.append([e.size, "public-inbox (Xapian)", f"{pi.stored:,}",
                         f"{xapian:,.0f} ({pi.messages / cpu:,.0f} per CPU-s)" if cpu else NA,
                         "1.00x", f"{pi.max_rss_mb:,.0f} MB (import or index)",
                         f"{mb(index_bytes)} ({index_bytes / pi.raw_bytes:.2f}x raw)",
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


def notes_of(output: Path) -> Path:
    """The analysis written for a report: ``bench/notes.md`` for BENCHMARKS.md,
    ``bench/notes-scale.md`` for BENCHMARKS-scale.md."""
    if output.stem == "BENCHMARKS":
        return NOTES
    return NOTES.with_name(f"notes-{output.stem.lower().removeprefix('benchmarks-')}.md")


def _command(run: Run, output: Path) -> str:
    """The command that made this report: ``make bench SIZE=...`` when that was all."""
    extra = []
    if run.lean != ["1m"]:
        extra.append(f"--lean {','.join(run.lean) or chr(34) * 2}")
    if output.name != "BENCHMARKS.md":
        extra.append(f"--output {output.name}")
    if not extra:
        return f"make bench SIZE={run.size_arg}"
    return f"python -m bench --size {run.size_arg} {' '.join(extra)}"


def write(run: Run, output: Path) -> None:
    """Render the report and the plots."""
    main = max(run.sizes, key=lambda s: s.messages)
    m = run.machine
    # BENCHMARKS.md's plots in bench/plots/, another report's in a folder of its own.
    folder = output.parent / "bench" / "plots"
    if output.stem != "BENCHMARKS":
        folder = folder / output.stem.lower()
    try:  # matplotlib comes with the bench's dependencies, not with the tests'
        from bench import plots
    except ImportError:
        pngs = []
    else:
        pngs = plots.draw(run, folder)
    lines = [
        "# Benchmarks: listarchive and public-inbox, side by side",
        "",
        f"Generated by `{_command(run, output)}` on {m['date']}, commit {m['commit']}, "
        f"in {run.total_seconds / 60:.1f} minutes. Every figure below comes from this one run, "
        "on the same input for both systems. How each was measured is under *Method*.",
        "",
        "## Headline",
        "",
        *_headline(run, main),
        "",
        f"Machine: {m['cpu']}, {m['nproc']} cores, {m['memory']} RAM, {m['os']}, kernel "
        f"{m['kernel']}. public-inbox {m['public-inbox']} (Xapian {m['xapian']}), "
        f"{m['git']}, Python {m['python']}, SQLite {m['sqlite']}, {report_method.served_by(m)[0]}, "
        f"wrk {m['wrk'].split(' Copyright')[0].removeprefix('wrk ')}. "
        "Load average (1, 5, 15 min) when the run started: "
        f"{m.get('load average', 'not recorded')}.",
        "",
    ]
    if pngs:
        lines += ["## Plots", ""] + [f"![{p.stem}]({p.relative_to(output.parent)})"
                                     for p in pngs] + [""]
    lines += ["## Targets from the issues", "", *report_targets.targets(run), ""]
    for sr in run.sizes:
        lines += [f"## Ingest: {sr.size} corpus ({sr.messages:,} messages, "
                  f"{mb(sr.raw_bytes)} of mboxrd)", ""]
        if sr.left_out:
            lines += ["Measured lean (`--lean`): what the cost growth needs. Left out at "
                      "this size:", "", *(f"- {what}" for what in sr.left_out), ""]
        lines += [*_ingest_section(sr), ""]
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
                  *report_review.section(run.review), ""]
    if run.engines:
        lines += ["## Search engines side by side: tantivy, Whoosh and public-inbox", "",
                  *_engines(run), ""]
    if run.hostile:
        lines += ["## Pathological mail (issue 18)", "", *_hostile(run.hostile), ""]
    lines += ["## Cost growth", "", *_growth(run), ""]
    lines += ["## Where ingest time goes (profile)", "", *_profile(run), ""]
    notes = notes_of(output)
    if notes.exists():
        lines += ["## Analysis", "", notes.read_text(encoding="utf-8").strip(), ""]
    lines += ["## Method", "", *report_method.method(run, main), ""]
    if run.installed:
        lines += [f"(This run installed {', '.join(run.installed)} from Debian first.)", ""]
    output.write_text("\n".join(lines), encoding="utf-8")
