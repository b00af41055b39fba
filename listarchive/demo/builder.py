"""The machinery of the generated demo list: people with their mail clients, a toy git
repository, and :class:`DemoBuilder`, which turns files into commits and commits into mail the
way ``git format-patch``, ``git send-email``, ``git request-pull`` and people's mailers write it.

Everything is deterministic for a given ``seed`` and ``now``: git gets its names and dates from
the environment (never from the user's configuration, which could add signatures or change
defaults), and the Message-IDs and Dates that ``git format-patch`` and ``git send-email`` would
take from the clock are replaced by ones drawn from the seeded generator. What happens on the
list is :mod:`listarchive.demo.story`.
"""

from __future__ import annotations

import os
import random
import re
import string
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path

from listarchive.errors import ListarchiveError
from listarchive.mail.mbox import to_mboxrd

LIST_NAME = "demo-devel"
LIST_ADDRESS = "demo-devel@lists.example.org"
LIST_ID = "demo-devel.lists.example.org"
LIST_DESCRIPTION = "Demo driver development (generated example list)"
ARCHIVE_URL = "https://lists.example.org"
PULL_URL = "https://git.example.org/demo.git"
MBOX_NAME = "demo-devel.mbox"
SPAN_DAYS = 21

# RFC 5322's hard limit rather than the 78-column default: with 78, the email package folds a
# long Subject before its first word and sends a reply quoting an 80-column diff line as
# quoted-printable, neither of which mutt or Thunderbird would do.
_HEADER_POLICY = policy.default.clone(max_line_length=998)


@dataclass(frozen=True)
class DemoFiles:
    mbox: Path
    maintainers: Path
    repo: Path


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    utc_offset: float  # hours
    mailer: str  # "mutt", "thunderbird", "gmail", "outlook", "bot"

    @property
    def address(self) -> str:
        return f"{self.name} <{self.email}>"

    @property
    def tz(self) -> timezone:
        return timezone(timedelta(hours=self.utc_offset))


@dataclass(frozen=True)
class Mail:
    msgid: str
    subject: str
    author: Person
    date: datetime
    body: str
    references: tuple[str, ...]
    raw: bytes


def edit(text: str, old: str, new: str) -> str:
    if text.count(old) != 1:
        raise ValueError(f"demo tree edit does not match exactly once: {old[:40]!r}")
    return text.replace(old, new)


def sign(body: str, *people: Person, trailers: Sequence[str] = ()) -> str:
    lines = [*trailers, *(f"Signed-off-by: {p.address}" for p in people)]
    return body.rstrip("\n") + "\n\n" + "\n".join(lines) + "\n"


# --- quoting helpers for replies ------------------------------------------------------------------


def quoted(text: str) -> str:
    """Quote text the way mutt and Thunderbird do: ``> `` before each line, ``>`` on blanks."""
    return "\n".join(f"> {line}" if line else ">" for line in text.strip("\n").split("\n"))


def attribution(parent: Mail) -> str:
    return f"On {format_datetime(parent.date)}, {parent.author.name} wrote:"


def excerpt(parent: Mail, marker: str, before: int = 0, after: int = 0) -> str:
    """The quoted lines of ``parent``'s body around the first line containing ``marker``.

    Quoting the real text (rather than a copy written by hand) keeps review comments attached to
    lines that exist in the diff, the way a reviewer's mailer would quote them.
    """
    lines = parent.body.split("\n")
    for i, line in enumerate(lines):
        if marker in line:
            return quoted("\n".join(lines[max(0, i - before):i + after + 1]))
    raise ValueError(f"demo reply quotes {marker!r}, which {parent.msgid} does not contain")


