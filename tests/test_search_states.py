"""The ``state:`` search facet follows the patches' states: as indexed at ingest (an RFC, a
revision superseded by a newer one), and after a change on the command line, by git-scan, on
the site and through the API, including a change made while an ingest held the index's lock.

The mail is made with ``git format-patch`` from a real repository: v1 and v2 of a two-patch
series with a cover letter, and an RFC patch. Each test runs on both search engines.
"""

from __future__ import annotations

import dataclasses
import io
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import mailfixtures
import pytest
from mailfixtures import NO_LIMITS
from searchengines import ENGINES, uncommitted_writer
from sqlalchemy import select

from ingest.worker import Worker, run_ingest
from listarchive import web
from listarchive.access import accounts
from listarchive.archive.models import Patch, PatchState, PatchSubsystem, Subsystem
from listarchive.demo import run_demo
from listarchive.search import engine, follow, indexer, tantivyindex, whooshindex
from listarchive.search.queryparser import parse_query
from listarchive.settings import Settings, from_mapping
from listarchive.web import create_app

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

LIST = "linux-clk"
PASSWORD = "correct horse battery"


git = mailfixtures.dev_git


def send(repo: Path, out: Path, *args: str) -> Path:
    """``git format-patch`` into one mbox (see :func:`mailfixtures.format_patch`)."""
    mbox = out.with_suffix(".mbox")
    mbox.write_bytes(b"".join(mail.rstrip(b"\n") + b"\n\n"
                              for mail in mailfixtures.format_patch(git, repo, out, *args)))
    return mbox


def msgids(mbox: Path) -> list[str]:
    """The Message-IDs of an mbox in order: the cover letter first."""
    return re.findall(r"^Message-ID: <([^>]+)>", mbox.read_text(), re.M | re.I)


@pytest.fixture(params=ENGINES)
def world(tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, Any]:
    made = mailfixtures.revisions_and_rfc(tmp_path, git, send)
    v1, v2, rfc = made["v1"], made["v2"], made["rfc"]
    repo = tmp_path / "repo"
    cfg = tmp_path / "listarchive.toml"
    cfg.write_text(f'[storage]\ndata_dir = "{tmp_path / "instance"}"\n\n[search]\nenabled = true\n'
                   f'engine = "{request.param}"\n\n[[lists]]\nname = "{LIST}"\n')
    # No follower thread in the site (on by default on PostgreSQL): it catches up at any moment,
    # and these tests say when the index has, or has not yet, followed a change.
    settings = from_mapping({"limits": NO_LIMITS, "storage": {"data_dir": str(tmp_path / "instance")},
                             "search": {"enabled": True, "engine": request.param, "follow": False},
                             "lists": [{"name": LIST}]})
    run_ingest(settings, [str(v1), str(rfc)], LIST)
    with Worker(settings).sessions.begin() as session:
        maint = accounts.create_user(session, "maint", "maint@example.org", PASSWORD)
        accounts.grant(session, maint, "list", LIST)
        token = accounts.new_token(session, maint, "tests")
    return {"settings": settings, "cfg": cfg, "repo": repo, "v1": msgids(v1),
            "v2": v2, "rfc": msgids(rfc), "token": token}


def hits(settings: Settings, query: str) -> set[str]:
    index = engine.open_reader(settings)
    return {h.msgid for h in index.search(parse_query(query), per_page=0).hits}


def patch_pk(settings: Settings, msgid: str) -> int:
    with Worker(settings).sessions() as session:
        pk = session.scalar(select(Patch.id).where(Patch.msgid == msgid))
    assert pk is not None
    return int(pk)


def run_cli(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "listarchive.cli", "-c", str(cfg), *args],
                          capture_output=True, text=True, timeout=300)


def login(client: Any) -> None:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    assert client.post("/login", data={"name": "maint", "password": PASSWORD,
                                       "csrf_token": token.group(1)}).status_code == 303


