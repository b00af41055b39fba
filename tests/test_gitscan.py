"""``listarchive git-scan`` against a real git repository made here.

A topic branch of three commits is sent as a threaded series with ``git format-patch``, together
with a lone patch nobody applies; the series is archived, applied with ``git am`` onto a
maintainer's branch, and the scan must mark exactly its three patches accepted with the ids of
the commits ``git am`` made. Later scans read only new commits.
"""

from __future__ import annotations

import email
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from listarchive.archive.db import make_engine, make_sessionmaker, open_archive
from listarchive.archive.models import Patch, PatchState, StateChange
from listarchive.review.gitscan import match_commits, read_commits, scan
from listarchive.settings import Settings

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

ENV = {**os.environ, "GIT_AUTHOR_NAME": "Dev Eloper", "GIT_AUTHOR_EMAIL": "dev@example.org",
       "GIT_COMMITTER_NAME": "Maint Ainer", "GIT_COMMITTER_EMAIL": "maint@example.org",
       "GIT_AUTHOR_DATE": "2024-03-01T10:00:00Z", "GIT_COMMITTER_DATE": "2024-03-02T10:00:00Z",
       "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def git(cwd: Path, *args: str, stdin: bytes | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=ENV, check=True, capture_output=True,
                          input=stdin).stdout.decode()


def commit_file(repo: Path, name: str, text: str, message: str) -> None:
    (repo / name).write_text(text)
    git(repo, "add", name)
    git(repo, "commit", "-q", "-m", message)


def config(tmp_path: Path) -> Path:
    path = tmp_path / "listarchive.toml"
    path.write_text(f'[storage]\ndata_dir = "{tmp_path / "instance"}"\n\n'
                    f'[search]\nenabled = false\n')
    return path


def msgid_of(path: Path) -> str:
    return email.message_from_bytes(path.read_bytes())["Message-ID"].strip().strip("<>")


