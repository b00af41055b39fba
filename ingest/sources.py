"""Where mail comes from: mbox files, Maildirs, public-inbox archives, stdin.

Every source streams: memory stays bounded by the largest single message, whatever the size of
the input (a 1 GB mbox is read in 1 MiB chunks; a public-inbox epoch through one ``git cat-file``
process). Each :class:`RawMail` carries the exact stored bytes and a resume ``position``: reading
the same source again from that position yields only the mails after it, which is how ``watch``
follows a growing mbox, a Maildir being delivered to, or a public-inbox archive being fetched.

Position tokens are opaque strings, stable across runs, one format per kind of source:

* mbox: the byte offset (in the uncompressed stream) where the next message's ``From `` line
  starts; e.g. ``"48213"``.
* Maildir and plain directories: the name of the last file read, compared in natural order,
  with ``"\t<offset>"`` appended inside an mbox file found in a tree (see
  :class:`DirectorySource`).
* public-inbox: ``"<epoch>:<commit>"`` of the last message read.
* a single message file or stdin: ``"1"`` once the message was read.
"""

from __future__ import annotations

import gzip
import logging
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO, Protocol, cast

from listarchive.errors import SourceError
from listarchive.mail.mbox import unescape

logger = logging.getLogger(__name__)

CHUNK_SIZE = 1 << 20
# Beyond this one "message" is almost surely a file whose separators were not recognised; the
# reader stops instead of holding the rest of a huge file in memory. The worker quarantines
# messages over ``ingest.max_message_bytes`` (64 MiB by default) long before this.
MAX_MESSAGE_BYTES = 512 << 20

# A separator's date part: a month name, a clock time and a four-digit year somewhere after the
# envelope sender, as in "From MAILER-DAEMON Sun Aug  7 11:40:37 2022 extra info" (CPython's
# mailbox tests) or lore's "From mboxrd@z Thu Jan  1 00:00:00 1970". "From time to time" in an
# unquoted mboxo body has none of them.
_FROM_DATE_RE = re.compile(
    rb"From \S* ?(?=.*\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\b)"
    rb"(?=.*\b\d{1,2}:\d\d\b)(?=.*\b\d{4}\b)"
)
# An RFC 5322 header field name followed by a colon (printable ASCII except ":" and space).
_HEADER_RE = re.compile(rb"[!-9;-~]+:")
_EPOCH_RE = re.compile(r"^(\d+)\.git$")
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True, slots=True)
class RawMail:
    data: bytes  # the message bytes exactly as stored (From_ line removed, mboxrd un-escaped)
    origin: str  # human-readable where-from: "list.mbox@12345", "git/0.git:<commit>"
    position: str  # resume token: reading again from here yields the mails AFTER this one


class Source(Protocol):
    """A place mail is read from; ``key`` identifies it for storing the resume position."""

    @property
    def key(self) -> str:
        """Stable identity (absolute path) under which ``watch`` stores the position."""
        ...

    def read(self, position: str = "") -> Iterator[RawMail]:
        """Yield the mails after ``position`` ("" = from the start), in a stable order."""
        ...


