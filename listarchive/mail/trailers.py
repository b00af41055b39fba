"""Trailers (``Reviewed-by:``, ``Fixes:``, any ``X-by:``) in a commit message or a review reply.

Only the reviewer's own text counts: quoted lines (``> Reviewed-by: ...``) are someone else's,
diffs are skipped (a reply suggesting a change often gives its tag after the diff, and b4 takes
it), and nothing after the signature (``-- ``) is looked at. For a patch mail pass its commit
message (:attr:`listarchive.mail.patches.PatchInfo.commit_message`); for a reply pass the body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import parseaddr

from listarchive.mail.diffscan import diff_lines
from listarchive.mail.headers import Address

# "Name-by:" forms plus the other trailers kernel maintainers collect.
_TRAILER_RE = re.compile(
    r"([A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*-by|Fixes|Link|BugLink|Cc|Closes|Message-ID)"
    r"[ \t]*:[ \t]*(\S.*)", re.I)
_CANONICAL = {name.lower(): name for name in (
    "Reviewed-by", "Acked-by", "Tested-by", "Reported-by", "Suggested-by", "Signed-off-by",
    "Co-developed-by", "Fixes", "Link", "BugLink", "Cc", "Closes", "Message-ID")}
# The signature: "-- ", often with the space stripped.
_END_RE = re.compile(r"--")
# What HTML mail clients add when they turn their HTML back into text: "a@b<mailto:a@b>".
_MAILTO_RE = re.compile(r"<mailto:[^>]*>", re.I)
# A comment after the address: "Name <a@b> # v6.1+" (b4 keeps it, apart from the address).
_COMMENT_RE = re.compile(r"(.*\S)(\s+#[^#]+)$")
_ANGLE_RE = re.compile(r"(.*?)\s*<([^<>]+)>\s*$")
# The two repairs b4 makes to trailers a mailer wrapped: an address pushed to the next line,
# and a Fixes: title whose closing parenthesis went there.
_ADDRESS_LINE_RE = re.compile(r"<[^<>\s]+@[^<>\s]+>")
_OPEN_FIXES_RE = re.compile(r"Fixes:\s+[0-9a-f]+\s+\([^)]+$", re.I)


@dataclass(frozen=True)
class Trailer:
    """One trailer line. ``value`` is as ``b4`` writes it back (``<mailto:...>`` removed, a
    person as ``Name <address>``); ``person`` is parsed for ``-by`` trailers (which need an
    address to count) and ``Cc``; ``line`` is its 0-based line number in the text given."""

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
    suggestion, the ``Signed-off-by:`` block of an inline diff's commit message, a tag indented
    with a tab below a quoted hunk (b4 takes those too). Repaired as
    b4 repairs them: ``Reviewed-by: Jane Doe`` with ``<jane@example.org>`` on the next line,
    ``Acked-by: Jane <jane@x.org<mailto:jane@x.org>>`` from an HTML mail client.
    """
    out: list[Trailer] = []
    text = body.replace("\r\n", "\n")
    lines = text.split("\n")
    skip = {number for first, end in diff_lines(text) for number in range(first, end)} \
        if "\n@@ -" in text or "\n*****" in text else set()
    for number, raw in enumerate(lines):
        if _END_RE.fullmatch(raw.rstrip()):
            break
        # b4 takes an indented tag too ("\tReviewed-by: ..." under a quoted hunk)
        line = raw.strip()
        if not line or line[0] in ">|" or number in skip:
            continue
        m = _TRAILER_RE.fullmatch(line)
        if m is None:
            continue
        name = normalize_name(m.group(1))
        value = m.group(2).strip()
        nxt = lines[number + 1].strip() if number + 1 < len(lines) else ""
        if nxt and ("@" not in value and _ADDRESS_LINE_RE.fullmatch(nxt)
                    or _OPEN_FIXES_RE.fullmatch(line) and nxt.endswith(")")):
            value = f"{value} {nxt}"
        value, person = clean_value(value, name.endswith("-by") or name == "Cc")
        if person is None and name.endswith("-by"):
            continue  # "Acked-by: from each subsystem maintainer ..." is prose, not a tag
        out.append(Trailer(name, value, person, number))
    return tuple(out)


def clean_value(value: str, personal: bool) -> tuple[str, Address | None]:
    """A trailer's value as b4 writes it back, and the person it names (for a ``personal``
    trailer: ``-by`` or ``Cc``).

    ``Jane Doe <jane@x.org<mailto:jane@x.org>>`` (HTML mail clients) -> ``Jane Doe
    <jane@x.org>``; names are kept as written, parentheses, brackets, commas and quotes
    included (``"Doe, Jane" <jane@x.org>``, ``Jane Doe (ACME) <jane@x.org>``), which the
    address parsers of mail headers would mangle; a ``# v6.1+`` comment stays after the address.
    """
    value = " ".join(_MAILTO_RE.sub("", value).split())
    if not personal:
        return value, None
    comment = ""
    m = _COMMENT_RE.fullmatch(value)
    if m:
        value, comment = m.group(1), m.group(2)
    m = _ANGLE_RE.fullmatch(value)
    if m:
        display, email = m.group(1).strip(), m.group(2).strip()
    else:
        display, email = parseaddr(value)
        display, email = display.strip(), email.strip()
    if "@" not in email:
        return value + comment, None
    shown = email if not display or display == email else f"{display} <{email}>"
    return shown + comment, Address(display.strip('"').strip(), email)


def matches_sender(trailer: Trailer, sender: Address) -> bool:
    """Whether a ``-by`` trailer names the mail's sender, as ``b4 am`` decides before applying
    it (a mismatch is reported and left out unless ``--sloppy-trailers``).

    The addresses match when equal, equal without a ``+detail`` part, or when one domain is the
    other with one more label (``jane@linux.intel.com`` for ``jane@intel.com``); else the display
    names must be equal, or every comma-separated part of the sender's name (``Doe, Jane``)
    must appear in the trailer's. A maintainer forwarding someone's tag is a mismatch too:
    ``Reviewed-by: A <a@x>`` sent by B is B's claim, not A's review.
    """
    if trailer.person is None:
        return False
    if sender.email and _same_address(trailer.person.email, sender.email):
        return True
    mine = " ".join(trailer.person.name.lower().split())
    theirs = " ".join((sender.name or sender.email).lower().replace('"', "").split())
    if not mine:
        return False
    if mine == theirs:
        return True
    parts = [part.strip() for part in theirs.split(",") if part.strip()]
    return len(parts) > 1 and all(part in mine for part in parts)


def _same_address(ours: str, theirs: str) -> bool:
    a, b = ours.lower(), theirs.lower()
    if a == b:
        return True
    if "@" not in a or "@" not in b:
        return False
    a, b = re.sub(r"\+[^@]+@", "@", a), re.sub(r"\+[^@]+@", "@", b)
    if a == b:
        return True
    a_local, a_domain = a.split("@", 1)
    b_local, b_domain = b.split("@", 1)
    if a_local != b_local or abs(a_domain.count(".") - b_domain.count(".")) != 1:
        return False
    return a_domain.endswith("." + b_domain) or b_domain.endswith("." + a_domain)
