"""Real mail from ../shared/corpora: every set ingests, bytes come back exact, threads hold."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import subprocess
from collections import defaultdict
from pathlib import Path

import backends
import pytest
from sqlalchemy import select

from ingest.worker import Worker, run_ingest
from listarchive.access.visibility import ANONYMOUS
from listarchive.archive import badges, listview, rawstore
from listarchive.archive.models import MailingList, Message, Thread
from listarchive.mail.message import fingerprint, parse
from listarchive.settings import from_mapping

SEP = b"\nFrom mboxrd@z Thu Jan  1 00:00:00 1970\n"
UNESCAPE = re.compile(rb"^>(>*From )", re.M)


def fresh_settings(path: Path):
    return from_mapping({"storage": {"data_dir": str(path)}, "search": {"enabled": False}})


def split_lore_mboxrd(path: Path) -> list[bytes]:
    """An independent reading of lore's mboxrd export: every message starts with the same
    `From mboxrd@z ...` line, and the writer appends one newline after each message (which the
    split on "\nFrom mboxrd" consumes, except after the last message)."""
    data = gzip.decompress(path.read_bytes())
    assert data.startswith(SEP[1:]) and data.endswith(b"\n\n")
    chunks = (b"\n" + data[:-1]).split(SEP)[1:]
    return [UNESCAPE.sub(rb"\1", chunk) for chunk in chunks]


def stored(settings) -> dict[str, Message]:
    with Worker(settings).sessions() as session:
        return {m.msgid: m for m in session.scalars(select(Message))}


@pytest.fixture(scope="module")
@backends.archive_fixture
def clk(clk_archive, tmp_path_factory):
    """A copy of the run's linux-clk archive (the corpus ingested into a fresh archive) and the
    summary of that first ingest."""
    corpora = Path(__file__).resolve().parents[2] / "shared" / "corpora"
    src = corpora / "lore" / "linux-clk-last10000.mboxrd.gz"
    built, first = clk_archive
    with backends.copied(built, tmp_path_factory.mktemp("clk") / "instance") as settings:
        yield src, settings, first


@pytest.mark.slow
def test_linux_clk_stores_every_message_byte_exact(clk):
    src, settings, first = clk
    expected = split_lore_mboxrd(src)
    assert first.read == len(expected) == 10_000
    assert first.quarantined == 0 and first.new + first.duplicate == first.read
    by_sha = {hashlib.sha256(raw).hexdigest(): raw for raw in expected}
    with Worker(settings).sessions() as session:
        rows = session.execute(select(Message.sha256, Message.raw)).all()
    assert len(rows) == first.new
    for sha, blob in rows:
        raw = rawstore.unpack(blob)
        assert hashlib.sha256(raw).digest().hex() == sha
        assert by_sha[sha] == raw
    # The 3 duplicates are real: same Message-ID, From, Date and Subject as an earlier copy.
    ids: dict[str, list[bytes]] = defaultdict(list)
    for raw in expected:
        ids[parse(raw).msgid].append(raw)
    assert sum(len(v) - 1 for v in ids.values()) == first.duplicate


@pytest.mark.slow
def test_linux_clk_second_run_adds_nothing(clk):
    src, settings, first = clk
    again = run_ingest(settings, [str(src)], list_name="linux-clk")
    assert (again.new, again.duplicate, again.quarantined) == (0, 10_000, 0)
    assert again.threads == first.threads


@pytest.mark.slow
def test_linux_clk_series_threads_follow_references(clk):
    """Every cover letter ([PATCH ... 0/N]) shares its thread with every message whose
    References name it: the patches of the series and all review replies."""
    _src, settings, _first = clk
    messages = stored(settings)
    covers = [m for m in messages.values()
              if re.match(r"\[PATCH[^\]]* 0+/\d+\]", m.subject)]
    assert len(covers) > 300
    checked = 0
    for cover in covers:
        members = [m for m in messages.values() if cover.msgid in m.references.split()]
        for m in members:
            assert m.thread_id == cover.thread_id, (cover.msgid, m.msgid)
            checked += 1
    assert checked > 3000
    # A known series checked by hand: the Glymur clock controllers v4, cover + 7 patches + replies.
    glymur = messages["20250813-glymur-clock-controller-v4-v4-0-a408b390b22c@oss.qualcomm.com"]
    same = [m for m in messages.values() if m.thread_id == glymur.thread_id]
    patches = {m.subject for m in same if m.subject.startswith("[PATCH v4 ")}
    assert len(patches) == 8  # 0/7 .. 7/7
    with Worker(settings).sessions() as session:
        thread = session.get(Thread, glymur.thread_id)
        assert thread is not None and thread.root_msgid == glymur.msgid
        assert thread.message_count == len(same)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["linux-clk", listview.ALL])
def test_linux_clk_list_index_shows_what_counting_its_messages_shows(clk, name):
    """The list index reads each thread's summary from the row the ingest kept for it, batch by
    batch (on every list: the thread's own row), with the badges of the messages it shows:
    every page of it equals the summaries counted from the threads' messages, and the badges
    read for them."""
    _src, settings, _first = clk
    with Worker(settings).sessions() as session:
        lid = session.scalar(select(MailingList.id).where(MailingList.name == "linux-clk"))
        assert lid is not None
        order = listview.newest_threads(session, ANONYMOUS, name, [lid], limit=100_000)
        counted = listview.thread_summaries(session, ANONYMOUS, [c.thread_id for c in order])
        counted_badges = badges.message_badges(session, [t.root_msgid for t in counted])
        kept: list[listview.ThreadSummary] = []
        kept_badges: dict[str, badges.MessageBadge] = {}
        older = None
        while True:
            index = listview.list_index(session, ANONYMOUS, name, per_page=200, older=older)
            assert index is not None
            kept.extend(index.threads)
            kept_badges.update(index.badges)
            if index.older is None:
                break
            older = index.older
    assert len(kept) == len(order) > 900
    assert kept == counted
    assert kept_badges == counted_badges and len(kept_badges) > 300
    assert sum(1 for t in kept if t.participant_count > len(t.participants)) > 50


@pytest.mark.slow
def test_public_inbox_epoch_ingests_all_distinct_messages(tmp_path):
    corpora = Path(__file__).resolve().parents[2] / "shared" / "corpora"
    bundle = corpora / "lore" / "linux-erofs-epoch0.bundle"
    if not bundle.exists():
        pytest.skip("shared corpora not present")
    epoch = tmp_path / "0.git"
    subprocess.run(["git", "clone", "-q", "--mirror", str(bundle), str(epoch)], check=True)
    commits = int(subprocess.run(["git", "-C", str(epoch), "rev-list", "--count", "--all"],
                                 check=True, capture_output=True, text=True).stdout)
    assert commits == 15_218
    settings = fresh_settings(tmp_path / "instance")
    summary = run_ingest(settings, [str(epoch)], list_name="linux-erofs")
    assert summary.read == commits and summary.quarantined == 0

    # What the epoch holds, read independently of our source module.
    blobs = subprocess.run(["git", "-C", str(epoch), "log", "--format=%H", "--reverse"],
                           check=True, capture_output=True, text=True).stdout.split()
    feed = "".join(f"{c}:m\n" for c in blobs).encode()
    out = subprocess.run(["git", "-C", str(epoch), "cat-file", "--batch"], input=feed,
                         check=True, capture_output=True).stdout
    groups: dict[str, set[str]] = defaultdict(set)
    pos = 0
    while pos < len(out):
        nl = out.index(b"\n", pos)
        size = int(out[pos:nl].split()[2])
        p = parse(out[nl + 1:nl + 1 + size])
        groups[p.msgid].add(fingerprint(p.sender, p.date_raw, p.subject))
        pos = nl + 1 + size + 1
    # 15,218 commits hold 15,168 distinct Message-IDs. 44 extra copies are re-deliveries of one
    # message (same From/Date/Subject, other Received: headers): true duplicates, stored once.
    # Two ids carry genuinely different messages: a reply re-sent with its From: rewritten to the
    # list (DMARC mitigation, 5 copies) and a v3 and a v4 cover letter that reused one id. Those are
    # kept under derived ids and flagged, as lore does.
    assert len(groups) == 15_168
    expected = sum(len(fps) for fps in groups.values())
    assert expected == 15_170
    assert summary.new == expected and summary.duplicate == commits - expected
    flagged = [m for m in stored(settings).values() if "reused-msgid" in m.flags]
    assert {m.msgid.split(".dup-")[0] for m in flagged} == {
        "20200928203035.GA7770@hsiangkao-HP-ZHAN-66-Pro-G1", "20230818123232.2269-1-jack@suse.cz"}


def _corpus_sets(corpora: Path) -> list[tuple[str, list[Path]]]:
    def files(folder: str, pattern: str = "*") -> list[Path]:
        return sorted(p for p in (corpora / folder).glob(pattern)
                      if p.is_file() and p.name != "PROVENANCE.txt" and p.suffix != ".py")
    return [
        ("linux-mips", [corpora / "lore" / "linux-mips-first10000.mboxrd.gz"]),
        ("notmuch", [p for p in (corpora / "notmuch").rglob("*")
                     if p.is_file() and p.name not in ("README", "PROVENANCE.txt")]),
        ("patchew", files("patchew", "*.mbox.gz")),
        ("public-inbox", [p for p in (corpora / "public-inbox").rglob("*.eml") if p.is_file()]),
        ("hyperkitty", files("hyperkitty")),
        ("duks", [*files("linux-duks-mlh/date_cases", "*.eml"),
                  *files("linux-duks-mlh/real_cases", "*.eml")]),
        ("cpython-email", files("cpython-email")),
        ("mailparser", files("mailparser")),
    ]


@pytest.mark.slow
def test_every_corpus_set_ingests_with_nothing_lost(tmp_path, cli):
    corpora = Path(__file__).resolve().parents[2] / "shared" / "corpora"
    if not corpora.exists():
        pytest.skip("shared corpora not present")
    for name, paths in _corpus_sets(corpora):
        assert paths, name
        args = ["ingest", "--json", "--list", name.lower(), *map(str, paths)]
        first = cli(args, tmp_path)
        assert first.returncode == 0, (name, first.stderr[-2000:])
        s1 = json.loads(first.stdout.splitlines()[-1])
        assert s1["read"] == s1["new"] + s1["duplicate"] + s1["quarantined"], name
        assert s1["read"] >= len(paths), name
        second = json.loads(cli(args, tmp_path).stdout.splitlines()[-1])
        assert second["new"] == 0 and second["read"] == s1["read"], name
