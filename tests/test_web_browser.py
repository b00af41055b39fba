"""The site in Debian's Chromium, driven by Playwright: pages load without console errors,
show their content, and nothing from the XSS corpus executes. Screenshots go to a tmp dir
(``LISTARCHIVE_SCREENSHOTS`` keeps them somewhere to look at)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import livesite
import pytest
from mailfixtures import ODD_IDS, Site
from werkzeug.serving import make_server

from listarchive.mail.msgids import quote_msgid

CHROMIUM = livesite.CHROMIUM
pytestmark = pytest.mark.browser
sync_api = pytest.importorskip("playwright.sync_api")
if not CHROMIUM.exists():
    pytest.skip("Chromium is not installed at /usr/bin/chromium", allow_module_level=True)

HOSTILE = ["xss-body@example.org", "xss-headers@example.org", "xss-attachment@example.org",
           "xss-html-only@example.org",
           "x\"onmouseover=alert(1)'javascript:alert(2)&amp;@evil.example"]


@pytest.fixture(scope="module")
def base_url(site: Site) -> Iterator[str]:
    with livesite.served(site.app) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with livesite.chromium(sync_api) as b:
        yield b


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    return livesite.screenshot_dir(tmp_path)


def visit(browser, url: str, shot: Path | None = None, width: int = 1200):  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": width, "height": 900})
    events: list[str] = []
    page.on("console", lambda m: events.append(f"console {m.type}: {m.text}")
            if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: events.append(f"pageerror: {e}"))
    page.on("dialog", lambda d: (events.append(f"dialog: {d.message}"), d.dismiss()))
    response = page.goto(url)
    if shot is not None:
        page.screenshot(path=str(shot), full_page=False)
    return page, response, events


def test_main_pages_render_without_console_errors(site, browser, base_url, shots):
    lists = "linux-clk" if site.has_corpus else "odd"
    pages = [("/", "Mailing-list archives"), (f"/{lists}/", lists),
             (f"/odd/{quote_msgid(ODD_IDS[1])}/", "Thread overview"),
             (f"/odd/{quote_msgid(ODD_IDS[0])}/T/", "Message 4 of the odd thread"),
             (f"/odd/{quote_msgid(ODD_IDS[0])}/t/", "Message 2 of the odd thread")]
    if site.has_corpus:
        from test_web_site import big_thread

        root, _ = big_thread(site)
        pages.append((f"/linux-clk/{quote_msgid(root)}/", "git send-email"))
    for i, (path, expect) in enumerate(pages):
        for width in (1200, 390):
            page, response, events = visit(browser, base_url + path,
                                           shots / f"page-{i}-{width}.png", width)
            assert response.status == 200, path
            assert expect in page.content(), path
            assert events == [], (path, events)
            # nothing wider than the phone screen: long lines wrap
            overflow = page.evaluate("document.documentElement.scrollWidth")
            assert overflow <= width + 1, (path, width, overflow)
            page.close()


def test_quoted_text_folds_and_opens_without_javascript(browser, base_url):
    page, _, events = visit(browser, f"{base_url}/hostile/xss-body@example.org/")
    details = page.locator("details.quote")
    assert details.count() == 1
    assert not details.first.evaluate("d => d.open")
    details.first.locator("summary").click()
    assert details.first.evaluate("d => d.open")
    assert events == []


_POINT_AT_EVERYTHING = """() => {
    for (const el of document.querySelectorAll("*")) {
        for (const type of ["mouseover", "mouseenter", "mousemove", "focus", "focusin"]) {
            el.dispatchEvent(new Event(type, {bubbles: true}));
        }
    }
}"""


def test_xss_corpus_never_executes_in_the_browser(browser, base_url, shots):
    paths = ["/hostile/", "/hostile/new.atom", "/all/"]
    for msgid in HOSTILE:
        quoted = quote_msgid(msgid)
        paths += [f"/hostile/{quoted}/", f"/hostile/{quoted}/T/", f"/hostile/{quoted}/t/",
                  f"/hostile/{quoted}/raw", f"/api/v1/messages/{quoted}"]
    for i, path in enumerate(paths):
        page, response, events = visit(browser, base_url + path, shots / f"xss-{i}.png")
        assert response.status == 200, path
        # what a reader's mouse and keyboard set off, on every element of the page: an
        # injected handler runs for these events as it would for real ones (and hovering each
        # link with the mouse took a third of the suite's browser time)
        page.evaluate(_POINT_AT_EVERYTHING)
        assert [e for e in events if e.startswith(("dialog", "pageerror"))] == [], path
        assert page.evaluate("typeof window.__xss") == "undefined"
        page.close()


def test_log_in_change_a_state_and_see_the_history(browser, shots, status_world):
    """A maintainer logs in with the form, sets a patch to changes-requested with a reason, and
    the page they land on shows the new state and the history entry naming them."""
    from worlds import PASSWORD

    w = status_world
    server = make_server("127.0.0.1", 0, w.app, threaded=True)  # type: ignore[arg-type]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    pid = w.gizmo_patches[1]
    try:
        page = browser.new_page(viewport={"width": 1200, "height": 1100})
        events: list[str] = []
        page.on("console", lambda m: events.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: events.append(str(e)))
        page.goto(f"{base}/patch/{pid}/")
        assert page.locator(f'form[action="/patch/{pid}/state"]').count() == 0
        page.click("text=log in")
        page.fill('input[name="name"]', "maint")
        page.fill('input[name="password"]', PASSWORD)
        page.click('button:has-text("log in")')
        assert page.url == f"{base}/patch/{pid}/"
        form = page.locator(f'form[action="/patch/{pid}/state"]').first
        form.locator('select[name="state"]').select_option("changes-requested")
        form.locator('input[name="reason"]').fill("please split the header change")
        form.locator("button").click()
        assert page.url.startswith(f"{base}/patch/{pid}/")
        row = page.locator("table.history tbody tr").last
        assert "changes-requested" in row.inner_text()
        assert "maint" in row.inner_text() and "please split the header change" in (
            row.inner_text())
        assert "changes-requested" in page.locator("dl.headers").first.inner_text()
        page.locator("#state").scroll_into_view_if_needed()
        page.screenshot(path=str(shots / "state-history.png"), full_page=False)
        assert events == []
        page.close()
    finally:
        server.shutdown()
        thread.join(5)
