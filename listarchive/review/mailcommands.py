"""State changes sent by mail, authorized by the imported MAINTAINERS file (netdev's mailbot).

A reply with a line ``pw-bot: STATE`` (:mod:`listarchive.mail.botcommands`) changes the patch
it answers, or the whole series when it answers the cover letter; "Applied, thanks" (the
:func:`listarchive.review.rules.applied_claim` forms) accepts it the same way. No account is
needed: the sender is authorized when their address is an ``M:`` maintainer of a subsystem the
series touches, or of a subsystem whose ``L:`` list the series was sent to; the series' author
may only withdraw it (rfc, superseded, not-applicable). Account holders' "applied" replies are
:mod:`listarchive.review.rules`' business.

Every command is recorded in the history with the mail as evidence and its DKIM status
(verified, unverified, unsigned) in the reason: applied through :func:`decisions.set_state` (``via``
mail, a person's decision), or, when refused, as an ``ignored`` entry saying why, changing
nothing. With ``require_dkim`` a command without a valid signature is ignored. A command is
looked at once: a re-run (``reindex``) finds its entry and leaves it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from listarchive.access.accounts import users_by_email
from listarchive.archive import rawstore
from listarchive.archive.batches import scalars_in, select_in
from listarchive.archive.models import (
    MailingList,
    Message,
    MessageList,
    Patch,
    Series,
    SeriesSubsystem,
    StateChange,
    Subsystem,
)
from listarchive.clock import utcnow
from listarchive.mail.botcommands import AUTHOR_STATES, bot_command
from listarchive.mail.dkimsig import VERIFIED, DnsFunc, dkim_status
from listarchive.mail.extract import SUGGESTION
from listarchive.mail.message import ParsedMessage
from listarchive.review import decisions, states
from listarchive.review.rules import applied_claim

logger = logging.getLogger(__name__)
IGNORED = "ignored"  # StateChange.field of a refused command
RULE_COMMAND, RULE_APPLIED = "pw-bot", "applied"
_ADDRESS = re.compile(r"<([^<>@\s]+@[^<>@\s]+)>|([^<>@\s]+@[^<>@\s]+)")


@dataclass(frozen=True)
class Policy:
    """How commands are checked: DKIM required or not, and where keys come from (None: DNS)."""

    require_dkim: bool = False
    dnsfunc: DnsFunc | None = None


def _addresses(text: str) -> set[str]:
    return {(a or b).lower() for a, b in _ADDRESS.findall(text)}


def maintainers_of(session: Session, series_ids: Collection[int]) -> dict[int, dict[str, str]]:
    """Per series, address -> the MAINTAINERS section that makes it a maintainer of the series:
    ``M:`` of a subsystem the series touches, or of one whose ``L:`` list the series was sent
    to. Read for all of ``series_ids`` at once (three statements, whatever their number)."""
    touched: dict[int, set[int]] = {sid: set() for sid in series_ids}
    for sid, sub_id in select_in(session, select(SeriesSubsystem.series_id,
                                                 SeriesSubsystem.subsystem_id),
                                 SeriesSubsystem.series_id, series_ids):
        touched[sid].add(sub_id)
    lists: dict[int, set[str]] = {sid: set() for sid in series_ids}
    for sid, name, address in select_in(
            session, select(MessageList.message_id, MailingList.name, MailingList.address)
            .join(MailingList, MessageList.list_id == MailingList.id),
            MessageList.message_id, series_ids):
        lists[sid].update(a.lower() for a in (name, address) if a)
    subsystems = [(sub.id, sub.name, _addresses(sub.maintainers),
                   {line.strip().split()[0].lower() for line in sub.lists.splitlines()
                    if line.strip()})
                  for sub in session.scalars(select(Subsystem).order_by(Subsystem.name))
                  ] if series_ids else []
    out: dict[int, dict[str, str]] = {}
    for sid in series_ids:
        found = out[sid] = {}
        for sub_id, name, addresses, sub_lists in subsystems:
            if sub_id in touched[sid] or lists[sid] & sub_lists:
                for address in addresses:
                    found.setdefault(address, name)
    return out


def _handled(session: Session, msgids: Collection[str]) -> set[str]:
    """Those of these replies whose command was recorded already (a ``reindex`` runs them
    again). The record's evidence is the reply's Message-ID itself: compared whole, by an index
    (a ``LIKE`` prefix read every state change, and took ``_`` and ``%`` in a Message-ID as
    wildcards)."""
    return set(scalars_in(session, select(StateChange.evidence)
                          .where(StateChange.via == states.MAIL_VIA), StateChange.evidence,
                          msgids))


def may_command(parsed: ParsedMessage) -> bool:
    """Whether a message is a reply that says a command or "applied": the only mail whose DKIM
    signature is verified (by the worker, before its write transaction: a DNS lookup may take
    seconds, and the writers' lock is held by nobody meanwhile)."""
    return bool(parsed.parent) and (bot_command(parsed.body) is not None
                                    or applied_claim(parsed.body) is not None)


def run(session: Session, items: Sequence[tuple[int, str, ParsedMessage]],
        policy: Policy = Policy(), signatures: Mapping[int, str] | None = None) -> None:
    """The worker hook: look for commands in the replies of one stored batch. ``signatures``
    are the DKIM results the worker found before the transaction, by ``id()`` of the parsed
    message; one not there is verified here."""
    said_something = []
    for pk, msgid, parsed in items:
        if not parsed.parent:
            continue
        command = bot_command(parsed.body)
        claim = None if command is not None else applied_claim(parsed.body)
        if command is not None or claim is not None:
            said_something.append((pk, msgid, parsed, command, claim))
    if not said_something:
        return
    # The replies' own patches and the patches they answer, for the whole batch at once.
    kinds = {int(pid): kind for pid, kind in select_in(
        session, select(Patch.id, Patch.kind), Patch.id, [pk for pk, *_ in said_something])}
    answered = {p.msgid: p for p in scalars_in(
        session, select(Patch).where(Patch.kind != SUGGESTION), Patch.msgid,
        [parsed.parent for _, _, parsed, _, _ in said_something])}
    # What the replies are checked against, read once for the batch: a few statements each
    # were a round trip each on a database server, for every "Applied, thanks" of a batch.
    said_something = [item for item in said_something
                      if kinds.get(item[0], SUGGESTION) == SUGGESTION  # a patch's words are its own
                      and (target := answered.get(item[2].parent)) is not None
                      and target.series_id is not None]
    handled = _handled(session, [msgid for _, msgid, *_ in said_something])
    holders = users_by_email(session, [parsed.sender.email for _, _, parsed, command, _
                                       in said_something if command is None])
    series_ids = sorted({answered[parsed.parent].series_id or 0
                         for _, _, parsed, _, _ in said_something})
    maintainers = maintainers_of(session, series_ids)
    authors = dict(select_in(session, select(Series.id, Series.sender_email), Series.id,
                             series_ids))
    for pk, msgid, parsed, command, claim in said_something:
        target = answered[parsed.parent]
        if msgid in handled or target.series_id is None:
            continue
        sender = parsed.sender.email.lower()
        if command is None and sender in holders:
            continue  # an account holder's "applied": the reply rule decides (rules.py)
        whole = target.kind == "cover" or (claim is not None and claim.whole_series)
        kind, oid = ("series", target.series_id) if whole else ("patch", target.id)
        wanted = command.state if command is not None else "accepted"
        said = command.line if command is not None else (claim.line if claim else "")
        signed = (signatures or {}).get(id(parsed), "")
        if not signed:
            raw = session.scalar(select(Message.raw).where(Message.id == pk))
            signed = dkim_status(rawstore.unpack(raw), policy.dnsfunc) if raw else "unsigned"
        why = _refusal(maintainers[target.series_id], authors.get(target.series_id), sender,
                       wanted, command is not None)
        if why is None and policy.require_dkim and signed != VERIFIED:
            why = f"no valid DKIM signature ({signed}) and automation.require_dkim is on"
        reason = f"{sender}: {said!r}; DKIM {signed}"
        rule = RULE_COMMAND if command is not None else RULE_APPLIED
        if why is not None:
            if command is None:
                continue  # an "applied" from someone else is just a reply, not a command
            session.add(StateChange(
                object_kind=kind, object_id=oid, field=IGNORED,
                from_value=states.effective_state(session, kind, oid), to_value=command.word,
                via=states.MAIL_VIA, rule=rule, evidence=msgid,
                reason=f"{reason}; ignored: {why}"[:4000], at=utcnow()))
            session.flush()
            continue
        assert wanted is not None
        if not decisions.set_state(session, kind, oid, wanted, None, states.MAIL_VIA,
                                evidence=msgid, reason=reason, rule=rule):
            session.add(StateChange(
                object_kind=kind, object_id=oid, field=IGNORED, from_value=wanted,
                to_value=wanted, via=states.MAIL_VIA, rule=rule, evidence=msgid,
                reason=f"{reason}; nothing to change", at=utcnow()))
            session.flush()


def _refusal(maintainers: Mapping[str, str], author: str | None, sender: str,
             wanted: str | None, is_command: bool) -> str | None:
    """Why this sender may not ask for this state on a series (its ``maintainers``, see
    :func:`maintainers_of`, and the address that sent it); None when they may."""
    if wanted is None:
        return "not a state (cr, accepted, rejected, rfc, deferred, superseded, " \
               "not-applicable, under-review, awaiting-upstream)"
    if sender in maintainers:
        return None
    if is_command and author == sender:
        if wanted in AUTHOR_STATES:
            return None
        return f"the author may only withdraw a series ({', '.join(sorted(AUTHOR_STATES))})"
    return "the sender is no MAINTAINERS maintainer of this series or its list"
