"""Series grouping and revision links: hand-made fixtures, linux-clk from lore, patchew series.

The named linux-clk series below were checked by reading the mails (subjects, Message-IDs,
In-Reply-To/References, cover bodies); each test says what decides its answer.
"""

from __future__ import annotations

import gzip
import re
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from listarchive.mail.message import ParsedMessage, parse
from listarchive.mail.patches import extract_patches
from listarchive.mail.series import (
    PatchFact,
    SeriesGroup,
    extract_change_id,
    extract_links,
    group_series,
    link_revisions,
    send_key,
)
from listarchive.mail.subject import SubjectInfo

pytestmark = pytest.mark.pure

CORPORA = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"
DATA = Path(__file__).resolve().parent / "data"
MBOXRD_SEP = b"\nFrom mboxrd@z Thu Jan  1 00:00:00 1970\n"
_UNESCAPE = re.compile(rb"(?m)^>(>*From )")
# patchew's files separate messages with "From A"/"From nobody" lines followed by headers.
_MBOX_FROM = re.compile(rb"\n(?=From [^\n]*\n[A-Za-z][A-Za-z0-9-]*:)")


def fact_of(msg: ParsedMessage) -> PatchFact:
    patch = extract_patches(msg)
    return PatchFact(
        msgid=msg.msgid, sender=msg.sender.email.lower(), subject=SubjectInfo.parse(msg.subject),
        date=msg.date, parent=msg.parent, references=msg.references,
        has_diff=bool(patch and patch.diff),
        change_id=extract_change_id(msg.header("X-Change-ID"), msg.body),
        links=extract_links(msg.body))


def facts_from_chunks(chunks: list[bytes]) -> list[PatchFact]:
    out = []
    for chunk in chunks:
        msg = parse(_UNESCAPE.sub(rb"\1", chunk))
        subject = SubjectInfo.parse(msg.subject)
        # Replies are kept: their links count for revision links (patchew's "Supersedes:").
        if subject.is_patch or subject.is_pull or "diff" in msg.body:
            out.append(fact_of(msg))
    return out


def read_mboxrd(data: bytes) -> list[bytes]:
    first, *rest = data.split(MBOXRD_SEP)
    return [first.split(b"\n", 1)[1], *rest]


def fixture(name: str) -> list[PatchFact]:
    return facts_from_chunks(read_mboxrd((DATA / name).read_bytes()))


def patchew(name: str) -> list[PatchFact]:
    path = CORPORA / "patchew" / name
    if not path.is_file():
        pytest.skip("the shared corpora are not beside the project")
    data = gzip.decompress(path.read_bytes())
    chunks = [c.split(b"\n", 1)[1] for c in _MBOX_FROM.split(data) if c.strip()]
    return facts_from_chunks(chunks)


@lru_cache(maxsize=1)
def _linux_clk() -> tuple[PatchFact, ...]:
    path = CORPORA / "lore" / "linux-clk-last10000.mboxrd.gz"
    return tuple(facts_from_chunks(read_mboxrd(gzip.decompress(path.read_bytes()))))


@pytest.fixture(scope="module")
def clk() -> tuple[tuple[PatchFact, ...], dict[str, SeriesGroup], list[tuple[str, str, str]]]:
    if not (CORPORA / "lore" / "linux-clk-last10000.mboxrd.gz").is_file():
        pytest.skip("the shared corpora are not beside the project")
    facts = _linux_clk()
    groups = group_series(facts)
    links = link_revisions(groups, {f.msgid: f for f in facts})
    return facts, {g.anchor: g for g in groups}, links


def by_anchor(facts: list[PatchFact]) -> dict[str, SeriesGroup]:
    return {g.anchor: g for g in group_series(facts)}


# --- helpers -----------------------------------------------------------------------------------

