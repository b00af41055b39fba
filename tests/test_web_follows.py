"""Following by mail from the site: the Follow buttons of series, subsystem, list and search
pages, the reader's list of follows on their queue page, and what a stranger cannot do."""

from __future__ import annotations

import re

from sqlalchemy import select
from worlds import csrf_of, login

from listarchive.archive.models import Follow, User


def follows_of(world, name: str) -> set[tuple[str, str]]:
    session = world.session()
    try:
        uid = session.scalar(select(User.id).where(User.name == name))
        return {(row.kind, row.target) for row in session.execute(
            select(Follow.kind, Follow.target).where(Follow.user_id == uid))}
    finally:
        session.close()


def button(page: str, kind: str) -> dict[str, str]:
    """The fields of the page's follow form for ``kind``."""
    form = re.search(r'<form method="post" action="/(un)?follow" class="inline follow">(.*?)</form>',
                     page, re.S)
    assert form is not None, "no follow form"
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form.group(2)))
    assert fields["kind"] == kind
    return {**fields, "action": "/unfollow" if form.group(1) else "/follow"}


def test_a_reader_follows_and_stops_following_from_the_pages(status_world):
    client = status_world.client()
    assert login(client, "stranger").status_code == 303
    series = status_world.gizmo_series
    page = client.get(f"/series/{series}/").get_data(as_text=True)
    form = button(page, "series")
    assert form["action"] == "/follow" and form["target"] == str(series)
    done = client.post("/follow", data=form)
    assert done.status_code == 303 and done.headers["Location"].endswith(f"/series/{series}/")
    assert ("series", str(series)) in follows_of(status_world, "stranger")
    again = button(client.get(f"/series/{series}/").get_data(as_text=True), "series")
    assert again["action"] == "/unfollow"  # the button says so now

    form = button(client.get("/gizmo/").get_data(as_text=True), "list")
    assert form["target"] == "gizmo"
    assert client.post("/follow", data=form).status_code == 303
    # (search is off in this archive: its page's button is the same form, posted here)
    assert client.post("/follow", data={**form, "kind": "search", "target": "gizmo/s:gizmo"}
                       ).status_code == 303
    mine = follows_of(status_world, "stranger")
    assert {("list", "gizmo"), ("search", "gizmo/s:gizmo")} <= mine
    # Following twice keeps one row.
    client.post("/follow", data=button(client.get("/gizmo/").get_data(as_text=True), "list"))
    assert follows_of(status_world, "stranger") == mine

    queue = client.get("/queue/").get_data(as_text=True)
    section = queue[queue.index('id="follows"'):]
    assert f'href="/series/{series}/"' in section and 'href="/gizmo/"' in section
    token = csrf_of(queue)
    assert client.post("/unfollow", data={"kind": "series", "target": str(series),
                                          "csrf_token": token}).status_code == 303
    assert ("series", str(series)) not in follows_of(status_world, "stranger")


def test_strangers_and_bad_requests_change_nothing(status_world):
    anonymous = status_world.client()
    page = anonymous.get(f"/series/{status_world.gizmo_series}/").get_data(as_text=True)
    assert 'action="/follow"' not in page  # no button for a visitor
    token = csrf_of(anonymous.get("/login").get_data(as_text=True))
    assert anonymous.post("/follow", data={"kind": "list", "target": "gizmo",
                                           "csrf_token": token}).status_code == 403
    client = status_world.client()
    login(client, "maint")
    token = csrf_of(client.get("/queue/").get_data(as_text=True))
    before = follows_of(status_world, "maint")
    assert client.post("/follow", data={"kind": "list", "target": "gizmo"}).status_code == 400
    for kind, target, status in (("mailbox", "gizmo", 400), ("series", "99999999", 404),
                                 ("series", "1; DROP", 404), ("list", "no-such-list", 404),
                                 ("subsystem", "no-such-subsystem", 404),
                                 ("search", "gizmo/s:(", 400), ("list", "x" * 600, 400)):
        answer = client.post("/follow", data={"kind": kind, "target": target,
                                               "csrf_token": token})
        assert answer.status_code == status, (kind, target, answer.status_code)
    assert follows_of(status_world, "maint") == before
    # A reader's unfollow never touches another reader's follows.
    other = status_world.client()
    login(other, "stranger")
    other.post("/follow", data={"kind": "list", "target": "gizmo",
                                "csrf_token": csrf_of(other.get("/queue/").get_data(as_text=True))})
    assert ("list", "gizmo") in follows_of(status_world, "stranger")
    client.post("/unfollow", data={"kind": "list", "target": "gizmo", "csrf_token": token})
    assert ("list", "gizmo") in follows_of(status_world, "stranger")
