"""A newcomer's first visit, in Debian's Chromium driven by Playwright, on the demo archive
served live: home, a list, a thread flat and nested, a series with revisions, a patch, a
search and its help, the b4 settings, the subsystem index, a subsystem and its activity, and
a list's activity.

On every page: what matters is there, axe-core finds no serious or critical accessibility
violation (light and dark colour schemes), and at 375 px (a phone) nothing is wider than the
screen. Screenshots (1200 and 375 px) go to a tmp dir, or to ``$LISTARCHIVE_SCREENSHOTS``.

axe-core comes from npm: ``.ci/run`` installs it and names it in ``$LISTARCHIVE_AXE_JS``;
elsewhere the test looks under ``.ci/node/`` and skips, saying how to install it, when it is
not there (under CI it fails instead).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import livesite
import pytest

from listarchive.demo.builder import LIST_NAME, PULL_URL
from listarchive.mail.msgids import quote_msgid

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = livesite.CHROMIUM
AXE_JS = Path(os.environ.get("LISTARCHIVE_AXE_JS")
              or ROOT / ".ci" / "node" / "node_modules" / "axe-core" / "axe.min.js")
PHONE = 375
pytestmark = pytest.mark.browser
sync_api = pytest.importorskip("playwright.sync_api")
if not CHROMIUM.exists():
    pytest.skip("Chromium is not installed at /usr/bin/chromium (apt-get install chromium)",
                allow_module_level=True)
if not AXE_JS.is_file():
    if os.environ.get("CI"):
        raise RuntimeError(f"axe-core is missing at {AXE_JS}: .ci/run installs it with npm")
    pytest.skip(f"axe-core is not installed: npm install --no-save --prefix .ci/node axe-core@4 "
                f"(looked for {AXE_JS})", allow_module_level=True)


@pytest.fixture(scope="module")
def base_url(demo_site) -> Iterator[str]:  # type: ignore[no-untyped-def]
    with livesite.served(demo_site.app) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with livesite.chromium(sync_api) as b:
        yield b


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    return livesite.screenshot_dir(tmp_path)


class Visitor:
    """One browser tab per colour scheme, with the page's console errors collected; axe-core
    is injected past the site's Content-Security-Policy (which allows no script at all)."""

    def __init__(self, browser: Any, shots: Path) -> None:
        self.shots = shots
        self.errors: list[str] = []
        self.contexts = {scheme: browser.new_context(bypass_csp=True, color_scheme=scheme,
                                                     viewport={"width": 1200, "height": 900})
                         for scheme in ("light", "dark")}
        self.page = self.contexts["light"].new_page()
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error"
                     else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.axe = AXE_JS.read_text()

    def close(self) -> None:
        for context in self.contexts.values():
            context.close()

    def check(self, name: str) -> Any:
        """The current page: loaded fine, accessible in both schemes, fits a phone."""
        page = self.page
        assert self.errors == [], (page.url, self.errors)
        page.screenshot(path=str(self.shots / f"{name}-1200.png"))
        problems = self.violations(page)
        dark = self.contexts["dark"].new_page()
        dark.goto(page.url)
        problems += [f"(dark) {p}" for p in self.violations(dark)]
        dark.close()
        assert problems == [], f"{name} {page.url}:\n" + "\n".join(problems)
        phone = self.contexts["light"].new_page()
        phone.set_viewport_size({"width": PHONE, "height": 800})
        phone.goto(page.url)
        phone.screenshot(path=str(self.shots / f"{name}-{PHONE}.png"), full_page=True)
        widths = phone.evaluate("[document.documentElement.scrollWidth, document.body.scrollWidth]")
        assert max(widths) <= PHONE, (name, page.url, widths)
        phone.close()
        return page

    def violations(self, page: Any) -> list[str]:
        page.add_script_tag(content=self.axe)
        result = page.evaluate("async () => (await axe.run(document, {resultTypes: "
                               "['violations']})).violations.map(v => ({id: v.id, impact: "
                               "v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map("
                               "n => n.target.join(' '))}))")
        return [f"{v['impact']} {v['id']}: {v['help']} at {v['nodes']}" for v in result
                if v["impact"] in ("serious", "critical")]


@pytest.fixture
def visitor(browser: Any, shots: Path) -> Iterator[Visitor]:
    v = Visitor(browser, shots)
    try:
        yield v
    finally:
        v.close()


def crumbs(page: Any) -> list[str]:
    return [t.strip() for t in page.locator('nav[aria-label="breadcrumbs"] li').all_inner_texts()]


