"""Atom feeds of the review loop: ``/series/ID/atom`` (the series' mail and replies, newer
revisions, state changes, comments placed on its diffs) and ``/s/SUBSYSTEM/atom`` (its newest
series). Everything comes from the read sides for the viewer, so a hidden reply or series is
never an entry."""

from __future__ import annotations

from flask import Blueprint, Response, abort

from listarchive.archive import messageview
from listarchive.mail.msgids import quote_msgid
from listarchive.review import history, seriesview, subsystemview
from listarchive.review.discussion import discussions
from listarchive.web.context import absolute, db, viewer
from listarchive.web.feeds import Item, atom_items
from listarchive.web.params import MAX_ID, subsystem_slug

bp = Blueprint("reviewfeeds", __name__)
MAX_ENTRIES = 100
ATOM = "application/atom+xml; charset=utf-8"


def _message_url(home: str, msgid: str) -> str:
    return absolute(f"/{home}/{quote_msgid(msgid)}/")


@bp.route(f"/series/<int(max={MAX_ID}):series_id>/atom", methods=["GET", "HEAD"])
def series_atom(series_id: int) -> Response:
    session, who = db(), viewer()
    detail = seriesview.series_detail(session, who, series_id)
    found = seriesview.visible_series(session, who, series_id)
    if detail is None or found is None:
        abort(404, description="no such series")
    row = detail.row
    items: list[Item] = []
    thread = messageview.thread_view(session, who, row.anchor_msgid)
    for member in (thread.members if thread is not None else ())[:MAX_ENTRIES]:
        rec = member.record
        items.append(Item(rec.subject, _message_url(rec.lists[0] if rec.lists else "all",
                                                    rec.msgid),
                          rec.sort_date, rec.from_name or rec.from_email, ""))
    for newer in detail.newer:
        items.append(Item(f"v{newer.revision}: {newer.title}", absolute(f"/series/{newer.id}/"),
                          newer.date, "", f"A new revision, v{newer.revision}."))
    for change in history.state_history(session, who, "series", series_id)[-MAX_ENTRIES:]:
        items.append(Item(f"{change.object_kind} {change.object_id}: {change.field} "
                          f"{change.from_value or '-'} -> {change.to_value or '-'}",
                          absolute(f"/series/{series_id}/"), change.at, change.who or "rule",
                          "", f"#state-{change.object_kind}-{change.object_id}-{change.at}"))
    for pid, talk in discussions(session, who, found.patches).items():
        for comment in talk.comments[:MAX_ENTRIES]:
            items.append(Item(f"comment on {comment.path}:{comment.new_line or comment.old_line}",
                              absolute(f"/patch/{pid}/"), comment.date, comment.author,
                              comment.text, f"#comment-{comment.msgid}-{comment.old_line}-"
                                            f"{comment.new_line}"))
    body = atom_items(f"[v{row.revision}] {row.title}", absolute(f"/series/{series_id}/atom"),
                      absolute(f"/series/{series_id}/"), items)
    return Response(body, content_type=ATOM)


@bp.route("/s/<slug>/atom", methods=["GET", "HEAD"])
def subsystem_atom(slug: str) -> Response:
    page = subsystemview.subsystem_page(db(), viewer(), subsystem_slug(slug))
    if page is None:
        abort(404, description="no subsystem by that name (is MAINTAINERS imported?)")
    items = [Item(f"[v{row.revision}] {row.title}", absolute(f"/series/{row.id}/"), row.date,
                  row.submitter_name or row.submitter_email,
                  f"{row.received} of {row.total} patches, {row.state}")
             for row in page.series.rows]
    items.extend(Item(t.subject, absolute(f"/all/{quote_msgid(t.root_msgid)}/"), t.last_date,
                      "", f"{t.messages} messages") for t in page.threads)
    body = atom_items(page.subsystem.name, absolute(f"/s/{page.subsystem.slug}/atom"),
                      absolute(f"/s/{page.subsystem.slug}/"), items)
    return Response(body, content_type=ATOM)
