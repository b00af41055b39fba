"""The shared worlds of the web tests, built once per test run (fixtures in conftest.py).

``status_world``: the first 300 messages of the real linux-clk corpus (with MAINTAINERS imported,
so subsystem queues are real), plus two series made with ``git format-patch`` on lists ``gizmo``
and ``other``. Accounts: ``root`` (admin), ``maint`` (granted list ``gizmo``), ``stranger`` (no
grants); each has a password and an API token.

``review_world``: the first 1,500 messages of linux-clk (search enabled, MAINTAINERS imported), a
series made with ``git format-patch`` plus replies that give trailers, and a restricted list
holding a series (``data/web-review-restricted-series.mbox``) and a private ``Tested-by`` reply
that anonymous readers must never see or count.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import backends
from mailfixtures import NO_LIMITS, first_messages, git
from sqlalchemy import select

from ingest.subsystems import import_maintainers
from ingest.worker import run_ingest
from listarchive.access import accounts
from listarchive.archive.db import make_engine, make_sessionmaker
from listarchive.archive.models import Patch, Series, StateChange
from listarchive.search import indexer
from listarchive.settings import Settings, from_mapping

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT.parent / "shared" / "corpora"
CORPUS = CORPORA / "lore" / "linux-clk-last10000.mboxrd.gz"
MAINTAINERS = CORPORA / "kernel" / "MAINTAINERS"
DATA = Path(__file__).resolve().parent / "data"
REVIEW_SLICE = 1500

STATUS_SLICE = 300
PASSWORD = "correct horse battery"






def make_word_series(base: Path, word: str, to: str) -> tuple[Path, str, Path]:
    """A repository with a base commit and three commits on top, sent as a threaded series
    with a cover letter; returns (repo, base commit, directory of .patch files)."""
    repo = base / f"repo-{word}"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.name", "Dev Eloper")
    git(repo, "config", "user.email", f"{word}-dev@example.org")
    (repo / "clk.c").write_text("int rate(void)\n{\n\treturn 0;\n}\n")
    git(repo, "add", "clk.c")
    git(repo, "commit", "-qm", "base")
    for n in (1, 2, 3):
        (repo / "clk.c").write_text((repo / "clk.c").read_text() + f"/* {word} step {n} */\n")
        (repo / f"{word}{n}.c").write_text(f"int {word}{n};\n")
        git(repo, "add", ".")
        git(repo, "commit", "-qsm", f"clk: {word} step {n}\n\nExplain {word} step {n}.")
    out = base / f"series-{word}"
    git(repo, "format-patch", "-q", "--thread", "--cover-letter", "-o", str(out),
        f"--to={to}", "HEAD~3")
    return repo, git(repo, "rev-parse", "HEAD~3").strip(), out


def msgid_of(path: Path) -> str:
    found = re.search(r"^Message-I[dD]: <([^>]+)>", path.read_text(), re.M)
    assert found is not None
    return found.group(1)


@dataclass
class StatusWorld:
    settings: Settings
    app: Any
    repo: Path
    base_commit: str
    gizmo_series: int
    gizmo_patches: tuple[int, ...]
    other_series: int
    other_patches: tuple[int, ...]
    tokens: dict[str, str]
    has_corpus: bool

    def session(self) -> Any:
        return make_sessionmaker(make_engine(self.settings))()

    def client(self) -> Any:
        return self.app.test_client()


_status: dict[str, StatusWorld] = {}


def build_status_world(base: Path) -> StatusWorld:
    if "world" in _status:
        return _status["world"]
    settings = from_mapping({
        "limits": NO_LIMITS,
        "storage": {"data_dir": str(base / "instance"), "database_url": backends.archive_url()},
        "search": {"enabled": False},
        "lists": [{"name": "linux-clk"}, {"name": "gizmo"}, {"name": "other"}]}, base=base)
    has_corpus = CORPUS.is_file()
    if has_corpus:
        (base / "slice.mbox").write_bytes(first_messages(CORPUS, STATUS_SLICE))
        run_ingest(settings, [str(base / "slice.mbox")], "linux-clk")
    repo, base_commit, out = make_word_series(base, "gizmo", "gizmo@example.org")
    _, _, other = make_word_series(base, "widget", "other@example.org")
    run_ingest(settings, [str(p) for p in sorted(out.glob("*.patch"))], "gizmo")
    run_ingest(settings, [str(p) for p in sorted(other.glob("*.patch"))], "other")
    if MAINTAINERS.is_file():
        import_maintainers(settings, MAINTAINERS)
    session = make_sessionmaker(make_engine(settings))()
    ids = {}
    for name, directory in (("gizmo", out), ("other", other)):
        cover = msgid_of(next(directory.glob("0000-*.patch")))
        series = session.scalars(select(Series).where(Series.cover_msgid == cover)).one()
        ids[name] = (series.id, tuple(session.scalars(
            select(Patch.id).where(Patch.series_id == series.id, Patch.kind == "patch")
            .order_by(Patch.counter))))
    root = accounts.create_user(session, "root", "root@example.org", PASSWORD, is_admin=True)
    maint = accounts.create_user(session, "maint", "maint@example.org", PASSWORD)
    accounts.grant(session, maint, "list", "gizmo")
    stranger = accounts.create_user(session, "stranger", "stranger@example.org", PASSWORD)
    tokens = {u.name: accounts.new_token(session, u) for u in (root, maint, stranger)}
    session.commit()
    session.close()
    from listarchive.web import create_app

    world = StatusWorld(settings, create_app(settings), repo, base_commit, ids["gizmo"][0],
                        ids["gizmo"][1], ids["other"][0], ids["other"][1], tokens, has_corpus)
    _status["world"] = world
    return world




def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, "no CSRF token on the page"
    return found.group(1)


def login(client: Any, name: str, password: str = PASSWORD) -> Any:
    token = csrf_of(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"name": name, "password": password,
                                       "csrf_token": token, "next": "/queue/"})


def state_of(world: StatusWorld, kind: str, oid: int) -> str:
    from listarchive.review.states import effective_state

    session = world.session()
    try:
        return effective_state(session, kind, oid)
    finally:
        session.close()


def history_of(world: StatusWorld, kind: str, oid: int) -> list[StateChange]:
    session = world.session()
    try:
        return list(session.scalars(select(StateChange).where(
            StateChange.object_kind == kind, StateChange.object_id == oid)
            .order_by(StateChange.id)))
    finally:
        session.close()


# --- review world ----------------------------------------------------------------------


REAL_SERIES_TITLE = "Add video clock controller DT support for sc8180x"
PATCH_KEYS = {"id", "message_id", "subject", "state", "files", "diffstat", "patch_id",
              "pull_url", "subsystems", "trailers"}
HIDDEN = "Hidden Tester"






def reply(path: Path, to: dict[str, str], sender: str, text: str, minute: int) -> None:
    """A reply to the format-patch message ``to`` (its headers), saved as one .eml file."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "linux-clk@example.org"
    msg["Subject"] = "Re: " + to["subject"]
    msg["Date"] = format_datetime(datetime(2025, 6, 3, 12, minute, tzinfo=UTC))
    msg["Message-ID"] = f"<reply-{minute}@example.org>"
    msg["In-Reply-To"] = f"<{to['msgid']}>"
    msg["References"] = " ".join(f"<{m}>" for m in (*to["refs"].split(), to["msgid"]) if m)
    msg.set_content(f"On Mon, someone wrote:\n> {to['subject']}\n\n{text}\n")
    path.write_bytes(bytes(msg))


