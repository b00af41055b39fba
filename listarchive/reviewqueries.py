"""The read side of the patch-review pages: series lists, series, patches, subsystems.

Like :mod:`listarchive.queries`, every function takes the :class:`Viewer` it answers for and
returns frozen values, or ``None`` when the thing does not exist *for that viewer*. A series is
visible when its anchor message (cover letter, else first patch) is; inside it, patches and the
replies that gave trailers are kept only when the viewer may see their messages, so a
``Reviewed-by`` sent to a restricted list never shows up (nor counts) on a public page.

States are the effective ones of :mod:`listarchive.states` (a series' state computed from its
patches); filters on state read the kept ``series_states`` / ``patch_states`` columns in SQL so a
queue of thousands of open series is one indexed query, not a loop over rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from ingest.message import parse
from ingest.patches import extract_patches
from listarchive import amready, queries, rawstore
from listarchive.models import (
    Grant,
    MailingList,
    Message,
    MessageList,
    Patch,
    PatchState,
    PatchSubsystem,
    Person,
    Series,
    SeriesState,
    SeriesSubsystem,
    StateChange,
    Subsystem,
    Trailer,
    User,
)
from listarchive.reviews import CollectedTrailer, SeriesView, series_view
from listarchive.states import (
    STATES,
    effective_states,
    patch_state_column,
    series_state_column,
)
from listarchive.visibility import Viewer, visible_id, visible_list, visible_message

# What a reviewer still has to look at: the default of every queue.
OPEN_STATES = ("new", "under-review")
# The columns of the A/R/T counts (Patchwork's): distinct people per trailer name.
COUNTED = {"acked-by": "acked", "reviewed-by": "reviewed", "tested-by": "tested"}
_SLUG_RE = re.compile(r"[^a-z0-9]+")


class BadFilter(ValueError):
    """A filter value the query cannot mean (unknown state name); the message says which."""


@dataclass(frozen=True)
class TrailerLine:
    name: str
    value: str
    from_msgid: str  # the message the line was written in (the patch itself for its own)
    given_by: str  # that message's sender, as shown
    own: bool  # in the patch's commit message, not collected from a reply
    via_cover: bool  # given to the cover letter, so it counts for every patch
    mismatch: bool  # the person named is not the reply's sender


@dataclass(frozen=True)
class Counts:
    acked: int = 0
    reviewed: int = 0
    tested: int = 0


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


@dataclass(frozen=True)
class SubsystemRef:
    slug: str
    name: str
    status: str
    maintainers: tuple[str, ...]
    reviewers: tuple[str, ...]
    lists: tuple[str, ...]


@dataclass(frozen=True)
class RevisionLink:
    id: int
    revision: int
    title: str
    date: datetime | None
    reason: str  # change-id | link | title


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


@dataclass(frozen=True)
class FileDiff:
    path: str
    old_path: str
    change: str
    insertions: int
    deletions: int
    anchor: str  # HTML id of the file's section
    text: str  # this file's part of the diff


@dataclass(frozen=True)
class PatchDetail:
    item: PatchItem
    record: queries.MessageRecord
    series: SeriesRow | None
    commit_message: str
    files: tuple[FileDiff, ...]
    insertions: int
    deletions: int
    diff: str
    patch_id: str
    pull_url: str
    pull_ref: str
    subsystems: tuple[SubsystemRef, ...]
    previous_id: int | None  # neighbours in the series
    next_id: int | None


@dataclass(frozen=True)
class SubsystemPage:
    subsystem: SubsystemRef
    threads: tuple[queries.ThreadSummary, ...]
    series: SeriesListPage


@dataclass(frozen=True)
class MessageBadge:
    """What the message page and list index say about a message that is a patch or cover."""

    patch_id: int
    kind: str
    counter: int
    total: int
    series_id: int | None
    series_title: str
    revision: int


# --- helpers -----------------------------------------------------------------------------------


def check_state(state: str) -> str:
    """``state`` itself when it is one of :data:`STATES` or empty; else :class:`BadFilter`."""
    if state and state not in STATES:
        raise BadFilter(f"unknown state {state[:40]!r}; one of: {', '.join(STATES)}")
    return state


def _visible_pks(session: Session, viewer: Viewer, pks: Iterable[int]) -> set[int]:
    wanted = sorted(set(pks))
    out: set[int] = set()
    for start in range(0, len(wanted), 500):
        out.update(session.scalars(select(Message.id).where(
            Message.id.in_(wanted[start:start + 500]), visible_message(viewer))))
    return out


def _visible_msgids(session: Session, viewer: Viewer, msgids: Iterable[str]) -> dict[str, str]:
    """Visible Message-IDs -> their sender as shown (name, else address)."""
    wanted = sorted(set(msgids))
    out: dict[str, str] = {}
    for start in range(0, len(wanted), 500):
        for msgid, name, email in session.execute(
                select(Message.msgid, Message.from_name, Message.from_email).where(
                    Message.msgid.in_(wanted[start:start + 500]), visible_message(viewer))):
            out[msgid] = name or email
    return out


def _home_lists(session: Session, viewer: Viewer, pks: Iterable[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    wanted = sorted(set(pks))
    for start in range(0, len(wanted), 500):
        for pk, name in session.execute(
                select(MessageList.message_id, MailingList.name)
                .join(MailingList, MailingList.id == MessageList.list_id)
                .where(MessageList.message_id.in_(wanted[start:start + 500]),
                       visible_list(viewer)).order_by(MailingList.name)):
            out.setdefault(pk, name)
    return out


def _counts(lines: Iterable[TrailerLine]) -> Counts:
    people: dict[str, set[str]] = {"acked": set(), "reviewed": set(), "tested": set()}
    for line in lines:
        column = COUNTED.get(line.name.lower())
        if column is not None:
            people[column].add(line.value.strip().lower())
    return Counts(len(people["acked"]), len(people["reviewed"]), len(people["tested"]))


def _trailers(session: Session, viewer: Viewer, view: SeriesView
              ) -> dict[int, tuple[TrailerLine, ...]]:
    """Own and collected trailers per patch id, collected ones only from visible replies."""
    msgid_of = {p.id: p.msgid for p in view.patches}
    own: dict[str, list[tuple[str, str]]] = {}
    if msgid_of:
        for target, name, value in session.execute(
                select(Trailer.target_msgid, Trailer.name, Trailer.value)
                .where(Trailer.target_msgid.in_(sorted(msgid_of.values())),
                       Trailer.own.is_(True)).order_by(Trailer.id)):
            own.setdefault(target, []).append((name, value))
    sources = {t.from_msgid for ts in view.trailers.values() for t in ts}
    senders = _visible_msgids(session, viewer, [*sources, *msgid_of.values()])
    out: dict[int, tuple[TrailerLine, ...]] = {}
    for pid, msgid in msgid_of.items():
        lines = [TrailerLine(name, value, msgid, senders.get(msgid, ""), True, False, False)
                 for name, value in own.get(msgid, [])]
        collected: Sequence[CollectedTrailer] = view.trailers.get(pid, ())
        lines.extend(TrailerLine(t.name, t.value, t.from_msgid, senders[t.from_msgid], False,
                                 t.via_cover, t.mismatch)
                     for t in collected if t.from_msgid in senders)
        out[pid] = tuple(lines)
    return out


def _row(series: Series, counts: Counts, sender_name: str, home: str, state: str = "",
         flags: tuple[bool, str] = (False, "")) -> SeriesRow:
    missing = tuple(int(m) for m in series.missing.split(",") if m.strip().isdigit())
    return SeriesRow(series.id, series.anchor_msgid, series.title, series.revision,
                     series.is_rfc, sender_name, series.sender_email, series.date,
                     series.received, series.total, series.complete, missing, counts,
                     state or ("rfc" if series.is_rfc else "new"), home, *flags)


def _flags(session: Session, kind: str, ids: Iterable[int]) -> dict[int, tuple[bool, str]]:
    """(archived, delegate's user name) of patches or series that have a kept row."""
    wanted = sorted(set(ids))
    table: type[PatchState] | type[SeriesState] = PatchState if kind == "patch" else SeriesState
    key = PatchState.patch_id if kind == "patch" else SeriesState.series_id
    out: dict[int, tuple[bool, str]] = {}
    for start in range(0, len(wanted), 500):
        for oid, archived, name in session.execute(
                select(key, table.archived, User.name)
                .outerjoin(User, User.id == table.delegate_id)
                .where(key.in_(wanted[start:start + 500]))):
            out[oid] = (bool(archived), name or "")
    return out


def _sender_names(session: Session, pks: Sequence[int]) -> dict[int, str]:
    if not pks:
        return {}
    return {pk: name for pk, name in session.execute(
        select(Message.id, Message.from_name).where(Message.id.in_(list(pks))))}


def _visible_view(session: Session, viewer: Viewer, series_id: int
                  ) -> tuple[SeriesView, tuple[Patch, ...], Patch | None] | None:
    if not _visible_pks(session, viewer, [series_id]):
        return None
    view = series_view(session, series_id)
    if view is None:
        return None
    members = [p.id for p in view.patches] + ([view.cover.id] if view.cover else [])
    seen = _visible_pks(session, viewer, members)
    patches = tuple(p for p in view.patches if p.id in seen)
    cover = view.cover if view.cover is not None and view.cover.id in seen else None
    return view, patches, cover


def _series_rows(session: Session, viewer: Viewer, ids: Sequence[int]) -> list[SeriesRow]:
    names = _sender_names(session, ids)
    homes = _home_lists(session, viewer, ids)
    states = effective_states(session, "series", ids)
    flags = _flags(session, "series", ids)
    rows = []
    for sid in ids:
        found = _visible_view(session, viewer, sid)
        if found is None:
            continue
        view, _, _ = found
        lines = _trailers(session, viewer, view)
        rows.append(_row(view.series, _counts(t for ts in lines.values() for t in ts),
                         names.get(sid, ""), homes.get(sid, queries.ALL), states.get(sid, ""),
                         flags.get(sid, (False, ""))))
    return rows


# --- series lists ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeriesFilters:
    """What ``/LIST/series/``, the queues and the API narrow a series list by. Every field is
    optional; ``state`` empty means any state (the queues then keep :data:`OPEN_STATES`)."""

    state: str = ""
    subsystem: str = ""  # a subsystem's slug
    submitter: str = ""  # an e-mail address
    delegate: str = ""  # a user name
    since: datetime | None = None  # sent at or after
    until: datetime | None = None  # sent before


def _with_state(query: Select[Any]) -> Select[Any]:
    return query.outerjoin(SeriesState, SeriesState.series_id == Series.id)


def _filtered(query: Select[Any], filters: SeriesFilters) -> Select[Any]:
    """``query`` (over Series, SeriesState outer-joined) narrowed by everything but state."""
    if filters.subsystem:
        query = query.where(Series.id.in_(
            select(SeriesSubsystem.series_id)
            .join(Subsystem, Subsystem.id == SeriesSubsystem.subsystem_id)
            .where(Subsystem.slug == filters.subsystem)))
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
    query = _with_state(select(Series.id).join(Message, Message.id == Series.id).where(
        visible_message(viewer)))
    if list_name != queries.ALL:
        lst = session.scalars(select(MailingList.id).where(MailingList.name == list_name,
                                                           visible_list(viewer))).first()
        if lst is None:
            return None
        query = query.where(Series.id.in_(select(MessageList.message_id)
                                          .where(MessageList.list_id == lst)))
    if filters.state:
        query = query.where(series_state_column() == filters.state)
    return _filtered(query, filters)


def series_list(session: Session, viewer: Viewer, list_name: str, *, state: str = "",
                subsystem: str = "", submitter: str = "", delegate: str = "",
                since: datetime | None = None, until: datetime | None = None,
                page: int = 1, per_page: int = 50) -> SeriesListPage | None:
    """Series anchored on ``list_name`` (or :data:`queries.ALL`), newest first.

    ``None`` for an unknown or hidden list; :class:`BadFilter` for an unknown state name. An
    unknown subsystem slug, submitter or delegate just matches nothing (they are search terms,
    not ids).
    """
    filters = SeriesFilters(state, subsystem, submitter, delegate, since, until)
    query = _series_filter(session, viewer, list_name, filters)
    if query is None:
        return None
    per_page = max(1, min(per_page, queries.MAX_PER_PAGE))
    ids: list[int] = list(session.scalars(query.order_by(Series.date.desc(), Series.id.desc())
                               .offset((page - 1) * per_page).limit(per_page + 1)))
    rows = _series_rows(session, viewer, ids[:per_page])
    return SeriesListPage(list_name, tuple(rows), page, per_page, len(ids) > per_page, state,
                          subsystem, submitter)


# --- one series --------------------------------------------------------------------------------


def _subsystems(session: Session, patch_ids: Sequence[int], top_only: bool = False
                ) -> list[SubsystemRef]:
    """Subsystems the patches touch, most specific first; ``top_only`` keeps each patch's best."""
    if not patch_ids:
        return []
    rows = session.execute(
        select(PatchSubsystem.patch_id, PatchSubsystem.rank, Subsystem)
        .join(Subsystem, Subsystem.id == PatchSubsystem.subsystem_id)
        .where(PatchSubsystem.patch_id.in_(list(patch_ids)))
        .order_by(PatchSubsystem.rank, Subsystem.name)).all()
    best: dict[int, int] = {}
    for pid, rank, _ in rows:
        best[pid] = min(rank, best.get(pid, rank))
    out: dict[str, SubsystemRef] = {}
    for pid, rank, sub in rows:
        if top_only and rank != best[pid]:
            continue
        out.setdefault(sub.slug, _subsystem_ref(sub))
    return list(out.values())


def _lines(text: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def _subsystem_ref(sub: Subsystem) -> SubsystemRef:
    return SubsystemRef(sub.slug, sub.name, sub.status, _lines(sub.maintainers),
                        _lines(sub.reviewers), _lines(sub.lists))


def mbox_filename(revision: int, date: datetime | None, title: str) -> str:
    """``v2_20250813_add_clock_drivers_for_glymur.mbx``: sortable, shell-safe, at most ~80
    characters; a title of only punctuation or non-Latin letters becomes ``series``."""
    slug = _SLUG_RE.sub("_", title.lower()).strip("_")[:60].rstrip("_") or "series"
    day = date.strftime("%Y%m%d") if date is not None else "undated"
    return f"v{revision}_{day}_{slug}.mbx"


def _items(session: Session, patches: Sequence[Patch], lines: dict[int, tuple[TrailerLine, ...]],
           homes: dict[int, str], subjects: dict[int, str]) -> tuple[PatchItem, ...]:
    ids = [p.id for p in patches]
    states = effective_states(session, "patch", ids)
    flags = _flags(session, "patch", ids)
    return tuple(PatchItem(p.id, p.msgid, p.kind, p.title, subjects.get(p.id, p.title),
                           p.counter, p.total, p.date, homes.get(p.id, queries.ALL),
                           lines.get(p.id, ()), _counts(lines.get(p.id, ())),
                           states.get(p.id, "new"), *flags.get(p.id, (False, "")))
                 for p in patches)


def _subjects(session: Session, pks: Sequence[int]) -> dict[int, str]:
    if not pks:
        return {}
    return {pk: s for pk, s in session.execute(
        select(Message.id, Message.subject).where(Message.id.in_(list(pks))))}


def _revisions(session: Session, viewer: Viewer, links: Sequence[tuple[int, str]]
               ) -> tuple[RevisionLink, ...]:
    seen = _visible_pks(session, viewer, [sid for sid, _ in links])
    out = []
    for sid, reason in links:
        other = session.get(Series, sid) if sid in seen else None
        if other is not None:
            out.append(RevisionLink(sid, other.revision, other.title, other.date, reason))
    return tuple(sorted(out, key=lambda r: (r.revision, r.date or datetime.min)))


def series_detail(session: Session, viewer: Viewer, series_id: int) -> SeriesDetail | None:
    """Everything ``/series/ID/`` shows; ``None`` when unknown or hidden."""
    found = _visible_view(session, viewer, series_id)
    if found is None:
        return None
    view, patches, cover = found
    lines = _trailers(session, viewer, view)
    pks = [p.id for p in patches] + ([cover.id] if cover else [])
    homes = _home_lists(session, viewer, pks)
    subjects = _subjects(session, pks)
    items = _items(session, patches, lines, homes, subjects)
    cover_item = (_items(session, [cover], {}, homes, subjects)[0] if cover is not None
                  else None)
    cover_text = ""
    if cover is not None:
        blob = session.scalar(select(Message.raw).where(Message.id == cover.id))
        if blob is not None:
            cover_text = parse(rawstore.unpack(blob)).body
    row = _row(view.series, _counts(t for ts in lines.values() for t in ts),
               _sender_names(session, [series_id]).get(series_id, ""),
               _home_lists(session, viewer, [series_id]).get(series_id, queries.ALL),
               effective_states(session, "series", [series_id]).get(series_id, ""),
               _flags(session, "series", [series_id]).get(series_id, (False, "")))
    top = _subsystems(session, [p.id for p in patches], top_only=True)
    suggested: list[str] = []
    for sub in top:
        for person in (*sub.maintainers, *sub.reviewers):
            if person not in suggested:
                suggested.append(person)
    return SeriesDetail(row, cover_item, cover_text, items,
                        _revisions(session, viewer, view.older),
                        _revisions(session, viewer, view.newer),
                        tuple(_subsystems(session, [p.id for p in patches])), tuple(suggested),
                        mbox_filename(row.revision, row.date, row.title))


def series_mbox(session: Session, viewer: Viewer, series_id: int, base_url: str = ""
                ) -> tuple[str, bytes] | None:
    """``(filename, mbox)`` of ``/series/ID/mbox``: the visible patches ready for ``git am``,
    with the trailers the viewer can see collected and a ``Link:`` to each patch."""
    found = _visible_view(session, viewer, series_id)
    if found is None:
        return None
    view, patches, _ = found
    visible = _visible_msgids(session, viewer,
                              {t.from_msgid for ts in view.trailers.values() for t in ts})
    total = max(view.series.total, len(view.patches))
    out = []
    for patch in patches:
        if patch.kind != "patch":
            continue
        blob = session.scalar(select(Message.raw).where(Message.id == patch.id))
        if blob is None:
            continue
        subject = amready.patch_subject(patch.title, patch.revision, patch.counter or 1, total,
                                        patch.is_rfc)
        trailers = [t for t in view.trailers.get(patch.id, ()) if t.from_msgid in visible]
        out.append(amready.patch_mail(rawstore.unpack(blob), subject, trailers,
                                      amready.archive_link(base_url, patch.msgid)))
    series = view.series
    return mbox_filename(series.revision, series.date, series.title), b"".join(out)


# --- one patch ---------------------------------------------------------------------------------


def split_files(diff: str, count: int) -> list[str]:
    """The diff cut at each file header (``diff --git``, else a ``---``/``+++`` pair).

    Returns one chunk per file when the cut finds ``count`` of them, else the whole diff as one
    chunk: a diff whose headers were mangled by a mail client is still shown, just not split.
    """
    lines = diff.split("\n")
    starts = [i for i, line in enumerate(lines) if line.startswith("diff --git ")]
    if not starts:
        starts = [i for i, line in enumerate(lines[:-1])
                  if line.startswith("--- ") and lines[i + 1].startswith("+++ ")]
    if len(starts) != count or count == 0:
        return [diff]
    starts[0] = 0
    bounds = [*starts, len(lines)]
    return ["\n".join(lines[a:b]) for a, b in zip(bounds, bounds[1:], strict=False)]


def file_anchor(index: int, path: str) -> str:
    """``f3-drivers-clk-clk-c``: unique by position, readable by path, safe as an HTML id."""
    return f"f{index}-" + (_SLUG_RE.sub("-", path.lower()).strip("-")[:80] or "file")


def patch_detail(session: Session, viewer: Viewer, patch_id: int) -> PatchDetail | None:
    """Everything ``/patch/ID/`` shows; ``None`` when unknown or hidden."""
    patch = session.get(Patch, patch_id)
    record = queries.find_message(session, viewer, patch.msgid) if patch is not None else None
    if patch is None or record is None:
        return None
    blob = session.scalar(select(Message.raw).where(Message.id == patch.id))
    parsed = parse(rawstore.unpack(blob)) if blob is not None else None
    info = extract_patches(parsed) if parsed is not None and patch.kind == "patch" else None
    series_row: SeriesRow | None = None
    lines: tuple[TrailerLine, ...] = ()
    previous_id = next_id = None
    if patch.series_id is not None:
        found = _visible_view(session, viewer, patch.series_id)
        if found is not None:
            view, members, _ = found
            by_patch = _trailers(session, viewer, view)
            lines = by_patch.get(patch.id, ())
            sid = view.series.id
            series_row = _row(view.series, _counts(t for ts in by_patch.values() for t in ts),
                              _sender_names(session, [sid]).get(sid, ""),
                              _home_lists(session, viewer, [sid]).get(sid, queries.ALL),
                              effective_states(session, "series", [sid]).get(sid, ""),
                              _flags(session, "series", [sid]).get(sid, (False, "")))
            order = [p.id for p in members]
            if patch.id in order:
                at = order.index(patch.id)
                previous_id = order[at - 1] if at > 0 else None
                next_id = order[at + 1] if at + 1 < len(order) else None
    if not lines:
        lines = tuple(TrailerLine(name, value, patch.msgid, record.from_name or record.from_email,
                                  True, False, False)
                      for name, value in session.execute(
                          select(Trailer.name, Trailer.value)
                          .where(Trailer.target_msgid == patch.msgid, Trailer.own.is_(True))
                          .order_by(Trailer.id)))
    item = PatchItem(patch.id, patch.msgid, patch.kind, patch.title, record.subject,
                     patch.counter, patch.total, patch.date, record.lists[0] if record.lists
                     else queries.ALL, lines, _counts(lines),
                     effective_states(session, "patch", [patch.id]).get(patch.id, "new"),
                     *_flags(session, "patch", [patch.id]).get(patch.id, (False, "")))
    files: list[FileDiff] = []
    diff = info.diff if info is not None else ""
    if info is not None:
        chunks = split_files(info.diff, len(info.files))
        for i, change in enumerate(info.files):
            text = chunks[i] if len(chunks) == len(info.files) else (info.diff if i == 0 else "")
            files.append(FileDiff(change.path, change.old_path, change.change,
                                  change.insertions, change.deletions,
                                  file_anchor(i, change.path), text))
    message = info.commit_message if info is not None else (parsed.body if parsed else "")
    return PatchDetail(item, record, series_row, message, tuple(files), patch.insertions,
                       patch.deletions, diff, patch.patch_id, patch.pull_url, patch.pull_ref,
                       tuple(_subsystems(session, [patch.id])), previous_id, next_id)


def patch_mbox(session: Session, viewer: Viewer, patch_id: int, base_url: str = ""
               ) -> bytes | None:
    """``/patch/ID/mbox``: one patch for ``git am``, with the trailers the viewer may see."""
    detail = patch_detail(session, viewer, patch_id)
    if detail is None or detail.item.kind != "patch":
        return None
    blob = session.scalar(select(Message.raw).where(Message.id == patch_id))
    if blob is None:
        return None
    patch = session.get(Patch, patch_id)
    assert patch is not None
    collected = [CollectedTrailer(t.name, t.value, t.from_msgid, t.via_cover, t.mismatch)
                 for t in detail.item.trailers if not t.own]
    subject = amready.patch_subject(patch.title, patch.revision, patch.counter or 1,
                                    patch.total, patch.is_rfc)
    return amready.patch_mail(rawstore.unpack(blob), subject, collected,
                              amready.archive_link(base_url, patch.msgid))


def message_badges(session: Session, viewer: Viewer, msgids: Sequence[str]
                   ) -> dict[str, MessageBadge]:
    """Patch/cover facts of those messages that are patches (list index, message page)."""
    wanted = sorted(set(msgids))
    out: dict[str, MessageBadge] = {}
    for start in range(0, len(wanted), 500):
        for patch, series in session.execute(
                select(Patch, Series).outerjoin(Series, Series.id == Patch.series_id)
                .join(Message, Message.id == Patch.id)
                .where(Patch.msgid.in_(wanted[start:start + 500]), visible_message(viewer))):
            total = series.total if series is not None else patch.total
            out[patch.msgid] = MessageBadge(
                patch.id, patch.kind, patch.counter, total,
                series.id if series is not None else None,
                series.title if series is not None else patch.title,
                series.revision if series is not None else patch.revision)
    return out


# --- subsystems --------------------------------------------------------------------------------


def subsystem_page(session: Session, viewer: Viewer, slug: str, limit: int = 30
                   ) -> SubsystemPage | None:
    """A MAINTAINERS section with its recent patch threads and series; ``None`` if unknown."""
    sub = session.scalars(select(Subsystem).where(Subsystem.slug == slug)).first()
    if sub is None:
        return None
    touching: ColumnElement[bool] = Message.id.in_(
        select(PatchSubsystem.patch_id).where(PatchSubsystem.subsystem_id == sub.id))
    tids = [int(t or 0) for (t,) in session.execute(
        select(Message.thread_id).where(touching, visible_message(viewer),
                                        Message.thread_id.is_not(None))
        .group_by(Message.thread_id).order_by(func.max(Message.sort_date).desc())
        .limit(limit)).all()]
    series = series_list(session, viewer, queries.ALL, subsystem=slug, per_page=limit)
    assert series is not None
    return SubsystemPage(_subsystem_ref(sub), tuple(queries.thread_summaries(session, viewer,
                                                                             tids)), series)


# --- JSON (/api/v1/) ---------------------------------------------------------------------------


def _trailer_json(lines: Iterable[TrailerLine]) -> list[dict[str, Any]]:
    return [{"name": t.name, "value": t.value, "from_msgid": t.from_msgid} for t in lines]


def _patch_lines(session: Session, viewer: Viewer, patch: Patch, sender: str
                 ) -> tuple[tuple[TrailerLine, ...], tuple[int, int, int, int] | None]:
    """A patch's trailers (own + visible collected) and, if its series is visible,
    ``(series id, version, number, total)``."""
    if patch.series_id is not None:
        found = _visible_view(session, viewer, patch.series_id)
        if found is not None:
            view, _, _ = found
            lines = _trailers(session, viewer, view).get(patch.id)
            facts = (view.series.id, view.series.revision, patch.counter, view.series.total)
            if lines is not None:
                return lines, facts
            return _own_lines(session, patch, sender), facts
    return _own_lines(session, patch, sender), None


def _own_lines(session: Session, patch: Patch, sender: str) -> tuple[TrailerLine, ...]:
    return tuple(TrailerLine(name, value, patch.msgid, sender, True, False, False)
                 for name, value in session.execute(
                     select(Trailer.name, Trailer.value)
                     .where(Trailer.target_msgid == patch.msgid, Trailer.own.is_(True))
                     .order_by(Trailer.id)))


def _patch_object(session: Session, patch: Patch, subject: str,
                  lines: Iterable[TrailerLine]) -> dict[str, Any]:
    return {"id": patch.id, "message_id": patch.msgid, "subject": subject,
            "state": effective_states(session, "patch", [patch.id]).get(patch.id, "new"),
            "files": _lines(patch.files),
            "diffstat": {"files": patch.file_count, "insertions": patch.insertions,
                         "deletions": patch.deletions},
            "patch_id": patch.patch_id or None, "pull_url": patch.pull_url or None,
            "subsystems": [s.slug for s in _subsystems(session, [patch.id])],
            "trailers": _trailer_json(lines)}


def patch_json(session: Session, viewer: Viewer, patch_id: int) -> dict[str, Any] | None:
    """Exactly the object of ``GET /api/v1/patches/ID`` (trailers: own, then collected)."""
    patch = session.get(Patch, patch_id)
    record = queries.find_message(session, viewer, patch.msgid) if patch is not None else None
    if patch is None or record is None:
        return None
    lines, _ = _patch_lines(session, viewer, patch, record.from_name or record.from_email)
    return _patch_object(session, patch, record.subject, lines)


def message_patch_facts(session: Session, viewer: Viewer, pk: int
                        ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The ``patch`` and ``series`` members of the message object for message ``pk`` (already
    known to be visible)."""
    patch = session.get(Patch, pk)
    if patch is None:
        return None, None
    msg = session.get(Message, pk)
    subject = msg.subject if msg is not None else patch.title
    sender = (msg.from_name or msg.from_email) if msg is not None else ""
    lines, facts = _patch_lines(session, viewer, patch, sender)
    series = None
    if facts is not None:
        series = dict(zip(("id", "version", "number", "total"), facts, strict=True))
    return _patch_object(session, patch, subject, lines), series


def series_row_json(row: SeriesRow) -> dict[str, Any]:
    return {"id": row.id, "title": row.title, "version": row.revision, "rfc": row.is_rfc,
            "submitter": {"name": row.submitter_name, "email": row.submitter_email},
            "date": queries.iso(row.date), "state": row.state, "archived": row.archived,
            "delegate": row.delegate or None, "received": row.received,
            "total": row.total, "complete": row.complete, "missing": list(row.missing),
            "counts": {"acked": row.counts.acked, "reviewed": row.counts.reviewed,
                       "tested": row.counts.tested}}


def _revision_json(link: RevisionLink) -> dict[str, Any]:
    return {"id": link.id, "version": link.revision, "title": link.title,
            "date": queries.iso(link.date), "reason": link.reason}


def series_json(session: Session, viewer: Viewer, series_id: int) -> dict[str, Any] | None:
    """``GET /api/v1/series/ID``: the list-row facts plus cover, patches (with their own and
    collected trailers), revisions either side, series-wide trailers (those given to the cover
    letter) and subsystems."""
    detail = series_detail(session, viewer, series_id)
    if detail is None:
        return None
    cover = None
    if detail.cover is not None:
        cover = {"id": detail.cover.id, "message_id": detail.cover.msgid,
                 "subject": detail.cover.subject}
    series_wide: dict[tuple[str, str], TrailerLine] = {}
    for item in detail.patches:
        for line in item.trailers:
            if line.via_cover:
                series_wide.setdefault((line.name, line.value), line)
    return {**series_row_json(detail.row), "cover": cover,
            "patches": [{"id": p.id, "message_id": p.msgid, "subject": p.subject,
                         "number": p.counter, "state": p.state,
                         "trailers": _trailer_json(p.trailers)} for p in detail.patches],
            "previous": [_revision_json(r) for r in detail.older],
            "next": [_revision_json(r) for r in detail.newer],
            "trailers": _trailer_json(series_wide.values()),
            "subsystems": [s.slug for s in detail.subsystems]}


# --- state history -----------------------------------------------------------------------------

_SHA_RE = re.compile(r"^[0-9a-f]{7,64}$")


@dataclass(frozen=True)
class Evidence:
    """One piece of what a rule's decision rests on: a ``reply`` (Message-ID), a ``commit``
    (id) or a newer ``series`` (id as text); anything else is shown as ``text``."""

    kind: str
    value: str


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    object_kind: str  # patch | series: a series' history shows its patches' entries too
    object_id: int
    field: str  # state | archived | delegate
    from_value: str
    to_value: str
    who: str  # the user's name; empty for a rule
    via: str  # web | api | cli | rule
    rule: str
    evidence: tuple[Evidence, ...]
    reason: str


def _evidence(text: str, visible: set[str]) -> tuple[Evidence, ...]:
    """``series:123``, ``<reply msgid> <sha>``, ``<sha>`` -> typed pieces. A Message-ID the
    viewer may not see is left out: a private reply's id must not leak through a public page."""
    out: list[Evidence] = []
    for token in text.split():
        if token.startswith("series:") and token[7:].isdigit():
            out.append(Evidence("series", token[7:]))
        elif _SHA_RE.match(token):
            out.append(Evidence("commit", token))
        elif "@" in token:
            if token.strip("<>") in visible:
                out.append(Evidence("reply", token.strip("<>")))
        else:
            out.append(Evidence("text", token))
    return tuple(out)


def state_history(session: Session, viewer: Viewer, kind: str, object_id: int
                  ) -> tuple[HistoryEntry, ...]:
    """Oldest first; a series' history carries its own entries and those of its patches that
    the viewer may see. The caller has already checked that the object itself is visible."""
    cond = (StateChange.object_kind == kind) & (StateChange.object_id == object_id)
    if kind == "series":
        pids = select(Patch.id).where(Patch.series_id == object_id).scalar_subquery()
        cond = cond | ((StateChange.object_kind == "patch") & StateChange.object_id.in_(pids))
    rows = session.execute(
        select(StateChange, User.name).outerjoin(User, User.id == StateChange.user_id)
        .where(cond).order_by(StateChange.at, StateChange.id)).all()
    patch_ids = {c.object_id for c, _ in rows if c.object_kind == "patch"}
    seen_patches = _visible_pks(session, viewer, patch_ids)
    tokens = {t.strip("<>") for c, _ in rows for t in c.evidence.split() if "@" in t}
    visible = set(_visible_msgids(session, viewer, tokens))
    return tuple(HistoryEntry(c.at, c.object_kind, c.object_id, c.field, c.from_value,
                              c.to_value, name or "", c.via, c.rule,
                              _evidence(c.evidence, visible), c.reason)
                 for c, name in rows
                 if c.object_kind != "patch" or c.object_id in seen_patches)


# --- review queues -----------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueRow:
    id: int
    title: str
    revision: int
    is_rfc: bool
    submitter_name: str
    submitter_email: str
    date: datetime | None
    received: int
    total: int
    complete: bool
    counts: Counts
    state: str
    delegate: str
    files: int
    insertions: int
    deletions: int
    home_list: str


@dataclass(frozen=True)
class QueuePage:
    title: str  # what the queue is of: a list's name, a subsystem's, "my queue"
    rows: tuple[QueueRow, ...]
    total: int  # series matching, over all pages
    page: int
    per_page: int
    has_next: bool
    filters: SeriesFilters


@dataclass(frozen=True)
class QueueScope:
    """Whose queue: a list (or :data:`queries.ALL`), a subsystem slug, or a user's grants."""

    list_name: str = ""
    subsystem: str = ""
    user_id: int | None = None


def _scope_condition(session: Session, viewer: Viewer, scope: QueueScope
                     ) -> tuple[str, ColumnElement[bool]] | None:
    """(title, SQL condition on Series) for the scope; None when the list or subsystem is
    unknown (or the list hidden)."""
    if scope.subsystem:
        sub = session.scalars(select(Subsystem).where(Subsystem.slug == scope.subsystem)).first()
        if sub is None:
            return None
        return sub.name, Series.id.in_(
            select(SeriesSubsystem.series_id).where(SeriesSubsystem.subsystem_id == sub.id))
    if scope.user_id is not None:
        user = session.get(User, scope.user_id)
        if user is None:
            return None
        grants = session.execute(select(Grant.scope_kind, Grant.scope_name)
                                 .where(Grant.user_id == user.id)).all()
        list_names = [n for k, n in grants if k == "list"]
        sub_names = [n.lower() for k, n in grants if k == "subsystem"]
        conds: list[ColumnElement[bool]] = []
        if list_names:
            conds.append(Series.id.in_(
                select(MessageList.message_id)
                .join(MailingList, MailingList.id == MessageList.list_id)
                .where(MailingList.name.in_(list_names))))
        if sub_names:
            conds.append(Series.id.in_(
                select(SeriesSubsystem.series_id)
                .join(Subsystem, Subsystem.id == SeriesSubsystem.subsystem_id)
                .where(func.lower(Subsystem.name).in_(sub_names)
                       | Subsystem.slug.in_(sub_names))))
        if not conds:
            # An admin without grants looks after everything; anyone else after nothing.
            return "my queue", (Series.id > 0) if user.is_admin else (Series.id < 0)
        cond = conds[0]
        for extra in conds[1:]:
            cond = cond | extra
        return "my queue", cond
    name = scope.list_name or queries.ALL
    if name == queries.ALL:
        return name, Series.id > 0
    lst = session.scalars(select(MailingList.id).where(MailingList.name == name,
                                                       visible_list(viewer))).first()
    if lst is None:
        return None
    return name, Series.id.in_(select(MessageList.message_id).where(MessageList.list_id == lst))


def trailer_counts(session: Session, viewer: Viewer, series_ids: Sequence[int]
                   ) -> dict[int, Counts]:
    """A/R/T per series in one query: distinct people per trailer name over the trailers in the
    series' patches and cover letter and in visible replies written directly to them. Unlike the
    series page it does not walk replies to replies up to the patch (a ``Reviewed-by`` sent in
    answer to a review is not counted here), which keeps a queue of thousands one query."""
    out: dict[int, Counts] = {}
    wanted = sorted(set(series_ids))
    for start in range(0, len(wanted), 500):
        part = wanted[start:start + 500]
        got: dict[int, dict[str, int]] = {}
        for sid, name, people in session.execute(
                select(Patch.series_id, func.lower(Trailer.name),
                       func.count(func.distinct(func.lower(Trailer.value))))
                .join(Trailer, Trailer.target_msgid == Patch.msgid)
                .join(Message, Message.id == Trailer.message_id)
                .where(Patch.series_id.in_(part),
                       func.lower(Trailer.name).in_(sorted(COUNTED)),
                       visible_message(viewer))
                .group_by(Patch.series_id, func.lower(Trailer.name))):
            got.setdefault(int(sid), {})[COUNTED[name]] = int(people)
        for sid in part:
            found = got.get(sid, {})
            out[sid] = Counts(found.get("acked", 0), found.get("reviewed", 0),
                              found.get("tested", 0))
    return out


def queue(session: Session, viewer: Viewer, scope: QueueScope,
          filters: SeriesFilters = SeriesFilters(), page: int = 1, per_page: int = 50
          ) -> QueuePage | None:
    """What needs review in ``scope``: series in :data:`OPEN_STATES` (or ``filters.state``),
    not archived, oldest first, with A/R/T counts, submitter and size. ``None`` for an unknown
    list or subsystem. A fixed number of queries whatever the queue's length."""
    check_state(filters.state)
    found = _scope_condition(session, viewer, scope)
    if found is None:
        return None
    title, cond = found
    state_col = series_state_column()
    base = _with_state(select(Series.id)).where(
        cond, visible_id(viewer, Series.id), func.coalesce(SeriesState.archived, False).is_(False))
    base = base.where(state_col == filters.state if filters.state
                      else state_col.in_(OPEN_STATES))
    base = _filtered(base, filters)
    per_page = max(1, min(per_page, queries.MAX_PER_PAGE))
    # The page's ids and the queue's length in one pass: the scope and visibility conditions
    # are checked once per candidate series, not once for a count and again for the page (on
    # a 2,000-series subsystem queue that second pass was a third of the render).
    window = session.execute(base.add_columns(func.count().over())
                             .order_by(Series.date, Series.id)
                             .offset((page - 1) * per_page).limit(per_page + 1)).all()
    if window:
        total = int(window[0][1])
    elif page > 1:  # past the end: the window has no row to carry the count
        total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    else:
        total = 0
    rows = session.execute(
        select(Series, state_col, User.name, Message.from_name)
        .outerjoin(SeriesState, SeriesState.series_id == Series.id)
        .join(Message, Message.id == Series.id)
        .outerjoin(User, User.id == SeriesState.delegate_id)
        .where(Series.id.in_([int(r[0]) for r in window]))
        .order_by(Series.date, Series.id)).all()
    ids = [r[0].id for r in rows[:per_page]]
    counts = trailer_counts(session, viewer, ids)
    sizes: dict[int, tuple[int, int, int]] = {}
    if ids:
        for sid, files, ins, dels in session.execute(
                select(Patch.series_id, func.sum(Patch.file_count), func.sum(Patch.insertions),
                       func.sum(Patch.deletions))
                .where(Patch.series_id.in_(ids)).group_by(Patch.series_id)):
            sizes[int(sid or 0)] = (int(files or 0), int(ins or 0), int(dels or 0))
    homes = _home_lists(session, viewer, ids)
    out = []
    for series, state, delegate, from_name in rows[:per_page]:
        files, ins, dels = sizes.get(series.id, (0, 0, 0))
        out.append(QueueRow(series.id, series.title, series.revision, series.is_rfc,
                            from_name or "", series.sender_email, series.date, series.received,
                            series.total, series.complete, counts.get(series.id, Counts()),
                            state, delegate or "", files, ins, dels,
                            homes.get(series.id, queries.ALL)))
    return QueuePage(title, tuple(out), int(total), page, per_page, len(rows) > per_page,
                     filters)


def change_targets(session: Session, kind: str, ids: Sequence[int]) -> dict[int, Patch | Series]:
    """The patches or series (by id) a state form or the API names, for permission checks."""
    wanted = sorted(set(ids))
    out: dict[int, Patch | Series] = {}
    for start in range(0, len(wanted), 500):
        part = wanted[start:start + 500]
        if kind == "patch":
            out.update((p.id, p) for p in session.scalars(select(Patch).where(
                Patch.id.in_(part), Patch.kind != "cover")))
        else:
            out.update((s.id, s) for s in session.scalars(select(Series).where(
                Series.id.in_(part))))
    return out


# --- Patchwork-shaped records (/api/1.2/) ------------------------------------------------------


@dataclass(frozen=True)
class PersonRef:
    id: int
    name: str
    email: str


@dataclass(frozen=True)
class ProjectRef:
    id: int
    name: str
    list_id: str
    address: str
    description: str


@dataclass(frozen=True)
class SubmissionRef:
    """A patch or cover letter as a series lists it."""

    id: int
    msgid: str
    name: str
    date: datetime | None


@dataclass(frozen=True)
class PatchRecord:
    id: int
    msgid: str
    name: str  # the Subject: as sent
    date: datetime | None
    submitter: PersonRef
    project: ProjectRef | None
    state: str
    archived: bool
    delegate: PersonRef | None  # a user (id, name, email)
    series: SubmissionRef | None  # (series id, title, ...)
    series_version: int
    hash: str  # git patch-id --stable
    pull_url: str
    commit_ref: str  # the commit a rule found it in, else ""
    kind: str  # patch | pull | cover


@dataclass(frozen=True)
class SeriesRecord:
    id: int
    name: str
    date: datetime | None
    version: int
    total: int
    received: int
    complete: bool
    submitter: PersonRef
    project: ProjectRef | None
    cover: SubmissionRef | None
    patches: tuple[SubmissionRef, ...]


@dataclass(frozen=True)
class Page:
    """One page of records and whether another follows (Patchwork's ``Link: rel="next"``)."""

    items: tuple[Any, ...]
    has_next: bool


def projects(session: Session, viewer: Viewer) -> list[ProjectRef]:
    """Every visible list as a Patchwork project, by id."""
    return [ProjectRef(m.id, m.name, m.list_id, m.address, m.description)
            for m in session.scalars(select(MailingList).where(visible_list(viewer))
                                     .order_by(MailingList.id))]


def find_project(session: Session, viewer: Viewer, key: str) -> ProjectRef | None:
    """A project by id or by name (git-pw sends ``pw.project``, usually the name)."""
    for project in projects(session, viewer):
        if key == project.name or (key.isdigit() and int(key) == project.id):
            return project
    return None


def _people(session: Session, pks: Sequence[int]) -> dict[int, PersonRef]:
    """Message pk -> its sender as a person (the ``people`` row, else a stand-in id 0)."""
    out: dict[int, PersonRef] = {}
    wanted = sorted(set(pks))
    for start in range(0, len(wanted), 500):
        for pk, pid, name, email, pname in session.execute(
                select(Message.id, Message.sender_id, Message.from_name, Message.from_email,
                       Person.name)
                .outerjoin(Person, Person.id == Message.sender_id)
                .where(Message.id.in_(wanted[start:start + 500]))):
            out[pk] = PersonRef(pid or 0, name or pname or "", email or "")
    return out


def _projects_of(session: Session, viewer: Viewer, pks: Sequence[int]) -> dict[int, ProjectRef]:
    known = {p.name: p for p in projects(session, viewer)}
    return {pk: known[name] for pk, name in _home_lists(session, viewer, pks).items()
            if name in known}


def _commit_refs(session: Session, ids: Sequence[int]) -> dict[int, str]:
    """Patch id -> the commit id its acceptance rests on (found by ``git-scan``, named in an
    "applied" reply, or given with the API's ``commit_ref``), while it is still accepted."""
    out: dict[int, str] = {}
    wanted = sorted(set(ids))
    for start in range(0, len(wanted), 500):
        for oid, to_value, evidence in session.execute(
                select(StateChange.object_id, StateChange.to_value, StateChange.evidence)
                .where(StateChange.object_kind == "patch", StateChange.field == "state",
                       StateChange.object_id.in_(wanted[start:start + 500]))
                .order_by(StateChange.at, StateChange.id)):
            sha = next((t for t in evidence.split() if _SHA_RE.match(t)), "")
            if to_value == "accepted" and sha:
                out[oid] = sha
            else:
                out.pop(oid, None)
    return {k: v for k, v in out.items() if v}


def _patch_records(session: Session, viewer: Viewer, patches: Sequence[Patch]
                   ) -> list[PatchRecord]:
    ids = [p.id for p in patches]
    subjects = _subjects(session, ids)
    people = _people(session, ids)
    homes = _projects_of(session, viewer, ids)
    states = effective_states(session, "patch", ids)
    refs = _commit_refs(session, ids)
    kept = {r.patch_id: r for r in session.scalars(select(PatchState).where(
        PatchState.patch_id.in_(ids)))} if ids else {}
    delegates = {u.id: PersonRef(u.id, u.name, u.email) for u in session.scalars(
        select(User).where(User.id.in_({r.delegate_id for r in kept.values()
                                        if r.delegate_id is not None})))} if kept else {}
    series = {s.id: s for s in session.scalars(select(Series).where(
        Series.id.in_({p.series_id for p in patches if p.series_id is not None})))}
    seen_series = _visible_pks(session, viewer, series)
    out = []
    for p in patches:
        row = kept.get(p.id)
        ser = series.get(p.series_id) if p.series_id in seen_series else None
        out.append(PatchRecord(
            p.id, p.msgid, subjects.get(p.id, p.title), p.date,
            people.get(p.id, PersonRef(0, "", p.sender_email)), homes.get(p.id),
            states.get(p.id, "new"), bool(row.archived) if row is not None else False,
            delegates.get(row.delegate_id) if row is not None and row.delegate_id else None,
            SubmissionRef(ser.id, ser.anchor_msgid, ser.title, ser.date) if ser else None,
            ser.revision if ser else p.revision, p.patch_id, p.pull_url, refs.get(p.id, ""),
            p.kind))
    return out


@dataclass(frozen=True)
class PatchQuery:
    """Patchwork's patch-list filters (``state`` may repeat; empty means any)."""

    project: str = ""
    states: tuple[str, ...] = ()
    submitter: str = ""  # a person id or an e-mail address
    delegate: str = ""  # a user id or name
    msgid: str = ""
    series: int | None = None
    archived: bool | None = None
    hashes: tuple[str, ...] = ()
    since: datetime | None = None
    before: datetime | None = None
    q: str = ""  # words of the subject
    order: str = "date"  # date | -date | id | -id | name | -name


def patch_page(session: Session, viewer: Viewer, query: PatchQuery, page: int, per_page: int
               ) -> Page | None:
    """Patches (and pull requests) as Patchwork lists them; ``None`` for an unknown project.
    Unknown states are :class:`BadFilter`."""
    for state in query.states:
        check_state(state)
    sel = (select(Patch).join(Message, Message.id == Patch.id)
           .outerjoin(PatchState, PatchState.patch_id == Patch.id)
           .where(Patch.kind != "cover", visible_message(viewer)))
    if query.project:
        project = find_project(session, viewer, query.project)
        if project is None:
            return None
        sel = sel.where(Patch.id.in_(select(MessageList.message_id)
                                     .where(MessageList.list_id == project.id)))
    if query.states:
        sel = sel.where(patch_state_column().in_(query.states))
    if query.submitter:
        sel = sel.where(Message.sender_id == int(query.submitter) if query.submitter.isdigit()
                        else Patch.sender_email == query.submitter.strip().lower())
    if query.delegate:
        sel = sel.where(PatchState.delegate_id.in_(select(User.id).where(
            (User.id == int(query.delegate)) if query.delegate.isdigit()
            else (User.name == query.delegate))))
    if query.msgid:
        sel = sel.where(Patch.msgid == query.msgid.strip().strip("<>"))
    if query.series is not None:
        sel = sel.where(Patch.series_id == query.series)
    if query.archived is not None:
        sel = sel.where(func.coalesce(PatchState.archived, False).is_(query.archived))
    if query.hashes:
        sel = sel.where(Patch.patch_id.in_(query.hashes))
    if query.since is not None:
        sel = sel.where(Patch.date >= query.since)
    if query.before is not None:
        sel = sel.where(Patch.date < query.before)
    for word in query.q.split()[:10]:
        sel = sel.where(Message.subject.contains(word))
    key = {"id": Patch.id, "name": Message.subject}.get(query.order.lstrip("-"), Patch.date)
    sel = sel.order_by(key.desc() if query.order.startswith("-") else key, Patch.id)
    per_page = max(1, min(per_page, queries.MAX_PER_PAGE))
    found = list(session.scalars(sel.offset((page - 1) * per_page).limit(per_page + 1)))
    return Page(tuple(_patch_records(session, viewer, found[:per_page])), len(found) > per_page)


def patch_record(session: Session, viewer: Viewer, patch_id: int) -> PatchRecord | None:
    patch = session.scalars(select(Patch).join(Message, Message.id == Patch.id).where(
        Patch.id == patch_id, Patch.kind != "cover", visible_message(viewer))).first()
    return _patch_records(session, viewer, [patch])[0] if patch is not None else None


def _series_records(session: Session, viewer: Viewer, found: Sequence[Series]
                    ) -> list[SeriesRecord]:
    ids = [s.id for s in found]
    people = _people(session, ids)
    homes = _projects_of(session, viewer, ids)
    members: dict[int, list[Patch]] = {}
    if ids:
        for p in session.scalars(select(Patch).join(Message, Message.id == Patch.id).where(
                Patch.series_id.in_(ids), visible_message(viewer))
                .order_by(Patch.counter, Patch.id)):
            members.setdefault(p.series_id or 0, []).append(p)
    subjects = _subjects(session, [p.id for ps in members.values() for p in ps])
    out = []
    for s in found:
        ps = members.get(s.id, [])
        cover = next((SubmissionRef(p.id, p.msgid, subjects.get(p.id, p.title), p.date)
                      for p in ps if p.kind == "cover"), None)
        out.append(SeriesRecord(
            s.id, s.title, s.date, s.revision, s.total, s.received, s.complete,
            people.get(s.id, PersonRef(0, "", s.sender_email)), homes.get(s.id), cover,
            tuple(SubmissionRef(p.id, p.msgid, subjects.get(p.id, p.title), p.date)
                  for p in ps if p.kind != "cover")))
    return out


def series_page(session: Session, viewer: Viewer, project: str = "", submitter: str = "",
                since: datetime | None = None, before: datetime | None = None, q: str = "",
                order: str = "date", page: int = 1, per_page: int = 50) -> Page | None:
    """Series as Patchwork lists them; ``None`` for an unknown project."""
    sel = select(Series).join(Message, Message.id == Series.id).where(visible_message(viewer))
    if project:
        found = find_project(session, viewer, project)
        if found is None:
            return None
        sel = sel.where(Series.id.in_(select(MessageList.message_id)
                                      .where(MessageList.list_id == found.id)))
    if submitter:
        sel = sel.where(Message.sender_id == int(submitter) if submitter.isdigit()
                        else Series.sender_email == submitter.strip().lower())
    if since is not None:
        sel = sel.where(Series.date >= since)
    if before is not None:
        sel = sel.where(Series.date < before)
    for word in q.split()[:10]:
        sel = sel.where(Series.title.contains(word))
    key = {"id": Series.id, "name": Series.title}.get(order.lstrip("-"), Series.date)
    sel = sel.order_by(key.desc() if order.startswith("-") else key, Series.id)
    per_page = max(1, min(per_page, queries.MAX_PER_PAGE))
    rows = list(session.scalars(sel.offset((page - 1) * per_page).limit(per_page + 1)))
    return Page(tuple(_series_records(session, viewer, rows[:per_page])), len(rows) > per_page)


def series_record(session: Session, viewer: Viewer, series_id: int) -> SeriesRecord | None:
    series = session.scalars(select(Series).join(Message, Message.id == Series.id).where(
        Series.id == series_id, visible_message(viewer))).first()
    return _series_records(session, viewer, [series])[0] if series is not None else None


def cover_record(session: Session, viewer: Viewer, cover_id: int
                 ) -> tuple[SubmissionRef, PersonRef, ProjectRef | None, SubmissionRef | None
                            ] | None:
    """A cover letter: itself, its sender, its project and its series."""
    cover = session.scalars(select(Patch).join(Message, Message.id == Patch.id).where(
        Patch.id == cover_id, Patch.kind == "cover", visible_message(viewer))).first()
    if cover is None:
        return None
    series = session.get(Series, cover.series_id) if cover.series_id is not None else None
    return (SubmissionRef(cover.id, cover.msgid, _subjects(session, [cover.id]).get(
                cover.id, cover.title), cover.date),
            _people(session, [cover.id]).get(cover.id, PersonRef(0, "", cover.sender_email)),
            _projects_of(session, viewer, [cover.id]).get(cover.id),
            SubmissionRef(series.id, series.anchor_msgid, series.title, series.date)
            if series is not None else None)


def cover_page(session: Session, viewer: Viewer, project: str = "", page: int = 1,
               per_page: int = 50) -> Page | None:
    sel = select(Patch.id).join(Message, Message.id == Patch.id).where(
        Patch.kind == "cover", visible_message(viewer))
    if project:
        found = find_project(session, viewer, project)
        if found is None:
            return None
        sel = sel.where(Patch.id.in_(select(MessageList.message_id)
                                     .where(MessageList.list_id == found.id)))
    per_page = max(1, min(per_page, queries.MAX_PER_PAGE))
    ids = list(session.scalars(sel.order_by(Patch.date, Patch.id)
                               .offset((page - 1) * per_page).limit(per_page + 1)))
    items = tuple(c for c in (cover_record(session, viewer, i) for i in ids[:per_page])
                  if c is not None)
    return Page(items, len(ids) > per_page)


def person_records(session: Session, viewer: Viewer, q: str = "", person_id: int | None = None,
                   limit: int = 50) -> list[PersonRef]:
    """Senders by id, or whose name or address contains ``q`` (git-pw's ``--submitter NAME``),
    among those with a visible message."""
    sel = select(Person).where(select(Message.id).where(
        Message.sender_id == Person.id, visible_message(viewer)).exists())
    if person_id is not None:
        sel = sel.where(Person.id == person_id)
    if q:
        sel = sel.where(Person.email.contains(q.lower()) | Person.name.contains(q))
    return [PersonRef(p.id, p.name, p.email)
            for p in session.scalars(sel.order_by(Person.id).limit(limit))]


def user_records(session: Session, q: str = "", user_id: int | None = None,
                 limit: int = 50) -> list[PersonRef]:
    """Accounts by id, or by exact name or address (delegates are named, not searched)."""
    sel = select(User)
    if user_id is not None:
        sel = sel.where(User.id == user_id)
    if q:
        sel = sel.where((User.name == q) | (User.email == q.lower()))
    return [PersonRef(u.id, u.name, u.email)
            for u in session.scalars(sel.order_by(User.id).limit(limit))]


def visible_ids(session: Session, viewer: Viewer, ids: Iterable[int]) -> set[int]:
    """Which of these patch or series ids (message pks) the viewer may see."""
    return _visible_pks(session, viewer, ids)
