"""Keeps a search index following the database: the messages stored, the state history, the
audit log of embargoes and the subsystems, each followed from the index's own position
(:mod:`listarchive.search.follow`: kept beside the index, moved by one process at a time);
the documents themselves are built by :mod:`listarchive.search.docbuilder`.

Indexing is off the storing path: the worker stores mail at its own speed, and this indexer
catches up in large batches (one commit each, both cores for big batches), into the index of the
configured engine (:mod:`listarchive.search.engine`). A crash before a commit leaves the index as
it was and its position behind it; the next run re-adds those messages, which
:meth:`SearchIndex.add` replaces by Message-ID, so nothing doubles.

A patch's ``state:`` facet changes long after its mail was indexed (a maintainer's click, git-scan,
a newer revision). Every such change is a history entry (``state_changes``), so the history is
the queue: the documents named by the entries past the index's position are rebuilt at the
start of every catch-up, and right after their commit by the site and the commands that change
states; every other machine's index follows the same entries at its own catch-up.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from listarchive.access.embargo import EmbargoChange
from listarchive.archive.batches import scalars_in
from listarchive.archive.db import open_archive
from listarchive.archive.models import AuditEvent, Check, Message, Patch, StateChange
from listarchive.errors import IndexBusy, SearchUnavailable
from listarchive.memory import give_back
from listarchive.review.trailers import anchored_to
from listarchive.search import docbuilder, engine, follow
from listarchive.search.documents import SearchDoc
from listarchive.settings import Settings

logger = logging.getLogger(__name__)
# Messages per commit. The writer's memory grows with the documents of a commit, on top of what
# the process already holds: an ingest indexes after storing (100k messages, search on: peak RSS
# 337 MB in batches of 8,000, 284 MB in batches of 2,000). A rebuild alone in its own process
# (``reindex --search``) holds nothing else and takes the larger batch, a fifth faster (100k:
# 89 s and 252 MB, against 105-111 s and 194 MB).
BATCH = 2000
REBUILD_BATCH = 8000


def reviewed_targets(session: Session, ids: list[int], before: int) -> list[tuple[int, SearchDoc]]:
    """Documents to refresh because replies among ``ids`` gave them trailers (``has:``): the
    already indexed patches and covers (id <= ``before``) those trailers count for."""
    targets = [pk for pk in anchored_to(session, ids) if pk <= before]
    return list(docbuilder.documents(session, docbuilder.rows_of(session, targets)))


def _positions(settings: Settings, session: Session) -> follow.Positions:
    """The index's positions; a folder with no index yet starts from nothing."""
    index_dir = Path(settings.index_dir)
    if engine.built(index_dir) is None:
        return follow.Positions()
    return follow.Positions.load(index_dir, session)


def reindex_messages(settings: Settings, sessions: sessionmaker[Session],
                     msgids: Sequence[str]) -> int:
    """Rebuild the search documents of these messages now (after an embargo was set, widened,
    lifted or put back), so their ``visibility`` key is current. Those not indexed yet are
    left to the catch-up, which builds them as they are then."""
    if not settings.search_enabled or not msgids:
        return 0
    with follow.following(settings.index_dir, settings.lock_timeout):
        with sessions() as session:
            indexed = _positions(settings, session).messages
            ids = sorted(pk for pk in scalars_in(session, select(Message.id), Message.msgid,
                                                 msgids) if pk <= indexed)
        return _rebuild(settings, sessions, ids)


def state_targets(session: Session, after: int, upto: int, indexed: int) -> list[int]:
    """Message pks whose ``state:`` facet the history entries ``after < id <= upto`` may have
    changed, among those indexed (pk <= ``indexed``): the patches, and the cover letter and
    anchor of every series involved (a cover shows its series' state, which follows its
    patches)."""
    patch_ids: set[int] = set()
    series_ids: set[int] = set()
    for kind, oid in session.execute(
            select(StateChange.object_kind, StateChange.object_id)
            .where(StateChange.id > after, StateChange.id <= upto, StateChange.field == "state")):
        (patch_ids if kind == "patch" else series_ids).add(int(oid))
    series_ids.update(sid for sid in scalars_in(session, select(Patch.series_id), Patch.id,
                                                 patch_ids) if sid is not None)
    found = patch_ids | series_ids
    found.update(scalars_in(session, select(Patch.id).where(Patch.kind == "cover"),
                            Patch.series_id, series_ids))
    return sorted(pk for pk in found if pk <= indexed)