def test_extract_change_id() -> None:
    assert extract_change_id(" 20250812-glymur-clock-controller-v4-59887f028a7d ", "") == \
        "20250812-glymur-clock-controller-v4-59887f028a7d"
    body = "text\n---\nbase-commit: abc\nchange-id: 20240101-foo-0123456789ab\n\nBest regards,\n"
    assert extract_change_id("", body) == "20240101-foo-0123456789ab"
    assert extract_change_id("", "> change-id: quoted-from-a-review\n") == ""


@pytest.mark.parametrize(("body", "links"), [
    # b4's cover template.
    ("- Link to v3: https://lore.kernel.org/r/20250729-a-v3-0-227c@oss.example.com\n",
     ("20250729-a-v3-0-227c@oss.example.com",)),
    # The version on one line, the URL alone below it; /all/ form with a trailing slash.
    ("RFC patch link:\nhttps://lore.kernel.org/all/20260102085454.3439195-1-x@amd.com/\n",
     ("20260102085454.3439195-1-x@amd.com",)),
    ("v1: https://patch.msgid.link/abc%40example.org\n", ("abc@example.org",)),
    ("Supersedes: <20200110173215.3865-1-quintela@redhat.com>\n",
     ("20200110173215.3865-1-quintela@redhat.com",)),
    # Dependencies name other work, even when their Message-ID holds "-v5-".
    ("This series has a dependency on the GCC series posted\n"
     "https://lore.kernel.org/all/20250825-glymur-v5-v5-0-01b8@oss.example.com/\n", ()),
    ("Depends on v2: https://lore.kernel.org/r/dep@example.org\n", ()),
    # Links with no word about versions: a bug report, a discussion.
    ("Reported at https://lore.kernel.org/r/report@example.org\n", ()),
    ("> v1: https://lore.kernel.org/r/quoted@example.org\n", ()),
    # The line above a URL is the last one not blank; a quoted or overlong one says nothing.
    ("v1:\n\n   \n  https://lore.kernel.org/r/below@example.org\n", ("below@example.org",)),
    ("v1:\n> quoted\nhttps://lore.kernel.org/r/below@example.org\n", ()),
    ("v1:\n" + "x" * 3000 + "\nhttps://lore.kernel.org/r/below@example.org\n", ()),
    ("Depends on:\nhttps://lore.kernel.org/r/dep@example.org v1\n", ()),
])
def test_extract_links(body: str, links: tuple[str, ...]) -> None:
    assert extract_links(body) == links


def test_send_key() -> None:
    # git send-email and b4 Message-IDs of one run differ only in the counter.
    assert send_key("20250723110815.2865403-2-quic_varada@quicinc.com") == \
        send_key("20250723110815.2865403-1-quic_varada@quicinc.com")
    assert send_key("20250813-glymur-v4-v4-1-a408b390b22c@oss.qualcomm.com") == \
        send_key("20250813-glymur-v4-v4-0-a408b390b22c@oss.qualcomm.com")
    assert send_key("5792265A.5070507@redhat.com") == ""


# --- hand-made fixtures ------------------------------------------------------------------------

def test_out_of_order_arrival() -> None:
    # 3/3, 1/3, cover, 2/3 in the file; 2/3 dated before the cover. Threading decides.
    [group] = group_series(fixture("series-out-of-order.mbox"))
    assert group.anchor == group.cover == "out-of-order-0@example.org"
    assert group.patches == ((1, "out-of-order-1@example.org"), (2, "out-of-order-2@example.org"),
                             (3, "out-of-order-3@example.org"))
    assert (group.revision, group.total, group.complete, group.missing) == (2, 3, True, ())
    assert group.title == "clk: foo: rework"
    assert group.date == datetime(2024, 1, 2, 9, 59, 59)  # the earliest member, not the cover


