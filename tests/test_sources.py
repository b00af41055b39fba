"""Mail sources: real archives read byte-exact, hand-made edge cases, resume, constant memory."""

from __future__ import annotations

import gzip
import io
import re
import shutil
import subprocess
import tracemalloc
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from ingest.maildir import DirectorySource, natural_key
from ingest.mailfile import MessageFileSource, StdinSource
from ingest.mboxsource import MboxSource
from ingest.publicinbox import PublicInboxSource
from ingest.rawmail import RawMail
from ingest.sources import open_source
from listarchive.errors import SourceError

pytestmark = pytest.mark.pure

CORPORA = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"
DATA = Path(__file__).resolve().parent / "data"
LORE_FROM = b"From mboxrd@z Thu Jan  1 00:00:00 1970\n"

needs_corpora = pytest.mark.skipif(not CORPORA.is_dir(), reason="shared mail corpora not present")


def corpus(*parts: str) -> Path:
    return CORPORA.joinpath(*parts)


def lore_split(path: Path) -> list[bytes]:
    """An independent reading of a lore mboxrd export: split on its fixed separator line."""
    data = gzip.decompress(path.read_bytes())
    assert data.startswith(LORE_FROM)
    pieces = (b"\n" + data).split(b"\n" + LORE_FROM)[1:]
    # Each separator's leading "\n" took the writer's blank line; the last one still has it.
    assert pieces[-1].endswith(b"\n\n")
    pieces[-1] = pieces[-1][:-1]
    return [re.sub(rb"(?m)^>(>*From )", rb"\1", p) for p in pieces]


def datas(mails: Iterator[RawMail]) -> list[bytes]:
    return [m.data for m in mails]


# -- real mbox archives ----------------------------------------------------------------------------


@needs_corpora
@pytest.mark.slow
@pytest.mark.parametrize("name", ["linux-clk-last10000.mboxrd.gz",
                                  "linux-mips-first10000.mboxrd.gz"])
def test_lore_mboxrd_is_read_byte_exact(name: str) -> None:
    path = corpus("lore", name)
    expected = lore_split(path)
    source = open_source(str(path))
    assert isinstance(source, MboxSource)
    mails = list(source.read())
    assert len(mails) == len(expected) == 10_000
    for mail, want in zip(mails, expected, strict=True):
        assert mail.data == want, mail.origin
    # Positions are the offsets of the next From_ line, strictly increasing.
    offsets = [int(m.position) for m in mails]
    assert offsets == sorted(set(offsets))
    assert mails[0].origin == f"{name}@0"
    assert mails[1].origin == f"{name}@{mails[0].position}"


@needs_corpora
def test_small_chunks_split_exactly_like_large_ones() -> None:
    # Separators straddling chunk boundaries ("\nFro" | "m mboxrd@z...") must still be found.
    path = corpus("lore", "linux-mips-first10000.mboxrd.gz")
    big = list(MboxSource(path).read())
    for chunk in (4096, 97):
        small = list(MboxSource(path, chunk_size=chunk).read())
        assert small == big


@needs_corpora
def test_resume_from_a_saved_position_yields_only_later_mails() -> None:
    path = corpus("lore", "linux-mips-first10000.mboxrd.gz")
    source = open_source(str(path))
    everything = list(source.read())
    resumed = list(source.read(everything[6999].position))
    assert len(resumed) == 3000
    assert resumed == everything[7000:]
    assert list(source.read(everything[-1].position)) == []


@needs_corpora
def test_cpython_mboxo_with_unquoted_from_in_body_is_one_message() -> None:
    mails = list(open_source(str(corpus("cpython-email", "mailbox_01.mbox"))).read())
    assert len(mails) == 1
    assert mails[0].data == (b"From: foo\nSubject: unquoted From in body; extra info on From line\n"
                             b"\nHello\n\nFrom time to time\n")


