"""Automatic state transitions, run on every stored batch (and again by ``reindex``).

- ``revision``: a newer revision of a series marks the older one's patches superseded (evidence:
  ``series:NEWER_ID``).
- ``reply``: a reply from someone allowed to change the target (:func:`changes.can_change`, the
  sender matched to an account by address) that says it was applied marks it accepted
  (evidence: the reply's Message-ID, then the commit id when one is given). A reply to a cover
  letter, or one that says "series"/"all", covers the whole series; b4's thank-you form
  (``[2/3] title`` then ``commit: SHA``) covers exactly the listed patches.
- ``header``: ``X-Patchwork-State:`` or ``X-Listarchive-State:`` on a mail from such a sender
  sets the state of what the mail answers, or of the mail itself when it is a patch.
- RFC patches and series start as ``rfc``: that is their default state (:mod:`states`).

Every rule goes through :func:`decisions.apply_decisions`, so people's decisions win, a decision
already taken on the same evidence is not taken again, and running the rules twice over the same
mail changes nothing. A reply stored before the patch it answers is looked at again when the
patch arrives.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from listarchive.access.accounts import users_by_email
from listarchive.archive import rawstore
from listarchive.archive.batches import among, chunked, scalars_in, select_in
from listarchive.archive.models import Message, Patch, Series, SeriesRevision, SeriesState, User
from listarchive.mail.extract import SUGGESTION
from listarchive.mail.message import ParsedMessage, parse
from listarchive.mail.quotes import own_lines
from listarchive.review.changes import can_change
from listarchive.review.decisions import (
    Decision,
    SeriesDecision,
    apply_decisions,
    apply_series_decisions,
    refresh_series_states,
    set_state,
)
from listarchive.review.states import normalize_state

logger = logging.getLogger(__name__)
STATE_HEADERS = ("X-Listarchive-State", "X-Patchwork-State")

# "Applied, thanks!", "Thanks, applied.", "Applied to clk-next, thanks", "I've applied the
# series to my tree", "Series applied.", "Merged, thanks!" (b4 ty for a pull request). The line
# must start with it: "Not applied", "doesn't apply" and "I applied it on top of v6.7 and the
# build breaks" (a tester) are not claims.
_APPLIED = re.compile(
    r"^\s*(?:thanks?(?:\s+you)?\s*[,!.]*\s+)?"
    r"(?:(?:i|we)(?:'ve|\s+have)?\s+|now\s+)?"
    r"(?P<subject>(?:the\s+)?(?:whole\s+|entire\s+)?(?:series|patch(?:es|set)?|both|all|it|this)"
    r"\s+)?"
    r"(?:(?:is|are|was|were|has\s+been|have\s+been|now)\s+)?"
    r"(?:applied|merged|pulled)"
    r"(?P<object>\s+(?:the\s+)?(?:whole\s+|entire\s+)?(?:series|patch(?:es|set)?|both|all"
    r"(?:\s+\w+)?|it|this|them))?"
    r"(?P<where>\s+(?:to|into|in)\s+[^,.!\n]+)?"
    r"\s*(?:[,.!:;]+.*)?$",
    re.I)
_CLAIM_WORDS = ("applied", "merged", "pulled")  # one is in every claim: a cheap first test
_WHOLE = re.compile(r"series|patchset|patches|both|all|them", re.I)
# b4 ty's summary: "[2/3] clk: fix the divider" then an indented "commit: <sha or URL>".
_TY_ITEM = re.compile(r"^\[(?:[^\]]*?\s)?0*(\d+)/(\d+)\]\s+(.+?)\s*$")
_TY_COMMIT = re.compile(r"^\s+(?:merge\s+)?commit:\s+\S*?([0-9a-f]{7,40})\b", re.I)


@dataclass(frozen=True)
class AppliedItem:
    counter: int
    total: int
    title: str
    commit: str  # '' when the reply gave none ("(no commit info)")


@dataclass(frozen=True)
class AppliedClaim:
    """What an "applied" reply says: the whole series or not, where, and b4's item list."""

    whole_series: bool
    where: str
    items: tuple[AppliedItem, ...] = ()
    line: str = ""



def applied_claim(body: str) -> AppliedClaim | None:
    """Does this reply say the patch/series was applied? None when not.

    >>> applied_claim("Applied to clk-next, thanks!").where
    'clk-next'
    >>> applied_claim("> Applied, thanks\\nNo, it was not.") is None
    True
    """
    lowered = body.lower()
    if not any(word in lowered for word in _CLAIM_WORDS):
        return None
    lines = own_lines(body, until_signature=True)
    claim: re.Match[str] | None = None
    for line in lines:
        claim = _APPLIED.match(line)
        if claim is not None:
            break
    if claim is None:
        return None
    items: list[AppliedItem] = []
    for i, line in enumerate(lines):
        item = _TY_ITEM.match(line)
        if item is None:
            continue
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        commit = _TY_COMMIT.match(nxt)
        items.append(AppliedItem(int(item.group(1)), int(item.group(2)), item.group(3),
                                 commit.group(1) if commit else ""))
    said = (claim.group("subject") or "") + (claim.group("object") or "")
    where = (claim.group("where") or "").strip()
    where = re.sub(r"^(?:to|into|in)\s+", "", where, flags=re.I)
    return AppliedClaim(bool(_WHOLE.search(said)), where, tuple(items),
                        claim.group(0).strip()[:200])


