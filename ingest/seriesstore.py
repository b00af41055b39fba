"""Writes patches, trailers, series and revision links: the review side of the store.

Like :mod:`ingest.messagestore` it takes a session and never commits. The series a batch can
change are regrouped from every patch fact that decides them (:mod:`ingest.seriesscope`), with
the pure :func:`listarchive.mail.series.group_series`, so the result does not depend on which
batch brought which patch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.orm import Session

from ingest.seriesscope import SERIES_COLUMNS, link_scope, patch_scope
from listarchive.archive.batches import among, chunked
from listarchive.archive.db import UNCACHED
from listarchive.archive.derived import link_rows, series_subsystem_links
from listarchive.archive.models import (
    Patch,
    PatchDiff,
    PatchLink,
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
from listarchive.mail.series import (
    PatchFact,
    SeriesGroup,
    group_series,
    link_revisions,
    title_key,
)
from listarchive.mail.trailers import matches_sender


def store_facts(session: Session, items: Sequence[tuple[int, str, ParsedMessage, MailFacts]],
                matcher: tuple[SubsystemMatcher, dict[str, int]] | None = None) -> list[str]:
    """Record patch rows and trailers of freshly stored messages; return the Message-IDs of the
    patch mails to regroup (:func:`regroup`). ``items`` are (message pk, archive msgid, parsed,
    facts)."""
    patches: list[dict[str, object]] = []
    trailers: list[dict[str, object]] = []
    links: list[dict[str, object]] = []
    pointers: list[dict[str, object]] = []
    diffs: list[dict[str, object]] = []
    seeds: list[str] = []
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
            seeds.append(msgid)
        pointers += link_rows(pk, facts.links)
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
        _anchor_at_patches(session, trailers, {str(p["msgid"]) for p in patches
                                               if p["kind"] != SUGGESTION})
        session.execute(insert(Trailer), trailers)
    if links:
        session.execute(insert(PatchSubsystem), links)
    if pointers:
        session.execute(insert(PatchLink), pointers)
    return seeds


def _anchor_at_patches(session: Session, trailers: list[dict[str, object]],
                       new_patches: set[str]) -> None:
    """Give the trailers whose target is a patch, cover letter or pull request that target as
    their anchor, before they are inserted: the anchor is the nearest one up the reply chain,
    here the target itself (:func:`listarchive.archive.derived.trailer_anchors`). Most
    trailers are a patch's own or a review answering one; anchored only after their insert,
    every one of them was written twice (8,318 updates for 8,361 trailers over linux-clk 10k,
    each a new row version and its index entries on PostgreSQL). The batch's
    ``anchor_trailers`` still anchors the others and moves what later mail moves."""
    targets = {str(t["target_msgid"]) for t in trailers} - new_patches
    patches = set(new_patches)
    for part in chunked(targets):
        patches.update(session.scalars(select(Patch.msgid).where(
            among(session, Patch.msgid, part), Patch.kind != SUGGESTION)))
    for trailer in trailers:
        target = trailer["target_msgid"]
        trailer["anchor_msgid"] = target if target in patches else ""


def load_matcher(session: Session) -> tuple[SubsystemMatcher, dict[str, int]] | None:
    """The subsystem matcher of the imported MAINTAINERS file, or None before an import."""

    rows = session.execute(select(Subsystem.id, Subsystem.name, Subsystem.patterns)).all()
    if not rows:
        return None
    text = "\n\n".join(f"{name}\n{patterns}" for _, name, patterns in rows)
    return SubsystemMatcher(parse_maintainers(text)), {name: sid for sid, name, _ in rows}


def regroup(session: Session, seeds: Iterable[str]) -> set[int]:
    """Bring the series that the patch mails ``seeds`` (Message-IDs, stored) can change to what
    all patch facts make, writing only what changed; return the ids of the series that were
    added or changed.

    Only what the new mail can change is read (:mod:`ingest.seriesscope`): reading all patches
    of each sender in a batch was a quarter of an ingest at 100,000 messages and grew with every
    sender's history. The rows left equal those a regroup of every patch writes."""
    scope = patch_scope(session, seeds)
    if not scope.facts:
        return set()
    pk_of, member_of = scope.pk_of, scope.member_of
    groups = [g for g in group_series(scope.facts.values()) if g.anchor in pk_of]
    wanted = {pk_of[g.anchor]: _series_row(g, pk_of, scope.facts) for g in groups}
    new_member: dict[int, int] = {}
    for g in groups:
        for msgid in g.members:
            new_member[pk_of[msgid]] = pk_of[g.anchor]
    old_rows: list[Any] = []
    for part in chunked(scope.series_ids):
        old_rows += session.execute(select(*SERIES_COLUMNS).where(among(session, Series.id, part))).all()
    old = {row.id: row for row in old_rows}
    links = link_scope(session, scope, groups, old_rows)
    id_of = {**links.ids, **{g.anchor: pk_of[g.anchor] for g in groups}}
    wanted_links = {(id_of[a], id_of[b]): why
                    for a, b, why in link_revisions(links.groups, links.facts)
                    if b in links.recompute}
    newer = {id_of[a] for a in links.recompute} | set(old)
    old_links: dict[tuple[int, int], str] = {}
    for part in chunked(newer):
        for a, b, why in session.execute(
                select(SeriesRevision.older_id, SeriesRevision.newer_id, SeriesRevision.reason)
                .where(among(session, SeriesRevision.newer_id, part)
                       | among(session, SeriesRevision.older_id, part))):
            if b in newer or a in old:
                old_links[(a, b)] = why

    moved = {pk: sid for pk, sid in new_member.items() if member_of.get(pk) != sid}
    leaving = [pk for pk, sid in member_of.items() if sid is not None and pk not in new_member]
    gone = [sid for sid in old if sid not in wanted]
    added = [row for sid, row in wanted.items() if sid not in old]
    changed = [row for sid, row in wanted.items() if sid in old and _differs(old[sid], row)]
    # Patches leave their series first, links go before the series they name.
    for ids in chunked([*leaving, *moved]):
        session.execute(update(Patch).where(Patch.id.in_(ids)).values(series_id=None))
    stale = sorted(pair for pair, why in old_links.items() if wanted_links.get(pair) != why)
    for pairs in chunked(stale):  # an OR of index lookups: one statement, not one a link
        session.execute(delete(SeriesRevision).where(or_(*(
            and_(SeriesRevision.older_id == a, SeriesRevision.newer_id == b) for a, b in pairs))),
            execution_options=UNCACHED)
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
        "change_id": g.change_id[:255], "title_key": title_key(g.title),
    }


def reset(session: Session) -> None:
    """Drop the derived review data (``reindex`` rebuilds it)."""
    session.execute(delete(SeriesSubsystem))
    session.execute(delete(PatchSubsystem))
    session.execute(update(Patch).values(series_id=None))
    session.execute(delete(SeriesRevision))
    session.execute(delete(Series))
    session.execute(delete(Trailer))
    session.execute(delete(PatchLink))
    session.execute(delete(PatchDiff))
    session.execute(delete(Patch))
