"""Issue 5's two speed figures: a subsystem's review queue page, and ``listarchive git-scan``.

Queue page: a search-off archive of linux-clk ingested once, then again as copy 1, 2, ... (the
replication of :mod:`bench.corpus`) with the real kernel MAINTAINERS imported first, until the
subsystem with the most open patches (catch-alls such as ``THE REST`` left out) has at least
``min_open`` of them; then ``/s/SLUG/queue/`` and its bookmarked variants under wrk, served by
gunicorn as in :func:`bench.ours.serve`.

git-scan: a git repository written with ``git fast-import`` in which every other commit is a real
patch of the corpus (its diff rebuilt from the mail, so ``git patch-id --stable`` agrees with the
archive's) and the commit before it writes that patch's pre-image; then ``listarchive git-scan``
over it, twice, against a copy of the search-off archive the run already built.

Like :mod:`bench.ours`, nothing of the product is imported: the archives are built and scanned
by the ``listarchive`` command, and the facts reported about them (open patches, what the scan
decided) are read from the archive's SQLite file with the standard library.
"""

from __future__ import annotations

import email
import multiprocessing
import os
import random
import re
import shutil
import sqlite3
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from email.message import Message
from email.policy import compat32
from email.utils import parseaddr, parsedate_tz
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bench import ours
from bench.corpus import (
    CORPORA,
    REAL_SETS,
    SMALL_TAKE,
    iter_real,
    rewrite_copy,
    split_mboxrd,
    unescape_mboxrd,
    write_mboxrd,
)
from bench.load import LoadResult, Page, Server, probe, run_wrk, usable_paths
from bench.system import Measured, run_measured, say, stop

MAINTAINERS = CORPORA.parent / "kernel" / "MAINTAINERS"
QUEUE_CONCURRENCY = (1, 8)
OPEN_STATES = ("new", "under-review")
MAX_COPIES = 12
# A gap of unchanged lines between two hunks is shortened to at most this many filler lines:
# enough to keep git's hunks apart (it joins hunks closer than 2 x 3 context lines) without
# writing thousands of lines per file.
MAX_GAP = 20
_HUNK_RE = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_SAFE_PATH = re.compile(r"^[A-Za-z0-9_./+@,=~-]+$")
_PREFIXES = re.compile(r"^(?:\s*\[[^\]]*\])+\s*")
_QUEUE_TOTAL = re.compile(r"(\d+) series ")


# --- the queue page ----------------------------------------------------------------------------


@dataclass
class QueueResult:
    """The queue figure and what it was measured on."""

    small: bool
    min_open: int
    seconds: int = 0  # wrk's duration per row and client count
    ok: bool = False
    error: str = ""
    subsystem: str = ""
    slug: str = ""
    open_patches: int = 0  # patches linked to the subsystem, state new/under-review, not archived
    queue_series: int = 0  # the page's own count of series waiting
    copies: int = 0  # linux-clk ingested this many times (copy 0 = the real mail)
    messages_read: int = 0
    messages_stored: int = 0
    ingest_seconds: float = 0.0
    sections: str = ""  # what `listarchive maintainers import` said
    submitter: str = ""
    load_average: str = ""  # 1, 5, 15 min, when the load started (other work skews it)
    pages: dict[str, str] = field(default_factory=dict)  # row name -> URL
    load: list[LoadResult] = field(default_factory=list)

    def latency(self, page: str, conc: int) -> LoadResult | None:
        return next((r for r in self.load if r.page == page and r.concurrency == conc), None)


def _sql(db: Path, query: str, args: Sequence[object] = ()) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return list(con.execute(query, tuple(args)))
    finally:
        con.close()


def _is_catch_all(name: str, patterns: str) -> bool:
    """``THE REST`` and any section with a file pattern starting with a glob (``F: *``)."""
    files = [line.split("\t", 1)[-1].strip() for line in patterns.splitlines()
             if line.startswith("F:")]
    return name.upper() == "THE REST" or any(f[:1] in "*?[" for f in files)


