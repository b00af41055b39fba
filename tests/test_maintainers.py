"""MAINTAINERS parsing and path matching, on the real Linux 6.1 file and its tree's paths.

Expected answers were read off the MAINTAINERS text by hand; each test says which lines decide.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest

from listarchive.mail.maintainers import (
    Subsystem,
    SubsystemMatcher,
    _required_literal,
    parse_maintainers,
)

pytestmark = pytest.mark.pure

KERNEL = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "kernel"


@lru_cache(maxsize=1)
def _real() -> tuple[tuple[Subsystem, ...], SubsystemMatcher]:
    subsystems = parse_maintainers((KERNEL / "MAINTAINERS").read_text(encoding="utf-8"))
    return subsystems, SubsystemMatcher(subsystems)


@pytest.fixture
def real() -> tuple[tuple[Subsystem, ...], SubsystemMatcher]:
    if not (KERNEL / "MAINTAINERS").is_file():
        pytest.skip("the shared corpora are not beside the project")
    return _real()


@pytest.fixture
def matcher(real: tuple[tuple[Subsystem, ...], SubsystemMatcher]) -> SubsystemMatcher:
    return real[1]


def names(matcher: SubsystemMatcher, *paths: str) -> list[str]:
    return [m.name for m in matcher.match(paths)]


# --- parsing -----------------------------------------------------------------------------------

def test_real_file_sections(real: tuple[tuple[Subsystem, ...], SubsystemMatcher]) -> None:
    subsystems, _ = real
    by_name = {s.name: s for s in subsystems}
    # The prose header ("List of maintainers ...", the indented tag descriptions) is no section;
    # the first real one is "3C59X NETWORK DRIVER" and the last is THE REST.
    assert subsystems[0].name == "3C59X NETWORK DRIVER"
    assert subsystems[-1].name == "THE REST"
    assert len(by_name) == len(subsystems)  # names are unique in 6.1
    # grep -c '^F:' gives 6941: every F: line lands in some section (one uses spaces, not a tab).
    assert sum(len(s.files) for s in subsystems) == 6941
    clk = by_name["COMMON CLK FRAMEWORK"]
    assert clk == Subsystem(
        name="COMMON CLK FRAMEWORK", status="Maintained", lists=("linux-clk@vger.kernel.org",),
        maintainers=("Michael Turquette <mturquette@baylibre.com>", "Stephen Boyd <sboyd@kernel.org>"),
        files=("Documentation/devicetree/bindings/clock/", "drivers/clk/", "include/dt-bindings/clock/",
               "include/linux/clk-pr*", "include/linux/clk/", "include/linux/of_clk.h"),
        excludes=("drivers/clk/clkdev.c",),
        trees=("git git://git.kernel.org/pub/scm/linux/kernel/git/clk/linux.git",),
        patchwork=("http://patchwork.kernel.org/project/linux-clk/list/",))
    # L: remark "(moderated for non-subscribers)" is dropped, only the address is kept.
    assert by_name["ARM/CLKDEV SUPPORT"].lists == ("linux-arm-kernel@lists.infradead.org",)
    # R: remarks dropped: "Paulo Alcantara <pc@cjr.nz> (DFS, global name space)".
    cifs = by_name["COMMON INTERNET FILE SYSTEM CLIENT (CIFS and SMB3)"]
    assert cifs.reviewers[0] == "Paulo Alcantara <pc@cjr.nz>"
    assert by_name["TEGRA ARCHITECTURE SUPPORT"].regexes == ("[^a-z]tegra",)


def test_parse_tolerates_junk() -> None:
    text = (
        "Some prose\nwith\tM: tag-like text\n\n"
        "F:\torphan/field/without/title\n\n"
        "A TITLE WITH NOTHING BELOW\n\n"
        "FOO DRIVER\n"
        "M:\tAda Lovelace <ada@example.org>\n"
        "M:  bare@example.org\n"  # spaces instead of a tab
        "L:\tfoo@lists.example.org (moderated for non-subscribers)\n"
        "S:\tMaintained\n"
        "F:      drivers/foo/\n"
        "C:\tirc://example.org/foo\n"  # tags we do not keep are skipped
        "Z:\t\n"
        "BAR\n"
        "F:\tbar.c\n"  # no blank line between sections: a title line still starts one
    )
    subs = parse_maintainers(text)
    assert [s.name for s in subs] == ["FOO DRIVER", "BAR"]
    foo = subs[0]
    assert foo.maintainers == ("Ada Lovelace <ada@example.org>", "bare@example.org")
    assert foo.lists == ("foo@lists.example.org",)
    assert foo.files == ("drivers/foo/",)
    assert subs[1].files == ("bar.c",)
    assert parse_maintainers("") == ()


@pytest.mark.parametrize(("pattern", "literal"), [
    ("[^a-z]tegra", "tegra"),      # the class is not literal, the rest must appear
    ("bcm[9]?63138", "63138"),
    ("bcm113*", "bcm11"),          # "3*" may be empty
    ("asm/elf.h", "asm/elf"),      # "." is any character
    ("a|b", ""),                   # alternation: no single substring is required
])
def test_required_literal(pattern: str, literal: str) -> None:
    assert _required_literal(pattern) == literal


# --- matching on the real file -----------------------------------------------------------------

def test_qualcomm_clock_driver(matcher: SubsystemMatcher) -> None:
    # QUALCOMM CLOCK DRIVERS "F: drivers/clk/qcom/" (3 components, literal) and ARM/QUALCOMM
    # SUPPORT "F: drivers/*/qcom/" (3, glob) outrank COMMON CLK FRAMEWORK "F: drivers/clk/" (2);
    # THE REST ("F: */") is last.
    got = matcher.match(["drivers/clk/qcom/gcc-sm8550.c"])
    assert [(m.name, m.specificity) for m in got] == [
        ("QUALCOMM CLOCK DRIVERS", 3), ("ARM/QUALCOMM SUPPORT", 3),
        ("COMMON CLK FRAMEWORK", 2), ("THE REST", -1)]
    assert matcher.reviewers(["drivers/clk/qcom/gcc-sm8550.c"]) == (
        "Bjorn Andersson <andersson@kernel.org>", "Andy Gross <agross@kernel.org>",
        "Konrad Dybcio <konrad.dybcio@somainline.org>",
        "Michael Turquette <mturquette@baylibre.com>", "Stephen Boyd <sboyd@kernel.org>")


def test_dt_bindings_header(matcher: SubsystemMatcher) -> None:
    # "include/dt-bindings/*/qcom*" and "include/dt-bindings/clock/qcom,*" both count 4; COMMON
    # CLK "include/dt-bindings/clock/" 3; OPEN FIRMWARE ... "include/dt-bindings/" 2.
    got = matcher.match(["include/dt-bindings/clock/qcom,sm8550-gcc.h"])
    assert [(m.name, m.specificity) for m in got] == [
        ("ARM/QUALCOMM SUPPORT", 4), ("QUALCOMM CLOCK DRIVERS", 4), ("COMMON CLK FRAMEWORK", 3),
        ("OPEN FIRMWARE AND FLATTENED DEVICE TREE BINDINGS", 2), ("THE REST", -1)]


def test_dt_binding_document_is_excluded_from_documentation(matcher: SubsystemMatcher) -> None:
    # DOCUMENTATION has "F: Documentation/" but "X: Documentation/devicetree/": a binding
    # schema goes to the clock and DT people, not to the docs maintainer.
    got = names(matcher, "Documentation/devicetree/bindings/clock/qcom,sm8550-gcc.yaml")
    assert got[:3] == ["ARM/QUALCOMM SUPPORT", "QUALCOMM CLOCK DRIVERS", "COMMON CLK FRAMEWORK"]
    assert "DOCUMENTATION" not in got
    assert "DOCUMENTATION" in names(matcher, "Documentation/process/submitting-patches.rst")


def test_excluded_file(matcher: SubsystemMatcher) -> None:
    # COMMON CLK FRAMEWORK has "X: drivers/clk/clkdev.c"; ARM/CLKDEV SUPPORT names that file.
    assert names(matcher, "drivers/clk/clkdev.c") == ["ARM/CLKDEV SUPPORT", "THE REST"]
    assert "COMMON CLK FRAMEWORK" in names(matcher, "drivers/clk/clk.c")


def test_dir_star_is_one_level_only(matcher: SubsystemMatcher) -> None:
    # I2C SUBSYSTEM has "F: drivers/i2c/*": drivers/i2c/i2c-core-base.c but not busses/;
    # those belong to I2C SUBSYSTEM HOST DRIVERS ("F: drivers/i2c/busses/").
    assert names(matcher, "drivers/i2c/i2c-core-base.c")[0] == "I2C SUBSYSTEM"
    busses = names(matcher, "drivers/i2c/busses/i2c-i801.c")
    assert "I2C SUBSYSTEM" not in busses
    # "F: drivers/i2c/busses/i2c-i801.c" (4 components, a file) beats the directory (3).
    assert busses[:2] == ["I2C/SMBUS CONTROLLER DRIVERS FOR PC", "I2C SUBSYSTEM HOST DRIVERS"]


def test_glob_in_file_name(matcher: SubsystemMatcher) -> None:
    # 3CR990 NETWORK DRIVER: "F: drivers/net/ethernet/3com/typhoon*".
    assert names(matcher, "drivers/net/ethernet/3com/typhoon.c")[0] == "3CR990 NETWORK DRIVER"
    assert "3CR990 NETWORK DRIVER" not in names(matcher, "drivers/net/ethernet/3com/3c59x.c")


def test_regex_n_pattern(matcher: SubsystemMatcher) -> None:
    # TEGRA ARCHITECTURE SUPPORT "N: [^a-z]tegra": any path with "tegra" after a non-letter,
    # ranked below F: matches; "integrator" has a letter before "tegra" and does not match.
    got = matcher.match(["drivers/clk/tegra/clk-tegra210.c"])
    tegra = [m for m in got if m.name == "TEGRA ARCHITECTURE SUPPORT"]
    assert tegra and tegra[0].specificity == 0
    assert got[-1].name == "THE REST"
    assert "TEGRA ARCHITECTURE SUPPORT" not in names(
        matcher, "Documentation/devicetree/bindings/arm/arm,integrator.yaml")


def test_top_level_file_and_the_rest(matcher: SubsystemMatcher) -> None:
    # THE REST's "F: *" covers top-level files; KERNEL BUILD names "Makefile" (1 component).
    assert [(m.name, m.specificity) for m in matcher.match(["Makefile"])] == [
        ("KERNEL BUILD + files below scripts/ (unless maintained elsewhere)", 1),
        ("THE REST", -1)]
    # Nothing else covers CREDITS: the catch-all people are offered then.
    assert names(matcher, "CREDITS") == ["THE REST"]
    assert matcher.reviewers(["CREDITS"]) == ("Linus Torvalds <torvalds@linux-foundation.org>",)


def test_several_paths(matcher: SubsystemMatcher) -> None:
    # A clock patch with its binding: COMMON CLK covers both paths, QUALCOMM CLOCK DRIVERS both
    # (driver dir + "Documentation/devicetree/bindings/clock/qcom,*"), the DT section only one.
    paths = ["drivers/clk/qcom/gcc-sm8550.c",
             "Documentation/devicetree/bindings/clock/qcom,sm8550-gcc.yaml"]
    got = {m.name: m for m in matcher.match(paths)}
    assert got["COMMON CLK FRAMEWORK"].paths == tuple(paths)
    assert got["COMMON CLK FRAMEWORK"].specificity == 4
    assert got["OPEN FIRMWARE AND FLATTENED DEVICE TREE BINDINGS"].paths == (paths[1],)
    assert matcher.match([]) == ()


def test_every_real_path(matcher: SubsystemMatcher) -> None:
    paths = (KERNEL / "FILES").read_text(encoding="utf-8").split()
    assert len(paths) == 78635
    for path in paths:
        got = matcher.match([path])
        got_names = [m.name for m in got]
        # THE REST covers everything ("*" top level, "*/" below) and always ranks last.
        assert got_names[-1] == "THE REST", path
        specs = [m.specificity for m in got]
        assert specs == sorted(specs, reverse=True), path
        if path.startswith("drivers/clk/") and path != "drivers/clk/clkdev.c":
            assert "COMMON CLK FRAMEWORK" in got_names, path
        if path.startswith("Documentation/devicetree/"):
            assert "DOCUMENTATION" not in got_names, path
