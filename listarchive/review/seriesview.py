"""The read side of series (the write side is ``ingest.seriesstore``): series lists, one series
with its patches, revisions and subsystems (a subsystem's page is :mod:`.subsystemview`).

Every function takes the :class:`Viewer` it answers for and returns frozen values, or ``None``
when the thing does not exist *for that viewer*. A series is visible when its anchor message
(cover letter, else first patch) is; inside it, patches are kept only when the viewer may see
their messages, and trailers as :mod:`listarchive.review.trailers` counts them.

States are the effective ones of :mod:`listarchive.review.states` (a series' state computed from
its patches); filters on state read the kept ``series_states`` column in SQL, so a list of
thousands of series is one indexed query, not a loop over rows.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from listarchive.access.visibility import (
    Viewer,
    visible_id,
    visible_ids,
    visible_list,
    visible_message,
)
from listarchive.archive import listview, messageview
from listarchive.archive.batches import select_in
from listarchive.archive.models import (
    MailingList,
    Message,
    MessageList,
    Patch,
    Series,
    SeriesRevision,
    SeriesState,
    SeriesSubsystem,
    Subsystem,
    User,
)
from listarchive.archive.records import MessageRecord
from listarchive.errors import InvalidChange
from listarchive.mail.extract import PULL
from listarchive.review import checks
from listarchive.review.discussion import comment_counts
from listarchive.review.rerolls import kept_from_previous, kept_lines
from listarchive.review.states import (
    STATES,
    effective_states,
    kept_patch_rows,
    loaded_patch_states,
    series_state_column,
)
from listarchive.review.subsystems import (
    SubsystemRef,
    subsystem_refs,
)
from listarchive.review.subsystems import (
    named as subsystem_named,
)
from listarchive.review.trailers import Counts, TrailerLine, counts_of, series_counts, series_lines


class BadFilter(InvalidChange):
    """A filter value the query cannot mean (unknown state name); the message says which."""


@dataclass(frozen=True)
class SeriesRow:
    id: int
    anchor_msgid: str
    title: str
    revision: int
    is_rfc: bool
    submitter_name: str
    submitter_email: str
    date: datetime | None
    received: int
    total: int
    complete: bool
    missing: tuple[int, ...]
    counts: Counts
    state: str
    home_list: str  # a list the anchor message is on, for links to messages
    archived: bool = False
    delegate: str = ""  # the user name it was handed to
    is_pull: bool = False  # a pull request: no patches to apply, no am-ready mbox
    check: str = ""  # combined CI state of its patches (review.checks); '' without checks


@dataclass(frozen=True)
class SeriesListPage:
    list_name: str
    rows: tuple[SeriesRow, ...]
    page: int
    per_page: int
    has_next: bool
    state: str
    subsystem: str
    submitter: str


@dataclass(frozen=True)
class PatchItem:
    id: int
    msgid: str
    kind: str  # patch | cover | pull
    title: str
    subject: str
    counter: int
    total: int
    date: datetime | None
    home_list: str
    trailers: tuple[TrailerLine, ...]  # own first, then collected, oldest first
    counts: Counts
    state: str
    archived: bool = False
    delegate: str = ""
    comments: int = 0  # review comments placed on its diff lines (series page)


@dataclass(frozen=True)
class RevisionLink:
    id: int
    revision: int
    title: str
    date: datetime | None
    reason: str  # change-id | link | title


@dataclass(frozen=True)
class SeriesMembers:
    """A visible series with the members the viewer may see."""

    series: Series
    patches: tuple[Patch, ...]  # in counter order, cover excluded
    cover: Patch | None


@dataclass(frozen=True)
class SeriesDetail:
    row: SeriesRow
    cover: PatchItem | None
    cover_text: str
    patches: tuple[PatchItem, ...]
    older: tuple[RevisionLink, ...]
    newer: tuple[RevisionLink, ...]
    subsystems: tuple[SubsystemRef, ...]
    suggested: tuple[str, ...]  # M:/R: people of the patches' most specific subsystems
    mbox_name: str
    kept: tuple[PatchItem, ...] = ()  # a partial reroll: the previous revision's patches it keeps


@dataclass(frozen=True)
class SeriesFilters:
    """What ``/LIST/series/``, the queues and the API narrow a series list by. Every field is
    optional; ``state`` empty means any state (the queues then keep their open states)."""

    state: str = ""
    subsystem: str = ""  # a subsystem's slug
    submitter: str = ""  # an e-mail address
    delegate: str = ""  # a user name
    since: datetime | None = None  # sent at or after
    until: datetime | None = None  # sent before


# --- helpers -----------------------------------------------------------------------------------


def check_state(state: str) -> str:
    """``state`` itself when it is one of :data:`STATES` or empty; else :class:`BadFilter`."""
    if state and state not in STATES:
        raise BadFilter(f"unknown state {state[:40]!r}; one of: {', '.join(STATES)}")
    return state


def subjects_of(session: Session, pks: Sequence[int]) -> dict[int, str]:
    return {row.id: row.subject
            for row in select_in(session, select(Message.id, Message.subject), Message.id, pks)}


def _sender_names(session: Session, pks: Sequence[int]) -> dict[int, str]:
    return {row.id: row.from_name
            for row in select_in(session, select(Message.id, Message.from_name), Message.id, pks)}


def series_flags(session: Session, ids: Sequence[int]) -> dict[int, tuple[bool, str]]:
    """(archived, delegate's user name) of series that have a kept row (a patch's come with
    its state: :func:`~listarchive.review.states.kept_patch_rows`)."""
    return {int(row.id): (bool(row.archived), row.name or "") for row in select_in(
        session, select(SeriesState.series_id.label("id"), SeriesState.archived, User.name)
        .outerjoin(User, User.id == SeriesState.delegate_id), SeriesState.series_id, ids)}


@functools.lru_cache(maxsize=256)
def _series_select(viewer: Viewer) -> Select[Any]:
    """The visible series of id ``:series_id``: built once per viewer (building it was a tenth
    of a patch page)."""
    return select(Series).where(Series.id == bindparam("series_id"), visible_id(viewer, Series.id))


_MEMBERS = (select(Patch).where(Patch.series_id == bindparam("series_id"))
            .order_by(Patch.counter, Patch.id))


def visible_series(session: Session, viewer: Viewer, series_id: int) -> SeriesMembers | None:
    """The series and the members the viewer may see; ``None`` when it is unknown or hidden."""
    series = session.scalars(_series_select(viewer), {"series_id": series_id}).first()
    if series is None:
        return None
    members = list(session.scalars(_MEMBERS, {"series_id": series_id}))
    seen = visible_ids(session, viewer, [p.id for p in members])
    cover = next((p for p in members if p.kind == "cover" and p.id in seen), None)
    patches = tuple(p for p in members if p.kind != "cover" and p.id in seen)
    return SeriesMembers(series, patches, cover)


def series_rows(session: Session, viewer: Viewer, ids: Sequence[int]) -> list[SeriesRow]:
    """List rows of these series, in the given order; hidden ones are left out."""
    seen = visible_ids(session, viewer, ids)
    wanted = [sid for sid in ids if sid in seen]
    found = {s.id: s for s in session.scalars(select(Series).where(Series.id.in_(wanted)))}
    names = _sender_names(session, wanted)
    homes = messageview.home_lists(session, viewer, wanted)
    states = effective_states(session, "series", wanted)
    flags = series_flags(session, wanted)
    counts = series_counts(session, viewer, wanted)
    pulls = set(session.scalars(select(Patch.id).where(Patch.id.in_(wanted),
                                                        Patch.kind == PULL)))
    check_states = checks.series_states(session, wanted)
    rows = []
    for sid in wanted:
        series = found.get(sid)
        if series is None:
            continue
        missing = tuple(int(m) for m in series.missing.split(",") if m.strip().isdigit())
        rows.append(SeriesRow(
            series.id, series.anchor_msgid, series.title, series.revision, series.is_rfc,
            names.get(sid, ""), series.sender_email, series.date, series.received, series.total,
            series.complete, missing, counts.get(sid, Counts()),
            states.get(sid, "") or ("rfc" if series.is_rfc else "new"),
            homes.get(sid, listview.ALL), *flags.get(sid, (False, "")), sid in pulls,
            check_states.get(sid, "")))
    return rows


# --- series lists ------------------------------------------------------------------------------


def with_series_state(query: Select[Any]) -> Select[Any]:
    return query.outerjoin(SeriesState, SeriesState.series_id == Series.id)


def apply_filters(query: Select[Any], filters: SeriesFilters) -> Select[Any]:
    """``query`` (over Series, SeriesState outer-joined) narrowed by everything but state."""
    if filters.subsystem:
        query = query.where(Series.id.in_(
            select(SeriesSubsystem.series_id)
            .join(Subsystem, Subsystem.id == SeriesSubsystem.subsystem_id)
            .where(subsystem_named(filters.subsystem))))
    if filters.submitter:
        query = query.where(Series.sender_email == filters.submitter.strip().lower())
    if filters.delegate:
        query = query.where(SeriesState.delegate_id.in_(
            select(User.id).where(User.name == filters.delegate)))
    if filters.since is not None:
        query = query.where(Series.date >= filters.since)
    if filters.until is not None:
        query = query.where(Series.date < filters.until)
    return query


def _series_filter(session: Session, viewer: Viewer, list_name: str,
                   filters: SeriesFilters) -> Select[Any] | None:
    check_state(filters.state)
    query = with_series_state(select(Series.id).join(Message, Message.id == Series.id).where(
        visible_message(viewer)))
    if list_name != listview.ALL:
        lst = session.scalars(select(MailingList.id).where(MailingList.name == list_name,
                                                           visible_list(viewer))).first()
        if lst is None:
            return None
        query = query.where(Series.id.in_(select(MessageList.message_id)
                                          .where(MessageList.list_id == lst)))
    if filters.state:
        query = query.where(series_state_column() == filters.state)
    return apply_filters(query, filters)


def series_list(session: Session, viewer: Viewer, list_name: str,
                filters: SeriesFilters | None = None, page: int = 1, per_page: int = 50
                ) -> SeriesListPage | None:
    """Series anchored on ``list_name`` (or :data:`listview.ALL`), newest first.

    ``None`` for an unknown or hidden list; :class:`BadFilter` for an unknown state name. An
    unknown subsystem slug, submitter or delegate just matches nothing (they are search terms,
    not ids).
    """
    filters = filters or SeriesFilters()
    query = _series_filter(session, viewer, list_name, filters)
    if query is None:
        return None
    per_page = max(1, min(per_page, listview.MAX_PER_PAGE))
    ids: list[int] = list(session.scalars(query.order_by(Series.date.desc().nulls_last(), Series.id.desc())
                                          .offset((page - 1) * per_page).limit(per_page + 1)))
    rows = series_rows(session, viewer, ids[:per_page])
    return SeriesListPage(list_name, tuple(rows), page, per_page, len(ids) > per_page,
                          filters.state, filters.subsystem, filters.submitter)


# --- one series --------------------------------------------------------------------------------


def patch_items(session: Session, viewer: Viewer, patches: Sequence[Patch],
                lines: dict[int, tuple[TrailerLine, ...]],
                records: Sequence[MessageRecord] = ()) -> tuple[PatchItem, ...]:
    """Patches (or a cover letter) as the series and patch pages list them; ``records``: their
    messages when the caller has read them already (their subjects and lists are not read
    again)."""
    ids = [p.id for p in patches]
    kept = kept_patch_rows(session, ids)
    states = loaded_patch_states(session, patches, {pid: row for pid, (row, _) in kept.items()})
    flags = {pid: (bool(row.archived), name or "") for pid, (row, name) in kept.items()}
    known = {r.pk: r for r in records}
    if all(pk in known for pk in ids):
        homes = {pk: known[pk].lists[0] for pk in ids if known[pk].lists}
        subjects = {pk: known[pk].subject for pk in ids}
    else:
        homes = messageview.home_lists(session, viewer, ids)
        subjects = subjects_of(session, ids)
    return tuple(PatchItem(p.id, p.msgid, p.kind, p.title, subjects.get(p.id, p.title),
                           p.counter, p.total, p.date, homes.get(p.id, listview.ALL),
                           lines.get(p.id, ()), counts_of(lines.get(p.id, ())),
                           states.get(p.id, "new"), *flags.get(p.id, (False, "")))
                 for p in patches)


def _revisions(session: Session, viewer: Viewer, series_id: int, newer: bool
               ) -> tuple[RevisionLink, ...]:
    mine, other = ((SeriesRevision.older_id, SeriesRevision.newer_id) if newer
                   else (SeriesRevision.newer_id, SeriesRevision.older_id))
    rows = session.execute(select(Series.id, Series.revision, Series.title, Series.date,
                                  SeriesRevision.reason)
                           .join(SeriesRevision, other == Series.id)
                           .where(mine == series_id, visible_id(viewer, Series.id))).all()
    out = [RevisionLink(row.id, row.revision, row.title, row.date, row.reason) for row in rows]
    return tuple(sorted(out, key=lambda r: (r.revision, r.date or datetime.min)))


def series_detail(session: Session, viewer: Viewer, series_id: int) -> SeriesDetail | None:
    """Everything ``/series/ID/`` shows; ``None`` when unknown or hidden."""
    found = visible_series(session, viewer, series_id)
    if found is None:
        return None
    lines = series_lines(session, viewer, found.patches, found.cover)
    members = [*found.patches, *([found.cover] if found.cover is not None else [])]
    every = patch_items(session, viewer, members, lines)  # the cover last, without lines
    talk = comment_counts(session, viewer, found.patches)
    items = tuple(replace(item, comments=talk.get(item.id, 0))
                  for item in every[:len(found.patches)])
    cover_item = every[-1] if found.cover is not None else None
    cover_text = ""
    if found.cover is not None:
        parsed = messageview.parsed_records(session, viewer, [found.cover.id])
        cover_text = parsed[0][1].body if parsed else ""
    row = series_rows(session, viewer, [series_id])[0]
    patch_ids = [p.id for p in found.patches]
    suggested: list[str] = []
    for sub in subsystem_refs(session, patch_ids, top_only=True):
        for person in (*sub.maintainers, *sub.reviewers):
            if person not in suggested:
                suggested.append(person)
    kept = kept_from_previous(session, viewer, found.series, found.patches)
    kept_items = patch_items(session, viewer, kept,
                             kept_lines(session, viewer, kept, found.cover)) if kept else ()
    return SeriesDetail(row, cover_item, cover_text, items,
                        _revisions(session, viewer, series_id, newer=False),
                        _revisions(session, viewer, series_id, newer=True),
                        tuple(subsystem_refs(session, patch_ids)), tuple(suggested),
                        mbox_filename(row.revision, row.date, row.title), kept_items)


def mbox_filename(revision: int, date: datetime | None, title: str) -> str:
    """``v2_20250813_add_clock_drivers_for_glymur.mbx``: sortable, shell-safe, at most ~80
    characters; a title of only punctuation or non-Latin letters becomes ``series``."""
    slug = "_".join("".join(c if c.isascii() and c.isalnum() else " " for c in title.lower())
                    .split())[:60].rstrip("_") or "series"
    day = date.strftime("%Y%m%d") if date is not None else "undated"
    return f"v{revision}_{day}_{slug}.mbx"
