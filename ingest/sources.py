"""Where mail comes from: mbox files, Maildirs, public-inbox archives, stdin.

Every source streams: memory stays bounded by the largest single message, whatever the size of
the input. Each kind has its module: mbox files (:mod:`ingest.mboxsource`), Maildirs and plain
trees (:mod:`ingest.maildir`), public-inbox archives (:mod:`ingest.publicinbox`), one message in
a file or on stdin (:mod:`ingest.mailfile`); what they yield is :class:`ingest.rawmail.RawMail`,
with a resume position in the format of each.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import BinaryIO

from ingest.maildir import DirectorySource
from ingest.mailfile import MessageFileSource, StdinSource, sniff
from ingest.mboxsource import MboxSource
from ingest.publicinbox import find_inbox
from ingest.rawmail import Source
from listarchive.errors import SourceError


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
    head = sniff(path)
    if head.startswith(b"From ") or not head.strip():
        return MboxSource(path, follow=follow)
    if head.startswith(b"# v2 git bundle") or head.startswith(b"# v3 git bundle"):
        raise SourceError(f"{spec}: a git bundle; clone it first (git clone --mirror {spec} 0.git)")
    return MessageFileSource(path)


def _open_directory(path: Path, follow: bool) -> Source:
    if (path / "cur").is_dir() or (path / "new").is_dir():
        return DirectorySource(path, maildir=True)
    inbox = find_inbox(path)
    if inbox is not None:
        return inbox
    return DirectorySource(path, maildir=False)
