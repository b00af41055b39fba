"""Trailers (``Reviewed-by:``, ``Fixes:``, any ``X-by:``) in a commit message or a review reply.

Only the reviewer's own text counts: quoted lines (``> Reviewed-by: ...``) are someone else's,
and nothing after the signature (``-- ``), a ``---`` separator or the start of a diff is looked
at. For a patch mail pass its commit message (:attr:`listarchive.mail.patches.PatchInfo.commit_message`);
for a reply pass the body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import parseaddr

from listarchive.mail.message import Address
from listarchive.mail.patches import starts_diff

# "Name-by:" forms plus the other trailers kernel maintainers collect.
_TRAILER_RE = re.compile(
    r"([A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*-by|Fixes|Link|Cc|Closes|Message-ID)[ \t]*:[ \t]*(\S.*)",
    re.I)
_CANONICAL = {name.lower(): name for name in (
    "Reviewed-by", "Acked-by", "Tested-by", "Reported-by", "Suggested-by", "Signed-off-by",
    "Co-developed-by", "Fixes", "Link", "Cc", "Closes", "Message-ID")}
# Signature ("-- ", often with the space stripped) and patch separator; a diff ends them too.
_END_RE = re.compile(r"---?")


@dataclass(frozen=True)
class Trailer:
    """One trailer line. ``person`` is parsed for ``-by`` trailers (which need an address to
    count) and ``Cc``; ``line`` is its 0-based line number in the text given."""

    name: str
    value: str
    person: Address | None = None
    line: int = 0

    @property
    def is_by(self) -> bool:
        return self.name.endswith("-by")


def normalize_name(name: str) -> str:
    """``reviewed-BY`` -> ``Reviewed-by``; unknown ``X-by`` forms get the same shape."""
    lower = name.lower()
    return _CANONICAL.get(lower) or lower[:1].upper() + lower[1:]


def extract_trailers(body: str) -> tuple[Trailer, ...]:
    """The trailers of the unquoted text of ``body``, in order.

    Seen in linux-clk replies: ``Reviewed-by: Stephen Boyd <sboyd@kernel.org>`` after a quoted
    patch, ``> Acked-by: ...`` quoted from the patch (ignored), a ``Fixes: 1234abcd ("...")``
    suggestion, and the ``Signed-off-by:`` block of an inline diff's commit message.
    """
    out: list[Trailer] = []
    lines = body.replace("\r\n", "\n").split("\n")
    for number, raw in enumerate(lines):
        line = raw.rstrip()
        if _END_RE.fullmatch(line) or (line[:1] in "dI-" and starts_diff(lines, number)):
            break
        if not line or line[0] in "> \t|":
            continue
        m = _TRAILER_RE.fullmatch(line)
        if m is None:
            continue
        name = normalize_name(m.group(1))
        value = m.group(2).strip()
        person = _person(value) if name.endswith("-by") or name == "Cc" else None
        if person is None and name.endswith("-by"):
            continue  # "Acked-by: from each subsystem maintainer ..." is prose, not a tag
        out.append(Trailer(name, value, person, number))
    return tuple(out)


def _person(value: str) -> Address | None:
    # "Name <a@b> # v6.1+" (stable Cc) and "Name <a@b> [fixed typo]": drop the comment first.
    value = re.split(r"\s+#|>\s*\[", value, maxsplit=1)[0]
    if "<" in value and not value.rstrip().endswith(">"):
        value += ">"
    name, email = parseaddr(value)
    if "@" not in email:
        return None
    return Address(name.strip().strip('"'), email.strip())


def matches_sender(trailer: Trailer, sender: Address) -> bool:
    """Whether a ``-by`` trailer names the mail's sender (by address, else by display name).

    A mismatch is normal when a maintainer forwards someone's tag, but b4 flags it because a
    reviewer's tag should come from that reviewer: ``Reviewed-by: A <a@x>`` sent by B.
    """
    if trailer.person is None:
        return False
    if trailer.person.email.lower() == sender.email.lower() and sender.email:
        return True
    a = " ".join(trailer.person.name.lower().split())
    b = " ".join(sender.name.lower().replace('"', "").split())
    return bool(a) and a == b
