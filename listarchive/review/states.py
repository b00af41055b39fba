"""Patch and series states: the state machine and its history entries. Who may change what,
and the one checked way to change it, is :mod:`listarchive.review.changes`.

A patch's state is a decision kept in ``patch_states`` by patch id (the message's pk, stable
across ``reindex``); without one it is ``rfc`` for an RFC patch and ``new`` otherwise. Cover
letters have no state of their own: they speak for their series.

A series' state follows its patches (:func:`aggregate`); setting a series sets every one of its
patches, and one history entry is written for the series besides the patches' own entries.

Who decides: a person (``via`` web, api or cli) always wins; automatic rules (``via`` rule) never
override a person, and among themselves the higher-ranked rule wins (:data:`RULE_RANK`), so an
applied patch stays accepted when a v2 of its series arrives later, in whatever order the mail
came. A rule decision already recorded with the same evidence is never applied twice, which makes
re-running the rules over the same mail (``reindex``, a re-import) change nothing.

Like the store, these functions take a session and never commit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from listarchive.archive.batches import chunked
from listarchive.archive.models import (
    Patch,
    PatchState,
    Series,
    SeriesState,
    StateChange,
    User,
)
from listarchive.clock import utcnow
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


@dataclass(frozen=True)
class Decision:
    """A rule's verdict on one patch, with what it rests on (commit id, reply Message-ID...)."""

    patch_id: int
    state: str
    rule: str
    evidence: str = ""
    reason: str = ""



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


def _patch_rows(session: Session, ids: Sequence[int]) -> dict[int, PatchState]:
    rows: dict[int, PatchState] = {}
    for part in chunked(ids):
        rows.update((r.patch_id, r) for r in session.scalars(
            select(PatchState).where(PatchState.patch_id.in_(part))))
    return rows


def _members(session: Session, series_ids: Sequence[int]) -> dict[int, list[tuple[int, bool]]]:
    """Series id -> its patches (not the cover) as (patch id, is_rfc), in counter order."""
    out: dict[int, list[tuple[int, bool]]] = defaultdict(list)
    for part in chunked(series_ids):
        for sid, pid, rfc in session.execute(
                select(Patch.series_id, Patch.id, Patch.is_rfc)
                .where(Patch.series_id.in_(part), Patch.kind != "cover")
                .order_by(Patch.counter, Patch.id)):
            if sid is not None:
                out[sid].append((pid, rfc))
    return out


def effective_states(session: Session, kind: str, ids: Sequence[int]) -> dict[int, str]:
    """Effective states of many patches or series at once (ids that do not exist are left out).
    A series' state is computed from its patches now, not read from ``series_states``."""
    if kind == "patch":
        rows = _patch_rows(session, ids)
        out: dict[int, str] = {}
        for part in chunked(ids):
            for pid, pkind, rfc, sid in session.execute(
                    select(Patch.id, Patch.kind, Patch.is_rfc, Patch.series_id)
                    .where(Patch.id.in_(part))):
                if pkind == "cover":
                    if sid is not None:
                        out[pid] = effective_states(session, "series", [sid]).get(sid, "new")
                    continue
                row = rows.get(pid)
                out[pid] = row.state if row is not None and row.state else default_state(rfc)
        return out
    if kind != "series":
        raise StateError(f"unknown kind {kind!r} (patch or series)")
    members = _members(session, ids)
    patch_rows = _patch_rows(session, [p for ms in members.values() for p, _ in ms])
    out = {}
    for part in chunked(ids):
        series_rows = {r.series_id: r for r in session.scalars(
            select(SeriesState).where(SeriesState.series_id.in_(part)))}
        for sid, rfc in session.execute(select(Series.id, Series.is_rfc)
                                        .where(Series.id.in_(part))):
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


def _may_override(row_state: str, row_via: str, row_rule: str, via: str, rule: str) -> bool:
    if via in PERSON_VIA or not row_state or not row_via:
        return True
    if row_via in PERSON_VIA:
        return False
    return RULE_RANK.get(rule, 0) >= RULE_RANK.get(row_rule, 0)


def _recorded(session: Session, kind: str, ids: Sequence[int]) -> set[tuple[int, str, str, str]]:
    """(object id, rule, evidence, to) of every rule decision already taken on these objects."""
    done: set[tuple[int, str, str, str]] = set()
    for part in chunked(ids):
        done.update((int(i), r, e, t) for i, r, e, t in session.execute(
            select(StateChange.object_id, StateChange.rule, StateChange.evidence,
                   StateChange.to_value)
            .where(StateChange.object_kind == kind, StateChange.via == "rule",
                   StateChange.field == "state", StateChange.object_id.in_(part))))
    return done


