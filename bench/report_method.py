"""The *Method* section of BENCHMARKS.md: how each figure of a run was measured."""

from __future__ import annotations

from bench.corpus import DATE_SHIFT_DAYS, REAL_SETS, SMALL_TAKE
from bench.ours import SERVER_ARGS, SITE
from bench.results import Run, SizeRun


def served_by(machine: dict[str, str]) -> tuple[str, str]:
    """The web server of a run and how it ran our site: runs before granian used gunicorn."""
    if "server" in machine:
        return machine["server"], (
            "granian, 2 workers of one Python thread each, as the deployment unit runs it "
            f"(`granian {' '.join(SERVER_ARGS)} --workers 2 --host 127.0.0.1 --port PORT "
            f"{SITE}`)")
    return machine.get("gunicorn", "gunicorn"), (
        "gunicorn, 2 sync workers (`gunicorn -w 2 -b 127.0.0.1:PORT "
        "'listarchive.web:create_app()'`); its sync workers close the connection after each "
        "response, so wrk reconnected for every request to listarchive")


def method(run: Run, sr: SizeRun) -> list[str]:
    """Corpus, ingest and pages, for both systems; ``sr`` is the size the headline shows."""
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
        "- A lean size (`--lean`, by default `1m`) measures what the cost growth needs: our "
        "ingest with and without the search index, public-inbox's `-L basic` import, and every "
        "page under load against public-inbox serving that import (no search there: it has no "
        "Xapian index). Its ingest section lists what it left out.",
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
        "- Peak RSS counts the pages of files a process has mapped, which the kernel may drop "
        "at any time: tantivy reads its index through `mmap`, so a merge is charged for the "
        "segments it reads. The figure in parentheses after a peak RSS is the largest "
        "anonymous resident set (`RssAnon` in `/proc/PID/status`, memory the process "
        "allocated) of one process of the command, sampled every 0.25 s: a lower bound, as a "
        "shorter peak can fall between two samples.",
        "- Disk: block usage (`du`) of the data folder, split into the SQL database, the search "
        "index and the rest (blobs); for public-inbox, git epochs (messages), SQLite (msgmap, "
        "over.sqlite3) and Xapian shards. Raw size = the mboxrd file.",
        "",
        "### Pages",
        f"- listarchive served by {served_by(run.machine)[1]}, `LISTARCHIVE_CONFIG` pointing "
        "at the search-on archive; public-inbox by `public-inbox-httpd -W 2` on the same machine. Both on "
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
        f"{', '.join(str(n) for _m, n in sr.facts_threads)}), and their Atom feeds "
        "`/bench/MSGID/t.atom`; raw message `/bench/MSGID/raw` for the message page's "
        "Message-IDs; list index `/bench/` and its feed `/bench/new.atom`; search "
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
        "- Both servers keep a client's connection open between requests (HTTP/1.1 "
        "keep-alive), as wrk asks." if "server" in run.machine else
        "- public-inbox-httpd keeps connections alive and gunicorn's sync workers do not. "
        "This is part of what a production deployment of each would do, so it stays in the "
        "figures.",
        "- Each URL is fetched once from each server first. A server failing more than 10% of "
        "a page's URLs gets that row marked not available; otherwise URLs failing on either "
        "server are dropped for both (public-inbox answers 404 to a search with no match, so "
        "such queries are dropped).",
    ]
