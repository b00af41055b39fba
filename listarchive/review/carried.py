"""What a new revision of a series inherits from the one before: the review comments given to
v(N-1), each with whether its line changed in vN (read with
:mod:`listarchive.review.interdiff`'s pairing). Trailers given to an unchanged patch are
carried by :mod:`listarchive.review.trailers` already (same patch-id, ``carried_from``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from listarchive.access.visibility import Viewer
from listarchive.archive.models import Patch
from listarchive.mail.linecomments import line_survives
from listarchive.mail.rangediff import DROPPED, UNCHANGED
from listarchive.review.discussion import Comment, discussions
from listarchive.review.interdiff import Revision, patch_pairs


@dataclass(frozen=True)
class CarriedComment:
    comment: Comment
    unchanged: bool  # its line is in vN as it was, with the same lines around it
    new_patch: int  # the vN patch it pairs with (0: the patch was dropped)


@dataclass(frozen=True)
class Carried:
    previous: Revision | None
    comments: tuple[CarriedComment, ...] = ()

    @property
    def unchanged(self) -> tuple[CarriedComment, ...]:
        return tuple(c for c in self.comments if c.unchanged)


def carried(session: Session, viewer: Viewer, series_id: int) -> Carried:
    """What ``series_id`` carries from its previous revision (nothing for a first one)."""
    previous, pairs = patch_pairs(session, viewer, series_id)
    if previous is None:
        return Carried(None)
    by_old = {pair.old.ref: pair for pair in pairs if pair.old is not None}
    olds = list(session.scalars(select(Patch).where(Patch.id.in_(sorted(by_old)))))
    comments: list[CarriedComment] = []
    for pid, talk in sorted(discussions(session, viewer, olds).items()):
        pair = by_old[pid]
        for comment in talk.comments:
            if pair.status == DROPPED or pair.new is None or pair.old is None:
                comments.append(CarriedComment(comment, False, 0))
                continue
            same = pair.status == UNCHANGED or line_survives(
                pair.old.diff, pair.new.diff, comment.path, comment.old_line, comment.new_line)
            comments.append(CarriedComment(comment, same, pair.new.ref))
    return Carried(previous, tuple(comments))