@dataclass(frozen=True)
class ReviewWorld:
    settings: Settings
    app: Any
    repo: Path
    base_commit: str
    series_dir: Path
    gen_cover: str  # Message-ID of the format-patch cover letter
    gen_patches: tuple[str, ...]
    has_corpus: bool

    def session(self) -> Any:
        return make_sessionmaker(make_engine(self.settings))()

    def series_id(self, anchor: str) -> int:
        with self.session() as s:
            sid = s.scalar(select(Series.id).where(Series.anchor_msgid == anchor))
            assert sid is not None, anchor
            return int(sid)

    def patch_pk(self, msgid: str) -> int:
        with self.session() as s:
            pk = s.scalar(select(Patch.id).where(Patch.msgid == msgid))
            assert pk is not None, msgid
            return int(pk)


_review: dict[str, ReviewWorld] = {}


def make_gizmo_series(base: Path) -> tuple[Path, str, Path]:
    repo = base / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.name", "Dev Eloper")
    git(repo, "config", "user.email", "dev@example.org")
    (repo / "clk.c").write_text("int rate(void)\n{\n\treturn 0;\n}\n")
    git(repo, "add", "clk.c")
    git(repo, "commit", "-qm", "base")
    for n in (1, 2, 3):
        (repo / "clk.c").write_text((repo / "clk.c").read_text() + f"/* gizmo step {n} */\n")
        (repo / f"gizmo{n}.c").write_text(f"int gizmo{n};\n")
        git(repo, "add", ".")
        git(repo, "commit", "-qsm", f"clk: gizmo step {n}\n\nExplain gizmo step {n}.")
    out = base / "series"
    git(repo, "format-patch", "-q", "--thread", "--cover-letter", "-o", str(out),
        "--to=linux-clk@example.org", "HEAD~3")
    return repo, git(repo, "rev-parse", "HEAD~3").strip(), out


