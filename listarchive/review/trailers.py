"""The read side of trailers: which ``Reviewed-by``/``Acked-by``/``Tested-by`` lines count for
which patch, and the A/R/T counts every page shows.

One derivation: each stored trailer carries its anchor (``Trailer.anchor_msgid``, the nearest
patch, cover letter or pull request up the reply chain; see
:func:`listarchive.archive.derived.trailer_anchors`). A trailer anchored to a patch counts for that
patch; one anchored to a cover letter counts for every patch of its series, as ``b4 am`` applies
it. The series page, the series lists, the review queues, the APIs and the search facet
``has:reviewed-by`` all read the anchors through this module, so they cannot disagree.

What ``b4 am`` does by default is what counts and what the am-ready mbox gets: a trailer whose
person is not the sender of the reply that gave it (``mismatch``) is shown but neither counted
nor applied; one given to an unchanged patch (same ``git patch-id``) of another revision is
carried over to this one; one given to another revision's cover letter is not.

Only trailers the viewer may read count: the reply that gave one and the patch it is anchored to
must both be visible, so a ``Reviewed-by`` sent to a restricted list never shows up (nor counts)
on a public page.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, union
from sqlalchemy.orm import Session, aliased

from listarchive.access.visibility import Viewer, visible_id, visible_message
from listarchive.archive.batches import chunked, in_list, rows_in, select_in
from listarchive.archive.models import Message, Patch, Trailer
from listarchive.mail.extract import COVER, PATCH

# The columns of the A/R/T counts (Patchwork's): distinct people per trailer name.
COUNTED = {"acked-by": "acked", "reviewed-by": "reviewed", "tested-by": "tested"}
# What b4 collects from replies besides every "-by" trailer (Cc and Message-ID it leaves).
_COLLECTED_OTHERS = frozenset({"Fixes", "Closes", "Link", "BugLink"})


def is_collected(name: str) -> bool:
    """Whether ``b4 am`` adds a trailer of this name given in a reply: any ``-by`` (a
    reviewer's ``Signed-off-by`` too, as b4 and Patchwork's mbox both do), ``Fixes``,
    ``Closes``, ``Link`` and ``BugLink``."""
    return name.endswith("-by") or name in _COLLECTED_OTHERS


@dataclass(frozen=True)
class TrailerLine:
    name: str
    value: str
    from_msgid: str  # the message the line was written in (the patch itself for its own)
    given_by: str  # that message's sender, as shown
    own: bool  # in the patch's commit message, not collected from a reply
    via_cover: bool  # given to the cover letter, so it counts for every patch
    mismatch: bool  # the person named is not the reply's sender: shown, never applied
    carried_from: str = ""  # given to this same change (same patch-id) in another revision

    @property
    def applies(self) -> bool:
        """Whether ``b4 am`` would add it to the commit (and the A/R/T counts count it)."""
        return not self.own and not self.mismatch


@dataclass(frozen=True)
class Counts:
    acked: int = 0
    reviewed: int = 0
    tested: int = 0


def counts_of(lines: Iterable[TrailerLine]) -> Counts:
    """A/R/T of some lines: distinct people (values, case-insensitively) per counted name; a
    mismatched line (b4 would not apply it) does not count."""
    people: dict[str, set[str]] = {column: set() for column in COUNTED.values()}
    for line in lines:
        column = COUNTED.get(line.name.lower())
        if column is not None and not line.mismatch:
            people[column].add(line.value.strip().lower())
    return Counts(len(people["acked"]), len(people["reviewed"]), len(people["tested"]))


@functools.lru_cache(maxsize=256)
def _count_statement(viewer: Viewer) -> Any:
    """:func:`series_counts`' statement for one viewer, the series ids bound at each execution:
    built once, not at every page (building it was a fifth of a patch page).

    Three parts: the trailers anchored to the series' own patches and cover letter; those given
    to the same change (same ``git patch-id``) in another revision; and those given to that
    revision's cover letter. The last two start from the same pairs of changes (``pairs``),
    found once: as two statements, each joined and checked every pair again, and a subsystem
    queue of 100 series took 28 ms of SQLite for its counts (15.6 ms as one)."""
    ids: Any = bindparam("ids", expanding=True)
    counted = func.lower(Trailer.name).in_(sorted(COUNTED))
    anchor, mine, other, cover = aliased(Patch), aliased(Patch), aliased(Patch), aliased(Patch)
    same_change = ((mine.patch_id == other.patch_id) & (mine.id != other.id)
                   & (mine.kind == PATCH) & (other.kind == PATCH) & (mine.patch_id != "")
                   & ((other.series_id != mine.series_id) | other.series_id.is_(None)))
    direct = (select(anchor.series_id, func.lower(Trailer.name), func.lower(Trailer.value))
              .join(anchor, anchor.msgid == Trailer.anchor_msgid)
              .join(Message, Message.id == Trailer.message_id)
              .where(anchor.series_id.in_(ids), counted, ~Trailer.mismatch,
                     visible_message(viewer), visible_id(viewer, anchor.id)))
    pairs = (select(mine.series_id.label("sid"), other.msgid.label("other_msgid"),
                    other.series_id.label("osid"))
             .select_from(mine).join(other, same_change)
             .where(mine.series_id.in_(ids), visible_id(viewer, mine.id),
                    visible_id(viewer, other.id))
             .cte("same_change"))
    carried = (select(pairs.c.sid, func.lower(Trailer.name), func.lower(Trailer.value))
               .join(Trailer, Trailer.anchor_msgid == pairs.c.other_msgid)
               .join(Message, Message.id == Trailer.message_id)
               .where(counted, ~Trailer.mismatch, ~Trailer.own, visible_message(viewer)))
    revisions = (select(pairs.c.sid, pairs.c.osid).where(pairs.c.osid.is_not(None))
                 .distinct().subquery())
    via_cover = (select(revisions.c.sid, func.lower(Trailer.name), func.lower(Trailer.value))
                 .join(cover, (cover.series_id == revisions.c.osid) & (cover.kind == COVER))
                 .join(Trailer, Trailer.anchor_msgid == cover.msgid)
                 .join(Message, Message.id == Trailer.message_id)
                 .where(counted, ~Trailer.mismatch, ~Trailer.own, visible_message(viewer),
                        visible_id(viewer, cover.id)))
    return union(direct, carried, via_cover)


def series_counts(session: Session, viewer: Viewer, series_ids: Sequence[int]
                  ) -> dict[int, Counts]:
    """A/R/T per series, one statement per chunk: distinct people per counted name over the
    visible trailers anchored to the series' visible patches and cover letter, and over those
    given to the same change (same ``git patch-id``) in another revision or to that revision's
    cover letter, which ``b4 am`` carries over; mismatched ones left out. Equal to
    :func:`counts_of` over the lines :func:`series_lines` gives for the series."""
    out: dict[int, Counts] = {}
    for part in chunked(series_ids):
        people: dict[int, dict[str, set[str]]] = {}
        for sid, name, value in session.execute(_count_statement(viewer), {"ids": list(part)}):
            people.setdefault(int(sid), {}).setdefault(COUNTED[name], set()).add(value.strip())
        for sid in part:
            found = people.get(sid, {})
            out[sid] = Counts(*(len(found.get(column, ())) for column in
                                ("acked", "reviewed", "tested")))
    return out


# The statements of a patch page, built once per viewer (building them anew was a tenth of
# a commented patch page's time at 100k messages).
@functools.lru_cache(maxsize=256)
def _anchored_select(viewer: Viewer) -> Any:
    return (select(Trailer.id, Trailer.name, Trailer.value, Trailer.own, Trailer.mismatch,
                   Trailer.anchor_msgid, Message.msgid, Message.from_name, Message.from_email,
                   Message.sort_date)
            .join(Message, Message.id == Trailer.message_id)
            .where(visible_message(viewer), Trailer.anchor_msgid.in_(in_list())))


@functools.lru_cache(maxsize=256)
def _same_id_select(viewer: Viewer) -> Any:
    return (select(Patch.id, Patch.msgid, Patch.patch_id, Patch.series_id)
            .join(Message, Message.id == Patch.id)
            .where(Patch.kind == PATCH, visible_message(viewer), Patch.patch_id.in_(in_list())))


@functools.lru_cache(maxsize=256)
def _covers_select(viewer: Viewer) -> Any:
    return (select(Patch.msgid, Patch.series_id)
            .join(Message, Message.id == Patch.id)
            .where(Patch.kind == COVER, visible_message(viewer), Patch.series_id.in_(in_list())))


def series_lines(session: Session, viewer: Viewer, patches: Sequence[Patch],
                 cover: Patch | None) -> dict[int, tuple[TrailerLine, ...]]:
    """Per patch id: its own trailers, then those collected from visible replies, oldest first
    (a trailer anchored to the cover letter is listed under every patch, marked ``via_cover``;
    one given to the same change in another revision -- same ``git patch-id`` -- or to that
    revision's cover letter is listed under the patch, marked ``carried_from``, as ``b4 am``
    carries it over; a collected name and value already listed for a patch is not listed
    again). ``patches`` and ``cover`` are the members the viewer may see."""
    by_msgid = {p.msgid: [p.id] for p in patches}
    anchors = [*by_msgid, *([cover.msgid] if cover is not None else [])]
    carried = _same_change(session, viewer, patches)
    for msgid, pids in carried.items():
        by_msgid.setdefault(msgid, []).extend(pids)
    rows = sorted(rows_in(session, _anchored_select(viewer), [*anchors, *carried]),
        key=lambda r: (0, None, 0, r.id) if r.own else
        (1, r.sort_date or datetime.max, r.msgid, r.id))
    out: dict[int, list[TrailerLine]] = {p.id: [] for p in patches}
    collected: dict[int, set[tuple[str, str]]] = {pid: set() for pid in out}
    own_anchor = {p.msgid for p in patches}
    for row in rows:
        from_other = row.anchor_msgid in carried and row.anchor_msgid not in own_anchor
        if (not row.own and not is_collected(row.name)) or (row.own and from_other):
            continue
        via_cover = cover is not None and row.anchor_msgid == cover.msgid
        line = TrailerLine(row.name, row.value, row.msgid, row.from_name or row.from_email,
                           bool(row.own), via_cover, bool(row.mismatch),
                           row.anchor_msgid if from_other else "")
        for pid in list(out) if via_cover else by_msgid[row.anchor_msgid]:
            if not row.own:
                if (row.name, row.value) in collected[pid]:
                    continue
                collected[pid].add((row.name, row.value))
            out[pid].append(line)
    return {pid: tuple(lines) for pid, lines in out.items()}


def _same_change(session: Session, viewer: Viewer, patches: Sequence[Patch]
                 ) -> dict[str, list[int]]:
    """Message-ID of a visible patch of another series with the same ``git patch-id``, or of
    that series' visible cover letter -> the ids of these patches it shares the change with."""
    by_pid: dict[str, list[Patch]] = {}
    for p in patches:
        if p.kind == PATCH and p.patch_id:
            by_pid.setdefault(p.patch_id, []).append(p)
    out: dict[str, set[int]] = {}
    by_series: dict[int, set[int]] = {}
    mine = {p.id for p in patches}
    for row in rows_in(session, _same_id_select(viewer), by_pid):
        if row.id in mine:
            continue
        for p in by_pid[row.patch_id]:
            if row.series_id is None or row.series_id != p.series_id:
                out.setdefault(row.msgid, set()).add(p.id)
                if row.series_id is not None:
                    by_series.setdefault(row.series_id, set()).add(p.id)
    for row in rows_in(session, _covers_select(viewer), by_series):
        out.setdefault(row.msgid, set()).update(by_series[row.series_id])
    return {msgid: sorted(pids) for msgid, pids in out.items()}


