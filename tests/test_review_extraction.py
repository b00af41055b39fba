"""Patches, series, revisions and trailers extracted from mail, end to end through the store."""

from __future__ import annotations

import gzip
import re
import subprocess
from pathlib import Path

import backends
import pytest
from sqlalchemy import select

from ingest.worker import Worker, run_ingest
from listarchive.access.visibility import ANONYMOUS
from listarchive.archive.models import Message, Patch, Series, SeriesRevision, Trailer
from listarchive.demo.story import generate_demo_mbox
from listarchive.review.amready import series_mbox
from listarchive.review.seriesview import visible_series
from listarchive.review.trailers import series_lines
from listarchive.settings import from_mapping

SEP = b"From mboxrd@z Thu Jan  1 00:00:00 1970\n"


def settings_in(path: Path):
    return from_mapping({"storage": {"data_dir": str(path)}, "search": {"enabled": False}})


def git(cwd: Path, *args: str, stdin: bytes | None = None) -> str:
    return subprocess.run(["git", "-c", "user.name=T", "-c", "user.email=t@example.org", *args],
                          cwd=cwd, input=stdin, check=True, capture_output=True).stdout.decode()


@pytest.fixture(scope="module")
@backends.archive_fixture
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    files = generate_demo_mbox(root / "gen")
    settings = settings_in(root / "instance")
    run_ingest(settings, [str(files.mbox)], list_name="demo-devel")
    return files, settings


def test_series_revisions_and_trailers_of_the_generated_list(demo):
    _files, settings = demo
    with Worker(settings).sessions() as session:
        series = {(s.title, s.revision): s for s in session.scalars(select(Series))}
        v1 = series[("clk: demo: support rate changes", 1)]
        v2 = series[("clk: demo: support rate changes", 2)]
        assert (v1.total, v1.received, v1.complete) == (3, 3, True)
        assert v1.cover_msgid and v2.cover_msgid and v1.change_id == v2.change_id != ""
        links = session.execute(select(SeriesRevision.older_id, SeriesRevision.newer_id,
                                       SeriesRevision.reason)).all()
        assert (v1.id, v2.id, "change-id") in links
        view = visible_series(session, ANONYMOUS, v1.id)
        assert view is not None and [p.counter for p in view.patches] == [1, 2, 3]
        lines = series_lines(session, ANONYMOUS, view.patches, view.cover)
        given = {(t.name, t.value.split(" <")[0]) for ts in lines.values() for t in ts
                 if not t.own}
        assert ("Reviewed-by", "Priya Venkataraman") in given
        pulls = session.scalars(select(Patch).where(Patch.kind == "pull")).all()
        assert len(pulls) == 1 and pulls[0].pull_url == "https://git.example.org/demo.git"


def test_am_ready_series_applies_with_git_am_and_carries_trailers(demo, tmp_path):
    files, settings = demo
    with Worker(settings).sessions() as session:
        v2 = session.scalars(select(Series).where(Series.revision == 2,
                                                  Series.title == "clk: demo: support rate changes")
                             ).one()
        found = series_mbox(session, ANONYMOUS, v2.id, "https://archive.example.org")
        assert found is not None
        mbox = found[1]
        view = visible_series(session, ANONYMOUS, v2.id)
        assert mbox is not None and view is not None
        lines = series_lines(session, ANONYMOUS, view.patches, view.cover)
        collected = {pid: [t for t in ts if not t.own] for pid, ts in lines.items()}
        cover_raw = session.scalar(select(Message.raw).where(Message.msgid == v2.cover_msgid))
    from listarchive.archive import rawstore

    cover = rawstore.unpack(cover_raw).decode()
    base = re.search(r"^base-commit: ([0-9a-f]{40})$", cover, re.M)
    assert base is not None
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", str(files.repo), str(work))
    git(work, "checkout", "-q", base.group(1))
    git(work, "am", "-q", stdin=mbox)
    # The tree is exactly the one the submitter sent from (branch clk-rate-v2).
    assert git(work, "rev-parse", "HEAD^{tree}") == git(work, "rev-parse",
                                                         "origin/clk-rate-v2^{tree}")
    sent = git(work, "log", "--format=%B%x00", f"{base.group(1)}..origin/clk-rate-v2").split("\0")
    applied = git(work, "log", "--format=%B%x00", f"{base.group(1)}..HEAD").split("\0")
    assert len(applied) == len(sent) == 4  # three commits and the trailing empty field
    for original, result, patch in zip(reversed(sent[:-1]), reversed(applied[:-1]),
                                       view.patches, strict=True):
        # The commit message as sent, then the collected trailers and the archive link.
        assert result.strip().startswith(original.strip())
        added = result.strip()[len(original.strip()):].strip().splitlines()
        # Trailers the submitter already carried over (Reviewed-by on v1) are not repeated.
        expected = [f"{t.name}: {t.value}" for t in collected[patch.id]
                    if f"{t.name}: {t.value}" not in original]
        assert any(t.name == "Tested-by" for t in collected[patch.id])
        assert added == [*expected, f"Link: https://archive.example.org/r/{patch.msgid}"]