def open_source(spec: str, stdin: BinaryIO | None = None, *, follow: bool = False) -> Source:
    """Recognise what ``spec`` names and return a source for it.

    ``spec`` is ``"-"`` (one message on stdin), an mbox/mboxrd file (gzip-compressed or not,
    recognised by content, not by name), a single message file, a Maildir (has ``cur/`` or
    ``new/``), a public-inbox v2 archive (the inbox directory holding ``git/0.git``..., or that
    ``git/`` directory itself), one epoch repository (a bare git repository), or any other
    directory, read as one message per file. ``follow=True`` is for ``watch``: an mbox whose last
    message is not finished yet (no blank line after it) keeps that message for the next read.

    Any other regular file is read as one message: if it is not mail, the worker quarantines it
    with the reason, so nothing named on the command line is silently skipped.
    Raises :class:`SourceError` for a missing path, a special file or a git bundle.
    """
    if spec == "-":
        return StdinSource(stdin if stdin is not None else sys.stdin.buffer)
    path = Path(spec)
    if not path.exists():
        raise SourceError(f"{spec}: no such file or directory")
    if path.is_dir():
        return _open_directory(path, follow)
    if not path.is_file():
        raise SourceError(f"{spec}: not a regular file or directory")
    head = _sniff(path)
    if head.startswith(b"From ") or not head.strip():
        return MboxSource(path, follow=follow)
    if head.startswith(b"# v2 git bundle") or head.startswith(b"# v3 git bundle"):
        raise SourceError(f"{spec}: a git bundle; clone it first (git clone --mirror {spec} 0.git)")
    return MessageFileSource(path)


def _sniff(path: Path) -> bytes:
    """The first bytes of a file, uncompressed, leading blank lines dropped."""
    try:
        with _open_stream(path) as stream:
            return stream.read(4096).lstrip(b"\r\n")
    except (OSError, EOFError) as exc:
        raise SourceError(f"{path}: cannot read: {exc}") from exc


def _open_stream(path: Path) -> IO[bytes]:
    """The file's bytes, gunzipped when it is gzip data (whatever its name)."""
    with path.open("rb") as probe:
        compressed = probe.read(2) == _GZIP_MAGIC
    return cast(IO[bytes], gzip.open(path, "rb")) if compressed else path.open("rb")


def _open_directory(path: Path, follow: bool) -> Source:
    if (path / "cur").is_dir() or (path / "new").is_dir():
        return DirectorySource(path, maildir=True)
    if _is_bare_repo(path):
        match = _EPOCH_RE.match(path.name)
        return PublicInboxSource(path, [(int(match.group(1)) if match else 0, path)], single=True)
    for candidate in (path / "git", path):
        if candidate.is_dir() and _epoch_dirs(candidate):
            return PublicInboxSource(candidate, _epoch_dirs(candidate))
    return DirectorySource(path, maildir=False)


# -- mbox ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MboxSource:
    """An mbox file (mboxrd, or mboxo with unquoted ``From `` lines), optionally gzipped.

    Separators: a line starting with ``From `` at the start of the file, or after an empty line,
    that either carries a date (month name, time, year) or is followed by a header line. The
    second rule accepts the bare ``From A`` separators of patchew's test mbox files; together they
    refuse "From time to time" in an unquoted mboxo body (CPython's ``mailbox_01.mbox``). The blank
    line the mbox writer puts after each message is removed (one ``\\n``, or ``\\r\\n`` in a CRLF
    file); ``>From `` lines are un-quoted the mboxrd way (see ``listarchive.mail.mbox``).

    ``follow``: the file may still be growing. Its last message is yielded only once it ends
    with a blank line (as every mbox writer ends a message) and no ``<file>.lock`` dot-lock is
    held (Postfix's ``local``, procmail and mutt take one while appending, so a message caught
    between two paragraphs is not mistaken for a whole one); it is read whole on the next call
    from the last position. Without ``follow`` the end of the file ends the last message, blank
    line or not.
    """

    path: Path
    follow: bool = False
    chunk_size: int = CHUNK_SIZE
    max_message: int = MAX_MESSAGE_BYTES

    @property
    def key(self) -> str:
        return str(self.path.resolve())

    def read(self, position: str = "") -> Iterator[RawMail]:
        offset = _parse_offset(position, self.path)
        try:
            stream = _open_stream(self.path)
        except OSError as exc:
            raise SourceError(f"{self.path}: cannot open: {exc}") from exc
        with stream:
            if offset:
                # Reading the byte before the position works for plain and gzip streams alike
                # (seeking past the end of a plain file would succeed silently).
                stream.seek(offset - 1)
                if len(stream.read(1)) != 1:
                    raise SourceError(f"{self.path}: shorter than the saved position {offset}; "
                                      "the file was truncated or replaced")
            name = self.path.name
            locked = self.follow and self.path.with_name(name + ".lock").exists()
            for start, data, end in split_mbox(stream, offset, self.follow, self.chunk_size,
                                               str(self.path), hold_tail=locked,
                                               max_message=self.max_message):
                yield RawMail(data, f"{name}@{start}", str(end))