def test_newcomer_path(demo_site, base_url, visitor):
    client = demo_site.app.test_client()
    v2 = next(r for r in client.get(f"/api/v1/series?list={LIST_NAME}").get_json()["results"]
              if r["version"] == 2)
    series = client.get(f"/api/v1/series/{v2['id']}").get_json()
    cover = series["cover"]["message_id"]
    page = visitor.page

    page.goto(base_url + "/")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == "Mailing-list archives"
    visitor.check("01-home")

    page.click(f'table.lists a[href="/{LIST_NAME}/"]')
    assert page.locator("h1").inner_text() == LIST_NAME
    assert page.locator("ul.threads li").count() >= 10
    assert crumbs(page)[-1] == LIST_NAME
    visitor.check("02-list")

    page.click(f'ul.threads a.subject[href^="/{LIST_NAME}/{quote_msgid(cover)}/"]')
    assert page.url.endswith(f"/{quote_msgid(cover)}/T/#u")
    assert page.locator("div.thread.flat article.message").count() >= 5
    visitor.check("03-thread-flat")

    page.click("nav.links >> text=nested")
    assert page.locator("div.thread.nested article.message").count() >= 5
    # replies sit further right than what they answer, and the tree lines are drawn
    root = page.locator("article.message.d0 h2.subject").first.bounding_box()
    reply = page.locator("article.message.d2 h2.subject").first.bounding_box()
    assert reply["x"] > root["x"] + 20
    assert "gradient" in page.locator("article.message.d2").first.evaluate(
        "a => getComputedStyle(a).backgroundImage")
    visitor.check("04-thread-nested")

    page.goto(f"{base_url}/series/{v2['id']}/")
    assert page.locator("dl.headers >> text=Revisions").count() == 1
    assert page.locator('a[rel="prev"]', has_text="v1").count() == 1
    assert page.locator("ol.patches > li").count() == 3
    cover_box = page.locator("section.cover").bounding_box()
    assert page.locator("section.patches").bounding_box()["y"] < cover_box["y"]
    assert not page.locator("details.cover").evaluate("d => d.open")
    page.locator("details.cover summary").click()
    assert page.locator("details.cover").evaluate("d => d.open")
    assert crumbs(page)[:3] == ["listarchive", LIST_NAME, "series"]
    visitor.check("05-series")

    page.click("ol.patches > li:nth-child(2) > a")
    assert crumbs(page)[-1] == "patch 2/3"
    assert page.locator("section.diff table.diffstat").count() == 1
    assert page.locator("section.diff pre").count() >= 1
    visitor.check("06-patch")

    pull = next(r for r in client.get(f"/api/v1/series?list={LIST_NAME}").get_json()["results"]
                if r["pull"])
    pull_patch = client.get(f"/api/v1/series/{pull['id']}").get_json()["patches"][0]["id"]
    page.goto(f"{base_url}/patch/{pull_patch}/")
    assert PULL_URL in page.locator("#pull-notice").inner_text()
    visitor.check("07-pull")

    page.goto(f"{base_url}/{LIST_NAME}/")
    page.fill('form.search input[name="q"]', "s:round_rate")
    page.click('form.search button[type="submit"]')
    assert page.locator("ul.results li").count() >= 1
    assert "round_rate" in page.locator("ul.results").inner_text()
    visitor.check("08-search")

    page.click("form.search a.help")
    assert page.locator("h1").inner_text().startswith("How to search")
    visitor.check("09-search-help")

    page.goto(f"{base_url}/{LIST_NAME}/")
    page.click("p.meta >> text=using it with b4")
    assert re.search(r"b4\.midmask", page.locator("#b4-commands").inner_text())
    visitor.check("10-b4")

    page.click("footer >> text=subsystems")
    assert page.locator("table.subsystems tbody tr").count() >= 1
    visitor.check("11-subsystems")

    page.click("table.subsystems tbody tr:first-child td:first-child a")
    assert crumbs(page)[1] == "subsystems"
    visitor.check("12-subsystem")

    page.click("main >> text=activity")
    assert crumbs(page)[-1] == "activity"
    assert page.locator("img.chart").count() == 4
    for img in page.locator("img.chart").all():  # drawn: the SVG loaded and has a size
        # A click returns once the page is committed; the charts may still be on their way (a
        # loaded machine): wait for each to load or fail, then look at what arrived.
        img.evaluate("i => i.complete || new Promise(done => {"
                     " i.addEventListener('load', done); i.addEventListener('error', done); })")
        assert img.evaluate("i => i.naturalWidth > 0"), img.get_attribute("src")
        assert img.get_attribute("alt")
    visitor.check("13-subsystem-activity")

    page.goto(f"{base_url}/{LIST_NAME}/")
    page.click("p.meta >> text=activity")
    assert page.locator("h1").inner_text() == f"Activity: {LIST_NAME}"
    assert page.locator("img.chart").count() == 4
    page.locator("section#messages details summary").click()
    assert page.locator("section#messages table.numbers tbody tr").count() >= 3
    visitor.check("14-list-activity")


def test_bad_urls_answer_a_readable_page(base_url, visitor):
    page = visitor.page
    for path, words in ((f"/{LIST_NAME}/no-such-message@example.org/", "not found"),
                        ("/no-such-list/", "no list named"),
                        ("/series/999999/", "no such series"),
                        (f"/{LIST_NAME}/?q=%28unclosed", "Cannot read the query")):
        response = page.goto(base_url + path)
        assert 400 <= response.status < 500, path
        # the browser reports the status of the page itself, nothing else may fail
        assert all(e.startswith("Failed to load resource: the server responded with a status "
                                f"of {response.status}") for e in visitor.errors), visitor.errors
        visitor.errors.clear()
        assert words.lower() in page.locator("main").inner_text().lower(), path
        visitor.check("error-" + re.sub(r"\W+", "-", path).strip("-")[:40])