def check_targets(session: Session, after: int, upto: int, indexed: int) -> list[int]:
    """Patch pks whose ``check:`` facet the checks ``after < id <= upto`` changed, among
    those indexed (pk <= ``indexed``)."""
    return sorted(pk for pk in session.scalars(
        select(Check.patch_id).where(Check.id > after, Check.id <= upto).distinct())
        if pk <= indexed)


Targets = Callable[[Session, int, int, int], list[int]]


def refresh_states(settings: Settings, sessions: sessionmaker[Session],
                   timeout: float | None = None, limit: int | None = None) -> int:
    """Rebuild the documents of what changed state, or got a CI check, since the index last
    followed the state history and the checks (see the module's docstring); returns how many.
    ``timeout`` bounds each wait for the index, its follow lock and its engine's write lock
    (IndexBusy past it), and ``limit`` the number of documents worth doing now (the site passes
    both: an ingest catching up, or a change too large for a web request, is left to the next
    catch-up)."""
    if not settings.search_enabled:
        return 0
    with follow.following(settings.index_dir, settings.lock_timeout if timeout is None
                          else timeout):
        with sessions() as session:
            positions = _positions(settings, session)
        states = _follow_states(settings, sessions, positions, limit, timeout)
        checks = _follow_checks(settings, sessions, positions, limit, timeout)
        positions.save(Path(settings.index_dir))
    return max(states, 0) + max(checks, 0)


def _follow_states(settings: Settings, sessions: sessionmaker[Session],
                   positions: follow.Positions, limit: int | None = None,
                   timeout: float | None = None) -> int:
    """Rebuild the documents the state history past ``positions.states`` changed and move the
    position; -1 when more than ``limit`` changed (left as it was)."""
    return _follow(settings, sessions, positions, "states", StateChange.id, state_targets, limit,
                   timeout)


def _follow_checks(settings: Settings, sessions: sessionmaker[Session],
                   positions: follow.Positions, limit: int | None = None,
                   timeout: float | None = None) -> int:
    """Rebuild the documents of the patches that got CI checks past ``positions.checks``."""
    return _follow(settings, sessions, positions, "checks", Check.id, check_targets, limit,
                   timeout)


def _follow(settings: Settings, sessions: sessionmaker[Session], positions: follow.Positions,
            field: str, column: Any, targets_of: Targets, limit: int | None,
            timeout: float | None = None) -> int:
    after = getattr(positions, field)
    with sessions() as session:
        upto = int(session.scalar(select(func.max(column))) or 0)
        if upto <= after:
            return 0
        targets = targets_of(session, after, upto, positions.messages)
    if limit is not None and len(targets) > limit:
        logger.info("%d documents changed (%s); left to the next catch-up", len(targets), field)
        return -1
    done = _rebuild(settings, sessions, targets, timeout)
    setattr(positions, field, upto)
    return done


def _follow_visibility(settings: Settings, sessions: sessionmaker[Session],
                       positions: follow.Positions) -> int:
    """Rebuild the documents of indexed messages whose visibility changed since the index
    last followed the audit log: every hide, disclosure and un-publishing is an audit entry
    naming the message (what the ingest hides as a reply to an embargoed message included), on
    whichever machine it was done."""
    with sessions() as session:
        upto = int(session.scalar(select(func.max(AuditEvent.id))) or 0)
        if upto <= positions.visibility:
            return 0
        msgids = set(session.scalars(select(AuditEvent.target_msgid).where(
            AuditEvent.id > positions.visibility, AuditEvent.id <= upto,
            AuditEvent.action.in_(("restricted", "disclosed", "unpublished")))))
        targets = sorted(pk for pk in scalars_in(session, select(Message.id), Message.msgid,
                                                 msgids) if pk <= positions.messages)
    done = _rebuild(settings, sessions, targets)
    positions.visibility = upto
    return done