def test_unthreaded_series() -> None:
    groups = by_anchor(fixture("series-unthreaded.mbox"))
    # Ada's 1/3, 2/3, 3/3 have no References; gaps of 5 h and 9 h chain into one series
    # though first and last are 14 h apart.
    ada = groups["unthreaded-a@example.org"]
    assert ada.patches == ((1, "unthreaded-a@example.org"), (2, "unthreaded-b@example.org"),
                           (3, "unthreaded-c@example.org"))
    assert ada.complete and ada.cover is None
    # Bob's two patches the same day are another sender's series, missing 3/3.
    bob = groups["unthreaded-other-1@example.net"]
    assert len(bob.patches) == 2 and bob.missing == (3,)
    # Ada's 1/3 two days later is a posting of its own.
    late = groups["unthreaded-late@example.org"]
    assert late.patches == ((1, "unthreaded-late@example.org"),) and late.missing == (2, 3)
    assert len(groups) == 3


def test_v2_in_reply_to_v1() -> None:
    facts = fixture("series-v2-in-reply-to-v1.mbox")
    groups = by_anchor(facts)
    # v2's cover answers v1's cover, and v2's patches carry v1's cover in References: the
    # revision differs, so v2 is a series of its own; the review reply is no member.
    v1, v2 = groups["v1-cover@example.org"], groups["v2-cover@example.org"]
    assert v1.patches == ((1, "v1-1@example.org"), (2, "v1-2@example.org"))
    assert v2.patches == ((1, "v2-1@example.org"), (2, "v2-2@example.org"))
    assert (v1.revision, v2.revision) == (1, 2)
    assert v1.complete and v2.complete
    # The partial reroll [PATCH v3 2/2], answering v2's 2/2: revision 3, only 2 of 2.
    v3 = groups["v3-2@example.org"]
    assert (v3.revision, v3.patches, v3.missing, v3.complete) == (
        3, ((2, "v3-2@example.org"),), (1,), False)
    assert len(groups) == 3
    links = link_revisions(list(groups.values()), {f.msgid: f for f in facts})
    # v1 and v2 share the change-id (header on v1, b4's line in v2's cover, which also links
    # v1); the v3 patch's title "clk: qux: add driver" is v2's cover title, from the same
    # sender: it follows v2.
    assert links == [("v1-cover@example.org", "v2-cover@example.org", "change-id"),
                     ("v2-cover@example.org", "v3-2@example.org", "title")]


def test_missing_patch_and_resend() -> None:
    [group] = group_series(fixture("series-missing-patch.mbox"))
    assert group.cover == "missing-0@example.org"
    # 3/4 never arrived; the second 2/4 an hour later is a duplicate, the first one stays.
    assert group.patches == ((1, "missing-1@example.org"), (2, "missing-2@example.org"),
                             (4, "missing-4@example.org"))
    assert (group.complete, group.missing) == (False, (3,))
    assert group.duplicates == ("missing-2-again@example.org",)


def _fact(msgid: str, subject: str, *, date: datetime | None = None, parent: str = "",
          sender: str = "a@example.org", diff: bool = True) -> PatchFact:
    return PatchFact(msgid, sender, SubjectInfo.parse(subject), date, parent,
                     (parent,) if parent else (), diff)


def test_single_patches_and_pull_requests() -> None:
    facts = [
        _fact("one@x", "[PATCH] clk: fix", date=datetime(2024, 1, 1)),
        _fact("pull@x", "[GIT PULL] clk fixes for 6.8", date=datetime(2024, 1, 1), diff=False),
        # A cover of one patch with its patch: one series (b4 sends these).
        _fact("c@x", "[PATCH 0/1] clk: one", date=datetime(2024, 1, 2), diff=False),
        _fact("p@x", "[PATCH 1/1] clk: one", date=datetime(2024, 1, 2), parent="c@x"),
        _fact("re@x", "Re: [PATCH] clk: fix", date=datetime(2024, 1, 3), parent="one@x"),
    ]
    groups = by_anchor(facts)
    assert set(groups) == {"one@x", "pull@x", "c@x"}
    assert groups["one@x"].patches == ((0, "one@x"),) and groups["one@x"].complete
    assert groups["pull@x"].is_pull and groups["pull@x"].patches == ((0, "pull@x"),)
    assert groups["c@x"].patches == ((1, "p@x"),) and groups["c@x"].complete


