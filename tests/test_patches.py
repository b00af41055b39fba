"""Patch extraction on real mail: linux-clk, linux-mips, patchew, public-inbox, hostile mail."""

from __future__ import annotations

import gzip
import re
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from listarchive.errors import MalformedMessage
from listarchive.mail.message import ParsedMessage, parse
from listarchive.mail.patches import diffstat, extract_patches, parse_patch_text
from listarchive.mail.patchid import git_patch_id

pytestmark = pytest.mark.pure

CORPORA = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"
DATA = Path(__file__).resolve().parent / "data"
MBOXRD_SEP = b"\nFrom mboxrd@z Thu Jan  1 00:00:00 1970\n"
_UNESCAPE = re.compile(rb"(?m)^>(>*From )")


def read_mboxrd_gz(path: Path) -> list[bytes]:
    data = gzip.open(path).read()
    first, *rest = data.split(MBOXRD_SEP)
    chunks = [first.split(b"\n", 1)[1], *rest]
    return [_UNESCAPE.sub(rb"\1", c) for c in chunks]


@lru_cache(maxsize=2)
def lore(name: str) -> dict[str, ParsedMessage]:
    out = {}
    for raw in read_mboxrd_gz(CORPORA / "lore" / f"{name}.mboxrd.gz"):
        msg = parse(raw)
        out[msg.msgid] = msg
    return out


def git_ids(diffs: list[str]) -> list[str]:
    """Real ``git patch-id --stable`` of each diff, in one git process ('' where git is silent).

    Where git stops hashing a diff early (a CVS diff's ``Index:`` line between two files), it
    reads the rest of that diff as another patch of no commit (printed with commit 0000...):
    those lines are not about any of ours."""
    stream = "".join(f"commit {i + 1:040x}\n{d}" for i, d in enumerate(diffs))
    out = subprocess.run(["git", "patch-id", "--stable"], input=stream.encode(),
                         capture_output=True, check=True).stdout.decode()
    ids = [""] * len(diffs)
    for line in out.splitlines():
        pid, commit = line.split()
        if int(commit, 16):
            ids[int(commit, 16) - 1] = pid
    return ids


needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")


