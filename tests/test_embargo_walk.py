"""Every door of the site, walked as three people, around one embargoed thread.

The archive: the first 400 messages of linux-clk (``../shared/corpora``) plus a security report
sent to the same list (``data/embargo-*.eml``): a ``[SECURITY]`` cover letter with two patches,
a review from someone outside the list, and a reply from the public list. The ingest rule
embargoes the thread; ``listarchive restrict --allow group:clk-security`` lets one member in.

Every GET route of ``app.url_map`` is filled with real ids (Message-IDs, series, patches, covers,
people, subsystem slugs, list names, search queries for the report's words) and fetched as an
anonymous visitor, as a signed-in user without rights and as the member. The first two must
find none of the report's distinctive strings in any body (gzip answers unpacked), must get the
same status and body for a hidden id as for an unknown one, and totals of 0 for its words; the
member must find all of them. After ``listarchive disclose`` everyone finds them at the same
URLs, with the disclosure note where the thread is shown.
"""

from __future__ import annotations

import gzip
import html
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import backends
import mailfixtures
import pytest
from mailfixtures import NO_LIMITS
from markupsafe import escape
from sqlalchemy import select

from ingest.worker import run_ingest
from listarchive.access import accounts, embargo
from listarchive.access.audit import audit_log
from listarchive.archive.db import make_engine, make_sessionmaker
from listarchive.archive.models import Patch, PatchSubsystem, Person, Subsystem
from listarchive.mail.msgids import quote_msgid
from listarchive.search.indexer import apply_embargo_change
from listarchive.settings import Settings, from_mapping
from listarchive.web.charts import CHARTS

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT.parent / "shared" / "corpora"
CORPUS = CORPORA / "lore" / "linux-clk-last10000.mboxrd.gz"
MAINTAINERS = CORPORA / "kernel" / "MAINTAINERS"
DATA = Path(__file__).resolve().parent / "data"
SLICE = 400
FIXTURES = ["embargo-report-cover.eml", "embargo-report-patch1.eml", "embargo-report-patch2.eml",
            "embargo-reply-outsider.eml", "embargo-reply-public.eml"]
COVER = "embargo-cover-7f3a@secure-example.net"
MSGIDS = [COVER, "embargo-patch1-7f3a@secure-example.net",
          "embargo-patch2-7f3a@secure-example.net",
          "embargo-outsider-reply-7f3a@elsewhere.example",
          "embargo-public-reply-7f3a@public.example"]
UNKNOWN_MSGID = "never-archived-0000@nowhere.example"
UNKNOWN_ID = 987654321
NOTHING = "xyzzynothingmatches"  # a search with no hit, to compare result pages with
# What the report is made of: subject words, senders, a body phrase, a patch line, the ids.
SECRETS = ["zanzibar", "marmalade overflow", "quentin.reporter@secure-example.net",
           "Quentin Reporter", "olga.outsider@elsewhere.example", "Olga Outsider",
           "pelican reproducer", "quokkadivider_clamp", "flamingo boards", "Pablo Public",
           *(m.split("@")[0] for m in MSGIDS)]
QUERIES = ["zanzibar", "s:zanzibar", "f:quentin.reporter@secure-example.net",
           '"marmalade overflow"', "dfb:quokkadivider_clamp", "dfn:zanzibar.c", "b:pelican",
           f"m:{COVER}"]
SUFFIXES = ["", "/", "/T/", "/t/", "/raw", "/t.mbox.gz", "/t.atom", "/T", "/t"]


def first_messages(count: int) -> bytes:
    return mailfixtures.first_messages(CORPUS, count)


@dataclass(frozen=True)
class World:
    settings: Settings
    app: Any
    users: dict[str, int]  # outsider, member -> user id
    patches: tuple[int, ...]  # pks of the report's patches
    cover: int
    series: tuple[int, ...]
    people: tuple[int, ...]
    slugs: tuple[str, ...]


