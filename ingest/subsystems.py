"""``listarchive maintainers import``: MAINTAINERS sections into the database, patches matched.

The imported sections are operator data (not derived from mail, so ``reindex`` keeps them); the
patch-to-subsystem links (and the series-to-subsystem links derived from them) are recomputed
here for every stored patch, and for new patches as they arrive
(:func:`ingest.seriesstore.store_facts`, :func:`ingest.seriesstore.regroup`).
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import delete, insert, select

from ingest.seriesstore import link_subsystems
from ingest.worker import Worker
from listarchive.archive.models import Patch, PatchSubsystem, Subsystem
from listarchive.errors import SourceError
from listarchive.mail.maintainers import Subsystem as Section
from listarchive.mail.maintainers import SubsystemMatcher, parse_maintainers
from listarchive.search.follow import bump_subsystems_version
from listarchive.search.indexer import reindex_patches
from listarchive.settings import Settings

_FIELDS = (("M", "maintainers"), ("R", "reviewers"), ("L", "lists"), ("S", "status"),
           ("T", "trees"), ("F", "files"), ("X", "excludes"), ("N", "regexes"), ("K", "keywords"))


def slugify(name: str) -> str:
    """URL name of a subsystem: ``ARM/QUALCOMM CLOCK DRIVERS`` -> ``arm-qualcomm-clock-drivers``."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:200] or "subsystem"


def section_text(section: Section) -> str:
    """The section's field lines in MAINTAINERS form (enough to parse it back)."""
    lines = []
    for tag, attr in _FIELDS:
        value = getattr(section, attr)
        for item in (value,) if isinstance(value, str) else value:
            if item:
                lines.append(f"{tag}:\t{item}")
    return "\n".join(lines)


def import_maintainers(settings: Settings, path: str | Path) -> tuple[int, int]:
    """Replace the subsystems with those of ``path``; returns (sections, patches matched)."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror}") from exc
    sections = parse_maintainers(text)
    if not sections:
        raise SourceError(f"{path}: no MAINTAINERS sections found")
    worker = Worker(settings)
    with worker.sessions.begin() as session:
        session.execute(delete(PatchSubsystem))
        session.execute(delete(Subsystem))
        slugs: set[str] = set()
        rows = []
        for section in sections:
            slug = slugify(section.name)
            while slug in slugs:
                slug += "-"
            slugs.add(slug)
            rows.append({"name": section.name[:255], "slug": slug, "status": section.status[:64],
                         "lists": "\n".join(section.lists),
                         "maintainers": "\n".join(section.maintainers),
                         "reviewers": "\n".join(section.reviewers),
                         "patterns": section_text(section)})
        unique = {r["name"]: r for r in rows}
        session.execute(insert(Subsystem), list(unique.values()))
        ids = {name: sid for sid, name in session.execute(select(Subsystem.id, Subsystem.name))}
        matcher = SubsystemMatcher(sections)
        matched = 0
        patches: list[tuple[int, str]] = [
            (pid, files) for pid, files in
            session.execute(select(Patch.id, Patch.files).where(Patch.files != "")).all()]
        for start in range(0, len(patches), 2000):
            links: list[dict[str, int]] = []
            for pid, files in patches[start:start + 2000]:
                found = [m.name for m in matcher.match(files.split("\n")) if m.name in ids]
                matched += bool(found)
                links.extend({"patch_id": pid, "subsystem_id": ids[name], "rank": rank}
                             for rank, name in enumerate(found))
            if links:
                session.execute(insert(PatchSubsystem), links)
        link_subsystems(session)
        bump_subsystems_version(session)
    # Patches indexed before carry the old subsystems in their ``subsystem:`` facet: this
    # machine's index is brought up to date now, every other one at its next catch-up.
    reindex_patches(settings, worker.sessions)
    return len(unique), matched
