"""What to tell whom, read from the state history and the new mail by a position.

The state history (``state_changes``) and the messages are commit-ordered records (every
transaction that writes them holds the writers' lock), so one position in each, kept in the
``meta`` table, is enough to notice every change, whoever made it: the site, the API, the
command line, git-scan, an ingest rule or a mail command. :func:`collect` reads what lies past
the positions, queues the mails in the outbox (keys make a second look queue nothing) and moves
the positions, all in one transaction under the writers' lock.

The first look (no position yet, notifications just switched on) starts at the newest entries:
history from before notifications were on is not mailed.

Who gets what:

- the submitter of a series (its sender's address), once per series and state, when the series
  is ``accepted`` (with the commit ids git-scan matched), gets ``changes-requested`` or is
  ``superseded``: a reply to the cover letter or first patch;
- a signed-in follower of the series, one of its subsystems or lists: its new revisions (a
  complete series) and every change of its state; of a search: new matching messages.

Nothing is mailed to an address that may not see it: the submitter reads as the account with
that address (else as an anonymous visitor), a follower as their account
(:mod:`listarchive.access.visibility`).
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from listarchive.access.visibility import Viewer, viewer_for, visible_ids
from listarchive.archive.batches import chunked
from listarchive.archive.db import lock_writes
from listarchive.archive.models import (
    Follow,
    MailingList,
    Message,
    MessageList,
    Meta,
    Patch,
    Series,
    SeriesRevision,
    SeriesState,
    SeriesSubsystem,
    StateChange,
    Subsystem,
    User,
)
from listarchive.clock import utcnow
from listarchive.notify import searches
from listarchive.notify.letters import Anchor, Applied, follow_letter, state_letter
from listarchive.notify.outbox import Delivery, Queued, deliver, enqueue
from listarchive.review.history import COMMIT_ID
from listarchive.settings import Settings

logger = logging.getLogger(__name__)

STATES_KEY = "notify_states"  # Meta: the newest state history entry looked at
MESSAGES_KEY = "notify_messages"  # Meta: the newest message looked at
SUBMITTER_STATES = frozenset({"accepted", "changes-requested", "superseded"})
LIMIT = 5000  # entries of each record read per look; the rest at the next
_WHERE = re.compile(r" in (\S+ \S+) \(matched by")  # git-scan's reason: "commit X in REPO BRANCH"


@dataclass(frozen=True)
class Seen:
    """What one look found: series whose state changed (-> newest change id), new series."""

    changed: dict[int, int]
    new: set[int]
    messages: list[int]


def site_url(settings: Settings) -> str:
    return settings.base_url or f"http://{settings.host}:{settings.port}"


def _position(session: Session, key: str, newest: int) -> int:
    row = session.get(Meta, key)
    if row is None:
        session.add(Meta(key=key, value=str(newest)))
        return newest
    return int(row.value or 0)


def _advance(session: Session, key: str, value: int) -> None:
    row = session.get(Meta, key)
    assert row is not None
    row.value = str(value)


def _look(session: Session) -> Seen:
    newest_change = session.scalar(select(func.max(StateChange.id))) or 0
    newest_msg = session.scalar(select(func.max(Message.id))) or 0
    since_change = _position(session, STATES_KEY, newest_change)
    since_msg = _position(session, MESSAGES_KEY, newest_msg)
    changes = session.execute(
        select(StateChange.id, StateChange.object_kind, StateChange.object_id)
        .where(StateChange.id > since_change, StateChange.id <= newest_change)
        .order_by(StateChange.id).limit(LIMIT)).all()
    _advance(session, STATES_KEY, changes[-1].id if len(changes) == LIMIT else newest_change)
    messages = list(session.scalars(select(Message.id).where(Message.id > since_msg,
                                                             Message.id <= newest_msg)
                                    .order_by(Message.id).limit(LIMIT)))
    _advance(session, MESSAGES_KEY, messages[-1] if len(messages) == LIMIT else newest_msg)

    changed: dict[int, int] = {}
    by_patch: dict[int, int] = {}
    for change in changes:
        if change.object_kind == "series":
            changed[change.object_id] = change.id
        else:
            by_patch[change.object_id] = change.id
    for part in chunked(list(by_patch)):
        for pid, sid in session.execute(select(Patch.id, Patch.series_id)
                                        .where(Patch.id.in_(part), Patch.series_id.is_not(None))):
            if sid is None:
                continue
            changed[sid] = max(changed.get(sid, 0), by_patch[pid])
    new: set[int] = set()
    for part in chunked(messages):
        new.update(s for s in session.scalars(select(Patch.series_id).where(
            Patch.id.in_(part), Patch.series_id.is_not(None))) if s is not None)
    complete: set[int] = set()
    for part in chunked(list(new)):
        complete.update(session.scalars(select(Series.id).where(Series.id.in_(part),
                                                                Series.complete.is_(True))))
    return Seen(changed, complete, messages)


@dataclass(frozen=True)
class SeriesFacts:
    id: int
    title: str
    revision: int
    sender: str
    state: str
    anchor: Anchor
    lists: frozenset[str]
    subsystems: frozenset[str]  # names and slugs
    older: frozenset[int]  # revisions it replaces
    newer: int | None  # the newest revision replacing it


def _facts(session: Session, ids: set[int]) -> dict[int, SeriesFacts]:
    out: dict[int, SeriesFacts] = {}
    for part in chunked(sorted(ids)):
        rows = session.execute(
            select(Series, SeriesState.state)
            .outerjoin(SeriesState, SeriesState.series_id == Series.id)
            .where(Series.id.in_(part))).all()
        # The reply goes to the cover letter, else the first patch (the series' anchor).
        heads = {series.cover_msgid or series.anchor_msgid for series, _ in rows}
        anchors = {m.msgid: (m.subject, m.references) for m in session.execute(
            select(Message.msgid, Message.subject, Message.references)
            .where(Message.msgid.in_(heads)))}
        lists: dict[int, set[str]] = defaultdict(set)
        for sid, name in session.execute(select(MessageList.message_id, MailingList.name)
                                         .join(MailingList, MailingList.id == MessageList.list_id)
                                         .where(MessageList.message_id.in_(part))):
            lists[sid].add(name)
        subs: dict[int, set[str]] = defaultdict(set)
        for sid, name, slug in session.execute(
                select(SeriesSubsystem.series_id, Subsystem.name, Subsystem.slug)
                .join(Subsystem, Subsystem.id == SeriesSubsystem.subsystem_id)
                .where(SeriesSubsystem.series_id.in_(part))):
            subs[sid].update((name, slug))
        older: dict[int, set[int]] = defaultdict(set)
        newer: dict[int, int] = {}
        for old, new in session.execute(select(SeriesRevision.older_id, SeriesRevision.newer_id)
                                        .where(SeriesRevision.older_id.in_(part)
                                               | SeriesRevision.newer_id.in_(part))):
            older[new].add(old)
            newer[old] = max(newer.get(old, 0), new)
        for series, state in rows:
            head = series.cover_msgid or series.anchor_msgid
            subject, refs = anchors.get(head, (series.title, ""))
            out[series.id] = SeriesFacts(
                series.id, series.title, series.revision, series.sender_email, state or "",
                Anchor(head, subject or series.title, refs or ""),
                frozenset(lists[series.id]), frozenset(subs[series.id]),
                frozenset(older[series.id]), newer.get(series.id))
    return out


def _applied(session: Session, series_id: int) -> tuple[Applied, ...]:
    """The series' patches, each with the commit git-scan matched it to (from the history)."""
    patches = session.execute(select(Patch.id, Patch.title).where(
        Patch.series_id == series_id, Patch.kind.in_(("patch", "pull")))
        .order_by(Patch.counter, Patch.id)).all()
    commits: dict[int, tuple[str, str]] = {}
    for pid, evidence, reason in session.execute(
            select(StateChange.object_id, StateChange.evidence, StateChange.reason)
            .where(StateChange.object_kind == "patch", StateChange.field == "state",
                   StateChange.to_value == "accepted", StateChange.rule == "git",
                   StateChange.object_id.in_([p.id for p in patches]))
            .order_by(StateChange.id)):
        sha = next((t for t in evidence.split() if COMMIT_ID.fullmatch(t)), "")
        where = _WHERE.search(reason)
        commits[pid] = (sha, where.group(1) if where else "")
    return tuple(Applied(p.title, *commits.get(p.id, ("", ""))) for p in patches)


