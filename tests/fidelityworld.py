"""The mail of the review parity harness (tests/test_fidelity_review.py), made with real git.

One repository, three revisions of a three-patch series sent with ``git format-patch``, and the
replies reviewers send, each for one rule ``b4 am`` follows:

- v1 (cover + 3 patches). Alice reviews 1/3, Eve tests Alice's review (a reply to a reply),
  Carol's Reviewed-by has its address wrapped onto the next line, Mallory sends "Reviewed-by:
  Famous Maintainer" (a mismatch), Bob's Acked-by comes from an HTML mail client
  (``<bob@...<mailto:bob@...>>``), Frank suggests a diff for 2/3 and Gina acks his suggestion,
  "Doe, Jane" and "Jane Doe (ACME)" test and review 3/3, Dave acks the cover letter.
- v2: a partial reroll, ``[PATCH v2 2/3]`` alone in reply to v1's 2/3; Alice reviews it.
- v3: the whole series again, patch 1 unchanged since v1 and patch 2 unchanged since v2 (their
  trailers carry over), patch 3 changed.
- ``[PATCH] clk: foo: return five`` as plain ``diff -u`` output, no git headers, a blank
  context line stripped of its space by the mailer, with a review.
- ``[PATCH 1/3]``..``3/3`` of another branch without a cover letter, sent with
  ``--thread=deep`` (each patch answers the one before), the mails in reverse order.
- a ``git request-pull`` of branch ``clk-fixes`` (not merged yet), and two replies whose parent
  was never archived.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from mailfixtures import DEV_ENV, dev_git, format_patch

LIST = "linux-clk@example.org"
BASE_DATE = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)


@dataclass
class FidelityWorld:
    repo: Path
    base: str  # the commit the series apply to
    mbox: Path  # every mail, one mboxrd file (what b4 am -m reads)
    ids: dict[str, str]  # name -> Message-ID
    fixes_head: str  # the head commit the pull request names


def _msgid(raw: bytes) -> str:
    found = re.search(rb"^Message-I[dD]: <([^>]+)>", raw, re.M)
    assert found is not None
    return found.group(1).decode()


def _dated(raw: bytes, when: datetime) -> bytes:
    return re.sub(rb"^Date: .*$", f"Date: {format_datetime(when)}".encode(), raw, count=1,
                  flags=re.M)


def reply(parent: bytes, sender: str, body: str, msgid: str, when: datetime,
          subject: str | None = None) -> bytes:
    """A reply as a mail client writes it: In-Reply-To and References, the subject with Re:."""
    head = parent.split(b"\n\n", 1)[0].decode()
    old_subject = re.search(r"^Subject: (.*(?:\n[ \t].*)*)", head, re.M)
    assert old_subject is not None
    refs = re.search(r"^References: (.*(?:\n[ \t].*)*)", head, re.M)
    parent_id = _msgid(parent)
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = LIST
    title = " ".join(old_subject.group(1).split())
    msg["Subject"] = subject or (title if title.lower().startswith("re:") else "Re: " + title)
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = f"<{msgid}>"
    msg["In-Reply-To"] = f"<{parent_id}>"
    msg["References"] = " ".join([*(refs.group(1).split() if refs else []), f"<{parent_id}>"])
    msg.set_content(body)
    return bytes(msg)


def _commit(repo: Path, path: str, text: str, message: str) -> None:
    (repo / path).write_text(text)
    dev_git(repo, "add", path)
    dev_git(repo, "commit", "-qm", message)


CLK = "int rate(void)\n{\n\treturn 0;\n}\n\nint parent(void)\n{\n\treturn 1;\n}\n"


def build(base: Path) -> FidelityWorld:
    repo = base / "repo"
    repo.mkdir()
    dev_git(repo, "init", "-q", "-b", "main")
    (repo / "drivers").mkdir()
    _commit(repo, "drivers/clk-foo.c", CLK, "base")
    _commit(repo, "drivers/clk-bar.c", "int bar(void)\n{\n\treturn 0;\n}\n", "bar")
    start = dev_git(repo, "rev-parse", "HEAD").strip()
    dev_git(repo, "checkout", "-q", "-b", "topic")
    _commit(repo, "drivers/clk-foo.c", CLK.replace("return 0;", "return 48000000;"),
            "clk: foo: return the rate in Hz\n\nThe rate was in kHz.\n\n"
            "Signed-off-by: Dev Eloper <dev@example.org>")
    _commit(repo, "drivers/clk-foo.c",
            CLK.replace("return 0;", "return 48000000;").replace("return 1;", "return 2;"),
            "clk: foo: use the second parent\n\nSigned-off-by: Dev Eloper <dev@example.org>")
    _commit(repo, "drivers/clk-foo.h", "#define FOO_HZ 48000000\n",
            "clk: foo: name the rate\n\nSigned-off-by: Dev Eloper <dev@example.org>")
    v1 = format_patch(dev_git, repo, base / "v1", f"--to={LIST}", f"{start}..topic")
    # v2: patch 2 reworked, sent alone in reply to v1's 2/3 (a partial reroll)
    dev_git(repo, "checkout", "-q", "-b", "topic-v2", "topic~1")
    dev_git(repo, "reset", "-q", "--soft", "HEAD~1")
    (repo / "drivers/clk-foo.c").write_text(
        CLK.replace("return 0;", "return 48000000;").replace("return 1;", "return 3;"))
    dev_git(repo, "add", "-A")
    dev_git(repo, "commit", "-qm", "clk: foo: use the third parent\n\n"
                                   "Signed-off-by: Dev Eloper <dev@example.org>")
    (part,) = format_patch(dev_git, repo, base / "v2", "-v2", "--no-cover-letter", "-1")[:1]
    v2_patch = part.replace(b"[PATCH v2]", b"[PATCH v2 2/3]")
    v2_patch = v2_patch.replace(b"\nSubject:", f"\nIn-Reply-To: <{_msgid(v1[2])}>\n"
                                f"References: <{_msgid(v1[0])}> <{_msgid(v1[2])}>\n"
                                "Subject:".encode(), 1)
    # v3: patch 1 as in v1, patch 2 as in v2, patch 3 changed
    _commit(repo, "drivers/clk-foo.h", "#define FOO_HZ 48000000UL\n",
            "clk: foo: name the rate\n\nSigned-off-by: Dev Eloper <dev@example.org>")
    v3 = format_patch(dev_git, repo, base / "v3", "-v3", f"--to={LIST}", f"{start}..HEAD")
    # another series: no cover letter, each patch in reply to the previous one
    dev_git(repo, "checkout", "-q", "-b", "deep", start)
    for n in (1, 2, 3):
        _commit(repo, f"drivers/clk-deep{n}.c", f"int deep{n};\n", f"clk: deep: step {n}")
    deep_dir = base / "deep"
    dev_git(repo, "format-patch", "-q", "--thread=deep", "--no-cover-letter", "-o",
            str(deep_dir), f"--to={LIST}", f"{start}..deep")
    deep = [re.sub(rb"<([0-9a-f]{40})\.\d+\.git\.", rb"<\1.deep.git.", p.read_bytes())
            for p in sorted(deep_dir.glob("*.patch"))]
    # a fix on its own branch, asked to be pulled
    dev_git(repo, "checkout", "-q", "-b", "clk-fixes", start)
    _commit(repo, "drivers/clk-bar.c", "int bar(void)\n{\n\treturn 1;\n}\n",
            "clk: bar: return one")
    fixes_head = dev_git(repo, "rev-parse", "HEAD").strip()
    # request-pull asks the repository it names; the mail then names the public one
    request = dev_git(repo, "request-pull", start, f"file://{repo}", "clk-fixes").replace(
        f"file://{repo}", "https://git.example.org/clk.git")
    dev_git(repo, "checkout", "-q", "main")

    t = BASE_DATE
    mails: list[bytes] = []
    ids: dict[str, str] = {}

    def add(name: str, raw: bytes) -> bytes:
        nonlocal t
        t += timedelta(minutes=10)
        if raw.startswith(b"From "):  # format-patch's mbox From line
            raw = raw.split(b"\n", 1)[1]
        raw = _dated(raw, t)
        ids[name] = _msgid(raw)
        mails.append(raw)
        return raw

    for i, raw in enumerate(v1):
        add(f"v1-{i}", raw)
    cover, p1, p2, p3 = mails[0], mails[1], mails[2], mails[3]
    alice = add("alice", reply(p1, "Alice Reviewer <alice@example.org>",
                               "Looks right.\n\nReviewed-by: Alice Reviewer <alice@example.org>",
                               "alice@example.org", t))
    add("eve", reply(alice, "Eve Tester <eve@example.org>",
                     "Tested-by: Eve Tester <eve@example.org>", "eve@example.org", t))
    add("carol", reply(p1, "Carol Long-Name <carol@example.org>",
                       "Thanks.\n\nReviewed-by: Carol Long-Name\n<carol@example.org>",
                       "carol@example.org", t))
    add("mallory", reply(p2, "Mallory <mallory@example.org>",
                         "Reviewed-by: Famous Maintainer <famous@example.org>",
                         "mallory@example.org", t))
    add("bob", reply(p2, "Bob Builder <bob@example.org>",
                     "Acked-by: Bob Builder <bob@example.org<mailto:bob@example.org>>",
                     "bob@example.org", t))
    frank = add("frank", reply(p2, "Frank Fixer <frank@example.org>",
                               "Simpler:\n\n--- a/drivers/clk-foo.c\n+++ b/drivers/clk-foo.c\n"
                               "@@ -7,3 +7,3 @@ int parent(void)\n {\n-\treturn 1;\n+\treturn 4;\n"
                               " }\n\nReviewed-by: Frank Fixer <frank@example.org>",
                               "frank@example.org", t))
    add("gina", reply(frank, "Gina <gina@example.org>", "Acked-by: Gina <gina@example.org>",
                      "gina@example.org", t))
    add("jane", reply(p3, '"Doe, Jane" <jane@example.org>',
                      'Tested-by: "Doe, Jane" <jane@example.org>', "jane@example.org", t))
    add("acme", reply(p3, '"Jane Doe (ACME)" <jane.doe@acme.example>',
                      "Reviewed-by: Jane Doe (ACME) <jane.doe@acme.example>",
                      "acme@example.org", t))
    add("dave", reply(cover, "Dave Maintainer <dave@example.org>",
                      "Acked-by: Dave Maintainer <dave@example.org>", "dave@example.org", t))
    v2 = add("v2-2", v2_patch)
    add("alice-v2", reply(v2, "Alice Reviewer <alice@example.org>",
                          "Reviewed-by: Alice Reviewer <alice@example.org>",
                          "alice-v2@example.org", t))
    for i, raw in enumerate(v3):
        add(f"v3-{i}", raw)
    for i, raw in reversed(list(enumerate(deep, 1))):
        add(f"deep-{i}", raw)
    plain = EmailMessage()
    plain["From"] = "Old Timer <old@example.org>"
    plain["To"] = LIST
    plain["Subject"] = "[PATCH] clk: foo: return five"
    plain["Date"] = format_datetime(t)
    plain["Message-ID"] = "<plain-diff@example.org>"
    # plain diff -u output, no git headers; the blank context line lost its leading space
    plain.set_content("parent() should say five.\n\nSigned-off-by: Old Timer <old@example.org>\n\n"
                      "--- a/drivers/clk-foo.c\n+++ b/drivers/clk-foo.c\n@@ -3,7 +3,7 @@\n"
                      " \treturn 0;\n }\n\n int parent(void)\n {\n-\treturn 1;\n+\treturn 5;\n"
                      " }\n")
    plain_raw = add("plain", bytes(plain))
    add("plain-review", reply(plain_raw, "Rita Reviewer <rita@example.org>",
                              "Reviewed-by: Rita Reviewer <rita@example.org>",
                              "plain-review@example.org", t))
    pull = EmailMessage()
    pull["From"] = "Dev Eloper <dev@example.org>"
    pull["To"] = LIST
    pull["Subject"] = "[GIT PULL] clk: bar fixes"
    pull["Date"] = format_datetime(t)
    pull["Message-ID"] = "<pull-clk-fixes@example.org>"
    pull.set_content("Hi,\n\nplease pull.\n\n" + request)
    add("pull", bytes(pull))
    orphan = EmailMessage()
    orphan["From"] = "Late Comer <late@example.org>"
    orphan["To"] = LIST
    orphan["Subject"] = "Re: [PATCH 1/2] clk: baz: something we never saw"
    orphan["Date"] = format_datetime(t)
    orphan["Message-ID"] = "<orphan-reply@example.org>"
    orphan["In-Reply-To"] = "<never-archived@example.org>"
    orphan["References"] = "<never-archived-cover@example.org> <never-archived@example.org>"
    orphan.set_content("A reply to a patch this archive never received.")
    add("orphan", bytes(orphan))
    orphan2 = EmailMessage()
    orphan2["From"] = "Second Late <late2@example.org>"
    orphan2["To"] = LIST
    orphan2["Subject"] = "Re: [PATCH 1/2] clk: baz: something we never saw"
    orphan2["Date"] = format_datetime(t + timedelta(minutes=1))
    orphan2["Message-ID"] = "<orphan-reply-2@example.org>"
    orphan2["In-Reply-To"] = "<never-archived@example.org>"
    orphan2["References"] = "<never-archived-cover@example.org> <never-archived@example.org>"
    orphan2.set_content("Another one.")
    add("orphan-2", bytes(orphan2))
    mbox = base / "world.mbox"
    mbox.write_bytes(b"".join(b"From mboxrd@z Thu Jan  1 00:00:00 1970\n"
                              + re.sub(rb"(?m)^(>*From )", rb">\1", raw.replace(b"\r\n", b"\n"))
                              + (b"" if raw.endswith(b"\n") else b"\n") + b"\n"
                              for raw in mails))
    assert subprocess.run(["git", "-C", str(repo), "cat-file", "-e", fixes_head],
                          env=DEV_ENV).returncode == 0
    return FidelityWorld(repo, start, mbox, ids, fixes_head)
