"""Diffs and pull requests in mail: the one adapter around ``unidiff``.

``extract_patches(msg)`` finds what a reviewer or ``git am`` cares about in a
:class:`~listarchive.mail.message.ParsedMessage`: the commit message, the diff as ``git apply`` wants it,
the files touched with their diffstat, hunk function contexts, the ``git patch-id --stable``
value, and the pull URL of ``git request-pull`` mail. Nothing here raises on mail content: a diff
that unidiff refuses (truncated, re-wrapped by a mail client) is kept as text with a flag.

Diff styles seen on the lists: ``git format-patch`` mail (``---`` separator, diffstat, ``diff
--git``), bare ``diff -urN`` output, 1990s linux-mips CVS diffs (``Index:``/``RCS file:``/``diff
-u -r1.2``), CRLF line ends from Windows mailers, and format=flowed damage where an empty
context line lost its leading space (git apply still takes those; we flag them).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from unidiff import PatchSet
from unidiff.errors import UnidiffParseError

from listarchive.mail.message import ParsedMessage
from listarchive.mail.patchid import git_patch_id

# Lines that may appear between the files of a diff (git extended headers, CVS/SVN noise).
_HEADER_PREFIXES = (
    "diff ", "index ", "--- ", "+++ ", "old mode ", "new mode ", "deleted file mode ",
    "new file mode ", "similarity index ", "dissimilarity index ", "rename from ", "rename to ",
    "copy from ", "copy to ", "Index: ", "=====", "RCS file: ", "retrieving revision ",
    "Binary files ", "GIT binary patch", "Only in ",
)
_HUNK_RE = re.compile(r"@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@ ?(.*)")
_SEPARATOR_RE = re.compile(r"^---[ \t]*$", re.M)
_SUSPECT = frozenset({"flowed-damage", "truncated-diff"})
_PULL_RE = re.compile(
    r"are available in the git repository at:?[ \t]*\n(?:[ \t]*\n)?[ \t]+(\S+)[ \t]*(\S+)?"
    r"(?:[ \t]*\n[ \t]+(?![0-9a-f]{7,40}\b)(\S+)[ \t]*\n)?", re.I)
_PULL_BASE_RE = re.compile(r"changes since commit ([0-9a-f]{7,40})", re.I)
_PULL_HEAD_RE = re.compile(r"fetch changes up to ([0-9a-f]{7,40})", re.I)
_PLEASE_PULL_RE = re.compile(
    r"please (?:git )?pull(?: from)?:?\s*\n?\s*((?:git|https?|ssh)://\S+)(?:[ \t]+([^\s:]+))?",
    re.I)


@dataclass(frozen=True)
class FileChange:
    """One file of a diff. ``change`` is added, deleted, modified, renamed, mode or binary;
    ``old_path`` differs from ``path`` only for renames and copies."""

    path: str
    old_path: str
    change: str
    insertions: int
    deletions: int


@dataclass(frozen=True)
class PullRequest:
    """A ``git request-pull`` mail: ``url`` and ``ref`` (branch or ``tags/...``), with the base and
    head commits when the text names them ('' otherwise)."""

    url: str
    ref: str
    base_commit: str = ""
    head_commit: str = ""


@dataclass(frozen=True)
class PatchInfo:
    commit_message: str
    diff: str  # LF line ends; several diffs in one mail are concatenated in order
    files: tuple[FileChange, ...] = ()
    insertions: int = 0
    deletions: int = 0
    patch_id: str = ""  # as `git patch-id --stable`; '' when git would print none
    hunk_headers: tuple[str, ...] = ()
    added_lines: tuple[str, ...] = ()
    removed_lines: tuple[str, ...] = ()
    flags: frozenset[str] = frozenset()
    pull: PullRequest | None = None


def extract_patches(msg: ParsedMessage) -> PatchInfo | None:
    """The patch facts of one message, or ``None`` when it carries neither diff nor pull request.

    An inline diff in the body wins; otherwise ``text/x-patch``-like attachments are read (mail
    from Thunderbird users and 1990s linux-mips often attaches the diff and writes the
    explanation in the body, which then becomes the commit message).
    """
    info = parse_patch_text(msg.body)
    if info is not None and info.diff:
        return info
    if msg.patch_attachments:
        attached = parse_patch_text("\n".join(msg.patch_attachments))
        if attached is not None and attached.diff:
            message = attached.commit_message or _prose(msg.body)
            pull = info.pull if info is not None else None
            return PatchInfo(
                commit_message=message, diff=attached.diff, files=attached.files,
                insertions=attached.insertions, deletions=attached.deletions,
                patch_id=attached.patch_id, hunk_headers=attached.hunk_headers,
                added_lines=attached.added_lines, removed_lines=attached.removed_lines,
                flags=attached.flags | {"attached"}, pull=pull)
    return info


def parse_patch_text(text: str) -> PatchInfo | None:
    """Patch facts of a text (a mail body or a ``.patch`` file); ``None`` without diff or pull.

    For ``"fix\\n---\\n f | 2 +-\\n\\ndiff --git a/f b/f\\n..."`` the commit message is
    ``"fix"`` (the diffstat after ``---`` is dropped) and the diff starts at ``diff --git``.
    """
    flags: set[str] = set()
    if "\r" in text:
        flags.add("crlf")
        text = text.replace("\r\n", "\n")
    pull = _find_pull(text)
    scan = _scan(text)
    if scan is None:
        if pull is None:
            return None
        return PatchInfo(commit_message=text.strip(), diff="", flags=frozenset(flags), pull=pull)
    flags |= scan.flags
    prelude = text[:scan.start_offset]
    sep = _SEPARATOR_RE.search(prelude)
    commit_message = _strip_mail_header(prelude[:sep.start()] if sep else prelude).strip()
    files = scan.files
    if scan.flags & _SUSPECT or not files:
        # Our scanner only vouches for diffs whose hunks all add up; anything else goes to
        # unidiff, and what unidiff refuses is kept as text with a flag.
        files, parse_ok = _files(scan.diff)
        if not parse_ok:
            flags.add("unparseable-diff")
    return PatchInfo(
        commit_message=commit_message,
        diff=scan.diff,
        files=files,
        insertions=len(scan.added),
        deletions=len(scan.removed),
        patch_id=git_patch_id(scan.diff),
        hunk_headers=tuple(scan.hunk_headers),
        added_lines=tuple(scan.added),
        removed_lines=tuple(scan.removed),
        flags=frozenset(flags),
        pull=pull,
    )


def diff_start(text: str) -> int:
    """Offset in ``text`` of the first line that opens a diff (see :func:`starts_diff`), or -1.

    ``"fix it\n---\n f | 2 +-\n\ndiff --git a/f b/f\n"`` gives the offset of ``diff --git``.
    """
    lines = text.split("\n")
    pos = 0
    for i, line in enumerate(lines):
        if line[:1] in "dI-" and starts_diff(lines, i):
            return pos
        pos += len(line) + 1
    return -1


def split_files(diff: str, count: int) -> list[str]:
    """The diff cut at each file header (``diff --git``, else a ``---``/``+++`` pair).

    Returns one chunk per file when the cut finds ``count`` of them, else the whole diff as one
    chunk: a diff whose headers were mangled by a mail client is still shown, just not split.
    """
    lines = diff.split("\n")
    starts = [i for i, line in enumerate(lines) if line.startswith("diff --git ")]
    if not starts:
        starts = [i for i, line in enumerate(lines[:-1])
                  if line.startswith("--- ") and lines[i + 1].startswith("+++ ")]
    if len(starts) != count or count == 0:
        return [diff]
    starts[0] = 0
    bounds = [*starts, len(lines)]
    return ["\n".join(lines[a:b]) for a, b in zip(bounds, bounds[1:], strict=False)]


def diffstat(info: PatchInfo) -> str:
    """git's summary line: ``2 files changed, 10 insertions(+), 3 deletions(-)``."""
    n = len(info.files)
    parts = [f"{n} file{'s' if n != 1 else ''} changed"]
    if info.insertions:
        parts.append(f"{info.insertions} insertion{'s' if info.insertions != 1 else ''}(+)")
    if info.deletions:
        parts.append(f"{info.deletions} deletion{'s' if info.deletions != 1 else ''}(-)")
    return ", ".join(parts)


