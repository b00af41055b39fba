"""Patches' diffs as the pages read them (:class:`~listarchive.archive.models.PatchDiff`): kept
when the patch is stored, so that a page showing a diff, a range-diff or the comments placed on
a diff parses no mail (a range-diff of two 30-patch revisions parsed and scanned 60 mails, half
of the page's time).

:func:`diff_row` is the one place a row is made from what :func:`extract_patches` read: the
ingest writes it with the patch row (``ingest.seriesstore``, so ``reindex`` rebuilds it), and
:func:`fill` made the rows of the patches stored before the table existed.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from listarchive.access.visibility import Viewer, visible_id
from listarchive.archive import rawstore
from listarchive.archive.batches import in_list, rows_in
from listarchive.archive.models import Message, Patch, PatchDiff
from listarchive.errors import MalformedMessage
from listarchive.mail.extract import COVER
from listarchive.mail.filechanges import FileChange
from listarchive.mail.message import parse
from listarchive.mail.patches import PatchInfo, extract_patches

FILL_CHUNK = 500  # patches parsed per statement when filling the table


@dataclass(frozen=True)
class StoredDiff:
    """A patch's commit message, diff and files, as :func:`extract_patches` found them."""

    commit_message: str
    diff: str
    files: tuple[FileChange, ...]


def diff_row(pk: int, info: PatchInfo) -> dict[str, object]:
    """The ``patch_diffs`` row of the patch ``pk`` whose mail gave ``info``."""
    return {"patch_id": pk, "commit_message": rawstore.pack_text(info.commit_message),
            "diff": rawstore.pack_text(info.diff),
            "files": json.dumps([[f.path, f.old_path, f.change, f.insertions, f.deletions]
                                 for f in info.files])}


@functools.lru_cache(maxsize=256)
def _diffs_select(viewer: Viewer) -> Any:
    return (select(PatchDiff.patch_id, PatchDiff.commit_message, PatchDiff.diff, PatchDiff.files)
            .where(PatchDiff.patch_id.in_(in_list()), visible_id(viewer, PatchDiff.patch_id)))


def stored_diffs(session: Session, viewer: Viewer, pks: Sequence[int]) -> dict[int, StoredDiff]:
    """The stored diffs of these patches that the viewer may see (a patch without a diff or a
    pull request, such as a cover letter, has none)."""
    return {int(row.patch_id): StoredDiff(
        rawstore.unpack_text(row.commit_message), rawstore.unpack_text(row.diff),
        tuple(FileChange(str(path), str(old), str(change), int(ins), int(dels))
              for path, old, change, ins, dels in json.loads(row.files)))
        for row in rows_in(session, _diffs_select(viewer), pks)}


def fill(session: Session) -> int:
    """Make the row of every stored patch from its mail, as the ingest would have (the upgrade
    that made the table); returns how many were made."""
    made = 0
    last = 0
    while True:
        rows = session.execute(select(Patch.id, Message.raw).join(Message, Message.id == Patch.id)
                               .where(Patch.kind != COVER, Patch.id > last)
                               .order_by(Patch.id).limit(FILL_CHUNK)).all()
        if not rows:
            return made
        last = rows[-1].id
        found = []
        for pk, blob in rows:
            try:
                info = extract_patches(parse(rawstore.unpack(blob)))
            except MalformedMessage:
                continue
            if info is not None:
                found.append(diff_row(pk, info))
        if found:
            session.execute(insert(PatchDiff), found)
        made += len(found)
