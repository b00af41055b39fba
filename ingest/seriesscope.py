"""What a batch of new patch mails can change in the series, read without reading their senders'
whole history.

:func:`listarchive.mail.series.group_series` puts a patch in a series from: the patches of its
sender threaded with it (and a cover of another sender it answers, or another sender's patches
answering it when it is a cover), and, for mail threaded to nothing, its sender's unthreaded
mails of the same revision and total less than 12 hours apart, chained. :func:`patch_scope`
reads those for the new mail, then the same for everything it read and every member of the
series it read was in, until nothing new comes in. What it read is then a union of whole
stored series and of everything that decides them, so grouping it gives what grouping every
patch would give there.

:func:`listarchive.mail.series.link_revisions` gives a series its older revision from the series
sharing its change-id, the series of its sender with its title, and the series its mail points
at. :func:`link_scope` finds the stored series whose link a regroup can change (those sharing a
change-id or title with a regrouped one, those pointing at regrouped mail) and reads what their
links and the regrouped series' links depend on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from listarchive.archive.batches import among, chunked
from listarchive.archive.db import UNCACHED
from listarchive.archive.models import Message, Patch, PatchLink, Series
from listarchive.mail.extract import SUGGESTION
from listarchive.mail.series import UNTHREADED_WINDOW, PatchFact, SeriesGroup, title_key
from listarchive.mail.subject import SubjectInfo

_FACT_COLUMNS = (Patch.id, Patch.msgid, Patch.sender_email, Message.subject, Patch.date,
                 Message.parent_msgid, Message.references, Patch.kind, Patch.change_id,
                 Patch.links, Patch.series_id, Message.thread_id, Patch.revision, Patch.total)

_GAPS_A_QUERY = 100  # date windows read in one statement (an OR of index ranges)

SERIES_COLUMNS = (Series.id, Series.anchor_msgid, Series.cover_msgid, Series.title,
                  Series.revision, Series.total, Series.received, Series.complete,
                  Series.missing, Series.is_rfc, Series.sender_email, Series.date,
                  Series.change_id, Series.title_key)


@dataclass
class PatchScope:
    """The patch mails a regroup reads: their facts, ids and stored series."""

    facts: dict[str, PatchFact] = field(default_factory=dict)
    pk_of: dict[str, int] = field(default_factory=dict)
    member_of: dict[int, int | None] = field(default_factory=dict)  # patch id: series id

    @property
    def series_ids(self) -> set[int]:
        return {sid for sid in self.member_of.values() if sid is not None}


def _fact(row: Any) -> PatchFact:
    return PatchFact(
        msgid=row.msgid, sender=row.sender_email, subject=SubjectInfo.parse(row.subject),
        date=row.date, parent=row.parent_msgid, references=tuple(row.references.split()),
        has_diff=row.kind == "patch", change_id=row.change_id, links=tuple(row.links.split()))


def patch_scope(session: Session, seeds: Iterable[str]) -> PatchScope:
    """Every patch mail whose series the patch mails ``seeds`` (Message-IDs) can change, and
    everything that decides those series."""
    scope = PatchScope()
    threads: set[tuple[int, str]] = set()
    series: set[int] = set()
    read_windows: dict[tuple[str, int, int], list[tuple[datetime, datetime]]] = {}

    def read(where: ColumnElement[bool], keep: Any = None, options: Any = None) -> list[Any]:
        rows = session.execute(select(*_FACT_COLUMNS).join(Message, Message.id == Patch.id)
                               .where(Patch.kind != SUGGESTION, where),
                               execution_options=options or {}).all()
        out = []
        for row in rows:
            if row.msgid in scope.pk_of or (keep is not None and not keep(row)):
                continue
            scope.facts[row.msgid] = _fact(row)
            scope.pk_of[row.msgid] = row.id
            scope.member_of[row.id] = row.series_id
            out.append(row)
        return out

    fresh: list[Any] = []
    for part in chunked(seeds):
        fresh += read(among(session, Patch.msgid, part))
    while fresh:
        found = fresh
        fresh = []
        pairs = {(r.thread_id, r.sender_email) for r in found if r.thread_id is not None}
        pairs -= threads
        threads |= pairs
        # By thread alone: a sender condition would let the database walk all of the sender's
        # patches instead of the thread's messages. Another sender's mail joins only as a
        # cover a patch in scope answers, or as a patch answering a cover in scope.
        parents = {f.parent for f in scope.facts.values() if f.parent}
        covers = {m for m, f in scope.facts.items() if f.subject.is_cover}

        def ours(row: Any, seen: set[tuple[int, str]] = threads, parents: set[str] = parents,
                 covers: set[str] = covers) -> bool:
            return ((row.thread_id, row.sender_email) in seen or row.msgid in parents
                    or row.parent_msgid in covers)

        for part in chunked({t for t, _ in pairs}):
            fresh += read(among(session, Message.thread_id, part), ours)
        wanted = {r.series_id for r in found if r.series_id is not None} - series
        series |= wanted
        for part in chunked(wanted):
            fresh += read(among(session, Patch.series_id, part))
        gaps: list[ColumnElement[bool]] = []
        for row in found:
            if row.references or row.date is None or row.total < 1:
                continue
            key = (row.sender_email, row.revision, row.total)
            windows = read_windows.setdefault(key, [])
            gaps.extend(and_(Patch.sender_email == key[0], Patch.date >= lo, Patch.date <= hi,
                             Patch.revision == key[1], Patch.total == key[2])
                        for lo, hi in _missing(windows, row.date - UNTHREADED_WINDOW,
                                               row.date + UNTHREADED_WINDOW))
        for start in range(0, len(gaps), _GAPS_A_QUERY):
            fresh += read(and_(or_(*gaps[start:start + _GAPS_A_QUERY]),
                               Message.references == ""), options=UNCACHED)
    return scope


def _missing(windows: list[tuple[datetime, datetime]], lo: datetime,
             hi: datetime) -> list[tuple[datetime, datetime]]:
    """The parts of [lo, hi] no window covers; the windows then cover [lo, hi] too."""
    gaps = []
    start = lo
    for a, b in sorted(windows):
        if a > hi:
            break
        if b < start:
            continue
        if a > start:
            gaps.append((start, a))
        start = max(start, b)
    if start < hi:
        gaps.append((start, hi))
    windows.append((lo, hi))
    return gaps


@dataclass
class LinkScope:
    """What revision links are computed from: the regrouped series and the stored ones their
    links and the changed links depend on, the mail pointing at earlier postings among them,
    and which series' links are recomputed (anchors) with their ids."""

    groups: list[SeriesGroup]
    facts: dict[str, PatchFact]
    recompute: set[str]
    ids: dict[str, int]