def _parse_offset(position: str, path: Path) -> int:
    if not position:
        return 0
    if not position.isdigit():
        raise SourceError(f"{path}: {position!r} is not an mbox position (a byte offset)")
    return int(position)


def split_mbox(stream: IO[bytes], offset: int = 0, follow: bool = False,
               chunk_size: int = CHUNK_SIZE, name: str = "mbox",
               hold_tail: bool = False,
               max_message: int = MAX_MESSAGE_BYTES) -> Iterator[tuple[int, bytes, int]]:
    """Split an mbox stream positioned at ``offset`` into ``(start, message, end)`` triples.

    ``start`` is the offset of the message's ``From `` line, ``end`` the offset just after its
    trailing blank line (where the next ``From `` line starts, or the end of the data).
    ``follow`` and ``hold_tail`` (a writer holds the lock) keep back an unfinished last message,
    see :class:`MboxSource`. A message longer than ``max_message`` raises :class:`SourceError`
    rather than growing the buffer without bound. The
    buffer holds at most one message plus one chunk. A stream that does not begin with a
    ``From `` line (after blank lines) raises :class:`SourceError`: at offset 0 it is not an mbox,
    further on the saved position does not point at a message any more.
    """
    buf = bytearray()
    base = offset  # stream offset of buf[0]
    start = 0  # index in buf of the current message's From_ line
    scan = 0  # where to look for the next "\nFrom " candidate
    checked = False
    eof = False
    while not eof:
        data = stream.read(chunk_size)
        if not data:
            eof = True
        else:
            if start:
                del buf[:start]
                base += start
                scan -= start
                start = 0
            buf += data
        if not checked:
            if not eof and len(buf) < 5:
                continue
            skip = len(buf) - len(buf.lstrip(b"\r\n"))
            if skip == len(buf) and not eof:
                continue  # only blank lines so far
            if not buf.startswith(b"From ", skip) and skip < len(buf):
                what = "not an mbox file" if offset == 0 else (
                    f"no message starts at the saved position {offset}; was the file replaced?")
                raise SourceError(f"{name}: {what}")
            start = scan = skip
            checked = True
        # In follow mode the end of the data is not final: a separator cut by the end of what
        # has been written so far is judged on the next call.
        final = eof and not follow
        while True:
            i = buf.find(b"\nFrom ", scan)
            if i < 0:
                scan = max(start, len(buf) - 5)  # "\nFrom " may straddle two chunks
                break
            verdict = _separator_at(buf, i, final)
            if verdict is None:
                scan = i
                break
            if verdict:
                yield base + start, _message(buf, start, i + 1), base + i + 1
                start = i + 1
            scan = i + 1
        if len(buf) - start > max_message:
            raise SourceError(f"{name}: the message at offset {base + start} is longer than "
                              f"{max_message} bytes; is this really an mbox file?")
    if start < len(buf):
        tail_complete = buf.endswith(b"\n\n") or buf.endswith(b"\n\r\n")
        if not follow or (tail_complete and not hold_tail):
            yield base + start, _message(buf, start, len(buf)), base + len(buf)


