"""Shared fixtures: real corpora beside the project, a settings object on a temporary data dir."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from listarchive.settings import Settings, from_mapping

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT.parent / "shared" / "corpora"
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture
def corpora() -> Path:
    if not CORPORA.is_dir():
        pytest.skip("the shared corpora are not beside the project")
    return CORPORA


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return from_mapping({"storage": {"data_dir": str(tmp_path / "instance")},
                         "search": {"enabled": False}})


@pytest.fixture
def load_mail():
    def load(name: str) -> bytes:
        return (DATA / name).read_bytes()
    return load


def run_cli(args: list[str], cwd: Path, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """The real console script in a subprocess, as a user or a mail server runs it."""
    return subprocess.run([sys.executable, "-m", "listarchive.cli", *args], cwd=cwd,
                          input=stdin, capture_output=True, timeout=300)


@pytest.fixture
def cli():
    return run_cli
