"""The read side of single patches: the patch page, the patch object of the APIs, and the badges
the message pages and list index put on patch mail.

A cover letter is not a patch: it has no diff and speaks for its series (``kind`` says which).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy.orm import Session

from listarchive.access.visibility import Viewer
from listarchive.archive import messageview
from listarchive.archive.models import Patch
from listarchive.archive.patchdiffs import stored_diffs
from listarchive.archive.records import MessageRecord
from listarchive.mail.extract import PATCH, PULL, SUBMISSIONS, WITH_DIFF
from listarchive.mail.linecomments import split_at_comments
from listarchive.mail.patches import extract_patches, split_files
from listarchive.mail.pulls import PullRequest
from listarchive.review.discussion import Comment, Discussion, discussions
from listarchive.review.seriesview import (
    PatchItem,
    patch_items,
    visible_series,
)
from listarchive.review.states import effective_states
from listarchive.review.subsystems import SubsystemRef, subsystem_refs
from listarchive.review.trailers import TrailerLine, patch_lines, series_lines


@dataclass(frozen=True)
class FileDiff:
    path: str
    old_path: str
    change: str
    insertions: int
    deletions: int
    anchor: str  # HTML id of the file's section
    text: str  # this file's part of the diff
    # the text cut after each line that has comments, with those comments
    pieces: tuple[tuple[str, tuple[Comment, ...]], ...] = ()


@dataclass(frozen=True)
class SeriesRef:
    """The series a patch is part of, as its page and the APIs name it."""

    id: int
    title: str
    revision: int
    total: int
    is_pull: bool  # sent as a pull request


@dataclass(frozen=True)
class PatchDetail:
    item: PatchItem
    record: MessageRecord
    series: SeriesRef | None
    commit_message: str
    files: tuple[FileDiff, ...]
    insertions: int
    deletions: int
    diff: str
    patch_id: str
    pull: PullRequest | None  # URL, ref, base and head commits, tag message and shortlog
    subsystems: tuple[SubsystemRef, ...]
    previous_id: int | None  # neighbours in the series
    next_id: int | None
    discussion: Discussion | None = None  # the replies below a patch, comments placed


@dataclass(frozen=True)
class SeriesPlace:
    """Where a patch sits in its series: ``number`` 0 for the cover letter."""

    id: int
    version: int
    number: int
    total: int


@dataclass(frozen=True)
class PatchSummary:
    """What the APIs say of a patch, cover letter, pull request or review suggestion (no diff
    text). ``pull_url`` is the URL and the ref to pull, as Patchwork gives it."""

    id: int
    msgid: str
    subject: str
    kind: str
    state: str
    files: tuple[str, ...]
    file_count: int
    insertions: int
    deletions: int
    patch_id: str
    pull_url: str
    subsystems: tuple[str, ...]  # slugs
    trailers: tuple[TrailerLine, ...]
    series: SeriesPlace | None

    @property
    def is_submission(self) -> bool:
        """A patch or a pull request: what ``/api/v1/patches/ID`` and a message's ``patch``
        describe (a cover letter and a review suggestion are not)."""
        return self.kind in SUBMISSIONS


def file_anchor(index: int, path: str) -> str:
    """``f3-drivers-clk-clk-c``: unique by position, readable by path, safe as an HTML id."""
    slug = "-".join("".join(c if c.isascii() and c.isalnum() else " "
                            for c in path.lower()).split())[:80]
    return f"f{index}-" + (slug or "file")


def _with_series(session: Session, viewer: Viewer, patch: Patch
                 ) -> tuple[tuple[TrailerLine, ...], SeriesRef | None, list[int]]:
    """The patch's trailer lines, its series and the visible members' ids in order (when the
    series is visible; else its own lines alone)."""
    if patch.series_id is not None:
        found = visible_series(session, viewer, patch.series_id)
        if found is not None:
            members = [*found.patches] if patch.kind != "cover" else []
            # Its lines alone: no other member's trailers change them (a series of 30 patches
            # read the trailers of all 30 for one).
            mine = [p for p in found.patches if p.id == patch.id]
            lines = series_lines(session, viewer, mine, found.cover).get(patch.id) \
                if mine else None
            series = found.series
            anchor = session.get(Patch, series.id)  # loaded with the members: no statement
            ref = SeriesRef(series.id, series.title, series.revision, series.total,
                            anchor is not None and anchor.kind == PULL)
            return (lines if lines is not None else patch_lines(session, viewer, patch), ref,
                    [p.id for p in members])
    return patch_lines(session, viewer, patch), None, []


def patch_detail(session: Session, viewer: Viewer, patch_id: int) -> PatchDetail | None:
    """Everything ``/patch/ID/`` shows; ``None`` when unknown or hidden."""
    patch = session.get(Patch, patch_id)
    record = messageview.find_message(session, viewer, patch.msgid) if patch is not None else None
    if patch is None or record is None:
        return None
    info = stored_diffs(session, viewer, [patch.id]).get(patch.id) \
        if patch.kind in WITH_DIFF else None
    message = None
    if info is None or patch.kind == PULL:  # the body, or the pull request's facts
        parsed = messageview.parsed_records(session, viewer, [patch.id])
        message = parsed[0][1] if parsed else None
    lines, series, order = _with_series(session, viewer, patch)
    previous_id = next_id = None
    if patch.id in order:
        at = order.index(patch.id)
        previous_id = order[at - 1] if at > 0 else None
        next_id = order[at + 1] if at + 1 < len(order) else None
    item = patch_items(session, viewer, [patch], {patch.id: lines}, [record])[0]
    files: list[FileDiff] = []
    diff = info.diff if info is not None else ""
    talk = discussions(session, viewer, [patch], [record]).get(patch.id) \
        if patch.kind == PATCH else None
    if info is not None:
        chunks = split_files(info.diff, len(info.files))
        for i, change in enumerate(info.files):
            text = chunks[i] if len(chunks) == len(info.files) else (info.diff if i == 0 else "")
            files.append(FileDiff(change.path, change.old_path, change.change,
                                  change.insertions, change.deletions,
                                  file_anchor(i, change.path), text,
                                  _pieces(text, change.path, talk)))
    commit = info.commit_message if info is not None else (message.body if message else "")
    pull = None
    if patch.kind == PULL:
        # The stored URL and ref; the rest (base, head, shortlog) as the mail states it.
        mail = extract_patches(message) if message is not None else None
        found = mail.pull if mail is not None else None
        pull = replace(found, url=patch.pull_url, ref=patch.pull_ref) if found is not None \
            else PullRequest(patch.pull_url, patch.pull_ref)
    return PatchDetail(item, record, series, commit, tuple(files), patch.insertions,
                       patch.deletions, diff, patch.patch_id, pull,
                       tuple(subsystem_refs(session, [patch.id])), previous_id, next_id, talk)


def _pieces(text: str, path: str, talk: Discussion | None
            ) -> tuple[tuple[str, tuple[Comment, ...]], ...]:
    """A file's diff cut after each line that has comments (``text`` whole when none)."""
    mine = [c for c in talk.comments if c.path == path] if talk is not None else []
    if not mine:
        return ((text, ()),)
    return tuple((piece, tuple(mine[i] for i in found)) for piece, found in
                 split_at_comments(text, [(c.old_line, c.new_line) for c in mine]))


def patch_summary(session: Session, viewer: Viewer, patch_id: int) -> PatchSummary | None:
    """The patch object of ``/api/v1/patches/ID`` and of the message object; ``None`` when the
    message is no patch, cover letter or pull request, or is hidden."""
    patch = session.get(Patch, patch_id)
    record = messageview.find_message(session, viewer, patch.msgid) if patch is not None else None
    if patch is None or record is None:
        return None
    lines, series, _ = _with_series(session, viewer, patch)
    place = None
    if series is not None:
        place = SeriesPlace(series.id, series.revision, patch.counter, series.total)
    return PatchSummary(
        patch.id, patch.msgid, record.subject, patch.kind,
        effective_states(session, "patch", [patch.id]).get(patch.id, "new"),
        tuple(line.strip() for line in patch.files.splitlines() if line.strip()),
        patch.file_count, patch.insertions, patch.deletions, patch.patch_id,
        PullRequest(patch.pull_url, patch.pull_ref).pull_url,
        tuple(s.slug for s in subsystem_refs(session, [patch.id])), lines, place)

