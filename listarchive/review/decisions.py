"""Changing states: a person's or a rule's decision applied to patches and series, each change
with its history entry (``state_changes``). What the states are and which is in force is
:mod:`listarchive.review.states`.

Setting a series sets every one of its patches, and one history entry is written for the series
besides the patches' own entries. A person (``via`` web, api, cli or mail) always wins; a rule
never overrides a person, and among rules the higher-ranked one wins (``RULE_RANK``), so an
applied patch stays accepted when a v2 of its series arrives later, in whatever order the mail
came. A rule decision already recorded with the same evidence is never applied twice, which
makes re-running the rules over the same mail (``reindex``, a re-import) change nothing.

Like the store, these functions take a session and never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from listarchive.archive.batches import among, chunked
from listarchive.archive.models import Patch, PatchState, Series, SeriesState, StateChange, User
from listarchive.clock import utcnow
from listarchive.review.states import (
    HUMAN_VIA,
    PERSON_VIA,
    RULE_RANK,
    STATES,
    VIA,
    StateError,
    default_state,
    effective_state,
    effective_states,
    patch_state_rows,
    series_patches,
)


@dataclass(frozen=True)
class Decision:
    """A rule's verdict on one patch, with what it rests on (commit id, reply Message-ID...)."""

    patch_id: int
    state: str
    rule: str
    evidence: str = ""
    reason: str = ""


@dataclass(frozen=True)
class SeriesDecision:
    """A rule's verdict on a whole series (all its patches)."""

    series_id: int
    state: str
    rule: str
    evidence: str = ""
    reason: str = ""


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
                   StateChange.field == "state", among(session, StateChange.object_id, part))))
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
            .where(among(session, Patch.id, part), Patch.kind != "cover")))
    rows = patch_state_rows(session, ids)
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
    members = series_patches(session, ids)
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
            select(SeriesState).where(among(session, SeriesState.series_id, part)))}
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
    members = series_patches(session, [object_id]).get(object_id, [])
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
