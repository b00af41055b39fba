"""State history: every change of a patch's or series' state, archived flag and delegate, with
who made it (a person on the site, a token, a command, or a rule with its evidence).

Entries about messages the viewer may not see are left out, and evidence pointing at hidden
mail is dropped, so the history never names a restricted reply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from listarchive.access.visibility import Viewer, visible_ids, visible_msgids
from listarchive.archive.models import Patch, StateChange, User

# A commit id in a rule's evidence (git-scan records the commit it matched).
COMMIT_ID = re.compile(r"^[0-9a-f]{7,64}$")


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
        elif COMMIT_ID.match(token):
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
    # The object itself is known visible: only a series' patches need the lookup.
    seen_patches = visible_ids(session, viewer, patch_ids) if kind == "series" else patch_ids
    tokens = {t.strip("<>") for c, _ in rows for t in c.evidence.split() if "@" in t}
    visible = set(visible_msgids(session, viewer, tokens))
    return tuple(HistoryEntry(c.at, c.object_kind, c.object_id, c.field, c.from_value,
                              c.to_value, name or "", c.via, c.rule,
                              _evidence(c.evidence, visible), c.reason)
                 for c, name in rows
                 if c.object_kind != "patch" or c.object_id in seen_patches)