def test_ingest_indexes_each_patch_with_its_state(world):
    s = world["settings"]
    cover, p1, p2 = world["v1"]
    rfc_cover, rfc_patch = world["rfc"]
    assert hits(s, "state:new") == {cover, p1, p2}
    assert hits(s, "state:rfc") == {rfc_cover, rfc_patch}
    # v2 arrives: the rule marks v1 superseded in the same ingest, and the index follows
    run_ingest(s, [str(world["v2"])], LIST)
    assert hits(s, "state:superseded") == {cover, p1, p2}
    assert hits(s, "state:new") == set(msgids(world["v2"]))
    # replies are not patches: no state at all
    assert hits(s, "state:new s:steps") <= set(msgids(world["v2"]))


def test_command_line_change_is_searchable_at_once(world):
    s = world["settings"]
    cover, p1, p2 = world["v1"]
    done = run_cli(world["cfg"], "state", "patch", str(patch_pk(s, p1)), "accepted",
                   "--as", "maint")
    assert done.returncode == 0, done.stderr
    assert hits(s, "state:accepted") == {p1}
    # one of two patches accepted: the series (and so its cover letter) is under review
    assert hits(s, "state:under-review") == {cover}
    assert hits(s, "state:new") == {p2}


def test_site_form_and_api_changes_are_searchable_at_once(world):
    s = world["settings"]
    cover, p1, p2 = world["v1"]
    client = create_app(s).test_client()
    login(client)
    page = client.get(f"/patch/{patch_pk(s, p2)}/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    resp = client.post(f"/patch/{patch_pk(s, p2)}/state",
                       data={"state": "changes-requested", "csrf_token": token.group(1)})
    assert resp.status_code == 303
    assert hits(s, "state:changes-requested") == {p2, cover}
    api = create_app(s).test_client()
    resp = api.patch(f"/api/v1/patches/{patch_pk(s, p1)}", json={"state": "rejected"},
                     headers={"Authorization": f"Token {world['token']}"})
    assert resp.status_code == 200
    assert hits(s, "state:rejected") == {p1}
    # a refused change (no token) changes nothing, in the database or the index
    resp = api.patch(f"/api/v1/patches/{patch_pk(s, p1)}", json={"state": "accepted"})
    assert resp.status_code in (401, 403)
    assert hits(s, "state:accepted") == set()


def test_change_made_while_the_index_is_locked_is_indexed_at_the_next_catch_up(world):
    s = world["settings"]
    cover, p1, p2 = world["v1"]
    api = create_app(s).test_client()
    pk = patch_pk(s, p1)
    with uncommitted_writer(s.search_engine, s.index_dir):  # an ingest's writer, say
        started = time.monotonic()
        resp = api.patch(f"/api/v1/patches/{pk}", json={"state": "deferred"},
                         headers={"Authorization": f"Token {world['token']}"})
        waited = time.monotonic() - started
        assert resp.status_code == 200 and resp.get_json()["state"] == "deferred"
    # The request waits for the index as long as the site says (not the engine's 30 s lock
    # wait): far less than the engines' own timeout, even on a busy machine.
    assert waited < min(tantivyindex.LOCK_TIMEOUT, whooshindex.LOCK_TIMEOUT) / 2, waited
    assert hits(s, "state:deferred") == set()
    # the next ingest (here: a reply) catches the index up with the state change
    reply = (f"From x Thu Jan  1 00:00:00 1970\nFrom: Rev Iewer <rev@example.org>\n"
             f"Subject: Re: [PATCH 2/2] clk: add step 2\nDate: Mon, 04 Mar 2024 10:00:00 +0000\n"
             f"Message-ID: <late-reply@example.org>\nIn-Reply-To: <{p2}>\n"
             f"References: <{cover}> <{p2}>\n\nLooks fine.\n\n")
    path = world["cfg"].parent / "reply.mbox"
    path.write_text(reply)
    run_ingest(s, [str(path)], LIST)
    # deferred and new patches: the series counts as deferred
    assert hits(s, "state:deferred") == {p1, cover}


def test_git_scan_acceptance_is_searchable(world):
    s = world["settings"]
    cover, p1, p2 = world["v1"]
    repo = world["repo"]
    git(repo, "checkout", "-q", "-b", "applied", "main")
    patches = sorted((world["cfg"].parent / "v1").glob("000[1-9]-*.patch"))
    git(repo, "am", "-q", *map(str, patches))
    done = run_cli(world["cfg"], "git-scan", str(repo), "applied")
    assert done.returncode == 0, done.stderr
    assert hits(s, "state:accepted") == {p1, p2, cover}


