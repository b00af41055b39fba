"""The archive site against a real slice of linux-clk plus hand-made hostile and odd mail."""

from __future__ import annotations

import gzip
import json
import re
from email import message_from_bytes
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import feedparser
import pytest
from mailfixtures import ODD_IDS, Site
from sqlalchemy import select

from ingest.sources import open_source
from listarchive.access.visibility import Viewer, visible_list, visible_message
from listarchive.archive import rawstore
from listarchive.archive.db import make_engine, make_sessionmaker
from listarchive.archive.models import MailingList, Message, MessageList, Thread
from listarchive.mail.msgids import quote_msgid

SECRET = "secret-report@example.org"


def stored(site: Site, msgid: str) -> bytes:
    with make_sessionmaker(make_engine(site.settings))() as s:
        blob = s.scalar(select(Message.raw).where(Message.msgid == msgid))
        assert blob is not None
        return rawstore.unpack(blob)


def big_thread(site: Site) -> tuple[str, int]:
    if not site.has_corpus:
        pytest.skip("the shared corpora are not beside the project")
    with make_sessionmaker(make_engine(site.settings))() as s:
        row = s.execute(select(Thread.root_msgid, Thread.message_count)
                        .order_by(Thread.message_count.desc())).first()
        assert row is not None
        return row[0], row[1]


def odd_ids(site: Site) -> list[str]:
    """The ids of list ``odd`` as stored, by date (the non-ASCII one as ingest keeps it)."""
    with make_sessionmaker(make_engine(site.settings))() as s:
        ids = list(s.scalars(select(Message.msgid).where(Message.msgid.in_(
            select(Message.msgid).join(Message.memberships).join(MessageList.mailing_list)
            .where(MailingList.name == "odd"))).order_by(Message.date)))
    assert len(ids) == len(ODD_IDS)
    assert any(not m.isascii() for m in ids)
    return ids


def url(list_: str, msgid: str, suffix: str = "/") -> str:
    return f"/{list_}/{quote_msgid(msgid)}{suffix}"


# --- pages -------------------------------------------------------------------------------------


def test_directory_lists_public_lists_with_counts_and_hides_restricted(client):
    r = client.get("/")
    assert r.status_code == 200
    text = r.get_data(as_text=True)
    assert 'href="/linux-clk/"' in text and 'href="/odd/"' in text
    assert "secret" not in text
    assert "UTC" in text


def test_list_index_pages_newest_activity_first(site, client):
    if not site.has_corpus:
        pytest.skip("corpus missing")
    first = client.get("/linux-clk/").get_data(as_text=True)
    second = client.get("/linux-clk/?page=2").get_data(as_text=True)
    dates = re.findall(r'<span class="date">(\d{4}-\d\d-\d\d \d\d:\d\d) UTC', first + second)
    assert len(dates) == 100
    assert dates == sorted(dates, reverse=True)
    assert 'rel="next"' in first and 'rel="prev"' in second
    assert "messages in" in first
    # Five senders are named, the others counted: "A, B, C, D, E and 3 more".
    named = re.findall(r'message(?:s)? · ([^<]*?)(?: and (\d+) more)?</div>', first + second)
    assert len(named) == 100 and all(len(who.split(", ")) <= 5 for who, _more in named)
    assert any(more and len(who.split(", ")) == 5 for who, more in named)


