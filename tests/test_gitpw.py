"""The real ``git-pw`` (PyPI) against the site's ``/api/1.2/`` on a loopback port: it lists
patches, updates a state with a token (and is refused without one), lists series, and
``series apply`` downloads a series mbox and applies it with ``git am`` to a clone of the
series' base commit. The archive and accounts are those of :mod:`test_web_states`."""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server
from worlds import StatusWorld, history_of, state_of

GIT_PW = str(Path(sys.executable).parent / "git-pw")  # this environment's, not one on PATH
pytestmark = pytest.mark.skipif(not Path(GIT_PW).exists() or shutil.which("git") is None,
                                reason="git-pw or git is not installed")


@pytest.fixture(scope="module")
def server(status_world: StatusWorld, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[dict[str, Any]]:
    srv = make_server("127.0.0.1", 0, status_world.app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    home = tmp_path_factory.mktemp("gitpw-home")
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
           "GIT_CONFIG_NOSYSTEM": "1", "GIT_PAGER": "cat", "PAGER": "cat",
           "GIT_AUTHOR_DATE": "2025-06-03T10:00:00Z",
           "GIT_COMMITTER_DATE": "2025-06-03T10:00:00Z"}
    for key, value in (("pw.server", f"http://127.0.0.1:{srv.server_port}/api/1.2/"),
                       ("pw.project", "gizmo"), ("user.name", "Maint Ainer"),
                       ("user.email", "maint@example.org")):
        subprocess.run(["git", "config", "--global", key, value], env=env, check=True)
    try:
        yield {"env": env, "home": home, "port": srv.server_port}
    finally:
        srv.shutdown()
        thread.join(5)


def pw(server: dict[str, Any], *args: str, token: str | None = None,
       cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(server["env"])
    extra = ["--token", token] if token else []
    return subprocess.run([GIT_PW, *extra, *args], env=env, cwd=cwd or server["home"],
                          capture_output=True, text=True, timeout=120)


def rows(out: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(out)))


def set_state(w: StatusWorld, kind: str, oid: int, state: str) -> None:
    client = w.client()
    resp = client.patch(f"/api/v1/{'patches' if kind == 'patch' else 'series'}/{oid}",
                        json={"state": state},
                        headers={"Authorization": f"Token {w.tokens['root']}"})
    assert resp.status_code == 200, resp.get_data(as_text=True)


def test_patch_list_shows_open_patches_of_the_project(status_world, server):
    w = status_world
    set_state(w, "series", w.gizmo_series, "new")
    set_state(w, "patch", w.gizmo_patches[2], "accepted")
    done = pw(server, "patch", "list", "--format", "csv")
    assert done.returncode == 0, done.stderr
    listed = {int(r["ID"]): r for r in rows(done.stdout)}
    assert set(listed) == set(w.gizmo_patches[:2])  # default: new and under-review; no 'other'
    assert listed[w.gizmo_patches[0]]["State"] == "new"
    assert "gizmo step 1" in listed[w.gizmo_patches[0]]["Name"]
    assert "gizmo-dev@example.org" in listed[w.gizmo_patches[0]]["Submitter"]
    accepted = pw(server, "patch", "list", "--state", "accepted", "--format", "csv")
    assert [int(r["ID"]) for r in rows(accepted.stdout)] == [w.gizmo_patches[2]]


def test_patch_update_needs_a_token_with_rights(status_world, server):
    w = status_world
    pid = w.gizmo_patches[0]
    set_state(w, "patch", pid, "new")
    refused = pw(server, "patch", "update", "--state", "accepted", str(pid))
    assert refused.returncode != 0 and "Authentication information missing" in refused.stderr
    refused = pw(server, "patch", "update", "--state", "accepted", str(pid),
                 token=w.tokens["stranger"])
    assert refused.returncode != 0 and state_of(w, "patch", pid) == "new"
    refused = pw(server, "patch", "update", "--state", "accepted", str(pid), token="x" * 43)
    assert refused.returncode != 0 and state_of(w, "patch", pid) == "new"
    done = pw(server, "patch", "update", "--state", "accepted", "--commit-ref", "0123abcd" * 5,
              "--format", "csv", str(pid), token=w.tokens["maint"])
    assert done.returncode == 0, done.stderr
    shown = {r["Property"]: r["Value"] for r in rows(done.stdout)}
    assert shown["State"] == "accepted" and shown["Commit Ref"] == "0123abcd" * 5
    assert shown["Message ID"].startswith("<") and shown["Project"] == "gizmo"
    assert state_of(w, "patch", pid) == "accepted"
    entry = history_of(w, "patch", pid)[-1]
    assert (entry.to_value, entry.via, entry.evidence) == ("accepted", "api", "0123abcd" * 5)
    archived = pw(server, "patch", "update", "--archived", "true", "--format", "csv", str(pid),
                  token=w.tokens["maint"])
    assert archived.returncode == 0, archived.stderr
    assert {r["Property"]: r["Value"] for r in rows(archived.stdout)}["Archived"] == "True"
    pw(server, "patch", "update", "--archived", "false", str(pid), token=w.tokens["maint"])


def test_series_list_and_show(status_world, server):
    w = status_world
    done = pw(server, "series", "list", "--format", "csv")
    assert done.returncode == 0, done.stderr
    listed = {int(r["ID"]): r for r in rows(done.stdout)}
    assert set(listed) == {w.gizmo_series}
    assert listed[w.gizmo_series]["Version"] == "1"
    shown = pw(server, "series", "show", "--format", "csv", str(w.gizmo_series))
    assert shown.returncode == 0, shown.stderr
    props = rows(shown.stdout)
    assert {r["Property"]: r["Value"] for r in props}["Received"] == "3 of 3"
    assert sum(1 for r in props if r["Value"].split()[0].isdigit()
               and int(r["Value"].split()[0]) in w.gizmo_patches) == 3


def test_series_apply_runs_git_am(status_world, server, tmp_path):
    w = status_world
    clone = tmp_path / "clone"
    env = server["env"]
    subprocess.run(["git", "clone", "-q", str(w.repo), str(clone)], env=env, check=True)
    subprocess.run(["git", "checkout", "-q", "-b", "review", w.base_commit], cwd=clone,
                   env=env, check=True)
    done = pw(server, "series", "apply", str(w.gizmo_series), cwd=clone)
    assert done.returncode == 0, done.stderr
    log = subprocess.run(["git", "log", "--format=%s", f"{w.base_commit}..HEAD"], cwd=clone,
                         env=env, capture_output=True, text=True, check=True).stdout.split("\n")
    assert log[:3] == ["clk: gizmo step 3", "clk: gizmo step 2", "clk: gizmo step 1"]
    # the applied tree is the one the series was made from
    ours = subprocess.run(["git", "rev-parse", "HEAD^{tree}"], cwd=clone, env=env,
                          capture_output=True, text=True, check=True).stdout
    theirs = subprocess.run(["git", "rev-parse", "main^{tree}"], cwd=w.repo, env=env,
                            capture_output=True, text=True, check=True).stdout
    assert ours == theirs
