"""The archive's time: naive datetimes in UTC, as every table stores them and as parsed mail dates
are normalised (SQLite keeps no time zone, and PostgreSQL ``timestamp`` columns are compared the
same way)."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, in UTC, without tzinfo."""
    return datetime.now(UTC).replace(tzinfo=None)


def iso(moment: datetime | None) -> str | None:
    """RFC 3339 in UTC (``2025-01-31T12:00:00Z``), as JSON and Atom write dates."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else None
