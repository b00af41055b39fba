"""``/api/1.2/``, continued: the resources CI systems and ``pwclient`` use besides patches and
series: checks (``GET``/``POST /patches/ID/checks/``, ``GET /patches/ID/checks/CHECK_ID/``),
comments (the replies to a patch or cover letter) and bundles (not kept here: a 404 that says
so, instead of the catch-all "no list named 'api'").

Checks carry Patchwork's fields (``id``, ``url``, ``user``, ``date``, ``state``,
``target_url``, ``context``, ``description``); posting one needs a token whose account has a
grant on the patch's list or subsystem (a ``bot`` account made with ``listarchive user add
--bot``). pwclient posts JSON, curl scripts often form fields: both are read.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify, request

from listarchive.review import checks, comments
from listarchive.review.checks import CheckRecord
from listarchive.web.context import absolute, db, token_user, viewer
from listarchive.web.params import MAX_ID
from listarchive.web.patchworkapi import VERSION, api_date, api_url, page_args, paged, person_object

bp = Blueprint("pwchecks", __name__, url_prefix=f"/api/{VERSION}")


def check_object(c: CheckRecord) -> dict[str, Any]:
    user = ({"id": c.user_id, "url": api_url(f"users/{c.user_id}/"), "username": c.user_name,
             "first_name": "", "last_name": "", "email": c.user_email}
            if c.user_id is not None else None)
    return {"id": c.id, "url": api_url(f"patches/{c.patch_id}/checks/{c.id}/"), "user": user,
            "date": api_date(c.date), "state": c.state, "target_url": c.target_url or None,
            "context": c.context, "description": c.description or None}


@bp.route(f"/patches/<int(max={MAX_ID}):patch_id>/checks/")
def check_list(patch_id: int) -> Any:
    found = checks.patch_checks(db(), viewer(), patch_id, request.args.get("user", "")[:64])
    if found is None:
        abort(404, description="no such patch")
    page, per_page = page_args()
    chunk = found[(page - 1) * per_page:page * per_page + 1]
    return paged([check_object(c) for c in chunk[:per_page]], page, per_page,
                  len(chunk) > per_page)


@bp.route(f"/patches/<int(max={MAX_ID}):patch_id>/checks/", methods=["POST"])
def check_create(patch_id: int) -> Any:
    user = token_user()
    body = request.get_json(silent=True) if request.is_json else None
    if request.is_json and not isinstance(body, dict):
        abort(400, description="the body is a JSON object: state, context, target_url, "
                               "description")
    fields: dict[str, Any] = body if isinstance(body, dict) else request.form.to_dict()
    values = {k: fields.get(k) or "" for k in ("state", "context", "target_url", "description")}
    for key, value in values.items():
        if not isinstance(value, str):
            abort(400, description=f"{key} is a string")
    if not values["state"]:
        abort(400, description="state is required: pending, success, warning or fail")
    record = checks.post(db(), user, patch_id, values["state"], values["context"],
                         values["target_url"], values["description"])
    db().commit()
    resp = jsonify(check_object(record))
    resp.status_code = 201
    resp.headers["Location"] = api_url(f"patches/{patch_id}/checks/{record.id}/")
    return resp


@bp.route(f"/patches/<int(max={MAX_ID}):patch_id>/checks/<int(max={MAX_ID}):check_id>/")
def check_show(patch_id: int, check_id: int) -> Any:
    found = checks.check_record(db(), viewer(), patch_id, check_id)
    if found is None:
        abort(404, description="no such check")
    return jsonify(check_object(found))


def _comments(kind: str, object_id: int) -> Any:
    found = comments.replies(db(), viewer(), object_id, cover=kind == "covers")
    if found is None:
        abort(404, description=f"no such {'cover letter' if kind == 'covers' else 'patch'}")
    page, per_page = page_args()
    chunk = found[(page - 1) * per_page:page * per_page + 1]
    return paged([{
        "id": c.id, "url": api_url(f"{kind}/{object_id}/comments/{c.id}/"),
        "web_url": absolute(c.path), "msgid": f"<{c.msgid}>",
        "list_archive_url": absolute(c.path), "date": api_date(c.date), "subject": c.subject,
        "submitter": person_object(c.submitter), "content": c.content, "headers": {},
        "addressed": None} for c in chunk[:per_page]], page, per_page, len(chunk) > per_page)


@bp.route(f"/patches/<int(max={MAX_ID}):patch_id>/comments/")
def patch_comments(patch_id: int) -> Any:
    return _comments("patches", patch_id)


@bp.route(f"/covers/<int(max={MAX_ID}):cover_id>/comments/")
def cover_comments(cover_id: int) -> Any:
    return _comments("covers", cover_id)


@bp.route("/bundles/", methods=["GET", "POST"])
@bp.route("/bundles/<path:endpoint>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def bundles(endpoint: str = "") -> Any:
    abort(404, description="bundles (/api/1.2/bundles/) are not supported by this archive: "
                           "a series is the unit here (/api/1.2/series/)")


@bp.route("/<path:endpoint>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unsupported(endpoint: str) -> Any:
    """Anything else under ``/api/1.2/`` is an endpoint this archive does not offer, never a
    list named ``api``."""
    abort(404, description=f"/api/{VERSION}/{endpoint[:100]} is not supported by this archive")