def open_patches(db: Path) -> list[tuple[str, str, int]]:
    """(name, slug, open patches) per subsystem, most first, catch-alls left out.

    Open = kind ``patch``, effective state new or under-review (no state row means new, or rfc
    for an RFC), not archived; any rank of the subsystem counts, as in the queue's own scope.
    """
    rows = _sql(db, """
        SELECT s.name, s.slug, s.patterns, count(*) FROM patch_subsystems ps
        JOIN patches p ON p.id = ps.patch_id JOIN subsystems s ON s.id = ps.subsystem_id
        LEFT JOIN patch_states st ON st.patch_id = p.id
        WHERE p.kind = 'patch' AND coalesce(st.archived, 0) = 0
          AND coalesce(nullif(st.state, ''), CASE WHEN p.is_rfc THEN 'rfc' ELSE 'new' END)
              IN (?, ?)
        GROUP BY s.id ORDER BY count(*) DESC, s.name""", OPEN_STATES)
    return [(n, slug, int(c)) for n, slug, pat, c in rows if not _is_catch_all(n, pat)]


def _top_submitter(db: Path, slug: str) -> str:
    """The address with the most open series in the subsystem's queue (a bookmark they'd keep)."""
    rows = _sql(db, """
        SELECT se.sender_email, count(DISTINCT se.id) FROM series se
        JOIN patches p ON p.series_id = se.id
        JOIN patch_subsystems ps ON ps.patch_id = p.id
        JOIN subsystems s ON s.id = ps.subsystem_id
        LEFT JOIN series_states st ON st.series_id = se.id
        WHERE s.slug = ? AND coalesce(st.archived, 0) = 0
          AND coalesce(nullif(st.state, ''), CASE WHEN se.is_rfc THEN 'rfc' ELSE 'new' END)
              IN (?, ?)
        GROUP BY se.sender_email ORDER BY 2 DESC LIMIT 1""", (slug, *OPEN_STATES))
    return str(rows[0][0]) if rows else ""


def _clk_copy(path: Path, copy: int, small: bool) -> int:
    """Copy ``copy`` of linux-clk (its first messages for ``small``) as an mboxrd file."""
    clk = REAL_SETS[0]
    work = path.parent / "src"
    messages: Iterator[bytes] = iter_real(clk, work)
    take = SMALL_TAKE[clk.name] if small else None
    out = (rewrite_copy(raw, copy) for i, raw in enumerate(messages)
           if take is None or i < take)
    return write_mboxrd(out, path)


def _cli(cfg: Path, *args: str, timeout: float = 900) -> Measured:
    return run_measured([str(ours.BIN / "listarchive"), "-c", str(cfg), *args], timeout=timeout)


def _fail(m: Measured) -> str:
    if m.timed_out:
        return f"timed out after {m.wall:.0f} s"
    tail = (m.stderr.strip().splitlines() or m.stdout.strip().splitlines() or ["no output"])[-1]
    return f"exit {m.returncode}: {tail[:300]}"


def build_queue_archive(home: Path, res: QueueResult) -> bool:
    """Fill ``home`` (search off) until a real subsystem has ``res.min_open`` open patches.

    MAINTAINERS is imported into the empty archive, so each patch is linked to its subsystems
    as it is stored. Copies are ingested one at a time because how many are needed depends on
    how many of a copy's patches stay open (a copy's later revisions supersede its earlier
    ones, as in the real list).
    """
    cfg = ours.write_config(home, search=False)
    for args in (("init",), ("maintainers", "import", str(MAINTAINERS))):
        m = _cli(cfg, *args)
        if m.returncode != 0:
            res.error = f"{' '.join(args[:1])}: {_fail(m)}"
            return False
        res.sections = m.stdout.strip()
    db = home / "data" / "listarchive.sqlite3"
    for copy in range(MAX_COPIES):
        mbox = home.parent / "review-clk-copy.mboxrd"
        count = _clk_copy(mbox, copy, res.small)
        say(f"review: ingest of linux-clk copy {copy} ({count} messages, search off)")
        m = _cli(cfg, "ingest", "--list", ours.LIST, "--json", str(mbox))
        mbox.unlink()
        res.ingest_seconds += m.wall
        res.copies = copy + 1
        res.messages_read += count
        if m.returncode != 0:
            res.error = f"ingest of copy {copy}: {_fail(m)}"
            return False
        stored = ours._summary(m.stdout).get("new", 0)
        res.messages_stored += stored if isinstance(stored, int) else 0
        best = open_patches(db)
        if best and best[0][2] >= res.min_open:
            res.subsystem, res.slug, res.open_patches = best[0]
            res.submitter = _top_submitter(db, res.slug)
            return True
    res.error = (f"no subsystem reached {res.min_open} open patches after {MAX_COPIES} copies "
                 f"(best: {best[0] if best else 'none'})")
    return False