def _follow_subsystems(settings: Settings, sessions: sessionmaker[Session],
                       positions: follow.Positions) -> int:
    """Rebuild the documents of every indexed patch and cover letter when MAINTAINERS was
    imported again since (their ``subsystem:`` facets name the old subsystems)."""
    with sessions() as session:
        version = follow.subsystems_version(session)
        if version == positions.subsystems:
            return 0
        targets = list(session.scalars(select(Patch.id).where(Patch.id <= positions.messages)
                                       .order_by(Patch.id)))
    done = _rebuild(settings, sessions, targets)
    positions.subsystems = version
    return done


def reindex_patches(settings: Settings, sessions: sessionmaker[Session]) -> int:
    """Bring this machine's index up to a MAINTAINERS import now (``maintainers import``);
    every other index follows the subsystems version at its next catch-up."""
    if not settings.search_enabled:
        return 0
    with follow.following(settings.index_dir, settings.lock_timeout):
        with sessions() as session:
            positions = _positions(settings, session)
        done = _follow_subsystems(settings, sessions, positions)
        positions.save(Path(settings.index_dir))
    return done


def _rebuild(settings: Settings, sessions: sessionmaker[Session], ids: Sequence[int],
             timeout: float | None = None) -> int:
    """Replace the documents of these messages, in batches of :data:`BATCH`, each waiting up
    to ``timeout`` for the engine's write lock (the engine's own default when None)."""
    if not ids:
        return 0
    done = 0
    try:
        index = engine.open_writer(settings, create=False)
    except SearchUnavailable as exc:
        logger.warning("search documents not refreshed: %s", exc)
        return 0
    try:
        for first in range(0, len(ids), BATCH):
            with sessions() as session:
                rows = docbuilder.rows_of(session, ids[first:first + BATCH])
                done += index.add((doc for _, doc in docbuilder.documents(session, rows)),
                                  replace={r.msgid for r in rows}, expected=len(rows),
                                  timeout=timeout)
            give_back()
    finally:
        index.close()
    return done


def catch_up(settings: Settings, sessions: sessionmaker[Session], batch: int = BATCH,
             timeout: float | None = None) -> int:
    """Bring the index up to the database: the state, visibility and subsystem changes it has
    not followed yet, then every message stored since its position; returns how many documents
    were (re)built.

    Another process bringing this index up to date meanwhile (an ingest, a web server's
    follower) is waited for up to ``timeout`` (the storage lock timeout by default), then left
    to it: it looks again for new mail after it lets go of the index. An index the configured
    engine did not build is left alone (the mail is stored; the warning says to run
    ``listarchive reindex --search``). Reaching the newest message completes an index that a
    rebuild started."""
    if not settings.search_enabled:
        return 0
    wait = settings.lock_timeout if timeout is None else timeout
    done = 0
    while True:
        try:
            with follow.following(settings.index_dir, wait):
                found, position = _catch_up(settings, sessions, batch)
        except IndexBusy:
            logger.info("the search index is being brought up to date by another process")
            return done
        done += found
        # Mail stored while this process held the index, by one that found it busy.
        with sessions() as session:
            if position < 0 or (session.scalar(select(func.max(Message.id))) or 0) <= position:
                return done


