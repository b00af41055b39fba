"""``python -m bench --size SIZE``: run every measurement and write BENCHMARKS.md and the plots."""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import time
from dataclasses import asdict
from pathlib import Path
from urllib.parse import quote_plus

from bench import (
    engines,
    hostile,
    load,
    ours,
    peer,
    postgres,
    profiling,
    report,
    report_pg,
    review,
)
from bench.corpus import (
    REPO,
    SCRATCH,
    CorpusSpec,
    assemble,
    parse_sizes,
    write_halves,
    write_late_copies,
    write_prefix,
)
from bench.facts import CorpusFacts, mid_path, scan
from bench.results import Run, SizeRun, load_run
from bench.system import ensure_tools, machine, say, stop


def _pages(facts: CorpusFacts) -> list[load.Page]:
    base = f"/{ours.LIST}/"
    threads = [base + mid_path(mid) for mid, _n in facts.threads]
    return [
        load.Page("message", tuple(base + mid_path(m) + "/" for m in facts.messages)),
        load.Page("thread (T/)", tuple(t + "/T/" for t in threads)),
        load.Page("list index", (base,)),
        load.Page("t.mbox.gz", tuple(t + "/t.mbox.gz" for t in threads)),
        load.Page("search", tuple(base + "?q=" + quote_plus(q) for q in facts.queries)),
        load.Page("raw", tuple(base + mid_path(m) + "/raw" for m in facts.messages)),
        load.Page("Atom (new.atom)", (base + "new.atom",)),
        load.Page("thread Atom (t.atom)", tuple(t + "/t.atom" for t in threads)),
    ]


INTERDIFF = "interdiff"
COMMENTED = "patch with comments"
REVIEW_PAGES = (INTERDIFF, COMMENTED)  # issue 22's, measured on our SQLite archive only


def _review_pages(home: Path | None) -> list[load.Page]:
    """Issue 22's pages, their URLs picked from the archive served (the corpus scan does not
    know series ids); none when the ingest failed."""
    if home is None:
        return []
    interdiffs, commented = ours.review_paths(home)
    return [load.Page(INTERDIFF, interdiffs), load.Page(COMMENTED, commented)]


# A million messages through every measurement would take about five hours on two cores
# (public-inbox's Xapian index alone about 110 minutes at its 100k rate, PostgreSQL's two
# ingests an hour, the engines side by side half an hour). A lean size measures what issue
# 21's cost growth needs (our ingest with and without the search index, public-inbox's
# ``-L basic`` import, every page under load against public-inbox serving that import) and
# says what it left out; ``--lean`` names the sizes measured so.
LEAN_DEFAULT = "1m"
LEFT_OUT = (
    "two ingest workers at once (SQLite and PostgreSQL): issue 20's figures, measured at sizes "
    "that are not lean",
    "PostgreSQL: its ingests and pages",
    "the search engines side by side (tantivy's index alone, Whoosh)",
    "public-inbox's Xapian index (`-L full`): public-inbox is served from its `-L basic` "
    "import, which has no search, so the search page is ours alone",
    "the review queue and git-scan: issue 5's figures, measured on the first size of 25k "
    "messages or more that is not lean",
)


