"""CI checks end to end: a bot account made with the console script posts checks with the real
``pwclient check-create``; ``pwclient check-list``/``check-info`` and ``git-pw patch show`` read
them back; the combined state follows Patchwork's rule and shows on pages, in ``/api/v1`` and
in search (``check:fail``, ``check:CONTEXT:fail``); a bot scoped to one list cannot post on
another, nor change states; restricted patches keep their checks hidden."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import backends
import pytest
from automationworld import AutoWorld, build, serving

from listarchive.review.checks import combine

PWCLIENT = str(Path(sys.executable).parent / "pwclient")
GIT_PW = str(Path(sys.executable).parent / "git-pw")


@pytest.fixture(scope="module")
@backends.archive_fixture
def world(tmp_path_factory: pytest.TempPathFactory) -> AutoWorld:
    return build(tmp_path_factory.mktemp("checks"))


@pytest.fixture(scope="module")
def server(world: AutoWorld, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[dict[str, Any]]:
    home = tmp_path_factory.mktemp("pw-home")
    with serving(world.app) as port:
        url = f"http://127.0.0.1:{port}/api/1.2"
        (home / ".pwclientrc").write_text(
            f"[options]\ndefault = gizmo\n\n[gizmo]\nbackend = rest\nurl = {url}/\n"
            f"token = {world.tokens['ci-gizmo']}\n")
        env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
               "GIT_CONFIG_NOSYSTEM": "1", "PAGER": "cat", "GIT_PAGER": "cat"}
        env.pop("PWCLIENTRC", None)
        yield {"env": env, "home": home, "url": url, "port": port}


def run(server: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), env=server["env"], cwd=server["home"],
                          capture_output=True, text=True, timeout=120)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Token {token}"}


@pytest.mark.parametrize(("states", "combined"), [
    ([], None), (["success"], "success"), (["pending", "success"], "success"),
    (["success", "warning"], "warning"), (["warning", "fail", "success"], "fail"),
    (["pending"], "pending")])
def test_combined_state_is_patchworks_rule(states, combined):
    assert combine(states) == combined


@pytest.mark.skipif(not Path(PWCLIENT).exists(), reason="pwclient is not installed")
def test_pwclient_posts_and_reads_checks(world, server):
    pid = world.patches["gizmo"][0]
    for context, state in (("ci/build", "pending"), ("ci/build", "success"),
                           ("ci/sparse", "fail")):
        done = run(server, PWCLIENT, "check-create", "-c", context, "-s", state,
                   "-u", f"https://ci.example.org/{context}/{state}", "-d", f"{state} run",
                   str(pid))
        assert done.returncode == 0, done.stdout + done.stderr
    listed = run(server, PWCLIENT, "check-list", str(pid))
    assert listed.returncode == 0, listed.stderr
    lines = [line.split() for line in listed.stdout.splitlines()[2:]]
    assert [(row[1], row[2]) for row in lines] == [
        ("ci/build", "pending"), ("ci/build", "success"), ("ci/sparse", "fail")]
    info = run(server, PWCLIENT, "check-info", str(pid), lines[2][0])
    assert info.returncode == 0, info.stderr
    assert "https://ci.example.org/ci/sparse/fail" in info.stdout
    assert "ci-gizmo" in info.stdout and "fail run" in info.stdout
    # Patchwork's combined state: the newest per context, the worst of those.
    shown = world.client().get(f"/api/1.2/patches/{pid}/").get_json()
    assert shown["check"] == "fail"
    assert shown["checks"].endswith(f"/api/1.2/patches/{pid}/checks/")
    if Path(GIT_PW).exists():
        env = server["env"]
        for key, value in (("pw.server", server["url"] + "/"), ("pw.project", "gizmo")):
            subprocess.run(["git", "config", "--global", key, value], env=env, check=True)
        git_pw = run(server, GIT_PW, "patch", "show", "--format", "csv", str(pid))
        assert git_pw.returncode == 0, git_pw.stderr
        assert "gizmo step 1" in git_pw.stdout


def test_check_fields_are_patchworks(world):
    pid = world.patches["gizmo"][1]
    client = world.client()
    posted = client.post(f"/api/1.2/patches/{pid}/checks/", headers=auth(world.tokens["maint"]),
                         json={"state": "warning", "context": "ci/checkpatch",
                               "target_url": "https://ci.example.org/1",
                               "description": "2 warnings"})
    assert posted.status_code == 201, posted.get_data(as_text=True)
    body = posted.get_json()
    assert set(body) == {"id", "url", "user", "date", "state", "target_url", "context",
                         "description"}
    assert body["user"]["username"] == "maint" and body["state"] == "warning"
    one = client.get(f"/api/1.2/patches/{pid}/checks/{body['id']}/")
    assert one.status_code == 200 and one.get_json() == body
    assert client.get(f"/api/1.2/patches/{pid}/checks/999999/").status_code == 404
    form = client.post(f"/api/1.2/patches/{pid}/checks/", headers=auth(world.tokens["root"]),
                       data={"state": "success", "context": "ci/form"})
    assert form.status_code == 201


@pytest.mark.parametrize(("fields", "says"), [
    ({"state": "broken"}, "state"), ({}, "state"),
    ({"state": "fail", "context": "bad context!"}, "context"),
    ({"state": "fail", "target_url": "javascript:alert(1)"}, "target_url"),
    ({"state": "fail", "description": "x" * 3000}, "description"),
    ({"state": 3}, "string")])
def test_bad_checks_get_a_readable_400(world, fields, says):
    pid = world.patches["gizmo"][2]
    resp = world.client().post(f"/api/1.2/patches/{pid}/checks/",
                               headers=auth(world.tokens["ci-gizmo"]), json=fields)
    assert resp.status_code == 400 and says in resp.get_json()["error"]
    bad = world.client().post(f"/api/1.2/patches/{pid}/checks/", headers={
        **auth(world.tokens["ci-gizmo"]), "Content-Type": "application/json"}, data=b"[1,")
    assert bad.status_code == 400


def test_a_bot_scoped_to_one_list_cannot_post_on_another_or_change_states(world):
    client = world.client()
    token = auth(world.tokens["ci-gizmo"])
    other = world.patches["other"][0]
    refused = client.post(f"/api/1.2/patches/{other}/checks/", headers=token,
                          json={"state": "fail", "context": "ci/build"})
    assert refused.status_code == 403 and "ci-gizmo" in refused.get_json()["error"]
    assert client.get(f"/api/1.2/patches/{other}/checks/").get_json() == []
    assert client.post(f"/api/1.2/patches/{other}/checks/",
                       json={"state": "fail"}).status_code == 401
    # Its grant on gizmo is for checks: no state changes, with either API.
    mine = world.patches["gizmo"][0]
    assert client.patch(f"/api/1.2/patches/{mine}/", headers=token,
                        json={"state": "accepted"}).status_code == 403
    assert client.patch(f"/api/v1/patches/{mine}", headers=token,
                        json={"state": "accepted"}).status_code == 403


def test_restricted_patches_keep_their_checks_hidden(world):
    client = world.client()
    secret = world.patches["secret"][0]
    posted = client.post(f"/api/1.2/patches/{secret}/checks/",
                         headers=auth(world.tokens["root"]),
                         json={"state": "fail", "context": "ci/secretcheck"})
    assert posted.status_code == 201
    cid = posted.get_json()["id"]
    assert client.get(f"/api/1.2/patches/{secret}/checks/").status_code == 404
    assert client.get(f"/api/1.2/patches/{secret}/checks/{cid}/").status_code == 404
    # a bot of another list is told nothing either
    assert client.post(f"/api/1.2/patches/{secret}/checks/",
                       headers=auth(world.tokens["ci-gizmo"]),
                       json={"state": "fail"}).status_code == 404
    found = client.get("/api/v1/search?q=check:ci/secretcheck:fail").get_json()
    assert found["total"] == 0
    assert "ci/secretcheck" not in client.get("/api/1.2/events/?per_page=200").get_data(
        as_text=True)


def test_badges_on_pages_and_in_json(world):
    client = world.client()
    pid = world.patches["gizmo"][0]
    sid = world.series["gizmo"]
    client.post(f"/api/1.2/patches/{pid}/checks/", headers=auth(world.tokens["ci-gizmo"]),
                json={"state": "fail", "context": "ci/badge"})
    patch = client.get(f"/api/v1/patches/{pid}").get_json()
    assert patch["checks"]["state"] == "fail"
    assert {"context": "ci/badge", "state": "fail"}.items() <= patch["checks"]["contexts"][0].items() \
        or any(c["context"] == "ci/badge" for c in patch["checks"]["contexts"])
    series = client.get(f"/api/v1/series/{sid}").get_json()
    assert series["checks"] == "fail"
    for page in (f"/patch/{pid}/", f"/series/{sid}/", "/gizmo/series/", "/gizmo/queue/"):
        html = client.get(page).get_data(as_text=True)
        assert 'class="check check-fail"' in html, page
    other = client.get(f"/series/{world.series['other']}/").get_data(as_text=True)
    assert 'class="check ' not in other


def test_search_finds_checks_by_state_and_context(world):
    client = world.client()
    pid = world.patches["gizmo"][2]
    posted = client.post(f"/api/1.2/patches/{pid}/checks/",
                         headers=auth(world.tokens["ci-gizmo"]),
                         json={"state": "fail", "context": "ci/searchme"})
    assert posted.status_code == 201
    found = client.get("/api/v1/search?q=check:ci/searchme:fail").get_json()
    assert [r["subject"] for r in found["results"]] == ["[PATCH 3/3] clk: gizmo step 3"]
    assert found["total"] == 1
    assert client.get("/api/v1/search?q=check:ci/searchme:success").get_json()["total"] == 0
    client.post(f"/api/1.2/patches/{pid}/checks/", headers=auth(world.tokens["ci-gizmo"]),
                json={"state": "success", "context": "ci/searchme"})
    # the newest check of the context counts: the document follows it
    assert client.get("/api/v1/search?q=check:ci/searchme:fail").get_json()["total"] == 0
    assert client.get("/api/v1/search?q=check:ci/searchme:success").get_json()["total"] == 1
    assert client.get("/api/v1/search?q=check:fail").get_json()["total"] >= 1
    bad = client.get("/api/v1/search?q=check:broken")
    assert bad.status_code == 400 and "check:" in bad.get_json()["error"]


def test_bot_command_line(world):
    listed = world.cli("user", "list")
    assert listed.returncode == 0
    assert any(line.startswith("ci-gizmo\tci@example.org\tbot\tlist:gizmo")
               for line in listed.stdout.decode().splitlines())
    refused = world.cli("user", "add", "evil", "--email", "e@example.org", "--bot", "--admin")
    assert refused.returncode != 0 and b"admin" in refused.stderr


def test_unsupported_patchwork_endpoints_say_so(world):
    client = world.client()
    resp = client.get("/api/1.2/bundles/")
    assert resp.status_code == 404 and "bundles" in resp.get_json()["error"]
    assert "no list named" not in resp.get_data(as_text=True)
    nope = client.get("/api/1.2/nonsense/")
    assert nope.status_code == 404 and "not supported" in nope.get_json()["error"]


def test_comments_are_the_replies(world):
    client = world.client()
    pid = world.patches["gizmo"][0]
    assert client.get(f"/api/1.2/patches/{pid}/comments/").get_json() == []
    assert client.get(f"/api/1.2/patches/{world.patches['secret'][0]}/comments/"
                      ).status_code == 404


pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
