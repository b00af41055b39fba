"""Message-ID URL escaping and the body filters, as tables."""

from __future__ import annotations

import pytest

from listarchive.mail.msgids import BadMsgid, quote_msgid, unquote_msgid
from listarchive.web import filters
from listarchive.web.filters import linkify, render_body
from listarchive.web.paths import split_message_path

pytestmark = pytest.mark.pure


@pytest.mark.parametrize("msgid,encoded", [
    ("aE8K8LjHsc/gTobD@x1", "aE8K8LjHsc%2FgTobD@x1"),  # real, linux-clk
    ("CA+V-a8tSMt9SaHAdeEd4vj=QmaDz5bMd4hwJUCx_mBF8-mw2kw@mail.gmail.com",
     "CA+V-a8tSMt9SaHAdeEd4vj=QmaDz5bMd4hwJUCx_mBF8-mw2kw@mail.gmail.com"),
    ("50%off$deal&co@example.org", "50%25off$deal&co@example.org"),
    ("grüße@例え.example", "gr%C3%BC%C3%9Fe@%E4%BE%8B%E3%81%88.example"),
    ("a?b#c@x", "a%3Fb%23c@x"),
])
def test_quote_round_trips(msgid, encoded):
    assert quote_msgid(msgid) == encoded
    assert unquote_msgid(encoded) == msgid


@pytest.mark.parametrize("rest,raw,msgid,suffix", [
    ("a%2Fb@x/", True, "a/b@x", "/"),
    ("a%2Fb@x/T/", True, "a/b@x", "/T/"),
    ("ends%2FT@x/", True, "ends/T@x", "/"),
    ("a/b@x/t.mbox.gz", True, "a/b@x", "/t.mbox.gz"),  # literal slash from a careless client
    ("a/b@x/raw", False, "a/b@x", "/raw"),
    ("a%40x", True, "a@x", ""),
    ("m@x/2-patch.diff", True, "m@x", "/2-patch.diff"),
])
def test_split_message_path(rest, raw, msgid, suffix):
    got = split_message_path(rest, raw)
    assert (got.msgid, got.suffix) == (msgid, suffix)


@pytest.mark.parametrize("rest", ["", "/", "%0a@x/", "x" * 600 + "/"])
def test_split_refuses_what_cannot_be_an_id(rest):
    with pytest.raises(BadMsgid):
        split_message_path(rest, True)


def test_linkify_only_http_and_escapes():
    html = str(linkify('see https://x.org/a?b=1&c=2). javascript:alert(1) <b>'))
    assert '<a href="https://x.org/a?b=1&amp;c=2" rel="nofollow noopener">' in html
    assert "javascript:alert(1) &lt;b&gt;" in html and html.count("<a ") == 1


def test_render_body_folds_long_quotes_and_dims_signature():
    text = "hi\n> a\n> b\n> c\n> d\n> short\nok\n> one\n-- \nsig <x>"
    html = str(render_body(text))
    assert html.count("<details") == 1 and "[4 more quoted lines]" in html
    assert '<pre class="q">&gt; one</pre>' in html
    assert '<pre class="sig">-- \nsig &lt;x&gt;</pre>' in html


@pytest.mark.pure
def test_rendered_diffs_are_kept_within_their_budget_and_stay_escaped() -> None:
    hostile = "--- a/x.c\n+++ b/x.c\n@@ -1 +1 @@\n-<script>alert(1)</script>\n+ok\n"
    cache = filters.RenderedDiffs(budget=2_000)
    first = cache.render(hostile)
    assert "<script>" not in first and "&lt;script&gt;" in first
    assert cache.render(hostile) is first, "a diff shown again is not rendered again"
    others = [f"--- a/f{i}.c\n+++ b/f{i}.c\n@@ -1 +1 @@\n-{i}\n+{i + 1}\n" for i in range(40)]
    for text in others:
        cache.render(text)
    assert cache.used <= cache.budget
    assert cache.render(hostile) is not first, "the oldest left when the budget was spent"
    huge = "+" + "x" * 5_000 + "\n"
    assert 'class="add"' in cache.render(huge) and huge not in cache._items
