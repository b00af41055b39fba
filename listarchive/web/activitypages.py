"""Activity pages: ``/LIST/_/activity/`` and ``/s/SUBSYSTEM/activity/``, each with its SVG
charts (``messages.svg``, ``series.svg``, ``review.svg``, ``reviewers.svg``) and its JSON twin
(``activity.json``).

The figures are computed once per (scope, window, what the viewer may see, the archive's newest
message, the newest state change, the embargoes laid and lifted) and kept in a small in-process
cache: a page and its four charts cost one computation, and the next visitor none until mail, a
state or an embargo changes. The same key makes the ETag, so a browser or a proxy asks again
for a 304.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from flask import Blueprint, Response, abort, jsonify, render_template
from sqlalchemy import func, select

from listarchive.archive.models import Embargo, Message
from listarchive.review import activity as figures
from listarchive.review.activity import Activity, Scope
from listarchive.web import caching, charts
from listarchive.web.context import db, viewer
from listarchive.web.params import int_arg, list_name, subsystem_slug

bp = Blueprint("activity", __name__)
CACHE_SIZE = 64
# An SVG opened on its own is a document: no script, its own inline styles only.
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'"

_cache: OrderedDict[tuple[Any, ...], Activity] = OrderedDict()
_lock = threading.Lock()


def _key(scope: Scope, weeks: int) -> tuple[Any, ...]:
    """What the figures depend on: new mail, a state change, and an embargo laid or lifted
    (a thread restricted after the figures were cached must leave them at once)."""
    newest = int(db().scalar(select(func.max(Message.id))) or 0)
    embargoes = db().execute(select(func.count(Embargo.id), func.max(Embargo.disclosed_at))
                             ).one()
    return (scope.kind, scope.name, weeks, tuple(sorted(viewer().search_keys())), newest,
            caching.states_version(), int(embargoes[0]), str(embargoes[1]))


def _figures(scope: Scope, weeks: int, key: tuple[Any, ...]) -> Activity:
    with _lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found
    computed = figures.activity(db(), viewer(), scope, weeks)
    with _lock:
        _cache[key] = computed
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return computed


def _list_scope(name: str) -> Scope:
    name = list_name(name)
    scope = figures.list_scope(db(), viewer(), name)
    if scope is None:
        abort(404, description=f"there is no list named {name!r} here")
    return scope


def _subsystem_scope(slug: str) -> Scope:
    scope = figures.subsystem_scope(db(), subsystem_slug(slug))
    if scope is None:
        abort(404, description="no subsystem by that name (is MAINTAINERS imported?)")
    return scope


def _answer(scope: Scope, what: str, base: str) -> Any:
    weeks = int_arg("weeks", figures.DEFAULT_WEEKS, high=figures.MAX_WEEKS)
    key = _key(scope, weeks)
    etag = caching.tag("activity", what, *map(str, key))
    early = caching.not_modified(etag, None)
    if early is not None:
        return early
    data = _figures(scope, weeks, key)
    if what == "json":
        resp = jsonify(data.as_json())
    elif what == "page":
        resp = Response(render_template(
            "activity.html", activity=data, base=base, weeks=weeks,
            query=f"?weeks={weeks}" if weeks != figures.DEFAULT_WEEKS else "",
            name=scope.name if scope.kind == "list" else "all", charts=charts.CHARTS),
            mimetype="text/html")
    else:
        resp = Response(charts.render(data, what), mimetype="image/svg+xml")
        resp.headers["Content-Security-Policy"] = SVG_CSP
    return caching.finish(resp, etag, None)


def _chart(chart: str) -> str:
    if chart not in charts.CHARTS:
        abort(404, description=f"no chart named {chart!r}: {', '.join(charts.CHARTS)}")
    return chart


@bp.route("/<name>/_/activity/", methods=["GET", "HEAD"])
def list_activity(name: str) -> Any:
    scope = _list_scope(name)
    return _answer(scope, "page", f"/{scope.name}/_/activity/")


@bp.route("/<name>/_/activity/activity.json", methods=["GET", "HEAD"])
def list_activity_json(name: str) -> Any:
    return _answer(_list_scope(name), "json", "")


@bp.route("/<name>/_/activity/<chart>.svg", methods=["GET", "HEAD"])
def list_activity_chart(name: str, chart: str) -> Any:
    return _answer(_list_scope(name), _chart(chart), "")


@bp.route("/s/<slug>/activity/", methods=["GET", "HEAD"])
def subsystem_activity(slug: str) -> Any:
    scope = _subsystem_scope(slug)
    return _answer(scope, "page", f"/s/{scope.name}/activity/")


@bp.route("/s/<slug>/activity/activity.json", methods=["GET", "HEAD"])
def subsystem_activity_json(slug: str) -> Any:
    return _answer(_subsystem_scope(slug), "json", "")


@bp.route("/s/<slug>/activity/<chart>.svg", methods=["GET", "HEAD"])
def subsystem_activity_chart(slug: str, chart: str) -> Any:
    return _answer(_subsystem_scope(slug), _chart(chart), "")
