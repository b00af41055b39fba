"""Notification mail end to end, delivered to a real SMTP server (aiosmtpd) on this machine.

A topic branch is sent as a series with ``git format-patch``, archived, applied with ``git am``
and found by git-scan: its submitter gets one reply saying so, with the commits. A maintainer
asks for changes on another series: one reply. Followers get new revisions and state changes of
what they follow, never what they may not read. A relay down for a while loses nothing and
sends nothing twice. With ``[notify]`` left at its default nothing is sent.
"""

from __future__ import annotations

import email
import os
import shutil
import socket
import subprocess
from dataclasses import replace
from datetime import timedelta
from email.message import Message as EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from ingest.worker import run_ingest
from listarchive.access import accounts
from listarchive.archive.db import open_archive
from listarchive.archive.models import Follow, OutboxMail, Series
from listarchive.clock import utcnow
from listarchive.notify.notices import notify
from listarchive.notify.outbox import deliver
from listarchive.review import changes
from listarchive.review.gitscan import scan
from listarchive.settings import NotifyConfig, Settings, from_mapping

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

ENV = {**os.environ, "GIT_AUTHOR_NAME": "Dev Eloper", "GIT_AUTHOR_EMAIL": "dev@example.org",
       "GIT_COMMITTER_NAME": "Dev Eloper", "GIT_COMMITTER_EMAIL": "dev@example.org",
       "GIT_AUTHOR_DATE": "2024-03-01T10:00:00Z", "GIT_COMMITTER_DATE": "2024-03-02T10:00:00Z",
       "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
BASE = "https://archive.example.org"


class Inbox:
    """What the relay accepted: (envelope recipients, parsed mail)."""

    def __init__(self) -> None:
        self.mails: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.mails.append((list(envelope.rcpt_tos), email.message_from_bytes(envelope.content)))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for rcpts, m in self.mails if address in rcpts]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def relay():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    try:
        controller.stop()
    except AssertionError:
        pass  # the test stopped it already


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=ENV, check=True,
                          capture_output=True).stdout.decode()


def commit_file(repo: Path, name: str, text: str, message: str) -> None:
    (repo / name).write_text(text)
    git(repo, "add", name)
    git(repo, "commit", "-q", "-m", message)


def make_settings(tmp_path: Path, port: int, enabled: bool = True) -> Settings:
    data = {"storage": {"data_dir": str(tmp_path / "instance")}, "search": {"enabled": False},
            "web": {"base_url": BASE},
            "lists": [{"name": "linux-clk"}, {"name": "security", "restricted": True}]}
    if enabled:
        data["notify"] = {"enabled": True, "smtp_host": "127.0.0.1", "smtp_port": port,
                          "from": "Archive <archive@example.org>"}
    return from_mapping(data)


def send_series(repo: Path, out: Path, branch: str, base: str, subject: str,
                *extra: str) -> Path:
    """``git format-patch`` of ``base..branch`` with a cover letter, as one mbox."""
    git(repo, "format-patch", "-q", "--thread", "--cover-letter", *extra, "-o", str(out),
        f"{base}..{branch}")
    mbox = out.with_suffix(".mbox")
    # git names a cover letter by the second it was made in: two sent in one second would
    # share a Message-ID.
    for path in out.glob("*.patch"):
        path.write_bytes(path.read_bytes().replace(b"*** SUBJECT HERE ***", subject.encode())
                         .replace(b"<cover.", f"<cover.{out.name}.".encode()))
    mbox.write_bytes(b"".join(p.read_bytes() + b"\n" for p in sorted(out.glob("*.patch"))))
    return mbox


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """main, and topic: two commits on it."""
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    commit_file(path, "clk.c", "int rate;\n", "base")
    git(path, "checkout", "-q", "-b", "topic")
    for n in (1, 2):
        commit_file(path, f"clk{n}.c", f"int step{n} = {n};\n", f"clk: add step {n}")
    return path


def series_ids(settings: Settings) -> list[int]:
    archive = open_archive(settings)
    with archive.sessions() as session:
        found = list(session.scalars(select(Series.id).order_by(Series.id)))
    archive.close()
    return found


def outbox_count(settings: Settings) -> int:
    archive = open_archive(settings)
    with archive.sessions() as session:
        found = session.scalar(select(func.count()).select_from(OutboxMail)) or 0
    archive.close()
    return found


