"""Parity harness, the mail floor: where Patchwork's parser, b4 and git agree on how to read a
message, listarchive reads it the same way. Each rule is tried on hand-made mail named for the
behaviour (tests/data) and on real mail of the linux-clk and linux-mips corpora, with the
expected classification, pull URL and ref, trailers and patch-id written out here; patch-ids are
also checked against the real ``git patch-id --stable``.

The rules (see :mod:`listarchive.mail.extract`): a reply is never a submission (its diff is a
review suggestion); request-pull text is a pull request; ``[PATCH 0/N]`` is a cover letter;
anything else with a diff is a patch, whatever its subject says.
"""

from __future__ import annotations

import email
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from test_patches import CORPORA, git_ids, lore, read_mboxrd_gz

from listarchive.mail.extract import COVER, PATCH, PULL, SUGGESTION, mail_facts
from listarchive.mail.headers import Address
from listarchive.mail.message import parse
from listarchive.mail.patches import extract_patches
from listarchive.mail.trailers import Trailer, extract_trailers, matches_sender

pytestmark = pytest.mark.pure

DATA = Path(__file__).resolve().parent / "data"
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")


def facts_of(name: str):  # type: ignore[no-untyped-def]
    return mail_facts(parse((DATA / name).read_bytes()))


# --- every patch form is found, and classified as Patchwork and b4 classify it ----------------

# (fixture, kind, files as (path, change, insertions, deletions), patch-id as git prints it)
FORMS = [
    ("cover-letter-without-diff.eml", COVER, [], None),
    # git format-patch --interdiff puts a diff in the cover letter: still the cover
    ("cover-letter-with-interdiff.eml", COVER, [], None),
    # no [PATCH] prefix, sent in reply to a discussion: Patchwork and b4 call it a patch
    ("patch-without-prefix-sent-in-reply.eml", PATCH,
     [("drivers/clk/clk-foo.c", "modified", 1, 1)], ""),
    # a diff in a Re: mail: a review suggestion, never a series member
    ("reply-with-suggested-diff.eml", SUGGESTION,
     [("drivers/clk/clk-foo.c", "modified", 1, 1)], "c31bb3cb1934d60db58f450f3f0f8fd4bc3f02be"),
    # diff -c: two hunks, the second only deletes (its new section is left out)
    ("context-diff-patch.eml", PATCH, [("drivers/clk/clk-foo.c", "modified", 2, 2)], ""),
    # a .diff sent as application/octet-stream; the binary attachment beside it is not read
    ("octet-stream-patch-attachment.eml", PATCH,
     [("drivers/clk/clk-foo.c", "modified", 1, 1)], ""),
    # diff -urN of a tree named linux: "--- linux/..." on both file lines, read with -p1
    ("diff-urN-linux-tree.eml", PATCH, [("drivers/clk/clk-foo.c", "modified", 1, 1),
                                        ("include/linux/clk-foo.h", "modified", 1, 0)],
     "31b5ddf2a82c574483711f5fc4daab3d74e34479"),
]


@pytest.mark.parametrize(("name", "kind", "files", "patch_id"), FORMS, ids=[f[0] for f in FORMS])
def test_every_patch_form_is_found_and_classified(name: str, kind: str, files: list[tuple],
                                                  patch_id: str | None) -> None:
    facts = facts_of(name)
    assert facts.kind == kind
    if patch_id is None:
        assert facts.patch is None  # a cover letter carries no patch facts
        return
    assert facts.patch is not None
    assert [(f.path, f.change, f.insertions, f.deletions) for f in facts.patch.files] == files
    assert facts.patch.patch_id == patch_id


@needs_git
def test_patch_ids_of_the_forms_are_what_git_prints() -> None:
    diffs = [facts_of(name).patch.diff for name, _, _, pid in FORMS if pid is not None]
    assert [facts_of(name).patch.patch_id for name, _, _, pid in FORMS if pid is not None] \
        == git_ids(diffs)


