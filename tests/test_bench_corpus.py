"""The benchmark's replication keeps threads whole and never collides with the original ids."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from bench.corpus import (
    replicate,
    rewrite_copy,
    split_mboxrd,
    unescape_mboxrd,
    write_halves,
    write_mboxrd,
)
from bench.facts import _thread_sizes  # noqa: E402

pytestmark = pytest.mark.pure

# A hand-made three-message thread (cover, patch, reply with a folded References field), a
# message whose Message-ID has no angle brackets, and a body line escaped as mboxrd does.
TINY = b"""From mboxrd@z Thu Jan  1 00:00:00 1970
Message-ID: <cover.1@example.org>
Date: Mon, 03 Jun 2024 10:00:00 +0200
Subject: [PATCH 0/1] clk: fix a divider

>From the cover letter.

From mboxrd@z Thu Jan  1 00:00:00 1970
Message-ID: <patch.1@example.org>
In-Reply-To: <cover.1@example.org>
References: <cover.1@example.org>
Date: Mon, 03 Jun 2024 10:00:01 +0200
Subject: [PATCH 1/1] clk: fix a divider

diff --git a/drivers/clk/a.c b/drivers/clk/a.c

From mboxrd@z Thu Jan  1 00:00:00 1970
Message-ID: <reply.1@example.org>
In-Reply-To: <patch.1@example.org>
References: <cover.1@example.org>
 <patch.1@example.org>
Date: Tue, 04 Jun 2024 09:00:00 +0000
Subject: Re: [PATCH 1/1] clk: fix a divider

Reviewed-by: Someone <someone@example.org>

From mboxrd@z Thu Jan  1 00:00:00 1970
Message-ID: bare-id-without-brackets
Date: not a date at all
Subject: odd

body mentions <cover.1@example.org> and stays as it is

"""

_ID = re.compile(rb"<([^<>\s]+)>")


def _field(raw: bytes, name: bytes) -> bytes:
    head = raw.split(b"\n\n", 1)[0]
    unfolded = re.sub(rb"\n[ \t]+", b" ", head)
    for line in unfolded.split(b"\n"):
        if line.lower().startswith(name.lower() + b":"):
            return line.split(b":", 1)[1].strip()
    return b""


def _ids(raw: bytes, name: bytes) -> list[bytes]:
    return _ID.findall(_field(raw, name))


def _messages() -> list[bytes]:
    return list(split_mboxrd(io.BytesIO(TINY)))


def test_split_reads_every_message_still_escaped() -> None:
    msgs = _messages()
    assert len(msgs) == 4
    assert b"\n>From the cover letter.\n" in msgs[0]
    assert unescape_mboxrd(msgs[0]).endswith(b"\nFrom the cover letter.\n")


def test_copies_rewrite_ids_consistently_and_keep_the_thread() -> None:
    originals = _messages()
    copies = list(replicate(originals, 12, iter([originals, originals])))
    assert len(copies) == 12
    assert copies[:4] == originals  # copy 0 is the real mail untouched

    all_ids = [_ids(m, b"Message-ID") or [_field(m, b"Message-ID")] for m in copies]
    flat = [i[0] for i in all_ids]
    assert len(set(flat)) == 12, "a copy collided with another message's id"

    for copy in (1, 2):
        cover, patch, reply, bare = copies[4 * copy: 4 * copy + 4]
        tag = b".copy%d@" % copy
        assert _ids(cover, b"Message-ID") == [b"cover.1" + tag + b"example.org"]
        # every reference points at the same copy's messages, so the thread is intact
        assert _ids(patch, b"In-Reply-To") == _ids(cover, b"Message-ID")
        assert _ids(reply, b"References") == _ids(cover, b"Message-ID") + _ids(
            patch, b"Message-ID")
        assert _ids(reply, b"In-Reply-To") == _ids(patch, b"Message-ID")
        assert _field(bare, b"Message-ID") == b"bare-id-without-brackets.copy%d" % copy
        # bodies are not touched, broken dates are kept
        assert b"<cover.1@example.org> and stays" in bare
        assert _field(bare, b"Date") == b"not a date at all"
        assert cover.split(b"\n\n", 1)[1] == originals[0].split(b"\n\n", 1)[1]


def test_copied_threads_are_separate_threads_of_the_same_shape() -> None:
    from bench.facts import MessageFacts

    facts = []
    for raw in replicate(_messages(), 8, iter([_messages()])):
        mid = (_ids(raw, b"Message-ID") or [_field(raw, b"Message-ID")])[0].decode()
        refs = _ids(raw, b"References") or _ids(raw, b"In-Reply-To")
        parent = refs[-1].decode() if refs else None
        facts.append(MessageFacts(mid, parent, "", "", None))
    sizes = sorted(len(g) for g in _thread_sizes(facts).values())
    assert sizes == [1, 1, 3, 3]


def test_dates_move_back_per_copy() -> None:
    cover = _messages()[0]
    assert _field(rewrite_copy(cover, 1), b"Date") == b"Sat, 04 May 2024 10:00:00 +0200"
    assert _field(rewrite_copy(cover, 2), b"Date") == b"Thu, 04 Apr 2024 10:00:00 +0200"


def test_written_mbox_reads_back_the_same(tmp_path: Path) -> None:
    msgs = _messages()
    out = tmp_path / "corpus.mboxrd"
    assert write_mboxrd(msgs, out) == 4
    with out.open("rb") as fh:
        assert list(split_mboxrd(fh)) == msgs


def test_halves_deal_alternate_messages(tmp_path: Path) -> None:
    msgs = _messages()
    whole = tmp_path / "corpus.mboxrd"
    write_mboxrd(msgs, whole)
    first, second = tmp_path / "half1.mboxrd", tmp_path / "half2.mboxrd"
    assert write_halves(whole, first, second) == (2, 2)
    with first.open("rb") as a, second.open("rb") as b:
        assert list(split_mboxrd(a)) == msgs[0::2]
        assert list(split_mboxrd(b)) == msgs[1::2]