def _build(base: Path) -> World:
    settings = from_mapping({
        "limits": NO_LIMITS,
        "storage": {"data_dir": str(base / "instance")},
        "search": {"enabled": True},
        "lists": [{"name": "linux-clk", "description": "Common clk framework",
                   "address": "linux-clk@vger.kernel.org"}],
    }, base=base)
    mbox = base / "slice.mbox"
    mbox.write_bytes(first_messages(SLICE))
    run_ingest(settings, [str(mbox)], "linux-clk")
    if MAINTAINERS.is_file():
        from ingest.subsystems import import_maintainers

        import_maintainers(settings, MAINTAINERS)
    run_ingest(settings, [str(DATA / name) for name in FIXTURES], "linux-clk")
    sessions = make_sessionmaker(make_engine(settings))
    with sessions.begin() as s:
        outsider = accounts.create_user(s, "outsider", "outsider@example.org", "correct horse")
        member = accounts.create_user(s, "member", "member@example.org", "battery staple")
        admin = accounts.create_user(s, "root", "root@example.org", "admin pass", is_admin=True)
        embargo.add_to_group(s, "clk-security", member)
        users = {"outsider": outsider.id, "member": member.id, "admin": admin.id}
    apply_embargo_change(settings, lambda s: embargo.restrict(s, COVER, None,
                                                       allow=["group:clk-security"]))
    with sessions() as s:
        rows = s.execute(select(Patch.id, Patch.kind, Patch.series_id)
                         .where(Patch.msgid.in_(MSGIDS))).all()
        people = tuple(s.scalars(select(Person.id).where(Person.email.in_(
            ["quentin.reporter@secure-example.net", "olga.outsider@elsewhere.example",
             "pablo.public@public.example"]))))
        slugs = tuple(sorted(set(s.scalars(
            select(Subsystem.slug).join(PatchSubsystem, PatchSubsystem.subsystem_id == Subsystem.id)
            .where(PatchSubsystem.patch_id.in_([r[0] for r in rows]))))))
    from listarchive.web import create_app

    return World(settings, create_app(settings), users,
                 tuple(pk for pk, kind, _ in rows if kind == "patch"),
                 next(pk for pk, kind, _ in rows if kind == "cover"),
                 tuple(sorted({sid for _, _, sid in rows if sid is not None})), people, slugs)


@pytest.fixture(scope="module")
@backends.archive_fixture
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    if not CORPUS.is_file():
        pytest.skip("the shared corpora are not beside the project")
    yield _build(tmp_path_factory.mktemp("embargo-walk"))


def client_as(world: World, who: str) -> Any:
    client = world.app.test_client()
    if who != "anonymous":
        with client.session_transaction() as sess:
            sess["user_id"] = world.users[who]
    return client


# --- the walk ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Visit:
    method: str
    url: str
    ids: tuple[str, ...]  # the hidden ids the URL itself carries (echoed by a 404 page)
    unknown: str  # the same URL with an unknown id instead, '' when it has none
    query: str = ""  # the search it runs (echoed by the result page)


def _int_urls(rule: str, arg: str, values: tuple[int, ...]) -> Iterator[Visit]:
    for value in values:
        yield Visit("GET", rule.replace(f"<{arg}>", str(value)), (),
                    rule.replace(f"<{arg}>", str(UNKNOWN_ID)))


