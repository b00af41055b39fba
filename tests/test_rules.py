"""Automatic transitions on real ``git format-patch`` series and hand-written replies.

A v1 and a v2 of a two-patch series are made from a real repository; replies from a maintainer
with a grant on the list, from an account without one, and from a stranger are archived after
(or before) the series, and each rule must do what it says and nothing else.
"""

from __future__ import annotations

import email
import itertools
import shutil
from pathlib import Path

import mailfixtures
import pytest
from sqlalchemy import func, select

from ingest.reindex import reindex
from ingest.worker import Worker, run_ingest
from listarchive.access import accounts
from listarchive.archive.models import Patch, Series, StateChange
from listarchive.review import decisions, states
from listarchive.review.rules import applied_claim, requested_state
from listarchive.settings import Settings

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

LIST = "linux-clk"
_counter = itertools.count(1)


git = mailfixtures.dev_git


def msgid_of(data: bytes) -> str:
    return email.message_from_bytes(data)["Message-ID"].strip().strip("<>")


def send(repo: Path, out: Path, *args: str) -> list[bytes]:
    return mailfixtures.format_patch(git, repo, out, *args)


@pytest.fixture
def mails(tmp_path: Path) -> dict[str, list[bytes]]:
    """v1 and v2 (patch 2 reworked) of a two-patch series, and an RFC of another one."""
    return mailfixtures.revisions_and_rfc(tmp_path, git, send)


def reply(parent: bytes, sender: str, body: str, headers: str = "") -> bytes:
    parent_id = msgid_of(parent)
    subject = email.message_from_bytes(parent)["Subject"].replace("\n", "")
    return (f"From mboxrd@z Thu Jan  1 00:00:00 1970\nFrom: {sender}\nTo: {LIST}@example.org\n"
            f"Subject: Re: {subject}\nDate: Mon, 04 Mar 2024 10:00:00 +0000\n"
            f"Message-ID: <reply-{next(_counter)}@example.org>\nIn-Reply-To: <{parent_id}>\n"
            f"References: <{parent_id}>\n{headers}\n{body}\n").encode()


def ingest(settings: Settings, tmp_path: Path, *blobs: bytes) -> None:
    path = tmp_path / f"batch-{next(_counter)}.mbox"
    path.write_bytes(b"".join(b if b.startswith(b"From ") else b"From x Thu Jan  1 00:00:00 1970\n"
                              + b for b in (blob.rstrip(b"\n") + b"\n\n" for blob in blobs)))
    run_ingest(settings, [str(path)], LIST)


def make_users(settings: Settings) -> None:
    with Worker(settings).sessions.begin() as session:
        maint = accounts.create_user(session, "maint", "Maint@Example.org", "correct horse")
        accounts.grant(session, maint, "list", LIST)
        other = accounts.create_user(session, "other", "other@example.org", "correct horse")
        accounts.grant(session, other, "list", "linux-mips")


def state_of(settings: Settings, data: bytes) -> str:
    with Worker(settings).sessions() as session:
        pk = session.scalar(select(Patch.id).where(Patch.msgid == msgid_of(data)))
        assert pk is not None
        kind = session.scalar(select(Patch.kind).where(Patch.id == pk))
        if kind == "cover":
            sid = session.scalar(select(Patch.series_id).where(Patch.id == pk))
            assert sid is not None
            return states.effective_state(session, "series", sid)
        return states.effective_state(session, "patch", pk)


def last_change(settings: Settings, data: bytes) -> StateChange | None:
    with Worker(settings).sessions() as session:
        pk = session.scalar(select(Patch.id).where(Patch.msgid == msgid_of(data)))
        return session.scalars(select(StateChange).where(StateChange.object_kind == "patch",
                                                         StateChange.object_id == pk)
                               .order_by(StateChange.id.desc())).first()


def changes(settings: Settings) -> int:
    with Worker(settings).sessions() as session:
        return session.scalar(select(func.count()).select_from(StateChange)) or 0


MAINT = "Maint Ainer <maint@example.org>"


