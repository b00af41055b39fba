"""``/api/1.2/``: the subset of Patchwork's REST API that ``git-pw`` and similar scripts use.

Each list is a project (id = the list's id, ``link_name`` = its name). Objects carry Patchwork's
field names: Message-IDs *with* angle brackets, ``hash`` (our ``git patch-id --stable``),
``commit_ref`` (the commit a rule found the patch in), ``check`` (the combined CI state, see
:mod:`listarchive.review.checks`) and empty ``tags``. Checks, events, comments and bundles are
in :mod:`listarchive.web.patchworkchecks` and :mod:`listarchive.web.events`. Lists are JSON
arrays paged with ``?page=`` / ``?per_page=`` and a ``Link:`` header (``rel="next"``/
``rel="prev"``), as git-pw expects.

Writes (``PATCH``/``PUT`` of a patch's ``state``, ``archived``, ``delegate``) need
``Authorization: Token ...`` and come as JSON or, as git-pw sends them, form fields.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, jsonify, request

from listarchive.archive import listview
from listarchive.archive.models import User
from listarchive.mail.msgids import quote_msgid
from listarchive.review import changes, patchview, patchwork
from listarchive.review.patchwork import (
    PatchRecord,
    PersonRef,
    ProjectRef,
    SeriesRecord,
    SubmissionRef,
)
from listarchive.review.states import STATES, normalize_state
from listarchive.web.context import absolute, db, token_user, viewer, viewer_of
from listarchive.web.params import MAX_ID, int_arg

VERSION = "1.2"
bp = Blueprint("pwapi", __name__, url_prefix=f"/api/{VERSION}")
PER_PAGE = 30


def api_url(path: str) -> str:
    return absolute(f"/api/{VERSION}/{path}")


def api_date(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%S") if moment is not None else None


def _project(p: ProjectRef | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return {"id": p.id, "url": api_url(f"projects/{p.id}/"), "name": p.name, "link_name": p.name,
            "list_id": p.list_id, "list_email": p.address, "web_url": absolute(f"/{p.name}/"),
            "scm_url": "", "webscm_url": "",
            "list_archive_url": absolute(f"/{p.name}/"),
            "list_archive_url_format": absolute(f"/{p.name}/{{}}/"),
            "commit_url_format": "", "subject_match": "",
            "maintainers": []}


def person_object(p: PersonRef) -> dict[str, Any]:
    return {"id": p.id, "url": api_url(f"people/{p.id}/"), "name": p.name, "email": p.email}


def _user(u: PersonRef | None) -> dict[str, Any] | None:
    if u is None:
        return None
    return {"id": u.id, "url": api_url(f"users/{u.id}/"), "username": u.name, "first_name": "",
            "last_name": "", "email": u.email}


def _archive(project: ProjectRef | None, msgid: str) -> str:
    return absolute(f"/{project.name if project else listview.ALL}/{quote_msgid(msgid)}/")


def _series_ref(s: SubmissionRef, version: int, mbox: str = "") -> dict[str, Any]:
    return {"id": s.id, "url": api_url(f"series/{s.id}/"), "web_url": absolute(f"/series/{s.id}/"),
            "date": api_date(s.date), "name": s.name, "version": version,
            "mbox": mbox or absolute(f"/series/{s.id}/mbox")}


def patch_object(p: PatchRecord) -> dict[str, Any]:
    # A pull request has nothing for git am: its mbox is the mail as sent.
    raw = _archive(p.project, p.msgid) + "raw"
    return {"id": p.id, "url": api_url(f"patches/{p.id}/"), "web_url": absolute(f"/patch/{p.id}/"),
            "project": _project(p.project), "msgid": f"<{p.msgid}>",
            "list_archive_url": _archive(p.project, p.msgid), "date": api_date(p.date),
            "name": p.name, "commit_ref": p.commit_ref or None, "pull_url": p.pull_url or None,
            "state": p.state, "archived": p.archived, "hash": p.hash or None,
            "submitter": person_object(p.submitter), "delegate": _user(p.delegate),
            "mbox": absolute(f"/patch/{p.id}/mbox") if p.kind == "patch" else raw,
            "series": [_series_ref(p.series, p.series_version,
                                   raw if p.kind == "pull" else "")] if p.series else [],
            "comments": api_url(f"patches/{p.id}/comments/"), "check": p.check,
            "checks": api_url(f"patches/{p.id}/checks/"), "tags": {}, "related": []}


def _submission(s: SubmissionRef, project: ProjectRef | None, kind: str) -> dict[str, Any]:
    mbox = (absolute(f"/patch/{s.id}/mbox") if kind == "patches"
            else _archive(project, s.msgid) + "raw")
    return {"id": s.id, "url": api_url(f"{kind}/{s.id}/"),
            "web_url": absolute(f"/patch/{s.id}/") if kind == "patches"
            else _archive(project, s.msgid),
            "msgid": f"<{s.msgid}>", "list_archive_url": _archive(project, s.msgid),
            "date": api_date(s.date), "name": s.name, "mbox": mbox}


def series_object(s: SeriesRecord) -> dict[str, Any]:
    return {"id": s.id, "url": api_url(f"series/{s.id}/"), "web_url": absolute(f"/series/{s.id}/"),
            "project": _project(s.project), "name": s.name, "date": api_date(s.date),
            "submitter": person_object(s.submitter), "version": s.version, "total": s.total,
            "received_total": s.received, "received_all": s.complete,
            "mbox": absolute(f"/series/{s.id}/mbox") if not s.pull_msgid
            else _archive(s.project, s.pull_msgid) + "raw",
            "cover_letter": _submission(s.cover, s.project, "covers") if s.cover else None,
            "patches": [_submission(p, s.project, "patches") for p in s.patches],
            "dependencies": [], "dependents": []}


def cover_object(found: tuple[SubmissionRef, PersonRef, ProjectRef | None,
                              SubmissionRef | None]) -> dict[str, Any]:
    cover, person, project, series = found
    return {**_submission(cover, project, "covers"), "project": _project(project),
            "submitter": person_object(person),
            "series": [_series_ref(series, 1)] if series is not None else [],
            "comments": api_url(f"covers/{cover.id}/comments/")}


def paged(items: list[dict[str, Any]], page: int, per_page: int, has_next: bool) -> Response:
    """A JSON array with Patchwork's ``Link`` header for the neighbouring pages."""
    resp = jsonify(items)
    params = [(k, v) for k, v in request.args.items(multi=True) if k not in ("page", "per_page")]
    links = []
    if has_next:
        links.append(f'<{absolute(request.path)}?'
                     f'{urlencode([*params, ("page", page + 1), ("per_page", per_page)])}>; '
                     f'rel="next"')
    if page > 1:
        links.append(f'<{absolute(request.path)}?'
                     f'{urlencode([*params, ("page", page - 1), ("per_page", per_page)])}>; '
                     f'rel="prev"')
    if links:
        resp.headers["Link"] = ", ".join(links)
    return resp


