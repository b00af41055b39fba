"""Review comments placed on the diff lines they answer.

Real mail first: three linux-clk reviews read from ../shared/corpora/lore/linux-clk-last10000
(each a patch and the reply to it, by Message-ID). They were chosen as the first replies in the
corpus's first 1,500 messages whose reviewer answered several lines of one patch, or one line
of a multi-file patch, by three different reviewers: Krzysztof Kozlowski on a Kconfig line,
Philipp Zabel on three lines of reset-mpfs.c, and Philipp Zabel on three lines of a new
driver. The expected places were read off the mails by hand: the line each comment follows.

Hand-made hostile replies (``data/comment-*-stays-in-discussion.eml``) answer the reset-mpfs
patch in the ways that must never put a comment on a line.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest
from mailfixtures import first_messages

from listarchive.mail.linecomments import (
    line_comments,
    may_comment,
    quote_depth,
    split_at_comments,
)
from listarchive.mail.message import parse
from listarchive.mail.patches import extract_patches

pytestmark = pytest.mark.pure

DATA = Path(__file__).resolve().parent / "data"
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "lore" / \
    "linux-clk-last10000.mboxrd.gz"


@functools.cache
def _corpus() -> dict[str, bytes]:
    """The corpus's first 1,500 messages by Message-ID."""
    if not CORPUS.is_file():
        pytest.skip("the shared corpora are not beside the project")
    out: dict[str, bytes] = {}
    for chunk in re.split(rb"(?m)^From mboxrd@z.*\n", first_messages(CORPUS, 1500)):
        found = re.search(rb"(?im)^Message-ID:\s*<([^>]+)>", chunk)
        if found:
            out[found.group(1).decode()] = re.sub(rb"(?m)^>(>*From )", rb"\1", chunk)
    return out


def _pair(pair: tuple[str, str]) -> tuple[str, str]:
    """(the patch's diff, the reply's body) of a real review: (patch, reply) Message-IDs."""
    patch, reply = (parse(_corpus()[msgid]) for msgid in pair)
    info = extract_patches(patch)
    assert info is not None
    return info.diff, reply.body


KCONFIG = ("20250617-qcom_ipq5424_nsscc-v1-6-4dc2d6b3cdfc@quicinc.com",
           "8281dbfc-6294-43de-ac0c-1e97b5cb4871@kernel.org")
MPFS = ("20250623-equate-ogle-0ce3293567e2@spud",
        "905dc44cf6e7fc4d4500b47f493ec073991a849b.camel@pengutronix.de")
STM32 = ("20250623-ddrperfm-upstream-v1-6-7dffff168090@foss.st.com",
         "5d4cf5bff7733421c8a031493742ba6a21e98583.camel@pengutronix.de")


REAL = [
    (KCONFIG,
     [("drivers/clk/qcom/Kconfig", 287, "+        depends on IPQ_GCC_5424", "Messed up")]),
    (MPFS,
     [("drivers/reset/reset-mpfs.c", 18, "+#include <linux/regmap.h>", "Maybe sort"),
      ("drivers/reset/reset-mpfs.c", 60, "+\t\tregmap_update_bits(rst->regmap, "
       "REG_SUBBLK_RESET_CR, BIT(id), BIT(id));", "mpfs_reset_lock is only"),
      ("drivers/reset/reset-mpfs.c", 79, "+\t\tregmap_update_bits(rst->regmap, "
       "REG_SUBBLK_RESET_CR, BIT(id), 0);", "Same as above.")]),
    (STM32,
     [("drivers/perf/stm32_ddr_pmu.c", 724, "+\t\trst = devm_reset_control_get(&pdev->dev, "
       "NULL);", "Use devm_reset_control_get_optional"),
      ("drivers/perf/stm32_ddr_pmu.c", 726, '+\t\t\tdev_err(&pdev->dev, "Failed to get '
       'reset\\n");', "Please consider using dev_err_probe()"),
      ("drivers/perf/stm32_ddr_pmu.c", 731, "+\t\treset_control_deassert(rst);",
       "These can be done unconditionally")]),
]


