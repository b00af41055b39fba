"""Shared fixtures: real corpora beside the project, a settings object on a temporary data dir."""

from __future__ import annotations

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
