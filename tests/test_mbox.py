"""mboxrd writing: what to_mboxrd produces reads back to the same bytes through ingest.mboxsource."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.mboxsource import split_mbox
from listarchive.mail.mbox import FROM_LINE, escape, to_mboxrd, unescape

pytestmark = pytest.mark.pure

DATA = Path(__file__).resolve().parent / "data"


def read_back(mbox: bytes, chunk_size: int = 1 << 20) -> list[bytes]:
    return [data for _, data, _ in split_mbox(io.BytesIO(mbox), chunk_size=chunk_size)]


@pytest.mark.parametrize(("line", "quoted"), [
    (b"From here\n", b">From here\n"),
    (b">From there\n", b">>From there\n"),
    (b">>>From deep\n", b">>>>From deep\n"),
    (b" From indented\n", b" From indented\n"),
    (b"> From quoted reply\n", b"> From quoted reply\n"),
    (b"From:header-like\n", b"From:header-like\n"),
    (b"Fromage\n", b"Fromage\n"),
    (b"From crlf\r\n", b">From crlf\r\n"),
])
def test_escape_quotes_exactly_the_from_lines(line: bytes, quoted: bytes) -> None:
    assert escape(b"x\n" + line) == b"x\n" + quoted
    assert unescape(b"x\n" + quoted) == b"x\n" + line


def test_chunk_layout() -> None:
    chunk = to_mboxrd(b"Subject: s\n\nFrom me\n")
    assert chunk == FROM_LINE + b"Subject: s\n\n>From me\n\n"


def test_round_trip_of_bodies_with_from_lines() -> None:
    messages = [
        b"From: a@example.org\nSubject: one\n\nFrom the top\n>From quoted\n>>From twice\n",
        b"From: b@example.org\nSubject: two\n\n\n\nends with blank lines\n\n\n",
        b"From: c@example.org\r\nSubject: crlf\r\n\r\nFrom crlf body\r\n\r\n",
        b"From mboxrd@z Thu Jan  1 00:00:00 1970\nSubject: starts like a separator\n\nx\n",
        b"\n",
    ]
    mbox = b"".join(to_mboxrd(m) for m in messages)
    assert read_back(mbox) == messages
    assert read_back(mbox, chunk_size=3) == messages


def test_message_without_final_newline_gains_one() -> None:
    # mbox cannot say "no newline at the end": the blank line before the next separator must
    # start a line of its own. Documented in to_mboxrd.
    mbox = to_mboxrd(b"Subject: s\n\nno newline") + to_mboxrd(b"Subject: t\n\nnext\n")
    assert read_back(mbox) == [b"Subject: s\n\nno newline\n", b"Subject: t\n\nnext\n"]


def test_hand_made_mboxrd_fixture_survives_a_rewrite() -> None:
    original = (DATA / "mboxrd-escaped-from.mbox").read_bytes()
    messages = read_back(original)
    assert len(messages) == 2
    assert b"".join(to_mboxrd(m) for m in messages) == original


@given(st.lists(st.binary(max_size=200).map(lambda b: b + b"\n"), min_size=1, max_size=8),
       st.integers(min_value=1, max_value=64))
def test_any_messages_ending_in_newline_round_trip(messages: list[bytes], chunk: int) -> None:
    mbox = b"".join(to_mboxrd(m) for m in messages)
    assert read_back(mbox, chunk_size=chunk) == messages


_LINES = st.sampled_from([b"From x", b">From y", b">>From z", b"", b"\r", b"Subject: s",
                          FROM_LINE.rstrip(b"\n"), b"From A", b"From someone Mon Jan  6 10:00 2020"])
_TRICKY = st.lists(_LINES, min_size=1, max_size=12).map(lambda lines: b"\n".join(lines) + b"\n")


@given(st.lists(_TRICKY, min_size=1, max_size=6), st.integers(min_value=1, max_value=64))
def test_messages_made_of_separator_like_lines_round_trip(messages: list[bytes],
                                                          chunk: int) -> None:
    mbox = b"".join(to_mboxrd(m) for m in messages)
    assert read_back(mbox, chunk_size=chunk) == messages


@given(st.binary(max_size=300))
def test_unescape_undoes_escape(data: bytes) -> None:
    assert unescape(escape(data)) == data