def test_duplicate_input_and_unknown_dates() -> None:
    facts = [_fact("a@x", "[PATCH 1/2] a"), _fact("a@x", "[PATCH 1/2] a"),
             _fact("b@x", "[PATCH 2/2] b", parent="a@x")]
    [group] = group_series(facts)
    assert group.patches == ((1, "a@x"), (2, "b@x")) and group.date is None


# --- order independence ------------------------------------------------------------------------

def _all_fixture_facts() -> list[PatchFact]:
    facts: list[PatchFact] = []
    for name in ("series-out-of-order.mbox", "series-unthreaded.mbox",
                 "series-v2-in-reply-to-v1.mbox", "series-missing-patch.mbox"):
        facts += fixture(name)
    return facts


_FIXTURE_FACTS = _all_fixture_facts()
_EXPECTED_GROUPS = group_series(_FIXTURE_FACTS)
_EXPECTED_LINKS = link_revisions(_EXPECTED_GROUPS, {f.msgid: f for f in _FIXTURE_FACTS})


@settings(max_examples=60, deadline=None)
@given(st.permutations(_FIXTURE_FACTS))
def test_any_order_gives_the_same_series(facts: list[PatchFact]) -> None:
    groups = group_series(facts)
    assert groups == _EXPECTED_GROUPS
    assert link_revisions(list(reversed(groups)), {f.msgid: f for f in facts}) == _EXPECTED_LINKS


def test_linux_clk_order_independent(clk: tuple) -> None:
    facts, groups, links = clk
    shuffled = sorted(facts, key=lambda f: f.msgid[::-1])
    again = group_series(shuffled)
    assert {g.anchor: g for g in again} == groups
    assert link_revisions(again[::-1], {f.msgid: f for f in shuffled}) == links


# --- linux-clk ---------------------------------------------------------------------------------

GLYMUR_V4 = "20250813-glymur-clock-controller-v4-v4-0-a408b390b22c@oss.qualcomm.com"


def test_glymur_v4(clk: tuple) -> None:
    _, groups, links = clk
    g = groups[GLYMUR_V4]
    # b4 threads patches 1..7 under the cover; all seven are in the archive.
    assert g.cover == GLYMUR_V4
    assert g.patches == tuple(
        (n, f"20250813-glymur-clock-controller-v4-v4-{n}-a408b390b22c@oss.qualcomm.com")
        for n in range(1, 8))
    assert (g.revision, g.total, g.complete) == (4, 7, True)
    assert g.sender == "taniya.das@oss.qualcomm.com"
    assert g.title == "Add support for Clock controllers for Glymur SoC"
    assert g.change_id == "20250812-glymur-clock-controller-v4-59887f028a7d"
    # Every revision got a new change-id; the covers' "Link to v3:" lines chain them, and v2
    # -> v3 (v3 does not link v2's actual posting) goes by the shared title.
    v2 = "20250724-glymur_clock_controllers-v2-0-ab95c07002b4@oss.qualcomm.com"
    v3 = "20250729-glymur-gcc-tcsrcc-rpmhcc-v3-0-227cfe5c8ef4@oss.qualcomm.com"
    v5 = "20250825-glymur-clock-controller-v5-v5-0-01b8c8681bcd@oss.qualcomm.com"
    assert (v2, v3, "title") in links
    assert (v3, GLYMUR_V4, "link") in links
    assert (GLYMUR_V4, v5, "link") in links
    # The display clock series says it depends on v5: that is no revision link.
    assert not [link for link in links if link[0] == v5 and "disp" in link[1]]


def test_glymur_display_v1_v2_by_change_id(clk: tuple) -> None:
    _, groups, links = clk
    v1 = "20250829-glymur-disp-clock-controllers-v1-0-0ce6fabd837c@oss.qualcomm.com"
    v2 = "20250903-glymur-disp-clock-controllers-v2-0-af174559aff5@oss.qualcomm.com"
    assert groups[v1].change_id == groups[v2].change_id == \
        "20250829-glymur-disp-clock-controllers-50f728887bae"
    assert groups[v1].complete and groups[v2].complete and len(groups[v2].patches) == 2
    assert (v1, v2, "change-id") in links