def test_quoted_trailers_do_not_count(demo):
    _files, settings = demo
    with Worker(settings).sessions() as session:
        for value, in session.execute(select(Trailer.value)):
            assert not value.startswith(">")


def read_lore(path: Path) -> list[bytes]:
    data = gzip.decompress(path.read_bytes())
    return [SEP + chunk for chunk in (b"\n" + data[:-1]).split(b"\n" + SEP)[1:]]


def review_snapshot(settings) -> dict[str, object]:
    with Worker(settings).sessions() as session:
        msgid = dict(session.execute(select(Message.id, Message.msgid)).all())
        series = sorted(
            (s.anchor_msgid, s.cover_msgid, s.revision, s.total, s.received, s.complete,
             s.missing, tuple(sorted(msgid[p.id] for p in s.patches)))
            for s in session.scalars(select(Series)))
        revisions = sorted((msgid[a], msgid[b], why) for a, b, why in session.execute(
            select(SeriesRevision.older_id, SeriesRevision.newer_id, SeriesRevision.reason)))
        trailers = sorted((msgid[m], t, n, v, own) for m, t, n, v, own in session.execute(
            select(Trailer.message_id, Trailer.target_msgid, Trailer.name, Trailer.value,
                   Trailer.own)))
        patches = sorted(session.execute(select(Patch.msgid, Patch.kind, Patch.patch_id,
                                                Patch.files)).all())
    return {"series": series, "revisions": revisions, "trailers": trailers, "patches": patches}


@pytest.fixture
def forward(clk_archive, tmp_path):
    """The run's linux-clk archive (the corpus ingested in its own order), copied."""
    with backends.copied(clk_archive[0], tmp_path / "a") as settings:
        yield settings


@pytest.mark.slow
def test_linux_clk_in_two_orders_gives_identical_review_data(tmp_path, corpora, forward):
    mails = read_lore(corpora / "lore" / "linux-clk-last10000.mboxrd.gz")
    backward = tmp_path / "backward.mbox"
    backward.write_bytes(b"\n".join(reversed(mails)) + b"\n")
    a, b = forward, settings_in(tmp_path / "b")
    run_ingest(b, [str(backward)], list_name="linux-clk")
    snap_a, snap_b = review_snapshot(a), review_snapshot(b)
    assert len(snap_a["series"]) > 800 and len(snap_a["revisions"]) > 100
    assert snap_a == snap_b

    # Named series, checked by hand against the mail: Taniya Das' Glymur clock controllers v4,
    # cover + 7 patches, linked from v3 ("Link to v3:" in the cover) and to v5.
    with Worker(a).sessions() as session:
        glymur = session.scalars(select(Series).where(Series.anchor_msgid ==
            "20250813-glymur-clock-controller-v4-v4-0-a408b390b22c@oss.qualcomm.com")).one()
        assert (glymur.revision, glymur.total, glymur.received, glymur.complete) == (4, 7, 7, True)
        older = session.scalars(select(Series).join(
            SeriesRevision, SeriesRevision.older_id == Series.id)
            .where(SeriesRevision.newer_id == glymur.id)).all()
        assert [s.revision for s in older] == [3]
        view = visible_series(session, ANONYMOUS, glymur.id)
        assert view is not None
        first = series_lines(session, ANONYMOUS, view.patches, view.cover)[view.patches[0].id]
        reviewers = {t.value for t in first if t.name == "Reviewed-by"}
        # Bjorn Andersson and Krzysztof Kozlowski replied to 1/7 with Reviewed-by.
        assert {"Bjorn Andersson <andersson@kernel.org>",
                "Krzysztof Kozlowski <krzysztof.kozlowski@linaro.org>"} <= reviewers
        pulls = session.scalars(select(Patch).where(Patch.kind == "pull")).all()
        assert len(pulls) >= 50 and all(p.pull_url.startswith(("git://", "https://", "http://",
                                                                "ssh://")) for p in pulls)
