"""The review loop never shows an anonymous reader what an embargo hides: the first revision
of a series (and the inline review of it) restricted, the second public. Range-diff, carried
comments, comment JSON, feeds and the dependency mbox all answer as if the hidden thread were
not archived."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import backends
import pytest
from rerollworld import build

from ingest.worker import run_ingest
from listarchive.access import embargo
from listarchive.archive.db import open_archive
from listarchive.mail.msgids import quote_msgid
from listarchive.settings import from_mapping

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@pytest.fixture(scope="module")
@backends.archive_fixture
def hidden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("reroll-hidden")
    world = build(base)
    settings = from_mapping({"storage": {"data_dir": str(base / "instance")},
                             "search": {"enabled": False},
                             "lists": [{"name": "linux-clk", "description": "clk"}]})
    run_ingest(settings, [str(world.mbox)], "linux-clk")
    from listarchive.web import create_app

    app = create_app(settings)
    client = app.test_client()
    ids = {name: client.get(f"/api/v1/messages/{quote_msgid(world.ids[name])}").get_json()
           for name in ("changed-v1-0", "changed-v1-1", "changed-v2-0")}
    archive = open_archive(settings, writer=True)
    try:
        with archive.sessions.begin() as session:
            embargo.restrict(session, world.ids["changed-v1-0"], None)
    finally:
        archive.close()
    yield {"world": world, "client": client, "ids": ids}


def test_hidden_revision_and_its_review_never_shown(hidden: dict[str, Any]) -> None:
    client, ids = hidden["client"], hidden["ids"]
    old = ids["changed-v1-0"]["series"]["id"]
    new = ids["changed-v2-0"]["series"]["id"]
    patch = ids["changed-v1-1"]["patch"]["id"]
    for url in (f"/series/{old}/", f"/series/{old}/atom", f"/patch/{patch}/",
                f"/api/v1/patches/{patch}/comments", f"/api/v1/series/{old}/interdiff"):
        assert client.get(url).status_code == 404, url
    for url in (f"/series/{new}/interdiff", f"/series/{new}/interdiff.txt",
                f"/api/v1/series/{new}/interdiff", f"/series/{new}/interdiff?from={old}"):
        got = client.get(url)
        assert got.status_code == 400, url  # nothing earlier this reader may see
        assert b"seven is 70" not in got.data
    for url in (f"/series/{new}/", f"/series/{new}/atom", f"/api/v1/series/{new}"):
        body = client.get(url).get_data(as_text=True)
        for secret in ("Why twenty", "Seventy is wrong", "alice@example.org",
                       "carol@example.org", f"/series/{old}/"):
            assert secret not in body, (url, secret)
