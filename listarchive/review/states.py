"""Patch and series states: the state machine and the states in force. Changing them is
:mod:`listarchive.review.decisions`'s; who may change what, and the one checked way to change it,
is :mod:`listarchive.review.changes`.

A patch's state is a decision kept in ``patch_states`` by patch id (the message's pk, stable
across ``reindex``); without one it is ``rfc`` for an RFC patch and ``new`` otherwise. Cover
letters have no state of their own: they speak for their series. A series' state follows its
patches (:func:`aggregate`).

Who decides: a person (``via`` web, api, cli or mail) always wins; automatic rules (``via``
rule) never override a person, and among themselves the higher-ranked rule wins
(:data:`RULE_RANK`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from listarchive.archive.batches import among, chunked
from listarchive.archive.models import Patch, PatchState, Series, SeriesState, User
from listarchive.errors import InvalidChange

STATES: tuple[str, ...] = ("new", "under-review", "accepted", "rejected", "rfc", "not-applicable",
                           "changes-requested", "awaiting-upstream", "superseded", "deferred")
HUMAN_VIA = frozenset({"web", "api", "cli"})
# A person's decision sent by mail (``pw-bot: STATE``, "Applied, thanks" from a MAINTAINERS
# maintainer): it outranks rules like a click, and needs no account (the sender is the actor).
MAIL_VIA = "mail"
PERSON_VIA = HUMAN_VIA | {MAIL_VIA}
VIA = PERSON_VIA | {"rule"}
# Which automatic rule may override which: a higher rank replaces a lower one, never a person.
RULE_RANK: dict[str, int] = {"revision": 1, "reply": 2, "git": 3, "header": 4}
# States that end a patch's review: a series whose patches are all here is finished.
DONE = frozenset({"accepted", "rejected", "not-applicable", "superseded"})
KINDS = ("patch", "series")


class StateError(InvalidChange):
    """An unknown state, object or actor, or a change the actor may not make."""


def normalize_state(text: str) -> str | None:
    """A state as people and Patchwork write it -> ours: ``Changes Requested`` and
    ``changes_requested`` -> ``changes-requested``; None when it is not one of :data:`STATES`."""
    name = "-".join(text.strip().lower().replace("_", " ").split())
    return name if name in STATES else None


def default_state(is_rfc: bool) -> str:
    """The state nobody decided: RFC patches and series start as ``rfc``."""
    return "rfc" if is_rfc else "new"


def aggregate(states: Iterable[str], default: str = "new") -> str:
    """A series' state from its patches' states, in this order:

    1. no patches: ``default``; all patches in one state: that state;
    2. any ``changes-requested``: the series needs a new revision, whatever else was decided;
    3. every patch finished (:data:`DONE`): ``accepted`` if any was accepted (the rest were
       dropped or taken elsewhere), else ``rejected``, ``not-applicable``, ``superseded``;
    4. some finished or under review, others not: ``under-review`` (e.g. 2 of 5 applied);
    5. otherwise the most advanced of ``awaiting-upstream``, ``deferred``, ``new``, ``rfc``.
    """
    found = set(states)
    if not found:
        return default
    if len(found) == 1:
        return next(iter(found))
    if "changes-requested" in found:
        return "changes-requested"
    if found <= DONE:
        return next(s for s in ("accepted", "rejected", "not-applicable", "superseded")
                    if s in found)
    if found & DONE or "under-review" in found:
        return "under-review"
    return next(s for s in ("awaiting-upstream", "deferred", "new", "rfc") if s in found)


def patch_state_column() -> ColumnElement[str]:
    """SQL for a patch's effective state, for queries that ``outerjoin(PatchState,
    PatchState.patch_id == Patch.id)`` (filtering a queue by state without loading rows)."""
    return func.coalesce(func.nullif(PatchState.state, ""),
                         case((Patch.is_rfc, "rfc"), else_="new"))


def series_state_column() -> ColumnElement[str]:
    """SQL for a series' state as last computed, for queries that ``outerjoin(SeriesState,
    SeriesState.series_id == Series.id)``."""
    return func.coalesce(func.nullif(SeriesState.state, ""),
                         case((Series.is_rfc, "rfc"), else_="new"))


def patch_state_rows(session: Session, ids: Sequence[int]) -> dict[int, PatchState]:
    rows: dict[int, PatchState] = {}
    for part in chunked(ids):
        rows.update((r.patch_id, r) for r in session.scalars(
            select(PatchState).where(among(session, PatchState.patch_id, part))))
    return rows


def kept_patch_rows(session: Session, ids: Sequence[int]
                    ) -> dict[int, tuple[PatchState, str | None]]:
    """Patch id -> its kept row and its delegate's user name, for those that have one."""
    rows: dict[int, tuple[PatchState, str | None]] = {}
    for part in chunked(ids):
        rows.update((r.PatchState.patch_id, (r.PatchState, r.name)) for r in session.execute(
            select(PatchState, User.name).outerjoin(User, User.id == PatchState.delegate_id)
            .where(among(session, PatchState.patch_id, part))))
    return rows


