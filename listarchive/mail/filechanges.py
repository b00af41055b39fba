"""The files a diff touches, read from its file header lines: names and kind of change.

git's ``diff --git`` line and extended headers (renames, copies, modes, binary patches), the
``---``/``+++`` pair of bare ``diff -urN`` output with the tree's name dropped as ``patch -p1``
does, CVS names with their ``:1.2`` revisions, and the ``***``/``---`` pair of a context diff.
:func:`listarchive.mail.diffscan.scan` feeds every header line here and counts the hunks into
the :class:`FileTally` of the file they belong to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Lines that may appear between the files of a diff (git extended headers, CVS/SVN noise).
HEADER_PREFIXES = (
    "diff ", "index ", "--- ", "+++ ", "old mode ", "new mode ", "deleted file mode ",
    "new file mode ", "similarity index ", "dissimilarity index ", "rename from ", "rename to ",
    "copy from ", "copy to ", "Index: ", "=====", "RCS file: ", "retrieving revision ",
    "Binary files ", "GIT binary patch", "Only in ",
)
_CVS_REVISION_RE = re.compile(r":\d+(?:\.\d+)+$")


@dataclass(frozen=True)
class FileChange:
    """One file of a diff. ``change`` is added, deleted, modified, renamed, mode or binary;
    ``old_path`` differs from ``path`` only for renames and copies."""

    path: str
    old_path: str
    change: str
    insertions: int
    deletions: int


@dataclass
class FileTally:
    """A file being read by the scanner, with its hunks and line counts so far; ``git`` when
    opened by a ``diff --git`` line, ``starred`` while a context diff's ``*** old`` line waits
    for its ``--- new`` line."""

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


def read_header_line(files: list[FileTally], pending: bool, line: str) -> bool:
    """Apply one file-header line to ``files``; returns whether a non-git ``diff``/``Index:``
    line is waiting for its ``---``/``+++`` pair to name the file."""
    cur = files[-1] if files else None
    if line.startswith("diff --git "):
        a, _, b = line[11:].partition(" b/")
        files.append(FileTally(old=strip_side(a), new=b, git=True))
        return False
    if line.startswith(("diff ", "Index: ")):
        return True
    if line.startswith("*** "):  # a context diff's old file; the "--- " line names the new
        name = _diff_name(line)
        files.append(FileTally(old="" if name == "/dev/null" else strip_side(name),
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
            cur = FileTally()
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


def _diff_name(line: str) -> str:
    """The file name of a ``---``/``+++``/``***`` line, without the timestamp diff(1) appends
    after a tab (or, from some 1990s tools, after spaces) and without the ``:1.2`` revision of
    ``cvs diff`` (``--- linux/Makefile:1.2``)."""
    parts = line[4:].split("\t", 1)[0].split()
    return _CVS_REVISION_RE.sub("", parts[0]) if parts else ""


def strip_side(name: str) -> str:
    """A file name of a diff line without its ``a/`` or ``b/`` side and any tab-separated
    timestamp."""
    name = name.split("\t", 1)[0]
    if name.startswith(("a/", "b/")):
        return name[2:]
    return name