@needs_corpora
def test_directory_of_mbox_files_and_single_messages() -> None:
    # patchew's test data: 15 mbox files with 32 messages, 19 single gzipped messages, and 4
    # files that are not mail (two JSON, one patch, the provenance note): all 55 are yielded,
    # non-mail goes to quarantine downstream.
    source = open_source(str(corpus("patchew")))
    assert isinstance(source, DirectorySource)
    mails = list(source.read())
    assert len(mails) == 55
    in_series = [m for m in mails if m.origin.startswith("0004-multiple-patch-reviewed.mbox.gz@")]
    assert len(in_series) == 5
    assert all(m.data.startswith(b"Return-Path:") or b"\nMessage-I" in m.data for m in in_series)
    # Resuming inside that mbox file gives the rest of it, then the later files.
    second = mails.index(in_series[1])
    assert "\t" in in_series[1].position
    assert list(source.read(in_series[1].position)) == mails[second + 1:]
    assert in_series[-1].position == "0004-multiple-patch-reviewed.mbox.gz"
    assert list(source.read(in_series[-1].position)) == mails[mails.index(in_series[-1]) + 1:]


# -- Maildir and trees -----------------------------------------------------------------------------


@needs_corpora
def test_notmuch_lkml_maildir_yields_every_file_byte_exact_in_name_order() -> None:
    root = corpus("notmuch", "lkml")
    source = open_source(str(root))
    assert isinstance(source, DirectorySource) and source.maildir
    mails = list(source.read())
    files = sorted((root / "cur").iterdir(), key=lambda p: natural_key(p.name))
    assert len(mails) == len(files) == 210
    for mail, path in zip(mails, files, strict=True):
        assert mail.data == path.read_bytes()
        assert mail.origin == f"cur/{path.name}"
    assert list(source.read(mails[199].position)) == mails[200:]


def _deliver(folder: Path, name: str, body: bytes) -> None:
    (folder / name).write_bytes(body)


def test_maildir_watermark_skips_moved_and_hidden_files(tmp_path: Path) -> None:
    for sub in ("new", "cur", "tmp"):
        (tmp_path / sub).mkdir()
    msg = b"From: a@example.org\nSubject: %d\n\nbody\n"
    _deliver(tmp_path / "cur", "1700000000.M99P1.host:2,S", msg % 1)
    _deliver(tmp_path / "new", "1700000000.M100P1.host", msg % 2)
    _deliver(tmp_path / "tmp", "1700000001.M1P1.host", msg % 99)  # still being delivered
    _deliver(tmp_path / "new", ".hidden", msg % 98)
    source = open_source(str(tmp_path))
    first = list(source.read())
    # M99 before M100: numbers compare as numbers, not as text.
    assert [m.data for m in first] == [msg % 1, msg % 2]
    assert first[-1].position == "1700000000.M100P1.host"
    # A mail client reads the new mail: it moves to cur/ with flags; not seen again.
    (tmp_path / "new" / "1700000000.M100P1.host").rename(
        tmp_path / "cur" / "1700000000.M100P1.host:2,S")
    _deliver(tmp_path / "new", "1700000005.M5P2.host", msg % 3)
    again = list(source.read(first[-1].position))
    assert [m.data for m in again] == [msg % 3]
    assert again[0].origin == "new/1700000005.M5P2.host"


def test_plain_tree_is_read_recursively_in_path_order(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / ".git").mkdir()
    (tmp_path / "b" / "2.eml").write_bytes(b"Subject: b2\n\nx\n")
    (tmp_path / "a10.eml").write_bytes(b"Subject: a10\n\nx\n")
    (tmp_path / "a9.eml").write_bytes(b"From someone Mon Jan  6 10:00:00 2020\nSubject: a9\n\nx\n")
    (tmp_path / ".git" / "config").write_bytes(b"[core]\n")
    mails = list(open_source(str(tmp_path)).read())
    assert [m.origin for m in mails] == ["a9.eml@0", "a10.eml", "b/2.eml"]
    assert mails[0].data == b"Subject: a9\n\nx\n"  # a file with a From_ line is a one-mail mbox


def test_single_message_file(tmp_path: Path) -> None:
    path = DATA / "mboxrd-escaped-from.mbox"
    assert isinstance(open_source(str(path)), MboxSource)
    eml = tmp_path / "one.eml.gz"
    eml.write_bytes(gzip.compress(b"From: a@example.org\nSubject: gz\n\n>From kept\n"))
    source = open_source(str(eml))
    assert isinstance(source, MessageFileSource)
    mails = list(source.read())
    # A lone message is not mbox: its ">From " line is the author's and stays.
    assert datas(iter(mails)) == [b"From: a@example.org\nSubject: gz\n\n>From kept\n"]
    assert list(source.read(mails[0].position)) == []


