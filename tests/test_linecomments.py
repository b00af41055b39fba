"""Review comments placed on the diff lines they answer.

Real mail first: three linux-clk reviews cut from ../shared/corpora/lore/linux-clk-last10000
(each file holds the patch and the reply). They were chosen as the first replies in the
corpus's first 1,500 messages whose reviewer answered several lines of one patch, or one line
of a multi-file patch, by three different reviewers: Krzysztof Kozlowski on a Kconfig line,
Philipp Zabel on three lines of reset-mpfs.c, and Philipp Zabel on three lines of a new
driver. The expected places were read off the mails by hand: the line each comment follows.

Hand-made hostile replies (``data/comment-*-stays-in-discussion.eml``) answer the reset-mpfs
patch in the ways that must never put a comment on a line.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from listarchive.mail.linecomments import line_comments, quote_depth, split_at_comments
from listarchive.mail.message import parse
from listarchive.mail.patches import extract_patches

DATA = Path(__file__).resolve().parent / "data"


def _pair(name: str) -> tuple[str, str]:
    """(the patch's diff, the reply's body) of a real-review fixture."""
    chunks = [c for c in re.split(rb"(?m)^From mboxrd@z.*\n", (DATA / name).read_bytes())
              if c.strip()]
    patch, reply = (parse(re.sub(rb"(?m)^>(>*From )", rb"\1", c)) for c in chunks)
    info = extract_patches(patch)
    assert info is not None
    return info.diff, reply.body


REAL = [
    ("real-review-kconfig-indentation.mbox",
     [("drivers/clk/qcom/Kconfig", 287, "+        depends on IPQ_GCC_5424", "Messed up")]),
    ("real-review-reset-mpfs-three-comments.mbox",
     [("drivers/reset/reset-mpfs.c", 18, "+#include <linux/regmap.h>", "Maybe sort"),
      ("drivers/reset/reset-mpfs.c", 60, "+\t\tregmap_update_bits(rst->regmap, "
       "REG_SUBBLK_RESET_CR, BIT(id), BIT(id));", "mpfs_reset_lock is only"),
      ("drivers/reset/reset-mpfs.c", 79, "+\t\tregmap_update_bits(rst->regmap, "
       "REG_SUBBLK_RESET_CR, BIT(id), 0);", "Same as above.")]),
    ("real-review-stm32-ddr-pmu.mbox",
     [("drivers/perf/stm32_ddr_pmu.c", 724, "+\t\trst = devm_reset_control_get(&pdev->dev, "
       "NULL);", "Use devm_reset_control_get_optional"),
      ("drivers/perf/stm32_ddr_pmu.c", 726, '+\t\t\tdev_err(&pdev->dev, "Failed to get '
       'reset\\n");', "Please consider using dev_err_probe()"),
      ("drivers/perf/stm32_ddr_pmu.c", 731, "+\t\treset_control_deassert(rst);",
       "These can be done unconditionally")]),
]


@pytest.mark.parametrize("name, expected", REAL)
def test_real_reviews_land_on_their_lines(name: str, expected: list[tuple[str, int, str, str]]
                                          ) -> None:
    diff, body = _pair(name)
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
    diff, _ = _pair("real-review-reset-mpfs-three-comments.mbox")
    reply = parse((DATA / name).read_bytes())
    assert line_comments(reply.body, diff) == ()


def test_a_reply_to_a_reply_places_at_its_own_depth() -> None:
    diff, body = _pair("real-review-reset-mpfs-three-comments.mbox")
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
    diff, _ = _pair("real-review-reset-mpfs-three-comments.mbox")
    pieces = split_at_comments(diff, [(0, 18), (0, 60), (0, 79)])
    assert [len(p[1]) for p in pieces][:3] == [1, 1, 1]
    assert pieces[0][0].endswith("+#include <linux/regmap.h>")
    assert "\n".join(p[0] for p in pieces) == diff.rstrip("\n")
