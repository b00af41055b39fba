"""The archive the web tests read, built once per test run (no tests of its own here).

Real mail first: the first 1,500 messages of the linux-clk corpus (../shared/corpora/lore), plus
hand-made fixtures: the XSS corpus (``data/xss-*.eml``) on list ``hostile``, Message-IDs with
``/ + % $ &`` and non-ASCII (``data/web-odd-msgids.mbox``) on ``odd``, and one reply on the
restricted list ``secret`` (``data/web-restricted.eml``) that anonymous readers must never see.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mailfixtures
import pytest

from ingest.worker import run_ingest
from listarchive.settings import Settings, from_mapping

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpora" / "lore" / "linux-clk-last10000.mboxrd.gz"
DATA = Path(__file__).resolve().parent / "data"
SLICE = 1500
ODD_IDS = ("odd/slash+plus@example.org", "50%off$deal&co@example.org",
           "grüße.ñ@例え.example", "ends/T@example.org", "2024/raw@example.org")
XSS_FILES = sorted(DATA.glob("xss-*.eml"))

_built: dict[str, Settings] = {}


first_messages = mailfixtures.first_messages


def build_archive(base: Path) -> Settings:
    if "archive" in _built:
        return _built["archive"]
    settings = from_mapping({
        "storage": {"data_dir": str(base / "instance")},
        "search": {"enabled": False},
        "lists": [{"name": "linux-clk", "description": "Common clk framework"},
                  {"name": "hostile", "description": "<script>alert('list')</script>"},
                  {"name": "odd", "description": "odd Message-IDs"},
                  {"name": "secret", "description": "security reports", "restricted": True}],
    }, base=base)
    if CORPUS.is_file():
        mbox = base / "linux-clk-slice.mbox"
        mbox.write_bytes(first_messages(CORPUS, SLICE))
        run_ingest(settings, [str(mbox)], "linux-clk")
    run_ingest(settings, [str(p) for p in XSS_FILES], "hostile")
    run_ingest(settings, [str(DATA / "web-odd-msgids.mbox")], "odd")
    run_ingest(settings, [str(DATA / "web-restricted.eml")], "secret")
    _built["archive"] = settings
    return settings


@dataclass(frozen=True)
class Site:
    settings: Settings
    app: object
    has_corpus: bool


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    from listarchive.web import create_app

    settings = build_archive(tmp_path_factory.mktemp("web-archive"))
    yield Site(settings, create_app(settings), CORPUS.is_file())


@pytest.fixture
def client(site: Site):  # type: ignore[no-untyped-def]
    return site.app.test_client()  # type: ignore[attr-defined]
