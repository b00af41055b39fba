"""Range-diff of two revisions of a series, from their mail alone (no git tree), as
``git range-diff`` reads two commit ranges.

Patches of the old and the new revision are paired: the same ``git patch-id`` first (the change
is the same, whatever moved around it), then by title and files touched (``git range-diff``
pairs by the size of the diff between the diffs; titles, paths and the sets of changed lines
are what a reroll keeps and are linear to compare). Each pair is ``unchanged`` (same
patch-id) or ``changed``, with the diff between the two diffs and the diff of the commit
messages; a patch of the old revision left unpaired is ``dropped``, one of the new ``added``.

The diffs are compared as ``git range-diff`` shows them: ``index`` lines and line numbers of
hunk headers left out (``@@ drivers/clk/clk.c: int rate(void)``), so that a patch moved by an
earlier change compares equal. Mail controls every input here, so each text is cut at
:data:`MAX_LINES` lines and a series at :data:`MAX_PATCHES` patches before any comparison.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass

UNCHANGED = "unchanged"
CHANGED = "changed"
ADDED = "added"
DROPPED = "dropped"
STATUSES = (UNCHANGED, CHANGED, ADDED, DROPPED)

MAX_LINES = 3000  # of one diff or commit message compared
MAX_PATCHES = 200  # of one revision
PAIR_THRESHOLD = 0.5  # the least similarity two patches of different patch-ids pair at
_HUNK_RE = re.compile(r"^@@ -\d+(?:,\d+)? \+\d+(?:,\d+)? @@ ?(.*)$")
_DIFF_GIT_RE = re.compile(r"^diff --git a/(.*) b/(.*)$")


@dataclass(frozen=True)
class RevisionPatch:
    """One patch of a revision as the comparison needs it (``number``: its k of k/N)."""

    number: int
    title: str
    message: str
    diff: str
    patch_id: str = ""
    files: tuple[str, ...] = ()
    ref: int = 0  # the caller's id for it (the archive's patch id)


@dataclass(frozen=True)
class PatchPair:
    status: str  # one of STATUSES
    old: RevisionPatch | None
    new: RevisionPatch | None
    diff_lines: tuple[str, ...] = ()  # the diff between the diffs, each line with its marker
    message_lines: tuple[str, ...] = ()  # the diff of the commit messages; () when equal
    truncated: bool = False


def normalized_diff(diff: str) -> list[str]:
    """The diff as range-diff compares it: ``## path ##`` per file, hunk headers without line
    numbers, no ``index``/``---``/``+++`` lines. At most :data:`MAX_LINES` lines."""
    out: list[str] = []
    path = ""
    for line in diff.splitlines()[:MAX_LINES]:
        # Most lines are a hunk's: kept as they are, without trying every pattern on them.
        first = line[:1]
        if first == " " or (first == "+" and not line.startswith("+++ ")) or (
                first == "-" and not line.startswith("--- ")):
            out.append(line)
            continue
        found = _DIFF_GIT_RE.match(line) if first == "d" else None
        if found:
            path = found.group(2)
            out.append(f"## {path} ##")
            continue
        if line.startswith("+++ "):
            target = line[4:].split("\t", 1)[0].strip()
            if target.startswith("b/"):
                target = target[2:]
            if target != path and target != "/dev/null":
                path = target
                out.append(f"## {path} ##")
            continue
        if line.startswith(("--- ", "index ")):
            continue
        hunk = _HUNK_RE.match(line) if first == "@" else None
        if hunk:
            out.append(f"@@ {path}: {hunk.group(1)}".rstrip())
        elif line.startswith(("+", "-", " ", "\\")) or line == "":
            out.append(line)
        else:  # mode, rename, similarity lines: part of what changed
            out.append(line)
    return out


def _message_lines(message: str) -> list[str]:
    return [line.rstrip() for line in message.strip().splitlines()[:MAX_LINES]]


def _unified(old: list[str], new: list[str]) -> tuple[str, ...]:
    """The hunks of a unified diff of two line lists, without the ``---``/``+++`` header."""
    lines = difflib.unified_diff(old, new, lineterm="", n=3)
    return tuple(line for line in lines if not line.startswith(("--- ", "+++ ")))


def _scores(old: Sequence[RevisionPatch], new: Sequence[RevisionPatch],
            old_lines: Sequence[set[str]], new_lines: Sequence[set[str]],
            pairs: Sequence[tuple[int, int]]) -> list[tuple[float, int, int, int]]:
    """(similarity, -distance of the numbers, new index, old index) of those of the (new, old)
    ``pairs`` whose similarity reaches :data:`PAIR_THRESHOLD`: half the titles' likeness
    (:class:`difflib.SequenceMatcher`), a fifth the files in common, three tenths the changed
    lines in common.

    The titles' ratio is the costly part (a 32-patch reroll whose patch-ids all changed compares
    1,024 pairs), so it is bounded first by the two cheap upper bounds difflib offers: a pair
    that cannot reach the threshold even with that bound is left out, one that can is scored
    exactly as always, so the pairing does not change.
    """
    titles_old = [p.title.lower()[:200] for p in old]
    files_old = [set(p.files) for p in old]
    out: list[tuple[float, int, int, int]] = []
    by_new: dict[int, list[int]] = {}
    for j, i in pairs:
        by_new.setdefault(j, []).append(i)
    for j, olds in by_new.items():
        matcher = difflib.SequenceMatcher(None)
        matcher.set_seq2(new[j].title.lower()[:200])  # difflib indexes its second text once
        files_new = set(new[j].files)
        for i in olds:
            files = _jaccard(files_old[i], files_new)
            lines = _jaccard(old_lines[i], new_lines[j])
            matcher.set_seq1(titles_old[i])
            # The same expression as the score below: rounding keeps a bound a bound.
            if 0.5 * matcher.real_quick_ratio() + 0.2 * files + 0.3 * lines < PAIR_THRESHOLD \
                    or 0.5 * matcher.quick_ratio() + 0.2 * files + 0.3 * lines < PAIR_THRESHOLD:
                continue
            score = 0.5 * matcher.ratio() + 0.2 * files + 0.3 * lines
            if score >= PAIR_THRESHOLD:
                out.append((score, -abs(old[i].number - new[j].number), j, i))
    return out


def _jaccard(a: set[str], b: set[str]) -> float:
    union = a | b
    return len(a & b) / len(union) if union else 0.0


def _changed(diff: str) -> set[str]:
    """The added and removed lines of a diff (the first :data:`MAX_LINES`), as a set."""
    return {line for line in diff.splitlines()[:MAX_LINES]
            if line[:1] in "+-" and not line.startswith(("+++ ", "--- "))}


def pair_patches(old: Sequence[RevisionPatch], new: Sequence[RevisionPatch]
                 ) -> list[tuple[RevisionPatch | None, RevisionPatch | None]]:
    """Old and new patches paired (each at most once), in the new revision's order with each
    dropped patch after the pair before it in the old order."""
    old = list(old)[:MAX_PATCHES]
    new = list(new)[:MAX_PATCHES]
    match: dict[int, int] = {}  # new index -> old index
    by_id: dict[str, list[int]] = {}
    for i, patch in enumerate(old):
        if patch.patch_id:
            by_id.setdefault(patch.patch_id, []).append(i)
    for j, patch in enumerate(new):
        if patch.patch_id and by_id.get(patch.patch_id):
            match[j] = by_id[patch.patch_id].pop(0)
    taken = set(match.values())
    old_lines = [_changed(p.diff) if i not in taken else set() for i, p in enumerate(old)]
    new_lines = [_changed(p.diff) if j not in match else set() for j, p in enumerate(new)]
    scored = sorted(_scores(old, new, old_lines, new_lines,
                            [(j, i) for j in range(len(new)) if j not in match
                             for i in range(len(old)) if i not in taken]), reverse=True)
    for _score, _, j, i in scored:
        if j in match or i in taken:
            continue
        match[j] = i
        taken.add(i)
    out: list[tuple[RevisionPatch | None, RevisionPatch | None]] = []
    emitted: set[int] = set()

    def flush_dropped(up_to: int) -> None:
        for i in range(up_to):
            if i not in taken and i not in emitted:
                emitted.add(i)
                out.append((old[i], None))

    for j, patch in enumerate(new):
        if j in match:
            flush_dropped(match[j])
            out.append((old[match[j]], patch))
        else:
            out.append((None, patch))
    flush_dropped(len(old))
    return out


def compare(old: RevisionPatch | None, new: RevisionPatch | None) -> PatchPair:
    """One pair classified, with the diff of its diffs and of its commit messages."""
    if old is None:
        return PatchPair(ADDED, None, new)
    if new is None:
        return PatchPair(DROPPED, old, None)
    old_message, new_message = _message_lines(old.message), _message_lines(new.message)
    message = _unified(old_message, new_message) if old_message != new_message else ()
    truncated = max(len(old.diff.splitlines()), len(new.diff.splitlines())) > MAX_LINES
    if old.patch_id and old.patch_id == new.patch_id:
        return PatchPair(UNCHANGED, old, new, (), message, truncated)
    old_diff, new_diff = normalized_diff(old.diff), normalized_diff(new.diff)
    diff = _unified(old_diff, new_diff) if old_diff != new_diff else ()
    status = CHANGED if diff or message or not old.patch_id else UNCHANGED
    return PatchPair(status, old, new, diff, message, truncated)


def range_diff(old: Sequence[RevisionPatch], new: Sequence[RevisionPatch]) -> list[PatchPair]:
    """Every pair of the two revisions, classified, in the new revision's order."""
    return [compare(a, b) for a, b in pair_patches(old, new)]


def as_text(pairs: Sequence[PatchPair]) -> str:
    """The plain-text form, laid out like ``git range-diff``: ``1: = 1: title`` lines
    (``=`` unchanged, ``!`` changed, ``<`` dropped, ``>`` added), each changed pair followed by
    its commit-message and diff-of-diff lines indented by four spaces."""
    marks = {UNCHANGED: "=", CHANGED: "!", DROPPED: "<", ADDED: ">"}
    out: list[str] = []
    for pair in pairs:
        left = f"{pair.old.number}:" if pair.old is not None else "-:"
        right = f"{pair.new.number}:" if pair.new is not None else "-:"
        either = pair.new or pair.old
        title = either.title if either is not None else ""
        out.append(f"{left:>4} {marks[pair.status]} {right:>4} {title}")
        if pair.message_lines:
            out.append("    ## Commit message ##")
            out.extend("    " + line for line in pair.message_lines)
        out.extend("    " + line for line in pair.diff_lines)
        if pair.truncated:
            out.append(f"    (compared the first {MAX_LINES} lines only)")
    return "\n".join(out) + "\n"
