"""Following by mail from the site: a signed-in reader follows a series, a subsystem, a list or
a search (the form on their pages) and gets its news by mail (:mod:`listarchive.notify`); the
follows are listed, and undone, on the reader's queue page.

Every write is a POST with the CSRF token by a signed-in user, about something that reader may
see; a reader changes only their own follows.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, request
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from listarchive.archive import listview
from listarchive.archive.models import Follow, User
from listarchive.clock import utcnow
from listarchive.errors import QueryError
from listarchive.notify.searches import split_target
from listarchive.review import seriesview
from listarchive.review.subsystems import find_subsystem
from listarchive.search.queryparser import parse_query
from listarchive.web.auth import safe_next
from listarchive.web.context import current_user, db, viewer
from listarchive.web.params import bad_request

bp = Blueprint("follows", __name__)
KINDS = ("series", "subsystem", "list", "search")
MAX_FOLLOWS = 200  # per reader
MAX_TARGET = 500  # the column's width


def followed(session: Session, user: User | None) -> frozenset[tuple[str, str]]:
    """(kind, target) of everything ``user`` follows (nothing for a visitor)."""
    if user is None:
        return frozenset()
    return frozenset((row.kind, row.target) for row in session.execute(
        select(Follow.kind, Follow.target).where(Follow.user_id == user.id)))


def my_follows(session: Session, user: User) -> list[tuple[str, str]]:
    return [tuple(row) for row in session.execute(  # type: ignore[misc]
        select(Follow.kind, Follow.target).where(Follow.user_id == user.id)
        .order_by(Follow.kind, Follow.target))]


def _target(kind: str, target: str) -> str:
    """The target as stored, once the reader may see it (404 otherwise, 400 if malformed)."""
    if kind not in KINDS:
        bad_request(f"one can follow a {', '.join(KINDS)}")
    if not target or len(target) > MAX_TARGET or not target.isprintable():
        bad_request(f"what to follow is named in at most {MAX_TARGET} printable characters")
    if kind == "series":
        if not (target.isascii() and target.isdigit() and len(target) < 16) or \
                seriesview.visible_series(db(), viewer(), int(target)) is None:
            abort(404, description=f"no series {target} here")
        return str(int(target))
    if kind == "subsystem":
        found = find_subsystem(db(), target)
        if found is None:
            abort(404, description=f"no subsystem {target!r} here")
        return found.ref.slug
    if kind == "list":
        if target == listview.ALL or not listview.list_exists(db(), viewer(), target):
            abort(404, description=f"there is no list named {target!r} here")
        return target
    name, query = split_target(target)
    if not listview.list_exists(db(), viewer(), name):
        abort(404, description=f"there is no list named {name!r} here")
    try:
        parse_query(query)
    except QueryError as exc:
        bad_request(f"cannot read the query: {exc}")
    return target


def _back(default: str) -> Any:
    target = safe_next(request.form.get("next"))
    return redirect(default if target == "/" else target, 303)


@bp.route("/follow", methods=["POST"])
def follow() -> Any:
    user = current_user()
    if user is None:
        abort(403, description="sign in to follow by mail")
    kind = request.form.get("kind", "")
    target = _target(kind, request.form.get("target", "").strip())
    mine = followed(db(), user)
    if (kind, target) not in mine:
        if len(mine) >= MAX_FOLLOWS:
            bad_request(f"at most {MAX_FOLLOWS} follows: undo some on your queue page first")
        db().add(Follow(user_id=user.id, kind=kind, target=target, created=utcnow()))
        db().commit()
    return _back("/queue/#follows")


@bp.route("/unfollow", methods=["POST"])
def unfollow() -> Any:
    user = current_user()
    if user is None:
        abort(403, description="sign in to change what you follow")
    kind = request.form.get("kind", "")
    if kind not in KINDS:
        bad_request(f"one can follow a {', '.join(KINDS)}")
    db().execute(delete(Follow).where(Follow.user_id == user.id, Follow.kind == kind,
                                      Follow.target == request.form.get("target", "").strip()))
    db().commit()
    return _back("/queue/#follows")
