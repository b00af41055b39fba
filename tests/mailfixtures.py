"""Helpers shared by tests that build archives from real mail and real git repositories."""

from __future__ import annotations

import gzip
import os
import subprocess
from pathlib import Path


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
