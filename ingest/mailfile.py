"""Files of mail read whole: gzip or not, and the sources of one message (a file, stdin).

Position: ``"1"`` once the message was read.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO, cast

from ingest.rawmail import RawMail
from listarchive.errors import SourceError

_GZIP_MAGIC = b"\x1f\x8b"


def sniff(path: Path) -> bytes:
    """The first bytes of a file, uncompressed, leading blank lines dropped."""
    try:
        with open_stream(path) as stream:
            return stream.read(4096).lstrip(b"\r\n")
    except (OSError, EOFError) as exc:
        raise SourceError(f"{path}: cannot read: {exc}") from exc


def open_stream(path: Path) -> IO[bytes]:
    """The file's bytes, gunzipped when it is gzip data (whatever its name)."""
    with path.open("rb") as probe:
        compressed = probe.read(2) == _GZIP_MAGIC
    return cast(IO[bytes], gzip.open(path, "rb")) if compressed else path.open("rb")


def strip_from_line(data: bytes) -> bytes:
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
            with open_stream(self.path) as stream:
                data = stream.read()
        except (OSError, EOFError) as exc:
            raise SourceError(f"{self.path}: cannot read: {exc}") from exc
        yield RawMail(strip_from_line(data), self.path.name, "1")


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
        yield RawMail(strip_from_line(self.stream.read()), "stdin", "1")
