"""Search through the site on a real index (the archive of ``test_web_review``: 1,500 linux-clk
messages with search enabled), with answers computed independently from the same mbox slice
by the standard library's mail parser:

- ``f:sboyd@kernel.org``: every message whose From address is that one (the clk maintainer).
- ``s:"video clock controller"``: subjects with those words in a row (the sc8180x series and
  its replies; the subject field is stemmed, so "controllers" matches too, as in the regex).
- ``dfn:drivers/clk/qcom/``: messages with a ``diff --git`` line under that directory, patches
  and review replies with an inline diff alike (one reply in the slice proposes a change to
  ``drivers/clk/qcom/common.c``).
- ``d:2025-06-20..2025-06-22``: Date headers from 20 June 00:00 UTC up to 23 June 00:00 (the end
  day is inclusive).
- OR / NOT: the unions and differences of those sets.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
import sys
import threading
from datetime import UTC, datetime
from email import message_from_bytes
from email.utils import parseaddr, parsedate_to_datetime
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import feedparser
import pytest
from mailfixtures import first_messages
from searchengines import ENGINES
from werkzeug.serving import make_server
from worlds import CORPUS, REVIEW_SLICE, ReviewWorld, review_world_on

from ingest.worker import run_ingest
from listarchive.archive import bodies
from listarchive.search.queryparser import parse_query
from listarchive.search.vocabulary import KNOWN_PREFIXES, STATES

DATA = Path(__file__).resolve().parent / "data"
B4 = shutil.which("b4") or str(Path(sys.executable).parent / "b4")
_facts: dict[str, list[dict[str, Any]]] = {}


@pytest.fixture(params=ENGINES)
def world(request: pytest.FixtureRequest, review_world: ReviewWorld,
          tmp_path_factory: pytest.TempPathFactory) -> ReviewWorld:
    """The review archive searched through the tantivy index it was built with, and through
    a Whoosh index of a copy of it."""
    if request.param == review_world.settings.search_engine:
        return review_world
    return review_world_on(review_world, str(request.param),
                           tmp_path_factory.mktemp(f"review-{request.param}"))


@pytest.fixture
def client(world: ReviewWorld) -> Any:
    return world.app.test_client()


def slice_facts(world: ReviewWorld) -> list[dict[str, Any]]:
    """Message-ID, sender, subject, UTC date and diffed paths of every slice message."""
    if not world.has_corpus:
        pytest.skip("the shared corpora are not beside the project")
    if "facts" in _facts:
        return _facts["facts"]
    out = []
    for chunk in re.split(rb"\n(?=From [^\n]*\n)", first_messages(CORPUS, REVIEW_SLICE)):
        msg = message_from_bytes(chunk.split(b"\n", 1)[1])
        msgid = re.sub(r"^\s*<|>\s*$", "", str(msg["Message-ID"] or ""))
        try:
            date = parsedate_to_datetime(str(msg["Date"])).astimezone(UTC).replace(tzinfo=None)
        except (TypeError, ValueError):
            date = None
        body = ""
        for part in msg.walk():
            if part.get_content_type() == "text/plain":
                payload = part.get_payload(decode=True)
                if isinstance(payload, bytes):
                    body += payload.decode("utf-8", "replace")
        subject = " ".join(str(msg["Subject"] or "").split())
        out.append({"msgid": msgid, "from": parseaddr(str(msg["From"] or ""))[1].lower(),
                    "subject": subject, "date": date,
                    "reply": bool(msg["In-Reply-To"]) and subject.lower().startswith("re:"),
                    "paths": re.findall(r"^diff --git a/(\S+)", body, re.M)})
    _facts["facts"] = out
    return out


def search_ids(client: Any, query: str, list_: str = "linux-clk") -> set[str]:
    """Every Message-ID the API returns for ``query``, following ``next``."""
    found: list[str] = []
    url: str | None = "/api/v1/search"
    params: dict[str, str] | None = {"q": query, "list": list_, "per_page": "200"}
    total = None
    while url is not None:
        r = client.get(url, query_string=params)
        assert r.status_code == 200, (query, r.get_data(as_text=True))
        obj = r.get_json()
        assert set(obj) == {"total", "results", "next"}
        total = obj["total"]
        found.extend(item["message_id"] for item in obj["results"])
        url, params = (None, None) if obj["next"] is None else (
            "/" + obj["next"].split("://", 1)[1].split("/", 1)[1], None)
    assert len(found) == total == len(set(found))
    return set(found)


def test_author_phrase_file_and_date_queries_know_their_answers(world, client):
    facts = slice_facts(world)
    by_sboyd = {f["msgid"] for f in facts if f["from"] == "sboyd@kernel.org"}
    assert len(by_sboyd) > 20
    assert search_ids(client, "f:sboyd@kernel.org") == by_sboyd
    phrase = {f["msgid"] for f in facts
              if re.search(r"\bvideo\s+clock\s+controller", f["subject"], re.I)}
    assert len(phrase) >= 4
    assert search_ids(client, 's:"video clock controller"') == phrase
    qcom = {f["msgid"] for f in facts if any(p.startswith("drivers/clk/qcom/") for p in f["paths"])}
    assert len(qcom) > 10 and any(f["reply"] for f in facts if f["msgid"] in qcom)
    assert search_ids(client, "dfn:drivers/clk/qcom/") == qcom
    start, end = datetime(2025, 6, 20), datetime(2025, 6, 23)
    dated = {f["msgid"] for f in facts if f["date"] is not None and start <= f["date"] < end}
    assert len(dated) > 20
    assert search_ids(client, "d:2025-06-20..2025-06-22") == dated
    assert search_ids(client, "dfn:drivers/clk/qcom/ OR f:sboyd@kernel.org") == qcom | by_sboyd
    assert search_ids(client, "d:2025-06-20..2025-06-22 NOT f:sboyd@kernel.org") == \
        dated - by_sboyd
    assert search_ids(client, "(dfn:drivers/clk/qcom/ OR s:\"video clock controller\") "
                              "-d:2025-06-20..2025-06-22") == (qcom | phrase) - dated


def test_search_page_snippets_escape_mail_and_mark_matches(world, client):
    run_ingest(world.settings, [str(DATA / "web-review-search-xss.eml")], "gizmo")
    text = client.get("/gizmo/?q=zebrafish").get_data(as_text=True)
    assert "<mark>zebrafish</mark>" in text
    assert "<script>" not in text and "<img" not in text and "<b>" not in text
    assert "&lt;script&gt;" in text
    # The row's subject, link and sender are the mail's, escaped (in both layouts).
    for layout in ("", "&t=1"):
        page = client.get(f"/gizmo/?q=zebrafish{layout}").get_data(as_text=True)
        assert "<script>" not in page and "<b>" not in page
        link, subject = re.findall(r'<a class="subject" href="([^"]+)">([^<]*)</a>', page)[0]
        assert unescape(subject) == "[PATCH] clk: zebrafish: <script>alert(1)</script> rate fix"
        assert unescape(link).startswith("/gizmo/zebrafish-xss@example.org/")
        assert 'Zed &lt;b&gt;Bold&lt;/b&gt;' in page
    unknown = client.get("/gizmo/?q=s:(unclosed")
    assert unknown.status_code == 400


def test_result_snippets_are_cut_from_the_index_not_from_raw_mail(world, client, monkeypatch):
    def unread(*args: object) -> dict[int, str]:
        raise AssertionError("result bodies read from the raw mail")

    monkeypatch.setattr(bodies, "body_texts", unread)
    text = client.get("/linux-clk/?q=s:%22video+clock+controller%22").get_data(as_text=True)
    assert text.count('<p class="snippet">') >= 4 and "<mark>" in text


def test_threads_mode_paging_atom_and_mbox(world, client):
    if not world.has_corpus:
        pytest.skip("the shared corpora are not beside the project")
    plain = client.get("/linux-clk/?q=f:sboyd@kernel.org").get_data(as_text=True)
    grouped = client.get("/linux-clk/?q=f:sboyd@kernel.org&t=1").get_data(as_text=True)
    rows = plain.count('<a class="subject"')
    groups = grouped.count('<a class="subject"')
    assert rows == 50 and 0 < groups < rows and "matches in this thread" in grouped
    assert 'rel="next"' in plain and "&amp;t=1&amp;page=2" in grouped
    second = client.get("/linux-clk/?q=f:sboyd@kernel.org&page=2").get_data(as_text=True)
    assert 'rel="prev"' in second and second.count('<a class="subject"') > 0
    feed = feedparser.parse(client.get("/linux-clk/?q=s:%22video+clock+controller%22&x=A").data)
    assert not feed.bozo and feed.feed.title.startswith("search:")
    facts = slice_facts(world)
    phrase = {f["msgid"] for f in facts
              if re.search(r"\bvideo\s+clock\s+controller", f["subject"], re.I)}
    assert len(feed.entries) == len(phrase)
    assert all(e.link.startswith("http://localhost/linux-clk/") for e in feed.entries)
    one = client.post("/linux-clk/?q=s:%22video+clock+controller%22+d:2025-07-02&x=m")
    assert one.headers["Content-Type"] == "application/gzip"
    assert "Content-Encoding" not in one.headers
    few = re.findall(rb"^Message-I[dD]: <([^>]+)>", gzip.decompress(one.data), re.M)
    whole = client.post("/linux-clk/?q=s:%22video+clock+controller%22+d:2025-07-02&x=m",
                        data={"t": "1"})
    many = re.findall(rb"^Message-I[dD]: <([^>]+)>", gzip.decompress(whole.data), re.M)
    assert few and set(few) < set(many)
    assert b"20250702-sc8180x-videocc-dt-v3-0-916d443d8a38@quicinc.com" in many


@pytest.mark.skipif(not Path(B4).exists(), reason="b4 is not installed")
def test_b4_finds_the_newer_revision_through_our_search(world, tmp_path):
    """``b4 mbox -c`` on the real v2 cover searches (POST ``/all/?x=m&t=1`` with
    ``nq:"change-id:..." AND d:DATE..``) for newer revisions and adds v3 (and v4) to its mbox."""
    if not world.has_corpus:
        pytest.skip("the shared corpora are not beside the project")
    server = make_server("127.0.0.1", 0, world.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    home = tmp_path / "home"
    home.mkdir()
    (tmp_path / "out").mkdir()
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
           "XDG_CACHE_HOME": str(home / ".cache"), "GIT_CONFIG_NOSYSTEM": "1"}
    site = f"http://127.0.0.1:{server.server_port}"
    for key, value in (("b4.midmask", f"{site}/all/%s"), ("b4.linkmask", f"{site}/r/%s"),
                       ("b4.searchmask", f"{site}/all/?x=m&t=1&q=%s")):
        subprocess.run(["git", "config", "--global", key, value], env=env, check=True)
    try:
        done = subprocess.run(
            [B4, "mbox", "-c", "-o", str(tmp_path / "out"),
             "20250701-sc8180x-videocc-dt-v2-0-b05db66cc1f6@quicinc.com"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    finally:
        server.shutdown()
        thread.join(5)
    assert done.returncode == 0, done.stderr + done.stdout
    mboxes = list((tmp_path / "out").glob("*.mbx"))
    assert mboxes, done.stderr
    text = b"".join(p.read_bytes() for p in mboxes)
    assert b"20250701-sc8180x-videocc-dt-v2-0-b05db66cc1f6@quicinc.com" in text
    assert b"20250702-sc8180x-videocc-dt-v3-0-916d443d8a38@quicinc.com" in text, done.stderr


# ---------------------------------------------------------------------------------------------
# Search you can learn on the page (engine-independent: the review archive as built)

@pytest.fixture
def site(review_world: ReviewWorld) -> Any:
    return review_world.app.test_client()


def test_help_page_shows_every_prefix_and_its_examples_run(site):
    page = site.get("/linux-clk/_/text/help/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert all(f"<code>{prefix}:</code>" in text for prefix in KNOWN_PREFIXES)
    assert "subsystem:common-clk-framework" in text and "COMMON CLK FRAMEWORK" in text
    assert all(f"<code>{state}</code>" in text for state in STATES)
    examples = [unescape(q) for q in re.findall(r'class="example" href="/linux-clk/\?q=([^"]+)"',
                                               text)]
    assert len(examples) > 30
    for href in examples:
        query = unquote_plus(href)
        parse_query(query)  # every example is valid
        assert site.get("/linux-clk/", query_string={"q": query}).status_code == 200, query
    assert site.get("/all/_/text/help/").status_code == 200
    assert site.get("/no-such-list/_/text/help/").status_code == 404


def test_every_search_box_links_the_help_and_the_home_page_searches_all_lists(site,
                                                                            review_world):
    home = site.get("/").get_data(as_text=True)
    assert '<form class="search" action="/all/"' in home and 'href="/all/_/text/help/"' in home
    series = review_world.series_id(review_world.gen_cover)
    for url, name in (("/linux-clk/", "linux-clk"), ("/gizmo/series/", "gizmo"),
                      (f"/series/{series}/", "gizmo"), ("/s/common-clk-framework/", "all"),
                      ("/linux-clk/?q=clk", "linux-clk")):
        text = site.get(url).get_data(as_text=True)
        form = re.search(r'<form class="search" action="/([^/"]+)/".*?</form>', text, re.S)
        assert form is not None and form.group(1) == name, url
        assert f'href="/{name}/_/text/help/"' in form.group(0), url


def test_series_list_pages_leave_the_search_box_empty(site):
    for url in ("/gizmo/series/", "/gizmo/series/?state=accepted"):
        text = site.get(url).get_data(as_text=True)
        assert re.search(r'<input type="search" name="q" value=""', text), url


def test_a_query_error_shows_where_it_fails_and_how_to_search(site):
    resp = site.get("/linux-clk/", query_string={"q": "clk s:(unclosed"})
    assert resp.status_code == 400
    text = resp.get_data(as_text=True)
    shown = re.search(r'<pre class="query-error"[^>]*>(.*?)</pre>', text, re.S)
    assert shown is not None
    line, caret = shown.group(1).split("\n")
    assert unescape(line) == "clk s:(unclosed"
    assert caret.index("<span") == 4 and caret.startswith("    ")  # under "s:("
    assert "unbalanced parenthesis" in text and 'href="/linux-clk/_/text/help/"' in text
    assert 'value="clk s:(unclosed"' in text  # the box keeps the query to fix


def test_a_search_without_matches_offers_no_empty_mbox(site):
    text = site.get("/linux-clk/", query_string={"q": "zqxjkvbw"}).get_data(as_text=True)
    assert "No message on linux-clk matches" in text
    assert "x=m" not in text and "mbox" not in text
    assert 'href="/all/?q=zqxjkvbw"' in text and 'href="/linux-clk/_/text/help/"' in text
    some = site.get("/linux-clk/", query_string={"q": "clk"}).get_data(as_text=True)
    assert "download matches as mbox.gz" in some
