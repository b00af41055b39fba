"""``listarchive outbox [list, retry]`` through the real console script: what waits for the
relay is listed, a relay that is down leaves the mail waiting with the error, and once it is up
``retry`` sends it, once."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import update
from test_notify import Inbox, free_port

from listarchive.archive.db import open_archive
from listarchive.archive.models import OutboxMail
from listarchive.clock import utcnow
from listarchive.settings import load

MAIL = (b"From: Archive <archive@example.org>\nTo: dev@example.org\n"
        b"Subject: Re: [PATCH 0/2] clk: fix things\nMessage-ID: <n1@example.org>\n\n"
        b"Hello:\n\nThis series was applied.\n")


def configure(tmp_path: Path, port: int, enabled: bool = True) -> Path:
    (tmp_path / "listarchive.toml").write_text(
        "[storage]\ndata_dir = 'instance'\n[search]\nenabled = false\n"
        f"[notify]\nenabled = {'true' if enabled else 'false'}\nsmtp_host = '127.0.0.1'\n"
        f"smtp_port = {port}\nfrom = 'Archive <archive@example.org>'\n")
    return tmp_path / "listarchive.toml"


def test_outbox_lists_keeps_and_sends_once(tmp_path, cli):
    from aiosmtpd.controller import Controller

    port = free_port()
    config = configure(tmp_path, port)
    assert cli(["init"], tmp_path).returncode == 0
    assert cli(["outbox", "list"], tmp_path).stdout.decode().strip() == "the outbox is empty"
    archive = open_archive(load(config), writer=True)
    try:
        with archive.sessions.begin() as session:
            session.add(OutboxMail(key="series:1:accepted>dev@example.org",
                                   recipient="dev@example.org", raw=MAIL, created=utcnow(),
                                   attempts=0, next_try=utcnow(), last_error=""))
    finally:
        archive.close()
    listed = cli(["outbox", "list"], tmp_path).stdout.decode()
    assert "pending" in listed and "dev@example.org" in listed and "clk: fix things" in listed

    down = cli(["outbox", "retry"], tmp_path)  # nothing listens on the relay's port yet
    assert down.returncode == 0, down.stderr
    assert "sent 0, not sent 1" in down.stdout.decode()
    assert "1 attempts" in down.stdout.decode()  # still waiting, with the error below it

    # The mail backs off (a minute after one failure); that minute passes.
    archive = open_archive(load(config), writer=True)
    try:
        with archive.sessions.begin() as session:
            session.execute(update(OutboxMail).values(next_try=utcnow()))
    finally:
        archive.close()
    inbox = Inbox()
    relay = Controller(inbox, hostname="127.0.0.1", port=port)
    relay.start()
    try:
        up = cli(["outbox", "retry"], tmp_path)
        assert up.returncode == 0 and "sent 1, not sent 0" in up.stdout.decode(), up.stdout
        again = cli(["outbox", "retry"], tmp_path)
        assert "sent 0, not sent 0" in again.stdout.decode()
    finally:
        relay.stop()
    assert [m["Subject"] for m in inbox.to("dev@example.org")] == [
        "Re: [PATCH 0/2] clk: fix things"]
    assert cli(["outbox", "list"], tmp_path).stdout.decode().strip() == "the outbox is empty"


def test_outbox_says_when_notifications_are_off(tmp_path, cli):
    configure(tmp_path, free_port(), enabled=False)
    out = cli(["outbox", "list"], tmp_path)
    assert out.returncode == 0 and "notifications are off" in out.stdout.decode()