def test_an_applied_series_gets_one_reply_with_its_commits(tmp_path, repo, relay):
    controller, inbox = relay
    settings = make_settings(tmp_path, controller.port)
    mbox = send_series(repo, tmp_path / "v1", "topic", "main", "clk: steps")
    run_ingest(settings, [str(mbox)], "linux-clk")
    assert inbox.mails == []  # arriving is no news for its own sender

    git(repo, "checkout", "-q", "-b", "applied", "main")
    for patch in sorted((tmp_path / "v1").glob("000[1-9]-*.patch")):
        subprocess.run(["git", "am", "-q", str(patch)], cwd=repo, env=ENV, check=True)
    shas = git(repo, "log", "--format=%H", "main..applied").split()
    archive = open_archive(settings, writer=True)
    with archive.sessions.begin() as session:
        assert scan(session, repo, "applied").changed == 2
    notify(settings, archive.sessions)
    notify(settings, archive.sessions)  # a second look finds nothing new
    run_ingest(settings, [str(mbox)], "linux-clk")  # nor does an ingest run
    archive.close()

    [mail] = inbox.to("dev@example.org")
    assert len(inbox.mails) == 1
    cover = email.message_from_bytes(sorted((tmp_path / "v1").glob("0000-*"))[0].read_bytes())
    assert mail["Subject"] == "Re: [PATCH 0/2] clk: steps"
    assert mail["In-Reply-To"] == cover["Message-ID"].strip()
    assert cover["Message-ID"].strip() in mail["References"]
    body = mail.get_payload(decode=True).decode()
    assert body.startswith("Hello:\n\nThis series was applied to repo applied")
    for sha in shas:
        assert f"commit {sha}" in body
    assert "clk: add step 1" in body and "clk: add step 2" in body
    assert f"{BASE}/series/{series_ids(settings)[0]}/" in body


def test_changes_requested_reaches_submitter_and_follower_not_the_restricted(
        tmp_path, repo, relay):
    controller, inbox = relay
    settings = make_settings(tmp_path, controller.port)
    run_ingest(settings, [str(send_series(repo, tmp_path / "v1", "topic", "main", "clk: steps"))],
               "linux-clk")
    git(repo, "checkout", "-q", "-b", "secret", "main")
    commit_file(repo, "sec.c", "int fixed;\n", "clk: fix the hole")
    commit_file(repo, "sec2.c", "int fixed2;\n", "clk: fix the other hole")
    run_ingest(settings, [str(send_series(repo, tmp_path / "sec", "secret", "main", "clk: hole"))],
               "security")
    public, secret = series_ids(settings)
    archive = open_archive(settings)
    with archive.sessions.begin() as session:
        maint = accounts.create_user(session, "maint", "maint@example.org", None, is_admin=True)
        reader = accounts.create_user(session, "reader", "reader@example.org", None)
        session.flush()
        session.add_all([Follow(user_id=reader.id, kind="list", target="linux-clk",
                                created=utcnow()),
                         Follow(user_id=reader.id, kind="list", target="security",
                                created=utcnow())])
        for sid in (public, secret):
            assert changes.change(session, maint, "series", [sid],
                                  changes.ChangeRequest(state="changes-requested"), "web")
    assert inbox.mails == []  # never from the web request: the next writer sends it
    notify(settings, archive.sessions)
    notify(settings, archive.sessions)
    archive.close()

    [mail] = inbox.to("dev@example.org")
    assert mail["Subject"] == "Re: [PATCH 0/2] clk: steps"
    assert "changes were requested" in mail.get_payload(decode=True).decode().lower()
    [news] = inbox.to("reader@example.org")
    body = news.get_payload(decode=True).decode()
    assert "now changes-requested" in body and f"{BASE}/series/{public}/" in body
    assert "hole" not in news.as_string()
    # The secret series' submitter has no account that may read the restricted list either.
    assert not any("hole" in m.as_string() for _, m in inbox.mails)
    assert len(inbox.mails) == 2


def test_a_follower_gets_the_new_revision_and_the_submitter_the_supersede(tmp_path, repo, relay):
    controller, inbox = relay
    settings = make_settings(tmp_path, controller.port)
    run_ingest(settings, [str(send_series(repo, tmp_path / "v1", "topic", "main", "clk: steps"))],
               "linux-clk")
    [v1] = series_ids(settings)
    archive = open_archive(settings)
    with archive.sessions.begin() as session:
        reader = accounts.create_user(session, "reader", "reader@example.org", None)
        session.flush()
        session.add(Follow(user_id=reader.id, kind="series", target=str(v1), created=utcnow()))
    archive.close()
    git(repo, "checkout", "-q", "-b", "topic2", "main")
    for n in (1, 2, 3):
        commit_file(repo, f"clk{n}.c", f"int step{n} = {n * 10};\n", f"clk: add step {n}")
    run_ingest(settings, [str(send_series(repo, tmp_path / "v2", "topic2", "main", "clk: steps",
                                          "-v2"))], "linux-clk")
    run_ingest(settings, [str(tmp_path / "v2.mbox")], "linux-clk")
    v2 = max(series_ids(settings))

    [news] = [m for m in inbox.to("reader@example.org") if "v2" in m["Subject"]]
    assert news["Subject"] == "Re: [PATCH v2 0/3] clk: steps"
    assert f"{BASE}/series/{v2}/" in news.get_payload(decode=True).decode()
    [superseded] = inbox.to("dev@example.org")
    assert superseded["Subject"] == "Re: [PATCH 0/2] clk: steps"
    assert f"{BASE}/series/{v2}/" in superseded.get_payload(decode=True).decode()
    # The follower of v1 also hears that v1 is now superseded; nothing else is sent.
    assert len(inbox.to("reader@example.org")) == 2 and len(inbox.mails) == 3