@pytest.mark.parametrize("name", ["linux-clk", "all"])
def test_older_and_newer_links_walk_every_thread_once(site, client, name):
    """Following "older" from the first page to the last shows every thread of the list once,
    in order, and "newer" from the last page walks back through the same pages."""
    if not site.has_corpus:
        pytest.skip("corpus missing")
    link = re.compile(r'<a href="(\?[no]=[^"]+)" rel="(next|prev)">')
    roots = re.compile(r'<a class="subject" href="/[^/]+/([^"]+)/T/#u">')
    pages: list[list[str]] = []
    path = f"/{name}/"
    while True:
        html = client.get(path).get_data(as_text=True)
        pages.append(roots.findall(html))
        older = [href for href, rel in link.findall(html) if rel == "next"]
        if not older:
            break
        path = f"/{name}/" + older[0].replace("&amp;", "&")
    shown = [root for page in pages for root in page]
    assert len(pages) > 3 and len(shown) == len(set(shown))
    total = client.get("/api/v1/lists").get_json()["results"]
    if name != "all":
        assert len(shown) == next(x["threads"] for x in total if x["name"] == name)
    back: list[list[str]] = []
    while True:
        back.append(roots.findall(html))
        newer = [href for href, rel in link.findall(html) if rel == "prev"]
        if not newer:
            break
        html = client.get(f"/{name}/" + newer[0].replace("&amp;", "&")).get_data(as_text=True)
    assert back[::-1] == pages
    assert client.get(f"/{name}/?o=20250101-x").status_code == 400
    assert client.get(f"/{name}/?page=101").status_code == 400


@pytest.mark.parametrize("path,code", [
    ("/linux-clk/?page=0", 400), ("/linux-clk/?page=-1", 400), ("/linux-clk/?page=abc", 400),
    ("/linux-clk/?page=99999999999", 400), ("/linux-clk/?t=yesterday", 400),
    ("/no-such-list/", 404), ("/Bad%20Name/", 400), ("/secret/", 404),
    ("/linux-clk/no-such-id@example.org/", 404), ("/linux-clk/" + "x" * 600 + "@y/", 400),
])
def test_bad_parameters_get_a_readable_4xx(client, path, code):
    r = client.get(path)
    assert r.status_code == code
    assert "<h1>" in r.get_data(as_text=True)


def test_unknown_message_404_offers_a_search(client):
    r = client.get("/linux-clk/nope@example.org/")
    assert r.status_code == 404
    text = r.get_data(as_text=True)
    assert "?q=" in text and "nope@example.org" in text


def test_message_page_shows_headers_body_thread_and_reply_line(site, client):
    root, count = big_thread(site)
    with make_sessionmaker(make_engine(site.settings))() as s:
        reply = s.scalar(select(Message).where(Message.parent_msgid == root))
        assert reply is not None
    r = client.get(url("linux-clk", reply.msgid))
    assert r.status_code == 200
    text = r.get_data(as_text=True)
    assert 'id="u"' in text  # this message marked in the overview
    assert f"Thread overview ({count} messages)" in text
    assert "git send-email" in text and "--in-reply-to=" in text and reply.msgid in text
    assert "mailto:" in text and "In-Reply-To=" in text
    assert 'rel="prev"' in text and ">parent</a>" in text
    assert r.headers["ETag"] and r.headers["Last-Modified"]
    assert "script-src" not in r.headers["Content-Security-Policy"]
    assert "default-src 'none'" in r.headers["Content-Security-Policy"]


def test_thread_flat_and_nested_show_every_message(site, client):
    root, count = big_thread(site)
    for suffix in ("/T/", "/t/"):
        text = client.get(url("linux-clk", root, suffix)).get_data(as_text=True)
        assert text.count('<article class="message') == count


def test_odd_message_ids_round_trip_through_urls(site, client):
    for msgid in odd_ids(site):
        r = client.get(url("odd", msgid))
        assert r.status_code == 200, msgid
        assert msgid.replace("&", "&amp;") in r.get_data(as_text=True)
        raw = client.get(url("odd", msgid, "/raw"))
        assert raw.status_code == 200 and b"of the odd thread" in raw.data
        if msgid.isascii():
            assert f"<{msgid}>".encode() in raw.data
        api = client.get("/api/v1/messages/" + quote_msgid(msgid))
        assert api.get_json()["message_id"] == msgid


@pytest.mark.parametrize("encoded", [
    "odd%2Fslash%2Bplus%40example.org", "odd%2fslash+plus@example.org",
    "odd/slash+plus@example.org",  # literal slash: found by matching the suffix from the end
])
def test_message_ids_accept_every_percent_encoding(client, encoded):
    r = client.get(f"/odd/{encoded}/")
    assert r.status_code == 200
    assert "Message 0 of the odd thread" in r.get_data(as_text=True)