@dataclass
class _Scan:
    start_offset: int
    diff: str
    hunk_headers: list[str]
    added: list[str]
    removed: list[str]
    flags: set[str]
    files: tuple[FileChange, ...]


@dataclass
class _FileAcc:
    """A file being read by :func:`_scan`; ``git`` when opened by a ``diff --git`` line."""

    old: str = ""
    new: str = ""
    change: str = "modified"
    git: bool = False
    minus_seen: bool = False
    hunks: int = 0
    insertions: int = 0
    deletions: int = 0

    def freeze(self) -> FileChange:
        old, new = self.old, self.new
        if not self.git and "/" in old and "/" in new:
            # "linux-2.4.orig/arch/x.c" vs "linux-2.4/arch/x.c": strip the tree names (-p1).
            o_top, _, o_rest = old.partition("/")
            n_top, _, n_rest = new.partition("/")
            if o_top != n_top:
                old, new = o_rest, n_rest
        path = new or old
        return FileChange(path, old or path, self.change, self.insertions, self.deletions)


def _header_line(files: list[_FileAcc], pending: bool, line: str) -> bool:
    """Apply one file-header line to ``files``; returns whether a non-git ``diff``/``Index:``
    line is waiting for its ``---``/``+++`` pair to name the file."""
    cur = files[-1] if files else None
    if line.startswith("diff --git "):
        a, _, b = line[11:].partition(" b/")
        files.append(_FileAcc(old=_strip_side(a), new=b, git=True))
        return False
    if line.startswith(("diff ", "Index: ")):
        return True
    if cur is None and not line.startswith("--- "):
        return pending
    if line.startswith("--- "):
        if pending or cur is None or cur.hunks or cur.minus_seen or not cur.git:
            cur = _FileAcc()
            files.append(cur)
        cur.minus_seen = True
        name = _diff_name(line)
        if name == "/dev/null":
            cur.change = "added"
        elif not cur.git:
            cur.old = _strip_side(name)
        return False
    assert cur is not None
    if line.startswith("+++ "):
        name = _diff_name(line)
        if name == "/dev/null":
            cur.change = "deleted"
        elif not cur.git:
            cur.new = _strip_side(name)
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
    """The file name of a ``---``/``+++`` line, without the timestamp diff(1) appends after a
    tab (or, from some 1990s tools, after spaces)."""
    parts = line[4:].split("\t", 1)[0].split()
    return parts[0] if parts else ""


