"""HTML pages and the lore-compatible URL space under ``/LIST/``.

Every message URL goes through :func:`message_dispatch`, which splits Message-ID and suffix from
the raw request URI (see :mod:`listarchive.web.paths`) and hands over to one small view.
"""

from __future__ import annotations

import html
import itertools
import shlex
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, abort, redirect, render_template, request
from markupsafe import Markup

from listarchive.access import embargo, embargoview
from listarchive.archive import badges, bodies, listview, messageview
from listarchive.archive.records import MessageRecord, ThreadView
from listarchive.errors import QueryError, SearchUnavailable
from listarchive.mail.msgids import BadMsgid, quote_msgid
from listarchive.search import vocabulary
from listarchive.search.searcher import SearchOutcome, run_search
from listarchive.web import caching, downloads, feeds, filters
from listarchive.web.context import absolute, db, settings, viewer
from listarchive.web.params import MAX_INDEX_PAGE, cursor_arg, int_arg, list_name, time_arg
from listarchive.web.paths import MessagePath, raw_path, split_message_path

bp = Blueprint("pages", __name__)
PER_PAGE = 50
MAX_REPLY_CC = 200


def message_url(list_: str, msgid: str, suffix: str = "/") -> str:
    return f"/{list_}/{quote_msgid(msgid)}{suffix}"


def home_list(record: MessageRecord, current: str) -> str:
    """The list a link to ``record`` should use: the current one if it carries it."""
    if current == listview.ALL or current in record.lists:
        return current
    return record.lists[0] if record.lists else listview.ALL


ROBOTS = """\
# Pages are for everyone; searches and downloads cost the server what a crawler should not spend.
User-agent: *
Disallow: /*?q=
Disallow: /*?*&q=
Disallow: /*/t.mbox.gz
Disallow: /*/raw
Disallow: /*/t.atom
Disallow: /series/*/mbox
Disallow: /patch/*/mbox
Disallow: /patch/*/raw
Disallow: /api/
Disallow: /login
Disallow: /queue/
Disallow: /bulk
"""


@bp.route("/robots.txt")
def robots() -> Response:
    resp = Response(ROBOTS, mimetype="text/plain")
    resp.cache_control.public = True
    resp.cache_control.max_age = 86400
    return resp


@bp.route("/")
def directory() -> str:
    # name: the header's search box searches every list from here.
    return render_template("directory.html", lists=listview.list_directory(db(), viewer()),
                           name=listview.ALL)


@bp.route("/<name>/_/text/help/", methods=["GET", "HEAD"])
def search_help(name: str) -> str:
    """The search language, every prefix with an example that runs on this list (lore's help
    lives at the same place)."""
    name = list_name(name)
    if not listview.list_exists(db(), viewer(), name):
        abort(404, description=f"there is no list named {name!r} here")
    return render_template("search_help.html", name=name, states=sorted(vocabulary.STATES),
                           kinds=sorted(vocabulary.KINDS), limits=vocabulary.LIMITS)


@bp.route("/<name>/", methods=["GET", "HEAD", "POST"])
def list_page(name: str) -> Any:
    name = list_name(name)
    if "q" in request.args or "q" in request.form:
        return search_page(name)
    if request.method == "POST":
        abort(400, description="POST needs ?q=QUERY&x=m (a search to download as mbox)")
    page = int_arg("page", 1, high=MAX_INDEX_PAGE)
    index = listview.list_index(db(), viewer(), name, page, PER_PAGE, before=time_arg(),
                                older=cursor_arg("o"), newer=cursor_arg("n"))
    if index is None:
        abort(404, description=f"there is no list named {name!r} here")
    return render_template("list.html", index=index, name=name)


