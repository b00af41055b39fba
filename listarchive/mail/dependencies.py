"""What a series says it needs, in b4's words: ``base-commit:``, ``prerequisite-patch-id:``,
``prerequisite-message-id:``, ``prerequisite-change-id:`` (``b4 prep`` writes them at the end
of the cover letter, ``git format-patch --base`` the first two), and ``Depends-on:`` lines
(a Message-ID in ``<>`` or a lore-style URL ending in one). At most :data:`MAX_DEPENDENCIES`
of each kind are read, from the first :data:`MAX_LINES` lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

MAX_DEPENDENCIES = 32
MAX_LINES = 5_000
_LINE_RE = re.compile(r"^(base-commit|prerequisite-patch-id|prerequisite-message-id|"
                      r"prerequisite-change-id|depends-on):[ \t]*(\S.*?)\s*$", re.I)
_HEX_RE = re.compile(r"^[0-9a-f]{7,64}$")
_URL_RE = re.compile(r"^https?://[^/\s]+/(?:[^/\s]+/)*?(?:r/)?([^/\s<>]+@[^/\s<>]+?)/?$")


@dataclass(frozen=True)
class Dependencies:
    base_commit: str = ""
    patch_ids: tuple[str, ...] = ()
    message_ids: tuple[str, ...] = ()  # prerequisite-message-id and Depends-on, in order
    change_ids: tuple[str, ...] = ()  # as written: "20240101-topic-abc123" or with ":v2"

    def __bool__(self) -> bool:
        return bool(self.base_commit or self.patch_ids or self.message_ids or self.change_ids)


def _msgid(value: str) -> str:
    value = value.strip()
    if value.startswith("<") and ">" in value:
        return value[1:value.index(">")].strip()
    found = _URL_RE.match(value)
    if found:
        return unquote(found.group(1))
    return value if "@" in value and " " not in value else ""


def parse_dependencies(text: str) -> Dependencies:
    """The dependencies a cover letter (or a lone patch's message) states."""
    base = ""
    found: dict[str, list[str]] = {"patch": [], "message": [], "change": []}
    for line in text.splitlines()[:MAX_LINES]:
        match = _LINE_RE.match(line)
        if match is None:
            continue
        key, value = match.group(1).lower(), match.group(2)
        if key == "base-commit":
            base = value.lower() if _HEX_RE.match(value.lower()) and not base else base
            continue
        kind = {"prerequisite-patch-id": "patch", "prerequisite-change-id": "change"}.get(
            key, "message")
        if kind == "patch":
            value = value.lower() if _HEX_RE.match(value.lower()) else ""
        elif kind == "message":
            value = _msgid(value)
        if value and value not in found[kind] and len(found[kind]) < MAX_DEPENDENCIES:
            found[kind].append(value[:255])
    return Dependencies(base, tuple(found["patch"]), tuple(found["message"]),
                        tuple(found["change"]))
