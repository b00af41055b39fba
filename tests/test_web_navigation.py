"""Finding one's way on the demo archive: breadcrumbs on every page (home > list > thread or
series > patch), the series page with its patches before the cover letter (a long cover folded,
without script), the nested thread drawn as a tree unlike the flat one, and a pull request's
page saying what it is."""

from __future__ import annotations

from typing import Any

import pytest
from bs4 import BeautifulSoup

from listarchive.demo.builder import LIST_NAME, PULL_URL
from listarchive.mail.msgids import quote_msgid


@pytest.fixture(scope="module")
def client(demo_site):  # type: ignore[no-untyped-def]
    return demo_site.app.test_client()


def page(client: Any, path: str) -> BeautifulSoup:
    resp = client.get(path)
    assert resp.status_code == 200, (path, resp.status_code)
    return BeautifulSoup(resp.get_data(as_text=True), "html.parser")


def crumbs(soup: BeautifulSoup) -> list[tuple[str, str]]:
    """(href, text) of each breadcrumb; the current page's is the last, marked as such."""
    nav = soup.find("nav", attrs={"aria-label": "breadcrumbs"})
    assert nav is not None, "no breadcrumbs"
    items = nav.find_all("li")
    assert items and items[0].a["href"] == "/"
    last = items[-1]
    assert last.find(attrs={"aria-current": "page"}) is not None or \
        last.get("aria-current") == "page"
    return [(li.a["href"] if li.a else "", li.get_text(strip=True)) for li in items]


def series_rows(client: Any) -> list[dict[str, Any]]:
    got = client.get(f"/api/v1/series?list={LIST_NAME}").get_json()
    rows: list[dict[str, Any]] = got["results"]
    return rows


def the_v2(client: Any) -> dict[str, Any]:
    return next(r for r in series_rows(client) if r["version"] == 2)


def test_breadcrumbs_lead_from_home_to_the_patch(client):
    v2 = the_v2(client)
    series = client.get(f"/api/v1/series/{v2['id']}").get_json()
    patch = series["patches"][1]
    cover = series["cover"]["message_id"]
    lst = f"/{LIST_NAME}/"
    assert crumbs(page(client, "/")) == [("/", "listarchive")]
    assert [h for h, _ in crumbs(page(client, lst))] == ["/", lst]
    assert [h for h, _ in crumbs(page(client, f"{lst}series/"))] == ["/", lst, f"{lst}series/"]
    trail = crumbs(page(client, f"/series/{v2['id']}/"))
    assert [h for h, _ in trail] == ["/", lst, f"{lst}series/", f"/series/{v2['id']}/"]
    assert trail[-1][1].endswith("v2")
    trail = crumbs(page(client, f"/patch/{patch['id']}/"))
    assert [h for h, _ in trail] == ["/", lst, f"{lst}series/", f"/series/{v2['id']}/",
                                     f"/patch/{patch['id']}/"]
    assert trail[-1][1] == "patch 2/3"
    quoted = quote_msgid(cover)
    trail = crumbs(page(client, f"{lst}{quoted}/T/"))
    assert [h for h, _ in trail] == ["/", lst, f"{lst}{quoted}/T/"]
    # a reply: its list, its thread (flat), itself
    tree = client.get(f"/api/v1/threads/{quoted}").get_json()
    child = tree["messages"][0]["replies"][0]["message_id"]
    trail = crumbs(page(client, f"{lst}{quote_msgid(child)}/"))
    assert [h for h, _ in trail] == ["/", lst, f"{lst}{quoted}/T/#u", f"{lst}{quote_msgid(child)}/"]
    assert [h for h, _ in crumbs(page(client, f"{lst}?q=clk"))][:2] == ["/", lst]
    assert [h for h, _ in crumbs(page(client, f"{lst}_/text/help/"))] == [
        "/", lst, f"{lst}_/text/help/"]
    assert [h for h, _ in crumbs(page(client, "/s/"))] == ["/", "/s/"]
    slug = client.get("/api/v1/series/" + str(v2["id"])).get_json()["subsystems"][0]
    sub = page(client, "/s/")
    first = sub.select_one("table.subsystems a")["href"]
    assert [h for h, _ in crumbs(page(client, first))] == ["/", "/s/", first]
    assert slug  # the series names the subsystem it touches