def test_context_diff_is_read_as_patch_reads_it() -> None:
    info = facts_of("context-diff-patch.eml").patch
    assert info is not None
    assert info.added_lines == ("\treturn 48000000;", "/* in Hz */")
    assert info.removed_lines == ("\treturn 0;", "\t/* no parent yet */")
    assert info.commit_message.startswith("The rate was returned in kHz")
    assert info.diff.startswith("*** a/drivers/clk/clk-foo.c") and "--Mark" not in info.diff


@pytest.mark.skipif(shutil.which("patch") is None, reason="patch(1) not installed")
def test_context_diff_applies_with_patch(tmp_path: Path) -> None:
    """The extracted context diff is what patch(1) applies to the file it was made from."""
    info = facts_of("context-diff-patch.eml").patch
    assert info is not None
    (tmp_path / "drivers/clk").mkdir(parents=True)
    (tmp_path / "drivers/clk/clk-foo.c").write_text(
        "int rate(void)\n{\n\treturn 0;\n}\n\n" + "/* spacer */\n" * 4
        + "\nint parent(void)\n{\n\t/* no parent yet */\n\treturn 1;\n}\n")
    done = subprocess.run(["patch", "-p1"], input=info.diff.encode(), cwd=tmp_path,
                          capture_output=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "return 48000000;\n}\n/* in Hz */" in (tmp_path / "drivers/clk/clk-foo.c").read_text()


# Real mail: (corpus, Message-ID, kind, the files found).
REAL = [
    # "ethernet driver patch", 1997: a context diff, no [PATCH] prefix
    ("linux-mips-first10000", "9708201502.AA03372@neptune.rd.qms.com", PATCH,
     [("sgiseeq.c", "modified", 25, 21)]),
    # mutt: "Content-Disposition: attachment; filename=swap-diff", a text/plain part
    ("linux-mips-first10000", "20020223001122.F15503@lug-owl.de", PATCH,
     [("include/asm-mips/pgtable.h", "modified", 10, 3)]),
    # Netscape: the diff in an inline part named "junk", "diff -Nru linux/include/..."
    ("linux-mips-first10000", "39F79EF8.9029AE6@mvista.com", PATCH,
     [("include/asm-mips/stackframe.h", "modified", 1, 1)]),
    # "Re: R4000SC ...": a reply with the diff attached is a suggestion
    ("linux-mips-first10000", "19981015125602.A2130@uni-koblenz.de", SUGGESTION, None),
    # a header line wrapped at 80 columns by the mailer ("+++ ... 09:23:27" then "2001")
    ("linux-mips-first10000", "02a401c12063$cde1e830$3501010a@ltc.com", PATCH,
     [("sysdeps/mips/mipsel/rtld-parms", "modified", 1, 1)]),
    # a b4 cover letter
    ("linux-clk-last10000",
     "20250813-glymur-clock-controller-v4-v4-0-a408b390b22c@oss.qualcomm.com", COVER, []),
]


@pytest.mark.parametrize(("corpus", "msgid", "kind", "files"), REAL, ids=[r[1] for r in REAL])
def test_real_mail_is_classified_and_its_diff_found(corpus: str, msgid: str, kind: str,
                                                    files: list[tuple] | None) -> None:
    msg = lore(corpus)[msgid]
    facts = mail_facts(msg)
    assert facts.kind == kind
    if files is not None and kind != COVER:
        assert facts.patch is not None
        assert [(f.path, f.change, f.insertions, f.deletions)
                for f in facts.patch.files] == files
    elif kind == SUGGESTION:
        assert facts.patch is not None and facts.patch.files


# --- pull requests: URL and ref as Patchwork stores them ---------------------------------------

PULLS = [
    ("pull-request-ref-on-its-own-line.eml",
     "git://git.kernel.org/pub/scm/linux/kernel/git/geert/renesas-drivers.git "
     "tags/renesas-clk-for-v6.9-tag1", "1d4d15a8d7e9bc4f9a4cd1e1a5b1e0ae3d9c5ce2"),
    ("pull-request-ssh-url-trailing-blanks.eml",
     "git+ssh://git@gitolite.example.org/pub/scm/linux/kernel/git/dinguyen/linux.git "
     "socfpga_clk_fixes_for_v6.9", "9b0ab0a2a9c0f1e3a1e7d7c6b5a4f3e2d1c0b9a8"),
    ("pull-request-url-broken-in-two.eml",
     "https://git.kernel.org/pub/scm/linux/kernel/git/abelvesa/linux.git tags/clk-imx-6.9",
     "5a5e0d1b0e3e0a7c4d4f3d2e1f0a9b8c7d6e5f4a"),
    ("pull-request-scp-style-url.eml",
     "git@github.com:spacemit-com/linux.git spacemit-clk-for-6.9",
     "0123456789abcdef0123456789abcdef01234567"),
]


@pytest.mark.parametrize(("name", "pull_url", "head"), PULLS, ids=[p[0] for p in PULLS])
def test_pull_request_url_and_ref(name: str, pull_url: str, head: str) -> None:
    facts = facts_of(name)
    assert facts.kind == PULL
    assert facts.patch is not None and facts.patch.pull is not None
    pull = facts.patch.pull
    assert pull.pull_url == pull_url
    assert pull.head_commit == head
    assert pull.base_commit == "6613476e225e090cc9aad49be7fa504e290dd33d"
    assert pull.shortlog.split("\n")[0].endswith(":")  # "Duy Nguyen (1):"
    assert "|" not in pull.shortlog  # the diffstat is not part of the shortlog


@pytest.mark.parametrize("url", [
    "ssh://git@gitolite.example.org/linux/clk.git", "http://git.example.org/clk.git",
    "https://git.example.org/clk.git/", "git://git.example.org/clk.git"])
def test_pull_request_url_schemes(url: str) -> None:
    raw = (DATA / "pull-request-ref-on-its-own-line.eml").read_bytes().replace(
        b"git://git.kernel.org/pub/scm/linux/kernel/git/geert/renesas-drivers.git", url.encode())
    pull = mail_facts(parse(raw)).patch.pull
    assert pull.pull_url == f"{url} tags/renesas-clk-for-v6.9-tag1"


def test_pull_request_tag_message_and_shortlog() -> None:
    pull = facts_of("pull-request-ref-on-its-own-line.eml").patch.pull
    assert pull.description == "clk: renesas: Updates for v6.9\n\n  - Add watchdog clock on R-Car V4H."
    assert pull.shortlog == "Duy Nguyen (1):\n      clk: renesas: r8a779g0: Add WDT clock"


@needs_git
def test_request_pull_with_diff_is_a_pull_not_a_patch(tmp_path: Path) -> None:
    """``git request-pull -p`` output carries a diffstat and the whole diff: still a pull."""
    from mailfixtures import dev_git

    repo = tmp_path / "repo"
    repo.mkdir()
    dev_git(repo, "init", "-q", "-b", "main")
    (repo / "clk.c").write_text("int rate;\n")
    dev_git(repo, "add", ".")
    dev_git(repo, "commit", "-qm", "base")
    dev_git(repo, "tag", "v1.0")
    (repo / "clk.c").write_text("int rate = 1;\n")
    dev_git(repo, "commit", "-qam", "clk: set the rate")
    head = dev_git(repo, "rev-parse", "HEAD").strip()
    text = dev_git(repo, "request-pull", "-p", "v1.0", f"file://{repo}", "main")
    raw = ("From: Dev Eloper <dev@example.org>\nSubject: [GIT PULL] clk: set the rate\n"
           "Message-ID: <request-pull-p@example.org>\n\n" + text).encode()
    facts = mail_facts(parse(raw))
    assert facts.kind == PULL
    assert facts.patch is not None and facts.patch.pull is not None
    assert facts.patch.pull.pull_url == f"file://{repo} main"
    assert facts.patch.pull.head_commit == head
    assert [f.path for f in facts.patch.files] == ["clk.c"]  # the diff is read, too


def test_linux_clk_pull_requests_name_url_and_ref() -> None:
    msgs = lore("linux-clk-last10000")
    spacemit = mail_facts(next(m for m in msgs.values()
                               if m.subject == "[GIT PULL] clk: spacemit: add changes for v6.17"))
    assert spacemit.kind == PULL
    assert spacemit.patch.pull.pull_url == ("https://github.com/spacemit-com/linux "
                                            "tags/spacemit-clk-for-6.17-1")
    assert spacemit.patch.pull.head_commit == "c79550f69f0f21be069385c20cd6490b862ba2a5"
    requests = [m for m in msgs.values() if re.search(
        r"^are available in the git repository at", m.body, re.I | re.M)]
    kinds = Counter(mail_facts(m).kind for m in requests if not m.subject.lower().startswith("re:"))
    assert kinds[PULL] >= 50 and set(kinds) == {PULL}
    for m in requests:
        facts = mail_facts(m)
        if facts.kind == PULL:
            pull = facts.patch.pull
            assert re.fullmatch(r"(git|https?)://\S+ \S+", pull.pull_url), pull.pull_url
            assert re.fullmatch(r"[0-9a-f]{40}", pull.head_commit), m.msgid


# --- trailers as b4 reads them ------------------------------------------------------------------

# (line in a reply, value as b4 writes it back, person)
TRAILERS = [
    ("Reviewed-by: Jane Doe <jane@example.org<mailto:jane@example.org>>",
     "Jane Doe <jane@example.org>", Address("Jane Doe", "jane@example.org")),
    ('Acked-by: "Doe, Jane" <jane@example.org>', '"Doe, Jane" <jane@example.org>',
     Address("Doe, Jane", "jane@example.org")),
    ("Tested-by: Jane Doe (ACME) <jane@example.org>", "Jane Doe (ACME) <jane@example.org>",
     Address("Jane Doe (ACME)", "jane@example.org")),
    ("Reviewed-by: Jane [ACME] Doe <jane@example.org>", "Jane [ACME] Doe <jane@example.org>",
     Address("Jane [ACME] Doe", "jane@example.org")),
    ("Reported-by: jane@example.org (Jane Doe)", "Jane Doe <jane@example.org>",
     Address("Jane Doe", "jane@example.org")),
]


@pytest.mark.parametrize(("line", "value", "person"), TRAILERS, ids=[t[0] for t in TRAILERS])
def test_trailer_values_are_cleaned_as_b4_cleans_them(line: str, value: str,
                                                      person: Address) -> None:
    (trailer,) = extract_trailers(f"Looks good.\n\n{line}\n")
    assert (trailer.value, trailer.person) == (value, person)


def test_wrapped_trailers_are_joined() -> None:
    body = ("Thanks!\n\nReviewed-by: Carol Long-Name-Of-Someone\n<carol@example.org>\n"
            "Fixes: 0123456789ab (\"clk: foo: a title long enough\n to be wrapped\")\n")
    got = extract_trailers(body)
    assert [(t.name, t.value) for t in got] == [
        ("Reviewed-by", "Carol Long-Name-Of-Someone <carol@example.org>"),
        ("Fixes", '0123456789ab ("clk: foo: a title long enough to be wrapped")')]


def test_trailer_after_a_suggested_diff_is_given() -> None:
    facts = facts_of("reply-with-suggested-diff.eml")
    assert [(t.name, t.value) for t in facts.given] == [
        ("Reviewed-by", "Rev Iewer <rev@example.org>")]


# (trailer person, sender, b4 applies it)
SENDERS = [
    (Address("Jane Doe", "jane@example.org"), Address("Jane Doe", "jane@example.org"), True),
    (Address("Jane Doe", "jane@example.org"), Address("J. Doe", "jane+lkml@example.org"), True),
    (Address("Jane Doe", "jane@linux.example.org"), Address("", "jane@example.org"), True),
    (Address("Jane Doe", "jane@work.example"), Address("Jane Doe", "jane@home.example"), True),
    (Address("Doe, Jane", "jane@work.example"), Address("Doe, Jane", "jd@home.example"), True),
    # a forged tag: someone else's name and address in a reply from Mallory
    (Address("Famous Maintainer", "famous@example.org"),
     Address("Mallory", "mallory@example.org"), False),
    # the comma rule asks for every part of the sender's name, not any
    (Address("Famous Maintainer", "famous@example.org"),
     Address("Doe, Jane", "jane@example.org"), False),
    (Address("Jane Doe", "jane@a.example.org"), Address("Jane Doe2", "jane@b.example.org"), False),
]


@pytest.mark.parametrize(("person", "sender", "applies"), SENDERS)
def test_trailer_sender_match(person: Address, sender: Address, applies: bool) -> None:
    assert matches_sender(Trailer("Reviewed-by", str(person), person), sender) == applies


# --- the corpora: how many messages carry a diff outside quotes, and how many are found -------

_UNIFIED_HUNK = re.compile(r"@@ -\d+(?:,\d+)? \+\d+(?:,\d+)? @@")
_CONTEXT_HUNK = re.compile(r"\*\*\* \d+(?:,\d+)? \*\*\*\*\s*$")


def carries_diff(raw: bytes) -> bool:
    """An independent reading (the standard library's MIME walk, no code of ours): does any text
    part, or any attachment without NUL bytes, hold a file-header pair (``---``/``+++`` or
    ``***``/``---``) followed later by a hunk header, outside quoted lines?"""
    for part in email.message_from_bytes(raw).walk():
        if part.is_multipart() or part.get_content_type() == "text/html":
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes) or b"\0" in payload:
            continue
        lines = payload.decode("latin-1").replace("\r\n", "\n").split("\n")
        header = False
        for i, line in enumerate(lines):
            if line.lstrip().startswith(">"):
                continue
            nxt = lines[i + 1] if i + 1 < len(lines) else ""
            if (line.startswith("--- ") and nxt.startswith("+++ ")) or (
                    line.startswith("*** ") and nxt.startswith("--- ")):
                header = True
            if header and (_UNIFIED_HUNK.match(line) or _CONTEXT_HUNK.match(line)):
                return True
    return False