def test_v2_marks_v1_superseded_with_the_newer_series_as_evidence(settings, tmp_path, mails):
    ingest(settings, tmp_path, *mails["v1"])
    assert [state_of(settings, m) for m in mails["v1"]] == ["new"] * 3
    ingest(settings, tmp_path, *mails["v2"])
    assert [state_of(settings, m) for m in mails["v1"]] == ["superseded"] * 3
    assert [state_of(settings, m) for m in mails["v2"]] == ["new"] * 3
    with Worker(settings).sessions() as session:
        v2 = session.scalar(select(Series.id).where(Series.anchor_msgid
                                                    == msgid_of(mails["v2"][0])))
    change = last_change(settings, mails["v1"][1])
    assert change is not None and change.via == "rule" and change.rule == "revision"
    assert change.evidence == f"series:{v2}" and "v2" in change.reason


def test_superseding_is_order_independent_and_idempotent(settings, tmp_path, mails):
    ingest(settings, tmp_path, *mails["v2"])
    ingest(settings, tmp_path, *mails["v1"])  # the older revision arrives last
    assert [state_of(settings, m) for m in mails["v1"]] == ["superseded"] * 3
    before = changes(settings)
    reindex(settings)
    assert changes(settings) == before
    assert [state_of(settings, m) for m in mails["v1"]] == ["superseded"] * 3


def test_a_person_decision_is_not_superseded(settings, tmp_path, mails):
    make_users(settings)
    ingest(settings, tmp_path, *mails["v1"])
    with Worker(settings).sessions.begin() as session:
        pk = session.scalar(select(Patch.id).where(Patch.msgid == msgid_of(mails["v1"][1])))
        assert pk is not None
        decisions.set_state(session, "patch", pk, "deferred", accounts.get_user(session, "maint"),
                         "web")
    ingest(settings, tmp_path, *mails["v2"])
    assert state_of(settings, mails["v1"][1]) == "deferred"
    assert state_of(settings, mails["v1"][2]) == "superseded"


def test_applied_reply_from_granted_maintainer_accepts_the_series(settings, tmp_path, mails):
    make_users(settings)
    ingest(settings, tmp_path, *mails["v1"], *mails["v2"])
    answer = reply(mails["v2"][0], MAINT, "> clk: steps\n\nApplied to clk-next, thanks!")
    ingest(settings, tmp_path, answer)
    assert [state_of(settings, m) for m in mails["v2"]] == ["accepted"] * 3
    change = last_change(settings, mails["v2"][2])
    assert change is not None and change.rule == "reply" and change.evidence == msgid_of(answer)
    assert "clk-next" in change.reason
    assert [state_of(settings, m) for m in mails["v1"]] == ["superseded"] * 3


@pytest.mark.parametrize("sender", ["Other <other@example.org>",  # account, no grant here
                                    "Stranger <nobody@example.net>"])  # no account at all
def test_applied_reply_from_someone_else_does_nothing(settings, tmp_path, mails, sender):
    make_users(settings)
    ingest(settings, tmp_path, *mails["v2"])
    before = changes(settings)
    ingest(settings, tmp_path, reply(mails["v2"][0], sender, "Applied, thanks!"))
    assert [state_of(settings, m) for m in mails["v2"]] == ["new"] * 3
    assert changes(settings) == before


def test_reply_to_one_patch_accepts_that_patch_only(settings, tmp_path, mails):
    make_users(settings)
    ingest(settings, tmp_path, *mails["v2"])
    ingest(settings, tmp_path, reply(mails["v2"][2], MAINT, "Thanks, applied."))
    assert [state_of(settings, m) for m in mails["v2"][1:]] == ["new", "accepted"]
    assert state_of(settings, mails["v2"][0]) == "under-review"  # the series: half done


