"""Writes patches, trailers, series and revision links: the review side of the store.

Like :mod:`ingest.messagestore` it takes a session and never commits. Series are regrouped per
submitter from every patch fact of that submitter, with the pure :func:`listarchive.mail.series.group_series`,
so the result does not depend on which batch brought which patch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from listarchive.archive.batches import chunked
from listarchive.archive.derived import series_subsystem_links
from listarchive.archive.models import (
    Message,
    Patch,
    PatchDiff,
    PatchSubsystem,
    Series,
    SeriesRevision,
    SeriesSubsystem,
    Subsystem,
    Trailer,
)
from listarchive.archive.patchdiffs import diff_row
from listarchive.mail.extract import SUGGESTION, MailFacts
from listarchive.mail.maintainers import SubsystemMatcher, parse_maintainers
from listarchive.mail.message import ParsedMessage
from listarchive.mail.series import PatchFact, SeriesGroup, group_series, link_revisions
from listarchive.mail.subject import SubjectInfo
from listarchive.mail.trailers import matches_sender


def store_facts(session: Session, items: Sequence[tuple[int, str, ParsedMessage, MailFacts]],
                matcher: tuple[SubsystemMatcher, dict[str, int]] | None = None) -> set[str]:
    """Record patch rows and trailers of freshly stored messages; return the submitters whose
    series need regrouping. ``items`` are (message pk, archive msgid, parsed, facts)."""
    patches: list[dict[str, object]] = []
    trailers: list[dict[str, object]] = []
    links: list[dict[str, object]] = []
    diffs: list[dict[str, object]] = []
    senders: set[str] = set()
    for pk, msgid, parsed, facts in items:
        for trailer, target, own in [*((t, parsed.parent, False) for t in facts.given),
                                     *((t, msgid, True) for t in facts.own)]:
            if not target:
                continue
            person = trailer.person
            trailers.append({
                "message_id": pk, "target_msgid": target, "name": trailer.name[:64],
                "value": trailer.value[:2000], "own": own,
                "person_email": (person.email.lower() if person else "")[:320],
                "mismatch": bool(trailer.is_by and not own
                                 and not matches_sender(trailer, parsed.sender)),
            })
        if not facts.kind:
            continue
        info, patch = facts.subject, facts.patch
        sender = parsed.sender.email.lower()[:320]
        member = facts.kind != SUGGESTION  # a suggestion is never grouped into a series
        if member:
            senders.add(sender)
        paths = [f.path for f in patch.files] if patch is not None else []
        pull = patch.pull if patch is not None else None
        patches.append({
            "id": pk, "msgid": msgid, "kind": facts.kind, "title": info.title,
            "revision": info.revision, "counter": info.counter if member else 0,
            "total": info.total if member else 0,
            "is_rfc": info.is_rfc, "sender_email": sender, "date": parsed.sort_date,
            "patch_id": patch.patch_id if patch is not None else "",
            "files": "\n".join(paths), "file_count": len(paths),
            "insertions": patch.insertions if patch is not None else 0,
            "deletions": patch.deletions if patch is not None else 0,
            "pull_url": pull.url if pull else "", "pull_ref": pull.ref if pull else "",
            "pull_head": pull.head_commit[:40] if pull else "",
            "change_id": facts.change_id, "links": "\n".join(facts.links),
            "flags": ",".join(sorted(patch.flags))[:255] if patch is not None else "",
        })
        if patch is not None:
            diffs.append(diff_row(pk, patch))
        if matcher is not None and paths:
            subsystem_matcher, ids = matcher
            for rank, match in enumerate(subsystem_matcher.match(paths)):
                if match.name in ids:
                    links.append({"patch_id": pk, "subsystem_id": ids[match.name], "rank": rank})
    if patches:
        session.execute(insert(Patch), patches)
    if diffs:
        session.execute(insert(PatchDiff), diffs)
    if trailers:
        session.execute(insert(Trailer), trailers)
    if links:
        session.execute(insert(PatchSubsystem), links)
    return senders


def load_matcher(session: Session) -> tuple[SubsystemMatcher, dict[str, int]] | None:
    """The subsystem matcher of the imported MAINTAINERS file, or None before an import."""

    rows = session.execute(select(Subsystem.id, Subsystem.name, Subsystem.patterns)).all()
    if not rows:
        return None
    text = "\n\n".join(f"{name}\n{patterns}" for _, name, patterns in rows)
    return SubsystemMatcher(parse_maintainers(text)), {name: sid for sid, name, _ in rows}


def _facts_for(session: Session, senders: Sequence[str]) -> list[PatchFact]:
    facts: list[PatchFact] = []
    for part in chunked(senders):
        rows = session.execute(
            select(Patch.msgid, Patch.sender_email, Message.subject, Patch.date,
                   Message.parent_msgid, Message.references, Patch.kind, Patch.change_id,
                   Patch.links)
            .join(Message, Message.id == Patch.id)
            .where(Patch.sender_email.in_(part), Patch.kind != SUGGESTION))
        for msgid, sender, subject, date, parent, refs, kind, change, links in rows:
            facts.append(PatchFact(
                msgid=msgid, sender=sender, subject=SubjectInfo.parse(subject), date=date,
                parent=parent, references=tuple(refs.split()), has_diff=kind == "patch",
                change_id=change, links=tuple(links.split())))
    return facts


def _with_shared_change_ids(session: Session, senders: set[str]) -> set[str]:
    """The senders plus everyone whose patches share a b4 change-id with theirs: b4's web relay
    sends as ``devnull+user.example.org@kernel.org``, so one work can come from two addresses,
    and their revisions must be linked whichever batch brought them."""
    changes: set[str] = set()
    for part in chunked(senders):
        changes.update(c for (c,) in session.execute(
            select(Patch.change_id).where(Patch.sender_email.in_(part), Patch.change_id != "")
            .distinct()))
    out = set(senders)
    for part in chunked(changes):
        out.update(e for (e,) in session.execute(
            select(Patch.sender_email).where(Patch.change_id.in_(part)).distinct()))
    return out


def regroup(session: Session, senders: Iterable[str]) -> set[int]:
    """Bring the series of these submitters to what all their patch facts make, writing only
    what changed; return the ids of the series that were added or changed.

    The groups are computed from every patch of each submitter (the pure
    :func:`listarchive.mail.series.group_series`: a few milliseconds a thousand patches), but a
    batch changes few of them: writing every series, membership and revision link of a
    prolific submitter again was 70% of regrouping them (2.2 s for one with 1,300 patches, at
    each batch that brought one of theirs). The rows left equal those a full rebuild writes."""
    senders = sorted(_with_shared_change_ids(session, set(senders)))
    if not senders:
        return set()
    facts = _facts_for(session, senders)
    groups = group_series(facts)
    by_msgid = {f.msgid: f for f in facts}
    pk_of: dict[str, int] = {}
    member_of: dict[int, int | None] = {}
    for part in chunked(by_msgid):
        for msgid, pk, sid in session.execute(
                select(Patch.msgid, Patch.id, Patch.series_id).where(Patch.msgid.in_(part))):
            pk_of[msgid] = pk
            member_of[pk] = sid
    groups = [g for g in groups if g.anchor in pk_of]
    wanted = {pk_of[g.anchor]: _series_row(g, pk_of, by_msgid) for g in groups}
    new_member: dict[int, int] = {}
    for g in groups:
        for msgid in [*(m for _, m in g.patches), *([g.cover] if g.cover else [])]:
            if msgid in pk_of:
                new_member[pk_of[msgid]] = pk_of[g.anchor]
    old = {row.id: row for row in session.execute(
        select(*_SERIES_COLUMNS).where(Series.sender_email.in_(senders)))}
    wanted_links = {(pk_of[a], pk_of[b]): why for a, b, why in link_revisions(groups, by_msgid)
                    if a in pk_of and b in pk_of}
    old_links: dict[tuple[int, int], str] = {}
    for ids in chunked(old):
        for a, b, why in session.execute(
                select(SeriesRevision.older_id, SeriesRevision.newer_id, SeriesRevision.reason)
                .where(SeriesRevision.older_id.in_(ids) | SeriesRevision.newer_id.in_(ids))):
            old_links[(a, b)] = why

    moved = {pk: sid for pk, sid in new_member.items() if member_of.get(pk) != sid}
    leaving = [pk for pk, sid in member_of.items() if sid is not None and pk not in new_member]
    gone = [sid for sid in old if sid not in wanted]
    added = [row for sid, row in wanted.items() if sid not in old]
    changed = [row for sid, row in wanted.items() if sid in old and _differs(old[sid], row)]
    # Patches leave their series first, links go before the series they name.
    for ids in chunked([*leaving, *moved]):
        session.execute(update(Patch).where(Patch.id.in_(ids)).values(series_id=None))
    stale = [pair for pair, why in old_links.items() if wanted_links.get(pair) != why]
    for pair in stale:
        session.execute(delete(SeriesRevision).where(SeriesRevision.older_id == pair[0],
                                                     SeriesRevision.newer_id == pair[1]))
    for ids in chunked(gone):
        session.execute(delete(Series).where(Series.id.in_(ids)))
    if added:
        session.execute(insert(Series), added)
    if changed:
        session.execute(update(Series), changed)
    if moved:  # one statement (executemany), not one a series
        session.execute(update(Patch), [{"id": pk, "series_id": sid} for pk, sid in moved.items()])
    fresh = [{"older_id": a, "newer_id": b, "reason": why}
             for (a, b), why in sorted(wanted_links.items()) if old_links.get((a, b)) != why]
    if fresh:
        session.execute(insert(SeriesRevision), fresh)
    # Series whose rows or members changed: their subsystem links follow their patches'.
    touched = {sid for sid, row in wanted.items() if sid not in old or _differs(old[sid], row)}
    touched.update(moved.values())
    touched.update(sid for pk in (*leaving, *moved)
                   if (sid := member_of.get(pk)) is not None and sid in wanted)
    link_subsystems(session, touched)
    return touched


_SERIES_COLUMNS = (Series.id, Series.anchor_msgid, Series.cover_msgid, Series.title,
                   Series.revision, Series.total, Series.received, Series.complete,
                   Series.missing, Series.is_rfc, Series.sender_email, Series.date,
                   Series.change_id)


def _differs(row: Any, wanted: dict[str, object]) -> bool:
    return any(getattr(row, key) != value for key, value in wanted.items())


def link_subsystems(session: Session, series_ids: Iterable[int] | None = None) -> None:
    """Derive the series-subsystem links of these series (all series: ``None``) from their
    patches' links. Deleting a series deletes its links (foreign key cascade)."""
    query = series_subsystem_links()
    if series_ids is None:
        session.execute(delete(SeriesSubsystem))
        session.execute(insert(SeriesSubsystem).from_select(["series_id", "subsystem_id"], query))
        return
    for part in chunked(series_ids):
        session.execute(delete(SeriesSubsystem).where(SeriesSubsystem.series_id.in_(part)))
        session.execute(insert(SeriesSubsystem).from_select(
            ["series_id", "subsystem_id"], query.where(Patch.series_id.in_(part))))


def _series_row(g: SeriesGroup, pk_of: dict[str, int],
                facts: dict[str, PatchFact]) -> dict[str, object]:
    anchor = facts[g.anchor]
    return {
        "id": pk_of[g.anchor], "anchor_msgid": g.anchor, "cover_msgid": g.cover or "",
        "title": g.title, "revision": g.revision, "total": max(g.total, 1),
        "received": len(g.patches), "complete": g.complete,
        "missing": ",".join(map(str, g.missing))[:255], "is_rfc": anchor.subject.is_rfc,
        "sender_email": g.sender, "date": g.date,
        "change_id": g.change_id[:255],
    }


def reset(session: Session) -> None:
    """Drop the derived review data (``reindex`` rebuilds it)."""
    session.execute(delete(SeriesSubsystem))
    session.execute(delete(PatchSubsystem))
    session.execute(update(Patch).values(series_id=None))
    session.execute(delete(SeriesRevision))
    session.execute(delete(Series))
    session.execute(delete(Trailer))
    session.execute(delete(PatchDiff))
    session.execute(delete(Patch))