def headers_of(path: Path) -> dict[str, str]:
    text = path.read_text()
    head = text.split("\n\n", 1)[0]
    msgid = re.search(r"^Message-I[dD]: <([^>]+)>", head, re.M)
    subject = re.search(r"^Subject: (.*(?:\n .*)*)", head, re.M)
    refs = re.search(r"^References: (.*(?:\n .*)*)", head, re.M)
    assert msgid and subject
    return {"msgid": msgid.group(1), "subject": " ".join(subject.group(1).split()),
            "refs": " ".join(re.findall(r"<([^>]+)>", refs.group(1))) if refs else ""}


def build_review_world(base: Path) -> ReviewWorld:
    if "world" in _review:
        return _review["world"]
    settings = from_mapping({
        "limits": NO_LIMITS,
        "storage": {"data_dir": str(base / "instance"), "database_url": backends.archive_url()},
        "search": {"enabled": True},
        "lists": [{"name": "linux-clk", "description": "Common clk framework"},
                  {"name": "gizmo", "description": "generated series"},
                  {"name": "secret", "description": "security", "restricted": True}],
    }, base=base)
    has_corpus = CORPUS.is_file()
    if has_corpus:
        mbox = base / "slice.mbox"
        mbox.write_bytes(first_messages(CORPUS, REVIEW_SLICE))
        run_ingest(settings, [str(mbox)], "linux-clk")
    repo, base_commit, out = make_gizmo_series(base)
    files = sorted(out.glob("*.patch"))
    heads = [headers_of(p) for p in files]
    replies = base / "replies"
    replies.mkdir()
    reply(replies / "ack.eml", heads[0], "Alan Acker <alan@example.org>",
          "Acked-by: Alan Acker <alan@example.org>", 1)
    reply(replies / "review.eml", heads[2], "Rita Reviewer <rita@example.org>",
          "Looks right.\n\nReviewed-by: Rita Reviewer <rita@example.org>", 2)
    reply(replies / "hidden.eml", heads[1], f"{HIDDEN} <hidden-tester@example.org>",
          f"Tested-by: {HIDDEN} <hidden-tester@example.org>", 3)
    run_ingest(settings, [*map(str, files), str(replies / "ack.eml"),
                          str(replies / "review.eml")], "gizmo")
    run_ingest(settings, [str(replies / "hidden.eml"),
                          str(DATA / "web-review-restricted-series.mbox")], "secret")
    if MAINTAINERS.is_file():
        import_maintainers(settings, MAINTAINERS)

    from listarchive.web import create_app

    world = ReviewWorld(settings, create_app(settings), repo, base_commit, out,
                        heads[0]["msgid"], tuple(h["msgid"] for h in heads[1:]), has_corpus)
    _review["world"] = world
    return world


def review_world_on(world: ReviewWorld, engine_name: str, base: Path) -> ReviewWorld:
    """A copy of ``world`` (its database copied whole) whose search index is built by another
    engine, served by its own app: the site's search answers checked on each engine."""
    key = f"world-{engine_name}"
    if key in _review:
        return _review[key]
    data = base / "instance"
    data.mkdir(parents=True)
    source = sqlite3.connect(world.settings.data_dir / "listarchive.sqlite3")
    target = sqlite3.connect(data / "listarchive.sqlite3")
    source.backup(target)
    source.close()
    target.close()
    settings = replace(world.settings, data_dir=data, search_dir=None, search_engine=engine_name)
    indexer.rebuild(settings, make_sessionmaker(make_engine(settings, writer=True)))

    from listarchive.web import create_app

    copy = replace(world, settings=settings, app=create_app(settings))
    _review[key] = copy
    return copy
