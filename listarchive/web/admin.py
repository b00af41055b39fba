"""Pages for administrators: the audit log of embargoed threads (who viewed, restricted,
disclosed). Anyone else gets the same 404 as for a page that does not exist."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, request

from listarchive.access.audit import audit_log
from listarchive.web.context import db, viewer

bp = Blueprint("admin", __name__)
MAX_ENTRIES = 1000


@bp.route("/admin/audit")
def audit() -> Any:
    if not viewer().is_admin:
        abort(404)
    try:
        limit = max(1, min(int(request.args.get("limit", "200")), MAX_ENTRIES))
    except ValueError:
        abort(400, description="limit must be a number")
    return render_template("audit.html", entries=audit_log(db(), limit), limit=limit)