def _separator_at(buf: bytearray, i: int, final: bool) -> bool | None:
    """Is the ``From `` line after the newline at ``buf[i]`` a separator? None: need more data."""
    if buf[i - 1] != 0x0A and not (buf[i - 1] == 0x0D and buf[i - 2] == 0x0A):
        return False  # not after an empty line: a body line of an mboxo file
    j = i + 1
    nl = buf.find(b"\n", j)
    if nl < 0:
        if not final:
            return None
        nl = len(buf)
    if _FROM_DATE_RE.match(buf, j, nl):
        return True
    if nl == len(buf):
        return False
    nl2 = buf.find(b"\n", nl + 1)
    if nl2 < 0 and not final:
        return None
    return _HEADER_RE.match(buf, nl + 1, nl2 if nl2 >= 0 else len(buf)) is not None


def _message(buf: bytearray, start: int, end: int) -> bytes:
    """The message between a From_ line at ``start`` and ``end``, without its final blank line."""
    nl = buf.find(b"\n", start, end)
    body_start = end if nl < 0 else nl + 1
    if end - body_start >= 4 and buf[end - 4:end] == b"\r\n\r\n":
        end -= 2
    elif end - body_start >= 2 and buf[end - 2:end] == b"\n\n":
        end -= 1
    return unescape(bytes(buf[body_start:end]))


# -- single messages -----------------------------------------------------------------------------


def _strip_from_line(data: bytes) -> bytes:
    """Drop the envelope ``From `` line a local delivery agent may put before the headers."""
    if data.startswith(b"From "):
        nl = data.find(b"\n")
        return b"" if nl < 0 else data[nl + 1:]
    return data


@dataclass(frozen=True)
class MessageFileSource:
    """One message in a file of its own (``.eml``, a Maildir file given directly, ``.gz``)."""

    path: Path

    @property
    def key(self) -> str:
        return str(self.path.resolve())

    def read(self, position: str = "") -> Iterator[RawMail]:
        if position:
            return
        try:
            with _open_stream(self.path) as stream:
                data = stream.read()
        except (OSError, EOFError) as exc:
            raise SourceError(f"{self.path}: cannot read: {exc}") from exc
        yield RawMail(_strip_from_line(data), self.path.name, "1")


@dataclass(frozen=True)
class StdinSource:
    """One message on standard input, as a mail server delivers it to a pipe.

    Postfix's ``pipe`` and procmail may put an mbox ``From `` line first (``F`` flag); it is not
    part of the message and is removed. Nothing is un-quoted: a delivered message is not mbox.
    """

    stream: BinaryIO
    key: str = "-"

    def read(self, position: str = "") -> Iterator[RawMail]:
        if position:
            return
        yield RawMail(_strip_from_line(self.stream.read()), "stdin", "1")


# -- directories ---------------------------------------------------------------------------------

_DIGITS_RE = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple[tuple[int, str], ...]:
    """Sort key comparing digit runs as numbers: ``"M99"`` before ``"M100"``.

    Maildir names are ``<seconds>.<unique>.<host>`` where the unique part holds unpadded
    counters (``M<microseconds>P<pid>``), so plain string order would not be delivery order.
    """
    return tuple((int(part), "") if part.isdigit() else (-1, part)
                 for part in _DIGITS_RE.split(name) if part)


