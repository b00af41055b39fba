"""Status tracking on the site: state changes through forms (single and bulk) and the JSON API,
each leaving its history entry; queues and their filters (on ``status_world``, see worlds.py)."""

from __future__ import annotations

import re

import pytest
from worlds import MAINTAINERS, csrf_of, history_of, login, state_of

# --- tests ---------------------------------------------------------------------------------------


def test_state_change_by_form_records_history_and_shows_it(status_world):
    w = status_world
    client = w.client()
    pid = w.gizmo_patches[0]
    # other modules share this archive: start from a known state
    assert client.patch(f"/api/v1/series/{w.gizmo_series}", json={"state": "new"}, headers={
        "Authorization": f"Token {w.tokens['root']}"}).status_code == 200
    assert login(client, "maint").status_code == 303
    page = client.get(f"/patch/{pid}/").get_data(as_text=True)
    assert f'action="/patch/{pid}/state"' in page
    resp = client.post(f"/patch/{pid}/state", data={
        "state": "changes-requested", "reason": "split the header change out",
        "csrf_token": csrf_of(page)})
    assert resp.status_code == 303 and resp.headers["Location"].endswith(f"/patch/{pid}/#state")
    assert state_of(w, "patch", pid) == "changes-requested"
    entry = history_of(w, "patch", pid)[-1]
    assert (entry.from_value, entry.to_value, entry.via) == ("new", "changes-requested", "web")
    assert entry.reason == "split the header change out"
    page = client.get(f"/patch/{pid}/").get_data(as_text=True)
    assert "split the header change out" in page and "maint" in page
    assert 'class="state">changes-requested<' in page
    # the series follows its patches: one changes-requested patch is enough
    series_page = client.get(f"/series/{w.gizmo_series}/").get_data(as_text=True)
    assert 'class="state">changes-requested<' in series_page
    # the v1 API object reads the effective state
    assert client.get(f"/api/v1/patches/{pid}").get_json()["state"] == "changes-requested"


def test_whole_series_form_sets_every_patch(status_world):
    w = status_world
    client = w.client()
    login(client, "maint")
    page = client.get(f"/series/{w.gizmo_series}/").get_data(as_text=True)
    assert f'action="/series/{w.gizmo_series}/state"' in page
    resp = client.post(f"/series/{w.gizmo_series}/state", data={
        "state": "under-review", "reason": "", "csrf_token": csrf_of(page)})
    assert resp.status_code == 303
    assert {state_of(w, "patch", p) for p in w.gizmo_patches} == {"under-review"}
    assert history_of(w, "series", w.gizmo_series)[-1].to_value == "under-review"
    page = client.get(f"/series/{w.gizmo_series}/").get_data(as_text=True)
    assert page.count("under-review</strong>") >= 4  # the series entry and its 3 patches


def test_archive_and_delegate_forms(status_world):
    w = status_world
    client = w.client()
    login(client, "maint")
    pid = w.gizmo_patches[2]
    token = csrf_of(client.get(f"/patch/{pid}/").get_data(as_text=True))
    client.post(f"/patch/{pid}/state", data={"delegate": "root", "csrf_token": token})
    page = client.get(f"/patch/{pid}/").get_data(as_text=True)
    assert "delegated to root" in page
    assert client.post(f"/patch/{pid}/state", data={"delegate": "nobody-such",
                                                    "csrf_token": token}).status_code == 400
    client.post(f"/patch/{pid}/state", data={"archived": "true", "csrf_token": token})
    assert 'class="badge">archived<' in client.get(f"/patch/{pid}/").get_data(as_text=True)
    client.post(f"/patch/{pid}/state", data={"archived": "false", "csrf_token": token})
    fields = [(h.field, h.to_value) for h in history_of(w, "patch", pid)]
    assert ("delegate", "root") in fields and ("archived", "true") in fields
    assert fields[-1] == ("archived", "false")


