"""Shared fixtures: real corpora beside the project, a settings object on a temporary data dir,
and the archive the web tests read (``site``, ``client``), built once per test run.

That archive is real mail first: the first 1,500 messages of the linux-clk corpus
(../shared/corpora/lore), plus hand-made fixtures: the XSS corpus (``data/xss-*.eml``) on list
``hostile``, Message-IDs with ``/ + % $ &`` and non-ASCII (``data/web-odd-msgids.mbox``) on
``odd``, and one reply on the restricted list ``secret`` (``data/web-restricted.eml``) that
anonymous readers must never see.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import backends
import mailfixtures
import pytest
import scheduling
import worlds
from mailfixtures import NO_LIMITS, Site

from ingest.worker import Summary, run_ingest
from listarchive.search.follow import Follower
from listarchive.settings import Settings, from_mapping

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT.parent / "shared" / "corpora"
DATA = Path(__file__).resolve().parent / "data"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only: reads or locks the SQLite file itself")
    config.addinivalue_line("markers", "pure: touches no database (mail, queries, search "
                            "engines, files): runs in the SQLite half only, where any "
                            "database it opens fails it")
    config.addinivalue_line("markers", "whoosh: about the Whoosh engine itself (its writer "
                            "processes, its segments): runs in the SQLite half only")
    if backends.BACKEND not in ("sqlite", "postgresql"):
        raise pytest.UsageError(f"LISTARCHIVE_TEST_BACKEND={backends.BACKEND!r}: "
                                "sqlite or postgresql")
    if backends.POSTGRESQL and not backends.SERVER_URL:
        raise pytest.UsageError("LISTARCHIVE_TEST_BACKEND=postgresql needs "
                                "LISTARCHIVE_TEST_DATABASE_URL (see .ci/pg-start)")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if getattr(config.option, "loadgroup", False):
        scheduling.group_and_order(items)
    if not backends.POSTGRESQL:
        return
    # The PostgreSQL half reruns what touches a database; a pure test would only repeat itself.
    # So would the second search engine (both engines follow the database through one follower
    # and its queries: Whoosh is checked on SQLite) and the browser (Chromium draws the pages
    # the test client reads here from PostgreSQL).
    repeats = [item for item in items if "pure" in item.keywords or "browser" in item.keywords
               or _second_engine(item)]
    if repeats:
        config.hook.pytest_deselected(items=repeats)
        left = set(map(id, repeats))
        items[:] = [item for item in items if id(item) not in left]
    skip = pytest.mark.skip(reason="about the SQLite file itself")
    for item in items:
        if "sqlite_only" in item.keywords:
            item.add_marker(skip)


def _second_engine(item: pytest.Item) -> bool:
    """A test run against Whoosh, the engine that is not the default, or about Whoosh alone."""
    if item.get_closest_marker("whoosh") is not None:
        return True
    callspec = getattr(item, "callspec", None)
    return callspec is not None and "whoosh" in callspec.params.values()


def pytest_sessionfinish(session: pytest.Session) -> None:
    if backends.POSTGRESQL:
        Follower.stop_all()  # the sites' search followers would poll a dropped database
        backends.drop_run_database()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """A test marked pure fails if it, or a fixture it sets up or tears down, opens a database:
    the mark keeps it out of the PostgreSQL half, which must not lose a database test."""
    if item.get_closest_marker("pure") is None:
        yield
        return
    with backends.no_database(item.nodeid):
        yield


@pytest.fixture(scope="module", autouse=True)
def module_database() -> Iterator[None]:
    """On PostgreSQL, a schema for the archives a module's own fixtures build."""
    if not backends.POSTGRESQL:
        yield
        return
    name, url = backends.new_schema()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LISTARCHIVE_DATABASE_URL", url)
        yield
    backends.drop_schema(name)


