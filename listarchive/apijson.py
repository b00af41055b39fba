"""The JSON shapes of ``/api/v1`` (../shared/CONTRACT.md), built from the same records the HTML
pages render, so a page and its twin cannot drift. ``listarchive show --json`` and
``listarchive search --json`` print these objects too.

No Flask here: functions take a session and a viewer and return plain dicts. It lives beside
the web package, not in it, so that the command line does not load the site (Flask and every
page module) to print them: ``listarchive search`` took 1.5 s, most of it importing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.orm import Session

from listarchive.access.visibility import Viewer
from listarchive.archive import listview, messageview
from listarchive.archive.records import MessageRecord
from listarchive.clock import iso
from listarchive.review import amready, checks, dependencies, patchview, seriesview
from listarchive.review.patchview import PatchSummary
from listarchive.review.seriesview import RevisionLink, SeriesRow
from listarchive.review.trailers import TrailerLine


def summary_json(record: MessageRecord) -> dict[str, Any]:
    return {"message_id": record.msgid, "subject": record.subject,
            "from": {"name": record.from_name, "email": record.from_email},
            "date": iso(record.date), "lists": list(record.lists)}


def trailer_json(lines: Iterable[TrailerLine]) -> list[dict[str, Any]]:
    """The trailers that count: a line naming someone other than the sender of the reply that
    gave it is left out, as ``b4 am`` leaves it out (the pages show it, marked)."""
    return [{"name": t.name, "value": t.value, "from_msgid": t.from_msgid}
            for t in lines if not t.mismatch]


def patch_json(summary: PatchSummary) -> dict[str, Any]:
    """The object of ``GET /api/v1/patches/ID`` (trailers: own, then collected). ``pull_url``
    is the URL and the ref to pull, as Patchwork gives it (``git://host/repo.git tags/x``)."""
    return {"id": summary.id, "message_id": summary.msgid, "subject": summary.subject,
            "state": summary.state, "files": list(summary.files),
            "diffstat": {"files": summary.file_count, "insertions": summary.insertions,
                         "deletions": summary.deletions},
            "patch_id": summary.patch_id or None, "pull_url": summary.pull_url or None,
            "subsystems": list(summary.subsystems), "trailers": trailer_json(summary.trailers)}


def patch_object(session: Session, viewer: Viewer, patch_id: int) -> dict[str, Any] | None:
    """``/api/v1/patches/ID``: patches and pull requests only (a cover letter is not a patch: it
    is the message object's ``series`` with ``number`` 0; a review suggestion is a reply)."""
    summary = patchview.patch_summary(session, viewer, patch_id)
    if summary is None or not summary.is_submission:
        return None
    return {**patch_json(summary), "checks": checks_json(session, viewer, patch_id)}


def checks_json(session: Session, viewer: Viewer, patch_id: int) -> dict[str, Any]:
    """A patch's CI results: the combined state (null without checks) and the newest check of
    each context."""
    return checks_summary(checks.patch_checks(session, viewer, patch_id) or [])


def checks_summary(found: Sequence[checks.CheckRecord]) -> dict[str, Any]:
    """:func:`checks_json` of the checks already read."""
    newest = {c.context: c for c in found}
    return {"state": checks.combine(c.state for c in newest.values()),
            "contexts": [{"context": c.context, "state": c.state,
                          "target_url": c.target_url or None,
                          "description": c.description or None, "date": iso(c.date)}
                         for c in sorted(newest.values(), key=lambda c: c.context)]}


def message_json(session: Session, viewer: Viewer, msgid: str) -> dict[str, Any] | None:
    """Exactly the object of ``GET /api/v1/messages/MSGID`` (and ``listarchive show --json``)."""
    record = messageview.find_message(session, viewer, msgid)
    if record is None:
        return None
    summary = patchview.patch_summary(session, viewer, record.pk)
    series = None
    if summary is not None and summary.series is not None:
        place = summary.series
        series = {"id": place.id, "version": place.version, "number": place.number,
                  "total": place.total}
    patch = patch_json(summary) if summary is not None and summary.is_submission else None
    return {**summary_json(record), "in_reply_to": record.in_reply_to or None,
            "thread": messageview.thread_root(session, viewer, record),
            "patch": patch, "series": series}


def thread_json(session: Session, viewer: Viewer, msgid: str) -> dict[str, Any] | None:
    """``GET /api/v1/threads/MSGID``: the thread as a tree of summaries (``replies`` lists).
    A message that replies point to but that is not in the archive is a node of its own with
    ``"missing": true`` (lore's ``[not found]``), so its replies stay nested under it.

    Built with an explicit stack from the depth-first rows; depths are capped at
    :data:`messageview.MAX_DEPTH` so a hostile reply chain cannot nest the JSON without bound.
    """
    thread = messageview.thread_view(session, viewer, msgid)
    if thread is None:
        return None
    roots: list[dict[str, Any]] = []
    stack: list[tuple[int, dict[str, Any]]] = []
    for member in thread.lines:
        record = member.record
        node = ({**summary_json(record), "in_reply_to": record.in_reply_to or None,
                 "missing": False, "replies": []} if record is not None else
                {"message_id": member.msgid, "subject": None, "from": None, "date": None,
                 "lists": [], "in_reply_to": None, "missing": True, "replies": []})
        while stack and stack[-1][0] >= member.depth:
            stack.pop()
        (stack[-1][1]["replies"] if stack else roots).append(node)
        stack.append((member.depth, node))
    return {"thread": thread.root_msgid, "subject": thread.subject,
            "message_count": len(thread.members), "messages": roots}


def lists_json(session: Session, viewer: Viewer, page: int, per_page: int
               ) -> tuple[list[dict[str, Any]], bool]:
    """One page of ``GET /api/v1/lists`` and whether there is a next page."""
    everything = listview.list_directory(session, viewer)
    start = (page - 1) * per_page
    chosen = everything[start:start + per_page]
    return ([{"name": s.name, "description": s.description, "address": s.address,
              "messages": s.messages, "threads": s.threads,
              "last_activity": iso(s.last_activity)} for s in chosen],
            start + per_page < len(everything))


def series_row_json(row: SeriesRow) -> dict[str, Any]:
    return {"id": row.id, "title": row.title, "version": row.revision, "rfc": row.is_rfc,
            "pull": row.is_pull,
            "submitter": {"name": row.submitter_name, "email": row.submitter_email},
            "date": iso(row.date), "state": row.state, "archived": row.archived,
            "delegate": row.delegate or None, "received": row.received,
            "total": row.total, "complete": row.complete, "missing": list(row.missing),
            "counts": {"acked": row.counts.acked, "reviewed": row.counts.reviewed,
                       "tested": row.counts.tested}, "checks": row.check or None}


def _revision_json(link: RevisionLink) -> dict[str, Any]:
    return {"id": link.id, "version": link.revision, "title": link.title,
            "date": iso(link.date), "reason": link.reason}


def series_json(session: Session, viewer: Viewer, series_id: int) -> dict[str, Any] | None:
    """``GET /api/v1/series/ID``: the list-row facts plus cover, patches (with their own and
    collected trailers), revisions either side, series-wide trailers (those given to the cover
    letter) and subsystems. ``has_mbox`` says whether the series has an am-ready mbox (a pull
    request has none); the web layer turns it into the ``mbox`` URL or null."""
    detail = seriesview.series_detail(session, viewer, series_id)
    if detail is None:
        return None
    cover = None
    if detail.cover is not None:
        cover = {"id": detail.cover.id, "message_id": detail.cover.msgid,
                 "subject": detail.cover.subject}
    series_wide: dict[tuple[str, str], TrailerLine] = {}
    for item in detail.patches:
        for line in item.trailers:
            if line.via_cover:
                series_wide.setdefault((line.name, line.value), line)
    return {**series_row_json(detail.row), "cover": cover,
            "patches": [{"id": p.id, "message_id": p.msgid, "subject": p.subject,
                         "number": p.counter, "state": p.state, "comments": p.comments,
                         "trailers": trailer_json(p.trailers)} for p in detail.patches],
            "previous": [_revision_json(r) for r in detail.older],
            "next": [_revision_json(r) for r in detail.newer],
            "trailers": trailer_json(series_wide.values()),
            "subsystems": [s.slug for s in detail.subsystems],
            "dependencies": _dependencies_json(session, viewer, series_id),
            "has_mbox": amready.series_has_mbox(detail)}


def _dependencies_json(session: Session, viewer: Viewer, series_id: int) -> dict[str, Any]:
    deps = dependencies.series_dependencies(session, viewer, series_id)
    return {"base_commit": deps.base_commit or None,
            "prerequisites": [{"kind": d.kind, "value": d.value, "series": d.series_id or None,
                               "patch": d.patch_id or None} for d in deps.items]}


def comments_json(session: Session, viewer: Viewer, patch_id: int) -> dict[str, Any] | None:
    """``GET /api/v1/patches/ID/comments``: the comments placed on the patch's diff lines and
    every reply below it in thread order (what the patch page shows)."""
    detail = patchview.patch_detail(session, viewer, patch_id)
    if detail is None or detail.item.kind != "patch":
        return None
    talk = detail.discussion
    comments = talk.comments if talk is not None else ()
    replies = talk.replies if talk is not None else ()
    return {"patch": patch_id,
            "comments": [{"file": c.path, "old_line": c.old_line or None,
                          "new_line": c.new_line or None, "message_id": c.msgid,
                          "author": {"name": c.author, "email": c.email},
                          "date": iso(c.date), "line": c.quoted, "text": c.text}
                         for c in comments],
            "replies": [{**summary_json(r.record), "depth": r.depth, "comments": r.comments}
                        for r in replies]}
