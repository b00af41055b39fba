"""List indexes paged by cursor: threads of the same moment and undated threads are neither
skipped nor repeated at page edges, on one list, on every list (all visible) and on several
lists of a viewer who may not see them all."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.rawmail import RawMail
from ingest.worker import Summary, Worker
from listarchive.access.visibility import ANONYMOUS, Viewer
from listarchive.archive import listview, messageview
from listarchive.archive.listview import Cursor
from listarchive.settings import from_mapping

SAME_MOMENT = "Mon, 06 Jan 2025 10:00:00 +0000"


def mail(msgid: str, date: str | None, to_list: str) -> bytes:
    head = [f"From: Someone <{msgid}@example.org>", f"Subject: thread {msgid}",
            f"Message-ID: <{msgid}@example.org>", f"List-Id: <{to_list}.example.org>"]
    if date:
        head.append(f"Date: {date}")
    return ("\n".join(head) + "\n\nbody\n").encode()


def build(tmp: Path) -> tuple[Worker, dict[str, set[str]]]:
    cfg = from_mapping({"storage": {"data_dir": str(tmp)}, "search": {"enabled": False},
                        "lists": [{"name": "alpha"}, {"name": "beta"}, {"name": "empty"},
                                  {"name": "closed", "restricted": True}]})
    expected: dict[str, set[str]] = {"alpha": set(), "beta": set(), "closed": set()}
    plan = [(f"tie{i}", SAME_MOMENT, "alpha") for i in range(11)]
    plan += [(f"undated{i}", None, "alpha") for i in range(5)]
    plan += [(f"b{i}", f"Tue, {7 + i:02d} Jan 2025 10:00:00 +0000", "beta") for i in range(7)]
    plan += [(f"btie{i}", SAME_MOMENT, "beta") for i in range(4)]
    plan += [("hidden", "Wed, 15 Jan 2025 10:00:00 +0000", "closed")]
    for name in expected:
        worker = Worker(cfg, name)
        items = [RawMail(mail(m, d, name), m, "") for m, d, on in plan if on == name]
        worker.store(items, Summary())
        expected[name] = {f"{m}@example.org" for m, _d, on in plan if on == name}
    return worker, expected


def walk(worker: Worker, viewer: Viewer, name: str, per_page: int) -> list[list[str]]:
    pages: list[list[str]] = []
    older: Cursor | None = None
    with worker.sessions() as session:
        while True:
            index = listview.list_index(session, viewer, name, per_page=per_page, older=older)
            assert index is not None
            pages.append([t.root_msgid for t in index.threads])
            if index.older is None:
                break
            older = Cursor.parse(index.older.token())
        back: list[list[str]] = [pages[-1]]
        newer = index.newer
        while newer is not None:
            index = listview.list_index(session, viewer, name, per_page=per_page,
                                        newer=Cursor.parse(newer.token()))
            assert index is not None
            back.append([t.root_msgid for t in index.threads])
            newer = index.newer
    assert back[::-1] == pages, "newer links do not walk back through the same pages"
    return pages


@pytest.mark.parametrize("per_page", [1, 3, 4, 50])
def test_cursor_pages_show_every_thread_once(tmp_path, per_page):
    worker, expected = build(tmp_path)
    admin = Viewer(user="root", is_admin=True, user_id=1)
    for viewer, name, want in [
        (ANONYMOUS, "alpha", expected["alpha"]),
        (ANONYMOUS, "beta", expected["beta"]),
        (ANONYMOUS, "all", expected["alpha"] | expected["beta"]),  # several lists of many
        (admin, "all", set().union(*expected.values())),  # every list
    ]:
        pages = walk(worker, viewer, name, per_page)
        shown = [m for page in pages for m in page]
        assert len(shown) == len(set(shown)), (name, per_page)
        assert set(shown) == want, (name, per_page)
        assert all(len(p) == per_page for p in pages[:-1])
        # undated threads come last, dated ones newest first
        assert all(m.startswith("undated") for m in shown[-5:]) or name == "beta"


@pytest.mark.parametrize("per_page", [1, 4, 50])
def test_a_first_page_read_with_its_list_is_the_page_read_after_it(tmp_path, monkeypatch,
                                                                     per_page):
    """A list's first page is read in one statement with the list's row: it is the page read
    after the list's row (as every other page is), for readers who may see all, some or none
    of a list, on a list with threads, one with none and one that does not exist."""
    worker, _ = build(tmp_path)
    # Granted the restricted list, though not the embargo its mail is held under.
    member = Viewer(user="member", lists=frozenset({"closed"}), user_id=2)
    admin = Viewer(user="root", is_admin=True, user_id=1)
    cases = [(viewer, name) for viewer in (ANONYMOUS, member, admin)
             for name in ("alpha", "beta", "closed", "empty", "nosuch")]
    with worker.sessions() as session:
        together = [listview.list_index(session, v, name, per_page=per_page) for v, name in cases]
        monkeypatch.setattr(listview, "_first_page", lambda *_args: None)
        after = [listview.list_index(session, v, name, per_page=per_page) for v, name in cases]
    assert together == after
    found = dict(zip(cases, together, strict=True))
    assert found[ANONYMOUS, "closed"] is None and found[admin, "nosuch"] is None
    held, closed = found[member, "closed"], found[admin, "closed"]
    assert held is not None and held.threads == () and held.mailing_list.messages == 0
    assert closed is not None and [t.root_msgid for t in closed.threads] == ["hidden@example.org"]
    empty = found[ANONYMOUS, "empty"]
    assert empty is not None and empty.threads == () and not empty.has_next
    alpha = found[ANONYMOUS, "alpha"]
    assert alpha is not None and alpha.mailing_list.threads == 16
    assert len(alpha.threads) == min(per_page, 16) and alpha.has_next == (per_page < 16)


def reply(msgid: str, parent: str, date: str | None, to_list: str) -> bytes:
    return mail(msgid, date, to_list).replace(
        b"\n\n", f"\nIn-Reply-To: <{parent}@example.org>\n\n".encode(), 1)


@pytest.mark.parametrize("limit", [1, 3, 12, 25])
def test_the_newest_messages_read_in_one_statement_are_those_read_thread_by_thread(
        tmp_path, monkeypatch, limit):
    """A list's feed reads its newest messages in one statement when nothing is hidden from
    the reader; they are the messages the rounds over its threads find (the way taken when an
    embargo hides something), with the newest replies first: threads with many replies,
    replies of the same moment, undated ones, a restricted list. (The site's tests compare
    the feed with a scan of every message of a real list.)"""
    worker, _ = build(tmp_path)
    cfg = worker.settings
    replies = [(f"r{i}", "tie3", f"Thu, 16 Jan 2025 1{i % 3}:00:00 +0000") for i in range(9)]
    replies += [(f"later{i}", "tie5", SAME_MOMENT) for i in range(3)]
    replies += [(f"nodate{i}", "undated1", None) for i in range(2)]
    Worker(cfg, "alpha").store([RawMail(reply(m, parent, d, "alpha"), m, "")
                                for m, parent, d in replies], Summary())
    admin = Viewer(user="root", is_admin=True, user_id=1)
    member = Viewer(user="member", lists=frozenset({"closed"}), user_id=2)
    cases = [(viewer, name) for viewer in (ANONYMOUS, member, admin)
             for name in ("alpha", "beta", "closed", "empty", "nosuch")]

    def newest() -> list[list[str] | None]:
        with worker.sessions() as session:
            found = [messageview.recent_messages(session, v, name, limit=limit)
                     for v, name in cases]
        return [None if f is None else [r.msgid for r in f] for f in found]

    together = newest()
    monkeypatch.setattr(messageview, "_newest_complete", lambda *_args: False)
    assert together == newest()
    found = dict(zip(cases, together, strict=True))
    assert found[ANONYMOUS, "nosuch"] is None and found[ANONYMOUS, "closed"] is None
    assert found[ANONYMOUS, "empty"] == [] and found[member, "closed"] == []
    assert found[admin, "closed"] == ["hidden@example.org"][:limit]
    dated = sorted(replies[:9], key=lambda r: (r[2], r[0]), reverse=True)
    assert found[ANONYMOUS, "alpha"][:min(limit, 9)] == [f"{m}@example.org"
                                                         for m, _p, _d in dated][:limit]


def test_a_forged_cursor_is_refused():
    for bad in ("", "2025-1", "20250106100000000000", "20250106100000000000-", "undated-x",
                "2025010610000000000x-1", "20251306100000000000-1"):
        with pytest.raises(ValueError):
            Cursor.parse(bad)
    at = Cursor.parse("20250106100000000000-42")
    assert at.thread_id == 42 and at.token() == "20250106100000000000-42"
