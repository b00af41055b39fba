"""The read side of a series' dependencies (:mod:`listarchive.mail.dependencies`): each one
found in the archive when it can be (a Message-ID: the series of that message; a patch-id:
the newest patch with it; a change-id: the newest revision with it, or the one named by
``:vN``), and ``/series/ID/mbox?deps=1``: the prerequisites' patches first, then the series.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from listarchive.access.visibility import Viewer, visible_ids
from listarchive.archive import messageview
from listarchive.archive.models import Patch, Series
from listarchive.mail.dependencies import Dependencies, parse_dependencies
from listarchive.review import amready
from listarchive.review.seriesview import visible_series


@dataclass(frozen=True)
class Dependency:
    kind: str  # message-id | patch-id | change-id
    value: str
    series_id: int = 0  # the series found (0: not archived, or not visible)
    patch_id: int = 0  # for a patch-id: the patch found
    title: str = ""


@dataclass(frozen=True)
class SeriesDependencies:
    base_commit: str
    items: tuple[Dependency, ...]


def _statement(session: Session, viewer: Viewer, series_id: int) -> Dependencies:
    found = visible_series(session, viewer, series_id)
    if found is None:
        return Dependencies()
    first = found.cover or (found.patches[0] if found.patches else None)
    if first is None:
        return Dependencies()
    parsed = messageview.parsed_records(session, viewer, [first.id])
    return parse_dependencies(parsed[0][1].body) if parsed else Dependencies()


def series_dependencies(session: Session, viewer: Viewer, series_id: int
                        ) -> SeriesDependencies:
    said = _statement(session, viewer, series_id)
    items: list[Dependency] = []
    for msgid in said.message_ids:
        row = session.execute(select(Patch.series_id, Series.title)
                              .join(Series, Series.id == Patch.series_id)
                              .where(Patch.msgid == msgid)).first()
        sid = int(row.series_id) if row is not None else 0
        items.append(_visible(session, viewer, Dependency(
            "message-id", msgid, sid, 0, row.title if row is not None else "")))
    for pid in said.patch_ids:
        patch = session.scalars(select(Patch).where(Patch.patch_id == pid)
                                .order_by(Patch.date.desc(), Patch.id.desc())).first()
        items.append(_visible(session, viewer, Dependency(
            "patch-id", pid, patch.series_id or 0 if patch else 0, patch.id if patch else 0,
            patch.title if patch else "")))
    for change in said.change_ids:
        change_id, _, version = change.partition(":v")
        query = select(Series).where(Series.change_id == change_id)
        if version.isdigit():
            query = query.where(Series.revision == int(version))
        series = session.scalars(query.order_by(Series.revision.desc(), Series.id.desc())).first()
        items.append(_visible(session, viewer, Dependency(
            "change-id", change, series.id if series else 0, 0, series.title if series else "")))
    return SeriesDependencies(said.base_commit, tuple(items))


def _visible(session: Session, viewer: Viewer, dep: Dependency) -> Dependency:
    """``dep`` without what the viewer may not see (then it reads as not archived)."""
    ids = [i for i in (dep.series_id, dep.patch_id) if i]
    if ids and visible_ids(session, viewer, ids) != set(ids):
        return Dependency(dep.kind, dep.value)
    return dep


def mbox_with_dependencies(session: Session, viewer: Viewer, series_id: int, base_url: str = ""
                           ) -> tuple[str, bytes] | None:
    """``/series/ID/mbox?deps=1``: each prerequisite found (a whole series, or the one patch a
    patch-id names) in the order stated, then the series; ``None`` as for the plain mbox."""
    own = amready.series_mbox(session, viewer, series_id, base_url)
    if own is None:
        return None
    parts: list[bytes] = []
    done: set[int] = {series_id}
    for dep in series_dependencies(session, viewer, series_id).items:
        if dep.patch_id:
            if dep.series_id in done or dep.patch_id in done:
                continue
            done.add(dep.patch_id)
            body = amready.patch_mbox(session, viewer, dep.patch_id, base_url)
            parts.append(body or b"")
        elif dep.series_id and dep.series_id not in done:
            done.add(dep.series_id)
            found = amready.series_mbox(session, viewer, dep.series_id, base_url)
            parts.append(found[1] if found is not None else b"")
    name, body = own
    return name.replace(".mbx", "_with_deps.mbx"), b"".join(parts) + body
