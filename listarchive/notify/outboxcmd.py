"""``listarchive outbox [list, retry]``: the notification mails waiting for the SMTP relay."""

from __future__ import annotations

from listarchive.archive.db import open_archive
from listarchive.notify.notices import notify
from listarchive.notify.outbox import deliver, waiting
from listarchive.settings import Settings


def notify_now(settings: Settings) -> None:
    """Queue what changed since the last look and send what is due (when notifications are on)."""
    if not settings.notify.enabled:
        return
    archive = open_archive(settings, writer=True)
    try:
        notify(settings, archive.sessions)
    finally:
        archive.close()


def run_outbox(settings: Settings, action: str) -> list[str]:
    """The lines ``listarchive outbox`` prints. ``retry`` first looks for new notifications
    (so changes made on the site go out), then hands every due mail to the relay, including
    the ones given up after too many attempts."""
    archive = open_archive(settings, writer=action == "retry")
    out: list[str] = []
    try:
        if not settings.notify.enabled:
            out.append("notifications are off ([notify] enabled = false): nothing is queued "
                       "or sent")
        if action == "retry" and settings.notify.enabled:
            first = notify(settings, archive.sessions)  # queues, and sends what is due
            done = deliver(archive.sessions, settings.notify, everything=True)
            sent = done.sent + (first.sent if first else 0)
            failed = done.failed + (first.failed if first else 0)
            out.append(f"sent {sent}, not sent {failed} (retried later)")
        with archive.sessions() as session:
            mails = waiting(session, settings.notify)
        for mail in mails:
            status = "failed" if mail.given_up else "pending"
            out.append(f"{mail.id}\t{status}\t{mail.attempts} attempts\tnext "
                       f"{mail.next_try:%Y-%m-%d %H:%M}\t{mail.recipient}\t{mail.subject}")
            if mail.last_error:
                out.append(f"\t{mail.last_error}")
        if action == "list" and not mails:
            out.append("the outbox is empty")
    finally:
        archive.close()
    return out
