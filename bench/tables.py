"""Markdown tables and the figures' common formats, for every section of BENCHMARKS.md."""

from __future__ import annotations

from collections.abc import Iterable

NA = "n/a"


def table(head: list[str], rows: Iterable[list[str]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def ratio(ours: float | None, peer: float | None) -> str:
    if not ours or not peer:
        return NA
    return f"{ours / peer:.2f}x"