def _viewer_of_address(session: Session, address: str) -> Viewer:
    user = session.scalars(select(User).where(User.email == address.lower(),
                                              User.kind == "person").limit(1)).first()
    return viewer_for(session, user)


def _submitter_mails(session: Session, settings: Settings, seen: Seen,
                     facts: dict[int, SeriesFacts], now: datetime) -> list[Queued]:
    out = []
    base = site_url(settings)
    for sid in sorted(seen.changed):
        series = facts.get(sid)
        if series is None or series.state not in SUBMITTER_STATES or not series.sender:
            continue
        viewer = _viewer_of_address(session, series.sender)
        if sid not in visible_ids(session, viewer, [sid]):
            continue  # a restricted series: its submitter may not read its page either
        applied = _applied(session, sid) if series.state == "accepted" else ()
        newer = f"{base}/series/{series.newer}/" if series.newer else ""
        raw = state_letter(settings.notify.sender, series.sender, series.anchor, series.state,
                           f"{base}/series/{sid}/", now, applied, newer)
        out.append(Queued(f"series:{sid}:{series.state}>{series.sender}", series.sender, raw))
    return out


def _reason(follow: Follow, series: SeriesFacts) -> str | None:
    """Why this follow brings news of this series (None: it does not)."""
    if follow.kind == "series" and follow.target in {str(series.id), *map(str, series.older)}:
        return f"the series {follow.target}"
    if follow.kind == "subsystem" and follow.target in series.subsystems:
        return f"the subsystem {follow.target}"
    if follow.kind == "list" and follow.target in series.lists:
        return f"the list {follow.target}"
    return None


