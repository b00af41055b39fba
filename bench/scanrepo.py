"""The git repository that ``listarchive git-scan`` is measured on, written from archived mail.

Written with ``git fast-import``: every other commit is a real patch of the corpus (its diff
rebuilt from the mail, so ``git patch-id --stable`` agrees with the archive's) and the commit
before it writes that patch's pre-image.
"""

from __future__ import annotations

import email
import random
import re
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.message import Message
from email.policy import compat32
from email.utils import parseaddr, parsedate_tz
from pathlib import Path

from bench.corpus import split_mboxrd, unescape_mboxrd

# A gap of unchanged lines between two hunks is shortened to at most this many filler lines:
# enough to keep git's hunks apart (it joins hunks closer than 2 x 3 context lines) without
# writing thousands of lines per file.
MAX_GAP = 20
_HUNK_RE = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_SAFE_PATH = re.compile(r"^[A-Za-z0-9_./+@,=~-]+$")
_PREFIXES = re.compile(r"^(?:\s*\[[^\]]*\])+\s*")


@dataclass(frozen=True)
class FileChange:
    """One file of a patch as two whole files: ``pre`` before, ``post`` after (None: absent)."""

    path: str
    pre: tuple[str, ...] | None
    post: tuple[str, ...] | None


@dataclass(frozen=True)
class MailPatch:
    """A patch mail as ``git am`` would commit it."""

    author_name: str
    author_email: str
    when: str  # "EPOCH +ZZZZ"
    subject: str
    message: str
    files: tuple[FileChange, ...]


def _images(hunks: Sequence[tuple[int, int, list[str], list[str]]], path: str
            ) -> tuple[list[str], list[str]] | None:
    """Pre- and post-image built from hunks, unchanged stretches replaced by filler lines.

    Each hunk keeps its place relative to the file's start and to the previous hunk (gaps
    shortened to :data:`MAX_GAP`), so ``git diff`` of the two images gives back the mail's hunks:
    3 lines of context where the mail had them, fewer only at the file's start or end. ``None``
    for hunks that overlap or go backwards (a hand-edited patch).
    """
    pre: list[str] = []
    post: list[str] = []
    done = 0  # lines of the original pre-image covered so far
    filler = 0
    for start, count, old, new in hunks:
        begin = start if count == 0 else start - 1
        gap = begin - done
        if gap < 0:
            return None
        for _ in range(min(gap, MAX_GAP)):
            filler += 1
            line = f"/* {path}: unchanged line {filler} */"
            pre.append(line)
            post.append(line)
        pre += old
        post += new
        done = begin + count
    return pre, post


def parse_diff(lines: Sequence[str]) -> tuple[FileChange, ...] | None:
    """The files of a ``git format-patch`` diff as pre/post images, or None if not rebuildable.

    Not rebuilt (None): renames, copies, mode changes, binary files, ``\\ No newline at end of
    file``, paths git would quote, diffs without ``a/``/``b/`` prefixes, and hunks whose line
    counts disagree with their header (a mailer that wrapped a long line). A blank line inside a
    hunk is taken as an empty context line: mailers strip the lone space.
    """
    i = 0
    n = len(lines)
    while i < n and not lines[i].startswith("diff --git "):
        i += 1
    files: list[FileChange] = []
    while i < n and lines[i].startswith("diff --git "):
        i += 1
        while i < n and not lines[i].startswith(("--- ", "diff --git ")):
            if not lines[i].startswith(("index ", "new file mode 100644",
                                        "deleted file mode 100644")):
                return None
            i += 1
        if i + 1 >= n or not lines[i].startswith("--- ") or not lines[i + 1].startswith("+++ "):
            return None
        old_name, new_name = lines[i][4:].rstrip(), lines[i + 1][4:].rstrip()
        i += 2
        created, deleted = old_name == "/dev/null", new_name == "/dev/null"
        name = new_name if deleted is False else old_name
        if not name.startswith(("a/", "b/")) or (not created and not deleted
                                                 and old_name[2:] != new_name[2:]):
            return None
        path = name[2:]
        if not _SAFE_PATH.match(path):
            return None
        hunks: list[tuple[int, int, list[str], list[str]]] = []
        while i < n and lines[i].startswith("@@"):
            m = _HUNK_RE.match(lines[i])
            if m is None:
                return None
            start, count = int(m[1]), int(m[2] if m[2] is not None else 1)
            left_old, left_new = count, int(m[4] if m[4] is not None else 1)
            old: list[str] = []
            new: list[str] = []
            i += 1
            while left_old > 0 or left_new > 0:
                if i >= n:
                    return None
                line = lines[i] or " "
                tag, text = line[0], line[1:]
                if tag in " -":
                    old.append(text)
                    left_old -= 1
                if tag in " +":
                    new.append(text)
                    left_new -= 1
                if tag not in " -+" or left_old < 0 or left_new < 0:
                    return None
                i += 1
            if i < n and lines[i].startswith("\\"):
                return None
            hunks.append((start, count, old, new))
        if not hunks:
            return None
        images = _images(hunks, path)
        if images is None:
            return None
        files.append(FileChange(path, None if created else tuple(images[0]),
                                None if deleted else tuple(images[1])))
    return tuple(files) or None


def _header(msg: Message, name: str) -> str:
    value = msg.get(name)
    if value is None:
        return ""
    try:
        return " ".join(str(make_header(decode_header(str(value)))).split())
    except (ValueError, LookupError, UnicodeError):
        return " ".join(str(value).split())


