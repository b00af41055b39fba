"""Mail commands authorized from MAINTAINERS: ``pw-bot: STATE`` replies and "Applied, thanks"
from a maintainer without an account change the series through the checked state change; the
same line from a non-maintainer, from the author asking for accepted, inside a quote, or in a
reply to another subsystem's series changes nothing and is recorded as ignored. With
``automation.require_dkim`` an unsigned command is ignored and a validly signed one (a key
generated here, published through ``automation.dkim_keys``, no DNS) is applied."""

from __future__ import annotations

import base64
import shutil
import subprocess
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import backends
import dkim
import pytest
from automationworld import AutoWorld, build
from sqlalchemy import select

from ingest.reindex import reindex
from ingest.worker import run_ingest
from listarchive.archive.models import StateChange
from listarchive.errors import ConfigError
from listarchive.mail.botcommands import bot_command
from listarchive.review.states import effective_state
from listarchive.settings import from_mapping

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

MAINTAINERS = """GIZMO CLOCK DRIVER
M:\tGizmo Maint <gizmo-maint@example.org>
L:\tgizmo@example.org
S:\tMaintained
F:\tgizmo*.c

OTHER WIDGET DRIVER
M:\tOther Maint <other-maint@example.org>
L:\tother@example.org
S:\tMaintained
F:\tother*.c
"""
_count = [0]


def make_world(base: Path, extra: str = "", database_url: str = "") -> AutoWorld:
    world = build(base, extra, database_url)
    (base / "MAINTAINERS").write_text(MAINTAINERS)
    done = world.cli("maintainers", "import", str(base / "MAINTAINERS"))
    assert done.returncode == 0, done.stderr
    return world


@pytest.fixture(scope="module")
@backends.archive_fixture
def world(tmp_path_factory: pytest.TempPathFactory) -> AutoWorld:
    return make_world(tmp_path_factory.mktemp("commands"))


def reply(world: AutoWorld, to_msgid: str, sender: str, text: str, list_name: str = "gizmo",
          sign: tuple[bytes, str] | None = None) -> str:
    """Send (ingest) a reply to ``to_msgid``; returns its Message-ID."""
    msgid, raw = reply_mail(world, to_msgid, sender, text, list_name, sign)
    path = world.base / f"reply-{_count[0]}.eml"
    path.write_bytes(raw)
    run_ingest(world.settings, [str(path)], list_name)
    return msgid


def reply_mail(world: AutoWorld, to_msgid: str, sender: str, text: str,
               list_name: str = "gizmo", sign: tuple[bytes, str] | None = None
               ) -> tuple[str, bytes]:
    """A reply to ``to_msgid``: its Message-ID and bytes."""
    _count[0] += 1
    msgid = f"cmd-{_count[0]}-{world.base.name}@example.org"
    msg = EmailMessage(policy=policy.default.clone(max_line_length=200))  # long Message-IDs
    msg["From"] = sender
    msg["To"] = f"{list_name}@example.org"
    msg["Subject"] = "Re: [PATCH] something"
    msg["Date"] = format_datetime(datetime(2025, 6, 4, 9, _count[0] % 60, tzinfo=UTC))
    msg["Message-ID"] = f"<{msgid}>"
    msg["In-Reply-To"] = f"<{to_msgid}>"
    msg["References"] = f"<{to_msgid}>"
    msg.set_content(f"On Tue, someone wrote:\n> the patch\n\n{text}\n")
    raw = bytes(msg)
    if sign is not None:
        key, selector = sign
        raw = dkim.sign(raw, selector.encode(), b"example.org", key,
                        include_headers=[b"from", b"to", b"subject", b"message-id",
                                         b"in-reply-to"]) + raw
    return msgid, raw


def cover_of(world: AutoWorld, name: str) -> str:
    return world.covers[name]


def state(world: AutoWorld, kind: str, oid: int) -> str:
    with world.session() as session:
        return effective_state(session, kind, oid)


def entries(world: AutoWorld, evidence: str) -> list[StateChange]:
    with world.session() as session:
        return list(session.scalars(select(StateChange).where(
            StateChange.evidence.like(f"{evidence}%")).order_by(StateChange.id)))


def patch_msgid(world: AutoWorld, name: str, n: int) -> str:
    from listarchive.archive.models import Patch

    with world.session() as session:
        return str(session.get(Patch, world.patches[name][n]).msgid)


@pytest.mark.parametrize(("body", "word", "wanted"), [
    ("pw-bot: cr", "cr", "changes-requested"), ("  PW-BOT:  Accepted ", "accepted", "accepted"),
    ("Hi\n\npw-bot: not-applicable\n", "not-applicable", "not-applicable"),
    ("pw-bot: bogus", "bogus", None)])