def visits(world: World) -> list[Visit]:
    """Every GET route filled with the report's ids, plus list pages, searches and POST x=m."""
    out: list[Visit] = []
    ints = {"patch_id": world.patches + (world.cover,), "series_id": world.series,
            "cover_id": (world.cover,), "person_id": world.people,
            "user_id": tuple(world.users.values())}
    covered: set[str] = set()
    for rule in world.app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:[a-z]+(?:\([^)]*\))?:)?([a-z_]+)>", r"<\1>", rule.rule)
        args = sorted(rule.arguments)
        covered.add(rule.endpoint)
        if not args:
            out.append(Visit("GET", path, (), ""))
            continue
        if args == ["name"]:
            out.extend(Visit("GET", path.replace("<name>", n), (), "") for n in ("linux-clk",
                                                                                   "all"))
        elif args == ["key"]:
            out.append(Visit("GET", path.replace("<key>", "linux-clk"), (), ""))
        elif args == ["slug"]:
            out.extend(Visit("GET", path.replace("<slug>", s), (), "") for s in world.slugs)
        elif args in (["chart", "name"], ["chart", "slug"]):  # the activity charts
            fills = ("linux-clk", "all") if args[1] == "name" else world.slugs
            out.extend(Visit("GET", path.replace(f"<{args[1]}>", f).replace("<chart>", c), (), "")
                       for f in fills for c in CHARTS)
        elif len(args) == 1 and args[0] in ints:
            out.extend(_int_urls(path, args[0], ints[args[0]]))
        elif args == ["endpoint"]:  # endpoints the Patchwork API does not have: a JSON 404
            out.append(Visit("GET", path.replace("<endpoint>", "1/"), (), ""))
        elif args == ["check_id", "patch_id"]:  # a check of a hidden patch (the first ids)
            out.extend(_int_urls(path.replace("<check_id>", "1"), "patch_id", ints["patch_id"]))
        elif args in (["raw"], ["rest"], ["name", "rest"]):
            arg = args[-1]
            for name in ("linux-clk", "all"):
                base = path.replace("<name>", name)
                for msgid in MSGIDS:
                    for suffix in SUFFIXES if arg == "rest" else ("",):
                        url = base.replace(f"<{arg}>", quote_msgid(msgid) + suffix)
                        unknown = base.replace(f"<{arg}>", quote_msgid(UNKNOWN_MSGID) + suffix)
                        out.append(Visit("GET", url, (msgid,), unknown))
        else:
            raise AssertionError(f"the walk does not know how to fill {rule.rule}")
    for q in QUERIES:
        searches = [f"/{name}/?q={{}}{mode}" for name in ("linux-clk", "all")
                    for mode in ("", "&t=1", "&x=A")]
        searches += ["/api/v1/search?q={}", "/api/1.2/patches/?q={}"]
        out.extend(Visit("GET", url.format(quote(q)), (), url.format(quote(NOTHING)), q)
                   for url in searches)
        out.extend(Visit("POST", f"/{name}/?q={quote(q)}{mode}", (), "", q)
                   for name in ("linux-clk", "all") for mode in ("&x=m", "&x=m&t=1"))
    for extra, echo in (("/linux-clk/series/?submitter=quentin.reporter@secure-example.net",
                         "quentin.reporter@secure-example.net"),
                        ("/api/1.2/people/?q=quentin", "quentin"),
                        ("/api/1.2/people/?q=olga", "olga")):
        out.append(Visit("GET", extra, (), "", echo))
    for extra in ("/api/v1/series?submitter=quentin.reporter@secure-example.net&per_page=200",
                  "/api/v1/series?list=linux-clk&per_page=200", "/api/v1/lists",
                  "/api/1.2/patches/?per_page=200&order=-date",
                  "/api/1.2/series/?per_page=200&order=-date", "/api/1.2/covers/?per_page=200",
                  "/api/1.2/patches/?submitter=quentin.reporter@secure-example.net",
                  "/linux-clk/?page=1", "/linux-clk/new.atom", "/all/new.atom"):
        out.append(Visit("GET", extra, (), ""))
    assert {"pages.message_dispatch", "review.series_page", "api.message"} <= covered
    return out


def fetch(client: Any, visit: Visit, url: str | None = None) -> tuple[int, str, dict[str, str]]:
    target = url or visit.url
    resp = client.post(target) if visit.method == "POST" else client.get(target)
    data = resp.get_data()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    headers = {k.lower(): v for k, v in resp.headers.items()}
    return resp.status_code, data.decode("utf-8", "replace"), headers


def without_ids(text: str, msgids: tuple[str, ...], into: str = "") -> str:
    """The text with every spelling of these Message-IDs (``@`` or ``%40``) replaced."""
    for msgid in msgids:
        local, _, domain = msgid.partition("@")
        text = re.sub(re.escape(local) + r"(?:@|%40)" + re.escape(domain), into, text)
    return text


def without_query(text: str, query: str, into: str = "") -> str:
    """The text with the search's own words (as typed, HTML-escaped or URL-quoted) replaced."""
    if not query:
        return text
    for form in sorted({query, html.escape(query), html.escape(query, quote=False),
                        str(escape(query)), html.escape(quote(query, safe="\"")),
                        quote(query), quote_plus(query),
                        quote(query, safe="")},
                       key=len, reverse=True):
        text = text.replace(form, into)
    return re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "DATE", text)