def apply_decisions(session: Session, decisions: Sequence[Decision], user_id: int | None = None,
                    via: str = "rule", now: datetime | None = None,
                    refresh: bool = True) -> list[int]:
    """Apply decisions to patches, writing history; returns the ids of patches whose state
    changed. Rule decisions skip covers and unknown patches, patches a person decided, patches
    a higher-ranked rule decided, and decisions already recorded with the same evidence."""
    if via not in VIA:
        raise StateError(f"unknown origin {via!r}")
    now = now or utcnow()
    ids = [d.patch_id for d in decisions]
    patches: dict[int, tuple[bool, int | None]] = {}
    for part in chunked(ids):
        patches.update((pid, (rfc, sid)) for pid, rfc, sid in session.execute(
            select(Patch.id, Patch.is_rfc, Patch.series_id)
            .where(Patch.id.in_(part), Patch.kind != "cover")))
    rows = _patch_rows(session, ids)
    recorded = _recorded(session, "patch", ids) if via == "rule" else set()
    changed: list[int] = []
    touched_series: set[int] = set()
    for d in decisions:
        if d.state not in STATES:
            raise StateError(f"unknown state {d.state!r}")
        if d.patch_id not in patches:
            if via == "rule":
                continue
            raise StateError(f"no patch {d.patch_id} (cover letters take their series' state)")
        rfc, sid = patches[d.patch_id]
        row = rows.get(d.patch_id)
        current = row.state if row is not None and row.state else default_state(rfc)
        if via == "rule":
            if (d.patch_id, d.rule, d.evidence, d.state) in recorded:
                continue
            if row is not None and not _may_override(row.state, row.via, row.rule, via, d.rule):
                continue
        if current == d.state and via == "rule":
            continue
        if row is None:
            row = PatchState(patch_id=d.patch_id, state="", archived=False, via="", rule="")
            session.add(row)
            rows[d.patch_id] = row
        row.state, row.via, row.rule, row.updated_at = d.state, via, d.rule, now
        if current == d.state:
            continue  # a person confirmed what was there: now theirs, nothing to show as history
        session.add(StateChange(object_kind="patch", object_id=d.patch_id, field="state",
                                from_value=current, to_value=d.state, user_id=user_id, via=via,
                                rule=d.rule, evidence=d.evidence[:4000], reason=d.reason[:4000],
                                at=now))
        recorded.add((d.patch_id, d.rule, d.evidence, d.state))
        changed.append(d.patch_id)
        if sid is not None:
            touched_series.add(sid)
    session.flush()
    if refresh:
        refresh_series_states(session, sorted(touched_series), now)
    return changed


@dataclass(frozen=True)
class SeriesDecision:
    """A rule's verdict on a whole series (all its patches)."""

    series_id: int
    state: str
    rule: str
    evidence: str = ""
    reason: str = ""


def apply_series_decisions(session: Session, decisions: Sequence[SeriesDecision],
                           now: datetime | None = None) -> list[int]:
    """Apply rule decisions to whole series at once (their patches, with the patch rules of
    :func:`apply_decisions`); a series whose state changed gets its own history entry. Returns
    those series' ids. Series without patches are left alone: a rule speaks about patches."""
    if not decisions:
        return []
    now = now or utcnow()
    ids = sorted({d.series_id for d in decisions})
    before = effective_states(session, "series", ids)
    members = _members(session, ids)
    apply_decisions(session, [Decision(pid, d.state, d.rule, d.evidence, d.reason)
                              for d in decisions for pid, _ in members.get(d.series_id, [])],
                    None, "rule", now, refresh=False)
    after = effective_states(session, "series", ids)
    changed: list[int] = []
    for d in decisions:
        sid = d.series_id
        if sid in before and before[sid] != after.get(sid) and sid not in changed:
            session.add(StateChange(object_kind="series", object_id=sid, field="state",
                                    from_value=before[sid], to_value=after[sid], via="rule",
                                    rule=d.rule, evidence=d.evidence[:4000],
                                    reason=d.reason[:4000], at=now))
            changed.append(sid)
    session.flush()
    refresh_series_states(session, ids, now, after)
    return changed


def refresh_series_states(session: Session, series_ids: Sequence[int],
                          now: datetime | None = None,
                          computed: dict[int, str] | None = None) -> None:
    """Recompute the kept state of these series from their patches (after state changes and
    after regrouping, which can move patches between series); ``computed`` when the caller has
    just worked them out."""
    if not series_ids:
        return
    now = now or utcnow()
    if computed is None:
        computed = effective_states(session, "series", series_ids)
    for part in chunked(list(computed)):
        rows = {r.series_id: r for r in session.scalars(
            select(SeriesState).where(SeriesState.series_id.in_(part)))}
        for sid in part:
            row = rows.get(sid)
            if row is None:
                session.add(SeriesState(series_id=sid, state=computed[sid], archived=False,
                                        via="", rule="", updated_at=now))
            elif row.state != computed[sid]:
                row.state, row.updated_at = computed[sid], now
    session.flush()


