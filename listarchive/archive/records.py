"""What the read side of messages gives back: a stored message's record (header facts from the
database, no raw bytes) and a thread as one viewer sees it. Small frozen values."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class MessageRecord:
    """A stored message as the site shows it (header facts from the database, no raw bytes).
    Not its To: and Cc: (427 bytes a message on average at 100k, 100 KB in hostile mail): the
    pages that show them parse the mail."""

    pk: int
    msgid: str
    subject: str
    from_name: str
    from_email: str
    date: datetime | None
    sort_date: datetime | None
    in_reply_to: str
    parent_msgid: str
    sha256: str
    raw_size: int
    ingested_at: datetime
    thread_id: int | None
    lists: tuple[str, ...]
    # Whether an embargo ever named it (a message page's disclosure note); None: not read.
    embargoed: bool | None = None


@dataclass(frozen=True)
class ThreadMember:
    record: MessageRecord
    depth: int


@dataclass(frozen=True)
class ThreadLine:
    """A line of the thread tree: a message, or (``record`` None) a placeholder for a
    Message-ID that replies point to and this viewer cannot read: never archived, or hidden."""

    msgid: str
    depth: int
    record: MessageRecord | None


@dataclass(frozen=True)
class ThreadView:
    root_msgid: str
    subject: str
    members: tuple[ThreadMember, ...]  # depth-first tree order
    lines: tuple[ThreadLine, ...] = ()  # the members and the placeholders, in tree order

    def by_date(self) -> list[MessageRecord]:
        return sorted((m.record for m in self.members),
                      key=lambda r: (r.sort_date or datetime.max, r.msgid))

    def etag(self) -> str:
        """Changes whenever a message joins the thread (members are immutable)."""
        digest = hashlib.sha256()
        for member in sorted(m.record.sha256 for m in self.members):
            digest.update(member.encode())
        return digest.hexdigest()[:32]

    @property
    def last_modified(self) -> datetime | None:
        return max((m.record.ingested_at for m in self.members), default=None)