def search_page(name: str) -> Any:
    text = request.values.get("q", "").strip()
    mode = request.values.get("x", "")
    if mode not in ("", "m", "A", "t"):
        abort(400, description="?x= must be m (mbox), A (Atom) or empty")
    if mode == "m" and request.method != "POST":
        abort(405, description="the mbox of a search is downloaded with POST (as lore does)")
    # The list is checked with the results (one statement fewer); an unknown list is named
    # before anything else is refused.
    if not text:
        _list_or_404(name)
        abort(400, description="empty search: give ?q=QUERY")
    page = int_arg("page", 1, high=1000)
    per_page = 200 if mode == "m" else PER_PAGE
    try:
        outcome = run_search(db(), settings(), viewer(), text, name, page, per_page,
                             snippets=mode == "")
    except QueryError as exc:
        _list_or_404(name)
        return render_template("search_error.html", error=exc, query=text, name=name), 400
    except SearchUnavailable as exc:
        _list_or_404(name)
        return render_template("error.html", code=503, reason=f"search unavailable: {exc}",
                               query=text, name=name), 503
    if not outcome.list_found:
        abort(404, description=f"there is no list named {name!r} here")
    if mode == "m":
        records = list(outcome.records)
        if request.values.get("t") == "1":
            records = messageview.expand_threads(db(), viewer(), records)
        return downloads.gzip_mbox(bodies.mboxrd_of(db(), records), f"{name}-search")
    if mode == "A":
        entries = [feeds.Entry(r, None, absolute(message_url(home_list(r, name), r.msgid)))
                   for r in outcome.records]
        return Response(feeds.atom(f"search: {text}", request.url, absolute(f"/{name}/"),
                                   entries, None), mimetype="application/atom+xml")
    threads = request.values.get("t") == "1"
    return render_template("search.html", outcome=outcome, query=text, name=name, page=page,
                           per_page=per_page, threads=threads,
                           items=result_items(outcome, name, threads))


def _list_or_404(name: str) -> None:
    if not listview.list_exists(db(), viewer(), name):
        abort(404, description=f"there is no list named {name!r} here")


def result_items(outcome: SearchOutcome, name: str, threads: bool) -> Markup:
    """The ``<li>`` of each result: link, subject, date, sender, lists, snippet; with
    ``threads`` (``t=1``) one per thread, its newest match first, linking to the thread, with
    how many of the page's matches it holds.

    Written here rather than in the template's loop: each value Jinja escapes becomes a
    ``Markup`` built in Python, and the fifty rows' three hundred of them were a tenth of the
    page. Every value from the mail is escaped here; the snippet comes escaped from
    :func:`listarchive.search.snippets.mark`."""
    counts: dict[object, int] = {}
    records = outcome.records
    if threads:
        firsts: dict[object, MessageRecord] = {}
        for record in records:
            key = record.thread_id or record.msgid
            firsts.setdefault(key, record)
            counts[key] = counts.get(key, 0) + 1
        records = tuple(firsts.values())
    tail = "/T/#u" if threads else "/"
    out: list[str] = []
    for r in records:
        href = html.escape(f"/{home_list(r, name)}/{filters.msgid_url(r.msgid)}{tail}")
        more = ""
        if threads:
            n = counts.get(r.thread_id or r.msgid, 1)
            more = f" · {n} match{'es' if n != 1 else ''} in this thread"
        out.append(
            f'<li><a class="subject" href="{href}">{html.escape(r.subject or "(no subject)")}</a>\n'
            f'<div class="tmeta"><span class="date">{filters.utc(r.date)}</span> · '
            f'{html.escape(r.from_name or r.from_email)} · {html.escape(", ".join(r.lists))}{more}</div>\n'
            f'<p class="snippet">{outcome.snippet(r.msgid)}</p></li>\n')
    return Markup("".join(out))


@bp.route("/<name>/new.atom")
def new_atom(name: str) -> Response:
    """The list's newest messages. Feed readers poll it: they get a 304 while nothing new
    arrived (the tag is made of the messages shown), and nothing is parsed for them."""
    name = list_name(name)
    recent = messageview.recent_messages(db(), viewer(), name)
    if recent is None:
        abort(404, description=f"there is no list named {name!r} here")
    etag = caching.tag("new.atom", name, *(f"{r.msgid}\0{r.sha256}" for r in recent),
                       states=False)
    newest = max((r.sort_date for r in recent if r.sort_date), default=None)
    early = caching.not_modified(etag, newest)
    if early is not None:
        return early
    entries = [feeds.Entry(r, p, absolute(message_url(name, r.msgid)))
               for r, p in bodies.with_bodies(db(), recent)]
    body = feeds.atom(f"{name} - newest messages", absolute(f"/{name}/new.atom"),
                      absolute(f"/{name}/"), entries, None)
    return caching.finish(Response(body, mimetype="application/atom+xml"), etag, newest)


