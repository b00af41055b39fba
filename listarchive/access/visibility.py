"""Who is looking, and what they may see: the one place read queries ask.

Every read query takes a :class:`Viewer` and narrows its SQL with :func:`visible_message` or
:func:`visible_list`. A message the viewer may not see must answer exactly like a Message-ID that
was never archived (404, ``None``), or the archive would confirm that a private report exists.

Two rules apply, both here:

- Lists: messages live on lists and a list declared ``restricted = true`` is hidden from viewers
  without a grant on it (``Grant`` rows of kind ``list``) and from anonymous visitors.
- Embargoes (:mod:`listarchive.access.embargo`): the messages an embargo names (its report,
  the thread a person restricted, replies to those as they arrive) are hidden, whatever their
  lists, from everyone but admins and the users, groups and list grantees the embargo allows,
  until it is disclosed. Membership is per message, so a reply that merges a public thread with
  an embargoed one hides itself, never the public messages. A message several active embargoes
  hide is shown only to viewers every one of them allows.

The search index stores one access key per document (``public``, ``list:NAME`` or
``embargo:ID``, see :func:`embargo_keys`) and :meth:`Viewer.search_keys` hands the viewer's keys
to it, so hits and totals never count mail the viewer may not read.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, false, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased

from listarchive.archive.batches import chunked, in_list, rows_in
from listarchive.archive.models import (
    Embargo,
    EmbargoAllow,
    EmbargoMember,
    Grant,
    Group,
    GroupMember,
    MailingList,
    Message,
    MessageList,
    User,
)


@dataclass(frozen=True)
class Viewer:
    """The person behind a request. The default is an anonymous visitor."""

    user: str | None = None
    is_admin: bool = False
    # Restricted lists this viewer was granted (by name), besides what admins see anyway.
    lists: frozenset[str] = field(default_factory=frozenset)
    user_id: int | None = None
    groups: frozenset[str] = field(default_factory=frozenset)
    # Ids of the embargoes that allow this viewer (by user, group or list), see viewer_for.
    embargoes: frozenset[int] = field(default_factory=frozenset)

    @property
    def anonymous(self) -> bool:
        return self.user is None

    def search_keys(self) -> frozenset[str]:
        """Access keys handed to the search index: ``public`` plus ``list:NAME`` grants.

        The index stores the same keys per document, so search filters without asking the
        database, and a hit the viewer may not see never reaches a result page.
        """
        keys = {"public"}
        if self.is_admin:
            keys.add("admin")
        keys.update(f"list:{name}" for name in self.lists)
        keys.update(f"embargo:{eid}" for eid in self.embargoes)
        return frozenset(keys)


ANONYMOUS = Viewer()


@functools.lru_cache(maxsize=512)
def visible_list(viewer: Viewer) -> ColumnElement[bool]:
    """SQL condition on :class:`MailingList`: lists this viewer may browse."""
    if viewer.is_admin:
        return true()
    if viewer.lists:
        return (MailingList.restricted.is_(False)) | MailingList.name.in_(sorted(viewer.lists))
    return MailingList.restricted.is_(False)


def viewer_for(session: Session, user: User | None) -> Viewer:
    """The :class:`Viewer` of a logged-in ``user`` (``None``: anonymous).

    Lists come from the user's ``Grant`` rows of kind ``list``, groups from ``GroupMember``, and
    the allowed embargoes are resolved once here, so the SQL of every query of the request only
    compares embargo ids. A user deleted while logged in comes back as ``None`` from the
    session lookup and is therefore anonymous.
    """
    if user is None:
        return ANONYMOUS
    lists = frozenset(session.scalars(select(Grant.scope_name).where(
        Grant.user_id == user.id, Grant.scope_kind == "list")))
    groups = frozenset(session.scalars(
        select(Group.name).join(GroupMember, GroupMember.group_id == Group.id)
        .where(GroupMember.user_id == user.id)))
    allowed = [and_(EmbargoAllow.kind == "user", EmbargoAllow.name == user.name)]
    if groups:
        allowed.append(and_(EmbargoAllow.kind == "group", EmbargoAllow.name.in_(sorted(groups))))
    if lists:
        allowed.append(and_(EmbargoAllow.kind == "list", EmbargoAllow.name.in_(sorted(lists))))
    embargoes = frozenset(session.scalars(select(EmbargoAllow.embargo_id).where(or_(*allowed))))
    return Viewer(user=user.name, is_admin=user.is_admin, lists=lists, user_id=user.id,
                  groups=groups, embargoes=embargoes)


def active_embargo() -> ColumnElement[bool]:
    """SQL condition on :class:`Embargo`: still in force (a passed ``until`` keeps it in force
    until :func:`listarchive.access.embargo.expire` discloses it and records that it did)."""
    return Embargo.disclosed_at.is_(None)


@functools.lru_cache(maxsize=512)
def hidden_msgids(viewer: Viewer) -> Select[str]:
    """SELECT of the Message-IDs an active embargo that leaves this viewer out hides (empty for
    admins; usually empty for everyone, embargoes are few)."""
    query = (select(EmbargoMember.msgid).join(Embargo, Embargo.id == EmbargoMember.embargo_id)
             .where(active_embargo()))
    if viewer.is_admin:
        return query.where(false())
    if viewer.embargoes:
        query = query.where(Embargo.id.not_in(sorted(viewer.embargoes)))
    return query


def _hidden_by_embargo(viewer: Viewer) -> ColumnElement[bool]:
    """SQL condition on :class:`Message`: an active embargo that does not allow this viewer
    hides it (one indexed lookup by Message-ID)."""
    query = (select(EmbargoMember.msgid).join(Embargo, Embargo.id == EmbargoMember.embargo_id)
             .where(EmbargoMember.msgid == Message.msgid, active_embargo()))
    if viewer.embargoes:
        query = query.where(Embargo.id.not_in(sorted(viewer.embargoes)))
    return exists(query)


@functools.lru_cache(maxsize=512)
def visible_message(viewer: Viewer) -> ColumnElement[bool]:
    """SQL condition on :class:`Message`: on at least one list this viewer may browse, and not in
    a thread under an embargo that leaves this viewer out.

    Every page, download, feed and API answer uses this, so a hidden message is an unknown one.
    """
    if viewer.is_admin:
        return true()
    return and_(_on_visible_list(viewer, Message.id), ~_hidden_by_embargo(viewer))


def _on_visible_list(viewer: Viewer, message_id: Any) -> ColumnElement[bool]:
    """SQL condition: the message whose pk is ``message_id`` is on a list this viewer may
    browse.

    Ingest puts every message on at least one list (the fallback list when nothing else
    matches), so while no list is closed to this viewer the condition holds for every message.
    That case is tested first, by an uncorrelated subquery the database evaluates once per
    statement; the per-row membership lookup only runs when some list is restricted (on a
    4,000-series queue it was a third of the query).
    """
    return ~exists(select(MailingList.id).where(~visible_list(viewer))) | exists(
        select(MessageList.message_id)
        .join(MailingList, MailingList.id == MessageList.list_id)
        .where(MessageList.message_id == message_id, visible_list(viewer)))


def visible_id(viewer: Viewer, message_id: InstrumentedAttribute[int]) -> ColumnElement[bool]:
    """:func:`visible_message` for a column holding a message's primary key (a series or patch
    id), without joining :class:`Message`: the list check reads the membership index, and the
    embargo check collects the hidden messages once (an uncorrelated subquery, empty while no
    embargo is in force)."""
    if viewer.is_admin:
        return true()
    hidden = select(Message.id).where(Message.msgid.in_(hidden_msgids(viewer)))
    return and_(_on_visible_list(viewer, message_id), message_id.not_in(hidden))


@functools.lru_cache(maxsize=512)
def hidden_threads(viewer: Viewer) -> Select[int | None]:
    """SELECT of the threads every stored message of which an embargo hides from this viewer
    (the list index leaves them out). A public thread that a hidden reply joined keeps its
    place: only the reply is hidden."""
    other = aliased(Message)
    hidden = hidden_msgids(viewer)
    return (select(Message.thread_id).where(Message.msgid.in_(hidden))
            .where(~exists(select(other.id).where(other.thread_id == Message.thread_id,
                                                  other.msgid.not_in(hidden)))))


def embargo_keys(session: Session, message_pks: Sequence[int]) -> dict[int, str]:
    """Message pk -> ``embargo:ID`` search key for those in a thread under an active embargo
    (the lowest id when merged threads carry several: the database check still asks for all)."""
    out: dict[int, str] = {}
    for part in chunked(message_pks):
        for pk, eid in session.execute(
                select(Message.id, Embargo.id)
                .join(EmbargoMember, EmbargoMember.msgid == Message.msgid)
                .join(Embargo, Embargo.id == EmbargoMember.embargo_id)
                .where(Message.id.in_(part), active_embargo())
                .order_by(Message.id, Embargo.id.desc())):
            out[pk] = f"embargo:{eid}"
    return out


def list_allowed(viewer: Viewer, restricted: bool, name: str) -> bool:
    """The Python twin of :func:`visible_list` for a list already loaded."""
    return viewer.is_admin or not restricted or name in viewer.lists


@functools.lru_cache(maxsize=512)
def _visible_ids_select(viewer: Viewer) -> Select[int]:
    return select(Message.id).where(Message.id.in_(in_list()), visible_message(viewer))


def visible_ids(session: Session, viewer: Viewer, pks: Iterable[int]) -> set[int]:
    """Which of these message pks (also patch, series and cover ids) the viewer may see."""
    return {row.id for row in rows_in(session, _visible_ids_select(viewer), pks)}


def visible_msgids(session: Session, viewer: Viewer, msgids: Iterable[str]) -> dict[str, str]:
    """Visible Message-IDs -> their sender as shown (name, else address)."""
    out: dict[str, str] = {}
    for part in chunked(msgids):
        for row in session.execute(select(Message.msgid, Message.from_name, Message.from_email)
                                   .where(Message.msgid.in_(part), visible_message(viewer))):
            out[row.msgid] = row.from_name or row.from_email
    return out

