"""Embargo core on a small archive: the security report of ``data/embargo-*.eml`` on list
linux-clk, plus public mail made here. Ingest rules, who sees what through ``viewer_for``, merges,
rights of restrict/disclose/unpublish, expiry, the audit log, reindex and the commands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from itertools import groupby
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ingest.worker import run_ingest
from listarchive.access import accounts, audit, embargo, embargorules, embargoview
from listarchive.access.visibility import ANONYMOUS, Viewer, viewer_for
from listarchive.archive import listview, messageview
from listarchive.archive.db import make_engine, make_sessionmaker
from listarchive.archive.models import Embargo, EmbargoAllow, MailingList, User
from listarchive.cli import main
from listarchive.mail.message import parse
from listarchive.search import engine
from listarchive.search.indexer import apply_embargo_change
from listarchive.search.queryparser import parse_query
from listarchive.settings import Settings, from_mapping

DATA = Path(__file__).resolve().parent / "data"
REPORT = ["embargo-report-cover.eml", "embargo-report-patch1.eml", "embargo-report-patch2.eml",
          "embargo-reply-outsider.eml", "embargo-reply-public.eml"]
COVER = "embargo-cover-7f3a@secure-example.net"
REPLY = "embargo-outsider-reply-7f3a@elsewhere.example"


def mail(path: Path, msgid: str, subject: str, body: str, refs: tuple[str, ...] = (),
         headers: dict[str, str] | None = None, sender: str = "Pat Public <pat@public.example>",
         date: datetime = datetime(2025, 10, 1, 8, 0, tzinfo=UTC)) -> Path:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "linux-clk@vger.kernel.org"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = f"<{msgid}>"
    if refs:
        msg["In-Reply-To"] = f"<{refs[-1]}>"
        msg["References"] = " ".join(f"<{r}>" for r in refs)
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body + "\n")
    out = path / f"{msgid.split('@')[0]}.eml"
    out.write_bytes(bytes(msg))
    return out


REPORTER = "quentin.reporter@secure-example.net"


def make_settings(tmp_path: Path) -> Settings:
    return from_mapping({
        "storage": {"data_dir": str(tmp_path / "instance")}, "search": {"enabled": True},
        "embargo": {"reporters": [REPORTER.upper(), "sec@mta.example"]},
        "lists": [{"name": "linux-clk", "address": "linux-clk@vger.kernel.org"},
                  {"name": "security", "restricted": True}]}, base=tmp_path)


@pytest.fixture
def archive(tmp_path: Path) -> Settings:
    settings = make_settings(tmp_path)
    public = mail(tmp_path, "public-root@public.example", "clk: tortoise gate question",
                  "Does the tortoise gate ever stop?")
    run_ingest(settings, [str(public), *(str(DATA / n) for n in REPORT)], "linux-clk")
    return settings


def session_of(settings: Settings):  # type: ignore[no-untyped-def]
    return make_sessionmaker(make_engine(settings))()


def total(settings: Settings, viewer: Viewer, words: str) -> int:
    index = engine.open_reader(settings)
    return int(index.search(parse_query(words), viewer_keys=viewer.search_keys()).total)


def user(s, name: str, admin: bool = False) -> User:  # type: ignore[no-untyped-def]
    return accounts.create_user(s, name, f"{name}@example.org", None, admin)


@pytest.mark.parametrize(("raw", "restricted", "reason"), [
    (b"From: sec@x\nSubject: [SECURITY][PATCH 0/2] clk: fix\n\nx\n", False, "rule:security-tag"),
    (b"From: sec@x\nSubject: [PATCH security 1/3] clk: fix\n\nx\n", False, "rule:security-tag"),
    (b"From: sec@x\nSubject: clk: fix\nX-Listarchive-Embargo: yes\n\nx\n", False, "rule:header"),
    (b"From: sec@x\nSubject: clk: fix\nX-Listarchive-Embargo: no\n\nx\n", False, ""),
    (b"From: anyone@y\nSubject: clk: fix\n\nx\n", True, "rule:restricted-list"),
    (b"From: sec@x\nSubject: clk: securityfs fix\n\nx\n", False, ""),
    # From a stranger a tag or the header hides nothing: it would hide threads at will.
    (b"From: mallory@y\nSubject: [SECURITY][PATCH 0/2] clk: fix\n\nx\n", False, ""),
    (b"From: mallory@y\nSubject: clk: fix\nX-Listarchive-Embargo: yes\n\nx\n", False, ""),
    # A reply never starts an embargo.
    (b"From: sec@x\nSubject: Re: [SECURITY] clk\nIn-Reply-To: <a@b>\n\nx\n", False, ""),
    (b"From: sec@x\nSubject: Re: clk\nReferences: <a@b>\n\nx\n", True, ""),
])
def test_rule_reason_table(raw, restricted, reason):
    assert embargorules.rule_reason(parse(raw), restricted, {"sec@x"}) == reason


def test_security_tag_embargoes_the_thread_and_list_grantees_see_it(archive):
    with session_of(archive) as s:
        rows = s.scalars(select(Embargo)).all()
        assert [(e.anchor_msgid, e.reason, e.disclosed_at) for e in rows] == [
            (COVER, "rule:security-tag", None)]
        assert [(a.kind, a.name) for a in rows[0].allowed] == [("list", "linux-clk")]
        for msgid in (COVER, REPLY, "embargo-public-reply-7f3a@public.example"):
            assert messageview.find_message(s, ANONYMOUS, msgid) is None
            assert messageview.raw_message(s, ANONYMOUS, msgid) is None
        assert messageview.find_message(s, ANONYMOUS, "public-root@public.example") is not None
        maint, stranger = user(s, "maint"), user(s, "stranger")
        accounts.grant(s, maint, "list", "linux-clk")
        member = viewer_for(s, maint)
        assert messageview.find_message(s, member, REPLY) is not None
        assert messageview.find_message(s, viewer_for(s, stranger), REPLY) is None
        assert messageview.find_message(s, Viewer(user="root", is_admin=True), REPLY) is not None
        summary = listview.get_list(s, ANONYMOUS, "linux-clk")
        assert summary is not None and (summary.messages, summary.threads) == (1, 1)
        inside = listview.get_list(s, member, "linux-clk")
        assert inside is not None and (inside.messages, inside.threads) == (6, 2)
        index = listview.list_index(s, ANONYMOUS, "linux-clk")
        assert index is not None and [t.root_msgid for t in index.threads] == [
            "public-root@public.example"]
    assert total(archive, ANONYMOUS, "zanzibar") == 0
    assert total(archive, member, "zanzibar") == 5


def test_a_stranger_cannot_hide_a_public_thread(archive, tmp_path):
    """A stranger's [SECURITY] thread starter hides nothing, and a reply that references both an
    embargoed report and a public thread (merging them) hides only itself: the public messages
    stay public, in pages, counts and search, and the audit names every message hidden."""
    assert total(archive, ANONYMOUS, "tortoise") == 1
    fake = mail(tmp_path, "fake@evil.example", "[SECURITY] clk: please hide this",
                "a fake report about the tortoise", sender="Mallory <mallory@evil.example>")
    merge = mail(tmp_path, "merge@evil.example", "Re: clk: tortoise gate question",
                 "Both at once.", refs=("public-root@public.example", "fake@evil.example", COVER),
                 sender="Mallory <mallory@evil.example>")
    run_ingest(archive, [str(fake), str(merge)], "linux-clk")
    with session_of(archive) as s:
        assert s.scalar(select(func.count()).select_from(Embargo)) == 1  # the real report's
        for msgid in ("public-root@public.example", "fake@evil.example"):
            assert messageview.find_message(s, ANONYMOUS, msgid) is not None, msgid
        for msgid in ("merge@evil.example", COVER):
            assert messageview.find_message(s, ANONYMOUS, msgid) is None, msgid
        index = listview.list_index(s, ANONYMOUS, "linux-clk")
        assert index is not None and index.threads  # the merged thread, shown by what is public
        for thread in index.threads:
            assert thread.root_msgid not in (COVER, "merge@evil.example")
            assert "zanzibar" not in thread.subject
        view = messageview.thread_view(s, ANONYMOUS, "public-root@public.example")
        assert view is not None and "merge@evil.example" not in {
            m.record.msgid for m in view.members}
        summary = listview.get_list(s, ANONYMOUS, "linux-clk")
        assert summary is not None and summary.messages == 2  # public root and fake report
        hidden = {(e.target_msgid, e.actor) for e in audit.audit_log(s, 0)
                  if e.action == "restricted"}
        assert ("merge@evil.example", embargorules.RULE_REPLY) in hidden
    assert total(archive, ANONYMOUS, "tortoise") == 2  # the public root and the fake report
    apply_embargo_change(archive, lambda s: embargo.disclose(s, COVER, None))
    with session_of(archive) as s:
        assert messageview.find_message(s, ANONYMOUS, "merge@evil.example") is not None
        note = embargoview.disclosure(s, ANONYMOUS, REPLY)
        assert note is not None and note.note().endswith(f"by {embargo.CONSOLE}")


def _later_and_a_hidden_reply(tmp_path: Path) -> list[str]:
    """A public question of November, then in December a reply that merges the public thread
    of October with the embargoed report (hidden, as the report is)."""
    later = mail(tmp_path, "later@public.example", "clk: a later question", "later",
                 date=datetime(2025, 11, 1, 8, 0, tzinfo=UTC))
    merge = mail(tmp_path, "merge@evil.example", "Re: clk: tortoise gate question",
                 "Both at once.", refs=("public-root@public.example", COVER),
                 sender="Mallory <mallory@evil.example>",
                 date=datetime(2025, 12, 1, 8, 0, tzinfo=UTC))
    return [str(later), str(merge)]


def test_newest_messages_pass_over_a_hidden_reply_that_dates_a_public_thread(archive, tmp_path):
    """new.atom reads a list's threads by the activity the ingest keeps, which a hidden reply
    dates; the feed still holds the newest messages the reader may see: the thread after it is
    read too."""
    run_ingest(archive, _later_and_a_hidden_reply(tmp_path), "linux-clk")
    with session_of(archive) as s:
        for limit, newest in ((1, ["later@public.example"]),
                              (2, ["later@public.example", "public-root@public.example"])):
            found = messageview.recent_messages(s, ANONYMOUS, "linux-clk", limit=limit)
            assert found is not None and [r.msgid for r in found] == newest


def _index_pages(s, viewer: Viewer, name: str, per_page: int, **where) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    """One list index read three ways: by page number, by cursors to older pages, and by
    cursors back to newer ones from the last page."""
    def roots(index) -> list[str]:  # type: ignore[no-untyped-def]
        return [t.root_msgid for t in index.threads]

    numbered: list[str] = []
    for page in range(1, 20):
        index = listview.list_index(s, viewer, name, page=page, per_page=per_page, **where)
        numbered += roots(index)
        if index.older is None and len(index.threads) < per_page:
            break
    walked, index = [], listview.list_index(s, viewer, name, per_page=per_page, **where)
    pages = [roots(index)]
    while index.older is not None:
        index = listview.list_index(s, viewer, name, per_page=per_page, older=index.older)
        pages.append(roots(index))
    walked = [m for page in pages for m in page]
    back = [roots(index)]
    while index.newer is not None:
        index = listview.list_index(s, viewer, name, per_page=per_page, newer=index.newer)
        back.append(roots(index))
    return {"numbered": numbered, "walked": walked,
            "back": [m for page in reversed(back) for m in page]}


def test_a_hidden_reply_does_not_move_its_public_thread_in_the_list_index(archive, tmp_path):
    """A public thread whose newest message is a hidden reply is placed, for a reader who may
    not see that reply, by the newest message it may see: dated by the reply, its place on the
    index would say that something was said there, and when. Pages by number and by cursor,
    both ways, and ``?t=`` agree; a reader who may see the reply finds the thread on top."""
    days = [mail(tmp_path, f"day{d}@public.example", f"clk: question of day {d}", "q",
                 date=datetime(2025, 10, d, 9, 0, tzinfo=UTC)) for d in range(2, 8)]
    run_ingest(archive, [*map(str, days), *_later_and_a_hidden_reply(tmp_path)], "linux-clk")
    public = ["later@public.example", *(f"day{d}@public.example" for d in range(7, 1, -1)),
              "public-root@public.example"]
    admin = Viewer(user="admin", is_admin=True)
    with session_of(archive) as s:
        for name in ("linux-clk", listview.ALL):
            for per_page in (1, 2, 3, 50):
                for way, seen in _index_pages(s, ANONYMOUS, name, per_page).items():
                    assert seen == public, (name, per_page, way)
            index = listview.list_index(s, ANONYMOUS, name, per_page=50)
            assert index is not None
            shown = {t.root_msgid: t for t in index.threads}["public-root@public.example"]
            assert shown.last_date is not None and shown.last_date.month == 10
            earlier = _index_pages(s, ANONYMOUS, name, 2, before=datetime(2025, 10, 5))
            assert earlier["numbered"] == public[-4:], name
            index = listview.list_index(s, admin, name, per_page=50)
            assert index is not None
            assert index.threads[0].root_msgid == "public-root@public.example"  # dated by the reply
            assert [t.root_msgid for t in index.threads[1:]] == public[:-1]


def test_list_indexes_count_only_what_the_reader_may_see(tmp_path):
    """A list index reads the summaries the ingest keeps, which count every message. A thread
    that an embargoed report was merged into, and one with replies on another public list and
    on the restricted list, show on each list and on /all/ only what each reader may see:
    every index equals the summaries counted from the messages the reader may see, in the
    order of what it may see."""
    archive = from_mapping({
        "storage": {"data_dir": str(tmp_path / "instance")}, "search": {"enabled": False},
        "embargo": {"reporters": [REPORTER]},
        "lists": [{"name": "linux-clk", "address": "linux-clk@vger.kernel.org"},
                  {"name": "linux-pm"}, {"name": "security", "restricted": True}]})
    public = mail(tmp_path, "public-root@public.example", "clk: tortoise gate question",
                  "Does the tortoise gate ever stop?")
    run_ingest(archive, [str(public), *(str(DATA / n) for n in REPORT)], "linux-clk")
    merge = mail(tmp_path, "merge@evil.example", "Re: clk: tortoise gate question",
                 "Both at once.", refs=("public-root@public.example", COVER),
                 sender="Mallory <mallory@evil.example>",
                 date=datetime(2025, 12, 1, 8, 0, tzinfo=UTC))
    later = mail(tmp_path, "later@public.example", "clk: a later question", "later",
                 date=datetime(2025, 11, 1, 8, 0, tzinfo=UTC))
    closed = mail(tmp_path, "closed-reply@sec.example", "Re: clk: a later question",
                  "Said where only the security team reads.", refs=("later@public.example",),
                  sender="Sam Secret <sam@sec.example>",
                  date=datetime(2025, 11, 2, 8, 0, tzinfo=UTC))
    elsewhere = mail(tmp_path, "pm-reply@pm.example", "Re: clk: a later question",
                     "Power management agrees.", refs=("later@public.example",),
                     sender="Paula Pm <paula@pm.example>",
                     date=datetime(2025, 11, 3, 8, 0, tzinfo=UTC))
    run_ingest(archive, [str(merge), str(later)], "linux-clk")
    run_ingest(archive, [str(elsewhere)], "linux-pm")
    run_ingest(archive, [str(closed)], "security")
    admin = Viewer(user="admin", is_admin=True)
    team = Viewer(user="team", lists=frozenset({"security"}))
    with session_of(archive) as s:
        lists = {row.name: row.id for row in s.execute(select(MailingList.id, MailingList.name))}
        for viewer in (ANONYMOUS, admin, team):
            for name in ("linux-clk", "security", listview.ALL):
                index = listview.list_index(s, viewer, name)
                if index is None:
                    assert name == "security" and viewer is ANONYMOUS
                    continue
                ids = list(lists.values()) if name == listview.ALL else [lists[name]]
                ids = [i for i in ids if viewer is not ANONYMOUS or i != lists["security"]]
                order = [c.thread_id for c in listview.newest_threads(s, viewer, name, ids)]
                found = listview._summaries_by_thread(s, viewer, order, ids)
                # Newest first by what the reader may see (a hidden reply dates nothing).
                counted = [found[t] for t in sorted(found, reverse=True, key=lambda t: (
                    found[t].last_date is not None, found[t].last_date or datetime.min, t))]
                assert list(index.threads) == counted, (viewer.user, name, [
                    (t.root_msgid, t.messages) for t in index.threads], [
                    (t.root_msgid, t.messages) for t in counted])
        shown = {t.root_msgid: t for t in listview.list_index(s, ANONYMOUS, listview.ALL).threads}
        everyone = {t.root_msgid: t for t in listview.list_index(s, admin, listview.ALL).threads}
    assert shown["later@public.example"].messages == 2
    assert everyone["later@public.example"].messages == 3
    assert "Sam Secret" not in shown["later@public.example"].participants
    assert "Paula Pm" in shown["later@public.example"].participants
    assert shown["public-root@public.example"].messages < \
        everyone["public-root@public.example"].messages


def test_restrict_disclose_unpublish_rights_and_audit(archive):
    sessions = make_sessionmaker(make_engine(archive))
    with sessions.begin() as s:
        admin, member, stranger = user(s, "admin", True), user(s, "member"), user(s, "stranger")
        embargo.add_to_group(s, "clk-security", member)
        with pytest.raises(embargo.EmbargoError, match="may not restrict"):
            embargo.restrict(s, "public-root@public.example", stranger)
        with pytest.raises(embargo.EmbargoError, match="no user, group or list"):
            embargo.restrict(s, COVER, admin, allow=["nobody-by-that-name"])
        change = embargo.restrict(s, REPLY, admin, allow=["group:clk-security"])
        assert change.action == "allowed" and len(change.msgids) == 5
        assert messageview.find_message(s, viewer_for(s, member), COVER) is not None
        with pytest.raises(embargo.EmbargoError, match="may not disclose"):
            embargo.disclose(s, COVER, stranger)
        embargo.disclose(s, COVER, member)
        assert messageview.find_message(s, ANONYMOUS, COVER) is not None
        with pytest.raises(embargo.EmbargoError, match="only an admin"):
            embargo.unpublish(s, COVER, member)
        with pytest.raises(embargo.EmbargoError, match="only an admin can"):
            embargo.restrict(s, COVER, admin)
        embargo.unpublish(s, COVER, admin)
        assert messageview.find_message(s, ANONYMOUS, COVER) is None
        log = audit.audit_log(s, 0)
    # One entry per message whose visibility changed: the report, the four replies the ingest
    # hid with it, and each of the five at disclosure and again when un-published.
    steps = [(e.actor, e.action) for e in reversed(log)]
    runs = [(who, what, sum(1 for _ in group)) for (who, what), group in groupby(steps)]
    assert runs == [("rule:security-tag", "restricted", 1), ("rule:security-tag", "allowed", 1),
                    (embargorules.RULE_REPLY, "restricted", 4), ("admin", "allowed", 1),
                    ("member", "disclosed", 5), ("admin", "unpublished", 5)]
    assert {e.target_msgid for e in log if e.action == "disclosed"} == set(change.msgids)
    assert "had been disclosed" in log[0].detail and "by member" in log[0].detail


def test_expiry_discloses_past_dates_only(archive):
    sessions = make_sessionmaker(make_engine(archive))
    now = datetime(2030, 1, 1)
    with sessions.begin() as s:
        embargo.restrict(s, COVER, None, until=now - timedelta(days=1))
        assert embargo.expire(s, now - timedelta(days=2)) == []
        assert messageview.find_message(s, ANONYMOUS, COVER) is None
    changes = apply_embargo_change(archive, lambda s: embargo.expire(s, now), sessions)
    assert [c.anchor_msgid for c in changes] == [COVER]
    with sessions() as s:
        assert messageview.find_message(s, ANONYMOUS, REPLY) is not None
        note = embargoview.disclosure(s, ANONYMOUS, COVER)
        assert note is not None and "when its embargo ended" in note.note()
        assert audit.audit_log(s, 1)[0].actor == embargoview.EXPIRY
    assert total(archive, ANONYMOUS, "zanzibar") == 5


def test_embargo_survives_reindex_and_late_replies(archive, tmp_path):
    from ingest.reindex import reindex

    late = mail(tmp_path, "late@public.example", "Re: [SECURITY][PATCH 0/2] clk",
                "a late albatross reply", refs=(COVER,))
    run_ingest(archive, [str(late)], "linux-clk")
    reindex(archive)
    with session_of(archive) as s:
        assert len(s.scalars(select(Embargo)).all()) == 1
        assert len(s.scalars(select(EmbargoAllow)).all()) == 1
        for msgid in (COVER, "late@public.example"):
            assert messageview.find_message(s, ANONYMOUS, msgid) is None
    assert total(archive, ANONYMOUS, "albatross") == 0


def test_header_and_restricted_list_rules_on_ingest(tmp_path):
    settings = make_settings(tmp_path)
    header = mail(tmp_path, "hdr@mta.example", "clk: heron issue", "heron",
                  headers={"X-Listarchive-Embargo": "yes"}, sender="Sec <sec@mta.example>")
    plain = mail(tmp_path, "plain@mta.example", "clk: egret issue", "egret")
    run_ingest(settings, [str(header), str(plain)], "linux-clk")
    private = mail(tmp_path, "private@mta.example", "clk: ibis issue", "ibis")
    run_ingest(settings, [str(private)], "security")
    with session_of(settings) as s:
        reasons = dict(s.execute(select(Embargo.anchor_msgid, Embargo.reason)).all())
    assert reasons == {"hdr@mta.example": "rule:header",
                       "private@mta.example": "rule:restricted-list"}
    assert total(settings, ANONYMOUS, "heron") == 0 and total(settings, ANONYMOUS, "egret") == 1


def test_commands_restrict_disclose_audit(tmp_path, capsys):
    config = tmp_path / "listarchive.toml"
    config.write_text(f"""
