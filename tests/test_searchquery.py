from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from listarchive.errors import QueryError
from listarchive.search.queryparser import parse_query
from listarchive.search.querytree import (
    And,
    DateRange,
    Flag,
    Not,
    Or,
    Phrase,
    Prefix,
    Term,
    describe,
)

pytestmark = pytest.mark.pure

NOW = datetime(2024, 3, 15, 12, 30, 0)


def T(text: str, field: str = "text") -> Term:
    return Term(field, text)


PARSES = [
    ("clk", T("clk")),
    ("clk qcom", And((T("clk"), T("qcom")))),
    ("clk AND qcom", And((T("clk"), T("qcom")))),
    ("clk OR qcom", Or((T("clk"), T("qcom")))),
    # AND binds tighter than OR, as in boolean logic and Xapian
    ("a b OR c", Or((And((T("a"), T("b"))), T("c")))),
    ("a (b OR c)", And((T("a"), Or((T("b"), T("c")))))),
    ("a -b", And((T("a"), Not(T("b"))))),
    ("a NOT b", And((T("a"), Not(T("b"))))),
    ("a NOT NOT b", And((T("a"), T("b")))),
    ("a -(b c)", And((T("a"), Not(And((T("b"), T("c"))))))),
    ("+a", T("a")),
    ('"fix leak"', Phrase("text", ("fix", "leak"))),
    ('"  single  "', T("single")),
    ('s:"fix a leak"', Phrase("subject", ("fix", "a", "leak"))),
    ("s:regression", T("regression", "subject")),
    ("f:sboyd@kernel.org", T("sboyd@kernel.org", "from")),
    ("t:linux-clk@vger.kernel.org", T("linux-clk@vger.kernel.org", "to")),
    ("c:someone", T("someone", "cc")),
    ("a:someone", T("someone", "address")),
    ("b:devm_clk_get", T("devm_clk_get", "body")),
    ("bs:leak", T("leak", "subject_body")),
    ("nq:leak", T("leak", "nonquoted")),
    ("q:leak", T("leak", "quoted")),
    ("m:<20240101.abc@host.example>", T("20240101.abc@host.example", "msgid")),
    ("m:abc@host", T("abc@host", "msgid")),
    ("dfn:drivers/clk/", T("drivers/clk/", "diff_file")),
    ("dfa:old_name", T("old_name", "diff_removed")),
    ("dfb:pci_enable_device", T("pci_enable_device", "diff_added")),
    ("dfhh:probe", T("probe", "diff_hunk")),
    ("patchid:ABCDEF0123", T("abcdef0123", "patchid")),
    ("l:Linux-CLK", Flag("list", "linux-clk")),
    ('subsystem:"COMMON CLK  FRAMEWORK"', Flag("subsystem", "COMMON CLK FRAMEWORK")),
    ("state:new", Flag("state", "new")),
    ("state:changes-requested", Flag("state", "changes-requested")),
    ("is:patch", Flag("is", "patch")),
    ("is:Reply", Flag("is", "reply")),
    ("has:Reviewed-by", Flag("has", "reviewed-by")),
    ("qcom*", Prefix("text", "qcom")),
    ("dfn:drivers/clk/qc*", Prefix("diff_file", "drivers/clk/qc")),
    ("s:(clk OR qcom*) fix", And((Or((T("clk", "subject"), Prefix("subject", "qcom"))),
                                   T("fix")))),
    ("s:(a f:b)", And((T("a", "subject"), T("b", "from")))),
    # pasted subjects: a word ending in a colon is the word
    ("clk: qcom: fix", And((T("clk"), T("qcom"), T("fix")))),
    ("https://lore.kernel.org/x", T("https://lore.kernel.org/x")),
    ("v6.1-rc3", T("v6.1-rc3")),
    ("reviewed-by", T("reviewed-by")),
    ('"say \\"hi\\""', Phrase("text", ("say", '"hi"'))),
    ("or and not", And((T("or"), T("and"), T("not")))),
    ("is:patch -has:reviewed-by", And((Flag("is", "patch"), Not(Flag("has", "reviewed-by"))))),
]


@pytest.mark.parametrize("text,expected", PARSES, ids=[p[0] for p in PARSES])
def test_parse_table(text: str, expected: object) -> None:
    assert parse_query(text, NOW) == expected


DATES = [
    ("d:2024-01-01..2024-02-01", datetime(2024, 1, 1), datetime(2024, 2, 2)),
    ("d:20240101..20240201", datetime(2024, 1, 1), datetime(2024, 2, 2)),
    ("d:2024-01-05", datetime(2024, 1, 5), datetime(2024, 1, 6)),
    ("d:2024-01-05..", datetime(2024, 1, 5), None),
    ("d:..2023-12-31", None, datetime(2024, 1, 1)),
    ("d:20240101123000..", datetime(2024, 1, 1, 12, 30), None),
    ("d:..2024-01-01T08:15", None, datetime(2024, 1, 1, 8, 15)),
    ("d:2.weeks.ago..", datetime(2024, 3, 1, 12, 30), None),
    ("d:1.week.ago..", datetime(2024, 3, 8, 12, 30), None),
    ("d:3.days.ago", datetime(2024, 3, 12), datetime(2024, 3, 13)),
    ("d:3.days.ago..yesterday", datetime(2024, 3, 12, 12, 30), datetime(2024, 3, 15)),
    ("d:last.month..", datetime(2024, 2, 15, 12, 30), None),
    ("d:2.months.ago..last.month", datetime(2024, 1, 15, 12, 30), datetime(2024, 2, 15, 12, 30)),
    ("d:1.year.ago..", datetime(2023, 3, 15, 12, 30), None),
    ("d:6.hours.ago..now", datetime(2024, 3, 15, 6, 30), NOW),
    ("d:yesterday", datetime(2024, 3, 14), datetime(2024, 3, 15)),
    ("d:today", datetime(2024, 3, 15), datetime(2024, 3, 16)),
    ("d:yesterday..", datetime(2024, 3, 14), None),
]