def loaded_patch_states(session: Session, patches: Sequence[Patch],
                        rows: Mapping[int, PatchState]) -> dict[int, str]:
    """:func:`effective_states` of patches already loaded, with their kept ``rows``: a cover
    letter speaks for its series."""
    covers = [(p.id, p.series_id) for p in patches
              if p.kind == "cover" and p.series_id is not None]
    series = effective_states(session, "series", sorted({sid for _, sid in covers})) if covers else {}
    out = {pid: series.get(sid, "new") for pid, sid in covers}
    for p in patches:
        if p.kind != "cover":
            row = rows.get(p.id)
            out[p.id] = row.state if row is not None and row.state else default_state(p.is_rfc)
    return out


def series_patches(session: Session, series_ids: Sequence[int]) -> dict[int, list[tuple[int, bool]]]:
    """Series id -> its patches (not the cover) as (patch id, is_rfc), in counter order."""
    out: dict[int, list[tuple[int, bool]]] = defaultdict(list)
    for part in chunked(series_ids):
        for sid, pid, rfc in session.execute(
                select(Patch.series_id, Patch.id, Patch.is_rfc)
                .where(among(session, Patch.series_id, part), Patch.kind != "cover")
                .order_by(Patch.counter, Patch.id)):
            if sid is not None:
                out[sid].append((pid, rfc))
    return out


def effective_states(session: Session, kind: str, ids: Sequence[int]) -> dict[int, str]:
    """Effective states of many patches or series at once (ids that do not exist are left out).
    A series' state is computed from its patches now, not read from ``series_states``."""
    if kind == "patch":
        rows = patch_state_rows(session, ids)
        out: dict[int, str] = {}
        for part in chunked(ids):
            for pid, pkind, rfc, sid in session.execute(
                    select(Patch.id, Patch.kind, Patch.is_rfc, Patch.series_id)
                    .where(among(session, Patch.id, part))):
                if pkind == "cover":
                    if sid is not None:
                        out[pid] = effective_states(session, "series", [sid]).get(sid, "new")
                    continue
                row = rows.get(pid)
                out[pid] = row.state if row is not None and row.state else default_state(rfc)
        return out
    if kind != "series":
        raise StateError(f"unknown kind {kind!r} (patch or series)")
    members = series_patches(session, ids)
    patch_rows = patch_state_rows(session, [p for ms in members.values() for p, _ in ms])
    out = {}
    for part in chunked(ids):
        series_rows = {r.series_id: r for r in session.scalars(
            select(SeriesState).where(among(session, SeriesState.series_id, part)))}
        for sid, rfc in session.execute(select(Series.id, Series.is_rfc)
                                        .where(among(session, Series.id, part))):
            default = default_state(rfc)
            if members.get(sid):
                out[sid] = aggregate(
                    (r.state if (r := patch_rows.get(p)) is not None and r.state
                     else default_state(prfc)) for p, prfc in members[sid])
            else:
                srow = series_rows.get(sid)
                out[sid] = srow.state if srow is not None and srow.via and srow.state else default
    return out


def effective_state(session: Session, kind: str, object_id: int) -> str:
    """The state shown for one patch or series; raises :class:`StateError` when it is unknown."""
    found = effective_states(session, kind, [object_id])
    if object_id not in found:
        raise StateError(f"no {kind} {object_id}")
    return found[object_id]
