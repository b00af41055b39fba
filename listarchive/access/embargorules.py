"""What the ingest hides by itself: embargoes made by rules, and the replies to hidden mail.

- **Ingest rules** (:func:`embargo_rules`) only embargo what cannot be a stranger's trick: a
  thread starter that arrived on a restricted list (private anyway), or one from an address in
  ``[embargo] reporters`` (the project's security contacts) carrying a ``[SECURITY]`` subject tag
  or the ``X-Listarchive-Embargo: yes`` header. A thread that was ever embargoed is not
  embargoed again by a rule. Such an embargo allows the grantees of the lists the report
  arrived on.
- **Replies** (:func:`follow_replies`, run by the ingest on every batch and by ``reindex``):
  every message that replies to a hidden one is hidden with it, whenever it arrives. A reply
  that references both an embargoed report and a public thread is itself hidden; the public
  messages stay where they were.

Every message hidden here has its audit entry, by the rule's name. The functions take a session
and never commit.
"""

from __future__ import annotations

import re
from collections import defaultdict, deque
from collections.abc import Collection, Iterable
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from listarchive.access.audit import record
from listarchive.access.embargo import add_members, allow_readers
from listarchive.access.embargoview import message_embargoes
from listarchive.archive.batches import scalars_in, select_in
from listarchive.archive.models import Embargo, EmbargoMember, MailingList, Message, MessageList
from listarchive.clock import utcnow
from listarchive.mail.message import ParsedMessage

# A bracketed subject tag holding the word SECURITY: "[SECURITY]", "[PATCH SECURITY 1/2]".
_SECURITY_TAG = re.compile(r"\[[^\]]*\bSECURITY\b[^\]]*\]", re.IGNORECASE)
EMBARGO_HEADER = "X-Listarchive-Embargo"
RULE_REPLY = "rule:reply"  # the actor of what follow_replies hides


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
            record(session, RULE_REPLY, "restricted", msgid, eid, "a reply to a hidden message",
                   now)
    return added


def reset_replies(session: Session) -> None:
    """Forget the derived members (``reindex`` finds them again)."""
    session.execute(delete(EmbargoMember).where(EmbargoMember.how == "reply"))


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
        add_members(session, embargo.id, [msgid], "anchor")
        record(session, reason, "restricted", msgid, embargo.id, "", now)
        allow_readers(session, embargo, [("list", name) for name, _ in sorted(on)], reason, now)
    session.flush()
