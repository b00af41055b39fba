"""The read side of the patch-review pages: series lists, series, patches, subsystems.

Like :mod:`listarchive.archive.messageview`, every function takes the :class:`Viewer` it answers for and
returns frozen values, or ``None`` when the thing does not exist *for that viewer*. A series is
visible when its anchor message (cover letter, else first patch) is; inside it, patches and the
replies that gave trailers are kept only when the viewer may see their messages, so a
``Reviewed-by`` sent to a restricted list never shows up (nor counts) on a public page.

States are the effective ones of :mod:`listarchive.review.states` (a series' state computed from its
patches); filters on state read the kept ``series_states`` / ``patch_states`` columns in SQL so a
queue of thousands of open series is one indexed query, not a loop over rows. The review queues
(:mod:`listarchive.review.queues`), state history (:mod:`listarchive.review.history`) and the Patchwork-shaped
records of ``/api/1.2/`` (:mod:`listarchive.review.patchwork`) build on the helpers here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from listarchive.access.visibility import Viewer, visible_list, visible_message
from listarchive.archive import messageview, rawstore
from listarchive.archive.models import (
    MailingList,
    Message,
    MessageList,
    Patch,
    PatchState,
    PatchSubsystem,
    Series,
    SeriesState,
    SeriesSubsystem,
    Subsystem,
    Trailer,
    User,
)
from listarchive.mail.message import parse
from listarchive.mail.patches import extract_patches
from listarchive.review import amready
from listarchive.review.states import (
    STATES,
    effective_states,
    series_state_column,
)
from listarchive.review.trailers import CollectedTrailer, SeriesView, series_view

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
    record: messageview.MessageRecord
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
    threads: tuple[messageview.ThreadSummary, ...]
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


def visible_ids(session: Session, viewer: Viewer, pks: Iterable[int]) -> set[int]:
    """Which of these message pks (patch, series or cover ids) the viewer may see."""
    wanted = sorted(set(pks))
    out: set[int] = set()
    for start in range(0, len(wanted), 500):
        out.update(session.scalars(select(Message.id).where(
            Message.id.in_(wanted[start:start + 500]), visible_message(viewer))))
    return out


def visible_msgids(session: Session, viewer: Viewer, msgids: Iterable[str]) -> dict[str, str]:
    """Visible Message-IDs -> their sender as shown (name, else address)."""
    wanted = sorted(set(msgids))
    out: dict[str, str] = {}
    for start in range(0, len(wanted), 500):
        for msgid, name, email in session.execute(
                select(Message.msgid, Message.from_name, Message.from_email).where(
                    Message.msgid.in_(wanted[start:start + 500]), visible_message(viewer))):
            out[msgid] = name or email
    return out


def home_lists(session: Session, viewer: Viewer, pks: Iterable[int]) -> dict[int, str]:
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
    senders = visible_msgids(session, viewer, [*sources, *msgid_of.values()])
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
    if not visible_ids(session, viewer, [series_id]):
        return None
    view = series_view(session, series_id)
    if view is None:
        return None
    members = [p.id for p in view.patches] + ([view.cover.id] if view.cover else [])
    seen = visible_ids(session, viewer, members)
    patches = tuple(p for p in view.patches if p.id in seen)
    cover = view.cover if view.cover is not None and view.cover.id in seen else None
    return view, patches, cover


def _series_rows(session: Session, viewer: Viewer, ids: Sequence[int]) -> list[SeriesRow]:
    names = _sender_names(session, ids)
    homes = home_lists(session, viewer, ids)
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
                         names.get(sid, ""), homes.get(sid, messageview.ALL), states.get(sid, ""),
                         flags.get(sid, (False, ""))))
    return rows


# --- series lists ------------------------------------------------------------------------------


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


def with_series_state(query: Select[Any]) -> Select[Any]:
    return query.outerjoin(SeriesState, SeriesState.series_id == Series.id)


def apply_filters(query: Select[Any], filters: SeriesFilters) -> Select[Any]:
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
    query = with_series_state(select(Series.id).join(Message, Message.id == Series.id).where(
        visible_message(viewer)))
    if list_name != messageview.ALL:
        lst = session.scalars(select(MailingList.id).where(MailingList.name == list_name,
                                                           visible_list(viewer))).first()
        if lst is None:
            return None
        query = query.where(Series.id.in_(select(MessageList.message_id)
                                          .where(MessageList.list_id == lst)))
    if filters.state:
        query = query.where(series_state_column() == filters.state)
    return apply_filters(query, filters)


def series_list(session: Session, viewer: Viewer, list_name: str, *, state: str = "",
                subsystem: str = "", submitter: str = "", delegate: str = "",
                since: datetime | None = None, until: datetime | None = None,
                page: int = 1, per_page: int = 50) -> SeriesListPage | None:
    """Series anchored on ``list_name`` (or :data:`messageview.ALL`), newest first.

    ``None`` for an unknown or hidden list; :class:`BadFilter` for an unknown state name. An
    unknown subsystem slug, submitter or delegate just matches nothing (they are search terms,
    not ids).
    """
    filters = SeriesFilters(state, subsystem, submitter, delegate, since, until)
    query = _series_filter(session, viewer, list_name, filters)
    if query is None:
        return None
    per_page = max(1, min(per_page, messageview.MAX_PER_PAGE))
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
                           p.counter, p.total, p.date, homes.get(p.id, messageview.ALL),
                           lines.get(p.id, ()), _counts(lines.get(p.id, ())),
                           states.get(p.id, "new"), *flags.get(p.id, (False, "")))
                 for p in patches)


def subjects_of(session: Session, pks: Sequence[int]) -> dict[int, str]:
    if not pks:
        return {}
    return {pk: s for pk, s in session.execute(
        select(Message.id, Message.subject).where(Message.id.in_(list(pks))))}


def _revisions(session: Session, viewer: Viewer, links: Sequence[tuple[int, str]]
               ) -> tuple[RevisionLink, ...]:
    seen = visible_ids(session, viewer, [sid for sid, _ in links])
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
    homes = home_lists(session, viewer, pks)
    subjects = subjects_of(session, pks)
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
               home_lists(session, viewer, [series_id]).get(series_id, messageview.ALL),
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
    visible = visible_msgids(session, viewer,
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
    record = messageview.find_message(session, viewer, patch.msgid) if patch is not None else None
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
                              home_lists(session, viewer, [sid]).get(sid, messageview.ALL),
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
                     else messageview.ALL, lines, _counts(lines),
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
    series = series_list(session, viewer, messageview.ALL, subsystem=slug, per_page=limit)
    assert series is not None
    return SubsystemPage(_subsystem_ref(sub), tuple(messageview.thread_summaries(session, viewer,
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
    record = messageview.find_message(session, viewer, patch.msgid) if patch is not None else None
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
            "date": messageview.iso(row.date), "state": row.state, "archived": row.archived,
            "delegate": row.delegate or None, "received": row.received,
            "total": row.total, "complete": row.complete, "missing": list(row.missing),
            "counts": {"acked": row.counts.acked, "reviewed": row.counts.reviewed,
                       "tested": row.counts.tested}}


def _revision_json(link: RevisionLink) -> dict[str, Any]:
    return {"id": link.id, "version": link.revision, "title": link.title,
            "date": messageview.iso(link.date), "reason": link.reason}


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
