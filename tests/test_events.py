"""``/api/1.2/events/``: Patchwork's categories derived from stored mail, history and checks,
newest first, paged by Link headers with no event on two pages (even when new events arrive
between pages), filtered by category, project and since; the Atom twin; read by the real
``pwclient event-list``; nothing about restricted mail."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import backends
import pytest
from automationworld import AutoWorld, build, serving

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
PWCLIENT = str(Path(sys.executable).parent / "pwclient")


@pytest.fixture(scope="module")
@backends.archive_fixture
def world(tmp_path_factory: pytest.TempPathFactory) -> AutoWorld:
    w = build(tmp_path_factory.mktemp("events"))
    client = w.app.test_client()
    token = {"Authorization": f"Token {w.tokens['root']}"}
    pid = w.patches["gizmo"][0]
    assert client.patch(f"/api/1.2/patches/{pid}/", headers=token,
                        json={"state": "under-review", "delegate": "maint"}).status_code == 200
    assert client.post(f"/api/1.2/patches/{pid}/checks/", headers=token,
                       json={"state": "success", "context": "ci/build"}).status_code == 201
    secret = w.patches["secret"][0]
    assert client.patch(f"/api/1.2/patches/{secret}/", headers=token,
                        json={"state": "rejected"}).status_code == 200
    return w


def next_link(resp) -> str | None:  # type: ignore[no-untyped-def]
    found = re.search(r'<([^>]+)>; rel="next"', resp.headers.get("Link", ""))
    return found.group(1) if found else None


def walk(client, url: str) -> list[dict]:  # type: ignore[no-untyped-def]
    out = []
    while url:
        resp = client.get(url)
        assert resp.status_code == 200, resp.get_data(as_text=True)
        out.extend(resp.get_json())
        url = next_link(resp)
        url = url[url.index("/api/"):] if url else ""
    return out


def test_every_category_with_patchworks_shape(world):
    client = world.client()
    found = walk(client, "/api/1.2/events/?per_page=200")
    categories = {e["category"] for e in found}
    assert categories == {"patch-created", "cover-created", "series-created",
                          "series-completed", "patch-state-changed", "patch-delegated",
                          "check-created"}
    for e in found:
        assert set(e) == {"id", "category", "project", "date", "actor", "payload"}
    changed = next(e for e in found if e["category"] == "patch-state-changed")
    assert (changed["payload"]["previous_state"], changed["payload"]["current_state"]) == \
        ("new", "under-review")
    assert changed["actor"]["username"] == "root" and changed["project"]["name"] == "gizmo"
    delegated = next(e for e in found if e["category"] == "patch-delegated")
    assert delegated["payload"]["current_delegate"]["username"] == "maint"
    check = next(e for e in found if e["category"] == "check-created")
    assert check["payload"]["check"]["context"] == "ci/build"
    series = next(e for e in found if e["category"] == "series-completed")
    assert series["payload"]["series"]["id"] in world.series.values()
    dates = [e["date"] for e in found]  # to the second: the order within one is the id's
    assert dates == sorted(dates, reverse=True) and len({e["id"] for e in found}) == len(found)


def test_restricted_mail_makes_no_event(world):
    text = world.client().get("/api/1.2/events/?per_page=200").get_data(as_text=True)
    assert "secret" not in text and "rejected" not in text


def test_pages_never_repeat_even_when_events_arrive_between_them(world):
    client = world.client()
    everything = walk(client, "/api/1.2/events/?per_page=200")
    first = client.get("/api/1.2/events/?per_page=3")
    page = first.get_json()
    assert len(page) == 3
    # a new event arrives before the second page is fetched
    pid = world.patches["other"][0]
    client.post(f"/api/1.2/patches/{pid}/checks/",
                headers={"Authorization": f"Token {world.tokens['root']}"},
                json={"state": "fail", "context": "ci/late"})
    url = next_link(first)
    rest = walk(client, url[url.index("/api/"):])
    ids = [e["id"] for e in page + rest]
    assert len(ids) == len(set(ids)), "an event came twice"
    assert sorted(ids) == sorted(e["id"] for e in everything)


def test_filters(world):
    client = world.client()
    checks = walk(client, "/api/1.2/events/?category=check-created")
    assert checks and {e["category"] for e in checks} == {"check-created"}
    two = walk(client, "/api/1.2/events/?category=series-created,cover-created&project=other")
    assert {e["category"] for e in two} == {"series-created", "cover-created"}
    assert {e["project"]["name"] for e in two} == {"other"}
    assert walk(client, "/api/1.2/events/?since=2999-01-01T00:00:00") == []
    for bad, status in (("category=nope", 400), ("since=yesterday", 400), ("cursor=x", 400),
                        ("project=nosuch", 404), ("project=secret", 404), ("per_page=x", 400)):
        resp = client.get(f"/api/1.2/events/?{bad}")
        assert resp.status_code == status, bad
        assert resp.get_json()["error"]


def test_atom_twin(world):
    resp = world.client().get("/api/1.2/events/atom?category=patch-state-changed")
    assert resp.status_code == 200 and resp.mimetype == "application/atom+xml"
    root = ET.fromstring(resp.data)
    titles = [t.text for t in root.iter("{http://www.w3.org/2005/Atom}title")]
    assert any("patch-state-changed" in (t or "") and "under-review" in (t or "")
               for t in titles)
    assert b"secret" not in resp.data


@pytest.mark.skipif(not Path(PWCLIENT).exists(), reason="pwclient is not installed")
def test_pwclient_event_list(world, tmp_path):
    with serving(world.app) as port:
        (tmp_path / ".pwclientrc").write_text(
            f"[options]\ndefault = gizmo\n\n[gizmo]\nbackend = rest\n"
            f"url = http://127.0.0.1:{port}/api/1.2/\n")
        env = {**os.environ, "HOME": str(tmp_path)}
        env.pop("PWCLIENTRC", None)
        done = subprocess.run([PWCLIENT, "event-list", "-c", "series-created"], env=env,
                              capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "series-created" in done.stdout