def run_size(spec: CorpusSpec, args: argparse.Namespace, profile_done: bool,
             run: Run, pg_unavailable: str) -> SizeRun:
    lean = spec.size in args.lean
    say(f"corpus {spec.size}: assembling into {SCRATCH.relative_to(REPO)}/"
        + (" (lean: what the cost growth needs)" if lean else ""))
    mbox, n = assemble(spec)
    raw = mbox.stat().st_size
    facts = scan(mbox)
    say(f"corpus {spec.size}: {n} messages, {raw / 1e6:.0f} MB; {len(facts.queries)} queries")
    sr = SizeRun(spec.size, n, raw, facts_threads=facts.threads,
                 queries=facts.queries, message_sample=len(facts.messages),
                 left_out=list(LEFT_OUT) if lean else [])
    timeout = args.ingest_timeout or max(420.0, n / 50)
    home = SCRATCH / f"ours-{spec.size}"
    sr.ours.append(ours.ingest(mbox, n, raw, False, SCRATCH / f"ours-{spec.size}-nosearch",
                               timeout))
    on = ours.ingest(mbox, n, raw, True, home, timeout)
    sr.ours.append(on)
    if on.ok:
        late, mid = write_late_copies(mbox, SCRATCH / "late-100.mboxrd", 100)
        sr.incremental = ours.incremental(SCRATCH / "late-100.mboxrd", late, mid, home)
    # Two workers at once, each on every other message, into SQLite here and PostgreSQL below.
    halves = (SCRATCH / f"corpus-{spec.size}-half1.mboxrd",
              SCRATCH / f"corpus-{spec.size}-half2.mboxrd")
    if not lean:
        write_halves(mbox, *halves)
        pair_home = SCRATCH / f"ours-{spec.size}-2workers"
        sr.ours.append(ours.ingest(mbox, n, raw, True, pair_home, timeout, halves=halves))
        shutil.rmtree(pair_home, ignore_errors=True)  # measured; never served
    engine_run = None
    if sr.ours[0].ok and not lean:
        # Each engine's index built alone from the search-off archive, the same query mix.
        engine_run = engines.measure(spec.size, SCRATCH / f"ours-{spec.size}-nosearch",
                                     facts.queries, raw, SCRATCH)
        run.engines.append(engine_run)
    if not args.skip_peer:
        peer_timeout = args.ingest_timeout or max(900.0, n / 20)
        sr.peer_basic = peer.ingest(mbox, n, raw, SCRATCH / f"peer-{spec.size}-basic",
                                    peer_timeout, level="basic")
        if not lean:
            sr.peer = peer.ingest(mbox, n, raw, SCRATCH / f"peer-{spec.size}", peer_timeout)
    if run.hostile is None:
        say("pathological mail: each message delivered alone, next to normal mail")
        run.hostile = hostile.measure(mbox, SCRATCH)
    if not profile_done:
        count = min(5000, n)
        pmbox = SCRATCH / f"profile-{count}.mboxrd"
        write_prefix(mbox, pmbox, count)
        run.profile = profiling.ingest(pmbox, count, SCRATCH / "ours-profile")
    served = False
    with postgres.Cluster(SCRATCH / f"postgresql-{spec.size}",
                          pg_unavailable or ("not run: left out at this size" if lean else "")
                          ) as cluster:
        sr.postgres = postgres.measure(cluster, spec.size, mbox, n, raw, halves, SCRATCH,
                                       timeout)
        if not args.skip_load:
            served = _load(sr, facts, home if on.ok else None, engine_run, args.seconds)
    if engine_run is not None:
        engines.discard(engine_run)
    if not profile_done and served:
        behind = {p.name: p.paths for p in _pages(facts) if sr.behind(p.name)}
        run.page_profiles = profiling.pages(home, behind)
    return sr


def _load(sr: SizeRun, facts: CorpusFacts, home: Path | None,
          engine_run: engines.EngineRun | None, seconds: int) -> bool:
    """Every server of this size under the same load client, one at a time: the SQLite
    archive, public-inbox, the PostgreSQL archive, and the search page on the other engine.
    Returns whether the SQLite archive was served."""
    servers = []
    proc_o, port_o, err_o = ours.serve(home) if home else (None, 0, "ingest failed")
    servers.append(load.Server("listarchive", port_o, err_o))
    # The review pages' ids are those of the SQLite archive: public-inbox has no such pages,
    # and the PostgreSQL archive numbers its messages in the order its workers stored them.
    common = tuple(p.name for p in _pages(facts))
    proc_p, port_p, err_p = (None, 0, "not run")
    if sr.peer is not None and sr.peer.ok:
        proc_p, port_p, err_p = peer.serve(SCRATCH / f"peer-{sr.size}")
    elif sr.left_out and sr.peer_basic is not None and sr.peer_basic.ok:
        # A lean size: the import without Xapian answers every page but search.
        proc_p, port_p, err_p = peer.serve(SCRATCH / f"peer-{sr.size}-basic")
        common = tuple(name for name in common if name != "search")
    servers.append(load.Server("public-inbox", port_p, err_p, pages=common))
    pg = sr.postgres
    proc_g, port_g, err_g = (ours.serve(Path(pg.served)) if pg and pg.served else
                             (None, 0, pg.error if pg and pg.error else "ingest failed"))
    # PostgreSQL against SQLite on issue 20's pages only (the run's time goes to the 1M point).
    if not sr.left_out:
        servers.append(load.Server(postgres.SERVER, port_g, err_g, pages=report_pg.PAGES))
    # The same archive searched through the other engine's index: the search page only.
    others = []
    for name in engines.ENGINES:
        if name == engines.DEFAULT or sr.left_out:
            continue
        kept = engine_run.served.get(name) if engine_run else None
        proc_w, port_w, err_w = (ours.serve(Path(kept)) if kept
                                 else (None, 0, "index build failed"))
        others.append(proc_w)
        servers.append(load.Server(f"listarchive-{name}", port_w, err_w, pages=("search",)))
    try:
        sr.load = load.measure([*_pages(facts), *_review_pages(home)], servers, seconds,
                               SCRATCH / "wrk")
    finally:
        for proc in (proc_o, proc_p, proc_g, *others):
            if proc is not None:
                stop(proc)
    return proc_o is not None


