"""The write side of :mod:`listarchive.review.discussion`: where each reply's comments sit on
the diff of the patch above it, kept in ``review_comments`` so counts read no mail.

The unit is a (patch, reply) pair: the comments of one reply on one patch depend only on the
two messages and on how deep the reply sits below the patch in the thread tree, so a pair is
placed when the later of the two arrives (a reply before its patch is mail arriving out of
order, common on busy lists), and placing it again gives the same rows. Replies are found
exactly as the discussion finds them (:func:`listarchive.review.discussion.below`, up to
:data:`~listarchive.review.discussion.MAX_PLACED_DEPTH`), for an admin: visibility is the
reader's business, applied when counting.

:func:`placements` reads and parses (no lock needed: the ingest calls it after its batch has
committed, on a reader's session); :func:`store` writes what it found in a short transaction.
When that fails (a database busy or gone for a moment), the mail is stored all the same and
its messages are remembered as unplaced (:func:`remember_unplaced`): the next batch of any
worker places their pairs with its own, so no comment waits for a ``reindex``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import and_, delete, insert, or_, select
from sqlalchemy.orm import Session

from listarchive.access.visibility import Viewer
from listarchive.archive import messageview
from listarchive.archive.batches import chunked
from listarchive.archive.db import UNCACHED, insert_new
from listarchive.archive.models import Message, Meta, Patch, ReviewComment
from listarchive.archive.patchdiffs import stored_diffs
from listarchive.mail.extract import PATCH
from listarchive.mail.linecomments import line_comments, may_comment
from listarchive.review.discussion import MAX_PLACED_DEPTH, below

EVERYONE = Viewer(user="placement", is_admin=True)


@dataclass
class Placements:
    """The pairs looked at (their old rows are replaced) and the rows found for them."""

    pairs: set[tuple[int, int]] = field(default_factory=set)  # (patch pk, reply pk)
    rows: list[dict[str, object]] = field(default_factory=list)


def placements(session: Session, threads: Iterable[int], new: Collection[int] | None = None,
               bodies: Mapping[int, str] | None = None) -> Placements:
    """The comments of the (patch, reply) pairs of these threads of which the patch or the
    reply is among ``new`` (message pks just stored; ``None``: every pair). ``bodies``: the
    text of messages already parsed (the ingest's batch), by pk; the others are read."""
    out = Placements()
    for part in chunked(sorted(set(threads))):
        patches = session.execute(
            select(Patch.id, Patch.msgid, Message.thread_id)
            .join(Message, Message.id == Patch.id)
            .where(Message.thread_id.in_(part), Patch.kind == PATCH)
            .order_by(Patch.id)).all()
        by_thread: dict[int, list[tuple[int, str]]] = {}
        for pid, msgid, thread_id in patches:
            by_thread.setdefault(int(thread_id or 0), []).append((int(pid), msgid))
        wanted: list[tuple[int, int, int]] = []  # patch, reply, depth
        views = messageview.threads_of(session, EVERYONE, sorted(by_thread))
        for tid, members in by_thread.items():
            thread = views.get(tid)
            if thread is None:
                continue
            for pid, msgid in members:
                for record, depth in below(thread, msgid):
                    if depth <= MAX_PLACED_DEPTH and (
                            new is None or pid in new or record.pk in new):
                        wanted.append((pid, record.pk, depth))
        out.pairs.update((pid, reply) for pid, reply, _ in wanted)
        _place(session, wanted, out.rows, bodies or {})
    return out


def _place(session: Session, wanted: list[tuple[int, int, int]],
           rows: list[dict[str, object]], known: Mapping[int, str]) -> None:
    replies = sorted({reply for _, reply, _ in wanted})
    bodies = {pk: known[pk] for pk in replies if pk in known}
    unread = [pk for pk in replies if pk not in bodies]
    if unread:
        bodies.update((record.pk, parsed.body) for record, parsed
                      in messageview.parsed_records(session, EVERYONE, unread))
    wanted = [w for w in wanted if may_comment(bodies.get(w[1], ""))]
    if not wanted:
        return
    diffs = {pk: stored.diff for pk, stored in
             stored_diffs(session, EVERYONE, sorted({pid for pid, _, _ in wanted})).items()}
    for pid, reply, depth in wanted:
        if pid not in diffs:
            continue
        for rank, found in enumerate(line_comments(bodies[reply], diffs[pid], depth)):
            rows.append({"patch_id": pid, "message_id": reply, "path": found.path,
                         "old_line": found.old_line, "new_line": found.new_line,
                         "rank": rank, "text": found.text, "quoted": found.quoted})


def store(session: Session, found: Placements) -> None:
    """Replace the rows of the pairs looked at with what was found for them."""
    # Per patch, its replies: an OR of index lookups. A row-value IN was a scan of every review
    # comment on SQLite, at each batch.
    for part in chunked(sorted(found.pairs)):
        replies: dict[int, list[int]] = {}
        for pid, reply in part:
            replies.setdefault(pid, []).append(reply)
        session.execute(delete(ReviewComment).where(or_(*(
            and_(ReviewComment.patch_id == pid, ReviewComment.message_id.in_(ids))
            for pid, ids in replies.items()))), execution_options=UNCACHED)
    if found.rows:
        session.execute(insert(ReviewComment), found.rows)


# A message whose pairs a failure left unplaced: a ``meta`` row, key this and its pk.
UNPLACED = "comments-unplaced:"


def remember_unplaced(session: Session, pks: Iterable[int]) -> None:
    """Note that the pairs of these messages were not placed (see the module's documentation)."""
    rows = [{"key": f"{UNPLACED}{pk}", "value": ""} for pk in sorted(set(pks))]
    if rows:
        session.execute(insert_new(session, Meta), rows)


def unplaced(session: Session) -> dict[int, int | None]:
    """The messages remembered as unplaced, with the thread each is in now (None: no longer
    stored, or in no thread)."""
    keys = session.scalars(select(Meta.key).where(Meta.key.startswith(UNPLACED))).all()
    pks = sorted(int(key[len(UNPLACED):]) for key in keys if key[len(UNPLACED):].isdigit())
    out: dict[int, int | None] = dict.fromkeys(pks)
    for part in chunked(pks):
        out.update((int(pk), tid) for pk, tid in session.execute(
            select(Message.id, Message.thread_id).where(Message.id.in_(part))))
    return out


def forget_unplaced(session: Session, pks: Iterable[int] | None = None) -> None:
    """Drop the notes of these messages (None: every note), once their pairs are placed."""
    if pks is None:
        session.execute(delete(Meta).where(Meta.key.startswith(UNPLACED)))
        return
    for part in chunked(pks):
        session.execute(delete(Meta).where(Meta.key.in_([f"{UNPLACED}{pk}" for pk in part])))


def place_everywhere(session: Session) -> None:
    """Place every comment of the archive anew (``reindex``, the upgrade that made the table)."""
    session.execute(delete(ReviewComment))
    forget_unplaced(session)
    threads = session.scalars(select(Message.thread_id).join(Patch, Patch.id == Message.id)
                              .where(Patch.kind == PATCH, Message.thread_id.is_not(None))
                              .distinct()).all()
    for part in chunked(sorted(int(t or 0) for t in threads)):
        store(session, placements(session, part))


def reset(session: Session) -> None:
    """Drop every placed comment (``reindex`` places them again)."""
    session.execute(delete(ReviewComment))
