"""``/api/v1/``: the JSON twins of the pages (objects as in the public contract), and the
token-authenticated writes ``PATCH /api/v1/patches/ID`` and ``PATCH /api/v1/series/ID``."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, abort, jsonify, request

from listarchive import apijson
from listarchive.archive import listview
from listarchive.errors import QueryError, SearchUnavailable
from listarchive.mail.msgids import BadMsgid, check_msgid, unquote_msgid
from listarchive.review import changes, seriesview
from listarchive.search.searcher import run_search
from listarchive.web.context import absolute, db, settings, token_user, viewer, viewer_of
from listarchive.web.params import MAX_ID, filter_values, int_arg, list_name, series_filters
from listarchive.web.paths import raw_path

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _msgid(kind: str) -> str:
    """The id after ``/api/v1/KIND/``, decoded once (from the raw URI when there is one)."""
    head = f"{request.script_root}/api/v1/{kind}/"
    uri = raw_path(request.environ)
    try:
        if uri is not None and uri.startswith(head):
            return unquote_msgid(uri[len(head):])
        return check_msgid(request.path[len(f"/api/v1/{kind}/"):])
    except BadMsgid as exc:
        abort(400, description=str(exc))


@bp.route("/messages/<path:raw>")
def message(raw: str) -> Any:
    obj = apijson.message_json(db(), viewer(), _msgid("messages"))
    if obj is None:
        abort(404, description="no such message")
    return jsonify(obj)


@bp.route("/threads/<path:raw>")
def thread(raw: str) -> Any:
    obj = apijson.thread_json(db(), viewer(), _msgid("threads"))
    if obj is None:
        abort(404, description="no such message")
    return jsonify(obj)


@bp.route("/lists")
def lists() -> Any:
    page = int_arg("page", 1)
    per_page = int_arg("per_page", 50, high=listview.MAX_PER_PAGE)
    results, more = apijson.lists_json(db(), viewer(), page, per_page)
    for item in results:
        item["url"] = absolute(f"/{item['name']}/")
    nxt = absolute(f"{request.path}?page={page + 1}&per_page={per_page}") if more else None
    return jsonify({"results": results, "next": nxt})


def _page_args() -> tuple[int, int]:
    return int_arg("page", 1), int_arg("per_page", 50, high=listview.MAX_PER_PAGE)


def _next_url(page: int, per_page: int, more: bool, **params: str) -> str | None:
    if not more:
        return None
    query = urlencode({**{k: v for k, v in params.items() if v}, "page": page + 1,
                       "per_page": per_page})
    return absolute(f"{request.path}?{query}")


@bp.route(f"/patches/<int(max={MAX_ID}):patch_id>")
def patch(patch_id: int) -> Any:
    obj = apijson.patch_object(db(), viewer(), patch_id)
    if obj is None:
        abort(404, description="no such patch")
    return jsonify(obj)


@bp.route(f"/patches/<int(max={MAX_ID}):patch_id>/comments")
def patch_comments(patch_id: int) -> Any:
    obj = apijson.comments_json(db(), viewer(), patch_id)
    if obj is None:
        abort(404, description="no such patch")
    return jsonify(obj)


@bp.route("/series")
def series_list() -> Any:
    name = list_name(request.args.get("list", "").strip() or listview.ALL)
    filters = filter_values()
    page, per_page = _page_args()
    listing = seriesview.series_list(db(), viewer(), name, series_filters(filters), page,
                                     per_page)
    if listing is None:
        abort(404, description=f"there is no list named {name!r} here")
    results = [{**apijson.series_row_json(row), "url": absolute(f"/series/{row.id}/")}
               for row in listing.rows]
    return jsonify({"results": results,
                    "next": _next_url(page, per_page, listing.has_next, list=name, **filters)})


@bp.route(f"/series/<int(max={MAX_ID}):series_id>")
def series(series_id: int) -> Any:
    obj = apijson.series_json(db(), viewer(), series_id)
    if obj is None:
        abort(404, description="no such series")
    obj["url"] = absolute(f"/series/{series_id}/")
    obj["mbox"] = absolute(f"/series/{series_id}/mbox") if obj.pop("has_mbox") else None
    return jsonify(obj)


@bp.route("/search")
def search() -> Any:
    text = request.args.get("q", "").strip()
    name = list_name(request.args.get("list", "").strip() or listview.ALL)
    if not text:
        abort(400, description="empty search: give ?q=QUERY")
    page, per_page = _page_args()
    missing = f"there is no list named {name!r} here"
    try:  # the list is checked with the results; an unknown one is named before a bad query
        outcome = run_search(db(), settings(), viewer(), text, name, page, per_page)
    except QueryError as exc:
        if not listview.list_exists(db(), viewer(), name):
            abort(404, description=missing)
        abort(400, description=f"cannot read the query: {exc}")
    except SearchUnavailable as exc:
        if not listview.list_exists(db(), viewer(), name):
            abort(404, description=missing)
        abort(503, description=f"search unavailable: {exc}")
    if not outcome.list_found:
        abort(404, description=missing)
    return jsonify({"total": outcome.total,
                    "results": [apijson.summary_json(r) for r in outcome.records],
                    "next": _next_url(page, per_page, outcome.total > page * per_page, q=text,
                                      list=name if name != listview.ALL else "")})


def _json_state() -> changes.ChangeRequest:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("state"), str):
        abort(400, description='send a JSON object {"state": "..."}')
    return changes.ChangeRequest(state=body["state"])


@bp.route(f"/patches/<int(max={MAX_ID}):patch_id>", methods=["PATCH"])
def patch_update(patch_id: int) -> Any:
    user = token_user()
    changes.change(db(), user, "patch", [patch_id], _json_state(), "api")
    db().commit()
    return jsonify(apijson.patch_object(db(), viewer_of(user), patch_id))


@bp.route(f"/series/<int(max={MAX_ID}):series_id>", methods=["PATCH"])
def series_update(series_id: int) -> Any:
    user = token_user()
    changes.change(db(), user, "series", [series_id], _json_state(), "api")
    db().commit()
    obj = apijson.series_json(db(), viewer_of(user), series_id)
    assert obj is not None
    obj["url"] = absolute(f"/series/{series_id}/")
    obj["mbox"] = absolute(f"/series/{series_id}/mbox") if obj.pop("has_mbox") else None
    return jsonify(obj)