def test_bot_command_lines(body, word, wanted):
    found = bot_command(body)
    assert found is not None and (found.word, found.state) == (word, wanted)


@pytest.mark.parametrize("body", ["> pw-bot: accepted", "pw-bot accepted",
                                  "I'd say pw-bot: cr here", "-- \npw-bot: cr"])
def test_not_commands(body):
    assert bot_command(body) is None


def test_a_maintainer_reply_to_the_cover_changes_the_series(world):
    sid = world.series["gizmo"]
    msgid = reply(world, cover_of(world, "gizmo"), "Gizmo Maint <gizmo-maint@example.org>",
                  "Needs another round.\n\npw-bot: cr")
    assert state(world, "series", sid) == "changes-requested"
    assert all(state(world, "patch", p) == "changes-requested" for p in world.patches["gizmo"])
    found = [e for e in entries(world, msgid) if e.object_kind == "series"]
    assert len(found) == 1 and found[0].via == "mail" and found[0].field == "state"
    assert "gizmo-maint@example.org" in found[0].reason and "DKIM unsigned" in found[0].reason
    page = world.client().get(f"/series/{sid}/").get_data(as_text=True)
    assert "DKIM unsigned" in page and msgid in page
    # Ingesting the same reply again changes nothing and records nothing twice.
    before = len(entries(world, msgid))
    run_ingest(world.settings, [str(world.base / f"reply-{_count[0]}.eml")], "gizmo")
    assert len(entries(world, msgid)) == before
    reindex(world.settings)  # derives everything again, mail commands included
    assert len(entries(world, msgid)) == before


def test_refused_commands_change_nothing_and_are_recorded(world):
    sid = world.series["gizmo"]
    before = state(world, "series", sid)
    cases = [
        ("Some One <someone@example.org>", "pw-bot: accepted", "no MAINTAINERS maintainer"),
        ("Dev Eloper <gizmo-dev@example.org>", "pw-bot: accepted", "the author may only"),
        ("Other Maint <other-maint@example.org>", "pw-bot: rejected", "no MAINTAINERS"),
        ("Gizmo Maint <gizmo-maint@example.org>", "pw-bot: sideways", "not a state"),
    ]
    for sender, line, why in cases:
        msgid = reply(world, cover_of(world, "gizmo"), sender, line)
        assert state(world, "series", sid) == before, (sender, line)
        found = entries(world, msgid)
        assert [e.field for e in found] == ["ignored"], (sender, line)
        assert why in found[0].reason and found[0].to_value == line.split(": ")[1]
    quoted = reply(world, cover_of(world, "gizmo"), "Gizmo Maint <gizmo-maint@example.org>",
                   "> pw-bot: accepted\n\nNo, not yet.")
    assert state(world, "series", sid) == before and entries(world, quoted) == []


def test_a_maintainer_of_another_subsystem_cannot_touch_this_series(world):
    sid = world.series["other"]
    msgid = reply(world, cover_of(world, "other"), "Gizmo Maint <gizmo-maint@example.org>",
                  "pw-bot: accepted", list_name="other")
    assert state(world, "series", sid) == "new"
    assert [e.field for e in entries(world, msgid)] == ["ignored"]


def test_the_author_may_withdraw_and_a_patch_reply_changes_one_patch(world):
    sid = world.series["other"]
    first = world.patches["other"][0]
    msgid = reply(world, patch_msgid(world, "other", 0), "Dev Eloper <other-dev@example.org>",
                  "Sorry, wrong branch.\npw-bot: superseded", list_name="other")
    assert state(world, "patch", first) == "superseded"
    assert state(world, "patch", world.patches["other"][1]) == "new"
    assert [e.object_kind for e in entries(world, msgid)] == ["patch"]
    assert state(world, "series", sid) == "under-review"


def test_applied_thanks_from_a_maintainer_without_an_account(world):
    pid = world.patches["other"][2]
    msgid = reply(world, patch_msgid(world, "other", 2), "Other Maint <other-maint@example.org>",
                  "Applied to widget-next, thanks!", list_name="other")
    assert state(world, "patch", pid) == "accepted"
    found = entries(world, msgid)
    assert found[0].via == "mail" and found[0].rule == "applied"
    stranger = reply(world, patch_msgid(world, "other", 1), "Some One <someone@example.org>",
                     "Applied, thanks!", list_name="other")
    assert state(world, "patch", world.patches["other"][1]) == "new"
    assert entries(world, stranger) == []  # just a reply, not a command


