"""``git patch-id --stable`` in Python: git's algorithm, not mail's.

The id identifies a change whatever the commit message, line numbers or file order: two
postings of one patch (a resend, a reroll that left this patch alone, the commit that landed)
share it. :func:`git_patch_id` follows git's ``builtin/patch-id.c`` line machine, so the value
equals what ``git patch-id --stable`` prints for the same text.
"""

from __future__ import annotations

import hashlib
import re

_HEX40_RE = re.compile(r"[0-9a-fA-F]{40}")
_GIT_SPACE = str.maketrans("", "", " \t\n\v\f\r")
_HUNK_FIRST = frozenset(" +-")
# First characters of lines git patch-id looks at before anything else (commit markers,
# "\ No newline at end of file", a bare 40-hex commit id).
_SPECIAL_FIRST = frozenset("dcF\\0123456789abcdefABCDEF")


def git_patch_id(text: str) -> str:
    """``git patch-id --stable`` of ``text`` (a diff or a whole mail body), '' when git prints
    nothing.

    Follows git's line machine: commit text before the first ``diff `` line is skipped,
    ``index`` lines and hunk headers are not hashed, whitespace is removed from every hashed
    line, and each file's SHA-1 is added into a 160-bit sum (little-endian, with carry) so the
    id does not depend on file order. Like git, hashing stops at the first line after a
    complete hunk that is neither ``@@ -`` nor ``diff ``, and at a line of a file header that
    does not start with a letter (a blank line). A binary file (``GIT binary patch`` or
    ``Binary files ... differ``) counts by the two blob ids of its ``index`` line, not by its
    data: ``git format-patch --binary`` and ``--no-binary`` output of one commit give two ids,
    as they do with git. Text is hashed as UTF-8. Note that git run on a whole mail starts
    hashing at any line beginning ``diff `` -- also prose such as "diff easily reviewable" in a
    commit message -- which is why callers pass the extracted diff.
    """
    total = 0
    kept: list[str] = []
    patchlen = 0
    before = after = -1
    binary = False
    blobs = ("", "")  # the pre- and post-image ids of the last "index" line
    for line in text.split("\n"):
        c = line[:1]
        if c in _HUNK_FIRST and before != -1 and (before or after) and not binary:
            # Fast path inside a hunk: nothing below can apply to a " ", "+" or "-" line.
            if c != "+":
                before -= 1
            if c != "-":
                after -= 1
            kept.append(line)
            continue
        if c in _SPECIAL_FIRST:
            p = line
            if line.startswith("diff-tree "):
                p = line[10:]
            elif line.startswith("commit "):
                p = line[7:]
            elif line.startswith("From "):
                p = line[5:]
            elif line.startswith("\\ ") and len(line) + 1 > 12:
                continue
            if _HEX40_RE.match(p):
                break  # the next commit of a multi-commit input
        if not patchlen and not line.startswith("diff "):
            continue
        if before == -1:
            if line.startswith(("GIT binary patch", "Binary files")):
                binary = True
                before = 0
                kept.extend(blobs)
                total = _add160(total, _hash_lines(kept))
                kept = []
                continue
            if line.startswith("index "):
                blobs = _index_blobs(line, blobs)
                continue
            if line.startswith("--- "):
                before = after = 1
            elif not (c.isascii() and c.isalpha()):
                break
        if binary:
            # The data of a binary file is not hashed, nor the next file's "diff" line.
            if line.startswith("diff "):
                binary = False
                before = -1
            continue
        if before == 0 and after == 0:
            if line.startswith("@@ -"):
                before, after = _scan_hunk_header(line, before, after)
                continue
            if not line.startswith("diff "):
                break
            total = _add160(total, _hash_lines(kept))
            kept = []
            before = after = -1
        if c in ("-", " "):
            before -= 1
        if c in ("+", " "):
            after -= 1
        kept.append(line)
        patchlen += len(line.translate(_GIT_SPACE))
    if not patchlen:
        return ""
    total = _add160(total, _hash_lines(kept))
    return total.to_bytes(20, "little").hex()


def _index_blobs(line: str, current: tuple[str, str]) -> tuple[str, str]:
    """The two blob ids of ``index 1f2e..3d4c 100644`` as git's patch-id reads them (up to 64
    characters each); ``current`` when the line has no ``..``."""
    dots = line.find("..")
    if dots < 0:
        return current
    end = line.find(" ", dots)
    if end < 0:
        end = len(line)
    return line[6:dots][:64], line[dots + 2:end][:64]


def _hash_lines(lines: list[str]) -> bytes:
    data = "".join(lines).translate(_GIT_SPACE).encode("utf-8", "surrogateescape")
    return hashlib.sha1(data).digest()


def _add160(total: int, digest: bytes) -> int:
    return (total + int.from_bytes(digest, "little")) & ((1 << 160) - 1)


def _scan_hunk_header(line: str, before: int, after: int) -> tuple[int, int]:
    """git's scan_hunk_header: counts from ``@@ -a,b +c,d @@``; a missing count means 1."""
    q = 4
    n = _digits(line, q)
    if line[q + n:q + n + 1] == ",":
        q += n + 1
        n = _digits(line, q)
        before = int(line[q:q + n]) if n else 0
    else:
        before = 1
    if n == 0 or line[q + n:q + n + 2] != " +":
        return before, after
    r = q + n + 2
    n = _digits(line, r)
    if line[r + n:r + n + 1] == ",":
        r += n + 1
        n = _digits(line, r)
        after = int(line[r:r + n]) if n else 0
    else:
        after = 1
    return before, after


def _digits(line: str, pos: int) -> int:
    """How many ASCII digits start at ``pos`` (C's strspn with "0123456789")."""
    end = pos
    while end < len(line) and "0" <= line[end] <= "9":
        end += 1
    return end - pos