# -- hand-made mbox edge cases ---------------------------------------------------------------------


def test_mboxrd_quoted_from_lines_lose_one_quote() -> None:
    mails = list(open_source(str(DATA / "mboxrd-escaped-from.mbox")).read())
    assert len(mails) == 2
    body = mails[0].data.split(b"\n\n", 1)[1]
    assert body == (b"From the start of time, mbox writers quoted this line.\n"
                    b">From here on the line was already quoted once by its author.\n"
                    b">>From deep inside a quote.\n"
                    b" From with a leading space is never quoted.\n"
                    b"From-without-space is not a separator line either.\n")
    assert mails[1].data.endswith(b"Looks good.\n")  # the writer's blank line is gone
    assert b"\n> >From the start" in mails[1].data  # not at line start: untouched


def test_mboxo_unquoted_from_in_body_does_not_split() -> None:
    mails = list(open_source(str(DATA / "mboxo-unescaped-from-body.mbox")).read())
    assert [re.search(rb"Message-ID: <(.*?)>", m.data).group(1) for m in mails] == [  # type: ignore[union-attr]
        b"mboxo-1@example.org", b"mboxo-2@example.org", b"mboxo-3@example.org"]
    assert b"\nFrom time to time a body line" in mails[0].data
    assert b"\nFrom alice@example.org, with a comma" in mails[0].data
    assert mails[0].data.endswith(b"\nBye\n")
    assert mails[2].data.startswith(b"Return-Path: <carol@example.org>\n")
    assert mails[2].data.endswith(b"\nthird\n")  # last message, no blank line after it


def test_crlf_mbox_keeps_crlf_and_drops_the_blank_crlf_line() -> None:
    mails = list(open_source(str(DATA / "mbox-crlf.mbox")).read())
    assert len(mails) == 2
    assert mails[0].data.endswith(b"\r\n\r\nfirst body\r\nFrom quoted\r\n")
    assert mails[0].data.startswith(b"From: Alice")
    assert mails[1].data.endswith(b"second body ends with an empty line\r\n\r\n")


def test_growing_mbox_is_followed_from_the_saved_position(tmp_path: Path) -> None:
    path = tmp_path / "growing.mbox"
    msg = b"From x@example.org Mon Jan  6 10:00:0%d 2020\nSubject: m%d\n\nbody %d\n\n"
    path.write_bytes(msg % (1, 1, 1) + msg % (2, 2, 2))
    source = open_source(str(path), follow=True)
    first = list(source.read())
    assert [m.data for m in first] == [b"Subject: m1\n\nbody 1\n", b"Subject: m2\n\nbody 2\n"]
    position = first[-1].position
    assert int(position) == path.stat().st_size
    assert list(source.read(position)) == []
    # A writer is half-way through message 3: nothing yet, and the position does not move.
    third = msg % (3, 3, 3)
    with path.open("ab") as out:
        out.write(third[:30])
    assert list(source.read(position)) == []
    with path.open("ab") as out:
        out.write(third[30:-1])  # everything but the final blank line
    assert list(source.read(position)) == []
    # The dot-lock says the writer is still at it, even though a blank line is there.
    lock = tmp_path / "growing.mbox.lock"
    lock.touch()
    with path.open("ab") as out:
        out.write(b"\n")
    assert list(source.read(position)) == []
    lock.unlink()
    new = list(source.read(position))
    assert [m.data for m in new] == [b"Subject: m3\n\nbody 3\n"]
    assert new[0].origin == f"growing.mbox@{position}"
    # Without follow (plain `ingest`) the end of the file ends the last message.
    with path.open("ab") as out:
        out.write(msg[:-2] % (4, 4, 4))
    assert [m.data for m in open_source(str(path)).read(new[0].position)] == [
        b"Subject: m4\n\nbody 4"]


def test_stdin_message_loses_the_delivery_from_line() -> None:
    raw = b"From: a@example.org\nSubject: piped\n\n>From stays\n"
    source = open_source("-", io.BytesIO(b"From MAILER-DAEMON Sun Aug  7 11:40:37 2022\n" + raw))
    assert isinstance(source, StdinSource) and source.key == "-"
    mails = list(source.read())
    assert datas(iter(mails)) == [raw]
    assert list(open_source("-", io.BytesIO(raw)).read())[0].data == raw