def diff_excerpt(parent: Mail, marker: str) -> str:
    """The quoted diff of the patch ``parent`` down to its first diff line containing
    ``marker``, the way a kernel reviewer quotes it to comment on that line: the file's header
    (``diff --git`` to ``+++``), ``[...]`` for the hunks cut before, then the hunk header and
    every line of that hunk up to the marked one.

    The hunk is quoted from its header without a cut because the archive numbers the quoted
    lines from it to place the comment written under the marked line beside that diff line
    (:mod:`listarchive.mail.linecomments`); a reviewer cuts what comes after the comments.
    """
    lines = parent.body.split("\n")
    start = next((i for i, line in enumerate(lines) if line.startswith("diff --git ")), None)
    at = next((i for i, line in enumerate(lines) if start is not None and i > start
               and marker in line), None)
    if start is None or at is None:
        raise ValueError(f"demo reply quotes {marker!r}, which the diff of {parent.msgid} "
                         "does not contain")
    header = max(i for i in range(start, at) if lines[i].startswith("diff --git "))
    hunk = max(i for i in range(header, at) if lines[i].startswith("@@ "))
    first = next(i for i in range(header, at + 1) if lines[i].startswith("@@ "))
    cut = ["[...]"] if first != hunk else []
    return quoted("\n".join([*lines[header:first], *cut, *lines[hunk:at + 1]]))


# --- git and mail builders ------------------------------------------------------------------------


