"""Subject parsing, as a table of real subjects (source named) and the forms patch mail uses."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from listarchive.mail.subject import SubjectInfo

pytestmark = pytest.mark.pure

# (subject, title, prefixes, revision, counter, total, flags) where flags is a set of
# "patch", "rfc", "resend", "reply", "forward", "pull", "cover".
CASES = [
    # linux-clk (lore), modern git-send-email / b4 series
    ("[PATCH v3 27/28] misc: lan966x_pci: Sort the drivers list in Kconfig help",
     "misc: lan966x_pci: Sort the drivers list in Kconfig help", ("patch", "v3"), 3, 27, 28,
     {"patch"}),
    ("Re: [PATCH 01/20] bitfield: introduce HWORD_UPDATE bitfield macros",
     "bitfield: introduce HWORD_UPDATE bitfield macros", ("patch",), 1, 1, 20,
     {"patch", "reply"}),
    ("[PATCH 0/7] Add support for Clock controllers for Glymur",
     "Add support for Clock controllers for Glymur", ("patch",), 1, 0, 7, {"patch", "cover"}),
    ("Re: Re: Re: [PATCH v7 0/2] Add driver support for ESWIN eic700 SoC clock controller",
     "Add driver support for ESWIN eic700 SoC clock controller", ("patch", "v7"), 7, 0, 2,
     {"patch", "reply", "cover"}),
    ("Aw: Re: issue with [PATCH v6 06/27] clk: mediatek: clk-gate: Refactor "
     "mtk_clk_register_gate to use mtk_gate struct",
     "issue with [PATCH v6 06/27] clk: mediatek: clk-gate: Refactor mtk_clk_register_gate "
     "to use mtk_gate struct", (), 1, 0, 0, {"reply"}),
    ("回覆: [net-next v3 1/4] dt-bindings: net: ftgmac100: Add resets property",
     "dt-bindings: net: ftgmac100: Add resets property", ("net-next", "v3"), 3, 1, 4,
     {"patch", "reply"}),
    ("[REGRESSION] clk/clk-next: (build) ‘mtk_pll_round_rate’ undeclared here",
     "clk/clk-next: (build) ‘mtk_pll_round_rate’ undeclared here", ("regression",), 1, 0, 0,
     set()),
    # b4's thank-you mail
    ("Re: (subset) [PATCH v2 0/4] Add RPMh and TCSR clock support for Milos (SM7635)",
     "Add RPMh and TCSR clock support for Milos (SM7635)", ("patch", "v2"), 2, 0, 4,
     {"patch", "reply", "cover"}),
    ("[GIT PULL] clk: renesas: Updates for v6.17", "clk: renesas: Updates for v6.17",
     ("git", "pull"), 1, 0, 0, {"pull"}),
    # brackets inside the title are title, not prefixes
    ("[PATCH RESEND v2 1/3] dt-bindings: clock: imx6q[ul]-clock: add optional clock "
     "enet[1]_ref_pad", "dt-bindings: clock: imx6q[ul]-clock: add optional clock enet[1]_ref_pad",
     ("patch", "resend", "v2"), 2, 1, 3, {"patch", "resend"}),
    # patchew (qemu-devel, libvirt, edk2)
    ("Re: [Qemu-devel] [Qemu-block] [PATCH v6 3/4] blockdev: Add dynamic",
     "blockdev: Add dynamic", ("qemu-devel", "qemu-block", "patch", "v6"), 6, 3, 4,
     {"patch", "reply"}),
    ("[PULL 03/15] qapi: fix example of BLOCK_IMAGE_CORRUPTED event",
     "qapi: fix example of BLOCK_IMAGE_CORRUPTED event", ("pull",), 1, 3, 15, {"patch", "pull"}),
    ("[edk2] [staging/HTTPS-TLS][PATCH 1/2] Readme.MD: Clarify the", "Readme.MD: Clarify the",
     ("edk2", "staging/https-tls", "patch"), 1, 1, 2, {"patch"}),
    ("[libvirt]  [PATCH v2] vcpupin: add clear feature", "vcpupin: add clear feature",
     ("libvirt", "patch", "v2"), 2, 0, 0, {"patch"}),
    ("Re: [YYY-1.0 qemu-kvm PATCH v2 4/4] XYZ", "XYZ", ("yyy-1.0", "qemu-kvm", "patch", "v2"),
     2, 4, 4, {"patch", "reply"}),
    # linux-mips (1996-2003): forwards, Outlook prefixes, mutt's forward wrapper
    ("AW: Kernel 2.4.3 compile problem", "Kernel 2.4.3 compile problem", (), 1, 0, 0, {"reply"}),
    ("RE: RedHat7.1", "RedHat7.1", (), 1, 0, 0, {"reply"}),
    ("FW: SGI Indy R4600-133", "SGI Indy R4600-133", (), 1, 0, 0, {"forward"}),
    ("Re: [Fwd: Can't activate swap partitions]", "Can't activate swap partitions", (), 1, 0, 0,
     {"reply", "forward"}),
    ("Re: [ppopov@mvista.com: Re: [Linux-mips-kernel]ioremap & ISA]", "ioremap & ISA",
     ("linux-mips-kernel",), 1, 0, 0, {"reply", "forward"}),
    ("Re: [patch] 2.4.5 and earlier: Mysterious lock-ups resolved",
     "2.4.5 and earlier: Mysterious lock-ups resolved", ("patch",), 1, 0, 0, {"patch", "reply"}),
    ("ご提携の件", "ご提携の件", (), 1, 0, 0, set()),
    # hand-made: the forms named in the issue and other odd ones
    ("Re: [GIT PULL v2] clk changes", "clk changes", ("git", "pull", "v2"), 2, 0, 0,
     {"pull", "reply"}),
    ("[PATCH net-next v2 0/5] net: stmmac: cleanups", "net: stmmac: cleanups",
     ("patch", "net-next", "v2"), 2, 0, 5, {"patch", "cover"}),
    ("[PATCH v2 RESEND] clk: y", "clk: y", ("patch", "v2", "resend"), 2, 0, 0,
     {"patch", "resend"}),
    ("[PATCH 5.10 1/2] clk: stable backport", "clk: stable backport", ("patch", "5.10"), 1, 1, 2,
     {"patch"}),
    ("[PATCH v3 2/7] clk: foo", "clk: foo", ("patch", "v3"), 3, 2, 7, {"patch"}),
    ("[RFC PATCH 1/2] clk: rfc", "clk: rfc", ("rfc", "patch"), 1, 1, 2, {"patch", "rfc"}),
    ("[PATCH 1 of 3] hg patchbomb", "hg patchbomb", ("patch",), 1, 1, 3, {"patch"}),
    ("PATCH1/8 mips: old style", "mips: old style", ("patch",), 1, 1, 8, {"patch"}),
    ("RFC PATCH 2/3: mips: bare rfc", "mips: bare rfc", ("rfc", "patch"), 1, 2, 3,
     {"patch", "rfc"}),
    ("[PATCH] [RFC] two brackets", "two brackets", ("patch", "rfc"), 1, 0, 0, {"patch", "rfc"}),
    ("net: fix the thing (v2)", "net: fix the thing (v2)", (), 2, 0, 0, set()),
    ("[PATCH [v2] 1/3] nested brackets", "nested brackets", ("patch", "v2"), 2, 1, 3, {"patch"}),
    ("[PATCH v2 1/3 never closed", "[PATCH v2 1/3 never closed", (), 1, 0, 0, set()),
    ("[PATCH 00/10] zero padded cover", "zero padded cover", ("patch",), 1, 0, 10,
     {"patch", "cover"}),
    ("[PATCH v2 03/10] zero padded", "zero padded", ("patch", "v2"), 2, 3, 10, {"patch"}),
    ("[PATCHv3] glued", "glued", ("patchv3",), 3, 0, 0, {"patch"}),
    ("[PATCHv2 2/4] glued counter", "glued counter", ("patchv2",), 2, 2, 4, {"patch"}),
    ("[PATCH V2] capital v", "capital v", ("patch", "v2"), 2, 0, 0, {"patch"}),
    ("[PATCH v2,1/3] comma", "comma", ("patch", "v2"), 2, 1, 3, {"patch"}),
    ("Re[2]: SV: Antw: [PATCH] many replies", "many replies", ("patch",), 1, 0, 0,
     {"patch", "reply"}),
    ("git pull request for mips-2.6.17", "git pull request for mips-2.6.17", (), 1, 0, 0,
     {"pull"}),
    ("Re:", "", (), 1, 0, 0, {"reply"}),
    ("", "", (), 1, 0, 0, set()),
    ("]]][[[", "]]][[[", (), 1, 0, 0, set()),
]


@pytest.mark.parametrize(("subject", "title", "prefixes", "revision", "counter", "total",
                          "flags"), CASES, ids=[c[0][:50] for c in CASES])
def test_subject_table(subject: str, title: str, prefixes: tuple[str, ...], revision: int,
                       counter: int, total: int, flags: set[str]) -> None:
    info = SubjectInfo.parse(subject)
    assert info.subject == subject
    assert info.title == title
    assert info.prefixes == prefixes
    assert (info.revision, info.counter, info.total) == (revision, counter, total)
    got = {name for name, on in (("patch", info.is_patch), ("rfc", info.is_rfc),
                                 ("resend", info.is_resend), ("reply", info.is_reply),
                                 ("forward", info.is_forward), ("pull", info.is_pull),
                                 ("cover", info.is_cover)) if on}
    assert got == flags


@pytest.mark.parametrize(("a", "b"), [
    ("[PATCH v1 2/5] clk: qcom: Add  GCC driver", "[PATCH v2 2/6] clk: qcom: add gcc driver"),
    ("Re: [PATCH] mips: fix (v2)", "[PATCH v3] MIPS: fix."),
    ("[PATCH RESEND] x: y [RESEND]", "[PATCH] X: Y"),
])
def test_normalized_title_matches_revisions(a: str, b: str) -> None:
    assert SubjectInfo.parse(a).normalized_title() == SubjectInfo.parse(b).normalized_title()


def test_normalized_title_keeps_distinct_work_apart() -> None:
    a = SubjectInfo.parse("[PATCH 1/2] clk: qcom: add gcc driver")
    b = SubjectInfo.parse("[PATCH 2/2] clk: qcom: add gpu driver")
    assert a.normalized_title() != b.normalized_title()


@given(st.text(max_size=300))
def test_parse_never_raises(subject: str) -> None:
    info = SubjectInfo.parse(subject)
    assert info.revision >= 1
    assert info.counter >= 0 and info.total >= 0


@given(st.lists(st.sampled_from(["[", "]", "Re:", "[PATCH", "v2", "1/2", " ", "Fwd:", "(v3)",
                                 "[a@b: ", "PATCH", "of", "3"]), max_size=40))
def test_parse_never_raises_on_bracket_soup(parts: list[str]) -> None:
    SubjectInfo.parse("".join(parts))