def page_args() -> tuple[int, int]:
    return int_arg("page", 1), int_arg("per_page", PER_PAGE, high=listview.MAX_PER_PAGE)


def moment_arg(name: str) -> datetime | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        abort(400, description=f"?{name}= is an ISO 8601 date and time")
    return moment.replace(tzinfo=None)


def _bool(raw: str, name: str) -> bool:
    value = raw.strip().lower()
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off"):
        return False
    abort(400, description=f"{name} is true or false")


@bp.route("/")
def index() -> Any:
    return jsonify({name: api_url(f"{name}/") for name in
                    ("projects", "patches", "series", "covers", "people", "users", "events")})


@bp.route("/projects/")
def project_list() -> Any:
    found = patchwork.projects(db(), viewer())
    page, per_page = page_args()
    chunk = found[(page - 1) * per_page:page * per_page + 1]
    return paged([_project(p) or {} for p in chunk[:per_page]], page, per_page,
                  len(chunk) > per_page)


@bp.route("/projects/<key>/")
def project_detail(key: str) -> Any:
    found = patchwork.find_project(db(), viewer(), key)
    if found is None:
        abort(404, description="no such project")
    return jsonify(_project(found))


@bp.route("/patches/")
def patch_list() -> Any:
    args = request.args
    states = []
    for raw in args.getlist("state"):
        for part in raw.split(","):
            if part.strip():
                state = normalize_state(part)
                if state is None:
                    abort(400, description=f"unknown state; one of: {', '.join(STATES)}")
                states.append(state)
    series = args.get("series", "").strip()
    if series and not (series.isdigit() and len(series) < 16):
        abort(400, description="?series= is a series id")
    query = patchwork.PatchQuery(
        project=args.get("project", "").strip(), states=tuple(states),
        submitter=args.get("submitter", "").strip()[:320],
        delegate=args.get("delegate", "").strip()[:64], msgid=args.get("msgid", "")[:500],
        series=int(series) if series else None,
        archived=_bool(args["archived"], "archived") if args.get("archived") else None,
        hashes=tuple(h.strip() for h in args.getlist("hash") if h.strip()),
        since=moment_arg("since"), before=moment_arg("before"), q=args.get("q", "")[:200],
        order=args.get("order", "date"))
    page, per_page = page_args()
    found = patchwork.patch_page(db(), viewer(), query, page, per_page)
    if found is None:
        abort(404, description="no such project")
    return paged([patch_object(p) for p in found.items], page, per_page, found.has_next)