@pytest.mark.parametrize("text,start,end", DATES, ids=[d[0] for d in DATES])
def test_dates_relative_to_a_fixed_now(text: str, start: datetime | None,
                                       end: datetime | None) -> None:
    assert parse_query(text, NOW) == DateRange(start, end)


def test_month_arithmetic_clamps_the_day() -> None:
    may31 = datetime(2024, 5, 31, 10, 0)
    assert parse_query("d:3.months.ago..", may31) == DateRange(datetime(2024, 2, 29, 10, 0), None)


ERRORS = [
    ("", "empty query", 0),
    ("   ", "empty query", 0),
    ("-clk", "at least one term to find", 0),
    ("NOT clk", "at least one term to find", 0),
    ("a OR -b", "at least one term to find", 0),
    ("(a", "'(' is never closed", 0),
    ("a (b OR c", "'(' is never closed", 2),
    ("a b)", "')' without '('", 3),
    ("()", "empty parentheses", 0),
    ('"unclosed phrase', "unclosed quote", 0),
    ("foo zz:bar", "unknown prefix zz:", 4),
    ("s: fix", "nothing after s:", 0),
    ("d:2024-13-01", "bad date", 0),
    ("x d:yesterday..2.weeks.ago", "ends before it starts", 2),
    ("d:..", "at least one side", 0),
    ("d:soon", "bad date", 0),
    ("ab*", "too short", 0),
    ("fix s:qc*", "too short", 4),
    ("a*b", "only at the end", 0),
    ("l:linux*", "wildcards do not work", 0),
    ("m:abc*", "wildcards do not work", 0),
    ("is:banana", "is: takes one of", 0),
    ("state:merged", "state: takes one of", 0),
    ("has:Reviewed_by!", "trailer name", 0),
    ("patchid:xyz", "hexadecimal", 0),
    ("a OR", "OR needs a term on both sides", 2),
    ("OR a", "OR needs a term on both sides", 0),
    ("a AND OR b", "AND needs a term on both sides", 2),
    ("a -", "nothing after '-'", 2),
    ("a NOT", "nothing to exclude after NOT", 2),
    ("x" * 16001, "longer than 16000 characters", 16000),
    (" ".join(["w"] * 301), "too many terms", 600),
    ("(" * 20 + "a" + ")" * 20, "nested too deeply", 16),
    ("a " + "-" * 30 + "b", "nested too deeply", 18),
]


@pytest.mark.parametrize("text,message,position", ERRORS, ids=[e[0][:30] for e in ERRORS])
def test_errors_say_what_and_where(text: str, message: str, position: int) -> None:
    with pytest.raises(QueryError) as info:
        parse_query(text, NOW)
    assert message in str(info.value)
    assert info.value.position == position
    assert f"at character {position + 1}" in str(info.value)


def test_sixty_four_terms_are_allowed() -> None:
    query = parse_query(" ".join(f"w{i}" for i in range(64)), NOW)
    assert isinstance(query, And) and len(query.items) == 64


def test_b4_review_query_of_a_long_series_is_allowed() -> None:
    """b4 am asks for the reviews of all the patches of a series in one query."""
    text = " OR ".join(f"patchid:{i:040x}" for i in range(300))
    query = parse_query(text, NOW)
    assert len(getattr(query, "items", ())) == 300


RENDERS = [
    ("clk qcom", "clk qcom"),
    ("a b OR c", "(a b) OR c"),
    ("a (b OR c) -d", "a (b OR c) -d"),
    ('s:"fix leak" f:x@y.org', 's:"fix leak" f:x@y.org'),
    ('subsystem:"COMMON CLK FRAMEWORK"', 'subsystem:"COMMON CLK FRAMEWORK"'),
    ("d:2024-01-01..2024-02-01", "d:2024-01-01..2024-02-01"),
    ("d:yesterday", "d:2024-03-14"),
    ("d:2.weeks.ago..", "d:20240301123000.."),
    ("s:(clk OR qcom*)", "s:clk OR s:qcom*"),
    ("-(a b) c", "-(a b) c"),
    ("clk: fix", "clk fix"),
]


@pytest.mark.parametrize("text,rendered", RENDERS, ids=[r[0] for r in RENDERS])
def test_describe_renders_back_and_reparses(text: str, rendered: str) -> None:
    query = parse_query(text, NOW)
    assert describe(query) == rendered == str(query)
    assert parse_query(rendered, NOW) == query


_ALPHABET = st.sampled_from(list('abcXYZ019 :-+*"()\\.@/_\t\n') + ["OR", "AND", "NOT", "s:",
                                                                     "d:", "is:", "dfn:", "..",
                                                                     "é", "\x00"])


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=120), st.lists(_ALPHABET, max_size=60).map("".join)))
def test_only_query_errors_escape(text: str) -> None:
    try:
        query = parse_query(text, NOW)
    except QueryError as exc:
        assert exc.position is not None and 0 <= exc.position <= max(len(text), 1000)
        return
    # whatever parses renders to text that parses to the same tree
    assert parse_query(describe(query), NOW) == query
