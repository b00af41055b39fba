"""``listarchive watch``: Maildir, growing mbox and public-inbox epochs, resumed after restart."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

from sqlalchemy import func, select

from ingest.watch import watch
from ingest.worker import Worker
from listarchive.archive.models import Message
from listarchive.mail.mbox import to_mboxrd
from listarchive.settings import from_mapping


def mail(n: int) -> bytes:
    return (f"From: Sender {n} <s{n}@example.org>\nSubject: message {n}\n"
            f"Date: Mon, 0{1 + n % 9} Jan 2024 10:00:00 +0000\nMessage-ID: <watch-{n}@example.org>\n"
            f"\nbody {n}\n").encode()


def count(settings) -> int:
    with Worker(settings).sessions() as session:
        return session.scalar(select(func.count()).select_from(Message)) or 0


def cfg(tmp: Path):
    return from_mapping({"storage": {"data_dir": str(tmp / "instance")}, "search": {"enabled": False}})


def test_maildir_resumes_after_restart(tmp_path):
    settings = cfg(tmp_path)
    maildir = tmp_path / "Maildir"
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True)
    for n in (1, 2):
        (maildir / "new" / f"170000000{n}.M{n}.host").write_bytes(mail(n))
    assert watch(settings, [str(maildir)], "wl", once=True).read == 2
    (maildir / "new" / "1700000003.M3.host").write_bytes(mail(3))
    # A new process ("restart") reads only what arrived since.
    again = watch(settings, [str(maildir)], "wl", once=True)
    assert (again.read, again.new) == (1, 1)
    assert count(settings) == 3


def test_growing_mbox_waits_for_the_last_message_to_finish(tmp_path):
    settings = cfg(tmp_path)
    box = tmp_path / "list.mbox"
    box.write_bytes(to_mboxrd(mail(1)) + to_mboxrd(mail(2)))
    assert watch(settings, [str(box)], "wl", once=True).new == 2
    half = to_mboxrd(mail(3))
    with box.open("ab") as f:
        f.write(half[:-20])  # the MTA is still writing
    assert watch(settings, [str(box)], "wl", once=True).read == 0
    with box.open("ab") as f:
        f.write(half[-20:])
    done = watch(settings, [str(box)], "wl", once=True)
    assert (done.read, done.new) == (1, 1)
    assert count(settings) == 3


def git(repo: Path, *args: str, stdin: bytes | None = None) -> str:
    env_args = ["-c", "user.name=PI", "-c", "user.email=pi@example.org"]
    return subprocess.run(["git", "-C", str(repo), *env_args, *args], input=stdin, check=True,
                          capture_output=True).stdout.decode()


def add_commit(repo: Path, work: Path, n: int) -> None:
    (work / "m").write_bytes(mail(n))
    git(work, "add", "m")
    git(work, "commit", "-q", "-m", f"message {n}")
    git(work, "push", "-q", str(repo), "HEAD:refs/heads/master")


def test_public_inbox_epoch_picks_up_new_commits(tmp_path):
    settings = cfg(tmp_path)
    archive = tmp_path / "inbox"
    epoch = archive / "git" / "0.git"
    epoch.parent.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "--bare", str(epoch)], check=True)
    work = tmp_path / "work"
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    for n in (1, 2):
        add_commit(epoch, work, n)
    assert watch(settings, [str(archive)], "pi", once=True).new == 2
    add_commit(epoch, work, 3)
    again = watch(settings, [str(archive)], "pi", once=True)
    assert (again.read, again.new) == (1, 1)


def test_live_watch_stores_mail_within_seconds(tmp_path):
    settings = cfg(tmp_path)
    maildir = tmp_path / "Maildir"
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True)
    stop = threading.Event()
    runner = threading.Thread(target=watch, args=(settings, [str(maildir)], "live"),
                              kwargs={"interval": 0.2, "stop": stop}, daemon=True)
    runner.start()
    try:
        (maildir / "new" / "1700000009.M9.host").write_bytes(mail(9))
        deadline = time.monotonic() + 20
        while count(settings) < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert count(settings) == 1
    finally:
        stop.set()
        runner.join(timeout=20)
    assert not runner.is_alive()