# corpus -> (messages with a diff outside quotes at least, share found at least)
FLOORS = {"linux-clk-last10000": (4000, 0.999), "linux-mips-first10000": (450, 0.99)}


@pytest.mark.slow
@pytest.mark.parametrize("corpus", sorted(FLOORS))
def test_diffs_outside_quotes_are_found_in_the_corpora(corpus: str) -> None:
    with_diff = found = 0
    kinds: Counter[str] = Counter()
    missed: list[str] = []
    for raw in read_mboxrd_gz(CORPORA / "lore" / f"{corpus}.mboxrd.gz"):
        if not carries_diff(raw):
            continue
        with_diff += 1
        msg = parse(raw)
        info = extract_patches(msg)
        kinds[mail_facts(msg).kind or "other"] += 1
        if info is not None and info.files:
            found += 1
        else:
            missed.append(msg.msgid)
    print(f"\n{corpus}: {with_diff} messages carry a diff outside quotes, {found} found "
          f"({dict(kinds)}); missed: {missed[:10]}")
    least, share = FLOORS[corpus]
    assert with_diff >= least
    assert found >= share * with_diff, missed[:20]
    # a message whose diff is found is a patch, a suggestion, a pull or a cover, never nothing
    assert kinds["other"] <= with_diff - found


@needs_git
@pytest.mark.slow
def test_patch_id_matches_git_on_every_linux_mips_diff() -> None:
    infos = [i for i in (extract_patches(m) for m in lore("linux-mips-first10000").values())
             if i is not None and i.files]
    assert len(infos) > 450
    assert [i.patch_id for i in infos] == git_ids([i.diff for i in infos])
