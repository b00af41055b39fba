"""The read side of embargoes: what hides a message, what an embargo hides, and the note a
disclosed thread's pages show. Changes are :mod:`listarchive.access.embargo`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from listarchive.access.visibility import Viewer, active_embargo
from listarchive.archive.messageview import find_message
from listarchive.archive.models import Embargo, EmbargoMember, Message, Node
from listarchive.archive.records import MessageRecord

EXPIRY = "expiry"  # the actor recorded when an embargo's date passed


@dataclass(frozen=True)
class Disclosure:
    """The note a disclosed thread's pages show: "disclosed on DATE by NAME"."""

    at: datetime
    by: str  # user name; '' when the embargo date passed

    def note(self) -> str:
        who = f"by {self.by}" if self.by and self.by != EXPIRY else "when its embargo ended"
        return f"disclosed on {self.at:%Y-%m-%d %H:%M} UTC {who}"


def _thread_id(session: Session, msgid: str) -> int | None:
    return session.scalar(select(Node.thread_id).where(Node.msgid == msgid))


def thread_msgids(session: Session, msgid: str) -> tuple[str, ...]:
    """Every stored message of the thread holding ``msgid`` (hidden or not), in id order."""
    tid = _thread_id(session, msgid)
    if tid is None:
        return ()
    return tuple(session.scalars(select(Message.msgid).where(Message.thread_id == tid)
                                 .order_by(Message.id)))


def message_embargoes(session: Session, msgid: str, active_only: bool = False) -> list[Embargo]:
    """The embargoes that hide ``msgid`` (several when reports were merged), oldest first."""
    query = (select(Embargo).join(EmbargoMember, EmbargoMember.embargo_id == Embargo.id)
             .where(EmbargoMember.msgid == msgid).order_by(Embargo.id))
    if active_only:
        query = query.where(active_embargo())
    return list(session.scalars(query))


def members(session: Session, embargo_id: int) -> tuple[str, ...]:
    """The Message-IDs an embargo hides (stored or not yet), sorted."""
    return tuple(session.scalars(select(EmbargoMember.msgid)
                                 .where(EmbargoMember.embargo_id == embargo_id)
                                 .order_by(EmbargoMember.msgid)))


def disclosure(session: Session, viewer: Viewer, message: str | MessageRecord
               ) -> Disclosure | None:
    """The disclosure note of a message, or None (never embargoed, still embargoed, or hidden
    from this viewer: the note must not confirm a hidden message). ``message``: its Message-ID,
    or the record :func:`find_message` gave for this viewer (no need to look it up again)."""
    if isinstance(message, MessageRecord):
        if message.embargoed is False:  # read with the record: the usual case, no statement
            return None
        msgid = message.msgid
    elif find_message(session, viewer, message) is None:
        return None
    else:
        msgid = message
    embargoes = message_embargoes(session, msgid)
    if not embargoes or any(e.disclosed_at is None for e in embargoes):
        return None
    last = max(embargoes, key=lambda e: (e.disclosed_at or datetime.min, e.id))
    assert last.disclosed_at is not None
    return Disclosure(last.disclosed_at, last.disclosed_by)