def test_a_change_too_large_for_a_request_is_left_to_the_next_catch_up(world, monkeypatch):
    s = world["settings"]
    cover, p1, p2 = world["v1"]
    monkeypatch.setattr(web, "STATE_REFRESH_MAX", 2)  # the series, its cover and two patches
    api = create_app(s).test_client()
    with Worker(s).sessions() as session:
        series_id = session.scalar(select(Patch.series_id).where(Patch.msgid == p1))
    resp = api.patch(f"/api/v1/series/{series_id}", json={"state": "accepted"},
                     headers={"Authorization": f"Token {world['token']}"})
    assert resp.status_code == 200
    assert hits(s, "state:accepted") == set()
    # a catch-up does it, in batches when there are many
    monkeypatch.setattr(indexer, "BATCH", 1)
    assert indexer.refresh_states(s, Worker(s).sessions) == 3
    assert hits(s, "state:accepted") == {cover, p1, p2}
    assert indexer.refresh_states(s, Worker(s).sessions) == 0  # the watermark moved


@pytest.mark.parametrize("engine_name", ENGINES)
def test_demo_archive_answers_state_and_subsystem_searches(tmp_path, engine_name):
    """The demo imports MAINTAINERS and runs git-scan after its ingest: both facets follow;
    ``subsystem:`` takes the MAINTAINERS name or the subsystem's URL slug."""
    s = from_mapping({"limits": NO_LIMITS, "storage": {"data_dir": str(tmp_path / "instance")},
                      "search": {"enabled": True, "engine": engine_name}})
    assert run_demo(s, None, None, None, serve_site=False, out=io.StringIO()) == 0
    with Worker(s).sessions() as session:
        accepted = set(session.scalars(select(Patch.msgid).join(
            PatchState, PatchState.patch_id == Patch.id).where(PatchState.state == "accepted")))
        clock = set(session.scalars(select(Patch.msgid).join(
            PatchSubsystem, PatchSubsystem.patch_id == Patch.id).join(Subsystem).where(
                Subsystem.name == "CLOCK DEMO DRIVER")))
        slug = session.scalar(select(Subsystem.slug).where(Subsystem.name == "CLOCK DEMO DRIVER"))
    assert accepted and clock and slug
    assert accepted <= hits(s, "state:accepted")
    assert hits(s, 'subsystem:"CLOCK DEMO DRIVER"') == clock
    assert hits(s, f"subsystem:{slug}") == clock


def test_a_catch_up_with_nothing_to_follow_leaves_the_index_closed(world, monkeypatch):
    """A web server's follower asks every second: when every record is followed to its head it
    opens no index; a record moving on (here the state history, changed while the index was
    held) makes the next catch-up do the work."""
    s = world["settings"]
    cover, p1, _ = world["v1"]
    sessions = Worker(s).sessions

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the index was opened")

    with monkeypatch.context() as idle:
        idle.setattr(engine, "open_writer", refuse)
        assert indexer.catch_up(s, sessions) == 0
    with uncommitted_writer(s.search_engine, s.index_dir):
        resp = create_app(s).test_client().patch(
            f"/api/v1/patches/{patch_pk(s, p1)}", json={"state": "deferred"},
            headers={"Authorization": f"Token {world['token']}"})
        assert resp.status_code == 200
    with monkeypatch.context() as behind, pytest.raises(AssertionError):
        behind.setattr(engine, "open_writer", refuse)
        indexer.catch_up(s, sessions)
    assert indexer.catch_up(s, sessions) >= 1
    assert hits(s, "state:deferred") == {p1, cover}


def test_each_record_behind_its_head_is_followed(world):
    s = world["settings"]
    with Worker(s).sessions() as session:
        heads = follow.heads(session)
    assert heads.messages > 0
    assert indexer._followed(s, dataclasses.replace(heads), heads)
    for field in ("messages", "states", "checks", "visibility"):
        behind = dataclasses.replace(heads, **{field: getattr(heads, field) + 1})
        assert not indexer._followed(s, dataclasses.replace(heads), behind), field
    newer = dataclasses.replace(heads, subsystems=heads.subsystems + 1)
    assert not indexer._followed(s, heads, newer)