def leaks(text: str, echoed: tuple[str, ...], query: str = "") -> list[str]:
    # A 404 page names the id that was asked for, as it does for any unknown id; a result page
    # repeats the query.
    low = without_query(without_ids(text, echoed), query).lower()
    return [s for s in SECRETS if s.lower() in low]


def _search_total(client: Any, q: str) -> int:
    return int(client.get(f"/api/v1/search?q={q}").get_json()["total"])


@pytest.mark.parametrize("who", ["anonymous", "outsider"])
def test_outsiders_see_nothing_of_the_embargoed_thread(world, who):
    client = client_as(world, who)
    failures: list[str] = []
    for visit in visits(world):
        status, body, headers = fetch(client, visit)
        if status >= 500:
            failures.append(f"{visit.url}: {status}")
        found = leaks(body + headers.get("location", ""), visit.ids, visit.query)
        if found:
            failures.append(f"{visit.method} {visit.url}: {status} shows {found}")
        if visit.unknown:
            u_status, u_body, u_headers = fetch(client, visit, visit.unknown)
            same = without_query(without_ids(body, visit.ids, "ID"), visit.query, "Q")
            other = without_query(without_ids(u_body, (UNKNOWN_MSGID,), "ID"), NOTHING, "Q")
            if not visit.ids:  # integer ids: the number itself differs
                same, other = (re.sub(r"\b\d{1,9}\b", "N", t) for t in (same, other))
            if status != u_status or same != other:
                failures.append(f"{visit.url}: {status} differs from an unknown id ({u_status})")
            if ("etag" in headers) != ("etag" in u_headers):
                failures.append(f"{visit.url}: ETag presence differs from an unknown id")
    assert not failures, "\n".join(failures[:40])
    for q in QUERIES:
        assert _search_total(client, q) == 0, q


def test_outsider_totals_do_not_count_the_thread(world):
    member = client_as(world, "member")
    anon = client_as(world, "anonymous")
    lists_m = {x["name"]: x for x in member.get("/api/v1/lists").get_json()["results"]}
    lists_a = {x["name"]: x for x in anon.get("/api/v1/lists").get_json()["results"]}
    assert lists_m["linux-clk"]["messages"] - lists_a["linux-clk"]["messages"] == len(MSGIDS)
    assert lists_m["linux-clk"]["threads"] - lists_a["linux-clk"]["threads"] == 1


def test_member_sees_all_of_it(world):
    # The walk reaches the report through every kind of id, or it proves nothing.
    assert len(world.patches) == 2 and world.series and len(world.people) == 3
    assert world.slugs or not MAINTAINERS.is_file()
    client = client_as(world, "member")
    seen = ""
    for visit in visits(world):
        status, body, _ = fetch(client, visit)
        assert status < 500, visit.url
        seen += body.lower()
    missing = [s for s in SECRETS if s.lower() not in seen]
    assert not missing
    for msgid in MSGIDS:
        assert client.get(f"/linux-clk/{quote_msgid(msgid)}/").status_code == 200
        assert client.get(f"/linux-clk/{quote_msgid(msgid)}/raw").status_code == 200
    assert _search_total(client, "zanzibar") == len(MSGIDS)
    assert _search_total(client, "dfb:quokkadivider_clamp") == 1


def test_cli_show_and_search_run_as_anonymous(world, capsys):
    from listarchive.console import search_command, show_command

    hidden = show_command(world.settings, COVER, True)
    hidden_out = capsys.readouterr()
    unknown = show_command(world.settings, UNKNOWN_MSGID, True)
    unknown_out = capsys.readouterr()
    assert hidden == unknown != 0
    assert (without_ids(hidden_out.out + hidden_out.err, (COVER,), "ID")
            == without_ids(unknown_out.out + unknown_out.err, (UNKNOWN_MSGID,), "ID"))
    search_command(world.settings, ["zanzibar"], None, 0, True)
    out = capsys.readouterr().out
    assert json.loads(out.strip().splitlines()[-1])["total"] == 0
    assert not leaks(out, ())