def test_api_patch_and_series_with_token(status_world):
    w = status_world
    client = w.client()
    pid = w.other_patches[1]
    auth = {"Authorization": f"Token {w.tokens['root']}"}
    resp = client.patch(f"/api/v1/patches/{pid}", json={"state": "Accepted"}, headers=auth)
    assert resp.status_code == 200 and resp.get_json()["state"] == "accepted"
    entry = history_of(w, "patch", pid)[-1]
    assert (entry.to_value, entry.via) == ("accepted", "api")
    resp = client.patch(f"/api/v1/series/{w.other_series}", json={"state": "deferred"},
                        headers=auth)
    assert resp.status_code == 200 and resp.get_json()["state"] == "deferred"
    assert {p["state"] for p in resp.get_json()["patches"]} == {"deferred"}
    assert client.patch(f"/api/v1/patches/{pid}", json={"state": "merged"},
                        headers=auth).status_code == 400
    assert client.patch(f"/api/v1/patches/{pid}", data="state=new",
                        headers=auth).status_code == 400
    assert client.patch("/api/v1/patches/999999999", json={"state": "new"},
                        headers=auth).status_code == 404


def test_bulk_change_from_the_queue(status_world):
    w = status_world
    client = w.client()
    login(client, "root")
    # put both series back in the queue first
    for sid in (w.gizmo_series, w.other_series):
        page = client.get(f"/series/{sid}/").get_data(as_text=True)
        client.post(f"/series/{sid}/state", data={"state": "new", "csrf_token": csrf_of(page)})
    queue = client.get("/all/queue/").get_data(as_text=True)
    assert f'value="{w.gizmo_series}"' in queue and f'value="{w.other_series}"' in queue
    resp = client.post("/bulk", data={"kind": "series", "id": [w.gizmo_series, w.other_series],
                                      "state": "rejected", "reason": "superseded off-list",
                                      "csrf_token": csrf_of(queue), "next": "/all/queue/"})
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/all/queue/")
    assert state_of(w, "series", w.gizmo_series) == "rejected"
    assert state_of(w, "series", w.other_series) == "rejected"
    assert history_of(w, "series", w.other_series)[-1].reason == "superseded off-list"
    queue = client.get("/all/queue/").get_data(as_text=True)
    assert f'/series/{w.gizmo_series}/' not in queue  # rejected: no longer waiting
    filtered = client.get("/all/queue/?state=rejected").get_data(as_text=True)
    assert f'/series/{w.gizmo_series}/' in filtered


def test_bulk_is_all_or_nothing_for_a_maintainer_of_one_list(status_world):
    w = status_world
    client = w.client()
    login(client, "maint")
    token = csrf_of(client.get("/queue/").get_data(as_text=True))
    before = (state_of(w, "series", w.gizmo_series), state_of(w, "series", w.other_series))
    resp = client.post("/bulk", data={"kind": "series", "id": [w.gizmo_series, w.other_series],
                                      "state": "accepted", "csrf_token": token})
    assert resp.status_code == 403
    assert (state_of(w, "series", w.gizmo_series),
            state_of(w, "series", w.other_series)) == before


