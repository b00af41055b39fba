"""Embargoes: security reports visible to a few until they are disclosed.

An embargo hides messages, named by Message-ID (:class:`~listarchive.archive.models.EmbargoMember`):
its report (the anchor), the whole thread when a person restricted it, and every message that
replies to a hidden one, whenever it arrives (:mod:`listarchive.access.embargorules`). The rules,
decided once:

- **Who sees**: admins, and the users, groups and list grantees an embargo allows. An embargo
  made by an ingest rule allows the grantees of the lists the report arrived on.
- **Public stays public**: a message anyone could read is never hidden by mail that arrives
  later. A reply that references both an embargoed report and a public thread (merging the two
  threads) is itself hidden, as a reply to the report; the public messages stay where they were.
  Only a person (``listarchive restrict``) can hide messages that were public, and the audit log
  lists every message whose visibility changed, by whom or by which rule.
- **Ingest rules** (:mod:`listarchive.access.embargorules`) only embargo what cannot be a
  stranger's trick; a thread that was ever embargoed is not embargoed again by a rule.
- **Disclosure** publishes at the same URLs and records when and by whom; a passed ``until``
  date keeps the messages hidden until :func:`expire` runs (``watch`` passes, ``listarchive
  disclose --expired``), so every disclosure has an audit entry. Un-publishing is for admins.
- **Restricted lists** stay restricted: disclosure lifts the embargo, not a list's restriction.

This module is the one way a person changes an embargo; the read side is
:mod:`listarchive.access.embargoview`, the log of every change :mod:`listarchive.access.audit`.

The functions take a session and never commit. The search index is refreshed after the commit
by :func:`listarchive.search.indexer.apply_embargo_change`, and for what the ingest hides, by the
indexer's catch-up following the audit log.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from listarchive.access.audit import record, record_each
from listarchive.access.embargoview import EXPIRY, members, message_embargoes, thread_msgids
from listarchive.access.visibility import Viewer, active_embargo, viewer_for
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
from listarchive.clock import utcnow
from listarchive.errors import ListarchiveError

CONSOLE = "console"  # the actor recorded for the command line run without --as


class EmbargoError(ListarchiveError):
    """A restrict/disclose/unpublish request that cannot be carried out (unknown Message-ID,
    no right, nothing to disclose)."""


@dataclass(frozen=True)
class EmbargoChange:
    """What a change did: the embargo touched and every stored message of its thread (their
    search documents must be rebuilt once the change is committed)."""

    embargo_id: int
    anchor_msgid: str
    action: str
    msgids: tuple[str, ...]


def parse_until(text: str) -> datetime:
    """``--until``: ``2025-03-01`` (midnight UTC) or ``2025-03-01T12:00`` / ``2025-03-01 12:00``.

    >>> parse_until("2025-03-01")
    datetime.datetime(2025, 3, 1, 0, 0)
    """
    value = text.strip().replace(" ", "T").removesuffix("Z")
    for fmt in ("%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            continue
    raise EmbargoError(f"--until {text!r}: write a date as YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC)")


def _actor_name(actor: User | None) -> str:
    """Who the audit log names for a change: the user, or ``console`` for the command line."""
    return actor.name if actor is not None else CONSOLE


def add_members(session: Session, embargo_id: int, msgids: Iterable[str], how: str) -> list[str]:
    """Hide these messages under the embargo (``how``: anchor, thread or reply); returns the ones
    it did not hide yet, sorted."""
    have = set(members(session, embargo_id))
    new = sorted(set(msgids) - have)
    if new:
        session.execute(insert(EmbargoMember), [{"embargo_id": embargo_id, "msgid": m, "how": how}
                                                for m in new])
    return new


def _stored(session: Session, msgid: str) -> Message:
    found = session.scalars(select(Message).where(Message.msgid == msgid)).first()
    if found is None:
        raise EmbargoError(f"no message <{msgid}> in the archive")
    return found


def resolve_allow(session: Session, value: str) -> tuple[str, str]:
    """``--allow`` value -> (``user`` | ``group`` | ``list``, name). ``user:``, ``group:`` and
    ``list:`` prefixes say which; a bare name is a user if one exists by that name, else a
    group, else a stored list, else an error (a typo must not silently allow nobody)."""
    kind, sep, rest = value.partition(":")
    if sep and kind in ("user", "group", "list"):
        if not rest.strip():
            raise EmbargoError(f"empty {kind} name in {value!r}")
        if kind == "group":
            ensure_group(session, rest.strip())
        return kind, rest.strip()
    name = value.strip()
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        return "user", name
    if session.scalar(select(Group.id).where(Group.name == name)) is not None:
        return "group", name
    if session.scalar(select(MailingList.id).where(MailingList.name == name)) is not None:
        return "list", name
    raise EmbargoError(f"--allow {value!r}: no user, group or list by that name "
                       f"(write group:NAME to create a group)")


def ensure_group(session: Session, name: str) -> Group:
    group = session.scalars(select(Group).where(Group.name == name)).first()
    if group is None:
        group = Group(name=name[:64])
        session.add(group)
        session.flush()
    return group


def add_to_group(session: Session, group_name: str, user: User) -> None:
    """Make ``user`` a member of the group (created if needed); idempotent."""
    group = ensure_group(session, group_name)
    if session.get(GroupMember, (group.id, user.id)) is None:
        session.add(GroupMember(group_id=group.id, user_id=user.id))
        session.flush()


def _may_restrict(session: Session, actor: User | None, message: Message) -> bool:
    """The console operator, admins, and maintainers granted one of the message's lists."""
    if actor is None or actor.is_admin:
        return True
    lists = set(session.scalars(select(MailingList.name).join(MessageList)
                                .where(MessageList.message_id == message.id)))
    granted = set(session.scalars(select(Grant.scope_name).where(
        Grant.user_id == actor.id, Grant.scope_kind == "list")))
    return bool(lists & granted)


