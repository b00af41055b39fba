"""Where the diffs are in a text, read line by line as ``git apply`` and ``patch(1)`` count them.

:func:`starts_diff` is the one rule for where a diff starts; :func:`scan` reads every diff region
of a text in one pass: unified diffs (git's, with their extended headers and binary patches, and
bare ``diff -urN`` output), CVS diffs (``Index:``/``RCS file:``), context diffs (``diff -c``),
with the damage mailers do (a header line wrapped at 80 columns, a blank context line that lost
its space). Pure and linear in the text; nothing here raises on mail content.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

# Lines that may appear between the files of a diff (git extended headers, CVS/SVN noise).
_HEADER_PREFIXES = (
    "diff ", "index ", "--- ", "+++ ", "old mode ", "new mode ", "deleted file mode ",
    "new file mode ", "similarity index ", "dissimilarity index ", "rename from ", "rename to ",
    "copy from ", "copy to ", "Index: ", "=====", "RCS file: ", "retrieving revision ",
    "Binary files ", "GIT binary patch", "Only in ",
)
_HUNK_RE = re.compile(r"@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@ ?(.*)")
# Context diffs (diff -c): "***************" opens a hunk, then "*** a,b ****" and "--- c,d ----"
# open its old and new sections, whose lines carry a two-character prefix.
_CONTEXT_HUNK = "*" * 15
_CONTEXT_OLD_RE = re.compile(r"\*\*\* (\d+)(?:,(\d+))? \*\*\*\*[ \t]*$")
_CONTEXT_NEW_RE = re.compile(r"--- (\d+)(?:,(\d+))? ----[ \t]*$")
_CONTEXT_PREFIXES = ("  ", "! ", "+ ", "- ")
# The first characters of the lines that may open a diff: a cheap test before starts_diff.
DIFF_OPENERS = "dI-*"


@dataclass(frozen=True)
class FileChange:
    """One file of a diff. ``change`` is added, deleted, modified, renamed, mode or binary;
    ``old_path`` differs from ``path`` only for renames and copies."""

    path: str
    old_path: str
    change: str
    insertions: int
    deletions: int


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


@dataclass
class _FileAcc:
    """A file being read by :func:`scan`; ``git`` when opened by a ``diff --git`` line,
    ``starred`` while a context diff's ``*** old`` line waits for its ``--- new`` line."""

    old: str = ""
    new: str = ""
    change: str = "modified"
    git: bool = False
    minus_seen: bool = False
    starred: bool = False
    hunks: int = 0
    insertions: int = 0
    deletions: int = 0

    def freeze(self) -> FileChange:
        old, new = self.old, self.new
        if not self.git:
            named = [name for name in (old, new) if name]
            tops = {name.partition("/")[0] for name in named}
            if named and all("/" in name for name in named) and (
                    len(tops) > 1 or all(top.startswith("linux") for top in tops)):
                # "linux-2.4.orig/arch/x.c" vs "linux-2.4/arch/x.c", or "linux/arch/x.c" on
                # both lines (diff -urN of a tree named linux): the tree names go (-p1).
                old, new = old.partition("/")[2], new.partition("/")[2]
        if new.startswith("/") and old and not old.startswith("/"):
            new = old  # diffed against a tree elsewhere: "+++ /opt/sgi-cvs/linux-2.4/..."
        path = new or old
        return FileChange(path, old or path, self.change, self.insertions, self.deletions)


def _header_line(files: list[_FileAcc], pending: bool, line: str) -> bool:
    """Apply one file-header line to ``files``; returns whether a non-git ``diff``/``Index:``
    line is waiting for its ``---``/``+++`` pair to name the file."""
    cur = files[-1] if files else None
    if line.startswith("diff --git "):
        a, _, b = line[11:].partition(" b/")
        files.append(_FileAcc(old=strip_side(a), new=b, git=True))
        return False
    if line.startswith(("diff ", "Index: ")):
        return True
    if line.startswith("*** "):  # a context diff's old file; the "--- " line names the new
        name = _diff_name(line)
        files.append(_FileAcc(old="" if name == "/dev/null" else strip_side(name),
                              change="added" if name == "/dev/null" else "modified",
                              starred=True))
        return False
    if cur is None and not line.startswith("--- "):
        return pending
    if line.startswith("--- ") and cur is not None and cur.starred:
        cur.starred, cur.minus_seen = False, True
        name = _diff_name(line)
        if name == "/dev/null":
            cur.change = "deleted"
        else:
            cur.new = strip_side(name)
        return False
    if line.startswith("--- "):
        if pending or cur is None or cur.hunks or cur.minus_seen or not cur.git:
            cur = _FileAcc()
            files.append(cur)
        cur.minus_seen = True
        name = _diff_name(line)
        if name == "/dev/null":
            cur.change = "added"
        elif not cur.git:
            cur.old = strip_side(name)
        return False
    assert cur is not None
    if line.startswith("+++ "):
        name = _diff_name(line)
        if name == "/dev/null":
            cur.change = "deleted"
        elif not cur.git:
            cur.new = strip_side(name)
    elif line.startswith("new file mode "):
        cur.change = "added"
    elif line.startswith("deleted file mode "):
        cur.change = "deleted"
    elif line.startswith("rename from "):
        cur.change, cur.old = "renamed", line[12:]
    elif line.startswith("rename to "):
        cur.change, cur.new = "renamed", line[10:]
    elif line.startswith("copy from "):
        cur.change, cur.old = "added", line[10:]
    elif line.startswith("copy to "):
        cur.new = line[8:]
    elif line.startswith("old mode ") and cur.change == "modified":
        cur.change = "mode"
    elif line.startswith(("GIT binary patch", "Binary files ")) and cur.change in (
            "modified", "mode"):
        cur.change = "binary"
    return pending