def queue_pages(slug: str, submitter: str, has_next: bool) -> dict[str, str]:
    """The rows of the queue table: the page, bookmarked filters, and page 2 when it exists."""
    base = f"/s/{slug}/queue/"
    pages = {"queue": base, "queue ?state=new": base + "?state=new"}
    if submitter:
        pages["queue ?submitter="] = base + "?submitter=" + quote(submitter, safe="@")
    if has_next:
        pages["queue ?page=2"] = base + "?page=2"
    return pages


def measure_queue(home: Path, seconds: int, work: Path, small: bool) -> QueueResult:
    """Build the archive, serve it with gunicorn, and run wrk on each queue URL."""
    res = QueueResult(small=small, min_open=200 if small else 5000, seconds=seconds)
    if not MAINTAINERS.exists():
        res.error = f"no MAINTAINERS file at {MAINTAINERS}"
        return res
    if not build_queue_archive(home, res):
        return res
    say(f"review: {res.subsystem} has {res.open_patches} open patches after {res.copies} "
        "copies of linux-clk")
    return load_queue(home, res, seconds, work)


def load_queue(home: Path, res: QueueResult, seconds: int, work: Path) -> QueueResult:
    """Serve the archive at ``home`` and run wrk on each queue URL of ``res.slug``."""
    proc, port, err = ours.serve(home)
    server = Server("listarchive", port, err)
    if proc is None:
        res.error = err
        return res
    try:
        first = probe(server, f"/s/{res.slug}/queue/")
        if first != 200:
            res.error = f"/s/{res.slug}/queue/ answered HTTP {first}"
            return res
        with urllib.request.urlopen(server.url(f"/s/{res.slug}/queue/"), timeout=60) as r:
            html = r.read().decode("utf-8", "replace")
        found = _QUEUE_TOTAL.search(html)
        res.queue_series = int(found.group(1)) if found else 0
        res.pages = queue_pages(res.slug, res.submitter, 'rel="next"' in html)
        res.load_average = " ".join(f"{x:.2f}" for x in os.getloadavg())
        for name, url in res.pages.items():
            paths, unavailable = usable_paths(Page(name, (url,)), [server])
            for conc in QUEUE_CONCURRENCY:
                if not paths:
                    res.load.append(LoadResult(server.name, name, conc, error=unavailable
                                                    .get(server.name, "did not answer 200")))
                    continue
                say(f"wrk listarchive {name} c={conc} ({seconds} s)")
                got = run_wrk(server, paths, conc, seconds, work)
                got.page = name
                res.load.append(got)
        res.ok = True
    finally:
        stop(proc)
    return res


# --- the repository for git-scan ---------------------------------------------------------------


@dataclass(frozen=True)
class FileChange:
    """One file of a patch as two whole files: ``pre`` before, ``post`` after (None: absent)."""

    path: str
    pre: tuple[str, ...] | None
    post: tuple[str, ...] | None


@dataclass(frozen=True)
class MailPatch:
    """A patch mail as ``git am`` would commit it."""

    author_name: str
    author_email: str
    when: str  # "EPOCH +ZZZZ"
    subject: str
    message: str
    files: tuple[FileChange, ...]


def _images(hunks: Sequence[tuple[int, int, list[str], list[str]]], path: str
            ) -> tuple[list[str], list[str]] | None:
    """Pre- and post-image built from hunks, unchanged stretches replaced by filler lines.

    Each hunk keeps its place relative to the file's start and to the previous hunk (gaps
    shortened to :data:`MAX_GAP`), so ``git diff`` of the two images gives back the mail's hunks:
    3 lines of context where the mail had them, fewer only at the file's start or end. ``None``
    for hunks that overlap or go backwards (a hand-edited patch).
    """
    pre: list[str] = []
    post: list[str] = []
    done = 0  # lines of the original pre-image covered so far
    filler = 0
    for start, count, old, new in hunks:
        begin = start if count == 0 else start - 1
        gap = begin - done
        if gap < 0:
            return None
        for _ in range(min(gap, MAX_GAP)):
            filler += 1
            line = f"/* {path}: unchanged line {filler} */"
            pre.append(line)
            post.append(line)
        pre += old
        post += new
        done = begin + count
    return pre, post