@pytest.fixture(autouse=True)
def database(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """On PostgreSQL, a schema of its own for every test that makes an archive of its own
    (one that keeps files), unless it works on an archive its module or the run built."""
    shared = any(defs[-1].func in backends.ARCHIVE_FIXTURES for name in request.fixturenames
                 if (defs := request._fixturemanager.getfixturedefs(name, request.node)))
    if not backends.POSTGRESQL or shared or not (
            {"tmp_path", "settings", "cli"} & set(request.fixturenames)):
        yield
        return
    name, url = backends.new_schema()
    monkeypatch.setenv("LISTARCHIVE_DATABASE_URL", url)
    yield
    backends.drop_schema(name)


@pytest.fixture
def corpora() -> Path:
    if not CORPORA.is_dir():
        pytest.skip("the shared corpora are not beside the project")
    return CORPORA


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return from_mapping({"limits": NO_LIMITS, "storage": {"data_dir": str(tmp_path / "instance")},
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


SITE_CORPUS = CORPORA / "lore" / "linux-clk-last10000.mboxrd.gz"
SITE_SLICE = 1500
XSS_FILES = sorted(DATA.glob("xss-*.eml"))


def build_site_archive(base: Path) -> Settings:
    settings = from_mapping({
        "limits": NO_LIMITS,
        "storage": {"data_dir": str(base / "instance"), "database_url": backends.archive_url()},
        "search": {"enabled": False},
        "lists": [{"name": "linux-clk", "description": "Common clk framework"},
                  {"name": "hostile", "description": "<script>alert('list')</script>"},
                  {"name": "odd", "description": "odd Message-IDs"},
                  {"name": "secret", "description": "security reports", "restricted": True}],
    }, base=base)
    if SITE_CORPUS.is_file():
        mbox = base / "linux-clk-slice.mbox"
        mbox.write_bytes(mailfixtures.first_messages(SITE_CORPUS, SITE_SLICE))
        run_ingest(settings, [str(mbox)], "linux-clk")
    run_ingest(settings, [str(p) for p in XSS_FILES], "hostile")
    run_ingest(settings, [str(DATA / "web-odd-msgids.mbox")], "odd")
    run_ingest(settings, [str(DATA / "web-restricted.eml")], "secret")
    return settings


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    from listarchive.web import create_app

    settings = build_site_archive(tmp_path_factory.mktemp("web-archive"))
    yield Site(settings, create_app(settings), SITE_CORPUS.is_file())


@pytest.fixture
def client(site: Site):  # type: ignore[no-untyped-def]
    return site.app.test_client()  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def clk_archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Summary]]:
    """The whole linux-clk corpus (10,000 messages) ingested once, and what that ingest said,
    for the slow tests that check it: each works on a copy (``backends.copied``)."""
    if not SITE_CORPUS.is_file():
        pytest.skip("the shared corpora are not beside the project")
    with backends.template_url() as url:
        settings = from_mapping({
            "storage": {"data_dir": str(tmp_path_factory.mktemp("clk-10000") / "instance"),
                        "database_url": url},
            "search": {"enabled": False}})
        yield settings, run_ingest(settings, [str(SITE_CORPUS)], "linux-clk")


@pytest.fixture(scope="session")
def status_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[worlds.StatusWorld]:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    yield worlds.build_status_world(tmp_path_factory.mktemp("status"))


@pytest.fixture(scope="session")
def review_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[worlds.ReviewWorld]:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    yield worlds.build_review_world(tmp_path_factory.mktemp("review"))


@pytest.fixture(scope="session")
def demo_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The archive ``make demo`` builds (three weeks of a generated list: series and their
    revisions, reviews, a pull request, subsystems, states from git-scan), searchable."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    import io

    from listarchive.demo import builder, run_demo
    from listarchive.web import create_app

    base = tmp_path_factory.mktemp("demo-site")
    settings = from_mapping({
        "limits": NO_LIMITS,
        "storage": {"data_dir": str(base / "instance"), "database_url": backends.archive_url()},
        "lists": [{"name": builder.LIST_NAME, "list_id": builder.LIST_ID,
                   "description": builder.LIST_DESCRIPTION, "address": builder.LIST_ADDRESS}],
    }, base=base)
    run_demo(settings, None, None, None, serve_site=False, out=io.StringIO())
    yield Site(settings, create_app(settings), False)