def patch_lines(session: Session, viewer: Viewer, patch: Patch) -> tuple[TrailerLine, ...]:
    """The lines of one patch outside a visible series: its own trailers and those anchored to
    it (see :func:`series_lines`)."""
    return series_lines(session, viewer, [patch], None).get(patch.id, ())


def trailer_names(session: Session, pks: Sequence[int]) -> dict[int, set[str]]:
    """Lower-cased trailer names per message, for the search facet ``has:NAME``: what a reply
    gives, and for a patch or cover letter what counts for it (its own, those anchored to it and,
    for a patch, those anchored to its series' cover letter)."""
    out: dict[int, set[str]] = {pk: set() for pk in pks}
    for row in select_in(session, select(Trailer.message_id, Trailer.name),
                         Trailer.message_id, pks):
        out[row.message_id].add(row.name.lower())
    patches = list(select_in(session, select(Patch.id, Patch.msgid, Patch.kind, Patch.series_id),
                             Patch.id, pks))
    anchors: dict[str, list[int]] = {}
    for p in patches:
        anchors.setdefault(p.msgid, []).append(p.id)
    covers = {row.series_id: row.msgid for row in select_in(
        session, select(Patch.series_id, Patch.msgid).where(Patch.kind == "cover"),
        Patch.series_id, {p.series_id for p in patches if p.kind != "cover" and p.series_id})}
    for p in patches:
        if p.kind != "cover" and p.series_id in covers:
            anchors.setdefault(covers[p.series_id], []).append(p.id)
    for row in select_in(session, select(Trailer.anchor_msgid, Trailer.name),
                         Trailer.anchor_msgid, anchors):
        for pk in anchors[row.anchor_msgid]:
            out[pk].add(row.name.lower())
    return out


def anchored_to(session: Session, message_pks: Sequence[int]) -> list[int]:
    """The patches and cover letters whose ``has:`` facet the trailers given in these messages
    change: their anchors, and for a cover letter every patch of its series."""
    anchors = {row.anchor_msgid for row in select_in(
        session, select(Trailer.anchor_msgid).where(Trailer.anchor_msgid != "", ~Trailer.own),
        Trailer.message_id, message_pks)}
    found = list(select_in(session, select(Patch.id, Patch.kind, Patch.series_id),
                           Patch.msgid, anchors))
    out = {row.id for row in found}
    series = {row.series_id for row in found if row.kind == "cover" and row.series_id}
    out.update(row.id for row in select_in(session, select(Patch.id), Patch.series_id, series))
    return sorted(out)
