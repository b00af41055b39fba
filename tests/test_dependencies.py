"""b4's dependency lines read from a cover letter (table of what each form gives)."""

from __future__ import annotations

import pytest

from listarchive.mail.dependencies import Dependencies, parse_dependencies

pytestmark = pytest.mark.pure


def test_every_form() -> None:
    text = ("Cover.\n\nDepends-on: https://lore.kernel.org/r/20240101-a-v1-0-abc@kernel.org\n"
            "Depends-on: <x@example.org>\n---\nbase-commit: ABCDEF1234567\n"
            "prerequisite-patch-id: 0123456789abcdef0123456789abcdef01234567\n"
            "prerequisite-message-id: <x@example.org>\n"
            "prerequisite-message-id: 20240202-b@example.org\n"
            "prerequisite-change-id: 20240101-topic-abc123:v2\n"
            "base-commit: ffffffff\n"
            "prerequisite-patch-id: not hex\n")
    assert parse_dependencies(text) == Dependencies(
        "abcdef1234567", ("0123456789abcdef0123456789abcdef01234567",),
        ("20240101-a-v1-0-abc@kernel.org", "x@example.org", "20240202-b@example.org"),
        ("20240101-topic-abc123:v2",))


def test_nothing_and_bounds() -> None:
    assert not parse_dependencies("no dependency here\n> Depends-on: <quoted@x>\n")
    many = "".join(f"Depends-on: <m{n}@example.org>\n" for n in range(1000))
    assert len(parse_dependencies(many).message_ids) == 32
