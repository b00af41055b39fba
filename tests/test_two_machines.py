"""Several machines on one PostgreSQL, simulated on this one: two ingest workers and two web
servers, each with a data folder of its own (its own search index, nothing else), the
database the only thing they share.

Mail delivered through both workers at once must be shown and found on both sites within a
few seconds; a state change and an embargo made from one machine must reach the other site's
search; a login on one site must be valid on the other."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import backends
import pytest
from mailfixtures import first_messages
from test_concurrency import as_delivered, split_mbox

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "lore" / \
    "linux-clk-last10000.mboxrd.gz"
MESSAGES = 24
PASSWORD = "correct horse battery staple"
SECRET = "s" * 64
WITHIN = 20.0  # seconds: "a few", with room for a loaded test machine

pytestmark = pytest.mark.skipif(
    not backends.POSTGRESQL, reason="several machines share a PostgreSQL database: this runs in "
    "make test's PostgreSQL half (LISTARCHIVE_TEST_BACKEND=postgresql)")


def machine(base: Path, name: str, url: str) -> Path:
    folder = base / name
    folder.mkdir()
    (folder / "listarchive.toml").write_text(
        f"[storage]\ndata_dir = 'instance'\ndatabase_url = '{url}'\nlock_timeout = 5\n"
        f"[web]\nsecret_key = '{SECRET}'\n"
        "[limits]\nsearch = ''\ndownload = ''\napi = ''\n"
        "[[lists]]\nname = 'linux-clk'\n")
    return folder


def command(folder: Path, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "LISTARCHIVE_DATABASE_URL"}
    return subprocess.run([sys.executable, "-m", "listarchive.cli", *args], cwd=folder,
                          input=stdin, capture_output=True, timeout=300, env=env)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Site:
    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if k != "LISTARCHIVE_DATABASE_URL"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "listarchive.cli", "serve", "--port", str(self.port)],
            cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.url = f"http://127.0.0.1:{self.port}"
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))
        until(lambda: self.status("/") == 200, "the site never answered")

    def get(self, path: str) -> tuple[int, str]:
        try:
            with self.opener.open(self.url + path, timeout=30) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()
        except OSError:
            return 0, ""

    def status(self, path: str) -> int:
        return self.get(path)[0]

    def search(self, query: str) -> int | None:
        """Total matches the site's search API gives an anonymous reader (None: no answer)."""
        status, body = self.get("/api/v1/search?" + urllib.parse.urlencode({"q": query}))
        return json.loads(body)["total"] if status == 200 else None

    def login(self, name: str) -> None:
        page = self.get("/login")[1]
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        data = urllib.parse.urlencode({"name": name, "password": PASSWORD, "next": "/queue/",
                                       "csrf_token": token.group(1)}).encode()
        with self.opener.open(self.url + "/login", data=data, timeout=30) as resp:
            assert resp.status == 200 and resp.url.endswith("/queue/")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def until(check: Callable[[], Any], what: str, within: float = WITHIN) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


@pytest.fixture
def machines(tmp_path: Path) -> Iterator[dict[str, Any]]:
    url = os.environ["LISTARCHIVE_DATABASE_URL"]  # this test's own schema (conftest.database)
    folders = {name: machine(tmp_path, name, url) for name in ("ingest1", "ingest2", "web1",
                                                                "web2")}
    assert command(folders["ingest1"], "init").returncode == 0
    sites = []
    try:
        sites = [Site(folders["web1"]), Site(folders["web2"])]
        yield {"folders": folders, "sites": sites}
    finally:
        for site in sites:
            site.stop()


def test_two_workers_and_two_web_servers_share_one_database(machines):
    if not CORPUS.is_file():
        pytest.skip("the shared corpora are not beside the project")
    folders, sites = machines["folders"], machines["sites"]
    mail = [as_delivered(m) for m in split_mbox(first_messages(CORPUS, MESSAGES))]
    msgids = [re.search(rb"^Message-ID:\s*<([^>]+)>", m, re.I | re.M) for m in mail]
    assert all(msgids)

    def deliver(i: int) -> int:
        worker = folders["ingest1" if i % 2 else "ingest2"]
        for _ in range(20):  # a mail server retries a 75
            done = command(worker, "ingest", "--list", "linux-clk", "-", stdin=mail[i])
            if done.returncode != 75:
                return done.returncode
            time.sleep(0.5)
        return 75

    with ThreadPoolExecutor(4) as pool:
        codes = list(pool.map(deliver, range(len(mail))))
    assert codes == [0] * len(mail)

    for site in sites:  # every message shown on both sites, and found by both
        for found in msgids:
            assert found is not None
            path = f"/linux-clk/{urllib.parse.quote(found.group(1).decode(), safe='@')}/"
            assert site.status(path) == 200, path
        until(lambda site=site: site.search("l:linux-clk") == len(mail),
              f"{site.url} does not find every message")
        assert site.search("d:1990-01-01..") == len(mail)  # each once, none twice

    # A state changed through one machine reaches the other site's search.
    assert command(folders["ingest1"], "user", "add", "maint", "--email", "m@example.org",
                   "--admin", "--password-stdin", stdin=PASSWORD.encode() + b"\n"
                   ).returncode == 0
    patch = next(p for p in (json.loads(sites[0].get(
        "/api/v1/messages/" + urllib.parse.quote(f.group(1).decode(), safe="@"))[1])["patch"]
        for f in msgids if f) if p)
    assert sites[1].search("state:accepted") == 0
    done = command(folders["ingest2"], "state", "patch", str(patch["id"]), "accepted",
                   "--as", "maint")
    assert done.returncode == 0, done.stderr
    for site in sites:
        until(lambda site=site: site.search("state:accepted") == 1,
              f"{site.url} does not follow the state change")

    # An embargo put on a thread from a worker machine hides it from both sites' search.
    first = msgids[0]
    assert first is not None
    before = sites[0].search("l:linux-clk") or 0
    done = command(folders["ingest2"], "restrict", first.group(1).decode())
    assert done.returncode == 0, done.stderr
    for site in sites:
        until(lambda site=site: (site.search("l:linux-clk") or before) < before,
              f"{site.url} still counts the embargoed thread")

    # A login on one site is valid on the other (the key comes from the configuration).
    sites[0].login("maint")
    for cookie in list(sites[0].cookies):
        sites[1].cookies.set_cookie(cookie)
    status, page = sites[1].get("/queue/")
    assert status == 200 and "maint" in page
