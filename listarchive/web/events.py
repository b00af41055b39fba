"""``/api/1.2/events/`` (Patchwork's shape: ``id``, ``category``, ``project``, ``date``,
``actor``, ``payload``) and its Atom twin ``/api/1.2/events/atom``: the same events, filtered
by ``category`` (repeatable or comma-separated), ``project`` (id or name) and ``since``, newest
first. Pages follow the ``Link: rel="next"`` header, which carries a cursor (``?cursor=``)
rather than a page number, so no event shows on two pages (:mod:`listarchive.review.events`).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, jsonify, request

from listarchive.clock import iso
from listarchive.review import checks, events, patchwork
from listarchive.review.events import Cursor, Event, EventQuery
from listarchive.web.context import absolute, db, viewer
from listarchive.web.feeds import ATOM_NS, xml_text
from listarchive.web.params import int_arg
from listarchive.web.patchworkapi import (
    VERSION,
    api_date,
    api_url,
    cover_object,
    moment_arg,
    patch_object,
    series_object,
)
from listarchive.web.patchworkchecks import check_object

bp = Blueprint("pwevents", __name__, url_prefix=f"/api/{VERSION}")


def _query() -> EventQuery:
    wanted: list[str] = []
    for raw in request.args.getlist("category"):
        wanted.extend(p.strip() for p in raw.split(",") if p.strip())
    unknown = [c for c in wanted if c not in events.CATEGORIES]
    if unknown:
        abort(400, description=f"unknown category {unknown[0][:40]!r}; one of: "
                               f"{', '.join(events.CATEGORIES)}")
    project_id = None
    key = request.args.get("project", "").strip()
    if key:
        found = patchwork.find_project(db(), viewer(), key[:64])
        if found is None:
            abort(404, description="no such project")
        project_id = found.id
    cursor = None
    if request.args.get("cursor"):
        cursor = Cursor.parse(request.args["cursor"][:64])
        if cursor is None:
            abort(400, description="?cursor= is the value a Link: rel=\"next\" header gave")
    return EventQuery(tuple(wanted), project_id, moment_arg("since"), cursor,
                      int_arg("per_page", 30, high=events.MAX_PER_PAGE))


def _payload(e: Event) -> dict[str, Any] | None:
    """The event's object as Patchwork embeds it; None when the viewer may not see it."""
    if e.category in ("series-created", "series-completed"):
        series = patchwork.series_record(db(), viewer(), e.message_id)
        return {"series": series_object(series)} if series is not None else None
    if e.category == "cover-created":
        cover = patchwork.cover_record(db(), viewer(), e.message_id)
        return {"cover": cover_object(cover)} if cover is not None else None
    patch = patchwork.patch_record(db(), viewer(), e.message_id)
    if patch is None:
        return None
    out: dict[str, Any] = {"patch": patch_object(patch)}
    if e.category == "patch-state-changed":
        out.update(previous_state=e.previous, current_state=e.current)
    elif e.category == "patch-delegated":
        out.update(previous_delegate=_user(e.previous), current_delegate=_user(e.current))
    elif e.category == "check-created" and e.check_id is not None:
        found = checks.check_record(db(), viewer(), e.message_id, e.check_id)
        if found is None:
            return None
        out["check"] = check_object(found)
    return out


def _user(name: str) -> dict[str, Any] | None:
    found = patchwork.user_records(db(), q=name) if name else []
    return ({"id": found[0].id, "url": api_url(f"users/{found[0].id}/"),
             "username": found[0].name} if found else None)


def _objects(found: list[Event]) -> list[tuple[dict[str, Any], Event]]:
    projects = {p.id: p for p in patchwork.projects(db(), viewer())}
    homes = events.projects_of(db(), [e.message_id for e in found])
    out = []
    for e in found:
        payload = _payload(e)
        if payload is None:
            continue
        project = projects.get(homes.get(e.message_id, 0))
        actor = _user_by_id(e.actor_id)
        out.append(({"id": e.id, "category": e.category,
                    "project": {"id": project.id, "url": api_url(f"projects/{project.id}/"),
                                "name": project.name, "link_name": project.name}
                    if project else None,
                    "date": api_date(e.date), "actor": actor, "payload": payload}, e))
    return out


def _user_by_id(user_id: int | None) -> dict[str, Any] | None:
    found = patchwork.user_records(db(), user_id=user_id) if user_id is not None else []
    return ({"id": found[0].id, "url": api_url(f"users/{found[0].id}/"),
             "username": found[0].name} if found else None)


def _next_link(found: list[Event], more: bool) -> str:
    if not more or not found:
        return ""
    params = [(k, v) for k, v in request.args.items(multi=True) if k != "cursor"]
    last = found[-1]
    query = urlencode([*params, ("cursor", str(Cursor(last.date, last.id)))])
    return f"{absolute(request.path)}?{query}"


@bp.route("/events/")
def event_list() -> Any:
    found, more = events.events(db(), viewer(), _query())
    resp = jsonify([obj for obj, _ in _objects(found)])
    link = _next_link(found, more)
    if link:
        resp.headers["Link"] = f'<{link}>; rel="next"'
    return resp


@bp.route("/events/atom")
def event_feed() -> Response:
    found, more = events.events(db(), viewer(), _query())
    feed = ET.Element("feed", {"xmlns": ATOM_NS})
    ET.SubElement(feed, "title").text = "listarchive events"
    ET.SubElement(feed, "id").text = absolute(request.full_path)
    ET.SubElement(feed, "link", {"rel": "self", "href": absolute(request.full_path)})
    link = _next_link(found, more)
    if link:
        ET.SubElement(feed, "link", {"rel": "next", "href": link})
    ET.SubElement(feed, "updated").text = iso(found[0].date if found else None) or \
        "1970-01-01T00:00:00Z"
    for obj, e in _objects(found):
        entry = ET.SubElement(feed, "entry")
        ET.SubElement(entry, "id").text = absolute(f"/api/{VERSION}/events/#{obj['id']}")
        payload = obj["payload"]
        thing = payload.get("patch") or payload.get("series") or payload.get("cover") or {}
        ET.SubElement(entry, "title").text = xml_text(
            f"{obj['category']}: {thing.get('name', '')}"
            + (f" ({payload['current_state']})" if "current_state" in payload else "")
            + (f" ({payload['check']['context']}: {payload['check']['state']})"
               if "check" in payload else ""))
        ET.SubElement(entry, "updated").text = iso(e.date) or ""
        if thing.get("web_url"):
            ET.SubElement(entry, "link", {"rel": "alternate", "href": thing["web_url"]})
    return Response(ET.tostring(feed, encoding="utf-8", xml_declaration=True),
                    mimetype="application/atom+xml")
