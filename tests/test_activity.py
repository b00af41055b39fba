"""Activity over time (``/LIST/_/activity/``, ``/s/SUBSYSTEM/activity/``): the figures on a
small list whose every date is known, what a viewer may not read left out of them, the charts
(SVG without script), the JSON twin, HTTP validators and the cache; and the demo archive's.

Runs on SQLite and PostgreSQL alike (the week of a date is the one piece of SQL written per
database).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from mailfixtures import NO_LIMITS

from ingest.worker import run_ingest
from listarchive.access.visibility import ANONYMOUS, Viewer
from listarchive.archive.db import open_archive
from listarchive.review import activity as figures
from listarchive.settings import Settings, from_mapping
from listarchive.web import activitypages

T0 = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)  # a Monday


def mail(msgid: str, sender: str, subject: str, when: datetime, body: str,
         parent: str = "", to: str = "clk@example.org") -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = f"<{msgid}>"
    if parent:
        msg["In-Reply-To"] = f"<{parent}>"
        msg["References"] = f"<{parent}>"
    msg.set_content(body)
    return bytes(msg)


DIFF = """Explain the change.

Signed-off-by: Dev Eloper <dev@example.org>
---
 clk.c | 1 +
 1 file changed, 1 insertion(+)

diff --git a/clk.c b/clk.c
index 1111111..2222222 100644
--- a/clk.c
+++ b/clk.c
@@ -1,1 +1,2 @@
 int rate;
