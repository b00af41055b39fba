"""The two review fields besides the state: a patch's or series' archived flag (hidden from
queues) and its delegate, each change with its history entry. Sessions are the caller's: these
functions never commit.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from listarchive.archive.models import Patch, PatchState, Series, SeriesState, StateChange, User
from listarchive.clock import utcnow
from listarchive.review.states import StateError

# kind -> (the object's model, the model of its review row, that row's key column)
_ROWS: dict[str, tuple[type[Patch] | type[Series], type[PatchState] | type[SeriesState], str]] = {
    "patch": (Patch, PatchState, "patch_id"), "series": (Series, SeriesState, "series_id")}


def _flag_row(session: Session, kind: str, object_id: int) -> PatchState | SeriesState:
    """The review row of a patch or series, created (no state decided) when it has none."""
    if kind not in _ROWS:
        raise StateError(f"unknown kind {kind!r} (patch or series)")
    model, row_model, key = _ROWS[kind]
    if session.get(model, object_id) is None:
        raise StateError(f"no {kind} {object_id}")
    row = session.get(row_model, object_id)
    if row is None:
        row = row_model(**{key: object_id}, state="", archived=False, via="", rule="")
        session.add(row)
    assert isinstance(row, PatchState | SeriesState)
    return row


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