def parse_diff(lines: Sequence[str]) -> tuple[FileChange, ...] | None:
    """The files of a ``git format-patch`` diff as pre/post images, or None if not rebuildable.

    Not rebuilt (None): renames, copies, mode changes, binary files, ``\\ No newline at end of
    file``, paths git would quote, diffs without ``a/``/``b/`` prefixes, and hunks whose line
    counts disagree with their header (a mailer that wrapped a long line). A blank line inside a
    hunk is taken as an empty context line: mailers strip the lone space.
    """
    i = 0
    n = len(lines)
    while i < n and not lines[i].startswith("diff --git "):
        i += 1
    files: list[FileChange] = []
    while i < n and lines[i].startswith("diff --git "):
        i += 1
        while i < n and not lines[i].startswith(("--- ", "diff --git ")):
            if not lines[i].startswith(("index ", "new file mode 100644",
                                        "deleted file mode 100644")):
                return None
            i += 1
        if i + 1 >= n or not lines[i].startswith("--- ") or not lines[i + 1].startswith("+++ "):
            return None
        old_name, new_name = lines[i][4:].rstrip(), lines[i + 1][4:].rstrip()
        i += 2
        created, deleted = old_name == "/dev/null", new_name == "/dev/null"
        name = new_name if deleted is False else old_name
        if not name.startswith(("a/", "b/")) or (not created and not deleted
                                                 and old_name[2:] != new_name[2:]):
            return None
        path = name[2:]
        if not _SAFE_PATH.match(path):
            return None
        hunks: list[tuple[int, int, list[str], list[str]]] = []
        while i < n and lines[i].startswith("@@"):
            m = _HUNK_RE.match(lines[i])
            if m is None:
                return None
            start, count = int(m[1]), int(m[2] if m[2] is not None else 1)
            left_old, left_new = count, int(m[4] if m[4] is not None else 1)
            old: list[str] = []
            new: list[str] = []
            i += 1
            while left_old > 0 or left_new > 0:
                if i >= n:
                    return None
                line = lines[i] or " "
                tag, text = line[0], line[1:]
                if tag in " -":
                    old.append(text)
                    left_old -= 1
                if tag in " +":
                    new.append(text)
                    left_new -= 1
                if tag not in " -+" or left_old < 0 or left_new < 0:
                    return None
                i += 1
            if i < n and lines[i].startswith("\\"):
                return None
            hunks.append((start, count, old, new))
        if not hunks:
            return None
        images = _images(hunks, path)
        if images is None:
            return None
        files.append(FileChange(path, None if created else tuple(images[0]),
                                None if deleted else tuple(images[1])))
    return tuple(files) or None


def _header(msg: Message, name: str) -> str:
    value = msg.get(name)
    if value is None:
        return ""
    try:
        return " ".join(str(make_header(decode_header(str(value)))).split())
    except (ValueError, LookupError, UnicodeError):
        return " ".join(str(value).split())


def _body(msg: Message) -> str | None:
    part = next((p for p in msg.walk() if p.get_content_type() == "text/plain"), None)
    if part is None:
        return None
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return None
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("utf-8", errors="replace")


def _clean(text: str) -> str:
    return re.sub(r"[<>\n\r]", "", text).strip()


def mail_patch(raw: bytes) -> MailPatch | None:
    """What ``git am`` would commit from one archived message, or None if it is no plain patch.

    The author is the in-body ``From:`` line when there is one (sent on someone's behalf), else
    the header; the subject loses its ``[PATCH v2 3/7]`` brackets; the message is what precedes
    the ``---`` line.
    """
    msg = email.message_from_bytes(raw, policy=compat32)
    subject = _header(msg, "Subject")
    if "patch" not in subject.lower() or subject.lower().startswith("re:"):
        return None
    body = _body(msg)
    if body is None or "\ndiff --git " not in body:
        return None
    lines = [line.rstrip("\r") for line in body.split("\n")]
    files = parse_diff(lines)
    if files is None:
        return None
    name, addr = parseaddr(_header(msg, "From"))
    head_end = next((k for k, line in enumerate(lines) if line == "---"
                     or line.startswith("diff --git ")), len(lines))
    text = lines[:head_end]
    if text and text[0].startswith("From: "):
        name, addr = parseaddr(text[0][6:])
        text = text[1:]
    title = _PREFIXES.sub("", subject).strip()
    parsed = parsedate_tz(_header(msg, "Date"))
    when = "0 +0000"
    if parsed is not None:
        offset = parsed[9] or 0
        sign = "-" if offset < 0 else "+"
        when = (f"{email.utils.mktime_tz(parsed)} {sign}{abs(offset) // 3600:02d}"
                f"{abs(offset) % 3600 // 60:02d}")
    if not addr or not title:
        return None
    message = title + "\n\n" + "\n".join(text).strip() + "\n"
    return MailPatch(_clean(name) or _clean(addr), _clean(addr), when, title, message, files)


