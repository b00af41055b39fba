"""The site against hostile clients: forged Host headers, proxies, floods, NUL parameters,
JSON bombs, crawlers."""

from __future__ import annotations

from pathlib import Path

import pytest

from listarchive.access import accounts
from listarchive.archive.db import open_archive
from listarchive.settings import Settings, from_mapping
from listarchive.web import create_app


def app_for(tmp_path: Path, **sections: dict[str, object]):  # type: ignore[no-untyped-def]
    settings: Settings = from_mapping({"storage": {"data_dir": str(tmp_path / "instance")},
                                       "search": {"enabled": False}, **sections})
    return settings, create_app(settings)


def test_a_forged_host_never_reaches_a_link(tmp_path):
    _, app = app_for(tmp_path)
    client = app.test_client()
    assert client.get("/r/nobody@x", headers={"Host": "evil.example"}).status_code == 400
    assert client.get("/", headers={"Host": "localhost:8080"}).status_code == 200
    _, behind = app_for(tmp_path / "b", web={"base_url": "https://archive.example.org"})
    resp = behind.test_client().get("/all/nobody@x", headers={"Host": "archive.example.org"})
    assert resp.status_code == 404  # unknown, answered for the configured host
    resp = behind.test_client().get("/all/nobody@x", headers={"Host": "evil.example"})
    assert resp.status_code == 400


def test_client_address_is_read_through_trusted_proxies_only(tmp_path):
    seen: list[str] = []
    for proxies, expected in ((0, "10.0.0.2"), (1, "203.0.113.7")):
        _, app = app_for(tmp_path / str(proxies), web={"trusted_proxies": proxies})

        @app.before_request
        def note() -> None:
            from flask import request
            seen.append(request.remote_addr or "")

        app.test_client().get("/", headers={"X-Forwarded-For": "203.0.113.7"},
                              environ_base={"REMOTE_ADDR": "10.0.0.2"})
        assert seen[-1] == expected


def test_search_and_download_floods_get_429_with_retry_after(tmp_path):
    _, app = app_for(tmp_path, limits={"search": "3/minute", "download": "2/minute",
                                       "api": "4/minute"})
    client = app.test_client()
    codes = [client.get("/all/?q=clk").status_code for _ in range(4)]
    assert codes[:3] == [503, 503, 503] and codes[3] == 429  # 503: search is off here
    resp = client.get("/all/?q=clk")
    assert resp.status_code == 429 and 0 < int(resp.headers["Retry-After"]) <= 60
    other = app.test_client().get("/all/?q=clk", environ_base={"REMOTE_ADDR": "10.1.1.1"})
    assert other.status_code == 503  # another client is not slowed by this one
    assert client.get("/").status_code == 200  # pages are not limited
    downloads = [client.post("/all/?q=clk&x=m").status_code for _ in range(3)]
    assert downloads[2] == 429
    api = [client.get("/api/v1/lists").status_code for _ in range(5)]
    assert api[:4] == [200] * 4 and api[4] == 429


def test_logged_in_maintainers_are_not_limited(tmp_path):
    settings, app = app_for(tmp_path, limits={"search": "1/minute"})
    with open_archive(settings).sessions.begin() as session:
        accounts.create_user(session, "maint", "m@example.org", "correct horse")
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    assert client.post("/login", data={"name": "maint", "password": "correct horse",
                                       "csrf_token": token}).status_code == 303
    assert {client.get("/all/?q=clk").status_code for _ in range(5)} == {503}


@pytest.mark.parametrize("url", ["/all/?q=%00", "/all/?page=%00", "/api/v1/search?q=a%00b",
                                 "/all/series/?state=%00", "/api/1.2/patches/?q=%00",
                                 "/api/v1/series?submitter=a%00b"])
def test_nul_in_parameters_is_a_400(tmp_path, url):
    _, app = app_for(tmp_path)
    resp = app.test_client().get(url)
    assert resp.status_code == 400 and b"NUL" in resp.data


def test_json_nested_deeper_than_the_parser_is_a_400(tmp_path):
    settings, app = app_for(tmp_path)
    with open_archive(settings).sessions.begin() as session:
        token = accounts.new_token(session, accounts.create_user(
            session, "root", "r@example.org", None, True))
    bomb = "[" * 100_000 + "]" * 100_000
    for url in ("/api/v1/patches/1", "/api/v1/series/1", "/api/1.2/patches/1/"):
        resp = app.test_client().patch(url, data=bomb, headers={
            "Authorization": f"Token {token}", "Content-Type": "application/json"})
        assert resp.status_code in (400, 404), (url, resp.status_code)


def test_robots_keep_crawlers_off_searches_and_downloads(tmp_path):
    _, app = app_for(tmp_path)
    text = app.test_client().get("/robots.txt").get_data(as_text=True)
    for rule in ("Disallow: /*?q=", "Disallow: /*/t.mbox.gz", "Disallow: /api/",
                 "Disallow: /series/*/mbox"):
        assert rule in text
    assert "Disallow: /\n" not in text