# -- errors ---------------------------------------------------------------------------------------


def test_missing_paths_and_bundles_raise_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        open_source(str(tmp_path / "nope.mbox"))
    # A file that is not mail is read as one message, so the worker quarantines it with the
    # reason instead of the command skipping it.
    binary = tmp_path / "image.png"
    data = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    binary.write_bytes(data)
    assert [m.data for m in open_source(str(binary)).read()] == [data]
    bundle = tmp_path / "x.bundle"
    bundle.write_bytes(b"# v2 git bundle\n0123 refs/heads/master\n\n")
    with pytest.raises(SourceError, match="clone it first"):
        open_source(str(bundle))


def test_a_position_that_no_longer_fits_the_file_raises(tmp_path: Path) -> None:
    path = tmp_path / "list.mbox"
    path.write_bytes((DATA / "mboxrd-escaped-from.mbox").read_bytes())
    source = open_source(str(path))
    with pytest.raises(SourceError, match="shorter than the saved position"):
        list(source.read("999999"))
    with pytest.raises(SourceError, match="no message starts at the saved position"):
        list(source.read("10"))
    with pytest.raises(SourceError, match="not an mbox position"):
        list(source.read("abc"))


def test_an_endless_message_stops_the_reader_instead_of_filling_memory(tmp_path: Path) -> None:
    path = tmp_path / "no-separators.mbox"
    path.write_bytes(b"From x@example.org Mon Jan  6 10:00:00 2020\nSubject: s\n\n"
                     + b"no separator anywhere\n" * 1000)
    with pytest.raises(SourceError, match="longer than 4096 bytes"):
        list(MboxSource(path, chunk_size=1024, max_message=4096).read())
    assert len(list(MboxSource(path, chunk_size=1024).read())) == 1


# -- public-inbox ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def erofs_inbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not CORPORA.is_dir():
        pytest.skip("shared mail corpora not present")
    inbox = tmp_path_factory.mktemp("erofs")
    subprocess.run(["git", "clone", "-q", "--mirror",
                    str(corpus("lore", "linux-erofs-epoch0.bundle")), str(inbox / "git" / "0.git")],
                   check=True)
    return inbox


def _git(repo: Path, *args: str, data: bytes | None = None) -> str:
    done = subprocess.run(["git", f"--git-dir={repo}", *args], input=data, capture_output=True,
                          check=True)
    return done.stdout.decode().strip()


@pytest.mark.slow
def test_erofs_epoch_yields_one_mail_per_commit_with_m(erofs_inbox: Path) -> None:
    repo = erofs_inbox / "git" / "0.git"
    # Independent count: commits whose change touches the file `m` (deletions write `d`).
    names = _git(repo, "log", "--format=", "--name-only", "HEAD").split("\n")
    with_m = names.count("m")
    assert with_m == 15_218
    for spec in (erofs_inbox, erofs_inbox / "git", repo):
        source = open_source(str(spec))
        assert isinstance(source, PublicInboxSource)
    source = open_source(str(erofs_inbox))
    mails = list(source.read())
    assert len(mails) == with_m
    head = _git(repo, "rev-parse", "HEAD")
    assert mails[-1].position == f"0:{head}"
    assert mails[-1].origin == f"git/0.git:{head}"
    first_commit = mails[0].position.split(":")[1]
    assert mails[0].data == subprocess.run(
        ["git", f"--git-dir={repo}", "cat-file", "blob", f"{first_commit}:m"],
        capture_output=True, check=True).stdout
    assert list(source.read(mails[15_000].position)) == mails[15_001:]
    assert list(source.read(mails[-1].position)) == []


