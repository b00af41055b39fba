"""Patch-review pages and API on a real archive (``review_world``, see worlds.py).

The named real series is "[PATCH v3 0/2] Add video clock controller DT support for sc8180x"
(cover ``20250702-sc8180x-videocc-dt-v3-0-916d443d8a38@quicinc.com``): it
has a v2 in the slice too, so revision links are checked on real mail.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from mailfixtures import git
from sqlalchemy import select
from worlds import HIDDEN, MAINTAINERS, PATCH_KEYS, REAL_SERIES_TITLE, ReviewWorld

from listarchive.archive.models import Message, Series
from listarchive.mail.msgids import quote_msgid


@pytest.fixture
def world(review_world: ReviewWorld) -> ReviewWorld:
    return review_world


@pytest.fixture
def client(review_world: ReviewWorld) -> Any:
    return review_world.app.test_client()


def real_series(world: ReviewWorld) -> tuple[int, int]:
    """(v3 id, v2 id) of the named real series."""
    if not world.has_corpus:
        pytest.skip("the shared corpora are not beside the project")
    with world.session() as s:
        rows = s.execute(select(Series.id, Series.revision)
                         .where(Series.title == REAL_SERIES_TITLE)).all()
    by_rev = {rev: sid for sid, rev in rows}
    assert 2 in by_rev and 3 in by_rev, rows
    return by_rev[3], by_rev[2]


# --- pages -------------------------------------------------------------------------------------


def test_series_list_shows_real_series_with_counts_and_filters(world, client):
    v3, _ = real_series(world)
    page = client.get("/linux-clk/series/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'href="/series/' in text and "A/R/T" in text
    found = False
    for n in range(1, 20):
        text = client.get(f"/linux-clk/series/?page={n}").get_data(as_text=True)
        if f'href="/series/{v3}/"' in text:
            found = True
            break
        if 'rel="next"' not in text:
            break
    assert found
    by_submitter = client.get("/linux-clk/series/?submitter=dev@example.org")
    assert by_submitter.status_code == 200 and 'href="/series/' not in by_submitter.get_data(
        as_text=True)  # the generated series lives on list gizmo
    gizmo = client.get("/gizmo/series/?submitter=DEV@example.org&state=new").get_data(
        as_text=True)
    assert f'href="/series/{world.series_id(world.gen_cover)}/"' in gizmo
    assert "1/1/0" in gizmo  # A/R/T: Alan's ack, Rita's review, the hidden tester not counted
    assert 'href="/series/' not in client.get("/gizmo/series/?state=accepted").get_data(
        as_text=True)
    assert client.get("/gizmo/series/?state=bogus").status_code == 400


def test_series_page_cover_patches_trailers_revisions(world, client):
    sid = world.series_id(world.gen_cover)
    r = client.get(f"/series/{sid}/")
    assert r.status_code == 200
    text = r.get_data(as_text=True)
    assert "clk: gizmo step 2" in text and "Rita Reviewer" in text and "Alan Acker" in text
    assert HIDDEN not in text
    assert f'href="/series/{sid}/mbox"' in text and "b4 am http" in text
    for pk in map(world.patch_pk, world.gen_patches):
        assert f'href="/patch/{pk}/"' in text
    v3, v2 = real_series(world)
    real = client.get(f"/series/{v3}/").get_data(as_text=True)
    assert f'href="/series/{v2}/" rel="prev">v2</a>' in real
    assert "Cover letter" in real and "Suggested reviewers" in real
    assert f'href="/series/{v3}/" rel="next">v3</a>' in client.get(
        f"/series/{v2}/").get_data(as_text=True)


def test_patch_page_diff_anchors_state_series_link(world, client):
    pk = world.patch_pk(world.gen_patches[1])
    r = client.get(f"/patch/{pk}/")
    assert r.status_code == 200
    text = r.get_data(as_text=True)
    anchors = re.findall(r'<section class="file" id="([^"]+)">', text)
    assert len(anchors) == 2 and all(f'href="#{a}"' in text for a in anchors)
    assert '<span class="add">+/* gizmo step 2 */</span>' in text
    assert "patch 2/3 of" in text and 'class="state">new<' in text
    assert "Reviewed-by:" in text and "Rita Reviewer" in text
    raw = client.get(f"/patch/{pk}/raw")
    assert raw.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert raw.headers["X-Content-Type-Options"] == "nosniff"
    assert raw.get_data(as_text=True).startswith("diff --git a/clk.c b/clk.c")
    mbox = client.get(f"/patch/{pk}/mbox")
    assert mbox.headers["Content-Type"] == "application/mbox"
    body = mbox.get_data(as_text=True)
    assert "Reviewed-by: Rita Reviewer <rita@example.org>" in body
    assert "Acked-by: Alan Acker" in body and HIDDEN not in body
    assert client.get(f"/patch/{world.series_id(world.gen_cover)}/mbox").status_code == 404


def test_message_page_and_index_link_series(world, client):
    sid = world.series_id(world.gen_cover)
    msg = client.get(f"/gizmo/{quote_msgid(world.gen_patches[0])}/").get_data(as_text=True)
    assert "Patch 1/3</a> of series" in msg and f'href="/series/{sid}/"' in msg
    index = client.get("/gizmo/").get_data(as_text=True)
    assert f'class="badge" href="/series/{sid}/">series v1, 3 patches</a>' in index


def test_subsystem_page(world, client):
    if not MAINTAINERS.is_file() or not world.has_corpus:
        pytest.skip("MAINTAINERS or the corpus is missing")
    r = client.get("/s/qualcomm-clock-drivers/")
    assert r.status_code == 200
    text = r.get_data(as_text=True)
    assert "QUALCOMM CLOCK DRIVERS" in text and "Bjorn Andersson" in text
    assert "linux-arm-msm@vger.kernel.org" in text and 'href="/series/' in text
    assert "secretfeature" not in text
    assert client.get("/s/no-such-subsystem/").status_code == 404
    # The MAINTAINERS name works wherever the URL name does; anything else is unknown.
    by_name = client.get("/s/QUALCOMM%20CLOCK%20DRIVERS/")
    assert by_name.status_code == 200 and "Bjorn Andersson" in by_name.get_data(as_text=True)
    assert client.get("/s/NOT%20A%20SUBSYSTEM/").status_code == 404
    assert client.get("/s/%01/").status_code == 400
    assert client.get("/linux-clk/series/?subsystem=QUALCOMM%20CLOCK%20DRIVERS").status_code == 200


def test_subsystem_index_counts_what_the_reader_may_see(world, client):
    """/s/ lists every MAINTAINERS section, those with series first with their open and total
    series; a series on a restricted list counts for those who may read it only."""
    if not MAINTAINERS.is_file() or not world.has_corpus:
        pytest.skip("MAINTAINERS or the corpus is missing")
    from listarchive.access.visibility import ANONYMOUS, Viewer
    from listarchive.review.subsystemview import subsystem_index

    page = client.get("/s/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    row = re.search(r'<tr><td><a href="/s/qualcomm-clock-drivers/">QUALCOMM CLOCK DRIVERS</a>'
                    r'</td>\s*<td>[^<]*</td>\s*<td class="num"><a [^>]*>(\d+)</a></td>\s*'
                    r'<td class="num">(\d+)</td>', text)
    assert row is not None
    still_open, total = map(int, row.groups())
    assert 0 < still_open <= total
    # the same number of series the subsystem's series list pages through
    listed = client.get("/all/series/?subsystem=qualcomm-clock-drivers").get_data(as_text=True)
    assert listed.count('<tr><td><a href="/series/') == min(total, 50)
    assert "Without series here" in text and text.count("<tr><td><a href=\"/s/") > 3
    session = world.session()
    try:
        public = {e.subsystem.slug: e.series for e in subsystem_index(session, ANONYMOUS)}
        admin = {e.subsystem.slug: e.series for e in subsystem_index(
            session, Viewer(user="root", is_admin=True, user_id=1))}
    finally:
        session.close()
    assert public["qualcomm-clock-drivers"] == total
    assert admin["qualcomm-clock-drivers"] == total + 1  # the secretfeature series


# --- JSON --------------------------------------------------------------------------------------


def test_patch_json_exact_keys_and_trailers(world, client):
    pk = world.patch_pk(world.gen_patches[1])
    obj = client.get(f"/api/v1/patches/{pk}").get_json()
    assert set(obj) == PATCH_KEYS | {"checks"}  # checks: an extension
    assert obj["message_id"] == world.gen_patches[1] and obj["state"] == "new"
    assert obj["files"] == ["clk.c", "gizmo2.c"]
    assert obj["diffstat"] == {"files": 2, "insertions": 2, "deletions": 0}
    assert obj["pull_url"] is None and re.fullmatch(r"[0-9a-f]{40}", obj["patch_id"])
    names = {(t["name"], t["value"].split(" <")[0], t["from_msgid"]) for t in obj["trailers"]}
    assert ("Signed-off-by", "Dev Eloper", world.gen_patches[1]) in names
    assert ("Reviewed-by", "Rita Reviewer", "reply-2@example.org") in names
    assert ("Acked-by", "Alan Acker", "reply-1@example.org") in names
    assert all(set(t) == {"name", "value", "from_msgid"} for t in obj["trailers"])
    first = client.get(f"/api/v1/patches/{world.patch_pk(world.gen_patches[0])}").get_json()
    assert HIDDEN not in str(first)


def test_message_json_carries_patch_and_series(world, client):
    sid = world.series_id(world.gen_cover)
    obj = client.get(f"/api/v1/messages/{quote_msgid(world.gen_patches[2])}").get_json()
    assert set(obj["patch"]) == PATCH_KEYS
    assert obj["series"] == {"id": sid, "version": 1, "number": 3, "total": 3}
    plain = client.get("/api/v1/messages/reply-2@example.org").get_json()
    assert plain["patch"] is None and plain["series"] is None


def test_series_json_and_paged_list(world, client):
    sid = world.series_id(world.gen_cover)
    obj = client.get(f"/api/v1/series/{sid}").get_json()
    for key in ("id", "version", "cover", "patches", "previous", "next", "trailers", "state",
                "subsystems", "complete", "missing"):
        assert key in obj
    assert obj["cover"]["message_id"] == world.gen_cover and obj["complete"] is True
    assert [p["message_id"] for p in obj["patches"]] == list(world.gen_patches)
    assert [t["value"].split(" <")[0] for t in obj["trailers"]] == ["Alan Acker"]
    assert HIDDEN not in str(obj)
    v3, v2 = real_series(world)
    real = client.get(f"/api/v1/series/{v3}").get_json()
    assert [r["id"] for r in real["previous"]] == [v2] and real["version"] == 3
    first = client.get("/api/v1/series?list=linux-clk&per_page=5").get_json()
    assert set(first) == {"results", "next"} and len(first["results"]) == 5
    second = client.get(first["next"].split("://", 1)[1].split("/", 1)[1].join(["/", ""]))
    ids = {s["id"] for s in first["results"]}
    assert second.status_code == 200
    assert not ids & {s["id"] for s in second.get_json()["results"]}
    assert client.get("/api/v1/series?state=nope").status_code == 400


# --- restricted --------------------------------------------------------------------------------


def test_restricted_series_never_shown_to_anonymous(world, client):
    sid = world.series_id("secretfeature-0@example.org")
    pk = world.patch_pk("secretfeature-1@example.org")
    for url in (f"/series/{sid}/", f"/series/{sid}/mbox", f"/patch/{pk}/", f"/patch/{pk}/raw",
                f"/patch/{pk}/mbox", f"/api/v1/series/{sid}", f"/api/v1/patches/{pk}",
                "/secret/series/", "/api/v1/series?list=secret"):
        assert client.get(url).status_code == 404, url
    for url in ("/all/series/", "/api/v1/series?per_page=200", "/gizmo/series/",
                "/api/v1/series?submitter=hidden@example.org",
                "/all/series/?submitter=hidden@example.org"):
        text = client.get(url).get_data(as_text=True)
        assert "secretfeature" not in text and f"/series/{sid}/" not in text, url
    assert client.get("/api/v1/search?q=secretfeature").get_json()["total"] == 0


# --- hostile parameters ------------------------------------------------------------------------


HOSTILE = ["", "0", "-1", "99999999999999999999999", "1e9", "%00", "<script>", "'", "1;DROP",
           "\u202e", "a" * 5000, "../../etc/passwd"]
HOSTILE_ARGS = ["-1", "99999999999999999999999", "<script>", "\x00", "a" * 5000, "x@y'\""]


def test_hostile_parameters_never_500(world, client):
    for value in HOSTILE:
        for url in (f"/series/{value}/", f"/series/{value}/mbox", f"/patch/{value}/",
                    f"/patch/{value}/raw", f"/patch/{value}/mbox", f"/s/{value}/",
                    f"/api/v1/patches/{value}", f"/api/v1/series/{value}"):
            r = client.get(url)
            assert 400 <= r.status_code < 500 or (value == "" and r.status_code < 500), \
                (url, r.status_code)
    for value in HOSTILE_ARGS:
        for key in ("state", "subsystem", "submitter", "page", "per_page", "list"):
            for url in ("/gizmo/series/", "/api/v1/series", "/api/v1/search"):
                args = {key: value, "q": "gizmo"} if url.endswith("search") else {key: value}
                r = client.get(url, query_string=args)
                assert r.status_code < 500, (url, key, value, r.status_code)
        r = client.get("/api/v1/search", query_string={"q": value})
        assert r.status_code < 500, (value, r.status_code)


# --- git am ------------------------------------------------------------------------------------


def test_git_am_applies_series_mbox_with_collected_trailers(world, client, tmp_path):
    sid = world.series_id(world.gen_cover)
    r = client.get(f"/series/{sid}/mbox")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/mbox"
    disposition = r.headers["Content-Disposition"]
    assert re.search(r'filename="v1_20250602_[a-z0-9_]+\.mbx"', disposition), disposition
    mbx = tmp_path / "series.mbx"
    mbx.write_bytes(r.data)
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", str(world.repo), str(work))
    git(work, "checkout", "-q", world.base_commit)
    git(work, "config", "user.name", "Maint Ainer")
    git(work, "config", "user.email", "maint@example.org")
    git(work, "am", str(mbx))
    messages = git(work, "log", "--format=%B%x00", f"{world.base_commit}..HEAD").split("\0")
    bodies = [m.strip() for m in messages if m.strip()][::-1]
    assert [b.splitlines()[0] for b in bodies] == [f"clk: gizmo step {n}" for n in (1, 2, 3)]
    for n, body in enumerate(bodies):
        assert "Acked-by: Alan Acker <alan@example.org>" in body
        assert ("Reviewed-by: Rita Reviewer <rita@example.org>" in body) == (n == 1)
        assert f"Link: http://localhost/r/{world.gen_patches[n]}" in body
        assert HIDDEN not in body
    original = git(world.repo, "rev-parse", "main^{tree}").strip()
    assert git(work, "rev-parse", "HEAD^{tree}").strip() == original


def test_trailer_counts_are_one_fact_on_every_page(world, client):
    """A/R/T of a series is one derivation (the trailers' stored anchors): the series list, the
    series page (its row and the sum of its patches' lines), the review queue and the JSON API
    give the same counts for every real series, reviews of reviews and cover letters included."""
    if not world.has_corpus:
        pytest.skip("corpora not present")
    from listarchive.access.visibility import ANONYMOUS
    from listarchive.review import queues, seriesview
    from listarchive.review.trailers import Counts, counts_of

    session = world.session()
    try:
        rows: list[seriesview.SeriesRow] = []
        in_queue: dict[int, Counts] = {}
        for page in range(1, 50):
            listing = seriesview.series_list(session, ANONYMOUS, "linux-clk", page=page,
                                             per_page=200)
            queue = queues.queue(session, ANONYMOUS, queues.QueueScope(list_name="linux-clk"),
                                 page=page, per_page=200)
            assert listing is not None and queue is not None
            rows.extend(listing.rows)
            in_queue.update((row.id, row.counts) for row in queue.rows)
            if not listing.has_next:
                break
        via_cover = deep = 0
        for row in rows:
            detail = seriesview.series_detail(session, ANONYMOUS, row.id)
            assert detail is not None
            lines = [line for item in detail.patches for line in item.trailers]
            assert detail.row.counts == row.counts == counts_of(lines), row.title
            assert in_queue.get(row.id, row.counts) == row.counts, row.title
            api = client.get(f"/api/v1/series/{row.id}").get_json()["counts"]
            assert Counts(api["acked"], api["reviewed"], api["tested"]) == row.counts
            via_cover += any(line.via_cover for line in lines)
            for item in detail.patches:
                for line in item.trailers:
                    if not line.own and not line.via_cover:
                        parent = session.scalar(select(Message.parent_msgid)
                                                .where(Message.msgid == line.from_msgid))
                        deep += parent != item.msgid  # a review of a review
        assert sum(row.counts != Counts() for row in rows) >= 10
        assert via_cover, "no trailer given to a cover letter"
        assert deep, "no trailer given in a reply to a reply"
        assert set(in_queue) & {row.id for row in rows}
    finally:
        session.close()