def test_a_relay_down_for_a_while_loses_nothing_and_doubles_nothing(tmp_path, repo, relay):
    controller, inbox = relay
    settings = make_settings(tmp_path, controller.port)
    run_ingest(settings, [str(send_series(repo, tmp_path / "v1", "topic", "main", "clk: steps"))],
               "linux-clk")
    controller.stop()
    ids = series_ids(settings)
    archive = open_archive(settings)
    with archive.sessions.begin() as session:
        maint = accounts.create_user(session, "maint", "maint@example.org", None, is_admin=True)
        reader = accounts.create_user(session, "reader", "reader@example.org", None)
        session.flush()
        session.add(Follow(user_id=reader.id, kind="list", target="linux-clk",
                           created=utcnow()))
        changes.change(session, maint, "series", ids, changes.ChangeRequest(state="accepted"),
                       "web")
    done = notify(settings, archive.sessions)
    assert done is not None and done.sent == 0 and done.failed == 2
    now = utcnow()
    # Not due yet: nothing is tried; a second look queues nothing more.
    assert deliver(archive.sessions, settings.notify, now=now).failed == 0
    done = notify(settings, archive.sessions)
    assert done is not None and done.failed == 0 and outbox_count(settings) == 2
    assert deliver(archive.sessions, settings.notify, now=now + timedelta(minutes=1)).failed == 2
    with archive.sessions() as session:
        rows = list(session.scalars(select(OutboxMail)))
        assert all(r.attempts == 2 and "relay" in r.last_error for r in rows)
        assert all(r.next_try >= now + timedelta(minutes=3) for r in rows)  # backed off: 2 min

    controller = Controller(inbox, hostname="127.0.0.1", port=controller.port)
    controller.start()
    later = now + timedelta(minutes=10)
    assert deliver(archive.sessions, settings.notify, now=later).sent == 2
    assert deliver(archive.sessions, settings.notify, now=later + timedelta(hours=1)).sent == 0
    notify(settings, archive.sessions)
    archive.close()
    controller.stop()
    assert len(inbox.to("dev@example.org")) == 1 and len(inbox.to("reader@example.org")) == 1
    assert len(inbox.mails) == 2


def test_notifications_are_off_by_default(tmp_path, repo, relay):
    controller, inbox = relay
    settings = make_settings(tmp_path, controller.port, enabled=False)
    assert settings.notify == NotifyConfig()
    run_ingest(settings, [str(send_series(repo, tmp_path / "v1", "topic", "main", "clk: steps"))],
               "linux-clk")
    ids = series_ids(settings)
    archive = open_archive(settings)
    with archive.sessions.begin() as session:
        maint = accounts.create_user(session, "maint", "maint@example.org", None, is_admin=True)
        changes.change(session, maint, "series", ids,
                       changes.ChangeRequest(state="accepted"), "web")
    assert notify(settings, archive.sessions) is None
    # Even with the relay named, a disabled [notify] queues nothing.
    assert notify(replace(settings, notify=replace(settings.notify, smtp_port=controller.port)),
                  archive.sessions) is None
    archive.close()
    run_ingest(settings, [str(tmp_path / "v1.mbox")], "linux-clk")
    assert inbox.mails == [] and outbox_count(settings) == 0


@pytest.mark.parametrize("notify_table, key", [
    ({"enabled": True}, "notify.from"),
    ({"smtp_port": 0}, "notify.smtp_port"),
    ({"smtp_port": "25"}, "notify.smtp_port"),
    ({"from": "not an address"}, "notify.from"),
    ({"username": "u"}, "notify.password"),
    ({"smtp_host": "a b"}, "notify.smtp_host"),
    ({"max_attempts": 0}, "notify.max_attempts"),
    ({"sender": "x@example.org"}, "notify.sender"),
])
def test_bad_notify_settings_name_the_key(notify_table, key):
    from listarchive.errors import ConfigError

    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        from_mapping({"notify": notify_table})