+int {name};
"""
DEV = "Dev Eloper <dev@example.org>"
REV = "Rev Iewer <rev@example.org>"


def write_mbox(path: Path, mails: list[bytes]) -> Path:
    path.write_bytes(b"".join(b"From mboxrd@z Thu Jan  1 00:00:00 1970\n" + m.replace(
        b"\r\n", b"\n") + b"\n" for m in mails))
    return path


@pytest.fixture
def small(tmp_path: Path) -> Settings:
    """List clk: a patch reviewed 6 hours after posting (week 1); a second one answered only
    by its own sender (week 2). List secret (restricted): a patch and a Reviewed-by from
    sneaky@, which no anonymous figure may show."""
    settings = from_mapping({
        "limits": NO_LIMITS,
        "storage": {"data_dir": str(tmp_path / "instance")},
        "search": {"enabled": False},
        "lists": [{"name": "clk"}, {"name": "secret", "restricted": True}],
    }, base=tmp_path)
    clk = [mail("p1@example.org", DEV, "[PATCH] clk: add a", T0, DIFF.format(name="a")),
           mail("r1@example.org", REV, "Re: [PATCH] clk: add a", T0 + timedelta(hours=6),
                "> Explain the change.\n\nReviewed-by: Rev Iewer <rev@example.org>\n",
                parent="p1@example.org"),
           mail("p2@example.org", DEV, "[PATCH] clk: add b", T0 + timedelta(days=8),
                DIFF.format(name="b")),
           mail("r2@example.org", DEV, "Re: [PATCH] clk: add b", T0 + timedelta(days=8, hours=1),
                "Ping.\n", parent="p2@example.org")]
    secret = [mail("s1@example.org", DEV, "[PATCH] clk: fix a hole", T0 + timedelta(days=1),
                   DIFF.format(name="hole"), to="secret@example.org"),
              mail("s2@example.org", "Sneaky <sneaky@example.org>", "Re: [PATCH] clk: fix a hole",
                   T0 + timedelta(days=1, hours=1),
                   "Reviewed-by: Sneaky <sneaky@example.org>\n", parent="s1@example.org",
                   to="secret@example.org")]
    run_ingest(settings, [str(write_mbox(tmp_path / "clk.mbox", clk))], "clk")
    run_ingest(settings, [str(write_mbox(tmp_path / "secret.mbox", secret))], "secret")
    return settings


def compute(settings: Settings, name: str, viewer: Viewer = ANONYMOUS) -> figures.Activity | None:
    archive = open_archive(settings)
    try:
        with archive.sessions() as session:
            scope = figures.list_scope(session, viewer, name)
            return None if scope is None else figures.activity(session, viewer, scope)
    finally:
        archive.close()


def granted_viewer(settings: Settings, list_name: str) -> Viewer:
    """A user granted the restricted list (and so the embargo its mail is under)."""
    from listarchive.access import accounts
    from listarchive.access.visibility import viewer_for

    archive = open_archive(settings)
    try:
        with archive.sessions.begin() as session:
            user = accounts.create_user(session, "sec", "sec@example.org", None)
            accounts.grant(session, user, "list", list_name)
            session.flush()
            return viewer_for(session, user)
    finally:
        archive.close()


def test_weeks_delays_and_reviewers_of_a_small_list(small):
    got = compute(small, "clk")
    assert got is not None
    weeks = [(w.start.isoformat(), w.messages, w.series) for w in got.weeks]
    assert weeks == [("2024-03-04", 2, 1), ("2024-03-11", 2, 1)]
    assert [(m.month, m.series, m.reviewed, m.median_review_hours) for m in got.months] == [
        ("2024-03", 2, 1, 6.0)]  # the sender's own reply is no review
    assert [(r.email, r.trailers) for r in got.reviewers] == [("rev@example.org", 1)]


def test_what_a_viewer_may_not_read_is_not_counted(small):
    assert compute(small, "secret") is None  # a restricted list is no scope for anonymous
    every = compute(small, "all")
    assert every is not None
    assert sum(w.messages for w in every.weeks) == 4
    assert sum(w.series for w in every.weeks) == 2
    assert "sneaky@example.org" not in {r.email for r in every.reviewers}
    granted = granted_viewer(small, "secret")
    seen = compute(small, "all", granted)
    assert seen is not None and sum(w.messages for w in seen.weeks) == 6
    assert "sneaky@example.org" in {r.email for r in seen.reviewers}
    mine = compute(small, "secret", granted)
    assert mine is not None and sum(w.series for w in mine.weeks) == 1


def test_an_embargoed_thread_is_not_counted(small):
    from listarchive.access import embargo

    archive = open_archive(small)
    try:
        with archive.sessions.begin() as session:
            embargo.restrict(session, "p2@example.org", None)
    finally:
        archive.close()
    got = compute(small, "clk")
    assert got is not None
    assert sum(w.messages for w in got.weeks) == 2 and sum(w.series for w in got.weeks) == 1


def test_pages_charts_json_and_validators(small):
    from listarchive.web import create_app

    client = create_app(small).test_client()
    page = client.get("/clk/_/activity/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for chart in ("messages", "series", "review", "reviewers"):
        assert f'src="/clk/_/activity/{chart}.svg"' in html
    assert "Rev Iewer" in html and "6.0 h" in html
    assert 'aria-label="breadcrumbs"' in html
    data = client.get("/clk/_/activity/activity.json").get_json()
    assert [w["messages"] for w in data["weeks"]] == [2, 2]
    assert data["months"][0]["median_review_hours"] == 6.0
    svg = client.get("/clk/_/activity/reviewers.svg")
    assert svg.content_type.startswith("image/svg+xml")
    assert b"<script" not in svg.data and b"Rev Iewer" in svg.data
    assert "script-src" not in svg.headers["Content-Security-Policy"]
    assert "default-src 'none'" in svg.headers["Content-Security-Policy"]
    again = client.get("/clk/_/activity/", headers={"If-None-Match": page.headers["ETag"]})
    assert again.status_code == 304
    assert page.headers["Cache-Control"].startswith("public")
    assert client.get("/secret/_/activity/").status_code == 404
    assert client.get("/secret/_/activity/messages.svg").status_code == 404
    assert client.get("/nope/_/activity/activity.json").status_code == 404
    assert client.get("/clk/_/activity/pie.svg").status_code == 404
    assert client.get("/clk/_/activity/?weeks=0").status_code == 400
    assert client.get("/clk/_/activity/?weeks=x").status_code == 400
    assert client.get("/s/no-such-subsystem/activity/").status_code == 404
    assert 'href="/clk/_/activity/"' in client.get("/clk/").get_data(as_text=True)


def test_new_mail_renews_the_cached_figures(small, monkeypatch, tmp_path):
    from listarchive.web import create_app

    calls: list[Any] = []
    real = figures.activity
    monkeypatch.setattr(figures, "activity", lambda *a, **k: calls.append(a) or real(*a, **k))
    activitypages._cache.clear()
    client = create_app(small).test_client()
    for _ in range(3):
        assert client.get("/clk/_/activity/activity.json").status_code == 200
        assert client.get("/clk/_/activity/messages.svg").status_code == 200
    assert len(calls) == 1  # one computation for a page, its charts and the visitors after
    late = mail("p3@example.org", DEV, "[PATCH] clk: add c", T0 + timedelta(days=9),
                DIFF.format(name="c"))
    run_ingest(small, [str(write_mbox(tmp_path / "late.mbox", [late]))], "clk")
    data = client.get("/clk/_/activity/activity.json").get_json()
    assert len(calls) == 2 and [w["series"] for w in data["weeks"]] == [1, 2]
    from listarchive.access import embargo

    archive = open_archive(small)
    try:
        with archive.sessions.begin() as session:
            embargo.restrict(session, "p3@example.org", None)
    finally:
        archive.close()
    data = client.get("/clk/_/activity/activity.json").get_json()
    assert len(calls) == 3 and [w["series"] for w in data["weeks"]] == [1, 1]


def test_the_demo_archive_list_and_subsystem(demo_site):
    client = demo_site.app.test_client()
    data = client.get("/demo-devel/_/activity/activity.json").get_json()
    assert sum(w["messages"] for w in data["weeks"]) == 62  # every message of the demo
    assert sum(w["series"] for w in data["weeks"]) == 7
    assert sum(w["accepted"] for w in data["weeks"]) == 5
    assert all(m["median_review_hours"] is not None for m in data["months"])
    assert len(data["reviewers"]) >= 3
    subsystems = client.get("/s/").get_data(as_text=True)
    slug = subsystems.split('<a href="/s/', 2)[2].split("/", 1)[0]
    page = client.get(f"/s/{slug}/activity/")
    assert page.status_code == 200 and "messages.svg" in page.get_data(as_text=True)
    assert f'href="/s/{slug}/activity/"' in client.get(f"/s/{slug}/").get_data(as_text=True)
    sub = client.get(f"/s/{slug}/activity/activity.json").get_json()
    assert sub["scope"] == {"kind": "subsystem", "name": slug}
    assert 0 < sum(w["messages"] for w in sub["weeks"]) < 62


def test_names_from_mail_are_text_in_the_svg():
    from datetime import date

    from listarchive.web import charts

    hostile = '<script>alert(1)</script>"&<img src=x onerror=alert(2)>'
    data = figures.Activity(figures.Scope("list", "clk", hostile),
                            (figures.Week(date(2024, 3, 4), 1, 1, 0),),
                            (figures.Month("2024-03", 1, 1, 2.0, 0, None),),
                            (figures.Reviewer(hostile, "evil@example.org", 3),))
    for chart in charts.CHARTS:
        svg = charts.render(data, chart)
        assert b"<script" not in svg and b"<img" not in svg, chart
        assert b"onerror" not in svg or b"&lt;img" in svg, chart
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in charts.render(data, "reviewers")
