"""The hunks of context diffs (``diff -c``), common in 1990s linux-mips mail.

``***************`` opens a hunk, then ``*** a,b ****`` and ``--- c,d ----`` open its old and
new sections, whose lines carry a two-character prefix (``"  "``, ``"! "``, ``"+ "``, ``"- "``).
:func:`listarchive.mail.diffscan.scan` hands each line of such a hunk to
:meth:`ContextHunk.read`, which counts it as ``patch(1)`` does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from listarchive.mail.filechanges import FileTally

CONTEXT_HUNK = "*" * 15
_CONTEXT_OLD_RE = re.compile(r"\*\*\* (\d+)(?:,(\d+))? \*\*\*\*[ \t]*$")
_CONTEXT_NEW_RE = re.compile(r"--- (\d+)(?:,(\d+))? ----[ \t]*$")
_CONTEXT_PREFIXES = ("  ", "! ", "+ ", "- ")
# The line a hunk waits for -> (its pattern, the section it opens, what is due when that
# section is empty).
_SECTION_OPENERS = {"want-old": (_CONTEXT_OLD_RE, "old", "want-new"),
                    "want-new": (_CONTEXT_NEW_RE, "new", "")}


def _range_size(m: re.Match[str]) -> int:
    """Lines of a context diff range ``*** 31,36 ****`` (6), ``--- 5 ----`` (1), ``*** 0 ****`` (0)."""
    first = int(m.group(1))
    last = int(m.group(2)) if m.group(2) is not None else first
    return max(last - first + 1, 0) if first else 0


@dataclass
class ContextHunk:
    """Where the scanner is in a context diff hunk: ``side`` is ``old`` or ``new`` while
    reading a section (``left`` lines to go, ``taken`` read), ``want-old`` right after the
    ``***************`` line, ``want-new`` when the ``--- a,b ----`` line is due, ``""`` outside
    a hunk."""

    side: str = ""
    left: int = 0
    taken: int = 0

    def read(self, lines: Sequence[str], i: int, cur: FileTally, added: list[str],
             removed: list[str], flags: set[str]) -> str:
        """Read ``lines[i]`` inside the hunk: ``next`` when it was part of the hunk, ``end``
        when the hunk is broken (the region ends before it), ``out`` when the hunk ended before
        it (the line is read as any other).

        A section holds as many lines as its range says, each with a two-character prefix; a
        section with nothing but context is left out (only additions: no old lines; only
        deletions: no new lines).
        """
        line = lines[i]
        if self.side == "old" and self.taken == 0 and _CONTEXT_NEW_RE.match(line):
            self.side = "want-new"  # the old section is left out
        if self.side in _SECTION_OPENERS:
            pattern, side, after_empty = _SECTION_OPENERS[self.side]
            m = pattern.match(line)
            if m is None:
                self.side = ""
                return "end"
            self.side, self.left, self.taken = side, _range_size(m), 0
            if not self.left:
                self.side = after_empty
            return "next"
        # Reading a section ("old" or "new").
        prefix = line[:2]
        if self.side == "new" and self.taken == 0 and prefix not in _CONTEXT_PREFIXES and not (
                line.strip() == "" and i + 1 < len(lines)
                and lines[i + 1][:2] in _CONTEXT_PREFIXES):
            self.side = ""  # the new section is left out
            return "out"
        if prefix == "! " or prefix == ("- " if self.side == "old" else "+ "):
            (removed if self.side == "old" else added).append(line[2:])
            if self.side == "old":
                cur.deletions += 1
            else:
                cur.insertions += 1
        elif prefix != "  ":
            if i == len(lines) - 1 and not line:
                self.side = ""
                flags.add("truncated-diff")
                return "end"
            flags.add("flowed-damage")  # a context line whose blanks a mailer stripped
        self.taken += 1
        self.left -= 1
        if not self.left:
            self.side = "want-new" if self.side == "old" else ""
        return "next"
