"""What every mail source yields and is: :class:`RawMail` and the :class:`Source` protocol.

Each :class:`RawMail` carries the exact stored bytes and a resume ``position``: reading the same
source again from that position yields only the mails after it, which is how ``watch`` follows a
growing mbox, a Maildir being delivered to, or a public-inbox archive being fetched. Position
tokens are opaque strings, stable across runs, one format per kind of source (each source's
module says which). :func:`ingest.sources.open_source` picks the source for a path.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol


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