def _body(msg: Message) -> str | None:
    part = next((p for p in msg.walk() if p.get_content_type() == "text/plain"), None)
    if part is None:
        return None
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return None
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("utf-8", errors="replace")


def _clean(text: str) -> str:
    return re.sub(r"[<>\n\r]", "", text).strip()


def mail_patch(raw: bytes) -> MailPatch | None:
    """What ``git am`` would commit from one archived message, or None if it is no plain patch.

    The author is the in-body ``From:`` line when there is one (sent on someone's behalf), else
    the header; the subject loses its ``[PATCH v2 3/7]`` brackets; the message is what precedes
    the ``---`` line.
    """
    msg = email.message_from_bytes(raw, policy=compat32)
    subject = _header(msg, "Subject")
    if "patch" not in subject.lower() or subject.lower().startswith("re:"):
        return None
    body = _body(msg)
    if body is None or "\ndiff --git " not in body:
        return None
    lines = [line.rstrip("\r") for line in body.split("\n")]
    files = parse_diff(lines)
    if files is None:
        return None
    name, addr = parseaddr(_header(msg, "From"))
    head_end = next((k for k, line in enumerate(lines) if line == "---"
                     or line.startswith("diff --git ")), len(lines))
    text = lines[:head_end]
    if text and text[0].startswith("From: "):
        name, addr = parseaddr(text[0][6:])
        text = text[1:]
    title = _PREFIXES.sub("", subject).strip()
    parsed = parsedate_tz(_header(msg, "Date"))
    when = "0 +0000"
    if parsed is not None:
        offset = parsed[9] or 0
        sign = "-" if offset < 0 else "+"
        when = (f"{email.utils.mktime_tz(parsed)} {sign}{abs(offset) // 3600:02d}"
                f"{abs(offset) % 3600 // 60:02d}")
    if not addr or not title:
        return None
    message = title + "\n\n" + "\n".join(text).strip() + "\n"
    return MailPatch(_clean(name) or _clean(addr), _clean(addr), when, title, message, files)


def pick_patches(mbox: Path, count: int, seed: int = 5) -> list[MailPatch]:
    """``count`` rebuildable patches spread over ``mbox`` (fixed seed), in the mailbox's order."""
    candidates: list[int] = []
    with mbox.open("rb") as fh:
        for k, raw in enumerate(split_mboxrd(fh)):
            if b"\ndiff --git " in raw:
                candidates.append(k)
    order = candidates[:]
    random.Random(seed).shuffle(order)
    rank = {k: r for r, k in enumerate(order)}
    wanted = set(order[:count * 2])
    found: list[tuple[int, int, MailPatch]] = []
    with mbox.open("rb") as fh:
        for k, raw in enumerate(split_mboxrd(fh)):
            if k in wanted:
                patch = mail_patch(unescape_mboxrd(raw))
                if patch is not None:
                    found.append((rank[k], k, patch))
    found.sort()
    return [p for _r, _k, p in sorted(found[:count], key=lambda t: t[1])]


def _data(text: str) -> bytes:
    blob = text.encode("utf-8", errors="replace")
    return b"data %d\n" % len(blob) + blob + b"\n"


def fast_import_stream(patches: Sequence[MailPatch]) -> Iterator[bytes]:
    """Two commits per patch on ``refs/heads/main``: its pre-image, then the patch itself."""
    tick = 1_600_000_000
    for patch in patches:
        for step in ("pre", "post"):
            tick += 60
            if step == "pre":
                who, msg = "Tree Keeper <tree@example.org>", f"Prepare for: {patch.subject}\n"
            else:
                who, msg = f"{patch.author_name} <{patch.author_email}>", patch.message
            when = f"{tick} +0000" if step == "pre" else patch.when
            out = [b"commit refs/heads/main\n",
                   f"author {who} {when}\n".encode("utf-8", errors="replace"),
                   f"committer Tree Keeper <tree@example.org> {tick} +0000\n".encode(),
                   _data(msg)]
            for change in patch.files:
                lines = change.pre if step == "pre" else change.post
                if lines is None:
                    out.append(f"D {change.path}\n".encode())
                else:
                    out.append(f"M 100644 inline {change.path}\n".encode())
                    out.append(_data("".join(line + "\n" for line in lines)))
            out.append(b"\n")
            yield b"".join(out)


def write_repo(patches: Sequence[MailPatch], repo: Path) -> int:
    """A fresh repository at ``repo`` with the commits of :func:`fast_import_stream`."""
    if repo.exists():
        shutil.rmtree(repo)
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    proc = subprocess.Popen(["git", "-C", str(repo), "fast-import", "--quiet"],
                            stdin=subprocess.PIPE)
    assert proc.stdin is not None
    for chunk in fast_import_stream(patches):
        proc.stdin.write(chunk)
    proc.stdin.close()
    if proc.wait() != 0:
        raise RuntimeError("git fast-import failed")
    count = subprocess.run(["git", "-C", str(repo), "rev-list", "--count", "main"],
                           check=True, capture_output=True, text=True).stdout
    return int(count)


def build_repo(mbox: Path, count: int, repo: Path) -> tuple[int, int]:
    """:func:`pick_patches` then :func:`write_repo`; returns (patches used, commits)."""
    patches = pick_patches(mbox, count)
    return len(patches), write_repo(patches, repo)
