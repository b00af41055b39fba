"""Review comments placed at ingest (``review_comments``) count what the discussion finds when
read, on real mail: the first 1,500 messages of linux-clk, stored in their order and in reverse
(replies before their patches, in small batches), and rebuilt by ``reindex``; so do the
patches' diffs kept beside them (``patch_diffs``). A reply under an embargo is not counted for a
reader it leaves out."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import backends
import pytest
from mailfixtures import NO_LIMITS, first_messages
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from ingest.reindex import reindex
from ingest.worker import run_ingest
from listarchive.access.visibility import ANONYMOUS, Viewer
from listarchive.archive import messageview
from listarchive.archive.db import open_archive
from listarchive.archive.models import Embargo, EmbargoMember, Message, Patch, ReviewComment
from listarchive.archive.patchdiffs import StoredDiff, stored_diffs
from listarchive.mail.extract import COVER, PATCH
from listarchive.mail.linecomments import line_comments
from listarchive.mail.patches import extract_patches
from listarchive.review import placement
from listarchive.review.discussion import (
    MAX_PLACED_DEPTH,
    below,
    comment_counts,
    discussions,
    series_comment_counts,
)
from listarchive.settings import Settings, from_mapping

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "lore" / \
    "linux-clk-last10000.mboxrd.gz"
SLICE = 1500
ADMIN = Viewer(user="root", is_admin=True)

pytestmark = pytest.mark.skipif(not CORPUS.is_file(), reason="the linux-clk corpus is absent")


@dataclass(frozen=True)
class Archives:
    in_order: Settings
    reversed: Settings


def _messages(data: bytes) -> list[bytes]:
    """The messages of an mboxrd text, each with its ``From`` line."""
    out: list[bytes] = []
    prev_blank = True
    for line in data.splitlines(keepends=True):
        if line.startswith(b"From ") and prev_blank:
            out.append(b"")
        if out:
            out[-1] += line
        prev_blank = line.strip() == b""
    return out


def _settings(base: Path, batch: int) -> Settings:
    return from_mapping({
        "limits": NO_LIMITS,
        "storage": {"data_dir": str(base / "instance"), "database_url": backends.archive_url()},
        "search": {"enabled": False}, "ingest": {"batch_size": batch},
        "lists": [{"name": "linux-clk"}]}, base=base)


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archives]:
    data = first_messages(CORPUS, SLICE)
    one = tmp_path_factory.mktemp("comments-in-order")
    (one / "slice.mbox").write_bytes(data)
    in_order = _settings(one, 500)
    run_ingest(in_order, [str(one / "slice.mbox")], "linux-clk")
    two = tmp_path_factory.mktemp("comments-reversed")
    (two / "slice.mbox").write_bytes(b"".join(reversed(_messages(data))))
    backwards = _settings(two, 50)
    run_ingest(backwards, [str(two / "slice.mbox")], "linux-clk")
    yield Archives(in_order, backwards)


Placed = dict[str, list[tuple[str, int, int, str, str, str]]]


def _from_mail(session: Session, viewer: Viewer, patches: list[Patch]) -> Placed:
    """The comments each patch's replies place on its diff, read from the mail now (as the
    discussion read them before they were kept): patch Message-ID -> (path, old line, new line,
    text, line answered, reply's Message-ID), patches without any left out."""
    out: Placed = {}
    for patch in patches:
        thread = messageview.thread_view(session, viewer, patch.msgid)
        parsed = messageview.parsed_records(session, viewer, [patch.id])
        if thread is None or not parsed:
            continue
        info = extract_patches(parsed[0][1])
        diff = info.diff if info is not None else ""
        for record, depth in below(thread, patch.msgid):
            if depth > MAX_PLACED_DEPTH:
                continue
            [(_, reply)] = messageview.parsed_records(session, viewer, [record.pk])
            out.setdefault(patch.msgid, []).extend(
                (c.path, c.old_line, c.new_line, c.text, c.quoted, record.msgid)
                for c in line_comments(reply.body, diff, depth))
    return {k: v for k, v in out.items() if v}


def _counts(settings: Settings, viewer: Viewer
            ) -> tuple[dict[str, int], dict[str, int], Placed, Placed]:
    """Stored counts and the comments the discussion shows, by patch Message-ID; then the
    comments read from the mail (:func:`_from_mail`), counted and whole."""
    archive = open_archive(settings)
    try:
        with archive.sessions() as session:
            patches = list(session.scalars(select(Patch).where(Patch.kind == PATCH)))
            msgid = {p.id: p.msgid for p in patches}
            stored = comment_counts(session, viewer, patches)
            shown = {msgid[pid]: [(c.path, c.old_line, c.new_line, c.text, c.quoted, c.msgid)
                                  for c in d.comments]
                     for pid, d in discussions(session, viewer, patches).items() if d.comments}
            mail = _from_mail(session, viewer, patches)
    finally:
        archive.close()
    return ({msgid[k]: v for k, v in stored.items()}, {k: len(v) for k, v in mail.items()},
            shown, mail)


def _diffs(settings: Settings) -> dict[str, tuple[StoredDiff | None, StoredDiff | None]]:
    """(stored, read from the mail now) diff of each patch, pull request and suggestion."""
    archive = open_archive(settings)
    try:
        with archive.sessions() as session:
            ids = {pid: msgid for pid, msgid in session.execute(
                select(Patch.id, Patch.msgid).where(Patch.kind != COVER))}
            stored = stored_diffs(session, ANONYMOUS, sorted(ids))
            out = {}
            for record, parsed in messageview.parsed_records(session, ANONYMOUS, sorted(ids)):
                info = extract_patches(parsed)
                out[ids[record.pk]] = (stored.get(record.pk), None if info is None else
                                       StoredDiff(info.commit_message, info.diff, info.files))
    finally:
        archive.close()
    return out


def test_stored_comments_equal_what_the_mail_places(archives: Archives) -> None:
    stored, read, shown, mail = _counts(archives.in_order, ANONYMOUS)
    assert sum(read.values()) >= 10, "the slice has inline review to place"
    assert stored == read
    assert shown == mail


def test_arrival_order_and_reindex_give_the_same_comments_and_diffs(archives: Archives) -> None:
    first = _counts(archives.in_order, ANONYMOUS)
    again = _counts(archives.reversed, ANONYMOUS)
    assert again[0] == again[1] == first[0] and again[2] == again[3] == first[2]
    diffs = _diffs(archives.in_order)
    assert sum(1 for kept, _ in diffs.values() if kept is not None and kept.diff) >= 100
    assert all(kept == mail for kept, mail in diffs.values())
    assert _diffs(archives.reversed) == diffs
    reindex(archives.reversed)
    assert _counts(archives.reversed, ANONYMOUS)[0::2] == first[0::2]
    assert _diffs(archives.reversed) == diffs


def test_queue_counts_the_series_comments(archives: Archives) -> None:
    archive = open_archive(archives.in_order)
    try:
        with archive.sessions() as session:
            rows = session.execute(select(Patch.series_id, func.count())
                                   .join(ReviewComment, ReviewComment.patch_id == Patch.id)
                                   .where(Patch.series_id.is_not(None))
                                   .group_by(Patch.series_id)).all()
            assert rows
            assert series_comment_counts(session, ANONYMOUS, [s for s, _ in rows]) == \
                {s: n for s, n in rows}
    finally:
        archive.close()


def test_an_embargoed_reply_is_not_counted_for_anonymous(archives: Archives) -> None:
    archive = open_archive(archives.in_order, writer=True)
    try:
        with archive.sessions.begin() as session:
            patch_id, reply_id, n = session.execute(
                select(ReviewComment.patch_id, ReviewComment.message_id, func.count())
                .group_by(ReviewComment.patch_id, ReviewComment.message_id)
                .order_by(ReviewComment.patch_id, ReviewComment.message_id)).first() or (0, 0, 0)
            assert n
            patch = session.get(Patch, patch_id)
            assert patch is not None
            before = comment_counts(session, ANONYMOUS, [patch])[patch_id]
            reply = session.scalar(select(Message.msgid).where(Message.id == reply_id))
            embargo = Embargo(anchor_msgid=reply, reason="test",
                              created_at=datetime.now(UTC).replace(tzinfo=None))
            session.add(embargo)
            session.flush()
            session.add(EmbargoMember(embargo_id=embargo.id, msgid=reply, how="anchor"))
        with archive.sessions() as session:
            assert comment_counts(session, ANONYMOUS, [patch]).get(patch_id, 0) == before - n
            assert comment_counts(session, ADMIN, [patch])[patch_id] == before
            shown = discussions(session, ANONYMOUS, [patch])[patch_id]
            assert reply not in {c.msgid for c in shown.comments}
            assert reply not in {r.record.msgid for r in shown.replies}
            whole_talk = discussions(session, ADMIN, [patch])[patch_id]
            assert sum(c.msgid == reply for c in whole_talk.comments) == n
            if patch.series_id is not None:
                seen = series_comment_counts(session, ANONYMOUS, [patch.series_id])
                whole = series_comment_counts(session, ADMIN, [patch.series_id])
                assert seen.get(patch.series_id, 0) == whole[patch.series_id] - n
    finally:
        archive.close()


def test_comments_a_failure_left_unplaced_are_placed_by_the_next_batch(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "slice.mbox").write_bytes(first_messages(CORPUS, SLICE))
    settings = _settings(tmp_path, 50)
    real_store = placement.store
    failed: list[int] = []

    def busy_once(session: Session, found: placement.Placements) -> None:
        if found.rows and not failed:
            failed.append(len(found.rows))
            raise OperationalError("INSERT INTO review_comments", {}, Exception("locked"))
        real_store(session, found)

    monkeypatch.setattr(placement, "store", busy_once)
    run_ingest(settings, [str(tmp_path / "slice.mbox")], "linux-clk")
    assert failed, "a batch had comments to place"
    stored, read, shown, mail = _counts(settings, ANONYMOUS)
    assert stored == read and shown == mail
    archive = open_archive(settings)
    try:
        with archive.sessions() as session:
            assert placement.unplaced(session) == {}
    finally:
        archive.close()