@dataclass(frozen=True)
class DirectorySource:
    """A Maildir (files in ``new/`` and ``cur/``) or a directory tree of mail files.

    Order: Maildir files by their unique name (the part before ``:2,flags``, which stays the same
    when a mail client moves a file from ``new/`` to ``cur/``), other trees by relative path, both
    in :func:`natural_key` order. The position is that name of the last file read, a watermark:
    the next read yields only files that sort after it, so ``watch`` sees each delivery once.
    Maildir names start with the delivery time, so new mail sorts last; a delivery stamped
    earlier than the watermark (another host with a slow clock) is not picked up by ``watch``
    and needs a full ``ingest`` (which skips what is already stored). Hidden files and
    directories and ``tmp/`` (deliveries in progress) are skipped.

    In a plain tree each file is one message, except files that are mbox files themselves (a
    directory of ``*.mbox.gz`` like patchew's test data): they are split, and a message inside
    one has the position ``"<relative path>\t<byte offset>"`` until the file is finished.
    """

    path: Path
    maildir: bool

    @property
    def key(self) -> str:
        return str(self.path.resolve())

    def _files(self) -> list[tuple[tuple[tuple[int, str], ...], str, Path]]:
        found = []
        if self.maildir:
            for sub in ("new", "cur"):
                folder = self.path / sub
                if not folder.is_dir():
                    continue
                for entry in os.scandir(folder):
                    if entry.name.startswith(".") or not entry.is_file():
                        continue
                    name = entry.name.split(":", 1)[0]
                    found.append((natural_key(name), name, Path(entry.path)))
        else:
            for root, dirs, files in os.walk(self.path):
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                for fname in files:
                    full = Path(root) / fname
                    if fname.startswith(".") or not full.is_file():
                        continue
                    rel = full.relative_to(self.path).as_posix()
                    found.append((natural_key(rel), rel, full))
        found.sort()
        return found

    def read(self, position: str = "") -> Iterator[RawMail]:
        mark_name, _, mark_offset = position.partition("\t")
        mark = natural_key(mark_name) if position else None
        for key, name, path in self._files():
            if mark is not None and (key < mark or key == mark and not mark_offset):
                continue
            origin = path.relative_to(self.path).as_posix()
            if not self.maildir and _sniff(path).startswith(b"From "):
                yield from self._split(path, name, origin, mark_offset if key == mark else "")
                continue
            try:
                with _open_stream(path) as stream:
                    data = stream.read()
            except FileNotFoundError:
                continue  # moved from new/ to cur/ (or expunged) since the listing: next read
            except (OSError, EOFError) as exc:
                raise SourceError(f"{path}: cannot read: {exc}") from exc
            yield RawMail(_strip_from_line(data), origin, name)

    @staticmethod
    def _split(path: Path, name: str, origin: str, offset: str) -> Iterator[RawMail]:
        """The messages of an mbox inside the tree; the last one carries the file's watermark."""
        pending: RawMail | None = None
        for mail in MboxSource(path).read(offset):
            if pending is not None:
                yield pending
            pending = RawMail(mail.data, f"{origin}@{mail.origin.rpartition('@')[2]}",
                              f"{name}\t{mail.position}")
        if pending is not None:
            yield RawMail(pending.data, pending.origin, name)


# -- public-inbox --------------------------------------------------------------------------------


def _is_bare_repo(path: Path) -> bool:
    return (path / "HEAD").is_file() and (path / "objects").is_dir() and (path / "refs").is_dir()


def _epoch_dirs(folder: Path) -> list[tuple[int, Path]]:
    epochs = []
    for entry in folder.iterdir():
        match = _EPOCH_RE.match(entry.name)
        if match and _is_bare_repo(entry):
            epochs.append((int(match.group(1)), entry))
    return sorted(epochs)


@dataclass(frozen=True)
class PublicInboxSource:
    """A public-inbox v2 archive: epoch repositories ``0.git``, ``1.git``... one commit per mail.

    Each commit's tree holds the message as blob ``m``; a removal commit holds ``d`` instead and is
    skipped. Epochs are read in numeric order, each with one ``git rev-list --reverse`` feeding one
    ``git cat-file --batch`` (a process per message would be about a hundred times slower).
    Epochs are listed on every read, so ``watch`` picks up a new epoch when the archive rolls over.
    The position ``"<epoch>:<commit>"`` resumes with ``<commit>..HEAD`` in that epoch.
    """

    path: Path  # the directory holding the N.git repositories, or the one epoch repository
    epochs: list[tuple[int, Path]]
    single: bool = False

    @property
    def key(self) -> str:
        return str(self.path.resolve())

    def _current_epochs(self) -> list[tuple[int, Path]]:
        return self.epochs if self.single else _epoch_dirs(self.path)

    def read(self, position: str = "") -> Iterator[RawMail]:
        after_epoch, after_commit = -1, ""
        if position:
            epoch_text, _, after_commit = position.partition(":")
            if not epoch_text.isdigit() or not re.fullmatch(r"[0-9a-f]{40,64}", after_commit):
                raise SourceError(f"{self.path}: {position!r} is not a public-inbox position "
                                  "(<epoch>:<commit>)")
            after_epoch = int(epoch_text)
        for epoch, repo in self._current_epochs():
            if epoch < after_epoch:
                continue
            since = after_commit if epoch == after_epoch else ""
            label = repo.name if self.single else f"git/{repo.name}"
            for commit, data in _epoch_blobs(repo, since):
                yield RawMail(data, f"{label}:{commit}", f"{epoch}:{commit}")


