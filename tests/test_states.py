"""States on a real archive: the linux-clk list from lore (first 1,500 messages, and 30 RFC patches),
people's decisions, their history, permissions by list and by MAINTAINERS subsystem, and
decisions surviving ``listarchive reindex``."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import backends
import pytest
from mailfixtures import NO_LIMITS
from sqlalchemy import func, select

from ingest.reindex import reindex
from ingest.subsystems import import_maintainers
from ingest.worker import Worker, run_ingest
from listarchive.access import accounts
from listarchive.access.visibility import Viewer
from listarchive.archive.models import (
    Patch,
    PatchState,
    PatchSubsystem,
    Series,
    SeriesRevision,
    StateChange,
    Subsystem,
)
from listarchive.review import decisions, flags, states
from listarchive.review.changes import can_change
from listarchive.review.history import state_history
from listarchive.settings import Settings, from_mapping

OPERATOR = Viewer(user="console", is_admin=True)
CORPORA = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"
CLK = CORPORA / "lore" / "linux-clk-last10000.mboxrd.gz"
SEP = b"\nFrom mboxrd@z Thu Jan  1 00:00:00 1970\n"


@pytest.fixture(scope="module")
def clk_slice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not CLK.is_file():
        pytest.skip("the shared corpora are not beside the project")
    chunks = gzip.decompress(CLK.read_bytes()).split(SEP)
    # The first 1,500 messages hold no RFC series: RFC patches from the rest are added.
    rfc = [c for c in chunks[1500:] if b"\nSubject: [RFC PATCH" in c][:30]
    path = tmp_path_factory.mktemp("clk") / "clk-1500.mboxrd"
    path.write_bytes(SEP.join([*chunks[:1500], *rfc]) + b"\n")
    return path


@pytest.fixture(scope="module")
@backends.archive_fixture
def built(tmp_path_factory: pytest.TempPathFactory, clk_slice: Path) -> Iterator[Settings]:
    """The slice ingested once: each test changes a copy of it (:func:`settings`)."""
    with backends.template_url() as url:
        settings = from_mapping({
            "limits": NO_LIMITS, "search": {"enabled": False},
            "storage": {"data_dir": str(tmp_path_factory.mktemp("states") / "instance"),
                        "database_url": url}})
        run_ingest(settings, [str(clk_slice)], "linux-clk")
        yield settings


@pytest.fixture
def settings(built: Settings, tmp_path: Path) -> Iterator[Settings]:
    with backends.copied(built, tmp_path / "instance") as copy:
        yield copy


@pytest.fixture
def archive(settings: Settings) -> Iterator[Worker]:
    worker = Worker(settings)
    yield worker
    worker.engine.dispose()


def a_series(worker: Worker, patches: int = 3, rfc: bool = False) -> tuple[int, list[int]]:
    """A series with at least ``patches`` patches and no newer revision (so still undecided)."""
    with worker.sessions() as session:
        sid = session.scalar(
            select(Series.id).join(Patch, Patch.series_id == Series.id)
            .where(Patch.kind == "patch", Series.is_rfc == rfc,
                   Series.id.not_in(select(SeriesRevision.older_id)))
            .group_by(Series.id).having(func.count(Patch.id) >= patches)
            .order_by(Series.id).limit(1))
        assert sid is not None
        pids = list(session.scalars(select(Patch.id).where(Patch.series_id == sid,
                                                           Patch.kind == "patch")))
    return sid, pids


@pytest.mark.parametrize(("patches", "series"), [
    ([], "new"),
    (["accepted", "accepted"], "accepted"),
    (["accepted", "changes-requested", "new"], "changes-requested"),
    (["accepted", "not-applicable"], "accepted"),
    (["rejected", "superseded"], "rejected"),
    (["accepted", "new", "new"], "under-review"),
    (["under-review", "new"], "under-review"),
    (["new", "deferred"], "deferred"),
    (["rfc", "new"], "new"),
    (["awaiting-upstream", "deferred", "new"], "awaiting-upstream"),
])
def test_series_state_follows_its_patches(patches, series):
    assert states.aggregate(patches) == series


@pytest.mark.parametrize(("text", "state"), [
    ("Accepted", "accepted"), ("Under Review", "under-review"),
    ("changes_requested", "changes-requested"), (" RFC ", "rfc"), ("applied", None), ("", None),
])
def test_normalize_state(text, state):
    assert states.normalize_state(text) == state


def test_setting_a_series_sets_its_patches_with_history(archive):
    sid, pids = a_series(archive)
    with archive.sessions.begin() as session:
        admin = accounts.create_user(session, "root", "root@example.org", None, is_admin=True)
        assert states.effective_state(session, "series", sid) == "new"
        assert decisions.set_state(session, "series", sid, "changes-requested", admin, "web",
                                reason="see review")
        assert {states.effective_state(session, "patch", p) for p in pids} == {
            "changes-requested"}
        assert states.effective_state(session, "series", sid) == "changes-requested"
        # Setting the same state again is no change and writes no history.
        assert not decisions.set_state(session, "series", sid, "changes-requested", admin, "web")
        entries = state_history(session, OPERATOR, "series", sid)
        assert [(e.object_kind, e.to_value) for e in entries].count(
            ("series", "changes-requested")) == 1
        assert sum(e.object_kind == "patch" for e in entries) == len(pids)
        assert all(e.who == admin.name and e.via == "web" for e in entries)
        # One patch accepted later: the series shows what is left to do.
        decisions.set_state(session, "patch", pids[0], "accepted", admin, "api")
        assert states.effective_state(session, "series", sid) == "changes-requested"
        kept = session.get(states.SeriesState, sid)
        assert kept is not None and kept.state == "changes-requested"


def test_people_win_over_rules(archive):
    sid, pids = a_series(archive)
    with archive.sessions.begin() as session:
        admin = accounts.create_user(session, "root", "root@example.org", None, is_admin=True)
        decisions.set_state(session, "patch", pids[0], "deferred", admin, "cli")
        assert not decisions.set_state(session, "patch", pids[0], "superseded", None, "rule",
                                    evidence="series:1", rule="revision")
        assert decisions.set_state(session, "patch", pids[1], "superseded", None, "rule",
                                evidence="series:1", rule="revision")
        # A higher-ranked rule replaces a lower one, not the other way round.
        assert decisions.set_state(session, "patch", pids[1], "accepted", None, "rule",
                                evidence="abc123", rule="git")
        assert not decisions.set_state(session, "patch", pids[1], "superseded", None, "rule",
                                    evidence="series:2", rule="revision")
        assert states.effective_state(session, "patch", pids[0]) == "deferred"
        assert states.effective_state(session, "patch", pids[1]) == "accepted"


def test_human_decisions_survive_reindex(archive, settings):
    sid, pids = a_series(archive)
    with archive.sessions.begin() as session:
        admin = accounts.create_user(session, "root", "root@example.org", None, is_admin=True)
        decisions.set_state(session, "series", sid, "accepted", admin, "web", reason="merged")
        flags.set_archived(session, "patch", pids[0], True, admin, "web")
        flags.set_delegate(session, "series", sid, admin, admin, "web")
        before = [(e.object_kind, e.object_id, e.field, e.to_value)
                  for e in state_history(session, OPERATOR, "series", sid)]
    reindex(settings)
    with archive.sessions() as session:
        assert session.get(Series, sid) is not None  # same id after the rebuild
        assert states.effective_state(session, "series", sid) == "accepted"
        assert [states.effective_state(session, "patch", p) for p in pids] == ["accepted"] * len(
            pids)
        row = session.get(PatchState, pids[0])
        assert row is not None and row.archived and row.via == "web"
        srow = session.get(states.SeriesState, sid)
        assert srow is not None and srow.delegate_id is not None
        after = [(e.object_kind, e.object_id, e.field, e.to_value)
                 for e in state_history(session, OPERATOR, "series", sid)]
        assert after == before


def test_rfc_default_and_refusals(archive):
    sid, pids = a_series(archive, patches=1, rfc=True)
    with archive.sessions.begin() as session:
        assert states.effective_state(session, "series", sid) == "rfc"
        cover = session.scalar(select(Patch.id).where(Patch.kind == "cover").limit(1))
        user = accounts.create_user(session, "root", "root@example.org", None, is_admin=True)
        with pytest.raises(states.StateError):
            decisions.set_state(session, "patch", pids[0], "merged", user, "web")
        with pytest.raises(states.StateError):
            decisions.set_state(session, "patch", pids[0], "accepted", None, "web")
        with pytest.raises(states.StateError):
            decisions.set_state(session, "patch", 10**9, "accepted", user, "web")
        assert cover is not None
        with pytest.raises(states.StateError):
            decisions.set_state(session, "patch", cover, "accepted", user, "web")
        assert session.scalar(select(func.count()).select_from(StateChange)
                              .where(StateChange.via.notin_(("rule", "mail")))) == 0


def test_permissions_by_list_and_subsystem(archive, settings):
    if not (CORPORA / "kernel" / "MAINTAINERS").is_file():
        pytest.skip("the shared corpora are not beside the project")
    import_maintainers(settings, CORPORA / "kernel" / "MAINTAINERS")
    with archive.sessions.begin() as session:
        pid, sub_name, sub_slug = session.execute(
            select(Patch.id, Subsystem.name, Subsystem.slug)
            .join(PatchSubsystem, PatchSubsystem.patch_id == Patch.id)
            .join(Subsystem, Subsystem.id == PatchSubsystem.subsystem_id)
            .where(Subsystem.name.like("%CLK%")).limit(1)).one()
        patch = session.get(Patch, pid)
        assert patch is not None
        in_sub = (select(PatchSubsystem.patch_id).join(Subsystem)
                  .where(Subsystem.name == sub_name))
        other = session.scalar(select(Patch).where(Patch.id.not_in(in_sub),
                                                   Patch.kind == "patch").limit(1))
        assert other is not None
        nobody = accounts.create_user(session, "nobody", "n@example.org", None)
        mips = accounts.create_user(session, "mips", "m@example.org", None)
        accounts.grant(session, mips, *accounts.resolve_scope(session, "list:linux-mips"))
        clk = accounts.create_user(session, "clk", "c@example.org", None)
        accounts.grant(session, clk, *accounts.resolve_scope(session, "linux-clk"))
        sub = accounts.create_user(session, "sub", "s@example.org", None)
        assert accounts.resolve_scope(session, sub_slug) == ("subsystem", sub_name)
        accounts.grant(session, sub, "subsystem", sub_name)
        admin = accounts.create_user(session, "root", "r@example.org", None, is_admin=True)
        assert not can_change(session, None, patch)
        assert not can_change(session, nobody, patch)
        assert not can_change(session, mips, patch)
        assert can_change(session, clk, patch)
        assert can_change(session, sub, patch)
        assert not can_change(session, sub, other)  # no file in that subsystem
        assert can_change(session, admin, other)
        if patch.series_id is not None:
            series = session.get(Series, patch.series_id)
            assert series is not None and can_change(session, sub, series)
            assert not can_change(session, mips, series)
        with pytest.raises(accounts.AccountError):
            accounts.resolve_scope(session, "no-such-list-or-subsystem")


def test_state_command_checks_rights(archive, settings, cli, tmp_path):
    sid, pids = a_series(archive)
    cfg = tmp_path / "listarchive.toml"
    cfg.write_text(f'[storage]\ndata_dir = "{settings.data_dir}"\n\n[search]\nenabled = false\n')
    with archive.sessions.begin() as session:
        accounts.create_user(session, "mips", "m@example.org", None)
        accounts.grant(session, accounts.get_user(session, "mips"), "list", "linux-mips")
        accounts.grant(session, accounts.create_user(session, "clk", "c@example.org", None),
                       "list", "linux-clk")
    refused = cli(["-c", str(cfg), "state", "series", str(sid), "accepted", "--as", "mips"],
                  cwd=tmp_path)
    assert refused.returncode == 1 and b"may not change" in refused.stderr
    done = cli(["-c", str(cfg), "state", "series", str(sid), "Accepted", "--as", "clk",
                "--reason", "in clk-next"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    shown = cli(["-c", str(cfg), "state", "patch", str(pids[0])], cwd=tmp_path)
    assert shown.stdout.startswith(b"accepted\n") and b"in clk-next" in shown.stdout
    assert b"new -> accepted\tcli clk\t" in shown.stdout