def test_commands_in_one_batch_are_each_judged_as_alone(tmp_path):
    """Replies of one batch are checked against what is read once for the batch (maintainers
    of each series, accounts, commands already recorded): each gets what it would alone."""
    world = make_world(tmp_path)
    gizmo, other = world.series["gizmo"], world.series["other"]
    sent = [
        reply_mail(world, cover_of(world, "gizmo"), "Gizmo Maint <gizmo-maint@example.org>",
                   "pw-bot: cr"),
        reply_mail(world, cover_of(world, "gizmo"), "Some One <someone@example.org>",
                   "pw-bot: accepted"),
        reply_mail(world, patch_msgid(world, "other", 0), "Dev Eloper <other-dev@example.org>",
                   "pw-bot: superseded", "other"),
        reply_mail(world, patch_msgid(world, "other", 0), "Gizmo Maint <gizmo-maint@example.org>",
                   "pw-bot: accepted", "other"),
        reply_mail(world, patch_msgid(world, "other", 2), "Other Maint <other-maint@example.org>",
                   "Applied to widget-next, thanks!", "other"),
        reply_mail(world, patch_msgid(world, "other", 1), "Some One <someone@example.org>",
                   "Applied, thanks!", "other"),
    ]
    box = world.base / "batch.mbox"
    box.write_bytes(b"".join(b"From mailer Thu Jan  1 00:00:00 2025\n" + raw + b"\n"
                             for _, raw in sent))
    run_ingest(world.settings, [str(box)], "gizmo")
    (maint, stranger, author, outsider, applied, thanks) = (msgid for msgid, _ in sent)
    assert state(world, "series", gizmo) == "changes-requested"
    assert [e.field for e in entries(world, maint) if e.object_kind == "series"] == ["state"]
    assert [e.field for e in entries(world, stranger)] == ["ignored"]
    assert "no MAINTAINERS maintainer" in entries(world, stranger)[0].reason
    assert state(world, "patch", world.patches["other"][0]) == "superseded"
    assert [e.object_kind for e in entries(world, author)] == ["patch"]
    assert [e.field for e in entries(world, outsider)] == ["ignored"]
    assert state(world, "patch", world.patches["other"][2]) == "accepted"
    assert entries(world, applied)[0].rule == "applied"
    assert state(world, "patch", world.patches["other"][1]) == "new"
    assert entries(world, thanks) == []
    assert state(world, "series", other) == "under-review"


def test_a_bad_dkim_keys_file_names_the_key(tmp_path):
    settings = from_mapping({"storage": {"data_dir": str(tmp_path)}, "search": {"enabled": False},
                             "automation": {"dkim_keys": str(tmp_path / "missing")}})
    from ingest.worker import Worker

    with pytest.raises(ConfigError, match="automation.dkim_keys"):
        Worker(settings)
    with pytest.raises(ConfigError, match="automation.require_dkim"):
        from_mapping({"automation": {"require_dkim": "yes"}})


@pytest.fixture(scope="module")
def signing_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, str]:
    base = tmp_path_factory.mktemp("dkimkey")
    subprocess.run(["openssl", "genrsa", "-traditional", "-out", str(base / "key.pem"), "2048"],
                   check=True, capture_output=True)
    public = subprocess.run(["openssl", "rsa", "-in", str(base / "key.pem"), "-pubout",
                             "-outform", "DER"], check=True, capture_output=True).stdout
    record = f"sel1._domainkey.example.org v=DKIM1; k=rsa; p={base64.b64encode(public).decode()}"
    (base / "keys").write_text(record + "\n")
    return (base / "key.pem").read_bytes(), str(base / "keys")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_required_dkim_refuses_unsigned_and_accepts_signed(tmp_path_factory, signing_key):
    key, keys = signing_key
    base = tmp_path_factory.mktemp("dkim")
    world = make_world(base, f'[automation]\nrequire_dkim = true\ndkim_keys = "{keys}"\n',
                       backends.archive_url())
    sid = world.series["gizmo"]
    unsigned = reply(world, cover_of(world, "gizmo"), "Gizmo Maint <gizmo-maint@example.org>",
                     "pw-bot: cr")
    assert state(world, "series", sid) == "new"
    found = entries(world, unsigned)
    assert [e.field for e in found] == ["ignored"] and "require_dkim" in found[0].reason
    signed = reply(world, cover_of(world, "gizmo"), "Gizmo Maint <gizmo-maint@example.org>",
                   "pw-bot: cr", sign=(key, "sel1"))
    assert state(world, "series", sid) == "changes-requested"
    assert "DKIM verified" in entries(world, signed)[-1].reason
    forged = reply(world, cover_of(world, "other"), "Other Maint <other-maint@example.org>",
                   "pw-bot: accepted", list_name="other", sign=(key, "nokey"))
    assert state(world, "series", world.series["other"]) == "new"
    assert "unverified" in entries(world, forged)[0].reason
