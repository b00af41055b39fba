"""MAINTAINERS subsystems as the pages show them: who looks after them, and which subsystems a
patch touches (most specific first). The import itself is ``ingest.subsystems``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from listarchive.archive.models import PatchSubsystem, Subsystem


@dataclass(frozen=True)
class SubsystemRef:
    slug: str
    name: str
    status: str
    maintainers: tuple[str, ...]
    reviewers: tuple[str, ...]
    lists: tuple[str, ...]


@dataclass(frozen=True)
class FoundSubsystem:
    id: int
    ref: SubsystemRef


def _lines(text: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def subsystem_ref(sub: Subsystem) -> SubsystemRef:
    return SubsystemRef(sub.slug, sub.name, sub.status, _lines(sub.maintainers),
                        _lines(sub.reviewers), _lines(sub.lists))


def named(value: str) -> ColumnElement[bool]:
    """SQL condition on :class:`Subsystem`: the one ``value`` names, by its URL slug
    (``common-clk-framework``) or its MAINTAINERS name (``COMMON CLK FRAMEWORK``, any case)."""
    return (Subsystem.slug == value) | (func.lower(Subsystem.name) == value.strip().lower())


def find_subsystem(session: Session, slug: str) -> FoundSubsystem | None:
    """The subsystem ``slug`` names (a slug or a MAINTAINERS name, see :func:`named`)."""
    sub = session.scalars(select(Subsystem).where(named(slug))
                          .order_by((Subsystem.slug != slug).asc())).first()
    return FoundSubsystem(sub.id, subsystem_ref(sub)) if sub is not None else None


def subsystem_refs(session: Session, patch_ids: Sequence[int], top_only: bool = False
                   ) -> list[SubsystemRef]:
    """Subsystems the patches touch, most specific first; ``top_only`` keeps each patch's best."""
    if not patch_ids:
        return []
    rows = session.execute(
        select(PatchSubsystem.patch_id, PatchSubsystem.rank, Subsystem)
        .join(Subsystem, Subsystem.id == PatchSubsystem.subsystem_id)
        .where(PatchSubsystem.patch_id.in_(list(patch_ids)))
        .order_by(PatchSubsystem.rank, Subsystem.name)).all()
    best: dict[int, int] = {}
    for row in rows:
        best[row.patch_id] = min(row.rank, best.get(row.patch_id, row.rank))
    out: dict[str, SubsystemRef] = {}
    for row in rows:
        if top_only and row.rank != best[row.patch_id]:
            continue
        out.setdefault(row.Subsystem.slug, subsystem_ref(row.Subsystem))
    return list(out.values())