@needs_git
def test_patch_id_matches_git_on_a_linux_clk_sample() -> None:
    msgs = lore("linux-clk-last10000")
    infos = [i for i in (extract_patches(m) for m in msgs.values()) if i is not None and i.diff]
    sample = infos[:: max(1, len(infos) // 300)]
    assert len(sample) >= 200
    assert [i.patch_id for i in sample] == git_ids([i.diff for i in sample])


@needs_git
@pytest.mark.slow
def test_patch_id_matches_git_on_every_linux_clk_patch() -> None:
    msgs = lore("linux-clk-last10000")
    infos = [i for i in (extract_patches(m) for m in msgs.values()) if i is not None and i.diff]
    assert len(infos) > 4000
    ours = [i.patch_id for i in infos]
    theirs = git_ids([i.diff for i in infos])
    assert ours == theirs


def test_git_patch_id_ignores_prose_before_the_diff_and_file_order() -> None:
    one = ("diff --git a/a b/a\n--- a/a\n+++ b/a\n@@ -1 +1 @@\n-x\n+y\n"
           "diff --git a/b b/b\n--- a/b\n+++ b/b\n@@ -1 +1 @@\n-p\n+q\n")
    a, b = one.split("diff --git a/b")
    swapped = "diff --git a/b" + b + a
    assert git_patch_id("commit message\n\n" + one) == git_patch_id(one) == git_patch_id(swapped)
    assert git_patch_id("no diff at all\n") == ""


def test_format_patch_mail_from_linux_clk() -> None:
    # "[PATCH v3 27/28] misc: lan966x_pci: Sort the drivers list in Kconfig help": a b4 series
    msg = next(m for m in lore("linux-clk-last10000").values()
               if m.subject.startswith("[PATCH v3 27/28] misc: lan966x_pci: Sort"))
    info = extract_patches(msg)
    assert info is not None
    assert info.commit_message.endswith("Signed-off-by: Herve Codina <herve.codina@bootlin.com>")
    assert "\n---\n" not in info.commit_message and "Kconfig |" not in info.commit_message
    assert info.diff.startswith("diff --git a/drivers/misc/Kconfig b/drivers/misc/Kconfig\n")
    assert not info.diff.rstrip().endswith("-- ")  # the signature is not part of the diff
    assert [f.path for f in info.files] == ["drivers/misc/Kconfig"]
    assert (info.insertions, info.deletions) == (3, 3) == (info.files[0].insertions,
                                                           info.files[0].deletions)
    assert info.hunk_headers == ("config MCHP_LAN966X_PCI",)
    assert diffstat(info) == "1 file changed, 3 insertions(+), 3 deletions(-)"
    assert not info.flags


def test_request_pull_from_linux_clk() -> None:
    msg = next(m for m in lore("linux-clk-last10000").values()
               if m.subject == "[GIT PULL] clk: renesas: Updates for v6.17")
    info = extract_patches(msg)
    assert info is not None and info.pull is not None
    assert info.pull.url == "git://git.kernel.org/pub/scm/linux/kernel/git/geert/renesas-drivers.git"
    assert info.pull.ref == "tags/renesas-clk-for-v6.17-tag1"
    assert info.pull.base_commit == "19272b37aa4f83ca52bdf9c16d5d81bdd1354494"
    assert info.pull.head_commit == "b7c26cbd5b704a350b3176669f47047153903bc9"
    assert info.diff == ""


def test_cvs_index_diff_from_1997_linux_mips() -> None:
    # Ralf Baechle's keyboard/load address fix: "Index:"/"RCS file:"/"diff -u -r1.2" per file
    info = extract_patches(lore("linux-mips-first10000")[
        "199706151644.SAA13812@informatik.uni-koblenz.de"])
    assert info is not None
    # "--- linux/Makefile:1.2": the tree's name goes (patch -p1), and so does CVS's revision.
    assert [(f.path, f.old_path) for f in info.files][:3] == [
        ("Makefile", "Makefile"), ("arch/mips/Makefile", "arch/mips/Makefile"),
        ("arch/mips/kernel/setup.c", "arch/mips/kernel/setup.c")]
    assert all(f.change == "modified" for f in info.files)
    assert info.commit_message.startswith("Hi all,")


def test_binary_patch_from_public_inbox() -> None:
    info = parse_patch_text((CORPORA / "public-inbox/t/data/binary.patch").read_text())
    assert info is not None
    assert "binary" in info.flags
    assert [(f.path, f.change) for f in info.files] == [("zero", "added")]
    assert info.commit_message == ""  # the attachment's own mail header is not a message
    assert "literal 1\nIcmZPo000310RR91\n\nliteral 0\n" in info.diff


def test_rename_with_modifications_from_public_inbox() -> None:
    text = (CORPORA / "public-inbox/t/solve/0002-rename-with-modifications.patch").read_text()
    info = parse_patch_text(text)
    assert info is not None
    assert [(f.old_path, f.path, f.change) for f in info.files] == [
        ("HACKING", "CONTRIBUTING.md", "renamed")]


def _patchew(name: str) -> ParsedMessage:
    raw = gzip.open(CORPORA / "patchew" / name).read()
    return parse(raw.split(b"\nFrom ", 1)[0] if raw.startswith(b"From ") else raw)


def test_mode_only_patch_from_patchew() -> None:
    info = extract_patches(_patchew("0021-mode-only-patch.mbox.gz"))
    assert info is not None
    assert len(info.files) == 9
    assert {f.change for f in info.files} == {"mode"}
    assert info.insertions == info.deletions == 0
    assert info.patch_id  # git hashes the mode lines too


def test_rename_only_patch_from_patchew() -> None:
    info = extract_patches(_patchew("0034-rename-only-patch.mbox.gz"))
    assert info is not None
    assert info.files[0].change == "renamed"
    assert info.files[0].old_path == "tests/qemu-iotests/199"
    assert info.files[0].path == "tests/qemu-iotests/tests/migrate-bitmaps-postcopy-test"


def test_two_diffs_in_one_reply_are_both_kept() -> None:
    info = extract_patches(parse((DATA / "two-diffs-in-one-reply.eml").read_bytes()))
    assert info is not None
    assert [f.path for f in info.files] == ["drivers/clk/clk-foo.c", "include/linux/clk-foo.h"]
    assert "and the header needs" not in info.diff
    assert info.added_lines == ("\tlong b;", "#define BAR 2")
    assert info.removed_lines == ("\tint b;",)
    assert info.hunk_headers == ("static int foo_set_rate(struct clk_hw *hw)", "")


def test_crlf_mail_is_normalised_and_flagged() -> None:
    info = extract_patches(parse((DATA / "crlf-format-patch.eml").read_bytes()))
    assert info is not None
    assert "crlf" in info.flags
    assert "\r" not in info.diff
    assert info.commit_message == "Fix the thing.\n\nSigned-off-by: Someone <someone@example.org>"
    assert info.patch_id == git_patch_id(info.diff.replace("\n", "\r\n"))


def test_truncated_diff_is_kept_and_flagged() -> None:
    info = extract_patches(parse((DATA / "truncated-diff.eml").read_bytes()))
    assert info is not None
    assert {"truncated-diff", "unparseable-diff"} <= info.flags
    assert info.diff.endswith("+long b;\n")
    assert [f.path for f in info.files] == ["a.c"]


def test_flowed_damage_is_flagged() -> None:
    info = extract_patches(parse((DATA / "flowed-damage.eml").read_bytes()))
    assert info is not None
    assert "flowed-damage" in info.flags
    assert (info.insertions, info.deletions) == (1, 1)


def test_plain_reply_has_no_patch() -> None:
    assert parse_patch_text("> diff --git a/x b/x\n> --- a/x\n\nLooks good.\n") is None


@pytest.mark.parametrize("path", sorted((CORPORA / "mailparser").glob("mail_*")),
                         ids=lambda p: p.name)
def test_hostile_mail_never_raises(path: Path) -> None:
    raw = path.read_bytes()
    parse_patch_text(raw.decode("latin-1"))  # the whole raw mail as text
    try:
        msg = parse(raw)
    except MalformedMessage:
        return  # quarantined before patch extraction: nothing to extract from
    extract_patches(msg)


@settings(max_examples=200)
@given(st.lists(st.sampled_from(["diff --git a/x b/x", "--- a/x", "+++ b/x", "@@ -1,2 +1 @@",
                                 "@@ -1 +1,3 @@ f", " ctx", "-old", "+new", "", "GIT binary patch",
                                 "literal 3", "Index: x", "=====", "\\ No newline", "-- ",
                                 "rename from x", "old mode 100644"]), max_size=30))
def test_parse_never_raises_on_diff_soup(lines: list[str]) -> None:
    info = parse_patch_text("\n".join(lines))
    if info is not None:
        assert info.insertions == len(info.added_lines)


# --- patch-id: equal to `git patch-id --stable` for every patch git computes one for ----------


def _binary_world(base: Path) -> list[Path]:
    """Real ``git format-patch`` mail with binary files: added, changed and deleted, a binary
    file before a text file, each as ``--binary`` (the default) and ``--no-binary`` output."""
    from mailfixtures import dev_git

    repo = base / "repo"
    repo.mkdir()
    dev_git(repo, "init", "-q", "-b", "main")
    (repo / "a.txt").write_text("x\n")
    (repo / "logo.bin").write_bytes(b"a\0b\0c")
    (repo / "old.bin").write_bytes(b"\0\1\2")
    dev_git(repo, "add", ".")
    dev_git(repo, "commit", "-qm", "base")
    (repo / "logo.bin").write_bytes(b"a\0b\0d\0e")
    (repo / "a.txt").write_text("x\ny\n")
    (repo / "new.bin").write_bytes(b"new\0\n")
    (repo / "old.bin").unlink()
    dev_git(repo, "add", "-A")
    dev_git(repo, "commit", "-qm", "images: replace the logo\n\nAnd drop the old one.")
    (repo / "aaa.bin").write_bytes(b"\0first")
    (repo / "zzz.txt").write_text("q\n")
    (repo / "a.txt").chmod(0o755)
    dev_git(repo, "add", "-A")
    dev_git(repo, "commit", "-qm", "binary before text, and a mode change")
    out = []
    for flag in ("--binary", "--no-binary"):
        target = base / flag.strip("-")
        dev_git(repo, "format-patch", "-q", flag, "-o", str(target), "HEAD~2")
        out += sorted(target.glob("*.patch"))
    return out


@needs_git
def test_patch_id_of_binary_patches_equals_git(tmp_path: Path) -> None:
    mails = _binary_world(tmp_path)
    mails.append(CORPORA / "public-inbox/t/data/binary.patch")
    ours, theirs = [], []
    for path in mails:
        text = path.read_text()
        info = parse_patch_text(text)
        assert info is not None and "binary" in info.flags, path
        ours.append(info.patch_id)
        theirs.append(subprocess.run(["git", "patch-id", "--stable"], input=text.encode(),
                                     capture_output=True, check=True).stdout.decode().split()[0])
    assert ours == theirs
    # The public-inbox fixture, by the value git 2.39 prints for it.
    assert ours[-1] == "9d61d01a8278d960b1ddba775f0c07875359de82"
    # --binary and --no-binary name the blobs with full and abbreviated ids: two ids, as in git.
    assert ours[0] != ours[2]


# A binary marker always follows an index line, as git writes them: git's patch-id reads the
# blob ids of a binary file from a buffer it leaves uninitialised when no index line came first.
_SOUP = ["diff --git a/x b/x", "diff --git a/y b/y", "--- a/x", "+++ b/x", "--- /dev/null",
         "@@ -1,2 +1 @@", "@@ -1 +1,3 @@ f", "@@ -0,0 +1 @@", " ctx", "-old", "+new", "",
         "index 1234567..89abcde 100644\nGIT binary patch", "literal 3", "Mcmc~xEoa~Y00k}qRR910",
         "index 0000000000000000000000000000000000000000..f76dd2\nBinary files a/x and b/x differ",
         "index 1234567..89abcde 100644", "index 12..34", "new file mode 100644", "old mode 100644",
         "new mode 100755", "\\ No newline at end of file", "-- ", "rename from x", "rename to z",
         "similarity index 90%"]


@needs_git
def test_patch_id_equals_git_on_random_diff_soup() -> None:
    """Hundreds of random line soups through one real ``git patch-id --stable``: whatever the
    input, ours prints what git prints (nothing included)."""
    import random

    rng = random.Random(17)
    soups = []
    for _ in range(600):
        lines = ["diff --git a/x b/x"] + [rng.choice(_SOUP) for _ in range(rng.randint(1, 25))]
        soups.append("\n".join(lines) + "\n")
    assert [git_patch_id(s) for s in soups] == git_ids(soups)
