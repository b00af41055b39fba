"""``/api/v1/``: the JSON twins of the pages (objects as in the public contract)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify, request

from listarchive import queries
from listarchive.web.context import absolute, db, int_arg, viewer
from listarchive.web.msgids import BadMsgid, check_msgid, raw_path, unquote_msgid

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
    obj = queries.message_json(db(), viewer(), _msgid("messages"))
    if obj is None:
        abort(404, description="no such message")
    return jsonify(obj)


@bp.route("/threads/<path:raw>")
def thread(raw: str) -> Any:
    obj = queries.thread_json(db(), viewer(), _msgid("threads"))
    if obj is None:
        abort(404, description="no such message")
    return jsonify(obj)


@bp.route("/lists")
def lists() -> Any:
    page = int_arg("page", 1)
    per_page = int_arg("per_page", 50, high=queries.MAX_PER_PAGE)
    results, more = queries.lists_json(db(), viewer(), page, per_page)
    for item in results:
        item["url"] = absolute(f"/{item['name']}/")
    nxt = absolute(f"{request.path}?page={page + 1}&per_page={per_page}") if more else None
    return jsonify({"results": results, "next": nxt})
