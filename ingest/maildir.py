"""Maildirs and plain directory trees of mail files, in delivery order.

Position: the name of the last file read, compared in natural order, with ``"\t<offset>"``
appended inside an mbox file found in a tree (see :class:`DirectorySource`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ingest.mailfile import open_stream, sniff, strip_from_line
from ingest.mboxsource import MboxSource
from ingest.rawmail import RawMail
from listarchive.errors import SourceError

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
            if not self.maildir and sniff(path).startswith(b"From "):
                yield from self._split(path, name, origin, mark_offset if key == mark else "")
                continue
            try:
                with open_stream(path) as stream:
                    data = stream.read()
            except FileNotFoundError:
                continue  # moved from new/ to cur/ (or expunged) since the listing: next read
            except (OSError, EOFError) as exc:
                raise SourceError(f"{path}: cannot read: {exc}") from exc
            yield RawMail(strip_from_line(data), origin, name)

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
