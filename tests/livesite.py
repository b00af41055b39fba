"""A test's site on a real port, and a real browser to look at it (Debian's Chromium driven by
Playwright), for the tests that need more than Flask's test client."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server

CHROMIUM = Path("/usr/bin/chromium")


@contextmanager
def served(app: Any) -> Iterator[str]:
    """``app`` served on a free local port: its base URL while the block runs."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


@contextmanager
def chromium(sync_api: Any) -> Iterator[Any]:
    """A headless Chromium (Playwright's ``sync_api`` module passed in: importing it is the
    caller's skip decision)."""
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        try:
            yield browser
        finally:
            browser.close()


def screenshot_dir(tmp_path: Path) -> Path:
    """Where screenshots go: ``$LISTARCHIVE_SCREENSHOTS`` to keep them, else the test's folder."""
    keep = os.environ.get("LISTARCHIVE_SCREENSHOTS")
    path = Path(keep) if keep else tmp_path
    path.mkdir(parents=True, exist_ok=True)
    return path
