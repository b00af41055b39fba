"""``listarchive git-scan REPO [BRANCH]``: mark accepted the patches that landed in a git tree.

Each new commit's ``git patch-id --stable`` is computed in one pipeline (``git log -p | git
patch-id --stable``, a few seconds for 10k commits) and matched to the patches' stored patch-id;
a commit with no such match is tried by author address and subject against the patch's sender
and title (the maintainer fixed up the diff while applying). When several patches match one commit
(a resend, an unchanged patch carried from v1 to v2) the newest is the one that was applied.

The scanned tip is remembered per repository and branch, so the next scan reads only commits
added since; a history rewritten underneath (the remembered commit is gone) is read again whole.
Patches stored after their commit was scanned are found by ``--all``.

A pull request is accepted when the commit it asks to fetch ("for you to fetch changes up to
HASH", often a merge commit) is in the branch: every open pull is checked at every scan, so a
pull archived after its merge was scanned is found too.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from listarchive.archive.batches import select_in
from listarchive.archive.models import Patch, PatchState, SourceState
from listarchive.errors import SourceError
from listarchive.mail.extract import PULL
from listarchive.review.decisions import Decision, apply_decisions
from listarchive.review.history import COMMIT_ID
from listarchive.review.states import patch_state_column


@dataclass(frozen=True)
class Commit:
    sha: str
    author_email: str
    subject: str
    patch_id: str  # '' for a commit without a textual diff


@dataclass(frozen=True)
class ScanResult:
    commits: int  # new commits read
    matched: int  # patches that matched one of them, and pull requests that landed
    changed: int  # patches whose state changed (to accepted)
    tip: str


def _git(repo: Path, *args: str) -> str:
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=False)
    except FileNotFoundError as exc:
        raise SourceError("git is not installed") from exc
    if done.returncode != 0:
        raise SourceError(f"{repo}: git {' '.join(args)}: "
                          f"{done.stderr.decode(errors='replace').strip()}")
    return done.stdout.decode("utf-8", errors="replace")


def resolve_tip(repo: Path, branch: str | None) -> str:
    _git(repo, "rev-parse", "--git-dir")
    return _git(repo, "rev-parse", "--verify", "--quiet", f"{branch or 'HEAD'}^{{commit}}").strip()


def _exists(repo: Path, sha: str) -> bool:
    done = subprocess.run(["git", "-C", str(repo), "cat-file", "-e", f"{sha}^{{commit}}"],
                          capture_output=True, check=False)
    return done.returncode == 0


def read_commits(repo: Path, revs: Sequence[str]) -> list[Commit]:
    """Non-merge commits of ``revs`` (``git log`` syntax: ``tip``, ``^old``), oldest first."""
    meta = _git(repo, "log", "--no-merges", "-z", "--format=%H%x1f%ae%x1f%s", *revs, "--")
    log = subprocess.Popen(
        ["git", "-C", str(repo), "log", "--no-merges", "-p", "--format=commit %H", "--no-color",
         "--no-ext-diff", "--no-textconv", *revs, "--"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    ids = subprocess.run(["git", "-C", str(repo), "patch-id", "--stable"], stdin=log.stdout,
                         capture_output=True, check=False)
    assert log.stdout is not None
    log.stdout.close()
    if log.wait() != 0 or ids.returncode != 0:
        raise SourceError(f"{repo}: git log | git patch-id failed: "
                          f"{ids.stderr.decode(errors='replace').strip()}")
    patch_ids: dict[str, str] = {}
    for line in ids.stdout.decode("ascii", errors="replace").splitlines():
        pid, _, sha = line.partition(" ")
        patch_ids[sha.strip()] = pid
    commits = []
    for record in meta.split("\0"):
        if not record.strip():
            continue
        sha, email, subject = (record.strip("\n").split("\x1f") + ["", ""])[:3]
        commits.append(Commit(sha, email.lower(), subject, patch_ids.get(sha, "")))
    commits.reverse()
    return commits


def landed_pulls(session: Session, repo: Path, tip: str) -> dict[int, str]:
    """Pull request id -> its head commit, for the pulls not yet accepted whose head is
    reachable from ``tip``. One ``git cat-file`` finds the heads the repository has at all;
    ``git merge-base --is-ancestor`` then asks about each of those."""
    accepted = patch_state_column() == "accepted"
    pending = [(row.id, row.pull_head) for row in session.execute(
        select(Patch.id, Patch.pull_head).outerjoin(PatchState, PatchState.patch_id == Patch.id)
        .where(Patch.kind == PULL, Patch.pull_head != "", ~accepted))]
    if not pending:
        return {}
    feed = "".join(f"{head}^{{commit}}\n" for _, head in pending).encode()
    done = subprocess.run(["git", "-C", str(repo), "cat-file", "--batch-check=%(objectname)"],
                          input=feed, capture_output=True, check=False)
    answers = done.stdout.decode("ascii", errors="replace").splitlines()
    found: dict[int, str] = {}
    for (pid, _), answer in zip(pending, answers, strict=False):
        sha = answer.strip()
        if not COMMIT_ID.fullmatch(sha):
            continue  # "... missing" (or ambiguous): the pulled commits are not here
        ancestor = subprocess.run(["git", "-C", str(repo), "merge-base", "--is-ancestor", sha,
                                   tip], capture_output=True, check=False)
        if ancestor.returncode == 0:
            found[pid] = sha
    return found


def normalize_title(title: str) -> str:
    """Subjects compared case- and spacing-insensitively (git am keeps them; mailers refold)."""
    return " ".join(title.lower().split())


def match_commits(session: Session, commits: Sequence[Commit]) -> dict[int, tuple[Commit, str]]:
    """Patch id -> (the first commit that matches it, ``patch-id`` or ``author and subject``)."""
    by_pid: dict[str, tuple[datetime, int]] = {}
    for row in select_in(session, select(Patch.id, Patch.patch_id, Patch.date)
                         .where(Patch.kind == "patch"), Patch.patch_id,
                         (c.patch_id for c in commits if c.patch_id)):
        newest = (row.date or datetime.min, row.id)
        if row.patch_id not in by_pid or newest > by_pid[row.patch_id]:
            by_pid[row.patch_id] = newest
    found: dict[int, tuple[Commit, str]] = {}
    rest: list[Commit] = []
    for commit in commits:
        hit = by_pid.get(commit.patch_id) if commit.patch_id else None
        if hit is None:
            rest.append(commit)
        elif hit[1] not in found:
            found[hit[1]] = (commit, "patch-id")
    by_title: dict[tuple[str, str], tuple[datetime, int]] = {}
    for row in select_in(session, select(Patch.id, Patch.sender_email, Patch.title, Patch.date)
                         .where(Patch.kind == "patch"), Patch.sender_email,
                         (c.author_email for c in rest if c.author_email)):
        title_key = (row.sender_email, normalize_title(row.title))
        value = (row.date or datetime.min, row.id)
        if title_key not in by_title or value > by_title[title_key]:
            by_title[title_key] = value
    for commit in rest:
        got = by_title.get((commit.author_email, normalize_title(commit.subject)))
        if got is not None and got[1] not in found:
            found[got[1]] = (commit, "author and subject")
    return found


def scan(session: Session, repo: str | Path, branch: str | None = None,
         full: bool = False) -> ScanResult:
    """Read the commits of ``branch`` (default HEAD) added since the last scan (all of them the
    first time, or with ``full``) and mark the patches they match accepted (rule ``git``,
    evidence: the commit id), and the pull requests whose head is in the branch."""
    path = Path(repo).resolve()
    if not path.exists():
        raise SourceError(f"{repo}: no such repository")
    tip = resolve_tip(path, branch)
    if not tip:
        raise SourceError(f"{repo}: no branch or commit {branch or 'HEAD'!r}")
    key = f"git-scan:{path}#{branch or 'HEAD'}"
    position = session.scalars(select(SourceState).where(SourceState.source == key)).first()
    last = position.position if position is not None and not full else ""
    commits: list[Commit] = []
    if last != tip:
        revs = [tip] + ([f"^{last}"] if last and _exists(path, last) else [])
        commits = read_commits(path, revs)
    found = match_commits(session, commits)
    where = f"{path.name} {branch or 'HEAD'}"
    decisions = [Decision(pk, "accepted", "git", commit.sha,
                          f"commit {commit.sha[:12]} in {where} (matched by {how})")
                 for pk, (commit, how) in sorted(found.items())]
    pulls = landed_pulls(session, path, tip)
    decisions += [Decision(pk, "accepted", "git", sha, f"pulled: head {sha[:12]} is in {where}")
                  for pk, sha in sorted(pulls.items())]
    changed = apply_decisions(session, decisions)
    if position is None:
        session.add(SourceState(source=key, position=tip))
    else:
        position.position = tip
    return ScanResult(len(commits), len(found) + len(pulls), len(changed), tip)
