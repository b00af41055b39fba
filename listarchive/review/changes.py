"""The one checked way to change a patch's or a series' state, archived flag or delegate.

Every boundary (the web forms and bulk changes, ``/api/v1``, ``/api/1.2`` for git-pw, the
command line) calls :func:`change`; it raises :class:`~listarchive.errors.NotFound` when the
user cannot see the object (a hidden patch answers like an unknown one),
:class:`~listarchive.errors.Forbidden` when they may see it but not change it, and
:class:`~listarchive.errors.InvalidChange` for an unknown state or delegate, which the
boundaries map to 404, 403 and 400 (or to the command line's messages).

Who may change what: admins anything; others need a grant on one of the lists the patch (for a
series: any of its messages) was seen on, or on one of the subsystems its files belong to.
Anonymous visitors never may. Like the store, nothing here commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from listarchive.access import accounts
from listarchive.access.visibility import viewer_for, visible_ids
from listarchive.archive.batches import scalars_in
from listarchive.archive.db import lock_writes
from listarchive.archive.models import (
    Grant,
    MailingList,
    MessageList,
    Patch,
    PatchSubsystem,
    Series,
    Subsystem,
    User,
)
from listarchive.errors import Forbidden, InvalidChange, NotFound
from listarchive.mail.extract import SUBMISSIONS
from listarchive.review import decisions, flags, states

MAX_REASON = 2000
BOT = "bot"  # the account kind of CI systems (User.kind)


@dataclass(frozen=True)
class ChangeRequest:
    """What to change; ``None`` leaves a field alone. ``state`` is written as people and
    Patchwork write it (``Changes Requested``); ``delegate`` is a user name or id, '' for
    nobody; ``evidence`` is kept with the state change (git-pw's ``commit_ref``)."""

    state: str | None = None
    archived: bool | None = None
    delegate: str | None = None
    reason: str = ""
    evidence: str = ""


def targets(session: Session, kind: str, ids: Sequence[int]) -> dict[int, Patch | Series]:
    """The patches and pull requests (cover letters excluded: they take their series' state;
    review suggestions have none) or series by id."""
    if kind not in states.KINDS:
        raise InvalidChange(f"unknown kind {kind!r} (patch or series)")
    out: dict[int, Patch | Series] = {}
    if kind == "patch":
        out.update((p.id, p) for p in scalars_in(
            session, select(Patch).where(Patch.kind.in_(SUBMISSIONS)), Patch.id, ids))
    else:
        out.update((s.id, s) for s in scalars_in(session, select(Series), Series.id, ids))
    return out


def _scopes_of(session: Session, obj: Patch | Series) -> tuple[set[str], set[str]]:
    """(list names, subsystem names and slugs, lower-cased) a patch or series belongs to."""
    if isinstance(obj, Series):
        ids = [obj.id, *session.scalars(select(Patch.id).where(Patch.series_id == obj.id))]
    else:
        ids = [obj.id]
    lists = {n.lower() for n in session.scalars(
        select(MailingList.name).join(MessageList, MessageList.list_id == MailingList.id)
        .where(MessageList.message_id.in_(ids)))}
    subsystems: set[str] = set()
    for name, slug in session.execute(
            select(Subsystem.name, Subsystem.slug)
            .join(PatchSubsystem, PatchSubsystem.subsystem_id == Subsystem.id)
            .where(PatchSubsystem.patch_id.in_(ids))):
        subsystems.update((name.lower(), slug.lower()))
    return lists, subsystems


def can_change(session: Session, user: User | None, obj: Patch | Series) -> bool:
    """May ``user`` change the state of this patch or series? Admins may change anything; others
    need a grant on one of the lists the message was seen on, or on one of the subsystems its
    files belong to (for a series: any of its messages). Anonymous visitors never may, nor bot
    accounts: their grants are for posting checks (:func:`in_scope`)."""
    if user is None or user.kind == BOT:
        return False
    return in_scope(session, user, obj)


def in_scope(session: Session, user: User, obj: Patch | Series) -> bool:
    """Is this patch or series within ``user``'s grants (or is ``user`` an admin)?"""
    if user.is_admin:
        return True
    grants = session.execute(select(Grant.scope_kind, Grant.scope_name)
                             .where(Grant.user_id == user.id)).all()
    if not grants:
        return False
    lists, subsystems = _scopes_of(session, obj)
    return any((kind == "list" and name.lower() in lists)
               or (kind == "subsystem" and name.lower() in subsystems) for kind, name in grants)


def may_change(session: Session, user: User | None, kind: str, object_id: int) -> bool:
    """Whether the state form of this patch or series should be offered to ``user``."""
    try:
        check(session, user, kind, [object_id])
    except (NotFound, Forbidden, InvalidChange):
        return False
    return True


def check(session: Session, user: User | None, kind: str, ids: Sequence[int]
          ) -> dict[int, Patch | Series]:
    """The objects, once the user is known to see and be allowed to change every one of them
    (all or nothing); raises the first refusal."""
    if user is None:
        raise Forbidden("log in to change states")
    found = targets(session, kind, ids)
    seen = visible_ids(session, viewer_for(session, user), ids)
    for oid in ids:
        if oid not in found or oid not in seen:
            raise NotFound(f"no {kind} {oid}" + (" (cover letters take their series' state)"
                                                 if kind == "patch" else ""))
    for oid in ids:
        if not can_change(session, user, found[oid]):
            raise Forbidden(f"{user.name} may not change {kind} {oid}")
    return found


def _delegate(session: Session, text: str) -> User | None:
    text = text.strip()
    if not text:
        return None
    user = (session.get(User, int(text)) if text.isdigit() and len(text) < 16
            else accounts.get_user(session, text))
    if user is None:
        raise InvalidChange(f"no user {text[:64]!r} to delegate to")
    return user


def change(session: Session, user: User | None, kind: str, ids: Sequence[int],
           request: ChangeRequest, via: str) -> bool:
    """Apply ``request`` to every object (one or a bulk selection), as ``user`` through ``via``
    (web, api or cli); True when anything changed. Nothing is applied unless the user may
    change them all."""
    if via not in states.HUMAN_VIA:
        raise InvalidChange(f"unknown origin {via!r}")
    lock_writes(session)  # the ingest's rules may be deciding on the same patches
    found = check(session, user, kind, ids)
    assert user is not None
    wanted = None
    if request.state is not None:
        wanted = states.normalize_state(request.state)
        if wanted is None:
            raise InvalidChange(f"unknown state {request.state[:40]!r}; one of: "
                                f"{', '.join(states.STATES)}")
    if request.evidence and wanted is None:
        raise InvalidChange("evidence (a commit) is kept with a state change: give a state too")
    delegate = _delegate(session, request.delegate) if request.delegate is not None else None
    changed = False
    for oid in ids:
        if wanted is not None:
            changed |= decisions.set_state(session, kind, found[oid].id, wanted, user, via,
                                        evidence=request.evidence[:4000],
                                        reason=request.reason[:MAX_REASON])
        if request.archived is not None:
            changed |= flags.set_archived(session, kind, oid, request.archived, user, via)
        if request.delegate is not None:
            changed |= flags.set_delegate(session, kind, oid, delegate, user, via)
    return changed
