"""Patchwork-shaped records for ``/api/1.2/``: projects (our lists), people, users, patches,
series and cover letters with Patchwork's field names, filters and paging, so that ``git-pw``
works against the archive. Every record is cut to what the viewer may see.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from listarchive.access.visibility import Viewer, visible_ids, visible_list, visible_message
from listarchive.archive import listview, messageview
from listarchive.archive.batches import select_in
from listarchive.archive.models import (
    MailingList,
    Message,
    MessageList,
    Patch,
    PatchState,
    Person,
    Series,
    StateChange,
    User,
)
from listarchive.mail.extract import SUBMISSIONS
from listarchive.mail.pulls import PullRequest
from listarchive.review import checks
from listarchive.review.history import COMMIT_ID
from listarchive.review.seriesview import check_state, subjects_of
from listarchive.review.states import effective_states, patch_state_column


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
    pull_url: str  # URL and ref, as Patchwork stores them
    commit_ref: str  # the commit a rule found it in, else ""
    kind: str  # patch | pull | cover
    check: str = "pending"  # combined CI state (listarchive.review.checks)


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
    pull_msgid: str = ""  # a pull request's series: the mail that asks, not an mbox for git am


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
    return {row.id: PersonRef(row.sender_id or 0, row.from_name or row.name or "",
                              row.from_email or "")
            for row in select_in(session, select(Message.id, Message.sender_id,
                                                 Message.from_name, Message.from_email,
                                                 Person.name)
                                 .outerjoin(Person, Person.id == Message.sender_id),
                                 Message.id, pks)}


def _projects_of(session: Session, viewer: Viewer, pks: Sequence[int]) -> dict[int, ProjectRef]:
    known = {p.name: p for p in projects(session, viewer)}
    return {pk: known[name] for pk, name in messageview.home_lists(session, viewer, pks).items()
            if name in known}


def _commit_refs(session: Session, ids: Sequence[int]) -> dict[int, str]:
    """Patch id -> the commit id its acceptance rests on (found by ``git-scan``, named in an
    "applied" reply, or given with the API's ``commit_ref``), while it is still accepted."""
    out: dict[int, str] = {}
    changes = sorted(select_in(session, select(StateChange.id, StateChange.at,
                                                StateChange.object_id, StateChange.to_value,
                                                StateChange.evidence)
                               .where(StateChange.object_kind == "patch",
                                      StateChange.field == "state"),
                               StateChange.object_id, ids), key=lambda row: (row.at, row.id))
    for row in changes:
        sha = next((t for t in row.evidence.split() if COMMIT_ID.match(t)), "")
        if row.to_value == "accepted" and sha:
            out[row.object_id] = sha
        else:
            out.pop(row.object_id, None)
    return {k: v for k, v in out.items() if v}


def _patch_records(session: Session, viewer: Viewer, patches: Sequence[Patch]
                   ) -> list[PatchRecord]:
    ids = [p.id for p in patches]
    subjects = subjects_of(session, ids)
    people = _people(session, ids)
    homes = _projects_of(session, viewer, ids)
    states = effective_states(session, "patch", ids)
    refs = _commit_refs(session, ids)
    check_states = checks.patch_states(session, ids)
    kept = {r.patch_id: r for r in session.scalars(select(PatchState).where(
        PatchState.patch_id.in_(ids)))} if ids else {}
    delegates = {u.id: PersonRef(u.id, u.name, u.email) for u in session.scalars(
        select(User).where(User.id.in_({r.delegate_id for r in kept.values()
                                        if r.delegate_id is not None})))} if kept else {}
    series = {s.id: s for s in session.scalars(select(Series).where(
        Series.id.in_({p.series_id for p in patches if p.series_id is not None})))}
    seen_series = visible_ids(session, viewer, series)
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
            ser.revision if ser else p.revision, p.patch_id,
            PullRequest(p.pull_url, p.pull_ref).pull_url, refs.get(p.id, ""),
            p.kind, check_states.get(p.id, "pending")))
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
    Unknown states are :class:`listarchive.review.seriesview.BadFilter`."""
    for state in query.states:
        check_state(state)
    sel = (select(Patch).join(Message, Message.id == Patch.id)
           .outerjoin(PatchState, PatchState.patch_id == Patch.id)
           .where(Patch.kind.in_(SUBMISSIONS), visible_message(viewer)))
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
        sel = sel.where(Message.subject.icontains(word, autoescape=True))
    key = {"id": Patch.id, "name": Message.subject}.get(query.order.lstrip("-"), Patch.date)
    sel = sel.order_by(key.desc() if query.order.startswith("-") else key, Patch.id)
    per_page = max(1, min(per_page, listview.MAX_PER_PAGE))
    found = list(session.scalars(sel.offset((page - 1) * per_page).limit(per_page + 1)))
    return Page(tuple(_patch_records(session, viewer, found[:per_page])), len(found) > per_page)


def patch_record(session: Session, viewer: Viewer, patch_id: int) -> PatchRecord | None:
    patch = session.scalars(select(Patch).join(Message, Message.id == Patch.id).where(
        Patch.id == patch_id, Patch.kind.in_(SUBMISSIONS), visible_message(viewer))).first()
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
    subjects = subjects_of(session, [p.id for ps in members.values() for p in ps])
    out = []
    for s in found:
        ps = members.get(s.id, [])
        cover = next((SubmissionRef(p.id, p.msgid, subjects.get(p.id, p.title), p.date)
                      for p in ps if p.kind == "cover"), None)
        out.append(SeriesRecord(
            s.id, s.title, s.date, s.revision, s.total, s.received, s.complete,
            people.get(s.id, PersonRef(0, "", s.sender_email)), homes.get(s.id), cover,
            tuple(SubmissionRef(p.id, p.msgid, subjects.get(p.id, p.title), p.date)
                  for p in ps if p.kind != "cover"),
            next((p.msgid for p in ps if p.kind == "pull"), "")))
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
        sel = sel.where(Series.title.icontains(word, autoescape=True))
    key = {"id": Series.id, "name": Series.title}.get(order.lstrip("-"), Series.date)
    sel = sel.order_by(key.desc() if order.startswith("-") else key, Series.id)
    per_page = max(1, min(per_page, listview.MAX_PER_PAGE))
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
    return (SubmissionRef(cover.id, cover.msgid, subjects_of(session, [cover.id]).get(
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
    per_page = max(1, min(per_page, listview.MAX_PER_PAGE))
    ids = list(session.scalars(sel.order_by(Patch.date.asc().nulls_last(), Patch.id)
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
        sel = sel.where(Person.email.icontains(q, autoescape=True)
                        | Person.name.icontains(q, autoescape=True))
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