def test_erofs_reader_stopped_early_leaves_no_process_behind(
        erofs_inbox: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[subprocess.Popen[bytes]] = []
    real_popen = subprocess.Popen

    def recording_popen(*args: object, **kwargs: object) -> subprocess.Popen[bytes]:
        proc = real_popen(*args, **kwargs)  # type: ignore[call-overload]
        started.append(proc)
        return proc

    monkeypatch.setattr(subprocess, "Popen", recording_popen)
    mails = open_source(str(erofs_inbox / "git" / "0.git")).read()
    assert isinstance(mails, Generator)
    first = next(mails)
    assert first.position.startswith("0:") and first.origin.startswith("0.git:")
    running = [p for p in started if p.poll() is None]
    assert [p.args[2] for p in running] == ["rev-list", "cat-file"]  # type: ignore[index]
    mails.close()  # the consumer stops: git rev-list and git cat-file must go
    assert all(p.returncode is not None for p in running)


def _commit(repo: Path, filename: str, data: bytes, parent: str | None) -> str:
    blob = _git(repo, "hash-object", "-w", "--stdin", data=data)
    tree = _git(repo, "mktree", data=f"100644 blob {blob}\t{filename}\n".encode())
    args = ["commit-tree", tree, "-m", "m"] + (["-p", parent] if parent else [])
    commit = _git(repo, *args)
    _git(repo, "update-ref", "refs/heads/master", commit)
    return commit


def _epoch(path: Path) -> Path:
    subprocess.run(["git", "init", "-q", "--bare", str(path)], check=True)
    _git(path, "symbolic-ref", "HEAD", "refs/heads/master")
    return path


def test_public_inbox_skips_deletions_and_follows_new_epochs(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in (("GIT_AUTHOR_NAME", "a"), ("GIT_AUTHOR_EMAIL", "a@example.org"),
                       ("GIT_COMMITTER_NAME", "a"), ("GIT_COMMITTER_EMAIL", "a@example.org")):
        monkeypatch.setenv(key, value)
    git_dir = tmp_path / "inbox" / "git"
    git_dir.mkdir(parents=True)
    e0 = _epoch(git_dir / "0.git")
    c1 = _commit(e0, "m", b"Subject: one\n\n1\n", None)
    c2 = _commit(e0, "d", b"Subject: one\n\n1\n", c1)  # removal of message one
    c3 = _commit(e0, "m", b"Subject: three\n\n3\n", c2)
    _epoch(git_dir / "1.git")  # rolled over, nothing written to it yet
    source = open_source(str(tmp_path / "inbox"))
    mails = list(source.read())
    assert [(m.data, m.position) for m in mails] == [
        (b"Subject: one\n\n1\n", f"0:{c1}"), (b"Subject: three\n\n3\n", f"0:{c3}")]
    # Epoch 10 sorts after epoch 2 (numeric order), and watch finds epochs created later.
    e10 = _epoch(git_dir / "10.git")
    e2 = _epoch(git_dir / "2.git")
    c10 = _commit(e10, "m", b"Subject: ten\n\n10\n", None)
    c20 = _commit(e2, "m", b"Subject: two\n\n2\n", None)
    later = list(source.read(mails[-1].position))
    assert [m.position for m in later] == [f"2:{c20}", f"10:{c10}"]
    assert list(source.read(f"2:{c20}")) == later[1:]
    with pytest.raises(SourceError, match="not a public-inbox position"):
        list(source.read("x:y"))
    with pytest.raises(SourceError, match="rev-list failed"):
        list(source.read(f"0:{'0' * 40}"))


# -- memory ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_streaming_a_200_mb_mbox_keeps_memory_small(tmp_path: Path) -> None:
    body = b"".join(b"line %05d " % i + b"y" * 60 + b"\n" for i in range(50))
    message = LORE_FROM + b"From: a@example.org\nSubject: big\n\n" + body + b"\n"
    path = tmp_path / "big.mbox"
    block = message * 1000
    with path.open("wb") as out:
        for _ in range((200 << 20) // len(block)):
            out.write(block)
    size = path.stat().st_size
    assert size > 190 << 20
    tracemalloc.start()
    try:
        count = 0
        for mail in MboxSource(path).read():
            count += 1
            assert len(mail.data) == len(message) - len(LORE_FROM) - 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == size // len(message)
    # One 1 MiB chunk plus the message being cut out and some regex scratch; a reader that
    # kept the file or a table of contents would need hundreds of MB.
    assert peak < 8 << 20, peak


def test_key_is_the_absolute_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(DATA / "mboxrd-escaped-from.mbox", tmp_path / "list.mbox")
    monkeypatch.chdir(tmp_path)
    assert open_source("list.mbox").key == str((tmp_path / "list.mbox").resolve())
    assert open_source(".").key == str(tmp_path.resolve())