@bp.route("/r/<path:rest>", methods=["GET", "HEAD"])
def short_redirect(rest: str) -> Any:
    path = _message_path("r")
    record = messageview.find_message(db(), viewer(), path.msgid)
    if record is None:
        return not_found(path.msgid, "all")
    target = record.lists[0] if record.lists else listview.ALL
    suffix = path.suffix if path.suffix not in ("", "/T", "/t") else path.suffix + "/"
    return redirect(absolute(message_url(target, record.msgid, suffix)), 302)


def _message_path(prefix: str) -> MessagePath:
    """Message-ID and suffix of the current URL; 400 when they are not one."""
    try:
        return _split_message_path(prefix)
    except (BadMsgid, ValueError) as exc:
        abort(400, description=str(exc))


def _split_message_path(prefix: str) -> MessagePath:
    """Message-ID and suffix of the current URL, from the raw URI when the server gives it."""
    head = f"{request.script_root}/{prefix}/"
    raw = raw_path(request.environ)
    if raw is not None and raw.startswith(head):
        return split_message_path(raw[len(head):], raw=True)
    return split_message_path(request.path[len(f"/{prefix}/"):], raw=False)


def not_found(msgid: str, name: str) -> tuple[str, int]:
    return render_template("notfound.html", msgid=msgid, name=name), 404


@bp.route("/<name>/<path:rest>", methods=["GET", "HEAD"])
def message_dispatch(name: str, rest: str) -> Any:
    name = list_name(name)
    try:
        path = _split_message_path(name)
    except (BadMsgid, ValueError) as exc:
        if not listview.list_exists(db(), viewer(), name):  # an unknown list says so first
            abort(404, description=f"there is no list named {name!r} here")
        abort(400, description=str(exc))
    download = path.suffix == "/raw" or path.attachment is not None
    # A message page parses its mail once per process: the first view reads the bytes with the
    # record (on PostgreSQL a second statement is a second round trip).
    first_view = path.suffix == "/" and not bodies.is_parsed(path.msgid)
    found = messageview.find_message_on(db(), viewer(), path.msgid, name,
                                        raw=download or first_view,
                                        thread=path.suffix in THREAD_SUFFIXES)
    if not found.browsable:
        abort(404, description=f"there is no list named {name!r} here")
    record = found.record
    if record is None:
        return not_found(path.msgid, name)
    if found.states is not None:
        caching.read_states(*found.states)
    if name != listview.ALL and name not in record.lists:
        # Known, but archived on another list: send the reader (and b4) where it lives.
        return redirect(absolute(message_url(home_list(record, name), record.msgid,
                                             path.suffix or "/")), 302)
    if path.suffix in ("", "/T", "/t"):
        return redirect(absolute(message_url(name, record.msgid, path.suffix + "/")), 301)
    if path.suffix == "/":
        return message_page(name, record, found)
    if path.suffix in ("/T/", "/t/"):
        return thread_page(name, record, nested=path.suffix == "/t/", thread=found.thread)
    if path.suffix == "/raw":
        return downloads.raw(record, found.raw)
    if path.suffix == "/t.mbox.gz":
        return downloads.thread_mbox(record, found.thread)
    if path.suffix == "/t.atom":
        return thread_atom(name, record, found.thread)
    if path.attachment is not None:
        return downloads.attachment(record, path.attachment, found.raw)
    abort(404)


# The pages of a message URL that show or send its thread: its thread is read with it.
THREAD_SUFFIXES = frozenset({"/", "/T/", "/t/", "/t.mbox.gz", "/t.atom"})


def message_page(name: str, record: MessageRecord, found: messageview.MessageAt) -> Any:
    thread = found.thread
    if thread is None:
        thread = messageview.record_thread(db(), viewer(), record)
    _audit_view(record.msgid)
    etag = caching.tag("m", name, record.sha256, thread.etag())
    early = caching.not_modified(etag, thread.last_modified)
    if early is not None:
        return early
    view = messageview.message_page(db(), viewer(), record.msgid, record, thread, found.raw)
    if view is None:
        return not_found(record.msgid, name)
    html = render_template("message.html", name=name, view=view, rec=record, parsed=view.parsed,
                           home=lambda r: home_list(r, name),
                           reply=_reply(view.parsed, record),
                           badge=found.badge if found.badge_read else
                           badges.message_badges(db(), [record.msgid]).get(record.msgid),
                           disclosed=embargoview.disclosure(db(), viewer(), record),
                           # A parent the reader may not see gets no link, exactly like a
                           # parent that was never archived; a stored parent is in the thread.
                           parent_visible=bool(record.parent_msgid) and any(
                               m.record.msgid == record.parent_msgid for m in thread.members))
    return caching.finish(Response(html, mimetype="text/html"), etag, thread.last_modified)


