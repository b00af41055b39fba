"""Helpers shared by tests that build archives from real mail and real git repositories."""

from __future__ import annotations

import gzip
import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

# The [limits] of test archives whose sites are driven harder than a person would: none.
NO_LIMITS = {"search": "", "download": "", "api": ""}

# Message-IDs of data/web-odd-msgids.mbox: "/ + % $ &" and non-ASCII, as URLs must carry them.
ODD_IDS = ("odd/slash+plus@example.org", "50%off$deal&co@example.org",
           "grüße.ñ@例え.example", "ends/T@example.org", "2024/raw@example.org")


def first_messages(source: Path, count: int) -> bytes:
    """The first ``count`` messages of a (gzipped) mboxrd file, still mboxrd."""
    out: list[bytes] = []
    seen = 0
    prev_blank = True
    with gzip.open(source, "rb") as fh:
        for line in fh:
            if line.startswith(b"From ") and prev_blank:
                seen += 1
                if seen > count:
                    break
            out.append(line)
            prev_blank = line.strip() == b""
    return b"".join(out)


def git(cwd: Path, *args: str) -> str:
    """git with fixed dates and no user configuration, so that commits are reproducible."""
    env = {**os.environ, "GIT_AUTHOR_DATE": "2025-06-02T10:00:00Z",
           "GIT_COMMITTER_DATE": "2025-06-02T10:00:00Z", "GIT_CONFIG_NOSYSTEM": "1",
           "HOME": str(cwd)}
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                          env=env).stdout


def revisions_and_rfc(base: Path, git: Callable[..., str],
                      send: Callable[..., T]) -> dict[str, T]:
    """From a real repository under ``base``: v1 and v2 (patch 2 reworked) of a two-patch
    series on branch ``topic``, and an RFC of another one on ``idea``, each as ``send(repo,
    out_dir, *format_patch_args)`` returns them."""
    repo = base / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "clk.c").write_text("int rate;\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "base")
    git(repo, "checkout", "-q", "-b", "topic")
    for n in (1, 2):
        (repo / f"clk{n}.c").write_text(f"int step{n};\n")
        git(repo, "add", ".")
        git(repo, "commit", "-qm", f"clk: add step {n}\n\nExplain step {n}.")
    v1 = send(repo, base / "v1", "main..topic")
    (repo / "clk2.c").write_text("int step2 = 2;\n")
    git(repo, "commit", "-qa", "--amend", "-m", "clk: add step 2\n\nNow initialised.")
    v2 = send(repo, base / "v2", "-v2", "main..topic")
    git(repo, "checkout", "-q", "-b", "idea", "main")
    (repo / "idea.c").write_text("int idea;\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "clk: an idea")
    rfc = send(repo, base / "rfc", "--rfc", "main..idea")
    return {"v1": v1, "v2": v2, "rfc": rfc}


# A developer's git: fixed identity and dates, no user or system configuration.
DEV_ENV = {**os.environ, "GIT_AUTHOR_NAME": "Dev Eloper", "GIT_AUTHOR_EMAIL": "dev@example.org",
           "GIT_COMMITTER_NAME": "Dev Eloper", "GIT_COMMITTER_EMAIL": "dev@example.org",
           "GIT_AUTHOR_DATE": "2024-03-01T10:00:00Z",
           "GIT_COMMITTER_DATE": "2024-03-01T10:00:00Z",
           "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def dev_git(cwd: Path, *args: str) -> str:
    """git as the developer of :data:`DEV_ENV`."""
    return subprocess.run(["git", *args], cwd=cwd, env=DEV_ENV, check=True,
                          capture_output=True).stdout.decode()


@dataclass(frozen=True)
class Site:
    """The archive the web tests read (the ``site`` fixture of conftest.py) and its app."""

    settings: object
    app: object
    has_corpus: bool


_FORMAT_PATCH_MSGID = re.compile(rb"<([0-9a-f]{40}|cover)\.\d+\.git\.")
_SUBJECT_HERE = b"*** SUBJECT HERE ***"


def format_patch(git_: Callable[..., str], repo: Path, out: Path, *args: str) -> list[bytes]:
    """The mails of ``git format-patch --thread --cover-letter`` as bytes, made reproducible.

    git writes Message-IDs as ``<commit or "cover">.<seconds since the epoch>.git.<committer>``:
    the wall-clock second is replaced by the output directory's name (``v1``, ``v2``, ``rfc``),
    so that two runs give the same mail and an unchanged patch sent again in a reroll gets an id
    of its own. The cover letter's placeholder subject becomes ``clk: steps`` (``clk: an idea``
    for an ``rfc`` directory: another piece of work, not a revision of the steps).
    """
    git_(repo, "format-patch", "-q", "--thread", "--cover-letter", "-o", str(out), *args)
    subject = b"clk: an idea" if out.name == "rfc" else b"clk: steps"
    tag = rb"<\1." + out.name.encode() + rb".git."
    return [_FORMAT_PATCH_MSGID.sub(tag, p.read_bytes().replace(_SUBJECT_HERE, subject))
            for p in sorted(out.glob("*.patch"))]
