"""Notification mails as bytes, from plain facts (no database): a reply to the series' cover
letter or first patch in the manner of kernel.org's patchwork-bot ("Hello:\\n\\nThis series was
applied to ..."), and the mails followers get.

The reply carries ``In-Reply-To`` and ``References`` so a mail reader threads it under the
series, and ``Auto-Submitted: auto-generated`` so auto-responders stay quiet (RFC 3834).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

SIGNATURE = "-- \nThis mail was sent by the archive because of your series or your follows.\n"


@dataclass(frozen=True)
class Anchor:
    """The message a notification replies to (cover letter, else the first patch)."""

    msgid: str
    subject: str
    references: str = ""  # its own References header, Message-IDs separated by spaces


@dataclass(frozen=True)
class Applied:
    """One patch of an accepted series and the commit git-scan matched it to ('' if none)."""

    title: str
    commit: str = ""
    where: str = ""  # "linux master": the repository and branch the commit was found in


def reply_subject(subject: str) -> str:
    """``[PATCH v2 0/3] clk: fix`` -> ``Re: [PATCH v2 0/3] clk: fix``; one ``Re:`` only."""
    text = " ".join(subject.split())
    return text if text[:3].lower() == "re:" else f"Re: {text}"


def _headers(msg: EmailMessage, sender: str, recipient: str, subject: str, now: datetime,
             anchor: Anchor | None) -> None:
    msg["From"] = sender
    msg["To"] = recipient
    msg["Subject"] = subject
    msg["Date"] = format_datetime(now.replace(tzinfo=None), usegmt=False)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    msg["Message-ID"] = make_msgid("notify", domain=domain)
    if anchor is not None:
        msg["In-Reply-To"] = f"<{anchor.msgid}>"
        refs = [r for r in anchor.references.split() if r]
        msg["References"] = " ".join([*refs, f"<{anchor.msgid}>"])
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Listarchive-Notification"] = "yes"


def state_letter(sender: str, recipient: str, anchor: Anchor, state: str, url: str,
                 now: datetime, applied: tuple[Applied, ...] = (), newer_url: str = "") -> bytes:
    """What the submitter of a series gets when it is accepted, gets changes requested or is
    superseded: one reply to the series, with the commit ids when git-scan knows them."""
    lines = ["Hello:", ""]
    if state == "accepted":
        where = next((a.where for a in applied if a.where), "")
        lines.append(f"This series was applied to {where}." if where
                     else "This series was applied.")
        if applied:
            lines += ["", "Here is the summary:"]
            for item in applied:
                lines.append(f"  - {item.title}")
                if item.commit:
                    lines.append(f"    commit {item.commit}")
    elif state == "changes-requested":
        lines.append("Changes were requested for this series: please address the review "
                     "and send a new revision.")
    elif state == "superseded":
        lines.append("This series was superseded by a newer revision"
                     + (f":\n  {newer_url}" if newer_url else "."))
    else:
        lines.append(f"This series is now {state}.")
    lines += ["", "The series, its review and its history:", f"  {url}", "", SIGNATURE]
    msg = EmailMessage()
    _headers(msg, sender, recipient, reply_subject(anchor.subject), now, anchor)
    msg.set_content("\n".join(lines))
    return bytes(msg)


def follow_letter(sender: str, recipient: str, subject: str, lines: tuple[str, ...],
                  reason: str, now: datetime, anchor: Anchor | None = None) -> bytes:
    """What a follower gets: a new revision or state change of something followed, or new mail
    matching a followed search. ``reason`` says which follow brought it, and how to stop."""
    msg = EmailMessage()
    _headers(msg, sender, recipient, reply_subject(subject) if anchor else subject, now, anchor)
    body = ["Hello:", "", *lines, "", f"You get this mail because you follow {reason}.",
            "Unfollow on that page, or see your follows at the archive's /queue/ page.", "",
            SIGNATURE]
    msg.set_content("\n".join(body))
    return bytes(msg)