@pytest.fixture
def world(tmp_path: Path, cli) -> dict[str, object]:
    """A repo with main + topic (3 commits) + stray (1 commit), their mails archived, and a
    maintainer's ``applied`` branch where ``git am`` applied the topic series."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit_file(repo, "clk.c", "int rate;\n", "base")
    git(repo, "checkout", "-q", "-b", "topic")
    for n in range(1, 4):
        commit_file(repo, f"clk{n}.c", f"int step{n} = {n};\n",
                    f"clk: add step {n}\n\nExplain step {n}.")
    git(repo, "checkout", "-q", "-b", "stray", "main")
    commit_file(repo, "other.c", "int other;\n", "clk: unrelated change")
    out = tmp_path / "out"
    git(repo, "format-patch", "-q", "--thread", "--cover-letter", "-o", str(out / "topic"),
        "main..topic")
    git(repo, "format-patch", "-q", "--thread", "-o", str(out / "stray"), "main..stray")
    mbox = tmp_path / "sent.mbox"
    mails = sorted((out / "topic").glob("*.patch"))
    mbox.write_bytes(b"".join(p.read_bytes().replace(b"*** SUBJECT HERE ***", b"clk: steps")
                              + b"\n" for p in [*mails, *sorted((out / "stray").glob("*"))]))
    cfg = config(tmp_path)
    done = cli(["-c", str(cfg), "ingest", "--list", "linux-clk", str(mbox)], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    git(repo, "checkout", "-q", "-b", "applied", "main")
    git(repo, "am", "-q", *[str(p) for p in mails[1:]])
    applied = git(repo, "log", "--reverse", "--format=%H", "main..applied").split()
    return {"repo": repo, "cfg": cfg, "patches": [msgid_of(p) for p in mails[1:]],
            "stray": msgid_of(next((out / "stray").glob("*"))), "applied": applied,
            "tmp": tmp_path}


def states(settings_path: Path) -> dict[str, tuple[str, str]]:
    """msgid -> (state, evidence of the last change) for every patch with a decided state."""
    from listarchive.settings import load

    engine = make_engine(load(str(settings_path)))
    with make_sessionmaker(engine)() as session:
        out = {}
        for msgid, state, pid in session.execute(
                select(Patch.msgid, PatchState.state, Patch.id)
                .join(PatchState, PatchState.patch_id == Patch.id)):
            evidence = session.scalars(select(StateChange.evidence)
                                       .where(StateChange.object_kind == "patch",
                                              StateChange.object_id == pid)
                                       .order_by(StateChange.id.desc())).first()
            out[msgid] = (state, evidence or "")
    engine.dispose()
    return out


def history_count(settings_path: Path) -> int:
    from listarchive.settings import load

    engine = make_engine(load(str(settings_path)))
    with make_sessionmaker(engine)() as session:
        count = session.scalar(select(func.count()).select_from(StateChange)) or 0
    engine.dispose()
    return count


def test_scan_marks_exactly_the_applied_patches_with_their_commits(world, cli):
    cfg, tmp = world["cfg"], world["tmp"]
    done = cli(["-c", str(cfg), "git-scan", str(world["repo"]), "applied"], cwd=tmp)
    assert done.returncode == 0, done.stderr
    assert b"read 4 new commits" in done.stdout  # base + the three applied ones
    assert b"3 marked accepted" in done.stdout
    found = states(cfg)
    assert found == {m: ("accepted", sha) for m, sha in zip(world["patches"], world["applied"],
                                                           strict=True)}
    assert world["stray"] not in found
    before = history_count(cfg)
    again = cli(["-c", str(cfg), "git-scan", str(world["repo"]), "applied"], cwd=tmp)
    assert again.returncode == 0 and b"read 0 new commits" in again.stdout
    assert history_count(cfg) == before
    assert states(cfg) == found


def test_later_scan_reads_only_new_commits_and_falls_back_to_author_and_subject(world, cli):
    cfg, tmp, repo = world["cfg"], world["tmp"], world["repo"]
    assert cli(["-c", str(cfg), "git-scan", str(repo), "applied"], cwd=tmp).returncode == 0
    # The maintainer applies the stray patch but edits it on the way: the patch-id differs,
    # author and subject stay.
    git(repo, "checkout", "-q", "applied")
    commit_file(repo, "other.c", "int other; /* edited by the maintainer */\n",
                "clk: unrelated change")
    sha = git(repo, "rev-parse", "HEAD").strip()
    done = cli(["-c", str(cfg), "git-scan", str(repo), "applied"], cwd=tmp)
    assert b"read 1 new commits" in done.stdout and b"1 marked accepted" in done.stdout
    assert states(cfg)[world["stray"]] == ("accepted", sha)


def test_scan_of_a_branch_without_the_series_changes_nothing(world, cli):
    done = cli(["-c", str(world["cfg"]), "git-scan", str(world["repo"]), "main"],
               cwd=world["tmp"])
    assert done.returncode == 0 and b"0 marked accepted" in done.stdout
    assert states(world["cfg"]) == {}


def test_unknown_repository_or_branch_is_a_usage_error(world, cli, tmp_path):
    cfg = world["cfg"]
    assert cli(["-c", str(cfg), "git-scan", str(tmp_path / "nope")], cwd=tmp_path).returncode == 2
    bad = cli(["-c", str(cfg), "git-scan", str(world["repo"]), "no-such-branch"], cwd=tmp_path)
    assert bad.returncode == 2 and b"no-such-branch" in bad.stderr


def test_rewritten_history_is_read_again(world, settings: Settings):
    repo = world["repo"]
    engine = open_archive(settings).engine
    with make_sessionmaker(engine).begin() as session:
        first = scan(session, repo, "stray")
        assert first.commits == 2
    git(repo, "checkout", "-q", "stray")
    git(repo, "reset", "-q", "--hard", "main")
    commit_file(repo, "x.c", "int x;\n", "clk: replaced history")
    git(repo, "reflog", "expire", "--expire=now", "--all")
    git(repo, "gc", "-q", "--prune=now")
    with make_sessionmaker(engine).begin() as session:
        assert scan(session, repo, "stray").commits == 2  # the old tip is gone: all again
    engine.dispose()


def test_read_commits_patch_ids_equal_git_patch_id(world):
    repo = world["repo"]
    commits = read_commits(repo, ["applied"])
    assert [c.sha for c in commits][1:] == world["applied"]
    for commit in commits[1:]:
        show = subprocess.run(["git", "show", commit.sha], cwd=repo, capture_output=True,
                              check=True).stdout
        expected = git(repo, "patch-id", "--stable", stdin=show).split()[0]
        assert commit.patch_id == expected
    assert commits[1].author_email == "dev@example.org"
    assert commits[1].subject == "clk: add step 1"


@pytest.mark.slow
def test_scan_speed_ten_thousand_commits(tmp_path: Path, settings: Settings):
    """10k commits (made with fast-import) against an archive without matches: the git side and
    the matching must stay well under the 30 s target."""
    repo = tmp_path / "big"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    stream = []
    for n in range(10_000):
        body = f"int v{n} = {n};\n".encode()
        msg = f"drv: change {n}".encode()
        stream.append(b"commit refs/heads/main\n")
        stream.append(b"author Dev <dev@example.org> 1700000000 +0000\n")
        stream.append(b"committer Dev <dev@example.org> 1700000000 +0000\n")
        stream.append(b"data %d\n%s\n" % (len(msg), msg))
        stream.append(b"M 100644 inline f%d.c\ndata %d\n%s\n" % (n % 500, len(body), body))
    git(repo, "fast-import", "--quiet", stdin=b"".join(stream))
    engine = open_archive(settings).engine
    started = time.monotonic()
    with make_sessionmaker(engine).begin() as session:
        result = scan(session, repo, "main")
        assert match_commits(session, read_commits(repo, ["main~5"])) == {}
    assert result.commits == 10_000
    assert time.monotonic() - started < 30
    engine.dispose()
