"""Every page sends a bounded number of SQL statements, whatever the size of what it shows (on
PostgreSQL each statement is a round trip to the server): a thread of fifty messages costs what
a thread of one costs, a series of thirty patches what a series of two costs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import backends
import pytest
from mailfixtures import Site
from sqlalchemy import event, func, select, text

from listarchive.archive import bodies
from listarchive.archive.models import MailingList, Message, MessageList, Patch, Series, Thread
from listarchive.mail.msgids import quote_msgid

BOUND = 25  # statements per page
REVIEW_BOUND = 80  # series and patch pages: states, trailers, revisions, subsystems, history,
# the discussion and the comments carried from the previous revision
THREAD_BOUND = 3  # T/, t/ and t.mbox.gz: the message (with whether its list may be browsed)
# and its thread with their lists, the references of orphans, the bytes of those not parsed yet
PATCH_BOUND = 20  # a patch page: its message, diff, series, trailers, state, discussion, checks
MESSAGE_BOUND = 2  # a message page: the message (with its disclosure flag, whether its list
# may be browsed, the archive's newest state change and its badge, its bytes unless parsed
# already) and its thread, the references of orphans
RAW_BOUND = 1  # a raw download: the message with its bytes and whether its list may be browsed
LIST_BOUND = 2  # a list index: the list (with its totals, newest activity and whether an
# embargo hides anything), the page of its threads with the summaries kept and their badges
FIRST_PAGE_BOUND = 1  # the first page of one list: the two in one statement
FEED_BOUND = 1  # a list's new.atom (its messages parsed already): its newest messages


@contextmanager
def counting(site: Site) -> Iterator[list[int]]:
    engine = site.app.extensions["listarchive.sessionmaker"].kw["bind"]  # type: ignore[attr-defined]
    seen = [0]

    def count(*_args: object) -> None:
        seen[0] += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def statements(site: Site, url: str) -> int:
    client = site.app.test_client()  # type: ignore[attr-defined]
    with counting(site) as seen:
        assert client.get(url).status_code == 200, url
    return seen[0]


def smallest_and_largest(site: Site) -> dict[str, tuple[object, object]]:
    on_clk = (select(MessageList.message_id).join(MailingList)
              .where(MailingList.name == "linux-clk"))
    with site.app.extensions["listarchive.sessionmaker"]() as s:  # type: ignore[attr-defined]
        threads = s.execute(select(Thread.root_msgid).join(Message, Message.msgid ==
                                                           Thread.root_msgid)
                            .where(Thread.message_count > 0, Message.id.in_(on_clk))
                            .order_by(Thread.message_count, Thread.id)).scalars().all()
        sizes = (select(Patch.series_id, func.count().label("n")).where(Patch.kind == "patch")
                 .group_by(Patch.series_id).subquery())
        # Series with a cover letter (which costs its own few statements, once).
        series = s.execute(select(Series.id).join(sizes, sizes.c.series_id == Series.id)
                           .where(Series.cover_msgid != "")
                           .order_by(sizes.c.n, Series.id)).scalars().all()
        patches = s.execute(select(Patch.id).where(Patch.kind == "patch")
                            .order_by(Patch.file_count, Patch.id)).scalars().all()
        messages = s.execute(select(Message.msgid).where(Message.id.in_(on_clk))
                             .order_by(Message.raw_size, Message.id)).scalars().all()
    return {"thread": (threads[0], threads[-1]), "series": (series[0], series[-1]),
            "patch": (patches[0], patches[-1]), "message": (messages[0], messages[-1])}


def test_pages_send_a_bounded_number_of_statements(site: Site) -> None:
    if not site.has_corpus:
        pytest.skip("the shared corpora are not beside the project")
    ends = smallest_and_largest(site)
    for url in ("/", "/linux-clk/", "/linux-clk/?page=5", "/linux-clk/series/",
                "/linux-clk/queue/", "/linux-clk/new.atom", "/api/v1/series?list=linux-clk",
                "/api/1.2/patches/", "/api/1.2/series/"):
        assert statements(site, url) <= BOUND, url
    for url in ("/linux-clk/", "/linux-clk/?page=5", "/all/", "/all/?page=5"):
        assert (n := statements(site, url)) <= LIST_BOUND, (url, n)
    assert (n := statements(site, "/linux-clk/")) <= FIRST_PAGE_BOUND, n
    statements(site, "/linux-clk/new.atom")  # parses what the feed shows
    assert (n := statements(site, "/linux-clk/new.atom")) <= FEED_BOUND, n
    for small, large in [ends["thread"], ends["message"]]:
        for suffix in ("/", "/T/", "/t/", "/t.mbox.gz", "/t.atom", "/raw"):
            few = statements(site, f"/linux-clk/{quote_msgid(str(small))}{suffix}")
            many = statements(site, f"/linux-clk/{quote_msgid(str(large))}{suffix}")
            assert few <= BOUND and many <= BOUND and abs(many - few) <= 3, (suffix, few, many)
            if suffix in ("/T/", "/t/", "/t.mbox.gz"):
                assert few <= THREAD_BOUND and many <= THREAD_BOUND, (suffix, few, many)
            if suffix == "/":
                assert few <= MESSAGE_BOUND and many <= MESSAGE_BOUND, (suffix, few, many)
            if suffix == "/raw":
                assert few <= RAW_BOUND and many <= RAW_BOUND, (suffix, few, many)
    for kind in ("series", "patch"):
        small, large = ends[kind]
        few = statements(site, f"/{kind}/{small}/")
        many = statements(site, f"/{kind}/{large}/")
        assert few <= REVIEW_BOUND and many <= REVIEW_BOUND, (kind, few, many)
        assert abs(many - few) <= 3, (kind, few, many)
        if kind == "patch":
            assert few <= PATCH_BOUND and many <= PATCH_BOUND, (few, many)
    small, large = ends["series"]
    assert abs(statements(site, f"/api/v1/series/{large}")
               - statements(site, f"/api/v1/series/{small}")) <= 3


def test_a_first_view_of_a_message_reads_its_bytes_with_it(site: Site, monkeypatch) -> None:
    """A message page parses its mail once per process. The first view asks for the bytes in
    the statement that reads the message and its thread, so it sends no more statements than
    the views after it, and shows the same page."""
    if not site.has_corpus:
        pytest.skip("the shared corpora are not beside the project")
    small, large = smallest_and_largest(site)["message"]
    for msgid in (small, large):
        monkeypatch.setattr(bodies, "_PARSED_CACHE", bodies.ParsedCache(1 << 24))  # none parsed
        url = f"/linux-clk/{quote_msgid(str(msgid))}/"
        client = site.app.test_client()  # type: ignore[attr-defined]
        with counting(site) as first:
            page = client.get(url)
        with counting(site) as again:
            assert client.get(url).data == page.data
        assert page.status_code == 200 and bodies.is_parsed(str(msgid))
        assert first[0] == again[0] <= MESSAGE_BOUND, (msgid, first[0], again[0])


@pytest.mark.skipif(not backends.POSTGRESQL, reason="prepared statements are PostgreSQL's")
def test_a_server_plans_the_statements_of_a_page_once_per_connection(site: Site) -> None:
    """psycopg prepares a statement on its fifth run, and forgets every prepared statement at a
    ROLLBACK: reads must end their transaction without one, or each request is planned anew."""
    from listarchive.web import create_app

    app = create_app(site.settings)  # a pool of its own: the requests share one connection
    client = app.test_client()
    for _ in range(8):
        assert client.get("/hostile/").status_code == 200
    page = statements(Site(site.settings, app, site.has_corpus), "/hostile/")
    with app.extensions["listarchive.sessionmaker"]() as session:  # type: ignore[attr-defined]
        prepared = session.scalar(text("SELECT count(*) FROM pg_prepared_statements"))
    assert page >= 1 and prepared is not None and prepared >= page


SEARCH_BOUND = 1  # a result page: its records, with whether the list of the URL may be browsed


def test_a_result_page_reads_its_records_and_its_list_in_one_statement(review_world) -> None:
    """The list of a search URL is checked in the statement that reads the results' records;
    a URL whose list is unknown or restricted is still refused, before its query is read."""
    if not review_world.has_corpus:
        pytest.skip("the shared corpora are not beside the project")
    client = review_world.app.test_client()
    for url in ("/linux-clk/?q=clk", "/all/?q=clk", "/linux-clk/?q=clk&x=A"):
        with counting(review_world) as seen:
            assert client.get(url).status_code == 200, url
        assert seen[0] <= SEARCH_BOUND, (url, seen[0])
    assert "clk" in client.get("/linux-clk/?q=clk").get_data(as_text=True)
    for url in ("/secret/?q=clk", "/secret/?q=gizmo", "/nosuch/?q=clk", "/nosuch/?q=%22open",
                "/nosuch/?q=", "/api/v1/search?q=clk&list=secret",
                "/api/v1/search?q=%22open&list=nosuch"):
        assert client.get(url).status_code == 404, url
    assert client.get("/linux-clk/?q=%22open").status_code == 400
    assert client.get("/api/v1/search?q=%22open&list=linux-clk").status_code == 400
