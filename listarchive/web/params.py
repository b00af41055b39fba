"""Request parameters, checked once for every blueprint: page numbers, dates, list names, ids and
the series filters. A bad value is refused here with a 400 that says what was wrong, so views
never see a page number of ``-1`` or ``1e9`` and the database never an offset it cannot handle.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import NoReturn

from flask import abort, request

from listarchive.archive.listview import Cursor
from listarchive.errors import InvalidChange
from listarchive.review.seriesview import SeriesFilters, check_state
from listarchive.settings import LIST_NAME_RE

MAX_PAGE = 10_000
# Page numbers of a list index: deeper than this, the older links (``?o=``) or a date (``?t=``).
MAX_INDEX_PAGE = 100
# Ids are message primary keys; URL converters cap them so an absurd number is a 404 and never
# an integer overflow in the database driver.
MAX_ID = 2**53
SLUG_RE = re.compile(r"^[a-z0-9-]{1,255}$")
_EMAIL_RE = re.compile(r"^[^\s<>\"]{1,320}$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_USER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
FILTER_KEYS = ("state", "subsystem", "submitter", "delegate", "since", "until")


def bad_request(reason: str) -> NoReturn:
    abort(400, description=reason)


def int_arg(name: str, default: int, low: int = 1, high: int = MAX_PAGE) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 6 or not low <= int(raw) <= high:
        bad_request(f"?{name}= must be a whole number from {low} to {high}")
    return int(raw)


def cursor_arg(name: str) -> Cursor | None:
    """A list index's ``?o=`` / ``?n=``: the place its older / newer links go from."""
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        return Cursor.parse(raw)
    except ValueError:
        bad_request(f"?{name}= is a place in the list as its older and newer links give it")


def time_arg(name: str = "t") -> datetime | None:
    """lore's ``?t=YYYYMMDDhhmmss`` (activity older than that moment)."""
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        if not (raw.isascii() and raw.isdigit() and len(raw) in (8, 14)):
            raise ValueError(raw)
        return datetime.strptime(raw, "%Y%m%d%H%M%S" if len(raw) == 14 else "%Y%m%d")
    except ValueError:
        bad_request(f"?{name}= must be a date as YYYYMMDD or YYYYMMDDhhmmss")


def list_name(name: str) -> str:
    if name != "all" and not LIST_NAME_RE.match(name):
        bad_request("not a valid list name (lowercase letters, digits, . _ -)")
    return name


_SUBSYSTEM_NAME_RE = re.compile(r"^[^\x00-\x1f\x7f/]{1,255}$")


def subsystem_slug(slug: str) -> str:
    """A subsystem named in a URL or a filter: its URL slug or its MAINTAINERS name."""
    if not (SLUG_RE.match(slug) or _SUBSYSTEM_NAME_RE.match(slug)):
        bad_request("a subsystem is named by its URL name (a-z, 0-9, -) or its MAINTAINERS "
                    "name")
    return slug


def _date(key: str, text: str) -> datetime:
    try:
        if not _DATE_RE.match(text):
            raise ValueError(text)
        return datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        bad_request(f"?{key}= is a date written YYYY-MM-DD")


def filter_values() -> dict[str, str]:
    """``state``, ``subsystem``, ``submitter``, ``delegate``, ``since`` and ``until`` from the
    query string, checked (400 if bad) and kept as text, so links can carry them on."""
    values = {key: request.args.get(key, "").strip() for key in FILTER_KEYS}
    try:
        check_state(values["state"])
    except InvalidChange as exc:
        bad_request(str(exc))
    if values["subsystem"]:
        values["subsystem"] = subsystem_slug(values["subsystem"])
    if values["submitter"] and not _EMAIL_RE.match(values["submitter"]):
        bad_request("?submitter= is an e-mail address")
    if values["delegate"] and not _USER_RE.match(values["delegate"]):
        bad_request("?delegate= is a user name")
    for key in ("since", "until"):
        if values[key]:
            _date(key, values[key])
    return values


def series_filters(values: dict[str, str]) -> SeriesFilters:
    """Checked filter text (:func:`filter_values`) -> the filters of the series queries."""
    return SeriesFilters(
        state=values["state"], subsystem=values["subsystem"], submitter=values["submitter"],
        delegate=values["delegate"],
        since=_date("since", values["since"]) if values["since"] else None,
        until=_date("until", values["until"]) if values["until"] else None)