@pytest.mark.parametrize("pair, expected", REAL, ids=["kconfig", "mpfs", "stm32"])
def test_real_reviews_land_on_their_lines(pair: tuple[str, str],
                                          expected: list[tuple[str, int, str, str]]) -> None:
    diff, body = _pair(pair)
    found = line_comments(body, diff)
    assert [(c.path, c.new_line, c.quoted) for c in found] == [e[:3] for e in expected]
    for comment, (_, _, _, starts) in zip(found, expected, strict=True):
        assert comment.text.startswith(starts)
        assert comment.old_line == 0  # all added lines
        # the reply really quotes that line right before the comment
        at = body.index(comment.text.splitlines()[0])
        before = [line for line in body[:at].splitlines() if line.strip()]
        assert quote_depth(before[-1])[1].rstrip() == comment.quoted.rstrip()


@pytest.mark.parametrize("name", sorted(p.name for p in DATA.glob(
    "comment-*-stays-in-discussion.eml")))
def test_hostile_quoting_places_nothing(name: str) -> None:
    diff, _ = _pair(MPFS)
    reply = parse((DATA / name).read_bytes())
    assert line_comments(reply.body, diff) == ()


def test_a_reply_to_a_reply_places_at_its_own_depth() -> None:
    diff, body = _pair(MPFS)
    nested = "".join(f"> {line}\n" if line else ">\n" for line in body.splitlines())
    assert line_comments(nested, diff, depth=2) == ()  # the reviewer's text is quoted now
    own = nested.replace("> Maybe sort these alphabetically.", "I agree, sort them.")
    found = line_comments(own, diff, depth=2)
    assert [(c.new_line, c.text) for c in found] == [(18, "I agree, sort them.")]
    assert line_comments(own, diff, depth=1) == ()


def test_numbers_of_context_and_removed_lines() -> None:
    diff = ("--- a/f.c\n+++ b/f.c\n@@ -10,4 +10,4 @@ int f(void)\n a\n-b\n+c\n d\n")
    body = "> @@ -10,4 +10,4 @@ int f(void)\n>  a\n\non a\n> -b\n\non b\n>  d\n\non d\n"
    body = "> --- a/f.c\n> +++ b/f.c\n" + body
    found = line_comments(body, diff)
    assert [(c.old_line, c.new_line, c.text) for c in found] == [
        (10, 10, "on a"), (11, 0, "on b"), (12, 12, "on d")]
    pieces = split_at_comments(diff, [(11, 0)])
    assert [len(p[1]) for p in pieces] == [1, 0] and pieces[0][0].endswith("-b")
    assert "\n".join(p[0] for p in pieces) == diff.rstrip("\n")


def test_trailer_only_blocks_and_bounds() -> None:
    diff = "--- a/f.c\n+++ b/f.c\n@@ -1,1 +1,1 @@\n-x\n+y\n"
    quote = "> +++ b/f.c\n> @@ -1,1 +1,1 @@\n> -x\n> +y\n"
    assert line_comments(quote + "\nReviewed-by: R <r@example.org>\n", diff) == ()
    many = quote + "".join(f"\ncomment {n}\n> +y\n" for n in range(500))
    assert len(line_comments(many, diff)) <= 100


def test_split_keeps_every_line_once() -> None:
    diff, _ = _pair(MPFS)
    pieces = split_at_comments(diff, [(0, 18), (0, 60), (0, 79)])
    assert [len(p[1]) for p in pieces][:3] == [1, 1, 1]
    assert pieces[0][0].endswith("+#include <linux/regmap.h>")
    assert "\n".join(p[0] for p in pieces) == diff.rstrip("\n")


@pytest.mark.pure
def test_only_a_quoted_hunk_header_may_hold_comments() -> None:
    quoted = ["> @@ -1,2 +1,2 @@", ">> @@ -1 +1 @@", "> > @@ -3 +3 @@", "  > @@ -1 +1 @@"]
    for line in quoted:
        assert may_comment(f"Hi,\n\n{line}\n> -a\n> +b\n\nWhy?\n"), line
        assert quote_depth(line)[1].startswith("@@ -"), line
    # a patch's own hunks, and a quote mark inside a line, are no quoted hunk
    for line in ["@@ -1,2 +1,2 @@", "see x > @@ -1 +1 @@", ">@@-1"]:
        assert not may_comment(f"{line}\n-a\n+b\n"), line