def test_id_that_looks_like_a_suffix_is_not_split(client):
    r = client.get("/odd/ends%2FT@example.org/")
    assert r.status_code == 200 and "Message 3 of the odd thread" in r.get_data(as_text=True)
    r = client.get("/odd/2024%2Fraw@example.org/raw")
    assert r.status_code == 200 and b"Message 4 of the odd thread" in r.data


# --- redirects ---------------------------------------------------------------------------------


def test_r_and_bare_message_urls_redirect_with_absolute_location(client):
    msgid = ODD_IDS[0]
    for path, expect in [(f"/r/{quote_msgid(msgid)}", url("odd", msgid)),
                         (url("odd", msgid, ""), url("odd", msgid)),
                         (url("all", msgid, ""), url("all", msgid)),
                         (url("odd", msgid, "/T"), url("odd", msgid, "/T/")),
                         (url("hostile", msgid), url("odd", msgid))]:  # archived elsewhere
        for method in ("GET", "HEAD"):
            r = client.open(path, method=method)
            assert r.status_code in (301, 302), path
            assert r.headers["Location"] == "http://localhost" + expect


def test_r_unknown_is_404(client):
    assert client.get("/r/unknown@example.org").status_code == 404


# --- downloads ---------------------------------------------------------------------------------


def test_raw_is_the_stored_bytes(site, client):
    msgid = odd_ids(site)[2]
    r = client.get(url("odd", msgid, "/raw"))
    assert r.data == stored(site, msgid)
    assert r.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["ETag"].strip('"') == rawstore.sha256(r.data)


def test_thread_mbox_gz_unpacks_to_the_stored_messages(site, client, tmp_path):
    r = client.get(url("odd", ODD_IDS[1], "/t.mbox.gz"))
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/gzip"
    assert "Content-Encoding" not in r.headers
    mbox = tmp_path / "t.mbox"
    mbox.write_bytes(gzip.decompress(r.data))
    assert b"\n>From the start of a line" in mbox.read_bytes()  # mboxrd quoting
    got = [m.data for m in open_source(str(mbox)).read()]
    assert sorted(got) == sorted(stored(site, m) for m in odd_ids(site))


def test_real_thread_mbox_round_trips(site, client, tmp_path):
    root, count = big_thread(site)
    r = client.get(url("linux-clk", root, "/t.mbox.gz"))
    mbox = tmp_path / "t.mbox"
    mbox.write_bytes(gzip.decompress(r.data))
    got = [m.data for m in open_source(str(mbox)).read()]
    assert len(got) == count
    ids = [message_from_bytes(g)["Message-ID"].strip().strip("<>") for g in got]
    assert all(g == stored(site, i) for g, i in zip(got, ids, strict=True))


def test_attachment_download_is_a_plain_file(client):
    page = client.get(url("hostile", "xss-attachment@example.org")).get_data(as_text=True)
    links = re.findall(r'href="(/hostile/xss-attachment@example.org/\d+-[^"]*)"', page)
    assert len(links) == 2
    for link in links:
        r = client.get(link.replace("&amp;", "&"))
        assert r.status_code == 200
        assert r.headers["Content-Type"] == "application/octet-stream"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        disposition = r.headers["Content-Disposition"]
        assert disposition.startswith("attachment; filename=")
        assert "\r" not in disposition and "\n" not in disposition and "/" not in disposition
    assert client.get(url("hostile", "xss-attachment@example.org", "/9-x")).status_code == 404


