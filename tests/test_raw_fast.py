"""The raw download answered before the framework (``listarchive.web.rawfast``): every request
gets the answer the site gives, byte for byte and header for header, and the fast path answers
only anonymous downloads of messages a reader may see."""

from __future__ import annotations

from typing import Any

import pytest
from mailfixtures import Site
from sqlalchemy import select
from werkzeug.test import Client

from listarchive.archive.db import open_archive
from listarchive.archive.models import MailingList, Message, MessageList
from listarchive.mail.msgids import quote_msgid
from listarchive.web import downloads, rawfast


def _answer(client: Client, url: str, **kwargs: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    resp = client.open(url, **kwargs)
    return resp.status_code, sorted(resp.headers.items()), resp.get_data()


@pytest.fixture(scope="module")
def raw_urls(site: Site) -> list[str]:
    """A raw URL of every message of the site, on its own list, on another list, on /all/."""
    archive = open_archive(site.settings)  # type: ignore[arg-type]
    try:
        with archive.readers() as s:
            rows = s.execute(select(Message.msgid, MailingList.name)
                             .join(MessageList, MessageList.message_id == Message.id)
                             .join(MailingList, MailingList.id == MessageList.list_id)
                             .order_by(Message.id)).all()
    finally:
        archive.close()
    urls = []
    for i, (msgid, name) in enumerate(rows):
        if name == "linux-clk" and i % 50:
            continue  # a sample of the real mail, every hostile, odd and restricted one
        quoted = quote_msgid(msgid)
        urls += [f"/{name}/{quoted}/raw", f"/all/{quoted}/raw",
                 f"/{'odd' if name != 'odd' else 'hostile'}/{quoted}/raw"]
    return urls + ["/linux-clk/no-such-message@example.org/raw", "/nolist/x@y/raw",
                   "/linux-clk/a%01b@x/raw", "/linux-clk/raw", "/Bad-List/x@y/raw"]


def test_every_raw_url_gets_the_answer_of_the_site(site: Site, raw_urls: list[str]) -> None:
    app: Any = site.app
    middleware = app.wsgi_app
    assert isinstance(middleware, rawfast.RawDownloads)
    passed_on: list[str] = []
    inner = middleware.site

    def counted(environ: dict[str, Any], start_response: Any) -> Any:
        passed_on.append(environ["PATH_INFO"])
        return inner(environ, start_response)

    fast, plain = Client(app), Client(inner)
    middleware.site = counted
    try:
        answered = 0
        for url in raw_urls:
            ours = _answer(fast, url)
            assert ours == _answer(plain, url), url
            answered += ours[0] == 200
            if ours[0] == 200:
                etag = dict(ours[1])["ETag"]
                for headers in ({"If-None-Match": etag}, {"If-None-Match": '"other"'},
                                {"If-Modified-Since": dict(ours[1])["Last-Modified"]},
                                {"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}):
                    assert _answer(fast, url, headers=headers) == _answer(
                        plain, url, headers=headers), (url, headers)
                assert _answer(fast, url, method="HEAD") == _answer(plain, url, method="HEAD")
        passed_on_before = len(passed_on)
        # Anything but an anonymous reader's plain download is the site's to answer.
        url = next(u for u in raw_urls if _answer(plain, u)[0] == 200)
        with_cookie = [Client(app), Client(inner)]
        for client in with_cookie:
            client.set_cookie("session", "x")
        assert _answer(with_cookie[0], url) == _answer(with_cookie[1], url)
        assert len(passed_on) == passed_on_before + 1
        for kwargs in ({"headers": {"Authorization": "Token abc"}},
                       {"query_string": "x=1"}, {"method": "POST"},
                       {"headers": {"Host": "evil.example"}}):
            assert _answer(fast, url, **kwargs) == _answer(plain, url, **kwargs), kwargs
        assert len(passed_on) == passed_on_before + 5
    finally:
        middleware.site = inner
    # The messages a reader may see were answered here; the rest went to the site.
    assert answered > 60
    here = set(passed_on[:passed_on_before])
    assert not [u for u in raw_urls if u in here and _answer(plain, u)[0] == 200]
    assert "/secret/" not in "".join(u for u in raw_urls if _answer(fast, u)[0] == 200)


@pytest.mark.pure
@pytest.mark.parametrize(("raw", "declared"), [
    (b"Subject: a\nContent-Type: text/plain; charset=\"ISO-8859-1\"\n\nbody\n", "iso-8859-1"),
    (b"Subject: a\r\nContent-Type: text/plain; CHARSET=KOI8-R\r\n\r\nbody\r\n", "koi8-r"),
    # The parts of a multipart message declare their own: the download says UTF-8.
    (b"Content-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\n"
     b"Content-Type: text/plain; charset=koi8-r\r\n\r\nbody\r\n--z--\r\n", "utf-8"),
    (b"Content-Type: multipart/mixed; boundary=z\n\n--z\n"
     b"Content-Type: text/plain; charset=koi8-r\n\nbody\n--z--\n", "utf-8"),
    (b"Subject: no charset\n\nContent-Type: text/plain; charset=koi8-r\n", "utf-8"),
    # A declaration with no usable value is passed over for the next one.
    (b"X-Note: charset= none\nContent-Type: text/plain; Charset=\"KOI8-R\"\n\nbody\n", "koi8-r"),
    (b"Subject: a\r\n\r\nX: charset=koi8-r\r\n", "utf-8"),
])
def test_a_download_says_the_charset_its_header_declares(raw: bytes, declared: str) -> None:
    assert downloads.raw_content_type(raw) == f"text/plain; charset={declared}"