def test_series_page_lists_patches_before_a_folded_long_cover(client):
    v2 = the_v2(client)
    soup = page(client, f"/series/{v2['id']}/")
    sections = [s.get("class", [""])[0] for s in soup.find_all("section")]
    assert sections.index("patches") < sections.index("cover")
    cover = soup.find("section", class_="cover")
    folded = cover.find("details")
    assert folded is not None and not folded.has_attr("open")
    assert "show the cover letter" in folded.summary.get_text()
    assert "Changes in v2" in folded.get_text()
    assert soup.select_one('nav.links a[href="#cover"]') is not None


def test_nested_thread_is_drawn_as_a_tree_and_flat_is_not(client):
    v2 = the_v2(client)
    cover = client.get(f"/api/v1/series/{v2['id']}").get_json()["cover"]["message_id"]
    base = f"/{LIST_NAME}/{quote_msgid(cover)}"
    nested = page(client, f"{base}/t/")
    flat = page(client, f"{base}/T/")
    depths = {c for a in nested.select("div.thread.nested article.message")
              for c in a.get("class", []) if c.startswith("d")}
    assert {"d0", "d1", "d2"} <= depths  # replies to replies
    assert flat.select("div.thread.flat article.message")
    assert not any(c.startswith("d") for a in flat.select("div.thread article.message")
                   for c in a.get("class", []))
    css = client.get("/static/site.css").get_data(as_text=True)
    # the indent and the tree lines come from the depth classes
    assert ".thread.nested article.message" in css and "--depth" in css
    assert "repeating-linear-gradient" in css


def test_a_pull_request_says_it_is_one(client):
    pull = next(r for r in series_rows(client) if r["pull"])
    series = client.get(f"/api/v1/series/{pull['id']}").get_json()
    pid = series["patches"][0]["id"]
    soup = page(client, f"/patch/{pid}/")
    notice = soup.find(id="pull-notice")
    assert notice is not None
    text = notice.get_text(" ", strip=True)
    assert "This is a pull request" in text and PULL_URL in text
    detail = client.get(f"/api/v1/patches/{pid}").get_json()
    ref = detail["pull_url"].split()[-1]
    assert ref in text and "git am" in text
    assert crumbs(soup)[-1][1] == "pull request"
    assert "PULL" in soup.h1.get_text()


def test_every_kind_of_page_has_breadcrumbs(client):
    lst = f"/{LIST_NAME}/"
    slug = page(client, "/s/").select_one("table.subsystems a")["href"].split("/")[2]
    trails = {
        f"{lst}queue/": ["/", lst, f"{lst}queue/"],
        f"/s/{slug}/queue/": ["/", "/s/", f"/s/{slug}/", f"/s/{slug}/queue/"],
        f"{lst}_/activity/": ["/", lst, f"{lst}_/activity/"],
        f"/s/{slug}/activity/": ["/", "/s/", f"/s/{slug}/", f"/s/{slug}/activity/"],
        f"{lst}_/text/b4/": ["/", lst, f"{lst}_/text/b4/"],
    }
    for path, hrefs in trails.items():
        assert [h for h, _ in crumbs(page(client, path))] == hrefs, path
    for path in ("/login", "/no-such-list/", f"{lst}no-such-id@example.org/"):
        soup = BeautifulSoup(client.get(path).get_data(as_text=True), "html.parser")
        nav = soup.find("nav", attrs={"aria-label": "breadcrumbs"})
        assert nav is not None and nav.a["href"] == "/", path