def _clk_reference(args: argparse.Namespace, sizes: list[CorpusSpec]) -> ours.IngestResult | None:
    """Issue 2's figure is on the linux-clk 10k set alone (the 10k corpus is exactly that)."""
    if any(s.size == "10k" for s in sizes) or any(s.small for s in sizes):
        return None
    spec = parse_sizes("10k")[0]
    mbox, n = assemble(spec)
    return ours.ingest(mbox, n, mbox.stat().st_size, False, SCRATCH / "ours-clk10k", 900)


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    ap.add_argument("--size", default="default",
                    help="small, default, 10k, 100k, 300k, 1m, scale (=10k,100k), or a comma list")
    ap.add_argument("--seconds", type=int, default=0,
                    help="duration of each wrk run (default 10; 3 for small)")
    ap.add_argument("--ingest-timeout", type=float, default=0.0,
                    help="seconds before an ingest is killed (default scales with size)")
    ap.add_argument("--lean", default=LEAN_DEFAULT,
                    help="sizes measured lean, a comma list (default 1m; \"\" for none): "
                         "what the cost growth needs, the rest left out and said so")
    ap.add_argument("--skip-peer", action="store_true", help="do not run public-inbox")
    ap.add_argument("--skip-load", action="store_true", help="no HTTP measurements")
    ap.add_argument("--output", type=Path, default=REPO / "BENCHMARKS.md")
    ap.add_argument("--results", type=Path, default=SCRATCH / "results.json",
                    help="where the run's figures are kept, for --report-only")
    ap.add_argument("--report-only", action="store_true",
                    help="rewrite BENCHMARKS.md and the plots from the last run's results.json")
    args = ap.parse_args()
    # A run stopped with SIGTERM unwinds like Ctrl-C: the servers and the PostgreSQL cluster it
    # started are stopped on the way out (their ``finally`` and ``with`` blocks).
    signal.signal(signal.SIGTERM, lambda _sig, _frame: sys.exit(128 + signal.SIGTERM))
    results = args.results
    if args.report_only:
        report.write(load_run(results), args.output)
        return 0
    sizes = parse_sizes(args.size)
    args.lean = [spec.size for spec in parse_sizes(args.lean)] if args.lean.strip() else []
    if not args.seconds:
        args.seconds = 3 if all(s.small for s in sizes) else 10
    started = time.monotonic()
    installed = ensure_tools()
    pg_unavailable, pg_installed = postgres.ensure()
    installed += pg_installed
    run = Run(size_arg=args.size, machine=machine(), installed=installed,
              wrk_seconds=args.seconds, lean=args.lean)
    SCRATCH.mkdir(parents=True, exist_ok=True)
    for i, spec in enumerate(sizes):
        sr = run_size(spec, args, profile_done=i > 0, run=run, pg_unavailable=pg_unavailable)
        run.sizes.append(sr)
        # What is measured so far survives a failure at a later size (--report-only).
        results.write_text(json.dumps(asdict(run), indent=1, default=str))
        # Issue 5's figures once per run: on the first archive of >= 25k messages (git-scan's
        # target), else on the last size (SIZE=small exercises them with smaller numbers).
        if run.review is None and not sr.left_out and (sr.messages >= 25_000
                                                       or i == len(sizes) - 1):
            run.review = review.measure(spec.size, SCRATCH / f"ours-{spec.size}-nosearch",
                                        spec.mbox_path, args.seconds, SCRATCH, spec.small,
                                        pages=not args.skip_load)
    run.clk10k = _clk_reference(args, sizes)
    run.total_seconds = time.monotonic() - started
    results.write_text(json.dumps(asdict(run), indent=1, default=str))
    report.write(run, args.output)
    shown = args.output.relative_to(REPO) if args.output.is_relative_to(REPO) else args.output
    say(f"wrote {shown} and bench/plots/ in {run.total_seconds:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