def test_interrupted_send_resumed_later(clk: tuple) -> None:
    _, groups, _ = clk
    # "[PATCH v3 00/19] Microchip OTPC ...": 01..07 (06 absent from linux-clk) sent at 14:37,
    # then 07..19 from another git send-email run at 15:44, In-Reply-To the same cover.
    cover = "20260120143759.904013-1-ada@thorsis.com"
    g = groups[cover]
    assert (g.revision, g.total, g.missing, g.complete) == (3, 19, (6,), False)
    assert [n for n, _ in g.patches] == [1, 2, 3, 4, 5] + list(range(7, 20))
    assert dict(g.patches)[7] == "20260120143759.904013-8-ada@thorsis.com"  # the earlier 07
    assert g.duplicates == ("20260120154502.1280938-1-ada@thorsis.com",)
    assert dict(g.patches)[8] == "20260120154502.1280938-2-ada@thorsis.com"


def test_version_forgotten_on_the_cover(clk: tuple) -> None:
    _, groups, _ = clk
    # "[PATCH 0/4] Enable cpufreq for IPQ5424" then "[PATCH v2 1/4]".."4/4", one git
    # send-email run (Message-IDs 20250723110815.2865403-N): one series, revision 2.
    g = groups["20250723110815.2865403-1-quic_varada@quicinc.com"]
    assert (g.revision, g.complete, len(g.patches)) == (2, True, 4)


def test_resend_of_two_patches_without_threading(clk: tuple) -> None:
    _, groups, _ = clk
    # "[RESEND PATCH v6 4/5]" and "5/5" sent 15 s apart, each alone with no References.
    g = groups["20251107013757.5013-1-zhangqing@rock-chips.com"]
    assert g.patches == ((4, "20251107013757.5013-1-zhangqing@rock-chips.com"),
                         (5, "20251107013812.5030-1-zhangqing@rock-chips.com"))
    assert (g.revision, g.missing) == (6, (1, 2, 3))


def test_patches_under_a_cover_from_another_list(clk: tuple) -> None:
    _, groups, _ = clk
    # "[PATCH 06/80]" and "[PATCH 07/80]": both In-Reply-To a cover sent to other lists only.
    g = groups["20250704075400.3217126-1-sakari.ailus@linux.intel.com"]
    assert [n for n, _ in g.patches] == [6, 7] and g.cover is None and g.total == 80


def test_patches_another_sender_sent_in_answer_to_the_cover(clk: tuple) -> None:
    _, groups, _ = clk
    # "[PATCH v18 00/16] rust: replace kernel::str::CStr w/ core::ffi::CStr": 01..11 from the
    # author, then 12..16 from a co-maintainer minutes later, each In-Reply-To the cover.
    g = groups["20251018-cstr-core-v18-0-ef3d02760804@gmail.com"]
    assert (g.revision, g.total, g.complete, g.sender) == (18, 16, True, "tamird@gmail.com")
    assert dict(g.patches)[12] == "20251018180303.3615403-1-aliceryhl@google.com"
    assert dict(g.patches)[16] == "20251018180552.3616793-1-aliceryhl@google.com"


def test_another_senders_patch_joins_only_a_cover_it_answers_with_its_revision() -> None:
    day = datetime(2024, 1, 1)
    facts = [
        _fact("c@x", "[PATCH v2 0/2] clk: two", date=day, diff=False),
        _fact("p1@x", "[PATCH v2 1/2] clk: one", date=day, parent="c@x"),
        _fact("q2@x", "[PATCH v2 2/2] clk: two", date=day, parent="c@x", sender="b@x"),
        # Another sender's patches answering a patch, or the cover with another revision, are
        # postings of their own.
        _fact("r2@x", "[PATCH v2 2/2] clk: other two", date=day, parent="p1@x", sender="b@x"),
        _fact("s1@x", "[PATCH 1/2] clk: other one", date=day, parent="c@x", sender="b@x"),
    ]
    groups = by_anchor(facts)
    assert groups["c@x"].patches == ((1, "p1@x"), (2, "q2@x")) and groups["c@x"].complete
    assert set(groups) == {"c@x", "r2@x", "s1@x"}