[storage]
data_dir = "{tmp_path / 'instance'}"
[search]
enabled = true
""")
    public = mail(tmp_path, "cli-root@public.example", "clk: kestrel", "kestrel rate")
    assert main(["-c", str(config), "ingest", "--list", "linux-clk", str(public)]) == 0
    assert main(["-c", str(config), "user", "add", "boss", "--email", "b@example.org",
                 "--admin", "--no-password"]) == 0
    assert main(["-c", str(config), "restrict", "<cli-root@public.example>",
                 "--until", "2031-02-03", "--allow", "boss"]) == 0
    assert main(["-c", str(config), "restrict", "cli-root@public.example", "--allow",
                 "typo-name"]) == 1
    assert main(["-c", str(config), "restrict", "unknown@x", "--until", "soon"]) == 1
    settings = make_settings(tmp_path)
    assert total(settings, ANONYMOUS, "kestrel") == 0
    assert main(["-c", str(config), "disclose", "--expired"]) == 0
    assert "no embargo is past its date" in capsys.readouterr().out
    assert main(["-c", str(config), "disclose", "cli-root@public.example"]) == 0
    assert total(settings, ANONYMOUS, "kestrel") == 1
    assert main(["-c", str(config), "restrict", "cli-root@public.example", "--unpublish"]) == 1
    assert main(["-c", str(config), "restrict", "cli-root@public.example", "--unpublish",
                 "--as", "boss"]) == 0
    assert total(settings, ANONYMOUS, "kestrel") == 0
    capsys.readouterr()
    assert main(["-c", str(config), "audit", "--limit", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[1:3] for line in lines] == [
        ["boss", "unpublished"], ["console", "disclosed"], ["console", "allowed"]]