def allow_readers(session: Session, embargo: Embargo, entries: Iterable[tuple[str, str]],
                  actor: str, now: datetime) -> None:
    """Let these (``user`` | ``group`` | ``list``, name) read the embargoed thread; each one new
    has its audit entry."""
    have = {(a.kind, a.name) for a in embargo.allowed}
    for kind, name in entries:
        if (kind, name) in have:
            continue
        have.add((kind, name))
        embargo.allowed.append(EmbargoAllow(kind=kind, name=name[:255]))
        record(session, actor, "allowed", embargo.anchor_msgid, embargo.id, f"{kind}:{name}", now)


def restrict(session: Session, msgid: str, actor: User | None, until: datetime | None = None,
             allow: Sequence[str] = (), reason: str = "cli",
             now: datetime | None = None) -> EmbargoChange:
    """Hide the thread of ``msgid`` (every message stored in it now, and replies to them as
    they arrive), or widen the embargo already hiding ``msgid`` (more ``allow`` entries, a new
    ``until``). ``actor`` None is the console operator.

    A message that was disclosed is not re-hidden here: that is :func:`unpublish`, for admins.
    """
    now = now or utcnow()
    message = _stored(session, msgid)
    if not _may_restrict(session, actor, message):
        raise EmbargoError(f"{_actor_name(actor)} may not restrict <{msgid}>")
    entries = [resolve_allow(session, value) for value in allow]
    active = message_embargoes(session, msgid, active_only=True)
    if active:
        embargo = active[0]
        if until is not None:
            embargo.until = until
        allow_readers(session, embargo, entries, _actor_name(actor), now)
        session.flush()
        return EmbargoChange(embargo.id, embargo.anchor_msgid, "allowed",
                             members(session, embargo.id))
    if message_embargoes(session, msgid):
        raise EmbargoError(f"<{msgid}> was disclosed; only an admin can un-publish it "
                           f"(listarchive restrict --unpublish --as ADMIN)")
    embargo = Embargo(anchor_msgid=msgid, reason=reason[:255], created_by=_actor_name(actor),
                      created_at=now, until=until)
    session.add(embargo)
    session.flush()
    add_members(session, embargo.id, [msgid], "anchor")
    thread = add_members(session, embargo.id, thread_msgids(session, msgid), "thread")
    detail = f"until {until:%Y-%m-%d %H:%M}" if until else ""
    record(session, _actor_name(actor), "restricted", msgid, embargo.id, detail, now)
    record_each(session, _actor_name(actor), "restricted", embargo.id, thread,
                f"in the thread of <{msgid}>", now)
    allow_readers(session, embargo, entries, _actor_name(actor), now)
    session.flush()
    return EmbargoChange(embargo.id, msgid, "restricted", members(session, embargo.id))