def test_b4_thank_you_accepts_the_listed_patches_with_their_commits(settings, tmp_path, mails):
    make_users(settings)
    ingest(settings, tmp_path, *mails["v2"])
    body = ("On Fri, 01 Mar 2024 10:00:00 +0000, Dev Eloper wrote:\n> clk: steps\n\n"
            "Applied, thanks!\n\n[2/2] clk: add step 2\n      commit: 0123456789abcdef0123\n\n"
            "Best regards,\n-- \nMaint Ainer <maint@example.org>\n")
    answer = reply(mails["v2"][0], MAINT, body)
    ingest(settings, tmp_path, answer)
    assert [state_of(settings, m) for m in mails["v2"][1:]] == ["new", "accepted"]
    change = last_change(settings, mails["v2"][2])
    assert change is not None and change.evidence == f"{msgid_of(answer)} 0123456789abcdef0123"


def test_reply_archived_before_the_series_still_counts(settings, tmp_path, mails):
    make_users(settings)
    ingest(settings, tmp_path, reply(mails["v2"][0], MAINT, "Series applied, thanks."))
    ingest(settings, tmp_path, *mails["v2"])
    assert [state_of(settings, m) for m in mails["v2"]] == ["accepted"] * 3


def test_state_header_from_an_authorised_sender(settings, tmp_path, mails):
    make_users(settings)
    ingest(settings, tmp_path, *mails["v2"])
    ingest(settings, tmp_path,
           reply(mails["v2"][1], MAINT, "Please fix the typo.",
                 "X-Patchwork-State: Changes Requested\n"),
           reply(mails["v2"][2], "Other <other@example.org>", "ok",
                 "X-Listarchive-State: rejected\n"))
    assert [state_of(settings, m) for m in mails["v2"]] == ["changes-requested", "changes-requested",
                                                            "new"]
    change = last_change(settings, mails["v2"][1])
    assert change is not None and change.rule == "header"


def test_rules_run_twice_change_nothing(settings, tmp_path, mails):
    make_users(settings)
    ingest(settings, tmp_path, *mails["v1"], *mails["v2"],
           reply(mails["v2"][0], MAINT, "Applied, thanks!"))
    before = changes(settings)
    reindex(settings)
    assert changes(settings) == before
    assert [state_of(settings, m) for m in mails["v2"]] == ["accepted"] * 3


def test_rfc_series_start_as_rfc(settings, tmp_path, mails):
    ingest(settings, tmp_path, *mails["rfc"])
    assert [state_of(settings, m) for m in mails["rfc"]] == ["rfc", "rfc"]
    assert changes(settings) == 0  # a default, not a decision


@pytest.mark.parametrize(("body", "whole", "where"), [
    ("Applied, thanks!", False, ""),
    ("Thanks, applied.", False, ""),
    ("Applied to clk-next, thanks", False, "clk-next"),
    ("I've applied the series to my tree.", True, "my tree"),
    ("Series applied.", True, ""),
    ("Both applied, thanks.", True, ""),
    ("Patch applied to clk-fixes", False, "clk-fixes"),
    ("Merged, thanks!", False, ""),
    ("Thank you, I've applied this to thead-clk-for-next", False, "thead-clk-for-next"),
])
def test_applied_claims(body, whole, where):
    claim = applied_claim(f"On Mon, X wrote:\n> [PATCH] foo\n\n{body}\n\n-- \nsig\n")
    assert claim is not None and (claim.whole_series, claim.where) == (whole, where)


@pytest.mark.parametrize("body", [
    "Not applied: it breaks the build.",
    "I applied it on top of v6.7 and the build breaks.",
    "> Applied, thanks!\nWhy was this applied?",
    "It doesn't apply on clk-next.",
    "Can this be applied to clk-fixes?",
    "Reviewed-by: Maint Ainer <maint@example.org>",
    "Thanks!\n-- \nApplied, thanks!",  # signature
])
def test_not_applied_claims(body):
    assert applied_claim(body) is None


def test_requested_state_header_spellings(mails):
    from listarchive.mail.message import parse

    def with_header(value: str) -> str | None:
        data = reply(mails["v2"][1], MAINT, "x", f"X-Patchwork-State: {value}\n")
        return requested_state(parse(data.split(b"\n", 1)[1]))

    assert with_header("Accepted") == "accepted"
    assert with_header("changes_requested") == "changes-requested"
    assert with_header("Not Applicable") == "not-applicable"
    assert with_header("merged-somewhere") is None
