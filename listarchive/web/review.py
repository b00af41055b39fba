"""Patch-review pages and their machine twins: ``/LIST/series/``, ``/series/ID/``,
``/patch/ID/``, ``/s/SUBSYSTEM/``, the am-ready mboxes and the raw diff.

Ids are message primary keys; the converters cap them (``MAX_ID``) so an absurd number is a
404 and never an integer overflow in the database driver.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, abort, render_template, request

from listarchive import queries, reviewqueries
from listarchive.web.context import absolute, db, int_arg, list_name, site_url, viewer
from listarchive.web.downloads import DOWNLOAD_CSP, content_disposition
from listarchive.web.msgids import quote_msgid

bp = Blueprint("review", __name__)
MAX_ID = 2**53
PER_PAGE = 50
_SLUG_RE = re.compile(r"^[a-z0-9-]{1,255}$")
_EMAIL_RE = re.compile(r"^[^\s<>\"]{1,320}$")


def series_filters() -> dict[str, str]:
    """``state``, ``subsystem`` and ``submitter`` from the query string, checked (400 if bad)."""
    state = request.args.get("state", "").strip()
    subsystem = request.args.get("subsystem", "").strip()
    submitter = request.args.get("submitter", "").strip()
    try:
        reviewqueries.check_state(state)
    except reviewqueries.BadFilter as exc:
        abort(400, description=str(exc))
    if subsystem and not _SLUG_RE.match(subsystem):
        abort(400, description="?subsystem= is a subsystem's URL name (a-z, 0-9, -)")
    if submitter and not _EMAIL_RE.match(submitter):
        abort(400, description="?submitter= is an e-mail address")
    return {"state": state, "subsystem": subsystem, "submitter": submitter}


def _download(body: bytes, content_type: str, filename: str = "") -> Response:
    resp = Response(body, content_type=content_type)
    if filename:
        resp.headers["Content-Disposition"] = content_disposition(filename)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Content-Security-Policy"] = DOWNLOAD_CSP
    return resp


@bp.route("/<name>/series/", methods=["GET", "HEAD"])
def series_list(name: str) -> Any:
    name = list_name(name)
    filters = series_filters()
    page = int_arg("page", 1)
    listing = reviewqueries.series_list(db(), viewer(), name, page=page, per_page=PER_PAGE,
                                        **filters)
    if listing is None:
        abort(404, description=f"there is no list named {name!r} here")
    return render_template("series_list.html", listing=listing, name=name, filters=filters,
                           states=reviewqueries.STATES)


@bp.route(f"/series/<int(max={MAX_ID}):series_id>/", methods=["GET", "HEAD"])
def series_page(series_id: int) -> Any:
    detail = reviewqueries.series_detail(db(), viewer(), series_id)
    if detail is None:
        abort(404, description="no such series")
    return render_template("series.html", detail=detail, name=detail.row.home_list,
                           b4_url=absolute(f"/r/{quote_msgid(detail.row.anchor_msgid)}"),
                           mbox_url=absolute(f"/series/{series_id}/mbox"))


@bp.route(f"/series/<int(max={MAX_ID}):series_id>/mbox", methods=["GET", "HEAD"])
def series_mbox(series_id: int) -> Response:
    found = reviewqueries.series_mbox(db(), viewer(), series_id, site_url())
    if found is None:
        abort(404, description="no such series")
    filename, body = found
    return _download(body, "application/mbox", filename)


@bp.route(f"/patch/<int(max={MAX_ID}):patch_id>/", methods=["GET", "HEAD"])
def patch_page(patch_id: int) -> Any:
    detail = reviewqueries.patch_detail(db(), viewer(), patch_id)
    if detail is None:
        abort(404, description="no such patch")
    return render_template("patch.html", detail=detail, name=detail.item.home_list)


@bp.route(f"/patch/<int(max={MAX_ID}):patch_id>/raw", methods=["GET", "HEAD"])
def patch_raw(patch_id: int) -> Response:
    detail = reviewqueries.patch_detail(db(), viewer(), patch_id)
    if detail is None or not detail.diff:
        abort(404, description="no such patch, or it carries no diff")
    return _download(detail.diff.encode("utf-8", "surrogateescape"),
                     "text/plain; charset=utf-8")


@bp.route(f"/patch/<int(max={MAX_ID}):patch_id>/mbox", methods=["GET", "HEAD"])
def patch_mbox(patch_id: int) -> Response:
    body = reviewqueries.patch_mbox(db(), viewer(), patch_id, site_url())
    if body is None:
        abort(404, description="no such patch (cover letters and pull requests have no mbox)")
    return _download(body, "application/mbox", f"patch-{patch_id}.mbx")


@bp.route("/s/<slug>/", methods=["GET", "HEAD"])
def subsystem_page(slug: str) -> Any:
    if not _SLUG_RE.match(slug):
        abort(400, description="a subsystem's URL name has only a-z, 0-9 and -")
    page = reviewqueries.subsystem_page(db(), viewer(), slug)
    if page is None:
        abort(404, description="no subsystem by that name (is MAINTAINERS imported?)")
    return render_template("subsystem.html", page=page, name=queries.ALL)