def _follower_mails(session: Session, settings: Settings, seen: Seen,
                    facts: dict[int, SeriesFacts], now: datetime) -> list[Queued]:
    base = site_url(settings)
    out: list[Queued] = []
    by_user: dict[int, list[Follow]] = defaultdict(list)
    for follow in session.scalars(select(Follow).order_by(Follow.id)):
        by_user[follow.user_id].append(follow)
    for user in session.scalars(select(User).where(User.id.in_(list(by_user)))):
        if not user.email or user.kind != "person":
            continue
        viewer = viewer_for(session, user)
        follows = by_user[user.id]
        events: list[tuple[str, SeriesFacts, str]] = []
        for sid in sorted(seen.new | set(seen.changed)):
            series = facts.get(sid)
            if series is None:
                continue
            reason = next((r for f in follows if (r := _reason(f, series))), None)
            if reason is None:
                continue
            if sid in seen.new:
                events.append((f"series:{sid}:new", series, reason))
            own = series.sender.lower() == user.email and series.state in SUBMITTER_STATES
            if sid in seen.changed and series.state and not own:
                events.append((f"series:{sid}:state:{seen.changed[sid]}", series, reason))
        allowed = visible_ids(session, viewer, {s.id for _, s, _ in events})
        for key, series, reason in events:
            if series.id not in allowed:
                continue
            url = f"{base}/series/{series.id}/"
            if key.endswith(":new"):
                lines = [f"A new series was posted (v{series.revision}) by {series.sender}:",
                         f"  {series.title}", f"  {url}"]
                lines += [f"It replaces {base}/series/{old}/" for old in sorted(series.older)]
            else:
                lines = [f"The series \"{series.title}\" is now {series.state}.", f"  {url}"]
            raw = follow_letter(settings.notify.sender, user.email, series.anchor.subject,
                                tuple(lines), reason, now, series.anchor)
            out.append(Queued(f"{key}>{user.email}", user.email, raw))
        for follow in follows:
            if follow.kind == "search" and seen.messages:
                out.extend(searches.search_mails(session, settings, viewer, user.email, follow,
                                                 seen.messages, now))
    return out


def collect(session: Session, settings: Settings, now: datetime | None = None) -> int:
    """Queue the notifications of everything past the positions and move them; how many mails
    were queued. Takes the writers' lock; the caller commits."""
    now = now or utcnow()
    lock_writes(session)
    seen = _look(session)
    if not seen.changed and not seen.new and not seen.messages:
        return 0
    facts = _facts(session, seen.new | set(seen.changed))
    mails = _submitter_mails(session, settings, seen, facts, now)
    mails += _follower_mails(session, settings, seen, facts, now)
    return enqueue(session, mails, now)


def notify(settings: Settings, sessions: sessionmaker[Session]) -> Delivery | None:
    """Queue what happened since the last look and send what is due (None: notifications are
    off). What every writer runs at the end of its work: ingest, git-scan, watch."""
    if not settings.notify.enabled:
        return None
    with sessions.begin() as session:
        queued = collect(session, settings)
    if queued:
        logger.info("%d notification mails queued", queued)
    return deliver(sessions, settings.notify)