def set_state(session: Session, kind: str, object_id: int, new: str, actor: User | None,
              via: str, evidence: str = "", reason: str = "", rule: str = "") -> bool:
    """Set a patch's or a whole series' state; True when something changed.

    A person (``via`` web/api/cli) needs ``actor``; permissions are the caller's business
    (:func:`can_change`). A rule passes ``actor=None, via="rule"`` and its name in ``rule``.
    Setting a series sets each of its patches (same origin and evidence) and records one entry
    for the series; a series without patches (a cover letter whose patches never arrived) keeps
    its state in ``series_states``.
    """
    if new not in STATES:
        raise StateError(f"unknown state {new!r}; one of: {', '.join(STATES)}")
    if via not in VIA:
        raise StateError(f"unknown origin {via!r}")
    if via in HUMAN_VIA and actor is None:
        raise StateError("a change by a person needs that person")
    if via == "rule" and rule not in RULE_RANK:
        raise StateError(f"unknown rule {rule!r}")
    user_id = actor.id if actor is not None else None
    now = utcnow()
    if kind == "patch":
        return bool(apply_decisions(session, [Decision(object_id, new, rule, evidence, reason)],
                                    user_id, via, now))
    if kind != "series":
        raise StateError(f"unknown kind {kind!r} (patch or series)")
    series = session.get(Series, object_id)
    if series is None:
        raise StateError(f"no series {object_id}")
    members = _members(session, [object_id]).get(object_id, [])
    if members and via == "rule":
        return bool(apply_series_decisions(
            session, [SeriesDecision(object_id, new, rule, evidence, reason)], now))
    before = effective_state(session, "series", object_id)
    if members:
        changed = bool(apply_decisions(
            session, [Decision(pid, new, rule, evidence, reason) for pid, _ in members],
            user_id, via, now, refresh=False))
    else:
        row = session.get(SeriesState, object_id)
        if row is None:
            row = SeriesState(series_id=object_id, state="", archived=False, via="", rule="")
            session.add(row)
        if via == "rule" and not _may_override(row.state, row.via, row.rule, via, rule):
            return False
        row.state, row.via, row.rule, row.updated_at = new, via, rule, now
        changed = before != new
    after = effective_state(session, "series", object_id)
    if before != after and changed:
        session.add(StateChange(object_kind="series", object_id=object_id, field="state",
                                from_value=before, to_value=after, user_id=user_id, via=via,
                                rule=rule, evidence=evidence[:4000], reason=reason[:4000],
                                at=now))
    session.flush()
    refresh_series_states(session, [object_id], now, {object_id: after})
    return changed


def _flag_row(session: Session, kind: str, object_id: int) -> PatchState | SeriesState:
    if kind == "patch":
        if session.get(Patch, object_id) is None:
            raise StateError(f"no patch {object_id}")
        prow = session.get(PatchState, object_id)
        if prow is None:
            prow = PatchState(patch_id=object_id, state="", archived=False, via="", rule="")
            session.add(prow)
        return prow
    if kind != "series":
        raise StateError(f"unknown kind {kind!r} (patch or series)")
    if session.get(Series, object_id) is None:
        raise StateError(f"no series {object_id}")
    srow = session.get(SeriesState, object_id)
    if srow is None:
        srow = SeriesState(series_id=object_id, state="", archived=False, via="", rule="")
        session.add(srow)
    return srow


def set_archived(session: Session, kind: str, object_id: int, archived: bool, actor: User,
                 via: str) -> bool:
    """Archive (hide from queues) or unarchive a patch or series; True when it changed."""
    row = _flag_row(session, kind, object_id)
    if bool(row.archived) == archived:
        return False
    row.archived = archived
    session.add(StateChange(object_kind=kind, object_id=object_id, field="archived",
                            from_value=str(not archived).lower(), to_value=str(archived).lower(),
                            user_id=actor.id, via=via, at=utcnow()))
    session.flush()
    return True


def set_delegate(session: Session, kind: str, object_id: int, delegate: User | None,
                 actor: User, via: str) -> bool:
    """Hand a patch or series to a user (or to nobody); True when it changed."""
    row = _flag_row(session, kind, object_id)
    new_id = delegate.id if delegate is not None else None
    if row.delegate_id == new_id:
        return False
    old = session.get(User, row.delegate_id) if row.delegate_id is not None else None
    row.delegate_id = new_id
    session.add(StateChange(object_kind=kind, object_id=object_id, field="delegate",
                            from_value=old.name if old else "",
                            to_value=delegate.name if delegate else "",
                            user_id=actor.id, via=via, at=utcnow()))
    session.flush()
    return True