# --- the same in a real browser ----------------------------------------------------------------


@pytest.mark.browser
def test_browser_walk_anonymous_versus_member(world):
    """Chromium (Playwright) on a live server: the main pages as an anonymous reader show nothing
    of the report; after logging in through the form, the member reads it. Runs before the
    disclosure test (module order)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, world.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    pages = ["/", "/linux-clk/", "/all/", "/linux-clk/?q=zanzibar", "/linux-clk/series/",
             f"/linux-clk/{quote_msgid(COVER)}/", f"/linux-clk/{quote_msgid(COVER)}/T/",
             f"/series/{world.series[0]}/", f"/patch/{world.patches[0]}/"]
    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(chromium), args=[
                "--no-sandbox", "--headless", "--disable-gpu"])
            try:
                anon = browser.new_context().new_page()
                for path in pages:
                    anon.goto(base + path)
                    text = anon.content()
                    assert not leaks(text, (COVER,), "zanzibar"), path
                member = browser.new_context().new_page()
                member.goto(base + "/login")
                member.fill("input[name=name]", "member")
                member.fill("input[name=password]", "battery staple")
                member.click("button[type=submit]")
                member.goto(base + f"/linux-clk/{quote_msgid(COVER)}/T/")
                text = member.inner_text("body")
                assert "marmalade overflow" in text and "pelican reproducer" in text
                member.goto(base + "/linux-clk/?q=zanzibar")
                assert "Quentin Reporter" in member.inner_text("body")
            finally:
                browser.close()
    finally:
        server.shutdown()
        thread.join(5)


def test_member_views_are_audited_and_only_admins_read_the_log(world):
    member = client_as(world, "member")
    assert member.get(f"/linux-clk/{quote_msgid(COVER)}/").status_code == 200
    for who in ("anonymous", "outsider", "member"):
        assert client_as(world, who).get("/admin/audit").status_code == 404, who
    page = client_as(world, "admin").get("/admin/audit")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "viewed" in text and "member" in text and "restricted" in text
    # A reader without rights leaves no trace: nothing was shown to them.
    client_as(world, "outsider").get(f"/linux-clk/{quote_msgid(COVER)}/")
    with make_sessionmaker(make_engine(world.settings))() as s:
        viewers = {e.actor for e in audit_log(s, 0) if e.action == "viewed"}
    assert viewers == {"member"}


def test_disclosure_publishes_at_the_same_urls(world):
    """Runs last in this module: it changes the world."""
    anon = client_as(world, "anonymous")
    before = {v.url: fetch(anon, v)[0] for v in visits(world) if v.ids}
    apply_embargo_change(world.settings, lambda s: embargo.disclose(s, COVER, None))
    outsider = client_as(world, "outsider")
    for client in (anon, outsider):
        for msgid in MSGIDS:
            page = client.get(f"/linux-clk/{quote_msgid(msgid)}/")
            assert page.status_code == 200, msgid
            assert client.get(f"/linux-clk/{quote_msgid(msgid)}/raw").status_code == 200
        thread = client.get(f"/linux-clk/{quote_msgid(COVER)}/T/").get_data(as_text=True)
        assert "marmalade overflow" in thread and "pelican reproducer" in thread
        assert "disclosed on" in thread
        cover = client.get(f"/linux-clk/{quote_msgid(COVER)}/").get_data(as_text=True)
        assert "disclosed on" in cover
        assert _search_total(client, "zanzibar") == len(MSGIDS)
        patch = client.get(f"/patch/{world.patches[0]}/")
        assert patch.status_code == 200
        assert any(client.get(f"/series/{sid}/").status_code == 200 for sid in world.series)
    changed = {url for url, status in before.items()
               if status == 404 and fetch(anon, Visit("GET", url, (), ""))[0] != 404}
    assert any(url.startswith("/linux-clk/") and url.endswith("/") for url in changed)
    with make_sessionmaker(make_engine(world.settings))() as s:
        assert [e.action for e in audit_log(s, 3)][0] == "disclosed"
