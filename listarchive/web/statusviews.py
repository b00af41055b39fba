"""Status tracking on the site: state forms on series and patch pages, bulk changes, and the
review queues ``/LIST/queue/``, ``/s/SUBSYSTEM/queue/`` and ``/queue/`` (my queue).

Every write is a POST carrying the CSRF token (:mod:`listarchive.web.csrf`) by a logged-in user
who may change that object (:func:`listarchive.review.states.can_change`); anyone else gets 403 and
nothing changes. An object the user cannot even see answers 404, as on the read side.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, render_template, request

from listarchive.access import accounts
from listarchive.archive import messageview
from listarchive.archive.models import Patch, Series, User
from listarchive.review import queues, seriesview, states
from listarchive.web.context import current_user, db, int_arg, list_name, viewer
from listarchive.web.review import _SLUG_RE, MAX_ID, filter_args, series_filters

bp = Blueprint("status", __name__)
QUEUE_PER_PAGE = 100
MAX_BULK = 500
MAX_REASON = 2000


def may_change(kind: str, object_id: int) -> bool:
    """May the current user change this patch or series? False for anonymous visitors."""
    user = current_user()
    if user is None:
        return False
    obj = seriesview.change_targets(db(), kind, [object_id]).get(object_id)
    return obj is not None and states.can_change(db(), user, obj)


def _visible(kind: str, object_id: int) -> bool:
    return object_id in seriesview.visible_ids(db(), viewer(), [object_id])


def _wanted_state() -> str:
    raw = request.form.get("state", "")
    state = states.normalize_state(raw) if raw else None
    if state is None:
        abort(400, description=f"unknown state; one of: {', '.join(states.STATES)}")
    return state


def _delegate(raw: str) -> User | None:
    if not raw.strip():
        return None
    user = accounts.get_user(db(), raw.strip())
    if user is None:
        abort(400, description="no user by that name to delegate to")
    return user


def apply_form(user: User, kind: str, obj: Patch | Series) -> None:
    """What one state form asks for: any of ``state`` (+ ``reason``), ``archived``
    (``true``/``false``) and ``delegate`` (a user name, empty for nobody)."""
    session = db()
    reason = request.form.get("reason", "").strip()[:MAX_REASON]
    try:
        if "state" in request.form:
            states.set_state(session, kind, obj.id, _wanted_state(), user, "web",
                             reason=reason)
        if "archived" in request.form:
            states.set_archived(session, kind, obj.id,
                                request.form["archived"].lower() in ("true", "1", "yes", "on"),
                                user, "web")
        if "delegate" in request.form:
            states.set_delegate(session, kind, obj.id, _delegate(request.form["delegate"]),
                                user, "web")
    except states.StateError as exc:
        session.rollback()
        abort(400, description=str(exc))


def _change(kind: str, object_id: int) -> Any:
    user = current_user()
    if user is None:
        abort(403, description="log in to change states")
    if not _visible(kind, object_id):
        abort(404, description=f"no such {kind}")
    obj = seriesview.change_targets(db(), kind, [object_id]).get(object_id)
    if obj is None:
        abort(404, description=f"no such {kind} (cover letters take their series' state)")
    if not states.can_change(db(), user, obj):
        abort(403, description=f"you may not change this {kind}")
    apply_form(user, kind, obj)
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
    user = current_user()
    if user is None:
        abort(403, description="log in to change states")
    kind = request.form.get("kind", "series")
    if kind not in states.KINDS:
        abort(400, description="kind is patch or series")
    raw_ids = request.form.getlist("id")
    if not raw_ids:
        abort(400, description="tick at least one series")
    if len(raw_ids) > MAX_BULK or not all(i.isascii() and i.isdigit() and len(i) < 16
                                          for i in raw_ids):
        abort(400, description=f"at most {MAX_BULK} ids, whole numbers")
    ids = sorted({int(i) for i in raw_ids})
    found = seriesview.change_targets(db(), kind, ids)
    seen = seriesview.visible_ids(db(), viewer(), ids)
    for oid in ids:
        if oid not in found or oid not in seen:
            abort(404, description=f"no {kind} {oid}")
        if not states.can_change(db(), user, found[oid]):
            abort(403, description=f"you may not change {kind} {oid}; nothing was changed")
    for oid in ids:
        apply_form(user, kind, found[oid])
    db().commit()
    target = request.form.get("next", "/queue/")
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        target = "/queue/"
    return redirect(target, 303)


def _render_queue(scope: queues.QueueScope, base: str, name: str) -> Any:
    filters = series_filters()
    page = int_arg("page", 1)
    try:
        found = queues.queue(db(), viewer(), scope,
                             seriesview.SeriesFilters(**filter_args(filters)),
                             page, QUEUE_PER_PAGE)
    except seriesview.BadFilter as exc:
        abort(400, description=str(exc))
    if found is None:
        abort(404, description="no such list or subsystem")
    user = current_user()
    return render_template("queue.html", queue=found, base=base, name=name, filters=filters,
                           page_args={k: v for k, v in filters.items() if v},
                           states=states.STATES, can_bulk=user is not None,
                           now=states.utcnow())


@bp.route("/<name>/queue/", methods=["GET", "HEAD"])
def list_queue(name: str) -> Any:
    name = list_name(name)
    return _render_queue(queues.QueueScope(list_name=name), f"/{name}/queue/", name)


@bp.route("/s/<slug>/queue/", methods=["GET", "HEAD"])
def subsystem_queue(slug: str) -> Any:
    if not _SLUG_RE.match(slug):
        abort(400, description="a subsystem's URL name has only a-z, 0-9 and -")
    return _render_queue(queues.QueueScope(subsystem=slug), f"/s/{slug}/queue/",
                         messageview.ALL)


@bp.route("/queue/", methods=["GET", "HEAD"])
def my_queue() -> Any:
    user = current_user()
    if user is None:
        return redirect("/login?next=/queue/", 303)
    return _render_queue(queues.QueueScope(user_id=user.id), "/queue/", messageview.ALL)
