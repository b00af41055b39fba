"""``/api/v1/``: the JSON twins of the pages (objects as in the public contract), and the
token-authenticated writes ``PATCH /api/v1/patches/ID`` and ``PATCH /api/v1/series/ID``."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, abort, jsonify, request

from listarchive.archive import messageview
from listarchive.archive.models import User
from listarchive.errors import QueryError
from listarchive.mail.msgids import BadMsgid, check_msgid, unquote_msgid
from listarchive.review import seriesview
from listarchive.review.states import STATES, StateError, can_change, normalize_state, set_state
from listarchive.search.searcher import SearchUnavailable, run_search
from listarchive.web import review
from listarchive.web.context import (
    absolute,
    db,
    int_arg,
    list_name,
    settings,
    token_user,
    viewer,
    viewer_of,
)
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
    obj = messageview.message_json(db(), viewer(), _msgid("messages"))
    if obj is None:
        abort(404, description="no such message")
    return jsonify(obj)


@bp.route("/threads/<path:raw>")
def thread(raw: str) -> Any:
    obj = messageview.thread_json(db(), viewer(), _msgid("threads"))
    if obj is None:
        abort(404, description="no such message")
    return jsonify(obj)


@bp.route("/lists")
def lists() -> Any:
    page = int_arg("page", 1)
    per_page = int_arg("per_page", 50, high=messageview.MAX_PER_PAGE)
    results, more = messageview.lists_json(db(), viewer(), page, per_page)
    for item in results:
        item["url"] = absolute(f"/{item['name']}/")
    nxt = absolute(f"{request.path}?page={page + 1}&per_page={per_page}") if more else None
    return jsonify({"results": results, "next": nxt})


def _page_args() -> tuple[int, int]:
    return int_arg("page", 1), int_arg("per_page", 50, high=messageview.MAX_PER_PAGE)


def _next_url(page: int, per_page: int, more: bool, **params: str) -> str | None:
    if not more:
        return None
    query = urlencode({**{k: v for k, v in params.items() if v}, "page": page + 1,
                       "per_page": per_page})
    return absolute(f"{request.path}?{query}")


@bp.route(f"/patches/<int(max={review.MAX_ID}):patch_id>")
def patch(patch_id: int) -> Any:
    obj = seriesview.patch_json(db(), viewer(), patch_id)
    if obj is None:
        abort(404, description="no such patch")
    return jsonify(obj)


@bp.route("/series")
def series_list() -> Any:
    name = list_name(request.args.get("list", "").strip() or messageview.ALL)
    filters = review.series_filters()
    page, per_page = _page_args()
    listing = seriesview.series_list(db(), viewer(), name, page=page, per_page=per_page,
                                        **review.filter_args(filters))
    if listing is None:
        abort(404, description=f"there is no list named {name!r} here")
    results = [{**seriesview.series_row_json(row), "url": absolute(f"/series/{row.id}/")}
               for row in listing.rows]
    return jsonify({"results": results,
                    "next": _next_url(page, per_page, listing.has_next, list=name, **filters)})


@bp.route(f"/series/<int(max={review.MAX_ID}):series_id>")
def series(series_id: int) -> Any:
    obj = seriesview.series_json(db(), viewer(), series_id)
    if obj is None:
        abort(404, description="no such series")
    obj["url"] = absolute(f"/series/{series_id}/")
    obj["mbox"] = absolute(f"/series/{series_id}/mbox")
    return jsonify(obj)


@bp.route("/search")
def search() -> Any:
    text = request.args.get("q", "").strip()
    name = list_name(request.args.get("list", "").strip() or messageview.ALL)
    if not text:
        abort(400, description="empty search: give ?q=QUERY")
    page, per_page = _page_args()
    if not messageview.list_exists(db(), viewer(), name):
        abort(404, description=f"there is no list named {name!r} here")
    try:
        outcome = run_search(db(), settings(), viewer(), text, name, page, per_page)
    except QueryError as exc:
        abort(400, description=f"cannot read the query: {exc}")
    except SearchUnavailable as exc:
        abort(503, description=f"search unavailable: {exc}")
    return jsonify({"total": outcome.total,
                    "results": [messageview.summary_json(r) for r in outcome.records],
                    "next": _next_url(page, per_page, outcome.total > page * per_page, q=text,
                                      list=name if name != messageview.ALL else "")})


def _json_state() -> str:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("state"), str):
        abort(400, description='send a JSON object {"state": "..."}')
    state = normalize_state(body["state"])
    if state is None:
        abort(400, description=f"unknown state; one of: {', '.join(STATES)}")
    return state


def write_state(kind: str, object_id: int, state: str, user: User, evidence: str = "",
                reason: str = "") -> None:
    """A token user's state change on one patch or series: 404 if they cannot see it, 403 if
    they may not change it; committed with its history entry (``via`` api)."""
    session = db()
    if object_id not in seriesview.visible_ids(session, viewer_of(user), [object_id]):
        abort(404, description=f"no such {kind}")
    obj = seriesview.change_targets(session, kind, [object_id]).get(object_id)
    if obj is None:
        abort(404, description=f"no such {kind}")
    if not can_change(session, user, obj):
        abort(403, description=f"you may not change this {kind}")
    try:
        set_state(session, kind, object_id, state, user, "api", evidence=evidence,
                  reason=reason)
    except StateError as exc:
        session.rollback()
        abort(400, description=str(exc))


@bp.route(f"/patches/<int(max={review.MAX_ID}):patch_id>", methods=["PATCH"])
def patch_update(patch_id: int) -> Any:
    user = token_user()
    write_state("patch", patch_id, _json_state(), user)
    db().commit()
    return jsonify(seriesview.patch_json(db(), viewer_of(user), patch_id))


@bp.route(f"/series/<int(max={review.MAX_ID}):series_id>", methods=["PATCH"])
def series_update(series_id: int) -> Any:
    user = token_user()
    write_state("series", series_id, _json_state(), user)
    db().commit()
    obj = seriesview.series_json(db(), viewer_of(user), series_id)
    assert obj is not None
    obj["url"] = absolute(f"/series/{series_id}/")
    obj["mbox"] = absolute(f"/series/{series_id}/mbox")
    return jsonify(obj)