class DemoBuilder:
    """The repository and the mail of one generated list, built step by step."""

    def __init__(self, repo: Path, seed: int, now: datetime, keeper: Person) -> None:
        self.keeper = keeper  # who runs the repository: git commands without an author
        self.repo = repo
        self.rng = random.Random(seed)
        # Midnight UTC, so that "hour" means local time of day whatever ``now`` is.
        self.start = (now.astimezone(UTC) - timedelta(days=SPAN_DAYS)).replace(
            hour=0, minute=0, second=0, microsecond=0)
        self.mails: list[Mail] = []

    # time and identifiers

    def at(self, day: float, hour: float, who: Person, after: Mail | None = None) -> datetime:
        """Around ``hour`` o'clock in ``who``'s zone on the ``day``-th day of the three weeks,
        jittered; never before ``after`` (a reply cannot predate what it answers)."""
        when = self.start + timedelta(days=day, hours=hour - who.utc_offset,
                                      minutes=self.rng.randint(0, 45),
                                      seconds=self.rng.randint(0, 59))
        if after is not None and when <= after.date:
            when = after.date.astimezone(UTC) + timedelta(minutes=self.rng.randint(3, 40))
        return when.astimezone(who.tz)

    def token(self, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def msgid(self, who: Person, when: datetime) -> str:
        domain = who.email.split("@", 1)[1]
        if who.mailer == "thunderbird":
            h = self.token(32, "0123456789abcdef")
            return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}@{domain}"
        if who.mailer == "gmail":
            return f"CA+{self.token(40)}@mail.example.com"
        if who.mailer == "outlook":
            return f"{self.token(20, string.ascii_uppercase + string.digits)}@mx.corp.example.com"
        if who.mailer == "bot":
            return f"{when.astimezone(UTC):%Y%m%d%H%M}.robot-{self.token(6).lower()}@{domain}"
        return f"{when.astimezone(UTC):%Y%m%d%H%M%S}.{self.token(12)}@{domain}"

    # git

    def git(self, *args: str, who: Person | None = None, when: datetime | None = None,
            stdin: bytes | None = None) -> str:
        env = _git_env(who or self.keeper, when or self.start - timedelta(days=60))
        try:
            done = subprocess.run(["git", *args], cwd=self.repo, env=env, input=stdin,
                                  capture_output=True, check=False)
        except FileNotFoundError as exc:
            raise ListarchiveError("the demo list is generated with git, which is not "
                                   "installed (or not on the PATH)") from exc
        if done.returncode:
            raise ListarchiveError(f"generating the demo list: git {' '.join(args)} failed: "
                                   f"{done.stderr.decode(errors='replace').strip()}")
        return done.stdout.decode()

    def commit(self, who: Person, when: datetime, message: str,
               files: dict[str, str]) -> str:
        for path, text in files.items():
            target = self.repo / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        self.git("add", "-A", who=who, when=when)
        self.git("commit", "-q", "-F", "-", who=who, when=when, stdin=message.encode())
        return self.git("rev-parse", "HEAD").strip()

    def read(self, path: str) -> str:
        return (self.repo / path).read_text(encoding="utf-8")

    def format_patch(self, rev_range: str, who: Person, when: datetime,
                     *options: str) -> list[bytes]:
        """``git format-patch`` output files, oldest first, as bytes."""
        with tempfile.TemporaryDirectory(prefix="demo-patches-") as out:
            self.git("format-patch", "-q", "--thread=shallow", "--no-signature", "-o", out,
                     *options, rev_range, who=who, when=when)
            return [p.read_bytes() for p in sorted(Path(out).iterdir())]

    # mail

    def _record(self, msgid: str, subject: str, who: Person, when: datetime, body: str,
                refs: tuple[str, ...], raw: bytes) -> Mail:
        mail = Mail(msgid, subject, who, when, body, refs, raw)
        self.mails.append(mail)
        return mail

    def send_patches(self, files: list[bytes], who: Person, when: datetime, slug: str,
                     version: int, cc: Sequence[Person], extra_cover: str = "",
                     in_reply_to: Mail | None = None) -> list[Mail]:
        """Mail ``git format-patch`` output as b4 would: b4-style Message-IDs, shallow
        threading under the first mail, one second between Dates, the list in To."""
        stamp = f"{when.astimezone(UTC):%Y%m%d}"
        tail = self.token(12, "0123456789abcdef")
        # b4 numbers a cover letter 0 and a lone patch 1, as in its subjects.
        first = 0 if len(files) > 1 else 1
        ids = [f"{stamp}-{slug}-v{version}-{i}-{tail}@{who.email.split('@')[1]}"
               for i in range(first, first + len(files))]
        sent = []
        for i, raw in enumerate(files):
            head, _, body_b = raw.partition(b"\n\n")
            body = body_b.decode("utf-8")
            if i == 0 and extra_cover:
                body = body.rstrip("\n") + "\n" + extra_cover
            refs: tuple[str, ...] = ()
            if in_reply_to is not None:
                refs = (*in_reply_to.references, in_reply_to.msgid)
            if i > 0:
                refs = (*refs, ids[0])
            date = when + timedelta(seconds=i)
            headers = {
                "Date": format_datetime(date),
                "Message-ID": f"<{ids[i]}>",
                "To": LIST_ADDRESS,
                "Cc": ", ".join(formataddr((p.name, p.email)) for p in cc),
                "List-Id": f"<{LIST_ID}>",
                "X-Mailer": "b4 0.13.0",
            }
            if refs:
                headers["In-Reply-To"] = f"<{refs[-1]}>"
                headers["References"] = " ".join(f"<{r}>" for r in refs)
            head_out = _replace_headers(head, headers)
            subject = _header_value(head_out, "Subject")
            sent.append(self._record(ids[i], subject, who, date, body, refs,
                                     head_out + b"\n\n" + body.encode("utf-8")))
        return sent

    def post(self, who: Person, when: datetime, subject: str, body: str,
             parent: Mail | None = None, cc: Sequence[Person] = (),
             html: str | None = None,
             attachments: Sequence[tuple[str, str, bytes]] = ()) -> Mail:
        """A mail written in a mail client: plain text (or HTML only), maybe attachments."""
        msg = EmailMessage(policy=_HEADER_POLICY)
        msg["From"] = formataddr((who.name, who.email))
        msg["To"] = LIST_ADDRESS
        if cc:
            msg["Cc"] = ", ".join(formataddr((p.name, p.email)) for p in cc)
        msg["Subject"] = subject
        msg["Date"] = format_datetime(when)
        msgid = self.msgid(who, when)
        msg["Message-ID"] = f"<{msgid}>"
        refs: tuple[str, ...] = ()
        if parent is not None:
            refs = (*parent.references, parent.msgid)
            msg["In-Reply-To"] = f"<{parent.msgid}>"
            msg["References"] = " ".join(f"<{r}>" for r in refs)
        msg["List-Id"] = f"<{LIST_ID}>"
        agent = {"mutt": ("User-Agent", "NeoMutt/20231103"),
                 "thunderbird": ("User-Agent", "Mozilla Thunderbird"),
                 "outlook": ("X-Mailer", "Microsoft Outlook 16.0"),
                 "bot": ("X-Mailer", "demo-build-robot 2.1")}.get(who.mailer)
        if agent is not None:
            msg[agent[0]] = agent[1]
        if html is not None:
            msg.set_content(html, subtype="html")
        else:
            msg.set_content(body)
        for filename, ctype, data in attachments:
            maintype, subtype = ctype.split("/")
            if maintype == "text":
                msg.add_attachment(data.decode("utf-8"), subtype=subtype, filename=filename)
            else:
                msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
        if attachments:
            # The email package draws boundaries from the global random generator.
            msg.set_boundary(f"------------{self.token(24)}")
        return self._record(msgid, subject, who, when, body, refs, msg.as_bytes())

    def reply(self, parent: Mail, who: Person, day: float, hour: float, body: str,
              cc: Sequence[Person] = (), html: str | None = None) -> Mail:
        subject = parent.subject if parent.subject.startswith("Re:") else f"Re: {parent.subject}"
        return self.post(who, self.at(day, hour, who, after=parent), subject, body, parent,
                         cc=cc, html=html)

    def mbox(self) -> bytes:
        # Arrival order: the list delivers by date; ties keep the order they were written in.
        order = sorted(range(len(self.mails)), key=lambda i: (self.mails[i].date, i))
        return b"".join(to_mboxrd(self.mails[i].raw) for i in order)


