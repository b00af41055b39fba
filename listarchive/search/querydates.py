"""The dates of the search language: the value of ``d:`` as a half-open range (see
:func:`parse_date_range`), absolute or relative to the moment the query is asked."""

from __future__ import annotations

import calendar
import re
from datetime import datetime, timedelta

from listarchive.clock import utcnow
from listarchive.errors import QueryError
from listarchive.search.querytree import DateRange

_ABSOLUTE_RE = re.compile(
    r"^(\d{4})-?(\d{2})-?(\d{2})(?:[Tt ]?(\d{2}):?(\d{2})(?::?(\d{2}))?)?$")
_RELATIVE_RE = re.compile(r"^(\d{1,6})\.(second|minute|hour|day|week|month|year)s?\.ago$")
_LAST_RE = re.compile(r"^last\.(day|week|month|year)$")
_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400}


def _months_back(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + (moment.month - 1) - months
    year, month = divmod(index, 12)
    month += 1
    if year < 1:
        raise ValueError("before year 1")
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def _point(text: str, now: datetime) -> tuple[datetime, bool]:
    """One side of a range: the moment it names, and whether it names a whole day."""
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if text == "today":
        return today, True
    if text == "yesterday":
        return today - timedelta(days=1), True
    if text == "now":
        return now, False
    m = _ABSOLUTE_RE.match(text)
    if m:
        parts = [int(g) if g else 0 for g in m.groups()]
        moment = datetime(*parts)  # type: ignore[arg-type]
        return moment, m.group(4) is None
    m = _LAST_RE.match(text)
    count, unit = (1, m.group(1)) if m else (0, "")
    if not m:
        m = _RELATIVE_RE.match(text)
        if not m:
            raise ValueError("not a date")
        count, unit = int(m.group(1)), m.group(2)
    if unit == "month":
        return _months_back(now, count), False
    if unit == "year":
        return _months_back(now, 12 * count), False
    return now - timedelta(seconds=count * _UNIT_SECONDS[unit]), False


def parse_date_range(text: str, now: datetime | None = None, position: int = 0) -> DateRange:
    """The value of ``d:`` as a half-open range ``[start, end)`` in naive UTC.

    A side is an absolute day (``2024-01-31``, ``20240131``), a moment (``20240131123000``,
    ``2024-01-31T12:30``), a day relative to ``now`` (``today``, ``yesterday``) or a moment
    relative to it (``3.days.ago``, ``2.weeks.ago``, ``last.month``, ``now``). Days are inclusive
    at both ends: ``d:2024-01-01..2024-01-31`` is all of January. Either side may be left open
    (``d:2.weeks.ago..``, ``d:..2023-12-31``). A single value is the day it names or falls in:
    ``d:3.days.ago`` is that whole calendar day, not everything since.
    """
    if now is None:
        now = utcnow()
    value = text.strip().lower()
    try:
        if ".." not in value:
            moment, _ = _point(value, now)
            day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
            return DateRange(day, day + timedelta(days=1))
        left, right = value.split("..", 1)
        if not left and not right:
            raise QueryError("d: needs a date on at least one side of '..'", position)
        start: datetime | None = _point(left, now)[0] if left else None
        end: datetime | None = None
        if right:
            moment, whole_day = _point(right, now)
            end = moment + timedelta(days=1) if whole_day else moment
    except (ValueError, OverflowError) as exc:
        raise QueryError(
            f"bad date {text!r} in d: (use YYYY-MM-DD, YYYYMMDD, today, yesterday, "
            "N.days.ago, N.weeks.ago, last.month, with '..' for a range)", position) from exc
    if start is not None and end is not None and start >= end:
        raise QueryError(f"date range {text!r} ends before it starts", position)
    return DateRange(start, end)