def link_scope(session: Session, scope: PatchScope, groups: Sequence[SeriesGroup],
               old: Sequence[Any]) -> LinkScope:
    """The link scope of a regroup: ``groups`` are the new groups of ``scope``, ``old`` the
    stored series rows they replace (:data:`SERIES_COLUMNS`)."""
    replaced = {row.id for row in old}
    stored: dict[int, Any] = {}

    def families(changes: set[str], titles: set[tuple[str, str]]) -> set[int]:
        found: set[int] = set()
        conds: list[ColumnElement[bool]] = []
        changes = changes - {""}
        for some in chunked(changes):
            conds.append(Series.change_id.in_(some))
        titles = {t for t in titles if t[1]}
        for pairs in chunked(titles):  # two lists an index reads (a row-value IN is a scan)
            conds.append(Series.sender_email.in_({s for s, _ in pairs})
                         & Series.title_key.in_({k for _, k in pairs}))
        for cond in conds:
            for row in session.execute(select(*SERIES_COLUMNS).where(cond)):
                if row.id not in replaced and (row.change_id in changes
                                               or (row.sender_email, row.title_key) in titles):
                    stored[row.id] = row
                    found.add(row.id)
        return found

    # Stored series whose link may change: same change-id or title as a regrouped series (before
    # or after), or pointing at regrouped mail. (A reply is never a patch fact, see
    # listarchive.mail.extract.classify: only a series' own mail points for it.)
    recompute = families(
        {g.change_id for g in groups} | {row.change_id for row in old},
        {(g.sender, title_key(g.title)) for g in groups}
        | {(row.sender_email, row.title_key) for row in old})
    for part in chunked(scope.facts):
        recompute.update(sid for sid in session.scalars(
            select(Patch.series_id).join(PatchLink, PatchLink.patch_id == Patch.id)
            .where(among(session, PatchLink.target_msgid, part), Patch.series_id.is_not(None)))
            if sid is not None and sid not in replaced)
    _read_series(session, recompute, stored)

    # What the recomputed links depend on: the families of the stored series among them, the
    # mail pointing from them, and the series that mail points at.
    dependents = [row for sid, row in stored.items() if sid in recompute]
    families({r.change_id for r in dependents}, {(r.sender_email, r.title_key) for r in dependents})
    sources = {m: f for m, f in scope.facts.items() if f.links}
    for sids in chunked(recompute):
        sources.update((f.msgid, f) for f in _sources(session, Patch.series_id.in_(sids)))
    targets = {m for f in sources.values() for m in f.links if m not in scope.facts}
    _read_series(session, _series_of(session, targets) - replaced, stored)
    members = _members(session, stored)
    out = list(groups) + [_stored_group(row, members.get(row.id, ())) for row in stored.values()]
    ids = {row.anchor_msgid: row.id for row in stored.values()}
    return LinkScope(out, {**scope.facts, **sources},
                     {g.anchor for g in groups} | {stored[sid].anchor_msgid for sid in recompute},
                     ids)


def _sources(session: Session, where: ColumnElement[bool]) -> list[PatchFact]:
    """The patch mails that point at earlier postings, of those ``where`` selects."""
    rows = session.execute(select(*_FACT_COLUMNS).join(Message, Message.id == Patch.id)
                           .where(Patch.kind != SUGGESTION, Patch.links != "", where))
    return [_fact(row) for row in rows]


def _series_of(session: Session, msgids: Iterable[str]) -> set[int]:
    """The stored series these Message-IDs are members of."""
    found: set[int] = set()
    for part in chunked(msgids):
        found.update(session.scalars(select(Patch.series_id).where(
            among(session, Patch.msgid, part), Patch.series_id.is_not(None))))
    return found


def _read_series(session: Session, ids: set[int], stored: dict[int, Any]) -> None:
    for part in chunked(ids - set(stored)):
        for row in session.execute(select(*SERIES_COLUMNS).where(among(session, Series.id, part))):
            stored[row.id] = row


def _members(session: Session, stored: dict[int, Any]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for part in chunked(stored):
        for sid, msgid in session.execute(select(Patch.series_id, Patch.msgid)
                                          .where(among(session, Patch.series_id, part))):
            if sid is not None:
                out.setdefault(sid, []).append(msgid)
    return out


def _stored_group(row: Any, members: Sequence[str]) -> SeriesGroup:
    """A stored series as link_revisions reads it (members only for who owns a Message-ID)."""
    patches = tuple(sorted((0, m) for m in members if m != row.cover_msgid))
    return SeriesGroup(
        anchor=row.anchor_msgid, cover=row.cover_msgid or None, patches=patches,
        revision=row.revision, total=row.total, sender=row.sender_email, title=row.title,
        complete=row.complete, missing=(), change_id=row.change_id, date=row.date)