def _reply(parsed: Any, record: MessageRecord) -> dict[str, Any]:
    """mailto and git send-email instructions, answering the sender and keeping everyone in Cc."""
    sender = parsed.sender.email
    every = dict.fromkeys(a.email for a in (*parsed.to, *parsed.cc) if a.email and a.email != sender)
    # A hostile To: of 200,000 addresses must cost a page view what a long mail costs: the
    # instructions name the first MAX_REPLY_CC, and say how many more reply-all reaches.
    ccs = list(itertools.islice(every, MAX_REPLY_CC))
    subject = parsed.subject if parsed.subject.lower().startswith("re:") else \
        f"Re: {parsed.subject}"
    mailto = (f"mailto:{quote(sender, safe='@')}?In-Reply-To={quote('<' + record.msgid + '>')}"
              f"&Cc={quote(','.join(ccs), safe='@,')}&Subject={quote(subject)}")
    return {"to": shlex.quote(sender), "cc": [shlex.quote(c) for c in ccs], "mailto": mailto,
            "subject": subject, "msgid": shlex.quote(record.msgid),
            "more": len(every) - len(ccs)}


def thread_page(name: str, record: MessageRecord, nested: bool,
                thread: ThreadView | None = None) -> Any:
    """``T/``: every message of the thread by date; ``t/``: the tree, each message indented by
    its depth, with a ``[not found]`` line where a reply's parent is not in the archive.
    ``thread``: the record's, if read with it."""
    if thread is None:
        thread = messageview.thread_view(db(), viewer(), record.msgid, record)
    if thread is None:
        return not_found(record.msgid, name)
    _audit_view(record.msgid)
    etag = caching.tag("t" if nested else "T", name, record.msgid, thread.etag())
    early = caching.not_modified(etag, thread.last_modified)
    if early is not None:
        return early
    lines = messageview.thread_lines(db(), viewer(), record.msgid, thread) or []
    items = [(line.record, parsed, line.depth, line.msgid) for line, parsed in lines]
    if not nested:
        dated = [(r, p, 0, m) for r, p, _, m in items if r is not None]
        dated.sort(key=lambda it: (it[0].sort_date is None, it[0].sort_date, it[0].msgid))
        items = [(r, p, d, m) for r, p, d, m in dated]
    html = render_template("thread.html", name=name, items=items, nested=nested, rec=record,
                           thread_subject=thread.subject,
                           home=lambda r: home_list(r, name),
                           shown={m for r, _, _, m in items if r is not None},
                           count=sum(1 for r, _, _, _ in items if r is not None),
                           disclosed=embargoview.disclosure(db(), viewer(), record))
    return caching.finish(Response(html, mimetype="text/html"), etag, thread.last_modified)


def _audit_view(msgid: str) -> None:
    """Signed-in readers of an embargoed thread leave an entry in the audit log."""
    if embargo.record_view(db(), viewer(), msgid):
        db().commit()


def thread_atom(name: str, record: MessageRecord, thread: ThreadView | None = None) -> Response:
    if thread is None:
        thread = messageview.thread_view(db(), viewer(), record.msgid, record)
    items = messageview.thread_messages(db(), viewer(), record.msgid, thread) or []
    items = sorted(items, key=lambda it: (it[0].sort_date is None, it[0].sort_date), reverse=True)
    entries = [feeds.Entry(r, p, absolute(message_url(home_list(r, name), r.msgid)))
               for r, p, _ in items]
    return Response(feeds.atom(f"thread: {record.subject}",
                               absolute(message_url(name, record.msgid, "/t.atom")),
                               absolute(message_url(name, record.msgid, "/T/")), entries, None),
                    mimetype="application/atom+xml")
