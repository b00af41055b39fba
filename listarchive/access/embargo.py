"""Embargoes: security reports visible to a few until they are disclosed.

An embargo hides messages, named by Message-ID (:class:`~listarchive.archive.models.EmbargoMember`):
its report (the anchor), the whole thread when a person restricted it, and every message that
replies to a hidden one, whenever it arrives (:func:`follow_replies`, run by the ingest on every
batch and by ``reindex``). The rules, decided once:

- **Who sees**: admins, and the users, groups and list grantees an embargo allows. An embargo
  made by an ingest rule allows the grantees of the lists the report arrived on.
- **Public stays public**: a message anyone could read is never hidden by mail that arrives
  later. A reply that references both an embargoed report and a public thread (merging the two
  threads) is itself hidden, as a reply to the report; the public messages stay where they were.
  Only a person (``listarchive restrict``) can hide messages that were public, and the audit log
  lists every message whose visibility changed, by whom or by which rule.
- **Ingest rules** (:func:`embargo_rules`) only embargo what cannot be a stranger's trick: a
  thread starter that arrived on a restricted list (private anyway), or one from an address in
  ``[embargo] reporters`` (the project's security contacts) carrying a ``[SECURITY]`` subject tag
  or the ``X-Listarchive-Embargo: yes`` header. A thread that was ever embargoed is not
  embargoed again by a rule.
- **Disclosure** publishes at the same URLs and records when and by whom; a passed ``until``
  date keeps the messages hidden until :func:`expire` runs (``watch`` passes, ``listarchive
  disclose --expired``), so every disclosure has an audit entry. Un-publishing is for admins.
- **Restricted lists** stay restricted: disclosure lifts the embargo, not a list's restriction.

The functions take a session and never commit. The search index is refreshed after the commit
by :func:`listarchive.search.indexer.apply_embargo_change`, and for what the ingest hides, by the
indexer's catch-up following the audit log.
"""

from __future__ import annotations

import re
from collections import defaultdict, deque
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from listarchive.access.visibility import Viewer, active_embargo, viewer_for
from listarchive.archive.batches import scalars_in, select_in
from listarchive.archive.messageview import find_message
from listarchive.archive.models import (
    AuditEvent,
    Embargo,
    EmbargoAllow,
    EmbargoMember,
    Grant,
    Group,
    GroupMember,
    MailingList,
    Message,
    MessageList,
    Node,
    User,
)
from listarchive.clock import utcnow
from listarchive.errors import ListarchiveError
from listarchive.mail.message import ParsedMessage

# A bracketed subject tag holding the word SECURITY: "[SECURITY]", "[PATCH SECURITY 1/2]".
_SECURITY_TAG = re.compile(r"\[[^\]]*\bSECURITY\b[^\]]*\]", re.IGNORECASE)
EMBARGO_HEADER = "X-Listarchive-Embargo"
CONSOLE = "console"  # the actor recorded for the command line run without --as
EXPIRY = "expiry"
RULE_REPLY = "rule:reply"  # the actor of what follow_replies hides
ACTIONS = ("viewed", "restricted", "disclosed", "unpublished", "allowed")


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


@dataclass(frozen=True)
class Disclosure:
    """The note a disclosed thread's pages show: "disclosed on DATE by NAME"."""

    at: datetime
    by: str  # user name; '' when the embargo date passed

    def note(self) -> str:
        who = f"by {self.by}" if self.by and self.by != EXPIRY else "when its embargo ended"
        return f"disclosed on {self.at:%Y-%m-%d %H:%M} UTC {who}"


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor: str
    action: str
    target_msgid: str
    embargo_id: int | None
    detail: str



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
    return actor.name if actor is not None else CONSOLE


def _audit(session: Session, actor: str, action: str, msgid: str, embargo_id: int | None,
           detail: str = "", now: datetime | None = None) -> None:
    session.add(AuditEvent(actor=actor[:64], action=action, target_msgid=msgid,
                           embargo_id=embargo_id, at=now or utcnow(), detail=detail))


def _thread_id(session: Session, msgid: str) -> int | None:
    return session.scalar(select(Node.thread_id).where(Node.msgid == msgid))


def thread_msgids(session: Session, msgid: str) -> tuple[str, ...]:
    """Every stored message of the thread holding ``msgid`` (hidden or not), in id order."""
    tid = _thread_id(session, msgid)
    if tid is None:
        return ()
    return tuple(session.scalars(select(Message.msgid).where(Message.thread_id == tid)
                                 .order_by(Message.id)))


