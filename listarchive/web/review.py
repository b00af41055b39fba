"""Patch-review pages and their machine twins: ``/LIST/series/``, ``/series/ID/``,
``/patch/ID/``, ``/s/SUBSYSTEM/``, the am-ready mboxes and the raw diff.

Ids are message primary keys; the converters cap them (``MAX_ID``) so an absurd number is a
404 and never an integer overflow in the database driver.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, abort, render_template, request

from listarchive.archive import messageview
from listarchive.mail.msgids import quote_msgid
from listarchive.review import history, seriesview
from listarchive.review.states import STATES
from listarchive.web.context import absolute, db, int_arg, list_name, site_url, viewer
from listarchive.web.downloads import DOWNLOAD_CSP, content_disposition

bp = Blueprint("review", __name__)
MAX_ID = 2**53
PER_PAGE = 50
_SLUG_RE = re.compile(r"^[a-z0-9-]{1,255}$")
_EMAIL_RE = re.compile(r"^[^\s<>\"]{1,320}$")


_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_USER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
FILTER_KEYS = ("state", "subsystem", "submitter", "delegate", "since", "until")


def series_filters() -> dict[str, str]:
    """``state``, ``subsystem``, ``submitter``, ``delegate``, ``since`` and ``until`` from the
    query string, checked (400 if bad) and kept as text, so links can carry them on."""
    values = {key: request.args.get(key, "").strip() for key in FILTER_KEYS}
    try:
        seriesview.check_state(values["state"])
    except seriesview.BadFilter as exc:
        abort(400, description=str(exc))
    if values["subsystem"] and not _SLUG_RE.match(values["subsystem"]):
        abort(400, description="?subsystem= is a subsystem's URL name (a-z, 0-9, -)")
    if values["submitter"] and not _EMAIL_RE.match(values["submitter"]):
        abort(400, description="?submitter= is an e-mail address")
    if values["delegate"] and not _USER_RE.match(values["delegate"]):
        abort(400, description="?delegate= is a user name")
    for key in ("since", "until"):
        if values[key]:
            _date(key, values[key])
    return values


def _date(key: str, text: str) -> datetime:
    try:
        if not _DATE_RE.match(text):
            raise ValueError(text)
        return datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        abort(400, description=f"?{key}= is a date written YYYY-MM-DD")


def filter_args(values: dict[str, str]) -> dict[str, Any]:
    """Checked filter text -> the keyword arguments of the series messageview."""
    return {"state": values["state"], "subsystem": values["subsystem"],
            "submitter": values["submitter"], "delegate": values["delegate"],
            "since": _date("since", values["since"]) if values["since"] else None,
            "until": _date("until", values["until"]) if values["until"] else None}


def _download(body: bytes, content_type: str, filename: str = "") -> Response:
    resp = Response(body, content_type=content_type)
    if filename:
        resp.headers["Content-Disposition"] = content_disposition(filename)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Content-Security-Policy"] = DOWNLOAD_CSP
    return resp


def _status(kind: str, object_id: int) -> dict[str, Any]:
    """What the status section of a series or patch page needs (see ``_state.html``)."""
    from listarchive.web.statusviews import may_change

    return {"kind": kind, "oid": object_id, "states": STATES, "can_change": may_change(
        kind, object_id), "history": history.state_history(db(), viewer(), kind,
                                                                 object_id)}


@bp.route("/<name>/series/", methods=["GET", "HEAD"])
def series_list(name: str) -> Any:
    name = list_name(name)
    filters = series_filters()
    page = int_arg("page", 1)
    listing = seriesview.series_list(db(), viewer(), name, page=page, per_page=PER_PAGE,
                                        **filter_args(filters))
    if listing is None:
        abort(404, description=f"there is no list named {name!r} here")
    return render_template("series_list.html", listing=listing, name=name, filters=filters,
                           states=seriesview.STATES,
                           query={k: v for k, v in filters.items() if v})


@bp.route(f"/series/<int(max={MAX_ID}):series_id>/", methods=["GET", "HEAD"])
def series_page(series_id: int) -> Any:
    detail = seriesview.series_detail(db(), viewer(), series_id)
    if detail is None:
        abort(404, description="no such series")
    return render_template("series.html", detail=detail, name=detail.row.home_list,
                           b4_url=absolute(f"/r/{quote_msgid(detail.row.anchor_msgid)}"),
                           mbox_url=absolute(f"/series/{series_id}/mbox"),
                           **_status("series", series_id))


@bp.route(f"/series/<int(max={MAX_ID}):series_id>/mbox", methods=["GET", "HEAD"])
def series_mbox(series_id: int) -> Response:
    found = seriesview.series_mbox(db(), viewer(), series_id, site_url())
    if found is None:
        abort(404, description="no such series")
    filename, body = found
    return _download(body, "application/mbox", filename)


@bp.route(f"/patch/<int(max={MAX_ID}):patch_id>/", methods=["GET", "HEAD"])
def patch_page(patch_id: int) -> Any:
    detail = seriesview.patch_detail(db(), viewer(), patch_id)
    if detail is None:
        abort(404, description="no such patch")
    return render_template("patch.html", detail=detail, name=detail.item.home_list,
                           **_status("patch", patch_id) if detail.item.kind != "cover" else {})


@bp.route(f"/patch/<int(max={MAX_ID}):patch_id>/raw", methods=["GET", "HEAD"])
def patch_raw(patch_id: int) -> Response:
    detail = seriesview.patch_detail(db(), viewer(), patch_id)
    if detail is None or not detail.diff:
        abort(404, description="no such patch, or it carries no diff")
    return _download(detail.diff.encode("utf-8", "surrogateescape"),
                     "text/plain; charset=utf-8")


@bp.route(f"/patch/<int(max={MAX_ID}):patch_id>/mbox", methods=["GET", "HEAD"])
def patch_mbox(patch_id: int) -> Response:
    body = seriesview.patch_mbox(db(), viewer(), patch_id, site_url())
    if body is None:
        abort(404, description="no such patch (cover letters and pull requests have no mbox)")
    return _download(body, "application/mbox", f"patch-{patch_id}.mbx")


@bp.route("/s/<slug>/", methods=["GET", "HEAD"])
def subsystem_page(slug: str) -> Any:
    if not _SLUG_RE.match(slug):
        abort(400, description="a subsystem's URL name has only a-z, 0-9 and -")
    page = seriesview.subsystem_page(db(), viewer(), slug)
    if page is None:
        abort(404, description="no subsystem by that name (is MAINTAINERS imported?)")
    return render_template("subsystem.html", page=page, name=messageview.ALL)