def pick_patches(mbox: Path, count: int, seed: int = 5) -> list[MailPatch]:
    """``count`` rebuildable patches spread over ``mbox`` (fixed seed), in the mailbox's order."""
    candidates: list[int] = []
    with mbox.open("rb") as fh:
        for k, raw in enumerate(split_mboxrd(fh)):
            if b"\ndiff --git " in raw:
                candidates.append(k)
    order = candidates[:]
    random.Random(seed).shuffle(order)
    rank = {k: r for r, k in enumerate(order)}
    wanted = set(order[:count * 2])
    found: list[tuple[int, int, MailPatch]] = []
    with mbox.open("rb") as fh:
        for k, raw in enumerate(split_mboxrd(fh)):
            if k in wanted:
                patch = mail_patch(unescape_mboxrd(raw))
                if patch is not None:
                    found.append((rank[k], k, patch))
    found.sort()
    return [p for _r, _k, p in sorted(found[:count], key=lambda t: t[1])]


def _data(text: str) -> bytes:
    blob = text.encode("utf-8", errors="replace")
    return b"data %d\n" % len(blob) + blob + b"\n"


def fast_import_stream(patches: Sequence[MailPatch]) -> Iterator[bytes]:
    """Two commits per patch on ``refs/heads/main``: its pre-image, then the patch itself."""
    tick = 1_600_000_000
    for patch in patches:
        for step in ("pre", "post"):
            tick += 60
            if step == "pre":
                who, msg = "Tree Keeper <tree@example.org>", f"Prepare for: {patch.subject}\n"
            else:
                who, msg = f"{patch.author_name} <{patch.author_email}>", patch.message
            when = f"{tick} +0000" if step == "pre" else patch.when
            out = [b"commit refs/heads/main\n",
                   f"author {who} {when}\n".encode("utf-8", errors="replace"),
                   f"committer Tree Keeper <tree@example.org> {tick} +0000\n".encode(),
                   _data(msg)]
            for change in patch.files:
                lines = change.pre if step == "pre" else change.post
                if lines is None:
                    out.append(f"D {change.path}\n".encode())
                else:
                    out.append(f"M 100644 inline {change.path}\n".encode())
                    out.append(_data("".join(line + "\n" for line in lines)))
            out.append(b"\n")
            yield b"".join(out)


def write_repo(patches: Sequence[MailPatch], repo: Path) -> int:
    """A fresh repository at ``repo`` with the commits of :func:`fast_import_stream`."""
    if repo.exists():
        shutil.rmtree(repo)
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    proc = subprocess.Popen(["git", "-C", str(repo), "fast-import", "--quiet"],
                            stdin=subprocess.PIPE)
    assert proc.stdin is not None
    for chunk in fast_import_stream(patches):
        proc.stdin.write(chunk)
    proc.stdin.close()
    if proc.wait() != 0:
        raise RuntimeError("git fast-import failed")
    count = subprocess.run(["git", "-C", str(repo), "rev-list", "--count", "main"],
                           check=True, capture_output=True, text=True).stdout
    return int(count)


def build_repo(mbox: Path, count: int, repo: Path) -> tuple[int, int]:
    """:func:`pick_patches` then :func:`write_repo`; returns (patches used, commits)."""
    patches = pick_patches(mbox, count)
    return len(patches), write_repo(patches, repo)


# --- git-scan ----------------------------------------------------------------------------------


@dataclass
class ScanRun:
    """One ``listarchive git-scan`` run."""

    ok: bool = False
    error: str = ""
    wall: float = 0.0
    cpu: float = 0.0
    max_rss_mb: float = 0.0
    output: str = ""
    commits_read: int = 0
    matched: int = 0
    changed: int = 0


@dataclass
class GitScanResult:
    small: bool
    ok: bool = False
    error: str = ""
    archive: str = ""  # the archive copied (its folder under bench/scratch)
    archive_messages: int = 0
    archive_patches: int = 0
    patches_used: int = 0
    commits: int = 0
    build_seconds: float = 0.0
    by_patch_id: int = 0
    by_author_subject: int = 0
    load_average: str = ""  # 1, 5, 15 min, just before the first scan
    first: ScanRun | None = None
    second: ScanRun | None = None


_SCAN_OUT = re.compile(r"read (\d+) new commits .*: (\d+) patches matched, (\d+) marked accepted")


