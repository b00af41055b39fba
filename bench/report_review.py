"""The review section of BENCHMARKS.md: the subsystem queue page under load, and git-scan."""

from __future__ import annotations

from bench.corpus import DATE_SHIFT_DAYS, REAL_SETS, SMALL_TAKE
from bench.review import ReviewRun
from bench.scanrepo import MAX_GAP
from bench.tables import NA, num, table


def section(rv: ReviewRun) -> list[str]:
    """What the queue page and git-scan measured, and how."""
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
            "count; the queue lists series, 100 a page, oldest first). Served as the other "
            "pages are, loaded with wrk "
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
        f"{MAX_GAP} filler lines (new files deleted). The second writes the "
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
        rows.append([label, f"{s.wall:.2f}", f"{s.cpu:.2f}", num(s.max_rss_mb),
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