def message_embargoes(session: Session, msgid: str, active_only: bool = False) -> list[Embargo]:
    """The embargoes that hide ``msgid`` (several when reports were merged), oldest first."""
    query = (select(Embargo).join(EmbargoMember, EmbargoMember.embargo_id == Embargo.id)
             .where(EmbargoMember.msgid == msgid).order_by(Embargo.id))
    if active_only:
        query = query.where(active_embargo())
    return list(session.scalars(query))


def members(session: Session, embargo_id: int) -> tuple[str, ...]:
    """The Message-IDs an embargo hides (stored or not yet), sorted."""
    return tuple(session.scalars(select(EmbargoMember.msgid)
                                 .where(EmbargoMember.embargo_id == embargo_id)
                                 .order_by(EmbargoMember.msgid)))


def _add_members(session: Session, embargo_id: int, msgids: Iterable[str], how: str) -> list[str]:
    have = set(members(session, embargo_id))
    new = sorted(set(msgids) - have)
    if new:
        session.execute(insert(EmbargoMember), [{"embargo_id": embargo_id, "msgid": m, "how": how}
                                                for m in new])
    return new


def _audit_each(session: Session, actor: str, action: str, embargo_id: int,
                msgids: Iterable[str], detail: str, now: datetime) -> None:
    """One audit entry per message whose visibility changed."""
    for msgid in msgids:
        _audit(session, actor, action, msgid, embargo_id, detail, now)


def follow_replies(session: Session, thread_ids: Iterable[int],
                   now: datetime | None = None) -> list[tuple[int, str]]:
    """Hide every stored message of these threads that replies to a hidden one (its
    In-Reply-To or any of its References names a member), transitively; returns the
    (embargo id, Message-ID) added, each with its audit entry. Order-independent: a reply stored
    before its parent joins when the parent does. Threads holding no member cost one query."""
    thread_ids = list(thread_ids)
    involved = set(scalars_in(session, select(Message.thread_id).join(
        EmbargoMember, EmbargoMember.msgid == Message.msgid), Message.thread_id, thread_ids))
    if not involved:
        return []
    messages = {row.msgid: {row.parent_msgid, *row.references.split()} - {""} for row in select_in(
        session, select(Message.msgid, Message.parent_msgid, Message.references),
        Message.thread_id, involved)}
    hidden: dict[str, set[int]] = defaultdict(set)
    for row in select_in(session, select(EmbargoMember.embargo_id, EmbargoMember.msgid),
                         EmbargoMember.msgid, set(messages) | set().union(*messages.values())):
        hidden[row.msgid].add(row.embargo_id)
    replies: dict[str, list[str]] = defaultdict(list)
    for msgid, refs in messages.items():
        for ref in refs:
            replies[ref].append(msgid)
    added: list[tuple[int, str]] = []
    queue = deque(hidden)
    while queue:
        source = queue.popleft()
        for reply in replies.get(source, ()):
            new = hidden[source] - hidden[reply]
            if new:
                hidden[reply] |= new
                added.extend((eid, reply) for eid in sorted(new))
                queue.append(reply)
    if added:
        session.execute(insert(EmbargoMember), [{"embargo_id": e, "msgid": m, "how": "reply"}
                                                for e, m in added])
        for eid, msgid in added:
            _audit(session, RULE_REPLY, "restricted", msgid, eid, "a reply to a hidden message",
                   now)
    return added


def reset_replies(session: Session) -> None:
    """Forget the derived members (``reindex`` finds them again)."""
    session.execute(delete(EmbargoMember).where(EmbargoMember.how == "reply"))


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


def _allow(session: Session, embargo: Embargo, entries: Iterable[tuple[str, str]], actor: str,
           now: datetime) -> None:
    have = {(a.kind, a.name) for a in embargo.allowed}
    for kind, name in entries:
        if (kind, name) in have:
            continue
        have.add((kind, name))
        embargo.allowed.append(EmbargoAllow(kind=kind, name=name[:255]))
        _audit(session, actor, "allowed", embargo.anchor_msgid, embargo.id, f"{kind}:{name}", now)


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
        _allow(session, embargo, entries, _actor_name(actor), now)
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
    _add_members(session, embargo.id, [msgid], "anchor")
    thread = _add_members(session, embargo.id, thread_msgids(session, msgid), "thread")
    detail = f"until {until:%Y-%m-%d %H:%M}" if until else ""
    _audit(session, _actor_name(actor), "restricted", msgid, embargo.id, detail, now)
    _audit_each(session, _actor_name(actor), "restricted", embargo.id, thread,
                f"in the thread of <{msgid}>", now)
    _allow(session, embargo, entries, _actor_name(actor), now)
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
        _audit_each(session, _actor_name(actor), "disclosed", embargo.id, hidden, "", now)
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
    _audit_each(session, admin.name, "unpublished", embargo.id, hidden, detail, now)
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
        _audit_each(session, EXPIRY, "disclosed", embargo.id, hidden,
                    f"embargo date {embargo.until:%Y-%m-%d %H:%M} passed", now)
        out.append(EmbargoChange(embargo.id, embargo.anchor_msgid, "disclosed", hidden))
    session.flush()
    return out