def _patch_detail(patch_id: int, user: User | None = None) -> dict[str, Any]:
    who = viewer_of(user) if user is not None else viewer()
    record = patchwork.patch_record(db(), who, patch_id)
    if record is None:
        abort(404, description="no such patch")
    obj = patch_object(record)
    detail = patchview.patch_detail(db(), who, patch_id)
    obj.update({"content": detail.commit_message if detail else "",
                "diff": detail.diff if detail else "", "prefixes": [], "headers": {}})
    return obj


@bp.route(f"/patches/<int(max={MAX_ID}):patch_id>/")
def patch_show(patch_id: int) -> Any:
    return jsonify(_patch_detail(patch_id))


@bp.route(f"/patches/<int(max={MAX_ID}):patch_id>/", methods=["PATCH", "PUT"])
def patch_change(patch_id: int) -> Any:
    """Set ``state`` (with ``commit_ref`` kept as evidence), ``archived`` and ``delegate`` (a
    user id or name) of a patch, as a maintainer with a token; git-pw sends form fields."""
    user = token_user()
    body = request.get_json(silent=True) if request.is_json else None
    fields: dict[str, Any] = body if isinstance(body, dict) else request.form.to_dict()
    state = fields.get("state")
    archived = fields.get("archived")
    delegate = fields.get("delegate")
    changes.change(db(), user, "patch", [patch_id], changes.ChangeRequest(
        state=str(state) if state is not None else None,
        archived=(archived if isinstance(archived, bool) else _bool(str(archived), "archived"))
        if "archived" in fields else None,
        delegate=str(delegate or "") if "delegate" in fields else None,
        evidence=str(fields.get("commit_ref") or "").strip()[:64]), "api")
    db().commit()
    return jsonify(_patch_detail(patch_id, user))


@bp.route("/series/")
def series_list() -> Any:
    page, per_page = page_args()
    found = patchwork.series_page(
        db(), viewer(), request.args.get("project", "").strip(),
        request.args.get("submitter", "").strip()[:320], moment_arg("since"), moment_arg("before"),
        request.args.get("q", "")[:200], request.args.get("order", "date"), page, per_page)
    if found is None:
        abort(404, description="no such project")
    return paged([series_object(s) for s in found.items], page, per_page, found.has_next)


@bp.route(f"/series/<int(max={MAX_ID}):series_id>/")
def series_show(series_id: int) -> Any:
    found = patchwork.series_record(db(), viewer(), series_id)
    if found is None:
        abort(404, description="no such series")
    return jsonify(series_object(found))


@bp.route("/covers/")
def cover_list() -> Any:
    page, per_page = page_args()
    found = patchwork.cover_page(db(), viewer(), request.args.get("project", "").strip(),
                                     page, per_page)
    if found is None:
        abort(404, description="no such project")
    return paged([cover_object(c) for c in found.items], page, per_page, found.has_next)


@bp.route(f"/covers/<int(max={MAX_ID}):cover_id>/")
def cover_show(cover_id: int) -> Any:
    found = patchwork.cover_record(db(), viewer(), cover_id)
    if found is None:
        abort(404, description="no such cover letter")
    return jsonify(cover_object(found))


@bp.route("/people/")
def people_list() -> Any:
    found = patchwork.person_records(db(), viewer(), q=request.args.get("q", "")[:200])
    return jsonify([person_object(p) for p in found])


@bp.route(f"/people/<int(max={MAX_ID}):person_id>/")
def person_show(person_id: int) -> Any:
    found = patchwork.person_records(db(), viewer(), person_id=person_id)
    if not found:
        abort(404, description="no such person")
    return jsonify(person_object(found[0]))


@bp.route("/users/")
def user_list() -> Any:
    """Accounts by exact name or address (``git-pw patch update --delegate NAME``); only for
    a token holder, so the account list is not public."""
    token_user()
    return jsonify([_user(u) for u in patchwork.user_records(
        db(), q=request.args.get("q", "").strip()[:320])])


@bp.route(f"/users/<int(max={MAX_ID}):user_id>/")
def user_show(user_id: int) -> Any:
    token_user()
    found = patchwork.user_records(db(), user_id=user_id)
    if not found:
        abort(404, description="no such user")
    return jsonify(_user(found[0]))
