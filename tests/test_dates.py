"""Broken Date headers from real lore mail (../shared/corpora/linux-duks-mlh/date_cases): the
expected value beside each message is what a person reading its Received: headers concludes."""

from __future__ import annotations

from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest

from listarchive.mail.message import parse

pytestmark = pytest.mark.pure


def cases(corpora):
    folder = corpora / "linux-duks-mlh" / "date_cases"
    for eml in sorted(folder.glob("*.eml")):
        expected = (folder / (eml.name[:-4] + ".date.pytest")).read_text().split("\n")[0].strip()
        yield eml, datetime.strptime(" ".join(expected.split()), "%a, %d %b %Y %H:%M:%S")


def test_broken_dates_are_flagged_and_fall_back_to_received(corpora):
    checked = flagged = 0
    for eml, expected in cases(corpora):
        parsed = parse(eml.read_bytes(), now=datetime(2025, 12, 21))
        assert parsed.date_raw or "bad-date" in parsed.flags
        # Expected values are local times without a zone: within a day of our UTC value.
        assert parsed.sort_date is not None, eml.name
        assert abs(parsed.sort_date - expected) <= timedelta(hours=14), (eml.name, parsed.sort_date)
        if "bad-date" in parsed.flags:
            flagged += 1
            # Kept raw for display, never used for ordering.
            assert parsed.date is None or not (datetime(1990, 1, 1) <= parsed.date
                                               <= datetime(2026, 1, 1)) or parsed.date_raw
        checked += 1
    assert checked >= 20
    # Dates in 2028-2085 (broken clocks) and a shell-command Date are flagged; years 100-104
    # (Y2K-era mailers printing years since 1900) are read as 2000-2004 and used.
    assert flagged == 6


@pytest.mark.parametrize("header", ["Mon, 18 Jun 2085 15:57:19 +0000", "Fri, 16 Mar 1985 16:12:03 -0800",
                                    "$(date -R)", ""])
def test_implausible_date_never_sorts(header):
    raw = (f"From: a@example.org\nMessage-ID: <d@example.org>\nDate: {header}\n\nx\n").encode()
    parsed = parse(raw, now=datetime(2025, 12, 21))
    assert "bad-date" in parsed.flags and parsed.sort_date is None


def test_good_dates_are_utc():
    raw = b"From: a@example.org\nMessage-ID: <d@example.org>\nDate: Fri, 5 Dec 2025 11:55:35 +0100\n\nx\n"
    parsed = parse(raw)
    assert parsed.date == parsedate_to_datetime("Fri, 5 Dec 2025 10:55:35 +0000").replace(tzinfo=None)
    assert parsed.date_ok and parsed.sort_date == parsed.date