def test_queues_filters_and_my_queue(status_world):
    w = status_world
    client = w.client()
    login(client, "root")
    token = csrf_of(client.get(f"/series/{w.gizmo_series}/").get_data(as_text=True))
    for sid in (w.gizmo_series, w.other_series):
        client.post(f"/series/{sid}/state", data={"state": "new", "csrf_token": token})
    gizmo = client.get("/gizmo/queue/").get_data(as_text=True)
    assert f"/series/{w.gizmo_series}/" in gizmo and f"/series/{w.other_series}/" not in gizmo
    # the header's search box starts empty (the queue's paging arguments are not a query)
    assert 'name="q" value=""' in client.get(
        "/gizmo/queue/?submitter=gizmo-dev@example.org").get_data(as_text=True)
    assert "gizmo step 1" in gizmo or "(no title)" not in gizmo
    # bookmarkable filters: submitter, delegate, date range, state
    assert f"/series/{w.gizmo_series}/" in client.get(
        "/gizmo/queue/?submitter=gizmo-dev@example.org").get_data(as_text=True)
    assert f"/series/{w.gizmo_series}/" not in client.get(
        "/gizmo/queue/?submitter=someone@example.org").get_data(as_text=True)
    assert f"/series/{w.gizmo_series}/" not in client.get(
        "/gizmo/queue/?since=2099-01-01").get_data(as_text=True)
    assert f"/series/{w.gizmo_series}/" in client.get(
        "/gizmo/queue/?since=2000-01-01&until=2099-01-01").get_data(as_text=True)
    assert client.get("/gizmo/queue/?since=yesterday").status_code == 400
    assert client.get("/gizmo/queue/?state=bogus").status_code == 400
    assert client.get("/nosuchlist/queue/").status_code == 404
    client.post(f"/series/{w.gizmo_series}/state", data={"delegate": "maint",
                                                         "csrf_token": token})
    assert f"/series/{w.gizmo_series}/" in client.get(
        "/gizmo/queue/?delegate=maint").get_data(as_text=True)
    assert f"/series/{w.gizmo_series}/" in client.get(
        "/gizmo/series/?delegate=maint&state=new").get_data(as_text=True)
    assert f"/series/{w.gizmo_series}/" not in client.get(
        "/gizmo/series/?state=accepted").get_data(as_text=True)
    # my queue: maint looks after gizmo only
    mine = w.client()
    login(mine, "maint")
    page = mine.get("/queue/").get_data(as_text=True)
    assert f"/series/{w.gizmo_series}/" in page and f"/series/{w.other_series}/" not in page
    assert w.client().get("/queue/").status_code == 303  # anonymous: log in first


def test_subsystem_queue_on_real_mail(status_world):
    w = status_world
    if not (w.has_corpus and MAINTAINERS.is_file()):
        pytest.skip("corpora not present")
    client = w.client()
    page = client.get("/s/common-clk-framework/queue/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    total = int(re.search(r"(\d+) series waiting", text).group(1))  # type: ignore[union-attr]
    assert total > 0 and text.count('href="/series/') == min(total, 100)
    dates = re.findall(r'<td class="date" title="([^"]+)"', text)
    assert dates == sorted(dates)  # oldest first
    assert client.get("/s/no-such-subsystem/queue/").status_code == 404


def test_a_state_change_renews_the_message_page_and_signed_in_pages_stay_private(status_world):
    """A cached message page names the review state it showed: once the state changes, the
    old version is no longer confirmed (no 304). A signed-in reader's pages are private."""
    from listarchive.archive.models import Message

    w = status_world
    pid = w.gizmo_patches[2]
    session = w.session()
    message = session.get(Message, pid)
    msgid, home = message.msgid, message.memberships[0].mailing_list.name
    session.close()
    path = f"/all/{msgid}/"
    anon = w.client()
    # Under /all/ and under its list (where the state is read with the message itself).
    first = {p: anon.get(p) for p in (path, f"/{home}/{msgid}/")}
    for p, resp in first.items():
        assert resp.status_code == 200 and resp.cache_control.public
        assert anon.get(p, headers={"If-None-Match": resp.headers["ETag"]}).status_code == 304
    target = "rfc" if state_of(w, "patch", pid) != "rfc" else "new"
    assert anon.patch(f"/api/v1/patches/{pid}", json={"state": target}, headers={
        "Authorization": f"Token {w.tokens['root']}"}).status_code == 200
    for p, resp in first.items():
        again = anon.get(p, headers={"If-None-Match": resp.headers["ETag"]})
        assert again.status_code == 200 and again.headers["ETag"] != resp.headers["ETag"], p
    again = anon.get(path)

    maint = w.client()
    login(maint, "maint")
    for suffix in ("/", "/T/", "/raw", "/t.mbox.gz"):
        mine = maint.get(f"/all/{msgid}{suffix}")
        assert mine.status_code == 200, suffix
        assert mine.cache_control.private and mine.cache_control.no_cache, suffix
        assert not mine.cache_control.public and "Cookie" in mine.vary, suffix
    # the same page signed in is another version than anonymous
    assert maint.get(path, headers={"If-None-Match": again.headers["ETag"]}).status_code == 200
