"""``/LIST/_/text/b4/``: the settings it shows, run as shown, make the real b4 of this
environment fetch a series from this site and write ``Link:`` trailers pointing back at it.

The site is the demo archive served on a loopback port; the ``git config`` lines are read off
the page and run in a fresh repository, then ``b4 am -l MSGID`` (a bare Message-ID, so b4
finds it through ``b4.midmask`` alone).
"""

from __future__ import annotations

import gzip
import os
import re
import shlex
import shutil
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import livesite
import pytest
from bs4 import BeautifulSoup

from listarchive.demo.builder import LIST_NAME

B4 = str(Path(sys.executable).parent / "b4")  # the dev extra's b4, not Debian's


@pytest.fixture(scope="module")
def base_url(demo_site) -> Iterator[str]:  # type: ignore[no-untyped-def]
    with livesite.served(demo_site.app) as url:
        yield url


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as resp:
        body: bytes = resp.read()
    return body.decode()


def test_b4_page_names_this_site(demo_site, base_url):
    client = demo_site.app.test_client()
    text = client.get(f"/{LIST_NAME}/_/text/b4/gitconfig",
                      base_url="https://localhost:8443").get_data(as_text=True)
    assert text == ("[b4]\n\tmidmask = https://localhost:8443/demo-devel/%s\n"
                    "\tlinkmask = https://localhost:8443/r/%s\n"
                    "\tsearchmask = https://localhost:8443/demo-devel/?x=m&t=1&q=%s\n")
    every = client.get("/all/_/text/b4/gitconfig").get_data(as_text=True)
    assert "midmask = http://localhost/all/%s" in every
    assert client.get("/no-such-list/_/text/b4/").status_code == 404
    listing = client.get(f"/{LIST_NAME}/").get_data(as_text=True)
    assert f'href="/{LIST_NAME}/_/text/b4/"' in listing
    assert 'href="/all/_/text/b4/"' in client.get("/").get_data(as_text=True)  # footer
    assert 'href="/all/_/text/b4/"' in client.get("/s/").get_data(as_text=True)


def test_search_mask_answers_an_mbox_of_whole_threads(base_url):
    page = BeautifulSoup(fetch(f"{base_url}/{LIST_NAME}/_/text/b4/"), "html.parser")
    mask = re.search(r"searchmask = (\S+)", page.find(id="b4-gitconfig").get_text())
    assert mask is not None
    url = mask.group(1) % urllib.parse.quote("s:round_rate")
    request = urllib.request.Request(url, data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=30) as resp:
        assert resp.headers["Content-Type"] == "application/gzip"
        mbox = gzip.decompress(resp.read())
    assert b"round_rate callback" in mbox
    assert mbox.count(b"\nFrom ") + mbox.startswith(b"From ") > 1  # t=1: the whole thread


@pytest.mark.skipif(not Path(B4).exists() or shutil.which("git") is None,
                    reason="b4 (the dev extra) or git is not installed")
def test_b4_am_with_the_pages_settings_links_to_this_site(demo_site, base_url, tmp_path):
    client = demo_site.app.test_client()
    series = next(r for r in client.get(f"/api/v1/series?list={LIST_NAME}").get_json()["results"]
                  if r["version"] == 2)
    detail = client.get(f"/api/v1/series/{series['id']}").get_json()
    cover = detail["cover"]["message_id"]
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
           "XDG_CACHE_HOME": str(home / ".cache"), "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_CONFIG_GLOBAL": str(home / ".gitconfig")}
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, env=env, check=True)
    for key, value in (("user.name", "Maint Ainer"), ("user.email", "maint@example.org")):
        subprocess.run(["git", "config", key, value], cwd=repo, env=env, check=True)
    page = BeautifulSoup(fetch(f"{base_url}/{LIST_NAME}/_/text/b4/"), "html.parser")
    commands = page.find(id="b4-commands").get_text().strip().splitlines()
    assert len(commands) == 3
    for line in commands:  # exactly as a reader pastes them
        subprocess.run(shlex.split(line), cwd=repo, env=env, check=True)
    done = subprocess.run([B4, "am", "-l", "-o", str(tmp_path / "out"), cover], cwd=repo,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr + done.stdout
    mbox = next((tmp_path / "out").glob("*.mbx")).read_text()
    links = re.findall(r"^Link: (\S+)$", mbox, re.M)
    assert len(links) == 3  # one per patch
    assert all(link.startswith(f"{base_url}/r/") for link in links)
    assert "Reviewed-by: Priya Venkataraman" in mbox  # trailers from the replies came along
    # the Link: leads to the message on this site
    with urllib.request.urlopen(links[0], timeout=30) as resp:
        assert resp.url.startswith(f"{base_url}/{LIST_NAME}/")
        assert "round_rate" in resp.read().decode() or "set_rate" in resp.url