def _may_disclose(session: Session, actor: User | None, embargoes: Sequence[Embargo]) -> bool:
    """The console operator, admins, and people every active embargo allows."""
    if actor is None or actor.is_admin:
        return True
    allowed = viewer_for(session, actor).embargoes
    return all(e.id in allowed for e in embargoes)


def disclose(session: Session, msgid: str, actor: User | None,
             now: datetime | None = None) -> EmbargoChange:
    """Publish ``msgid`` and everything hidden with it: every active embargo hiding it is lifted
    (a merged report carries several), recorded with the time and the actor."""
    now = now or utcnow()
    _stored(session, msgid)
    active = message_embargoes(session, msgid, active_only=True)
    if not active:
        raise EmbargoError(f"<{msgid}> is not under embargo")
    if not _may_disclose(session, actor, active):
        raise EmbargoError(f"{_actor_name(actor)} may not disclose <{msgid}>")
    published: set[str] = set()
    for embargo in active:
        embargo.disclosed_at = now
        embargo.disclosed_by = _actor_name(actor)
        hidden = members(session, embargo.id)
        record_each(session, _actor_name(actor), "disclosed", embargo.id, hidden, "", now)
        published.update(hidden)
    session.flush()
    return EmbargoChange(active[0].id, active[0].anchor_msgid, "disclosed",
                         tuple(sorted(published)))


def unpublish(session: Session, msgid: str, admin: User,
              now: datetime | None = None) -> EmbargoChange:
    """Hide a disclosed embargo's messages again (a disclosure made by mistake). Admins only; the
    audit entries keep when and by whom it had been disclosed."""
    now = now or utcnow()
    _stored(session, msgid)
    if not admin.is_admin:
        raise EmbargoError(f"only an admin may un-publish; {admin.name} is not one")
    if message_embargoes(session, msgid, active_only=True):
        raise EmbargoError(f"<{msgid}> is under embargo already")
    disclosed = [e for e in message_embargoes(session, msgid) if e.disclosed_at is not None]
    if not disclosed:
        raise EmbargoError(f"<{msgid}> was never under embargo: use restrict")
    embargo = max(disclosed, key=lambda e: (e.disclosed_at or now, e.id))
    detail = (f"had been disclosed on {embargo.disclosed_at:%Y-%m-%d %H:%M} "
              f"by {embargo.disclosed_by or EXPIRY}")
    embargo.disclosed_at = None
    embargo.disclosed_by = ""
    embargo.until = None
    hidden = members(session, embargo.id)
    record_each(session, admin.name, "unpublished", embargo.id, hidden, detail, now)
    session.flush()
    return EmbargoChange(embargo.id, embargo.anchor_msgid, "unpublished", hidden)


def expire(session: Session, now: datetime | None = None) -> list[EmbargoChange]:
    """Disclose every active embargo whose ``until`` has passed (by ``expiry``)."""
    now = now or utcnow()
    out = []
    for embargo in session.scalars(select(Embargo).where(active_embargo(),
                                                         Embargo.until.is_not(None),
                                                         Embargo.until <= now)
                                   .order_by(Embargo.id)):
        embargo.disclosed_at = now
        embargo.disclosed_by = EXPIRY
        hidden = members(session, embargo.id)
        record_each(session, EXPIRY, "disclosed", embargo.id, hidden,
                    f"embargo date {embargo.until:%Y-%m-%d %H:%M} passed", now)
        out.append(EmbargoChange(embargo.id, embargo.anchor_msgid, "disclosed", hidden))
    session.flush()
    return out


def record_view(session: Session, viewer: Viewer, msgid: str,
                now: datetime | None = None) -> bool:
    """Note in the audit log that a signed-in viewer read an embargoed message (what the web
    does on thread and message pages). Returns whether an entry was added."""
    if viewer.user is None:
        return False
    active = message_embargoes(session, msgid, active_only=True)
    if not active:
        return False
    record(session, viewer.user, "viewed", msgid, active[0].id, "", now)
    return True
