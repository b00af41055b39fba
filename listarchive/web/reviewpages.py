"""Patch-review pages and their machine twins: ``/LIST/series/``, ``/series/ID/``,
``/patch/ID/``, ``/s/SUBSYSTEM/``, the am-ready mboxes and the raw diff."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, redirect, render_template, request

from listarchive import apijson
from listarchive.archive import listview
from listarchive.mail.extract import SUBMISSIONS
from listarchive.mail.msgids import quote_msgid
from listarchive.review import (
    amready,
    carried,
    changes,
    checks,
    dependencies,
    history,
    patchview,
    seriesview,
    subsystemview,
)
from listarchive.review.states import STATES
from listarchive.web.context import absolute, current_user, db, site_url, viewer
from listarchive.web.downloads import DOWNLOAD_CSP, content_disposition
from listarchive.web.params import (
    MAX_ID,
    filter_values,
    int_arg,
    list_name,
    series_filters,
    subsystem_slug,
)

bp = Blueprint("review", __name__)
PER_PAGE = 50


def _download(body: bytes, content_type: str, filename: str = "") -> Response:
    resp = Response(body, content_type=content_type)
    if filename:
        resp.headers["Content-Disposition"] = content_disposition(filename)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Content-Security-Policy"] = DOWNLOAD_CSP
    return resp


def _status(kind: str, object_id: int) -> dict[str, Any]:
    """What the status section of a series or patch page needs (see ``_state.html``)."""
    return {"kind": kind, "oid": object_id, "states": STATES,
            "can_change": changes.may_change(db(), current_user(), kind, object_id),
            "history": history.state_history(db(), viewer(), kind, object_id)}


@bp.route("/<name>/series/", methods=["GET", "HEAD"])
def series_list(name: str) -> Any:
    name = list_name(name)
    filters = filter_values()
    listing = seriesview.series_list(db(), viewer(), name, series_filters(filters),
                                     int_arg("page", 1), PER_PAGE)
    if listing is None:
        abort(404, description=f"there is no list named {name!r} here")
    return render_template("series_list.html", listing=listing, name=name, filters=filters,
                           states=STATES, page_args={k: v for k, v in filters.items() if v})


@bp.route(f"/series/<int(max={MAX_ID}):series_id>/", methods=["GET", "HEAD"])
def series_page(series_id: int) -> Any:
    detail = seriesview.series_detail(db(), viewer(), series_id)
    if detail is None:
        abort(404, description="no such series")
    return render_template("series.html", detail=detail, name=detail.row.home_list,
                           b4_url=absolute(f"/r/{quote_msgid(detail.row.anchor_msgid)}"),
                           mbox_url=absolute(f"/series/{series_id}/mbox"),
                           has_mbox=amready.series_has_mbox(detail),
                           carried=carried.carried(db(), viewer(), series_id),
                           deps=dependencies.series_dependencies(db(), viewer(), series_id),
                           **_status("series", series_id))


@bp.route(f"/series/<int(max={MAX_ID}):series_id>/mbox", methods=["GET", "HEAD"])
def series_mbox(series_id: int) -> Response:
    with_deps = request.args.get("deps", "") not in ("", "0")
    found = (dependencies.mbox_with_dependencies(db(), viewer(), series_id, site_url())
             if with_deps else amready.series_mbox(db(), viewer(), series_id, site_url()))
    if found is None:
        abort(404, description="no such series, or nothing in it for git am (a pull request, "
                               "or a cover letter whose patches are not archived)")
    filename, body = found
    return _download(body, "application/mbox", filename)


@bp.route(f"/patch/<int(max={MAX_ID}):patch_id>/", methods=["GET", "HEAD"])
def patch_page(patch_id: int) -> Any:
    detail = patchview.patch_detail(db(), viewer(), patch_id)
    if detail is None:
        abort(404, description="no such patch")
    if detail.item.kind == "cover":
        # A cover letter is not a patch: it speaks for its series.
        target = (f"/series/{detail.series.id}/" if detail.series is not None else
                  f"/{detail.item.home_list}/{quote_msgid(detail.item.msgid)}/")
        return redirect(absolute(target), 302)
    # patch_detail found the patch visible: its checks need no second lookup.
    found = apijson.checks_summary(checks.checks_of(db(), patch_id)
                                   if detail.item.kind in SUBMISSIONS else [])
    return render_template("patch.html", detail=detail, name=detail.item.home_list,
                           checks=found if found["state"] else None,
                           **_status("patch", patch_id) if detail.item.kind in SUBMISSIONS
                           else {})


@bp.route(f"/patch/<int(max={MAX_ID}):patch_id>/raw", methods=["GET", "HEAD"])
def patch_raw(patch_id: int) -> Response:
    detail = patchview.patch_detail(db(), viewer(), patch_id)
    if detail is None or not detail.diff:
        abort(404, description="no such patch, or it carries no diff")
    return _download(detail.diff.encode("utf-8", "surrogateescape"),
                     "text/plain; charset=utf-8")


@bp.route(f"/patch/<int(max={MAX_ID}):patch_id>/mbox", methods=["GET", "HEAD"])
def patch_mbox(patch_id: int) -> Response:
    body = amready.patch_mbox(db(), viewer(), patch_id, site_url())
    if body is None:
        abort(404, description="no such patch (cover letters and pull requests have no mbox)")
    return _download(body, "application/mbox", f"patch-{patch_id}.mbx")


@bp.route("/s/", methods=["GET", "HEAD"])
def subsystem_index() -> str:
    entries = subsystemview.subsystem_index(db(), viewer())
    return render_template("subsystems.html", entries=entries, name=listview.ALL)


@bp.route("/s/<slug>/", methods=["GET", "HEAD"])
def subsystem_page(slug: str) -> Any:
    page = subsystemview.subsystem_page(db(), viewer(), subsystem_slug(slug))
    if page is None:
        abort(404, description="no subsystem by that name (is MAINTAINERS imported?)")
    return render_template("subsystem.html", page=page, name=listview.ALL)
