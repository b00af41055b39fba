"""The real b4 against the site: ``b4 am`` fetches a series over HTTP and ``git am`` applies it.

A small repository and a threaded series with a cover letter are made with ``git format-patch``,
ingested, served on a loopback port, fetched back with ``b4 am`` (by message URL, and through
``b4.midmask`` pointing at ``/r/%s``) and applied to a clone of the base commit.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import backends
import pytest
from mailfixtures import NO_LIMITS
from werkzeug.serving import make_server

from ingest.worker import run_ingest
from listarchive.settings import from_mapping

# The b4 of this environment (the dev extra), never another one found on PATH: Debian ships an
# older b4 whose `am` behaves differently.
B4 = str(Path(sys.executable).parent / "b4")
pytestmark = pytest.mark.skipif(not Path(B4).exists() or shutil.which("git") is None,
                                reason="b4 or git is not installed")


def git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                          env=env).stdout


@pytest.fixture(scope="module")
@backends.archive_fixture
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    base = tmp_path_factory.mktemp("b4")
    home = base / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
           "XDG_CACHE_HOME": str(home / ".cache"), "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_AUTHOR_DATE": "2024-01-01T10:00:00Z", "GIT_COMMITTER_DATE": "2024-01-01T10:00:00Z"}
    repo = base / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main", env=env)
    git(repo, "config", "user.name", "Dev Eloper", env=env)
    git(repo, "config", "user.email", "dev@example.org", env=env)
    (repo / "clk.c").write_text("int rate(void)\n{\n\treturn 0;\n}\n")
    git(repo, "add", "clk.c", env=env)
    git(repo, "commit", "-qm", "base", env=env)
    for n in (1, 2, 3):
        (repo / "clk.c").write_text((repo / "clk.c").read_text() + f"/* step {n} */\n")
        (repo / f"new{n}.c").write_text(f"int f{n};\n")
        git(repo, "add", ".", env=env)
        git(repo, "commit", "-qm", f"clk: step {n}\n\nExplain step {n}.", env=env)
    out = base / "series"
    git(repo, "format-patch", "-q", "--thread", "--cover-letter", "-o", str(out),
        "--to=linux-clk@example.org", "HEAD~3", env=env)
    settings = from_mapping({"limits": NO_LIMITS, "storage": {"data_dir": str(base / "instance")},
                             "search": {"enabled": False}})
    run_ingest(settings, [str(p) for p in sorted(out.glob("*.patch"))], "linux-clk")
    cover = next(out.glob("0000-*.patch")).read_text()
    found = re.search(r"^Message-I[dD]: <([^>]+)>", cover, re.M)
    assert found is not None
    msgid = found.group(1)

    from listarchive.web import create_app

    server = make_server("127.0.0.1", 0, create_app(settings), threaded=True)
    port = server.server_port
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    git(home, "config", "--global", "b4.midmask", f"http://127.0.0.1:{port}/r/%s", env=env)
    git(home, "config", "--global", "b4.linkmask", f"http://127.0.0.1:{port}/r/%s", env=env)
    git(home, "config", "--global", "user.name", "Maint Ainer", env=env)
    git(home, "config", "--global", "user.email", "maint@example.org", env=env)
    try:
        yield {"env": env, "repo": repo, "port": port, "msgid": msgid, "base": base,
               "head": git(repo, "rev-parse", "HEAD~3", env=env).strip()}
    finally:
        server.shutdown()
        thread.join(5)


def apply_with_b4(world: dict[str, object], target: str, name: str) -> None:
    env = world["env"]
    assert isinstance(env, dict)
    base = world["base"]
    assert isinstance(base, Path)
    outdir = base / f"out-{name}"
    done = subprocess.run([B4, "am", "-o", str(outdir), target], cwd=base, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr + done.stdout
    mboxes = sorted(outdir.glob("*.mbx"))
    assert mboxes, done.stderr
    work = base / f"apply-{name}"
    git(base, "clone", "-q", str(world["repo"]), str(work), env=env)
    git(work, "checkout", "-q", str(world["head"]), env=env)
    git(work, "am", str(mboxes[0]), env=env)
    log = git(work, "log", "--format=%s", env=env).splitlines()
    assert log[:3] == ["clk: step 3", "clk: step 2", "clk: step 1"]
    assert (work / "new3.c").read_text() == "int f3;\n"


def test_b4_am_by_message_url_applies_with_git_am(world):
    apply_with_b4(world, f"http://127.0.0.1:{world['port']}/linux-clk/{world['msgid']}/", "url")


def test_b4_am_by_msgid_through_midmask_applies_with_git_am(world):
    apply_with_b4(world, str(world["msgid"]), "midmask")
