"""Diffs in mail: the one adapter around ``unidiff``.

``extract_patches(msg)`` finds what a reviewer or ``git am`` cares about in a
:class:`~listarchive.mail.message.ParsedMessage`: the commit message, the diff as ``git apply`` wants it,
the files touched with their diffstat, hunk function contexts, the ``git patch-id --stable``
value, and the pull request of ``git request-pull`` mail (:mod:`listarchive.mail.pulls`).
Where the diff is, file by file and hunk by hunk, is :mod:`listarchive.mail.diffscan`'s to say;
unidiff gives a second opinion on diffs whose hunks do not add up. Nothing here raises on mail
content: a diff that unidiff refuses (truncated, re-wrapped by a mail client) is kept as text
with a flag.

Diff styles seen on the lists: ``git format-patch`` mail (``---`` separator, diffstat, ``diff
--git``), bare ``diff -urN`` output (``--- linux/arch/...``: the tree's name is dropped, as
``patch -p1`` does), context diffs (``diff -c``: ``*** old``/``--- new`` and ``***************``
hunks, common in 1990s linux-mips mail), 1990s CVS diffs (``Index:``/``RCS file:``/``diff -u
-r1.2``), CRLF line ends from Windows mailers, and format=flowed damage where an empty context
line lost its leading space (git apply still takes those; we flag them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from unidiff import PatchSet
from unidiff.errors import UnidiffParseError

# The scanner's rule for where a diff starts is named here too: the am-ready split, the search
# index and the page renderer know diffs from this module.
from listarchive.mail.diffscan import DIFF_OPENERS as DIFF_OPENERS
from listarchive.mail.diffscan import diff_lines as diff_lines
from listarchive.mail.diffscan import diff_start as diff_start
from listarchive.mail.diffscan import scan
from listarchive.mail.diffscan import starts_diff as starts_diff
from listarchive.mail.filechanges import FileChange, strip_side
from listarchive.mail.message import ParsedMessage
from listarchive.mail.patchid import git_patch_id
from listarchive.mail.pulls import PullRequest, find_pull

_SEPARATOR_RE = re.compile(r"^---[ \t]*$", re.M)
_SUSPECT = frozenset({"flowed-damage", "truncated-diff"})


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

    An inline diff in the body wins; otherwise the attachments that may hold one are read
    (:attr:`ParsedMessage.patch_attachments`: Thunderbird users and 1990s linux-mips often
    attach the diff and write the explanation in the body, which then becomes the commit
    message). Several attached diffs (``patch-2.2`` and ``patch-2.3`` in one mail) are kept in
    order as one diff.
    """
    info = parse_patch_text(msg.body)
    if info is not None and info.files:
        return info
    found = [a for a in (parse_patch_text(text) for text in msg.patch_attachments)
             if a is not None and a.files]
    if not found:
        return info
    if len(found) == 1:
        attached = found[0]
    else:
        joined = parse_patch_text("".join(a.diff for a in found))
        assert joined is not None
        attached = replace(joined, commit_message=found[0].commit_message,
                           flags=joined.flags | frozenset().union(*(a.flags for a in found)))
    message = attached.commit_message or _prose(msg.body)
    return replace(attached, commit_message=message, flags=attached.flags | {"attached"},
                   pull=info.pull if info is not None else None)


def parse_patch_text(text: str) -> PatchInfo | None:
    """Patch facts of a text (a mail body or a ``.patch`` file); ``None`` without diff or pull.

    For ``"fix\\n---\\n f | 2 +-\\n\\ndiff --git a/f b/f\\n..."`` the commit message is
    ``"fix"`` (the diffstat after ``---`` is dropped) and the diff starts at ``diff --git``.
    """
    flags: set[str] = set()
    if "\r" in text:
        flags.add("crlf")
        text = text.replace("\r\n", "\n")
    pull = find_pull(text)
    found = scan(text)
    if found is None:
        if pull is None:
            return None
        return PatchInfo(commit_message=text.strip(), diff="", flags=frozenset(flags), pull=pull)
    flags |= found.flags
    prelude = text[:found.start_offset]
    sep = _SEPARATOR_RE.search(prelude)
    commit_message = _strip_mail_header(prelude[:sep.start()] if sep else prelude).strip()
    files = found.files
    if found.flags & _SUSPECT or not files:
        # Our scanner only vouches for diffs whose hunks all add up; anything else goes to
        # unidiff for a second opinion, and what unidiff refuses is flagged. The scanner's
        # file names are kept when it found any: unidiff keeps the timestamps a mailer
        # separated with spaces ("linux/kernel/Makefile     Mon Apr  9 00:23:34 2001").
        second, parse_ok = _files(found.diff)
        files = files or second
        if not parse_ok:
            flags.add("unparseable-diff")
    return PatchInfo(
        commit_message=commit_message,
        diff=found.diff,
        files=files,
        insertions=len(found.added),
        deletions=len(found.removed),
        patch_id=git_patch_id(found.diff),
        hunk_headers=tuple(found.hunk_headers),
        added_lines=tuple(found.added),
        removed_lines=tuple(found.removed),
        flags=frozenset(flags),
        pull=pull,
    )


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


def _files(diff: str) -> tuple[tuple[FileChange, ...], bool]:
    """Per-file facts from unidiff, and whether unidiff accepted the diff at all."""
    try:
        patchset = PatchSet(diff)
    except (UnidiffParseError, ValueError, IndexError, AttributeError, TypeError):
        return _files_from_headers(diff), False
    out = []
    for pf in patchset:
        path = strip_side(pf.target_file) if pf.target_file != "/dev/null" else ""
        old = strip_side(pf.source_file) if pf.source_file != "/dev/null" else ""
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