def requested_state(parsed: ParsedMessage) -> str | None:
    """The state an ``X-Listarchive-State:``/``X-Patchwork-State:`` header asks for."""
    for name in STATE_HEADERS:
        value = parsed.header(name)
        if value:
            return normalize_state(value)
    return None


def automatic_transitions(session: Session,
                          items: list[tuple[int, str, ParsedMessage]]) -> None:
    """The worker hook: run every rule on the messages of one stored batch."""
    if not items:
        return
    pks = [pk for pk, _, _ in items]
    own = {row.id: (row.msgid, row.kind, row.series_id) for row in select_in(
        session, select(Patch.id, Patch.msgid, Patch.kind, Patch.series_id), Patch.id, pks)}
    series_ids = sorted({sid for _, _, sid in own.values() if sid is not None})
    supersede(session, series_ids)
    emails = set(session.scalars(select(User.email).where(User.email != "")))
    if emails:
        mails = [(pk, msgid, parsed) for pk, msgid, parsed in items
                 if parsed.sender.email.lower() in emails]
        mails += _earlier_replies(session, [m for m, _, _ in own.values()], set(pks), emails)
        for pk, msgid, parsed in mails:
            _from_maintainer(session, pk, msgid, parsed)
    refresh_series_states(session, series_ids)


def supersede(session: Session, series_ids: Sequence[int]) -> None:
    """Mark the older revision of every revision link touching these series superseded."""
    links: set[tuple[int, int, str]] = set()
    for part in chunked(series_ids):
        links.update((row.older_id, row.newer_id, row.reason) for row in session.execute(
            select(SeriesRevision.older_id, SeriesRevision.newer_id, SeriesRevision.reason)
            .where(among(session, SeriesRevision.older_id, part)
                   | among(session, SeriesRevision.newer_id, part))))
    # Already superseded (by this or another newer revision): nothing left to decide.
    done = set(scalars_in(session, select(SeriesState.series_id).where(
        SeriesState.state == "superseded"), SeriesState.series_id, (o for o, _, _ in links)))
    revision = {row.id: row.revision for row in select_in(
        session, select(Series.id, Series.revision), Series.id, (n for _, n, _ in links))}
    apply_series_decisions(session, [
        SeriesDecision(older, "superseded", "revision", f"series:{newer}",
                       f"newer revision v{revision.get(newer, '?')} (series {newer}, "
                       f"linked by {why})")
        for older, newer, why in sorted(links) if older not in done])


def _earlier_replies(session: Session, msgids: list[str], skip: set[int],
                     emails: set[str]) -> list[tuple[int, str, ParsedMessage]]:
    """Stored replies from account holders to these patches/covers (a reply can arrive first)."""
    return [(row.id, row.msgid, parse(rawstore.unpack(row.raw))) for row in select_in(
        session, select(Message.id, Message.msgid, Message.raw)
        .where(func.lower(Message.from_email).in_(sorted(emails))), Message.parent_msgid, msgids)
        if row.id not in skip]


def _from_maintainer(session: Session, pk: int, msgid: str, parsed: ParsedMessage) -> None:
    users = users_by_email(session, [parsed.sender.email]).get(parsed.sender.email.lower(), [])
    if not users:
        return
    itself = session.get(Patch, pk)
    if itself is not None and itself.kind == SUGGESTION:
        itself = None  # a reply with a diff is still a reply
    wanted = requested_state(parsed)
    if wanted is not None:
        target = itself if itself is not None else _patch_by_msgid(session, parsed.parent)
        if target is not None:
            _decide(session, users, target, wanted, "header", msgid,
                    f"{STATE_HEADERS[0]}/{STATE_HEADERS[1]} header from {parsed.sender.email}",
                    whole=target.kind == "cover")
    if itself is not None or not parsed.parent:
        return
    claim = applied_claim(parsed.body)
    parent = _patch_by_msgid(session, parsed.parent)
    if claim is None or parent is None:
        return
    reason = f"{parsed.sender.email}: {claim.line!r}"
    if claim.items and parent.series_id is not None:
        by_counter = {p.counter: p for p in session.scalars(
            select(Patch).where(Patch.series_id == parent.series_id, Patch.kind != "cover"))}
        for item in claim.items:
            target = by_counter.get(item.counter)
            if target is None and parent.kind != "cover" and item.total <= 1:
                target = parent
            if target is not None:
                evidence = f"{msgid} {item.commit}".strip()
                _decide(session, users, target, "accepted", "reply", evidence, reason)
        return
    _decide(session, users, parent, "accepted", "reply", msgid, reason,
            whole=parent.kind == "cover" or claim.whole_series)


def _patch_by_msgid(session: Session, msgid: str) -> Patch | None:
    if not msgid:
        return None
    return session.scalars(select(Patch).where(Patch.msgid == msgid,
                                               Patch.kind != SUGGESTION)).first()


def _decide(session: Session, users: list[User], target: Patch, state: str, rule: str,
            evidence: str, reason: str, whole: bool = False) -> None:
    series = session.get(Series, target.series_id) if target.series_id is not None else None
    if whole and series is not None:
        if any(can_change(session, u, series) for u in users):
            set_state(session, "series", series.id, state, None, "rule", evidence, reason, rule)
        return
    if target.kind == "cover":
        return
    if any(can_change(session, u, target) for u in users):
        apply_decisions(session, [Decision(target.id, state, rule, evidence, reason)])