def _catch_up(settings: Settings, sessions: sessionmaker[Session], batch: int) -> tuple[int, int]:
    """catch_up's work under the index's follow lock: (documents built, message position),
    the position -1 when the index could not be opened."""
    index_dir = Path(settings.index_dir)
    with sessions() as session:
        positions = _positions(settings, session)
        heads = follow.heads(session)
    if _followed(settings, positions, heads):
        return 0, positions.messages
    stored = heads.messages
    try:
        # Starting from nothing, the index is created; it answers searches at once only if
        # there is nothing stored yet (search switched on for a full archive: once built).
        index = engine.open_writer(settings, create=positions.messages == 0,
                                   complete=stored == 0)
    except SearchUnavailable as exc:
        logger.warning("mail stored but not indexed for search: %s", exc)
        return 0, -1
    try:
        done = (_follow_states(settings, sessions, positions)
                + _follow_checks(settings, sessions, positions)
                + _follow_visibility(settings, sessions, positions)
                + _follow_subsystems(settings, sessions, positions))
        positions.save(index_dir)
        while True:
            with sessions() as session:
                after = positions.messages
                rows = session.execute(docbuilder.row_select().where(Message.id > after)
                                       .order_by(Message.id).limit(batch)).all()
                if not rows:
                    engine.mark_complete(settings)
                    return done, after
                ids = [row.id for row in rows]
                older = reviewed_targets(session, ids, after)
                # Messages past the position are new to the index, unless a crash came
                # between an index commit and the positions' update: then this whole batch
                # prefix is already there, which its first message tells. Older ones
                # (re-indexed because a reply gave them a trailer) replace their documents.
                replace = {doc.msgid for _, doc in older}
                if index.contains(rows[0].msgid):
                    replace.update(row.msgid for row in rows)
                # Documents are built while the writer indexes the previous ones.
                fresh = (doc for _, doc in docbuilder.documents(session, rows))
                index.add(itertools.chain(fresh, (doc for _, doc in older)), replace=replace,
                          expected=len(rows) + len(older))
            positions.messages = ids[-1]
            positions.save(index_dir)
            done += len(rows) + len(older)
            logger.info("indexed %d messages", done)
            give_back()  # the batch's rows and the writer's threads are gone
    finally:
        index.close()


def _followed(settings: Settings, positions: follow.Positions, heads: follow.Positions) -> bool:
    """Whether a complete index of the configured engine already follows every record to its
    head: then a catch-up has nothing to do, and does not open the index. An idle web
    server's follower, every second, sent seven statements and opened a writer (15 ms of CPU
    each time on PostgreSQL); it now sends one."""
    try:
        found = engine.built(Path(settings.index_dir))
        if found is None or not found.complete:
            return False
        engine.usable(settings, found)
    except SearchUnavailable:
        return False  # the full path says why, once
    return positions.reached(heads)


def rebuild(settings: Settings, sessions: sessionmaker[Session], batch: int = BATCH) -> int:
    """Index everything again, with the configured engine (``listarchive reindex``,
    ``reindex --search``, also after changing engines), ``batch`` messages a commit. Searches
    say the index is being built until it is complete."""
    if not settings.search_enabled:
        return 0
    with follow.following(settings.index_dir):
        engine.open_rebuild(settings).close()
        with sessions() as session:
            # Every document is built anew with the states, visibility and subsystems as
            # they are now.
            follow.Positions(
                states=int(session.scalar(select(func.max(StateChange.id))) or 0),
                checks=int(session.scalar(select(func.max(Check.id))) or 0),
                visibility=int(session.scalar(select(func.max(AuditEvent.id))) or 0),
                subsystems=follow.subsystems_version(session)).save(Path(settings.index_dir))
    return catch_up(settings, sessions, batch, timeout=3600.0)


EmbargoAction = Callable[[Session], EmbargoChange | list[EmbargoChange]]


def apply_embargo_change(settings: Settings, change: EmbargoAction,
                         sessions: sessionmaker[Session] | None = None) -> list[EmbargoChange]:
    """Run ``change`` (a restrict, disclose, un-publish or expiry of
    :mod:`listarchive.access.embargo`) in one committed transaction, then rebuild the search
    documents of every message it touched, so hits and totals follow the new visibility at once.
    Without ``sessions`` the archive is opened for this one change (the command line)."""
    archive = open_archive(settings) if sessions is None else None
    maker = archive.sessions if archive is not None else sessions
    assert maker is not None
    try:
        with maker.begin() as session:
            result = change(session)
        changes = result if isinstance(result, list) else [result]
        msgids = sorted({m for c in changes for m in c.msgids})
        if msgids:
            reindex_messages(settings, maker, msgids)
        return changes
    finally:
        if archive is not None:
            archive.close()