@pytest.mark.parametrize("suffix", ["/", "/raw", "/t.mbox.gz", "/1-x.html", "/T/", "/t/"])
def test_etag_gives_304_and_head_is_empty(client, suffix):
    path = url("hostile", "xss-attachment@example.org", suffix)
    first = client.get(path)
    assert first.status_code == 200
    again = client.get(path, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Cache-Control"] == first.headers["Cache-Control"]
    head = client.head(path)
    assert head.status_code == 200 and head.data == b""
    assert head.headers["ETag"] == first.headers["ETag"]
    # a client that keeps only the date asks with If-Modified-Since
    dated = client.get(path, headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert dated.status_code == 304


def test_anonymous_answers_may_be_kept_by_a_shared_cache(client):
    """What an anonymous reader gets is public: a reverse proxy may keep a raw message for a
    day and a page for a minute; every answer varies by cookie, so a signed-in reader's never
    comes from there."""
    raw = client.get(url("hostile", "xss-attachment@example.org", "/raw"))
    assert raw.cache_control.public and raw.cache_control.max_age == 86400
    for suffix in ("/", "/T/", "/t.mbox.gz"):
        page = client.get(url("hostile", "xss-attachment@example.org", suffix))
        assert page.cache_control.public and page.cache_control.max_age == 60, suffix
        assert "Cookie" in page.vary and "Set-Cookie" not in page.headers, suffix
    stale = client.get(url("hostile", "xss-attachment@example.org", "/"),
                       headers={"If-None-Match": '"an-older-version"'})
    assert stale.status_code == 200


# --- feeds -------------------------------------------------------------------------------------


def test_new_atom_parses_with_entries_ids_and_links(site, client):
    name = "linux-clk" if site.has_corpus else "odd"
    r = client.get(f"/{name}/new.atom")
    assert r.headers["Content-Type"].startswith("application/atom+xml")
    feed = feedparser.parse(r.data)
    assert not feed.bozo, feed.get("bozo_exception")
    assert len(feed.entries) == (25 if site.has_corpus else 5)
    for entry in feed.entries:
        assert entry.id.startswith(f"http://localhost/{name}/")
        assert entry.link == entry.id and entry.title
    dates = [e.updated_parsed for e in feed.entries]
    assert dates == sorted(dates, reverse=True)
    # A feed reader polling with the tag it holds gets a 304 while nothing new arrived.
    again = client.get(f"/{name}/new.atom", headers={"If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304 and not again.data
    assert client.get(f"/{name}/new.atom", headers={"If-None-Match": '"other"'}).status_code == 200


@pytest.mark.parametrize("name", ["linux-clk", "all", "odd"])
def test_new_atom_holds_the_newest_visible_messages_of_the_list(site, client, name):
    """The feed reads the list thread by thread from its newest activity down; it must name
    exactly the messages a scan of every message of the list finds newest (a thread holding
    many of them, restricted lists in "all", ties broken the same way)."""
    if name == "linux-clk" and not site.has_corpus:
        pytest.skip("the linux-clk corpus is not here")
    anonymous = Viewer()
    query = (select(Message.msgid).join(MessageList, MessageList.message_id == Message.id)
             .join(MailingList, MailingList.id == MessageList.list_id)
             .where(visible_message(anonymous), visible_list(anonymous))
             .group_by(Message.id, Message.msgid, Message.sort_date)
             .order_by(Message.sort_date.desc().nulls_last(), Message.id.desc()).limit(25))
    if name != "all":
        query = query.where(MailingList.name == name)
    with site.app.extensions["listarchive.sessionmaker"]() as s:
        newest = list(s.scalars(query))
    feed = feedparser.parse(client.get(f"/{name}/new.atom").data)
    assert [e.id for e in feed.entries] == ["http://localhost" + url(name, m) for m in newest]
    assert SECRET not in newest


def test_thread_atom_has_every_visible_message(site, client):
    feed = feedparser.parse(client.get(url("odd", ODD_IDS[0], "/t.atom")).data)
    assert not feed.bozo
    assert {e.id for e in feed.entries} == {"http://localhost" + url("odd", m)
                                            for m in odd_ids(site)}


def test_hostile_feed_is_well_formed(client):
    feed = feedparser.parse(client.get("/hostile/new.atom").data)
    assert not feed.bozo and len(feed.entries) == 5


# --- JSON API ----------------------------------------------------------------------------------


def test_api_message_object_is_exactly_the_contract(client):
    obj = client.get("/api/v1/messages/" + quote_msgid(ODD_IDS[1])).get_json()
    assert list(obj) == ["message_id", "subject", "from", "date", "lists", "in_reply_to",
                         "thread", "patch", "series"]
    assert obj == {"message_id": ODD_IDS[1], "subject": "Re: ids with odd characters",
                   "from": {"name": "Odd Sender", "email": "odd@example.org"},
                   "date": "2024-01-02T01:00:00Z", "lists": ["odd"],
                   "in_reply_to": ODD_IDS[0], "thread": ODD_IDS[0], "patch": None,
                   "series": None}


def test_api_thread_is_a_tree(client):
    obj = client.get("/api/v1/threads/" + quote_msgid(ODD_IDS[4])).get_json()
    assert obj["thread"] == ODD_IDS[0] and obj["message_count"] == 5
    [root] = obj["messages"]
    assert root["message_id"] == ODD_IDS[0]
    assert [r["message_id"] for r in root["replies"]] == [ODD_IDS[1], ODD_IDS[3]]
    assert root["replies"][1]["replies"][0]["message_id"] == ODD_IDS[4]


def test_api_lists_paged_with_next(client):
    first = client.get("/api/v1/lists?per_page=2").get_json()
    assert len(first["results"]) == 2 and first["next"]
    names = [r["name"] for r in first["results"]]
    nxt = client.get(first["next"].replace("http://localhost", "")).get_json()
    names += [r["name"] for r in nxt["results"]]
    assert "secret" not in names and {"hostile", "odd"} <= set(names)
    assert client.get("/api/v1/lists?per_page=500").status_code == 400


# --- restricted lists --------------------------------------------------------------------------


@pytest.mark.parametrize("path", [
    url("secret", SECRET), url("all", SECRET), url("odd", SECRET), url("secret", SECRET, "/raw"),
    url("all", SECRET, "/raw"), url("all", SECRET, "/t.mbox.gz"), f"/r/{SECRET}",
    f"/api/v1/messages/{SECRET}", f"/api/v1/threads/{SECRET}", "/secret/new.atom",
])
def test_restricted_message_answers_like_an_unknown_one(client, path):
    assert client.get(path).status_code == 404


@pytest.mark.parametrize("name", ["secret", "no-such-list"])
@pytest.mark.parametrize("suffix", ["/", "/T/", "/t.mbox.gz", "/raw"])
def test_a_public_message_under_a_list_one_may_not_browse_is_not_found(client, name, suffix):
    """The list of a message URL is checked in the statement that finds the message: a list
    that is restricted or unknown answers 404, never the message nor a redirect to it."""
    resp = client.get(url(name, ODD_IDS[0], suffix))
    assert resp.status_code == 404 and b"no list named" in resp.data
    # A Message-ID that cannot be one (a control character): 400, but the list is named first.
    assert client.get(f"/{name}/a%01b@example.org/").status_code == 404
    assert client.get("/odd/a%01b@example.org/").status_code == 400


def test_restricted_reply_is_left_out_of_public_thread(client):
    for suffix in ("/", "/T/", "/t.atom"):
        text = client.get(url("odd", ODD_IDS[0], suffix)).get_data(as_text=True)
        assert "secret-report" not in text and "embargoed" not in text
    data = gzip.decompress(client.get(url("all", ODD_IDS[0], "/t.mbox.gz")).data)
    assert b"secret-report" not in data
    thread = client.get("/api/v1/threads/" + quote_msgid(ODD_IDS[0])).get_json()
    assert "secret-report" not in json.dumps(thread)


# --- search wiring -----------------------------------------------------------------------------


def test_search_without_engine_or_index_is_a_clear_503(client):
    r = client.get("/linux-clk/?q=clk")
    assert r.status_code == 503 and "search unavailable" in r.get_data(as_text=True)
    assert client.post("/linux-clk/?q=clk&x=m").status_code == 503
    assert client.get("/linux-clk/?q=clk&x=zzz").status_code == 400
    assert client.get("/linux-clk/?q=clk&x=m").status_code == 405


# --- hostile input -----------------------------------------------------------------------------

HOSTILE_IDS = ["xss-body@example.org", "xss-headers@example.org", "xss-attachment@example.org",
               "xss-html-only@example.org", "x\"onmouseover=alert(1)'javascript:alert(2)&amp;"
               "@evil.example"]


class _Markup(HTMLParser):
    """Collects what a browser would treat as active: elements and attributes, not text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "img", "svg", "iframe", "style", "object", "embed", "base"):
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"{tag} {name}=")
            if name in ("href", "src", "action") and value and not re.match(
                    r"^(https?://|/|\.\./|\?|#|mailto:)", value.strip()):
                self.problems.append(f"{tag} {name}={value!r}")


def active_markup(text: str) -> list[str]:
    parser = _Markup()
    parser.feed(text)
    return parser.problems


def test_xss_corpus_is_escaped_everywhere(client):
    paths = ["/", "/hostile/", "/all/", "/hostile/new.atom"]
    for msgid in HOSTILE_IDS:
        paths += [url("hostile", msgid, s) for s in ("/", "/T/", "/t/", "/t.atom")]
        paths.append("/api/v1/messages/" + quote_msgid(msgid))
    for path in paths:
        r = client.get(path)
        assert r.status_code == 200, path
        text = r.get_data(as_text=True)
        if r.content_type.startswith("text/html"):
            assert active_markup(text) == [], path
        else:  # Atom and JSON: no raw markup at all survives
            assert "<script" not in text and "<img" not in text, path
    body = client.get(url("hostile", HOSTILE_IDS[0])).get_data(as_text=True)
    assert "&lt;script&gt;alert(&#34;body&#34;)&lt;/script&gt;" in body
    assert '<a href="https://example.org/docs?a=1&amp;b=2" rel="nofollow noopener">' in body
    assert "<details" in body and 'class="sig"' in body


NASTY = ["", "%", "%%", "%ZZ", "%00", "%0d%0aX-Injected:%201", "..", "../../etc/passwd", "%2e%2e",
         "<script>", "%3Cscript%3E", "a" * 3000, "%C3%28", "%FF%FE", "\u202e", "😀", "-1", "0",
         "99999999999999999999", "1e9", "null", "' OR 1=1 --", "a@b/../c", "@", "%40", "/",
         "%2F%2F", "?x", "#", "\\", "%5C"]
ROUTES = ["/{v}/", "/linux-clk/{v}/", "/linux-clk/{v}", "/linux-clk/{v}/T/", "/linux-clk/{v}/t/",
          "/linux-clk/{v}/raw", "/linux-clk/{v}/t.mbox.gz", "/linux-clk/{v}/t.atom",
          "/linux-clk/{v}/1-{v}", "/r/{v}", "/api/v1/messages/{v}", "/api/v1/threads/{v}",
          "/linux-clk/?page={v}", "/linux-clk/?t={v}", "/linux-clk/?q={v}",
          "/linux-clk/?q={v}&x=A", "/api/v1/lists?page={v}&per_page={v}", "/{v}/new.atom",
          "/odd/odd%2Fslash+plus@example.org/{v}", "/all/?page={v}"]


def test_hostile_parameters_never_500(client):
    for route in ROUTES:
        for value in NASTY:
            for enc in {value, quote(value, safe="%/@?#")}:
                path = route.format(v=enc)
                for method in ("GET", "HEAD"):
                    r = client.open(path, method=method)
                    assert r.status_code < 500 or r.status_code == 503, (method, path)
        r = client.post(route.format(v="x") + ("&" if "?" in route else "?") + "q=a&x=m")
        assert r.status_code < 500 or r.status_code == 503, route


def test_served_pages_carry_security_headers(client):
    for path in ["/", "/odd/", url("odd", ODD_IDS[0]), "/api/v1/lists", "/nope/"]:
        r = client.get(path)
        assert "default-src 'none'" in r.headers["Content-Security-Policy"]
        assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_templates_have_no_inline_script_or_style():
    for path in (Path(__file__).resolve().parents[1] / "templates").glob("*.html"):
        text = path.read_text()
        assert "<script" not in text and "<style" not in text and " style=" not in text, path
