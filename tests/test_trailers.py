"""Trailers in real linux-clk review replies and in hand-made edge cases."""

from __future__ import annotations

import gzip
import re
from functools import lru_cache
from pathlib import Path

import pytest

from listarchive.mail.headers import Address
from listarchive.mail.message import ParsedMessage, parse
from listarchive.mail.trailers import Trailer, extract_trailers, matches_sender, normalize_name

pytestmark = pytest.mark.pure

CORPORA = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"
MBOXRD_SEP = b"\nFrom mboxrd@z Thu Jan  1 00:00:00 1970\n"


@lru_cache(maxsize=1)
def linux_clk() -> dict[str, ParsedMessage]:
    data = gzip.open(CORPORA / "lore" / "linux-clk-last10000.mboxrd.gz").read()
    first, *rest = data.split(MBOXRD_SEP)
    out = {}
    for chunk in [first.split(b"\n", 1)[1], *rest]:
        msg = parse(re.sub(rb"(?m)^>(>*From )", rb"\1", chunk))
        out[msg.msgid] = msg
    return out


def test_review_reply_from_tglx_gives_one_reviewed_by_from_its_sender() -> None:
    # Re: [PATCH v5 12/23] irqchip: Add driver for the RPMI system MSI service group:
    # quotes the patch, comments, then gives the tag in his own text.
    msg = linux_clk()["87ldpvirl2.ffs@tglx"]
    trailers = extract_trailers(msg.body)
    assert [(t.name, t.value) for t in trailers] == [
        ("Reviewed-by", "Thomas Gleixner <tglx@linutronix.de>")]
    assert matches_sender(trailers[0], msg.sender)


def test_acked_by_with_another_address_of_the_sender_matches_by_name() -> None:
    # Bjorn Helgaas sends from kernel.org and acks with his google.com address.
    msg = linux_clk()["20250613212709.GA979346@bhelgaas"]
    (ack,) = extract_trailers(msg.body)
    assert ack.name == "Acked-by"
    assert ack.person == Address("Bjorn Helgaas", "bhelgaas@google.com")
    assert msg.sender.email == "helgaas@kernel.org"
    assert matches_sender(ack, msg.sender)


def test_tag_for_someone_else_does_not_match_sender() -> None:
    # Naresh Kamboju posts LKFT's Tested-by: b4 would flag it.
    msg = linux_clk()["CA+G9fYuGdo0MUeF0Du3oAtwzYQZhc999pBrz5x5v9P4qw0UbTQ@mail.gmail.com"]
    tested = [t for t in extract_trailers(msg.body) if t.name == "Tested-by"]
    assert tested and tested[0].person == Address("Linux Kernel Functional Testing",
                                                  "lkft@linaro.org")
    assert not matches_sender(tested[0], msg.sender)


def test_prose_with_a_by_word_is_not_a_trailer() -> None:
    # Andrew Lunn explaining process: "Acked-by: from each subsystem Maintainer ..."
    msg = linux_clk()["307d7547-b8da-4a82-9ae6-c95f66a283d2@lunn.ch"]
    assert all(t.person is not None for t in extract_trailers(msg.body) if t.is_by)


def test_quoted_signature_and_diff_trailers_do_not_count() -> None:
    body = ("> Signed-off-by: Author <author@example.org>\n"
            ">> Reviewed-by: Old <old@example.org>\n"
            "  Acked-by: Indented <indented@example.org>\n"
            "reviewed-BY: Me <me@example.org>\n"
            "Fixes: 0123456789ab (\"clk: break it\")\n"
            "Link: https://lore.kernel.org/r/1234@example.org\n"
            "Cc: stable@vger.kernel.org # v6.1+\n"
            "Closes: https://bugzilla.example.org/1\n"
            "Co-developed-by: Other <other@example.org>\n"
            "Frobnicated-by: Someone <someone@example.org>\n"
            "-- \n"
            "Signed-off-by: In Signature <sig@example.org>\n")
    got = extract_trailers(body)
    # an indented tag counts, as b4 takes it; quoted ones and the signature's do not
    assert [t.name for t in got] == ["Acked-by", "Reviewed-by", "Fixes", "Link", "Cc", "Closes",
                                     "Co-developed-by", "Frobnicated-by"]
    assert got[1].person == Address("Me", "me@example.org") and got[1].line == 3
    assert got[4].person == Address("", "stable@vger.kernel.org")
    assert got[2].person is None


def test_trailers_stop_at_the_patch_separator() -> None:
    body = ("Fix it.\n\nSigned-off-by: A <a@example.org>\n---\n"
            "v2: Reviewed-by: B <b@example.org> was dropped\n")
    assert [t.value for t in extract_trailers(body)] == ["A <a@example.org>"]


def test_normalize_name() -> None:
    assert normalize_name("SIGNED-OFF-BY") == "Signed-off-by"
    assert normalize_name("cc") == "Cc"
    assert normalize_name("Regression-Tested-By") == "Regression-tested-by"


def test_unaddressed_trailer_never_matches() -> None:
    assert not matches_sender(Trailer("Fixes", "abc"), Address("A", "a@example.org"))
    assert not matches_sender(Trailer("Acked-by", "x", Address("", "a@example.org")),
                              Address("", ""))


def test_tag_indented_below_a_quoted_hunk_counts() -> None:
    # Danilo Krummrich reviewing [PATCH v5 3/9] of the Rust PWM series: his tag sits under a
    # quoted hunk, indented with a tab; b4 applies it.
    msg = linux_clk()["8c4284f6-58eb-4d9a-b2e7-e1c66d3fcad6@kernel.org"]
    (tag,) = extract_trailers(msg.body)
    assert (tag.name, tag.value) == ("Reviewed-by", "Danilo Krummrich <dakr@kernel.org>")
    assert matches_sender(tag, msg.sender)


def test_tag_name_case_is_normalised() -> None:
    # Icenowy Zheng writes "Reviewed-By:"; b4 writes it back as written, we as git does.
    msg = linux_clk()["2b4ca24aa102a6deb4f6ad9aab14d46060f91c61.camel@icenowy.me"]
    assert [(t.name, t.value) for t in extract_trailers(msg.body)] == [
        ("Reviewed-by", "Icenowy Zheng <uwu@icenowy.me>")]
