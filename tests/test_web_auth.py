"""Accounts on the site: login and logout, the session cookie's flags, CSRF on every form, the
login rate limit, and permissions: anonymous visitors and users without rights on a list change
nothing there through any form or API route (every write route of the app is walked)."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest
from worlds import PASSWORD, StatusWorld, csrf_of, history_of, login, state_of

WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def test_login_sets_a_hardened_session_cookie_and_logout_ends_it(status_world):
    client = status_world.client()
    page = client.get("/login")
    assert page.status_code == 200 and 'type="password"' in page.get_data(as_text=True)
    resp = login(client, "maint")
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/queue/")
    cookie = next(v for k, v in resp.headers.items()
                  if k == "Set-Cookie" and v.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    home = client.get("/").get_data(as_text=True)
    assert "maint" in home and 'action="/logout"' in home
    resp = client.post("/logout", data={"csrf_token": csrf_of(home)})
    assert resp.status_code == 303
    assert 'action="/logout"' not in client.get("/").get_data(as_text=True)
    assert client.get("/queue/").status_code == 303  # logged out: my queue asks to log in


def test_wrong_password_and_unsafe_next(status_world):
    client = status_world.client()
    resp = login(client, "maint", "not the password")
    assert resp.status_code == 401 and "wrong user name or password" in resp.get_data(
        as_text=True)
    token = csrf_of(client.get("/login").get_data(as_text=True))
    resp = client.post("/login", data={"name": "maint", "password": PASSWORD,
                                       "csrf_token": token, "next": "//evil.example/x"})
    assert resp.status_code == 303 and resp.headers["Location"] in ("/", "http://localhost/")


def test_session_is_renewed_at_login(status_world):
    """A CSRF token seen before login (perhaps planted) is worthless afterwards."""
    client = status_world.client()
    before = csrf_of(client.get("/login").get_data(as_text=True))
    login(client, "maint")
    after = csrf_of(client.get("/").get_data(as_text=True))
    assert before != after
    pid = status_world.gizmo_patches[1]
    assert client.post(f"/patch/{pid}/state", data={"state": "rfc", "csrf_token": before}
                       ).status_code == 400


def test_login_is_rate_limited(status_world):
    client = status_world.client()
    env = {"REMOTE_ADDR": "192.0.2.77"}
    token = csrf_of(client.get("/login", environ_base=env).get_data(as_text=True))
    codes = [client.post("/login", environ_base=env, data={
        "name": "stranger", "password": f"guess {n}", "csrf_token": token}).status_code
        for n in range(6)]
    assert codes[:5] == [401] * 5 and codes[5] == 429
    # now even the right password is refused from that address...
    resp = client.post("/login", environ_base=env, data={
        "name": "stranger", "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 429 and "user_id" not in resp.headers.get("Set-Cookie", "")
    # ...but not from another one
    other = status_world.client()
    assert login(other, "stranger").status_code == 303


def test_every_form_carries_a_csrf_token(status_world):
    w = status_world
    client = w.client()
    login(client, "root")
    for path in ("/", "/login", f"/series/{w.gizmo_series}/", f"/patch/{w.gizmo_patches[0]}/",
                 "/gizmo/queue/", "/queue/", "/gizmo/series/"):
        html = client.get(path).get_data(as_text=True)
        for form in re.findall(r"<form[^>]*>.*?</form>", html, re.S):
            if 'method="post"' in form:
                assert 'name="csrf_token"' in form, (path, form[:200])


def test_posts_without_a_valid_csrf_token_are_refused(status_world):
    w = status_world
    client = w.client()
    login(client, "root")
    pid = w.gizmo_patches[1]
    before = state_of(w, "patch", pid)
    for data in ({"state": "accepted"}, {"state": "accepted", "csrf_token": "forged" * 8}):
        assert client.post(f"/patch/{pid}/state", data=data).status_code == 400
        assert client.post(f"/series/{w.gizmo_series}/state", data=data).status_code == 400
        assert client.post("/bulk", data={**data, "id": [w.gizmo_series]}).status_code == 400
        assert client.post("/logout", data=data).status_code == 400
    fresh = w.client()
    assert fresh.post("/login", data={"name": "root", "password": PASSWORD}).status_code == 400
    assert state_of(w, "patch", pid) == before
    # b4's read-only POST (?x=m) needs no token: it changes nothing
    assert client.post("/gizmo/?q=gizmo&x=m").status_code in (200, 404, 503)


def _write_routes(app: Any) -> list[tuple[str, str]]:
    return sorted((rule.rule, method) for rule in app.url_map.iter_rules()
                  for method in rule.methods & WRITES)


def _fill(rule: str, w: StatusWorld) -> str:
    path = rule.replace("<int(max=9007199254740992):series_id>", str(w.gizmo_series))
    path = path.replace("<int(max=9007199254740992):patch_id>", str(w.gizmo_patches[2]))
    path = path.replace("<name>", "gizmo")
    return path


def test_every_write_route_is_known(status_world):
    """A new write route must be added to the permission walk below."""
    pid = "<int(max=9007199254740992):patch_id>"
    assert _write_routes(status_world.app) == sorted([
        ("/<name>/", "POST"), (f"/api/1.2/patches/{pid}/", "PATCH"),
        (f"/api/1.2/patches/{pid}/", "PUT"), (f"/api/1.2/patches/{pid}/checks/", "POST"),
        *((f"/api/1.2/{what}<path:endpoint>", m) for what in ("", "bundles/")
          for m in ("DELETE", "PATCH", "POST", "PUT")),
        ("/api/1.2/bundles/", "POST"),
        (f"/api/v1/patches/{pid}", "PATCH"),
        ("/api/v1/series/<int(max=9007199254740992):series_id>", "PATCH"),
        ("/bulk", "POST"), ("/follow", "POST"), ("/login", "POST"), ("/logout", "POST"),
        (f"/patch/{pid}/state", "POST"),
        ("/series/<int(max=9007199254740992):series_id>/state", "POST"),
        ("/unfollow", "POST")])


@pytest.mark.parametrize("who", ["anonymous", "stranger", "maint-on-other"])
def test_nobody_without_rights_changes_anything(status_world, who):
    """Anonymous visitors, a user with no grants, and gizmo's maintainer on list ``other``:
    every form (with a valid CSRF token) and every API write is refused, nothing changes."""
    w = status_world
    client = w.client()
    patch_id, series_id = w.gizmo_patches[2], w.gizmo_series
    token = w.tokens["stranger"]
    if who == "anonymous":
        csrf = csrf_of(client.get("/login").get_data(as_text=True))
        token = ""
    else:
        login(client, "stranger" if who == "stranger" else "maint")
        csrf = csrf_of(client.get("/").get_data(as_text=True))
        if who == "maint-on-other":
            patch_id, series_id = w.other_patches[2], w.other_series
            token = w.tokens["maint"]
    before = (state_of(w, "patch", patch_id), state_of(w, "series", series_id),
              len(history_of(w, "patch", patch_id)), len(history_of(w, "series", series_id)))
    form = {"state": "accepted", "archived": "true", "delegate": "root", "csrf_token": csrf}
    auth = {"Authorization": f"Token {token}"} if token else {}
    expected = 403
    for path in (f"/patch/{patch_id}/state", f"/series/{series_id}/state"):
        assert client.post(path, data=form).status_code == expected, path
    assert client.post("/bulk", data={**form, "id": [series_id]}).status_code == expected
    api_code = 403 if token else 401
    assert client.patch(f"/api/v1/patches/{patch_id}", json={"state": "accepted"},
                        headers=auth).status_code == api_code
    assert client.patch(f"/api/v1/series/{series_id}", json={"state": "accepted"},
                        headers=auth).status_code == api_code
    for method in (client.patch, client.put):
        assert method(f"/api/1.2/patches/{patch_id}/", data={"state": "accepted",
                                                             "archived": "true"},
                      headers=auth).status_code == api_code
    # a session cookie is no API credential
    assert client.patch(f"/api/v1/patches/{patch_id}", json={"state": "accepted"}
                        ).status_code == 401
    # no check posted by a person's token or none; bundles and other endpoints do not exist
    assert client.post(f"/api/1.2/patches/{patch_id}/checks/", json={"state": "fail"},
                       headers=auth).status_code in (401, 403)
    for path in ("/api/1.2/bundles/", "/api/1.2/bundles/1/", "/api/1.2/projects/1/"):
        assert client.post(path, json={"name": "x"}, headers=auth).status_code == 404, path
    after = (state_of(w, "patch", patch_id), state_of(w, "series", series_id),
             len(history_of(w, "patch", patch_id)), len(history_of(w, "series", series_id)))
    assert after == before


def test_bad_tokens_are_401_and_no_forms_shown_to_others(status_world):
    w = status_world
    client = w.client()
    pid = w.gizmo_patches[0]
    for header in ("Token nope", "Token " + "x" * 43, "Bearer " + w.tokens["root"], "Token "):
        assert client.patch(f"/api/v1/patches/{pid}", json={"state": "new"},
                            headers={"Authorization": header}).status_code == 401
    assert 'action="/patch/' not in client.get(f"/patch/{pid}/").get_data(as_text=True)
    login(client, "stranger")
    page = client.get(f"/series/{w.gizmo_series}/").get_data(as_text=True)
    assert 'action="/series/' not in page and "History" in page


def test_a_login_is_valid_on_every_web_server_of_the_archive(status_world):
    """Without web.secret_key, the key is the archive's (kept in its database), not each
    process's: a second web server, or the site after a restart, knows the session."""
    from listarchive.web import create_app

    assert status_world.settings.secret_key == ""
    first = status_world.client()
    assert login(first, "maint").status_code == 303
    cookie = first.get_cookie("session")
    assert cookie is not None
    other = create_app(status_world.settings).test_client()
    other.set_cookie("session", cookie.value)
    page = other.get("/queue/")
    assert page.status_code == 200 and "maint" in page.get_data(as_text=True)
    # a configured key wins, and a session signed with another key is worthless
    own = create_app(replace(status_world.settings, secret_key="k" * 64)).test_client()
    own.set_cookie("session", cookie.value)
    assert own.get("/queue/").status_code == 303