def starts_diff(lines: Sequence[str], i: int) -> bool:
    """Whether ``lines[i]`` opens a diff: ``diff --git``/``diff -u`` and friends, ``Index:``
    followed by ``=====`` or ``---`` (CVS and SVN), or a ``---``/``+++`` pair followed by a hunk.
    The one rule for where a diff starts: the scanner, the am-ready split, trailer collection,
    the search index and the page renderer all ask this."""
    line = lines[i]
    if line.startswith("diff --git ") or line.startswith("diff -"):
        return True
    nxt = lines[i + 1] if i + 1 < len(lines) else ""
    if line.startswith("Index: "):
        return nxt.startswith("=====") or nxt.startswith("--- ")
    if line.startswith("--- ") and nxt.startswith("+++ "):
        return i + 2 < len(lines) and lines[i + 2].startswith("@@ -")
    return False


def _scan(text: str) -> _Scan | None:
    """Find the diff regions of ``text`` in one pass, counting hunk lines as git apply does.

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
    i = 0
    n = len(lines)
    while i < n:
        line = lines[i]
        if start < 0:
            if line[:1] in "dI-" and starts_diff(lines, i):
                start, in_hunk, binary, pending = i, False, 0, False
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
        elif line.startswith(_HEADER_PREFIXES):
            pending = _header_line(files, pending, line)
            if line.startswith(("GIT binary patch", "Binary files ")):
                flags.add("binary")
                binary = 1 if line.startswith("GIT") else 0
        else:
            regions.append((start, i))
            start = -1
            continue  # this line may itself open the next region
        i += 1
    if start >= 0:
        if in_hunk and (before > 0 or after > 0):
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
    return _Scan(start_offset=start_offset, diff="".join(parts), hunk_headers=hunk_headers,
                 added=added, removed=removed, flags=flags,
                 files=tuple(f.freeze() for f in files))


def _files(diff: str) -> tuple[tuple[FileChange, ...], bool]:
    """Per-file facts from unidiff, and whether unidiff accepted the diff at all."""
    try:
        patchset = PatchSet(diff)
    except (UnidiffParseError, ValueError, IndexError, AttributeError, TypeError):
        return _files_from_headers(diff), False
    out = []
    for pf in patchset:
        path = _strip_side(pf.target_file) if pf.target_file != "/dev/null" else ""
        old = _strip_side(pf.source_file) if pf.source_file != "/dev/null" else ""
        info = str(pf.patch_info or "")
        if pf.is_added_file:
            change = "added"
            old = path
        elif pf.is_removed_file:
            change = "deleted"
            path = old
        elif pf.is_rename:
            change = "renamed"
        elif pf.is_binary_file:
            change = "binary"
        elif "\nold mode " in info and not len(pf):
            change = "mode"
        else:
            change = "modified"
        if pf.is_binary_file and change == "modified":
            change = "binary"
        out.append(FileChange(path or old, old or path, change, pf.added, pf.removed))
    return tuple(out), True


_DIFF_GIT_RE = re.compile(r"^diff --git a/(\S+) b/(\S+)", re.M)


def _files_from_headers(diff: str) -> tuple[FileChange, ...]:
    """Best effort for a diff unidiff refused: the paths its ``diff --git`` lines name."""
    return tuple(FileChange(b, a, "renamed" if a != b else "modified", 0, 0)
                 for a, b in _DIFF_GIT_RE.findall(diff))


def _strip_side(name: str) -> str:
    name = name.split("\t", 1)[0]
    if name.startswith(("a/", "b/")):
        return name[2:]
    return name


def _strip_mail_header(text: str) -> str:
    """Drop the ``From <sha> Mon Sep 17 00:00:00 2001`` header block of an attached
    format-patch file, keeping the explanation that follows it."""
    if text.startswith("From ") or text.startswith("From: "):
        _, sep, rest = text.partition("\n\n")
        return rest if sep else ""
    return text


def _prose(body: str) -> str:
    text = body.replace("\r\n", "\n")
    idx = text.find("\n-- \n")
    return (text[:idx] if idx >= 0 else text).strip()


def _find_pull(text: str) -> PullRequest | None:
    # Cheap test first: most mail is neither request-pull output nor a "please pull" note.
    if "epository at" not in text and "pull" not in text and "Pull" not in text:
        return None
    m = _PULL_RE.search(text)
    if m:
        url, ref = m.group(1), m.group(2) or m.group(3) or ""
    else:
        m = _PLEASE_PULL_RE.search(text)
        if not m:
            return None
        url, ref = m.group(1), m.group(2) or ""
    base = _PULL_BASE_RE.search(text)
    head = _PULL_HEAD_RE.search(text)
    return PullRequest(url=url, ref=ref.rstrip(":"), base_commit=base.group(1) if base else "",
                       head_commit=head.group(1) if head else "")
