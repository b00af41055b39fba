"""``/series/ID/interdiff``: a range-diff between two revisions of a series, as a page, as
plain text (``interdiff.txt``) and as JSON (``/api/v1/series/ID/interdiff``), one object for
the three (:func:`listarchive.review.interdiff.interdiff`)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, jsonify, render_template, request

from listarchive.mail.rangediff import PatchPair, RevisionPatch, as_text
from listarchive.review import interdiff
from listarchive.web.context import absolute, db, viewer
from listarchive.web.params import MAX_ID, bad_request

bp = Blueprint("interdiff", __name__)


def _from_arg() -> int | None:
    raw = request.args.get("from")
    if raw is None or raw == "":
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 16 or int(raw) > MAX_ID:
        bad_request(f"from={raw[:40]!r}: the id of an earlier revision of this series, a number")
    return int(raw)


def _found(series_id: int) -> interdiff.Interdiff:
    found = interdiff.interdiff(db(), viewer(), series_id, _from_arg())
    if found is None:
        abort(404, description="no such series")
    return found


@bp.route(f"/series/<int(max={MAX_ID}):series_id>/interdiff", methods=["GET", "HEAD"])
def interdiff_page(series_id: int) -> Any:
    found = _found(series_id)
    earlier = [r for r in found.family if r.revision < found.new.revision]
    return render_template("interdiff.html", found=found, name=found.new.home_list,
                           earlier=earlier)


@bp.route(f"/series/<int(max={MAX_ID}):series_id>/interdiff.txt", methods=["GET", "HEAD"])
def interdiff_text(series_id: int) -> Response:
    found = _found(series_id)
    head = (f"range-diff of v{found.old.revision} (series {found.old.id}) and "
            f"v{found.new.revision} (series {found.new.id}): {found.new.title}\n\n")
    resp = Response(head + as_text(found.pairs), content_type="text/plain; charset=utf-8")
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


def _side(patch: RevisionPatch | None) -> dict[str, Any] | None:
    if patch is None:
        return None
    return {"number": patch.number, "title": patch.title, "patch": patch.ref,
            "patch_id": patch.patch_id, "url": absolute(f"/patch/{patch.ref}/")}


def _pair_json(pair: PatchPair) -> dict[str, Any]:
    return {"status": pair.status, "old": _side(pair.old), "new": _side(pair.new),
            "diff": list(pair.diff_lines), "message": list(pair.message_lines),
            "truncated": pair.truncated}


def _row_json(row: interdiff.Revision) -> dict[str, Any]:
    return {"id": row.id, "version": row.revision, "title": row.title,
            "url": absolute(f"/series/{row.id}/")}


@bp.route(f"/api/v1/series/<int(max={MAX_ID}):series_id>/interdiff")
def interdiff_json(series_id: int) -> Any:
    found = _found(series_id)
    return jsonify({"old": _row_json(found.old), "new": _row_json(found.new),
                    "counts": found.counts, "pairs": [_pair_json(p) for p in found.pairs]})
