"""Review comments placed beside the diff lines they answer, read from a reply's quoting.

Reviewers answer a patch by quoting its diff and writing under the line they mean::

    > @@ -5,7 +5,7 @@ int foo1(void)
    >  int foo2(void)
    >  {
    > -	return 2;
    > +	return 20;

    Why twenty?

Each block of the reply's own text that follows a quoted diff line is a comment on that line.
The quote is only a claim: reviewers cut hunks, mail clients re-wrap and nest quotes, and some
quote other text entirely. So the file named by the quoted header and the quoted line with the
lines quoted before it must be found in the patch's real diff; the real diff gives the old and
new line numbers. Anything that cannot be placed so (top-posting, text under quoted prose, a
deeper quote ``> >`` than the reply's own depth, a file the patch does not touch) is left out
here and stays in the reply as the discussion shows it: a comment never lands on a wrong line.

Mail controls the input: at most :data:`MAX_LINES` lines of a reply and of a diff are read,
:data:`MAX_COMMENTS` comments kept per reply, and each lookup is a dictionary probe.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from listarchive.mail.quotes import SIGNATURES

MAX_LINES = 20_000
MAX_COMMENTS = 100
MAX_TEXT = 8_000  # characters of one comment
CONTEXT = 3  # quoted lines before the anchor that must match the real diff too
_HUNK_RE = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")
_DIFF_GIT_RE = re.compile(r"^diff --git a/(.*) b/(.*)$")
_TRAILER_RE = re.compile(r"^[A-Za-z][A-Za-z0-9-]*-by: ")


@dataclass(frozen=True)
class DiffLine:
    """A line of a real diff with its place: ``old``/``new`` line numbers (0 when the line is
    not on that side: an added line has no old number)."""

    path: str
    old: int
    new: int
    text: str  # with its marker: " ctx", "-gone", "+new"


@dataclass(frozen=True)
class LineComment:
    path: str
    old_line: int  # 0: not on the old side (an added line)
    new_line: int  # 0: not on the new side (a removed line)
    text: str
    quoted: str  # the diff line answered, as the diff has it


def _target(line: str) -> str:
    path = line[4:].split("\t", 1)[0].strip()
    return path[2:] if path.startswith(("a/", "b/")) else path


def _walk(lines: Iterator[str]) -> Iterator[tuple[str, str, int, int]]:
    """(kind, text, old, new) for each line of a diff, exactly one per line: ``file`` (text:
    the path), ``hunk`` or ``line`` (text with its marker, the numbers it has), ``other``."""
    path = ""
    in_hunk = False
    old = new = 0
    for line in lines:
        first = line[:1]  # the patterns only for the lines that can match them
        found = _DIFF_GIT_RE.match(line) if first == "d" else None
        hunk = _HUNK_RE.match(line) if first == "@" else None
        if found:
            path, in_hunk = found.group(2), False
            yield "file", path, 0, 0
        elif line.startswith("+++ ") and not in_hunk:
            target = _target(line)
            if target != "/dev/null" and target != path:
                path = target
                yield "file", path, 0, 0
            else:
                yield "other", line, 0, 0
        elif hunk:
            old, new, in_hunk = int(hunk.group(1)), int(hunk.group(2)), True
            yield "hunk", line, old, new
        elif in_hunk and (line[:1] in (" ", "-", "+") or line == ""):
            text = line or " "
            if text[0] == " ":
                yield "line", text, old, new
                old, new = old + 1, new + 1
            elif text[0] == "-":
                yield "line", text, old, 0
                old += 1
            else:
                yield "line", text, 0, new
                new += 1
        elif in_hunk and line.startswith("\\"):
            yield "other", line, 0, 0
        else:
            in_hunk = False
            yield "other", line, 0, 0


def diff_lines(diff: str) -> list[DiffLine]:
    """The numbered lines of a real diff (the first :data:`MAX_LINES`)."""
    out: list[DiffLine] = []
    path = ""
    for kind, text, old, new in _walk(iter(diff.splitlines()[:MAX_LINES])):
        if kind == "file":
            path = text
        elif kind == "line":
            out.append(DiffLine(path, old, new, text))
    return out


def quote_depth(line: str) -> tuple[int, str]:
    """How deep ``line`` is quoted and its text under the quote marks: ``"> > x"`` is (2,
    ``"x"``), ``">  ctx"`` (1, ``" ctx"``: the space the quote adds is dropped, the diff's
    own kept), ``"a > b"`` (0, itself)."""
    depth = 0
    rest = line
    while True:
        stripped = rest.lstrip(" ") if depth == 0 else rest
        if not stripped.startswith(">"):
            return depth, rest
        depth += 1
        rest = stripped[1:]
        if rest.startswith(" "):
            rest = rest[1:]
        if depth >= 16:
            return depth, rest


class _Placer:
    """The real diff indexed by (path, line text), to find where a quoted line really is."""

    def __init__(self, diff: str) -> None:
        self.lines = diff_lines(diff)
        self.paths = {line.path for line in self.lines}
        self.where: dict[tuple[str, str], list[int]] = {}
        for i, line in enumerate(self.lines):
            self.where.setdefault((line.path, line.text.rstrip()), []).append(i)

    def place(self, path: str, window: Sequence[str], old: int, new: int) -> DiffLine | None:
        """The real line the quote ends on: the same text with the same quoted lines before
        it, the one at the quoted numbers if several; ``None`` when none or ambiguous."""
        candidates = self.where.get((path, window[-1].rstrip()), [])[:64]
        matching = [i for i in candidates if self._matches(i, path, window)]
        # A reviewer may have cut lines out of the quote: then the line alone, at the quoted
        # numbers or the only one of its text in that file.
        for found in (matching, candidates):
            exact = [i for i in found if (self.lines[i].old, self.lines[i].new) == (old, new)]
            if exact:
                return self.lines[exact[0]]
            if len(found) == 1:
                return self.lines[found[0]]
        return None

    def _matches(self, at: int, path: str, window: Sequence[str]) -> bool:
        for back, text in enumerate(reversed(window)):
            i = at - back
            if i < 0 or self.lines[i].path != path or \
                    self.lines[i].text.rstrip() != text.rstrip():
                return False
        return True


@functools.lru_cache(maxsize=32)
def _placer(diff: str) -> _Placer:
    """One index per diff, shared by the replies to the same patch (a page places each of
    them: indexing the diff again for each was a fifth of a commented patch page)."""
    return _Placer(diff)


def _is_comment(block: list[str]) -> bool:
    own = [line for line in block if line.strip()]
    return bool(own) and not all(_TRAILER_RE.match(line) for line in own)


# A hunk header under one or more quote marks, as :func:`quote_depth` reads them.
_QUOTED_HUNK_RE = re.compile(r"^ *>(?: ?>)* ?@@ -", re.M)


def may_comment(body: str) -> bool:
    """Whether ``body`` can hold a comment on a diff at all: every comment follows a quoted hunk
    header. Most replies quote none, and are passed over without indexing the diff."""
    return "@@ -" in body and _QUOTED_HUNK_RE.search(body) is not None


def line_comments(body: str, diff: str, depth: int = 1) -> tuple[LineComment, ...]:
    """The comments of a reply ``body`` on the patch whose real diff is ``diff``; ``depth``: how
    far below the patch the reply is (1 answers the patch, 2 answers a reply to it, whose
    quote of the diff is then ``> >``)."""
    if not may_comment(body):
        return ()
    placer = _placer(diff)
    if not placer.lines:
        return ()
    out: list[LineComment] = []
    path = ""
    in_hunk = False
    old = new = 0
    window: list[str] = []  # the quoted hunk lines up to the anchor, the last CONTEXT of them
    anchor: tuple[str, tuple[str, ...], int, int] | None = None
    block: list[str] = []

    def close() -> None:
        nonlocal block
        if anchor is not None and _is_comment(block) and len(out) < MAX_COMMENTS:
            where, quoted, at_old, at_new = anchor
            found = placer.place(where, quoted, at_old, at_new)
            if found is not None:
                out.append(LineComment(found.path, found.old, found.new,
                                       "\n".join(block).strip("\n")[:MAX_TEXT], found.text))
        block = []

    for line in body.splitlines()[:MAX_LINES]:
        if line in SIGNATURES:
            break
        level, text = quote_depth(line)
        if level == 0:
            if anchor is not None and (block or line.strip()):
                block.append(line)
            continue
        if level < depth and not text.strip() and not block:
            continue  # the blank quoted line between a quoted diff and a quoted comment
        if block:
            close()
        anchor = None
        if level != depth:
            continue
        found = _DIFF_GIT_RE.match(text)
        hunk = _HUNK_RE.match(text)
        if found or (text.startswith("+++ ") and not in_hunk):
            path = found.group(2) if found else _target(text)
            path = path if path in placer.paths else ""
            in_hunk, window = False, []
        elif hunk:
            old, new, in_hunk, window = int(hunk.group(1)), int(hunk.group(2)), True, []
        elif in_hunk and path and (text[:1] in (" ", "-", "+") or text == ""):
            text = text or " "
            window = [*window[-(CONTEXT - 1):], text]
            anchor = (path, tuple(window), old if text[0] != "+" else 0,
                      new if text[0] != "-" else 0)
            old += text[0] != "+"
            new += text[0] != "-"
        elif text.startswith(("--- ", "index ", "\\")):
            continue
        else:  # quoted prose: what follows answers it, not the diff
            in_hunk, window = False, []
    if block:
        close()
    return tuple(out)


def split_at_comments(file_diff: str, placed: Sequence[tuple[int, int]]
                      ) -> list[tuple[str, list[int]]]:
    """One file's diff cut after each line that has comments: (text, indexes into ``placed``
    of the (old, new) places answered right after that text), in order; the text of every
    piece joined is ``file_diff``'s lines."""
    wanted: dict[tuple[int, int], list[int]] = {}
    for i, key in enumerate(placed):
        wanted.setdefault(key, []).append(i)
    pieces: list[tuple[str, list[int]]] = []
    all_lines = file_diff.splitlines()
    start = 0
    for at, (kind, _, line_old, line_new) in enumerate(_walk(iter(all_lines[:MAX_LINES]))):
        if kind == "line" and (line_old, line_new) in wanted:
            pieces.append(("\n".join(all_lines[start:at + 1]), wanted.pop((line_old, line_new))))
            start = at + 1
            if not wanted:
                break
    if start < len(all_lines):
        pieces.append(("\n".join(all_lines[start:]), []))
    return pieces


def line_survives(old_diff: str, new_diff: str, path: str, old_line: int, new_line: int) -> bool:
    """Whether the line at (``old_line``, ``new_line``) of ``path`` in ``old_diff`` is in
    ``new_diff`` too, with the same text and the same two lines either side: a comment on it
    still applies to the new revision."""
    before = diff_lines(old_diff)
    at = next((i for i, line in enumerate(before) if line.path == path
               and (line.old, line.new) == (old_line, new_line)), None)
    if at is None:
        return False
    window = [line.text.rstrip() for line in before[max(0, at - 2):at + 3]
              if line.path == path]
    after = [line.text.rstrip() for line in diff_lines(new_diff) if line.path == path]
    # the window's lines are few (5): a scan of the new file's lines is linear
    return any(after[i:i + len(window)] == window for i in range(len(after) - len(window) + 1)
               if after[i] == window[0])
