"""State changes on the site: the form on series and patch pages, and bulk changes from a queue.

Every write is a POST carrying the CSRF token (:mod:`listarchive.web.csrf`) by a logged-in user;
the change itself is :func:`listarchive.review.changes.change`, whose refusals the app maps to
404 (cannot see it), 403 (may not change it) and 400 (no such state or delegate). Nothing
changes unless all of it may.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, request

from listarchive.review import changes
from listarchive.web.context import current_user, db
from listarchive.web.params import MAX_ID, bad_request

bp = Blueprint("status", __name__)
MAX_BULK = 500


def _request() -> changes.ChangeRequest:
    """What one state form asks for: any of ``state`` (+ ``reason``), ``archived``
    (``true``/``false``) and ``delegate`` (a user name, empty for nobody)."""
    form = request.form
    return changes.ChangeRequest(
        state=form["state"] if "state" in form else None,
        archived=(form["archived"].lower() in ("true", "1", "yes", "on")
                  if "archived" in form else None),
        delegate=form["delegate"] if "delegate" in form else None,
        reason=form.get("reason", "").strip())


def _change(kind: str, object_id: int) -> Any:
    changes.change(db(), current_user(), kind, [object_id], _request(), "web")
    db().commit()
    return redirect(f"/{kind}/{object_id}/#state", 303)


@bp.route(f"/series/<int(max={MAX_ID}):series_id>/state", methods=["POST"])
def series_state(series_id: int) -> Any:
    return _change("series", series_id)


@bp.route(f"/patch/<int(max={MAX_ID}):patch_id>/state", methods=["POST"])
def patch_state(patch_id: int) -> Any:
    return _change("patch", patch_id)


@bp.route("/bulk", methods=["POST"])
def bulk() -> Any:
    """One state for many series (the queue's checkboxes). All or nothing: if any of them may
    not be changed by this user, none is."""
    kind = request.form.get("kind", "series")
    raw_ids = request.form.getlist("id")
    if not raw_ids:
        bad_request("tick at least one series")
    if len(raw_ids) > MAX_BULK or not all(i.isascii() and i.isdigit() and len(i) < 16
                                          for i in raw_ids):
        bad_request(f"at most {MAX_BULK} ids, whole numbers")
    if current_user() is None:
        abort(403, description="log in to change states")
    changes.change(db(), current_user(), kind, sorted({int(i) for i in raw_ids}), _request(),
                   "web")
    db().commit()
    target = request.form.get("next", "/queue/")
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        target = "/queue/"
    return redirect(target, 303)
