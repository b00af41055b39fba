"""mbox files (mboxrd, or mboxo with unquoted ``From `` lines), optionally gzipped, streamed.

Memory stays bounded by the largest single message, whatever the size of the file: a 1 GB mbox
is read in 1 MiB chunks. Position: the byte offset (in the uncompressed stream) where the next
message's ``From `` line starts; e.g. ``"48213"``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ingest.mailfile import open_stream
from ingest.rawmail import RawMail
from listarchive.errors import SourceError
from listarchive.mail.mbox import unescape

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
            stream = open_stream(self.path)
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
