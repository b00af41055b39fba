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


def mb(n: float) -> str:
    """Bytes as megabytes: ``"48 MB"``, ``"3.2 MB"`` below ten."""
    return f"{n / 1e6:,.0f} MB" if n >= 10e6 else f"{n / 1e6:,.1f} MB"


def num(x: float, digits: int = 0) -> str:
    """A figure with thousands separators: ``"12,345"``."""
    return f"{x:,.{digits}f}"
