"""Review queues: ``/LIST/queue/``, ``/s/SUBSYSTEM/queue/`` and ``/queue/`` (my queue)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, render_template

from listarchive.archive import listview
from listarchive.clock import utcnow
from listarchive.review import queues
from listarchive.review.states import STATES
from listarchive.web.context import current_user, db, viewer
from listarchive.web.params import (
    filter_values,
    int_arg,
    list_name,
    series_filters,
    subsystem_slug,
)

bp = Blueprint("queues", __name__)
QUEUE_PER_PAGE = 100


def _render_queue(scope: queues.QueueScope, base: str, name: str) -> Any:
    filters = filter_values()
    found = queues.queue(db(), viewer(), scope, series_filters(filters), int_arg("page", 1),
                         QUEUE_PER_PAGE)
    if found is None:
        abort(404, description="no such list or subsystem")
    return render_template("queue.html", queue=found, base=base, name=name, filters=filters,
                           page_args={k: v for k, v in filters.items() if v},
                           states=STATES, can_bulk=current_user() is not None, now=utcnow())


@bp.route("/<name>/queue/", methods=["GET", "HEAD"])
def list_queue(name: str) -> Any:
    name = list_name(name)
    return _render_queue(queues.QueueScope(list_name=name), f"/{name}/queue/", name)


@bp.route("/s/<slug>/queue/", methods=["GET", "HEAD"])
def subsystem_queue(slug: str) -> Any:
    slug = subsystem_slug(slug)
    return _render_queue(queues.QueueScope(subsystem=slug), f"/s/{slug}/queue/",
                         listview.ALL)


@bp.route("/queue/", methods=["GET", "HEAD"])
def my_queue() -> Any:
    user = current_user()
    if user is None:
        return redirect("/login?next=/queue/", 303)
    return _render_queue(queues.QueueScope(user_id=user.id), "/queue/", listview.ALL)
