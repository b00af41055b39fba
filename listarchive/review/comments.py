"""Patchwork's comments: the replies to a patch or a cover letter (direct replies, as Patchwork
counts them), each with its sender and its text, for ``/api/1.2/.../comments/``. Replies the
viewer may not see are left out; a hidden patch has no comments (None, like an unknown one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from listarchive.access.visibility import Viewer, visible_ids, visible_message
from listarchive.archive import listview, messageview, rawstore
from listarchive.archive.models import Message, Patch
from listarchive.mail.extract import SUBMISSIONS
from listarchive.mail.message import body_text
from listarchive.mail.msgids import quote_msgid
from listarchive.review.patchwork import PersonRef

MAX_COMMENTS = 500


@dataclass(frozen=True)
class CommentRecord:
    id: int
    msgid: str
    subject: str
    date: datetime | None
    submitter: PersonRef
    content: str
    path: str  # the reply's page, /LIST/MSGID/


def replies(session: Session, viewer: Viewer, object_id: int, cover: bool = False
            ) -> list[CommentRecord] | None:
    """The visible direct replies to a patch (``cover``: a cover letter), oldest first."""
    patch = session.get(Patch, object_id)
    if patch is None or (patch.kind != "cover" if cover else patch.kind not in SUBMISSIONS):
        return None
    if not visible_ids(session, viewer, [object_id]):
        return None
    rows = list(session.execute(
        select(Message.id, Message.msgid, Message.subject, Message.sort_date,
               Message.sender_id, Message.from_name, Message.from_email, Message.raw)
        .where(Message.parent_msgid == patch.msgid, visible_message(viewer))
        .order_by(Message.sort_date, Message.id).limit(MAX_COMMENTS)))
    homes = messageview.home_lists(session, viewer, [r.id for r in rows])
    return [CommentRecord(
        r.id, r.msgid, r.subject, r.sort_date,
        PersonRef(r.sender_id or 0, r.from_name, r.from_email),
        body_text(rawstore.unpack(r.raw)),
        f"/{homes.get(r.id, listview.ALL)}/{quote_msgid(r.msgid)}/") for r in rows]