_CVS_REVISION_RE = re.compile(r":\d+(?:\.\d+)+$")


def _diff_name(line: str) -> str:
    """The file name of a ``---``/``+++``/``***`` line, without the timestamp diff(1) appends
    after a tab (or, from some 1990s tools, after spaces) and without the ``:1.2`` revision of
    ``cvs diff`` (``--- linux/Makefile:1.2``)."""
    parts = line[4:].split("\t", 1)[0].split()
    return _CVS_REVISION_RE.sub("", parts[0]) if parts else ""


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
        return _hunk_follows(lines, i + 2, _CONTEXT_HUNK)
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
_WRAPPED_AFTER = ("--- ", "+++ ", "@@ -", _CONTEXT_HUNK, "index ", "diff ")




def _range_size(m: re.Match[str]) -> int:
    """Lines of a context diff range ``*** 31,36 ****`` (6), ``--- 5 ----`` (1), ``*** 0 ****`` (0)."""
    first = int(m.group(1))
    last = int(m.group(2)) if m.group(2) is not None else first
    return max(last - first + 1, 0) if first else 0


@dataclass
class _Context:
    """Where :func:`scan` is in a context diff hunk: ``side`` is ``old`` or ``new`` while
    reading a section (``left`` lines to go, ``taken`` read), ``want-old`` right after the
    ``***************`` line, ``want-new`` when the ``--- a,b ----`` line is due."""

    side: str = ""
    left: int = 0
    taken: int = 0


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
    files: list[_FileAcc] = []
    pending = False
    start = -1
    before = after = 0
    in_hunk = False
    binary = 0
    ctx = _Context()
    i = 0
    n = len(lines)
    while i < n:
        line = lines[i]
        if start < 0:
            if line[:1] in DIFF_OPENERS and starts_diff(lines, i):
                start, in_hunk, binary, pending, ctx = i, False, 0, False, _Context()
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
            step = _context_line(ctx, lines, i, files[-1], added, removed, flags)
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
        elif line.startswith(_CONTEXT_HUNK) and files and not line.strip("*").startswith("*"):
            files[-1].hunks += 1
            ctx = _Context(side="want-old")
            hunk_headers.append(line[15:].strip())
        elif line.startswith(_HEADER_PREFIXES) or (
                line.startswith("*** ") and i + 1 < n and lines[i + 1].startswith("--- ")):
            pending = _header_line(files, pending, line)
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


def _context_line(ctx: _Context, lines: Sequence[str], i: int, cur: _FileAcc,
                  added: list[str], removed: list[str], flags: set[str]) -> str:
    """Read ``lines[i]`` inside a context diff hunk: ``next`` when it was part of the hunk,
    ``end`` when the hunk is broken (the region ends before it), ``out`` when the hunk ended
    before it (the line is read as any other).

    A section holds as many lines as its range says, each with a two-character prefix; a
    section with nothing but context is left out (only additions: no old lines; only
    deletions: no new lines).
    """
    line = lines[i]
    if ctx.side == "want-old":
        m = _CONTEXT_OLD_RE.match(line)
        if m is None:
            ctx.side = ""
            return "end"
        ctx.side, ctx.left, ctx.taken = "old", _range_size(m), 0
        if not ctx.left:
            ctx.side = "want-new"
        return "next"
    if ctx.side == "old" and ctx.taken == 0 and _CONTEXT_NEW_RE.match(line):
        ctx.side = "want-new"  # the old section is left out
    if ctx.side == "want-new":
        m = _CONTEXT_NEW_RE.match(line)
        if m is None:
            ctx.side = ""
            return "end"
        ctx.side, ctx.left, ctx.taken = "new", _range_size(m), 0
        if not ctx.left:
            ctx.side = ""
        return "next"
    # Reading a section ("old" or "new").
    prefix = line[:2]
    if ctx.side == "new" and ctx.taken == 0 and prefix not in _CONTEXT_PREFIXES and not (
            line.strip() == "" and i + 1 < len(lines)
            and lines[i + 1][:2] in _CONTEXT_PREFIXES):
        ctx.side = ""  # the new section is left out
        return "out"
    if prefix == "! " or prefix == ("- " if ctx.side == "old" else "+ "):
        (removed if ctx.side == "old" else added).append(line[2:])
        if ctx.side == "old":
            cur.deletions += 1
        else:
            cur.insertions += 1
    elif prefix != "  ":
        if i == len(lines) - 1 and not line:
            ctx.side = ""
            flags.add("truncated-diff")
            return "end"
        flags.add("flowed-damage")  # a context line whose blanks a mailer stripped
    ctx.taken += 1
    ctx.left -= 1
    if not ctx.left:
        ctx.side = "want-new" if ctx.side == "old" else ""
    return "next"


def strip_side(name: str) -> str:
    name = name.split("\t", 1)[0]
    if name.startswith(("a/", "b/")):
        return name[2:]
    return name
