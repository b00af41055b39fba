"""CI results on patches, as Patchwork's checks: a bot (or a maintainer) posts a ``state``
(pending, success, warning, fail) under a ``context`` (``netdev/build_32bit``), with a link to
the run and one line of description.

Only the newest check of each context counts; the combined state of a patch is the worst of
those, by Patchwork's order ``pending < success < warning < fail`` (Patchwork's
``Patch.combined_check_state``: a success beside a pending run reads as success), and a patch
without checks is ``pending``. A series combines the newest check of every context of every
one of its patches the same way; a series without checks has no check state.

Who may post: admins, and accounts (people or bots) with a grant on one of the lists or
subsystems the patch belongs to (:func:`listarchive.review.changes.in_scope`): a bot scoped to
list A cannot post on list B. Like the store, nothing here commits.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from listarchive.access.visibility import Viewer, viewer_for, visible_ids
from listarchive.archive.batches import scalars_in, select_in
from listarchive.archive.db import lock_writes
from listarchive.archive.models import Check, Patch, User
from listarchive.clock import utcnow
from listarchive.errors import Forbidden, InvalidChange, NotFound
from listarchive.mail.extract import SUBMISSIONS
from listarchive.review.changes import in_scope

STATES: tuple[str, ...] = ("pending", "success", "warning", "fail")
RANK = {state: n for n, state in enumerate(STATES)}
CONTEXT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,254}$")
URL_RE = re.compile(r"^https?://[^\s<>\"']+$")
MAX_DESCRIPTION = 2000
MAX_URL = 2000
DEFAULT_CONTEXT = "default"  # Patchwork's default context


@dataclass(frozen=True)
class CheckRecord:
    id: int
    patch_id: int
    state: str
    context: str
    target_url: str
    description: str
    user_id: int | None
    user_name: str
    user_email: str
    date: datetime


def combine(states: Iterable[str]) -> str | None:
    """The combined state of the newest checks of each context; None without any."""
    found = [s for s in states if s in RANK]
    return max(found, key=RANK.__getitem__) if found else None


def _newest(rows: Iterable[Check]) -> dict[tuple[int, str], Check]:
    """(patch id, context) -> its newest check (the highest id: ids follow arrival)."""
    out: dict[tuple[int, str], Check] = {}
    for row in rows:
        key = (row.patch_id, row.context)
        if key not in out or row.id > out[key].id:
            out[key] = row
    return out


def _rows(session: Session, patch_ids: Iterable[int]) -> list[Check]:
    return list(scalars_in(session, select(Check), Check.patch_id, sorted(set(patch_ids))))


def patch_states(session: Session, patch_ids: Sequence[int]) -> dict[int, str]:
    """Patch id -> combined check state, for the patches that have checks."""
    by_patch: dict[int, list[str]] = {}
    for (pid, _), row in _newest(_rows(session, patch_ids)).items():
        by_patch.setdefault(pid, []).append(row.state)
    return {pid: state for pid, states in by_patch.items() if (state := combine(states))}


def series_states(session: Session, series_ids: Sequence[int]) -> dict[int, str]:
    """Series id -> combined check state over its patches, for the series that have checks."""
    members = {row.id: row.series_id for row in select_in(
        session, select(Patch.id, Patch.series_id), Patch.series_id, sorted(set(series_ids)))}
    by_series: dict[int, list[str]] = {}
    for (pid, _), row in _newest(_rows(session, members)).items():
        sid = members.get(pid)
        if sid is not None:
            by_series.setdefault(sid, []).append(row.state)
    return {sid: state for sid, states in by_series.items() if (state := combine(states))}


def facets(session: Session, patch_ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
    """What ``check:`` finds for each patch: its combined state and ``CONTEXT:STATE`` of the
    newest check of every context (lower-cased, as the search facets are)."""
    by_patch: dict[int, list[str]] = {}
    for (pid, context), row in _newest(_rows(session, patch_ids)).items():
        by_patch.setdefault(pid, []).append(f"{context.lower()}:{row.state}")
    out = {}
    for pid, values in by_patch.items():
        combined = combine(v.rsplit(":", 1)[1] for v in values)
        out[pid] = tuple(sorted({*values, *([combined] if combined else [])}))
    return out


def _records(session: Session, rows: Sequence[Check]) -> list[CheckRecord]:
    users = {u.id: u for u in session.scalars(select(User).where(
        User.id.in_({r.user_id for r in rows if r.user_id is not None})))} if rows else {}
    out = []
    for r in rows:
        user = users.get(r.user_id) if r.user_id is not None else None
        out.append(CheckRecord(r.id, r.patch_id, r.state, r.context, r.target_url,
                               r.description, r.user_id, user.name if user else "",
                               user.email if user else "", r.created))
    return out


def _visible_patch(session: Session, viewer: Viewer, patch_id: int) -> Patch | None:
    patch = session.get(Patch, patch_id)
    if patch is None or patch.kind not in SUBMISSIONS:
        return None
    return patch if visible_ids(session, viewer, [patch_id]) else None


def patch_checks(session: Session, viewer: Viewer, patch_id: int, user: str = ""
                 ) -> list[CheckRecord] | None:
    """Every check of a patch, oldest first (``user``: only those posted by that account name
    or id); None when the viewer cannot see the patch."""
    if _visible_patch(session, viewer, patch_id) is None:
        return None
    return checks_of(session, patch_id, user)


def checks_of(session: Session, patch_id: int, user: str = "") -> list[CheckRecord]:
    """:func:`patch_checks` of a patch the caller has already found visible (the patch page
    has: no second lookup)."""
    sel = select(Check).where(Check.patch_id == patch_id)
    if user:
        sel = sel.where(Check.user_id.in_(select(User.id).where(
            (User.id == int(user)) if user.isdigit() and len(user) < 16 else (User.name == user))))
    return _records(session, list(session.scalars(sel.order_by(Check.id))))


def check_record(session: Session, viewer: Viewer, patch_id: int, check_id: int
                 ) -> CheckRecord | None:
    if _visible_patch(session, viewer, patch_id) is None:
        return None
    row = session.scalars(select(Check).where(Check.id == check_id,
                                              Check.patch_id == patch_id)).first()
    return _records(session, [row])[0] if row is not None else None


def post(session: Session, user: User | None, patch_id: int, state: str, context: str = "",
         target_url: str = "", description: str = "") -> CheckRecord:
    """Record a check; raises NotFound (no such patch for this user), Forbidden (not within
    the user's grants) or InvalidChange (a bad field, the message names it)."""
    if user is None:
        raise Forbidden("posting checks needs an API token")
    patch = _visible_patch(session, viewer_for(session, user), patch_id)
    if patch is None:
        raise NotFound(f"no patch {patch_id}")
    state = state.strip().lower()
    if state not in RANK:
        raise InvalidChange(f"state: one of {', '.join(STATES)}")
    context = context.strip() or DEFAULT_CONTEXT
    if not CONTEXT_RE.match(context):
        raise InvalidChange("context: letters, digits, '.', '_', '/' and '-', at most 255")
    target_url = target_url.strip()
    if target_url and (len(target_url) > MAX_URL or not URL_RE.match(target_url)):
        raise InvalidChange("target_url: an http:// or https:// URL")
    if len(description) > MAX_DESCRIPTION:
        raise InvalidChange(f"description: at most {MAX_DESCRIPTION} characters")
    if not in_scope(session, user, patch):
        raise Forbidden(f"{user.name} may not post checks on patch {patch_id}")
    row = Check(patch_id=patch_id, user_id=user.id, state=state, context=context,
                target_url=target_url, description=description.strip(), created=utcnow())
    # Under the writers' lock, check ids commit in increasing order: every search index
    # follows them from its own position and would never see one committed below it.
    lock_writes(session)
    session.add(row)
    session.flush()
    return _records(session, [row])[0]