def _git(repo: Path, *args: str) -> list[str]:
    return ["git", f"--git-dir={repo}", *args]


def _epoch_blobs(repo: Path, since: str) -> Iterator[tuple[str, bytes]]:
    """``(commit, blob m)`` for each commit of the epoch after ``since``, oldest first."""
    try:
        head = subprocess.run(_git(repo, "rev-parse", "--verify", "--quiet", "HEAD^{commit}"),
                              capture_output=True, check=False)
    except FileNotFoundError as exc:
        raise SourceError("git is not installed; it is needed to read public-inbox archives") \
            from exc
    if head.returncode != 0:
        return  # a new epoch without commits yet
    revs = _git(repo, "rev-list", "--reverse", f"{since}..HEAD" if since else "HEAD")
    rev_list = subprocess.Popen(revs, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # %(rest) echoes what follows the object name on the input line: the commit of each blob.
    cat_file = subprocess.Popen(
        _git(repo, "cat-file", "--batch=%(objectname) %(objecttype) %(objectsize) %(rest)",
             "--buffer"),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert rev_list.stdout is not None and cat_file.stdin is not None
    assert cat_file.stdout is not None
    feeder = threading.Thread(target=_feed, args=(rev_list.stdout, cat_file.stdin), daemon=True)
    feeder.start()
    out = cat_file.stdout
    try:
        while True:
            header = out.readline()
            if not header:
                break
            fields = header.split()
            if fields[-1] == b"missing" or len(fields) != 4:
                continue  # a removal commit: its tree holds `d`, not `m`
            _oid, kind, size_text, commit = fields
            blob = out.read(int(size_text) + 1)[:-1]  # the object is followed by "\n"
            if kind != b"blob":
                logger.warning("%s: %s:m is a %s, not a message; skipped", repo,
                               commit.decode(), kind.decode())
                continue
            yield commit.decode("ascii"), blob
        feeder.join()
        err = rev_list.stderr.read() if rev_list.stderr else b""
        if rev_list.wait() != 0:
            raise SourceError(f"{repo}: git rev-list failed (is the saved position from this "
                              f"archive?): {err.decode(errors='replace').strip()}")
    finally:
        # The consumer may stop early (generator closed): killing both processes makes the
        # feeder's next read hit EOF or its next write fail, so it ends and can be joined; only
        # then are the pipes closed here (closing one the feeder is writing to would race).
        for proc in (rev_list, cat_file):
            if proc.poll() is None:
                proc.kill()
        feeder.join()
        for proc in (rev_list, cat_file):
            proc.wait()
        for stream in (rev_list.stdout, rev_list.stderr, cat_file.stdout):
            if stream is not None:
                stream.close()


def _feed(commits: IO[bytes], batch: IO[bytes]) -> None:
    """Turn rev-list's commit ids into cat-file requests ``<commit>:m <commit>``."""
    try:
        for line in commits:
            commit = line.strip()
            batch.write(commit + b":m " + commit + b"\n")
    except OSError:
        pass  # cat-file was killed because the reader stopped early: nothing left to feed
    finally:
        try:
            batch.close()
        except OSError:
            pass  # flushing into a killed cat-file