def disclosure(session: Session, viewer: Viewer, msgid: str) -> Disclosure | None:
    """The disclosure note of ``msgid``, or None (never embargoed, still embargoed, or hidden
    from this viewer: the note must not confirm a hidden message)."""
    if find_message(session, viewer, msgid) is None:
        return None
    embargoes = message_embargoes(session, msgid)
    if not embargoes or any(e.disclosed_at is None for e in embargoes):
        return None
    last = max(embargoes, key=lambda e: (e.disclosed_at or datetime.min, e.id))
    assert last.disclosed_at is not None
    return Disclosure(last.disclosed_at, last.disclosed_by)


def record_view(session: Session, viewer: Viewer, msgid: str,
                now: datetime | None = None) -> bool:
    """Note in the audit log that a signed-in viewer read an embargoed message (what the web
    does on thread and message pages). Returns whether an entry was added."""
    if viewer.user is None:
        return False
    active = message_embargoes(session, msgid, active_only=True)
    if not active:
        return False
    _audit(session, viewer.user, "viewed", msgid, active[0].id, "", now)
    return True


def audit_log(session: Session, limit: int = 50) -> list[AuditEntry]:
    """The newest audit entries first (``listarchive audit``, the admins' page)."""
    query = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    if limit > 0:
        query = query.limit(limit)
    return [AuditEntry(e.at, e.actor, e.action, e.target_msgid, e.embargo_id, e.detail)
            for e in session.scalars(query)]


# --- ingest rules ----------------------------------------------------------------------------


def rule_reason(parsed: ParsedMessage, on_restricted_list: bool,
                reporters: Collection[str] = ()) -> str:
    """Why an incoming thread starter must be embargoed ('' = it need not).

    A ``[SECURITY]`` tag or the ``X-Listarchive-Embargo`` header counts only from one of the
    ``reporters`` (lower-cased addresses): from anyone else, it would let a stranger hide a
    thread at will.

    >>> from listarchive.mail.message import parse
    >>> report = b"From: sec@example.org\nSubject: [SECURITY][PATCH 0/2] clk: fix\n\nx\n"
    >>> rule_reason(parse(report), False, {"sec@example.org"})
    'rule:security-tag'
    >>> rule_reason(parse(report.replace(b"sec@", b"someone@")), False, {"sec@example.org"})
    ''
    """
    if parsed.parent:
        return ""
    if on_restricted_list:
        return "rule:restricted-list"
    if parsed.sender.email.lower() not in reporters:
        return ""
    if _SECURITY_TAG.search(parsed.subject):
        return "rule:security-tag"
    if parsed.header(EMBARGO_HEADER).strip().lower() in ("yes", "true", "1"):
        return "rule:header"
    return ""


def embargo_rules(session: Session, items: list[tuple[int, str, ParsedMessage]],
                  reporters: Collection[str] = ()) -> None:
    """Run by the ingest worker on every stored batch: embargo the thread starters the ingest
    rules pick, allowing the grantees of the lists the report arrived on. Idempotent over
    ``reindex``: an anchor that has an embargo (active or disclosed) is left alone."""
    starters = [(pk, msgid, parsed) for pk, msgid, parsed in items if not parsed.parent]
    if not starters:
        return
    lists: dict[int, list[tuple[str, bool]]] = {}
    for row in select_in(session, select(MessageList.message_id, MailingList.name,
                                         MailingList.restricted).join(MailingList),
                         MessageList.message_id, [pk for pk, _, _ in starters]):
        lists.setdefault(row.message_id, []).append((row.name, row.restricted))
    now = utcnow()
    wanted = {r.lower() for r in reporters}
    for pk, msgid, parsed in starters:
        on = lists.get(pk, [])
        reason = rule_reason(parsed, any(restricted for _, restricted in on), wanted)
        if not reason or message_embargoes(session, msgid):
            continue
        if session.scalar(select(Embargo.id).where(Embargo.anchor_msgid == msgid)) is not None:
            continue
        embargo = Embargo(anchor_msgid=msgid, reason=reason, created_by="", created_at=now)
        session.add(embargo)
        session.flush()
        _add_members(session, embargo.id, [msgid], "anchor")
        _audit(session, reason, "restricted", msgid, embargo.id, "", now)
        _allow(session, embargo, [("list", name) for name, _ in sorted(on)], reason, now)
    session.flush()
