"""Read side of patch review: a series' patches in order and the trailers each one collected.

Trailers are stored against the message a reply answers. Here each reply is walked up its parent
chain to the nearest patch or cover letter of the series (as b4 does): a ``Reviewed-by`` to a
patch counts for that patch, one to the cover letter for every patch of the series. Walking at
read time keeps the stored facts independent of arrival order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from listarchive.archive.models import Message, Patch, Series, SeriesRevision, Trailer

MAX_DEPTH = 200
# What b4-style collection adds to a commit message; a reviewer's own Signed-off-by is not theirs
# to add, and Cc/Link lines in replies are usually conversation, not requests.
COLLECTED = ("Acked-by", "Reviewed-by", "Tested-by", "Reported-by", "Suggested-by",
             "Co-developed-by", "Fixes", "Closes")


@dataclass(frozen=True)
class CollectedTrailer:
    name: str
    value: str
    from_msgid: str
    via_cover: bool
    mismatch: bool  # the trailer's person is not the reply's sender


@dataclass(frozen=True)
class SeriesView:
    series: Series
    patches: tuple[Patch, ...]  # in counter order, cover excluded
    cover: Patch | None
    trailers: dict[int, tuple[CollectedTrailer, ...]]  # patch id -> collected from replies
    older: tuple[tuple[int, str], ...]  # (series id, reason)
    newer: tuple[tuple[int, str], ...]


def collect_trailers(session: Session, members: dict[str, int], cover_msgid: str,
                     patch_ids: Sequence[int]) -> dict[int, tuple[CollectedTrailer, ...]]:
    """Trailers from replies, per patch id. ``members`` maps patch msgid -> patch id."""
    member_ids = set(members) | ({cover_msgid} if cover_msgid else set())
    threads = {tid for (tid,) in session.execute(
        select(Message.thread_id).where(Message.msgid.in_(sorted(member_ids)))).all()}
    parent: dict[str, str] = {}
    if threads:
        parent = {m: p for m, p in session.execute(
            select(Message.msgid, Message.parent_msgid).where(Message.thread_id.in_(threads)))}
    rows = session.execute(
        select(Trailer.name, Trailer.value, Trailer.mismatch, Trailer.target_msgid,
               Message.msgid)
        .join(Message, Message.id == Trailer.message_id)
        .where(Message.thread_id.in_(threads), Trailer.own.is_(False),
               Trailer.name.in_(COLLECTED))
        .order_by(Message.sort_date, Message.id, Trailer.id)).all() if threads else []
    out: dict[int, list[CollectedTrailer]] = {pid: [] for pid in patch_ids}
    for name, value, mismatch, target, from_msgid in rows:
        anchor = _nearest(target, member_ids, parent)
        if anchor is None:
            continue
        if anchor == cover_msgid and anchor not in members:
            targets = list(patch_ids)
        else:
            targets = [members[anchor]]
        for pid in targets:
            trailer = CollectedTrailer(name, value, from_msgid, anchor == cover_msgid, mismatch)
            if all((t.name, t.value) != (name, value) for t in out[pid]):
                out[pid].append(trailer)
    return {pid: tuple(ts) for pid, ts in out.items()}


def _nearest(start: str, members: set[str], parent: dict[str, str]) -> str | None:
    seen: set[str] = set()
    node = start
    for _ in range(MAX_DEPTH):
        if node in members:
            return node
        if not node or node in seen:
            return None
        seen.add(node)
        node = parent.get(node, "")
    return None


def series_view(session: Session, series_id: int) -> SeriesView | None:
    series = session.get(Series, series_id)
    if series is None:
        return None
    members = list(session.scalars(select(Patch).where(Patch.series_id == series_id)
                                   .order_by(Patch.counter, Patch.id)))
    cover = next((p for p in members if p.kind == "cover"), None)
    patches = tuple(p for p in members if p.kind != "cover")
    trailers = collect_trailers(session, {p.msgid: p.id for p in patches},
                                series.cover_msgid, [p.id for p in patches])
    older = tuple((a, why) for a, why in session.execute(
        select(SeriesRevision.older_id, SeriesRevision.reason)
        .where(SeriesRevision.newer_id == series_id)).all())
    newer = tuple((b, why) for b, why in session.execute(
        select(SeriesRevision.newer_id, SeriesRevision.reason)
        .where(SeriesRevision.older_id == series_id)).all())
    return SeriesView(series, patches, cover, trailers, older, newer)