def test_linux_clk_whole_set(clk: tuple) -> None:
    facts, groups, links = clk
    members = [m for g in groups.values() for m in g.members]
    assert len(members) == len(set(members))  # a message is in one series at most
    replies = {f.msgid for f in facts if f.subject.is_reply}
    assert not replies & set(members)
    for g in groups.values():
        assert g.complete == (not g.missing)
        assert all(1 <= n <= g.total for n in g.missing)
    newer = [new for _, new, _ in links]
    assert len(newer) == len(set(newer))  # one predecessor per series
    for old, new, _ in links:  # links go from a lower revision, or the same one posted earlier
        a, b = groups[old], groups[new]
        assert (a.revision, a.date or datetime.min) <= (b.revision, b.date or datetime.min)


# --- patchew -----------------------------------------------------------------------------------

def test_patchew_multiple_patch_reviewed() -> None:
    facts = patchew("0004-multiple-patch-reviewed.mbox.gz")
    [g] = group_series(facts)
    assert g.cover == "1469192015-16487-1-git-send-email-berrange@redhat.com"
    assert g.patches == ((1, "1469192015-16487-2-git-send-email-berrange@redhat.com"),
                         (2, "1469192015-16487-3-git-send-email-berrange@redhat.com"))
    assert (g.revision, g.complete) == (4, True)


def test_patchew_supersedes_embedded() -> None:
    # "[PULL 00/29] ... (second try)" says "Supersedes: <...3865-1-quintela...>" in its body;
    # same revision, different title: only the explicit line links them.
    facts = patchew("0031-supersedes-embedded.mbox.gz")
    groups = group_series(facts)
    assert [g.anchor for g in groups] == ["20200110173215.3865-1-quintela@redhat.com",
                                          "20200114092606.1761-1-quintela@redhat.com"]
    assert all(g.is_pull and not g.complete for g in groups)  # covers only, no patches
    assert link_revisions(groups, {f.msgid: f for f in facts}) == [
        ("20200110173215.3865-1-quintela@redhat.com",
         "20200114092606.1761-1-quintela@redhat.com", "link")]


def test_patchew_supersedes_separate() -> None:
    # v5 0/4 and v6 0/8 differ in title and total; a reviewer's reply to v6 says
    # "Supersedes: <v5 cover>".
    facts = patchew("0032-supersedes-separate.mbox.gz")
    groups = group_series(facts)
    assert len(groups) == 2
    assert link_revisions(groups, {f.msgid: f for f in facts}) == [
        ("20191128104129.250206-1-slp@redhat.com", "20200108143138.129909-1-slp@redhat.com",
         "link")]


@pytest.mark.parametrize("name", ["0009-obsolete-by.mbox.gz", "0030-obsolete-by-v3.mbox.gz"])
def test_patchew_obsolete_by(name: str) -> None:
    # [PATCH], [PATCH v2], [PATCH v3] "quorum: Only compile when supported" by one sender;
    # in 0009 v3 is dated before v1: revisions decide, not dates.
    facts = patchew(name)
    groups = group_series(facts)
    assert sorted(g.revision for g in groups) == [1, 2, 3]
    assert link_revisions(groups, {f.msgid: f for f in facts}) == [
        ("20160628014747.20971-1-famz@redhat.com", "20160628014747.20971-2-famz@redhat.com",
         "title"),
        ("20160628014747.20971-2-famz@redhat.com", "20160628014747.20971-3-famz@redhat.com",
         "title")]