def _git_env(who: Person, when: datetime) -> dict[str, str]:
    stamp = f"{int(when.timestamp())} {when.strftime('%z') or '+0000'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update({
        "GIT_AUTHOR_NAME": who.name, "GIT_AUTHOR_EMAIL": who.email, "GIT_AUTHOR_DATE": stamp,
        "GIT_COMMITTER_NAME": who.name, "GIT_COMMITTER_EMAIL": who.email,
        "GIT_COMMITTER_DATE": stamp,
        # The user's ~/.gitconfig could sign commits, add a format.signature or change the
        # default branch; the demo must come out the same on every machine.
        "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
        "LC_ALL": "C", "TZ": "UTC",
    })
    return env


def _replace_headers(head: bytes, values: dict[str, str]) -> bytes:
    """Drop the mbox ``From `` line and the named header fields (with their continuation lines)
    from a header block, then append the new values; every other field keeps its bytes."""
    wanted = {name.lower() for name in values}
    out: list[bytes] = []
    skipping = False
    for line in head.split(b"\n"):
        if line.startswith(b"From ") and not out:
            continue
        if line[:1] in (b" ", b"\t"):
            if not skipping:
                out.append(line)
            continue
        name = line.split(b":", 1)[0].decode("ascii", "replace").lower()
        skipping = name in wanted
        if not skipping:
            out.append(line)
    for name, value in values.items():
        if value:
            out.append(f"{name}: {value}".encode("ascii"))
    return b"\n".join(out)


def _header_value(head: bytes, name: str) -> str:
    unfolded = re.sub(rb"\n[ \t]+", b" ", head).decode("ascii", "replace")
    found = re.search(rf"^{re.escape(name)}:[ \t]*(.*)$", unfolded, re.M | re.I)
    if found is None:
        return ""
    return str(make_header(decode_header(found.group(1))))