def _scan(cfg: Path, repo: Path) -> ScanRun:
    m = _cli(cfg, "git-scan", str(repo), "main", timeout=600)
    run = ScanRun(wall=m.wall, cpu=m.cpu, max_rss_mb=m.max_rss_mb, output=m.stdout.strip())
    found = _SCAN_OUT.search(m.stdout)
    if m.returncode != 0 or found is None:
        run.error = _fail(m)
        return run
    run.ok = True
    run.commits_read, run.matched, run.changed = (int(x) for x in found.groups())
    return run


def measure_git_scan(source: Path, mbox: Path, work: Path, small: bool) -> GitScanResult:
    """Copy the archive at ``source``, build the repository from ``mbox``, scan twice."""
    res = GitScanResult(small=small, archive=source.name)
    src_db = source / "data" / "listarchive.sqlite3"
    if not src_db.exists():
        res.error = f"no archive at {source.name}"
        return res
    home = work / f"review-gitscan-{source.name}"
    cfg = ours.write_config(home, search=False)
    shutil.rmtree(home / "data")
    shutil.copytree(source / "data", home / "data")
    db = home / "data" / "listarchive.sqlite3"
    repo = work / f"review-repo-{source.name}"
    res.archive_messages = int(_sql(db, "SELECT count(*) FROM messages")[0][0])
    res.archive_patches = int(_sql(db, "SELECT count(*) FROM patches WHERE kind = 'patch'")[0][0])
    started = time.monotonic()
    want = 300 if small else 5000
    say(f"review: writing a repository of {2 * want} commits with git fast-import")
    # In a fresh process: the parsed patches would otherwise stay in this one, and Linux counts
    # the memory a child was forked with in its peak RSS, so git-scan's figure would carry it.
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        res.patches_used, res.commits = pool.submit(build_repo, mbox, want,
                                                    repo).result()
    res.build_seconds = time.monotonic() - started
    res.load_average = " ".join(f"{x:.2f}" for x in os.getloadavg())
    say(f"review: git-scan of {res.commits} commits against {res.archive_messages} messages")
    res.first = _scan(cfg, repo)
    res.second = _scan(cfg, repo)
    if not res.first.ok or not res.second.ok:
        res.error = (res.first.error or res.second.error)
        return res
    for reason, n in _sql(db, """SELECT reason, count(*) FROM state_changes
                                 WHERE rule = 'git' AND to_value = 'accepted'
                                 GROUP BY reason LIKE '%matched by patch-id%'"""):
        if "matched by patch-id" in str(reason):
            res.by_patch_id = int(n)
        else:
            res.by_author_subject = int(n)
    res.ok = True
    return res


# --- both, for one run -------------------------------------------------------------------------


@dataclass
class ReviewRun:
    """Issue 5's figures of one ``make bench`` run."""

    size: str
    queue: QueueResult | None = None
    git_scan: GitScanResult | None = None


def measure(size: str, archive: Path, mbox: Path, seconds: int, work: Path,
            small: bool, pages: bool = True) -> ReviewRun:
    """Both figures: the queue on its own linux-clk archive (unless ``pages`` is false: no HTTP
    measurements in this run), git-scan against a copy of ``archive`` built from ``mbox``."""
    run = ReviewRun(size)
    if pages:
        # Named by what it holds, so a small run does not replace the full queue archive.
        queue_home = work / ("review-queue-small" if small else "review-queue")
        run.queue = measure_queue(queue_home, seconds, work / "wrk", small)
        if run.queue.error:
            say(f"review: queue not measured: {run.queue.error}")
    run.git_scan = measure_git_scan(archive, mbox, work, small)
    if run.git_scan.error:
        say(f"review: git-scan not measured: {run.git_scan.error}")
    return run


def from_dict(data: dict[str, Any] | None) -> ReviewRun | None:
    """A :class:`ReviewRun` back from ``results.json`` (None when the run had none)."""
    if not data:
        return None
    queue = data.get("queue")
    scan = data.get("git_scan")
    run = ReviewRun(str(data.get("size", "")))
    if queue:
        queue = dict(queue)
        queue["load"] = [LoadResult(**r) for r in queue.get("load", [])]
        run.queue = QueueResult(**queue)
    if scan:
        scan = dict(scan)
        for key in ("first", "second"):
            scan[key] = ScanRun(**scan[key]) if scan.get(key) else None
        run.git_scan = GitScanResult(**scan)
    return run
