"""Where the diffs are in a text, read line by line as ``git apply`` and ``patch(1)`` count them.

:func:`starts_diff` is the one rule for where a diff starts; :func:`scan` reads every diff region
of a text in one pass: unified diffs (git's, with their extended headers and binary patches, and
bare ``diff -urN`` output), CVS diffs (``Index:``/``RCS file:``), context diffs (``diff -c``),
with the damage mailers do (a header line wrapped at 80 columns, a blank context line that lost
its space). The files and their kinds of change are read by :mod:`listarchive.mail.filechanges`,
context diff hunks by :mod:`listarchive.mail.contextdiff`. Pure and linear in the text; nothing
here raises on mail content.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from listarchive.mail.contextdiff import CONTEXT_HUNK, ContextHunk
from listarchive.mail.filechanges import HEADER_PREFIXES, FileChange, FileTally, read_header_line

_HUNK_RE = re.compile(r"@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@ ?(.*)")

# The first characters of the lines that may open a diff: a cheap test before starts_diff.
DIFF_OPENERS = "dI-*"


def diff_start(text: str) -> int:
    """Offset in ``text`` of the first line that opens a diff (see :func:`starts_diff`), or -1.

    ``"fix it\n---\n f | 2 +-\n\ndiff --git a/f b/f\n"`` gives the offset of ``diff --git``.
    """
    lines = text.split("\n")
    pos = 0
    for i, line in enumerate(lines):
        if line[:1] in DIFF_OPENERS and starts_diff(lines, i):
            return pos
        pos += len(line) + 1
    return -1


def diff_lines(text: str) -> list[tuple[int, int]]:
    """The line ranges ``[first, end)`` of ``text`` (LF line ends) that the scanner reads as
    diff: what trailer collection skips in a review reply that suggests a change and gives its
    tag after the diff."""
    found = scan(text)
    return found.regions if found is not None else []


@dataclass
class Scan:
    """What :func:`scan` read: the diff regions joined (``diff``), where the first starts, the
    files with their counts, the added and removed lines, hunk function contexts and flags."""

    start_offset: int
    diff: str
    hunk_headers: list[str]
    added: list[str]
    removed: list[str]
    flags: set[str]
    files: tuple[FileChange, ...]
    regions: list[tuple[int, int]]  # [first line, end line) of each diff region


def starts_diff(lines: Sequence[str], i: int) -> bool:
    """Whether ``lines[i]`` opens a diff: ``diff --git``/``diff -u`` and friends, ``Index:``
    followed by ``=====`` or ``---`` (CVS and SVN), a ``---``/``+++`` pair followed by a hunk,
    or the ``***``/``---`` pair of a context diff (``diff -c``) followed by its ``***************``
    -- also when a mailer wrapped the second file line's timestamp onto a line of its own.
    The one rule for where a diff starts: the scanner, the am-ready split, trailer collection,
    the search index and the page renderer all ask this."""
    line = lines[i]
    if line.startswith("diff --git ") or line.startswith("diff -"):
        return True
    nxt = lines[i + 1] if i + 1 < len(lines) else ""
    if line.startswith("Index: "):
        return nxt.startswith("=====") or nxt.startswith("--- ")
    if line.startswith("--- ") and nxt.startswith("+++ "):
        return _hunk_follows(lines, i + 2, "@@ -")
    if line.startswith("*** ") and nxt.startswith("--- "):
        return _hunk_follows(lines, i + 2, CONTEXT_HUNK)
    return False


def _hunk_follows(lines: Sequence[str], i: int, opener: str) -> bool:
    """Whether the first hunk opens at ``lines[i]``, or one line later after a wrapped piece
    of the file line above (``+++ b/file Fri Apr  6 09:23:27`` then ``2001``)."""
    if i < len(lines) and lines[i].startswith(opener):
        return True
    return i + 1 < len(lines) and _wrapped(lines[i]) and lines[i + 1].startswith(opener)


def _wrapped(line: str) -> bool:
    """A remainder of a file line that a mailer wrapped at 80 columns (``2001``, ``:38 2001``,
    ``2.4/linux/arch/mips/kernel/traps.c``)."""
    return 0 < len(line) <= 60 and line[:1] not in " +-@*\\\t<>"


_WRAPPED_BEFORE = ("diff ", "--- ", "+++ ", "*** ")
_WRAPPED_AFTER = ("--- ", "+++ ", "@@ -", CONTEXT_HUNK, "index ", "diff ")


def scan(text: str) -> Scan | None:
    """Find the diff regions of ``text`` in one pass, counting hunk lines as git apply (and,
    for context diffs, patch(1)) does.

    A region ends at the first line after a complete hunk that is neither a hunk header nor a
    file header: the ``-- `` signature of git format-patch, or prose after an inline diff. A
    later diff start opens another region (two diffs in one review reply).
    """
    lines = text.split("\n")
    regions: list[tuple[int, int]] = []
    hunk_headers: list[str] = []
    added: list[str] = []
    removed: list[str] = []
    flags: set[str] = set()
    files: list[FileTally] = []
    pending = False
    start = -1
    before = after = 0
    in_hunk = False
    binary = 0
    ctx = ContextHunk()
    i = 0
    n = len(lines)
    while i < n:
        line = lines[i]
        if start < 0:
            if line[:1] in DIFF_OPENERS and starts_diff(lines, i):
                start, in_hunk, binary, pending, ctx = i, False, 0, False, ContextHunk()
            else:
                i += 1
                continue
        if in_hunk and (before > 0 or after > 0):
            c = line[:1]
            if c == " ":
                before -= 1
                after -= 1
            elif c == "-":
                before -= 1
                removed.append(line[1:])
                files[-1].deletions += 1
            elif c == "+":
                after -= 1
                added.append(line[1:])
                files[-1].insertions += 1
            elif c == "\\":
                pass
            elif i == n - 1 and not line:
                flags.add("truncated-diff")
                break
            else:
                # A context line that lost its leading space: format=flowed or a mailer that
                # strips trailing blanks. git apply accepts the empty ones as context.
                flags.add("flowed-damage")
                before -= 1
                after -= 1
            i += 1
            continue
        in_hunk = False
        if ctx.side:
            step = ctx.read(lines, i, files[-1], added, removed, flags)
            if step == "end":
                regions.append((start, i))
                start = -1
                continue
            if step == "next":
                i += 1
                continue
        if binary == 1:  # base85 data until a blank line
            binary = 2 if not line else 1
            i += 1
            continue
        if binary == 2:  # after a blank: the reverse "literal"/"delta" block, or the next file
            binary = 1 if line.startswith(("literal ", "delta ")) else 0
            if binary:
                i += 1
                continue
        m = _HUNK_RE.match(line) if line.startswith("@@ -") else None
        if m and not files:
            m = None  # a hunk with no file header: not something git apply can use
        if m:
            files[-1].hunks += 1
            if files[-1].change == "mode":
                files[-1].change = "modified"
            before = int(m.group(1)) if m.group(1) is not None else 1
            after = int(m.group(2)) if m.group(2) is not None else 1
            in_hunk = True
            hunk_headers.append(m.group(3).strip())
        elif line.startswith(CONTEXT_HUNK) and files and not line.strip("*").startswith("*"):
            files[-1].hunks += 1
            ctx = ContextHunk(side="want-old")
            hunk_headers.append(line[15:].strip())
        elif line.startswith(HEADER_PREFIXES) or (
                line.startswith("*** ") and i + 1 < n and lines[i + 1].startswith("--- ")):
            pending = read_header_line(files, pending, line)
            if line.startswith(("GIT binary patch", "Binary files ")):
                flags.add("binary")
                binary = 1 if line.startswith("GIT") else 0
        elif (i > 0 and lines[i - 1].startswith(_WRAPPED_BEFORE) and _wrapped(line)
              and i + 1 < n and lines[i + 1].startswith(_WRAPPED_AFTER)):
            flags.add("wrapped-header")  # a header line's end, wrapped by a mailer
        else:
            regions.append((start, i))
            start = -1
            continue  # this line may itself open the next region
        i += 1
    if start >= 0:
        if (in_hunk and (before > 0 or after > 0)) or (ctx.side and ctx.left > 0):
            flags.add("truncated-diff")
        regions.append((start, n))
    if not regions:
        return None
    first = regions[0][0]
    start_offset = sum(len(line) + 1 for line in lines[:first])
    parts = []
    for a, b in regions:
        chunk = "\n".join(lines[a:b])
        parts.append(chunk if chunk.endswith("\n") else chunk + "\n")
    return Scan(start_offset=start_offset, diff="".join(parts), hunk_headers=hunk_headers,
                 added=added, removed=removed, flags=flags,
                 files=tuple(f.freeze() for f in files), regions=regions)
