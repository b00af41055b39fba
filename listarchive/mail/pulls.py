"""Pull requests in mail: what ``git request-pull`` writes, read as Patchwork and b4 read it.

::

    The following changes since commit 19272b37aa4f83ca52bdf9c16d5d81bdd1354494:

      Linux 6.16-rc1 (2025-06-08 13:44:43 -0700)

    are available in the Git repository at:

      https://github.com/spacemit-com/linux tags/spacemit-clk-for-6.17-1

    for you to fetch changes up to c79550f69f0f21be069385c20cd6490b862ba2a5:
    ----------------------------------------------------------------
    RISC-V SpacemiT clock changes for 6.17          <- the tag's message
    ----------------------------------------------------------------
    Alex Elder (6):                                 <- the shortlog
          clk: spacemit: set up reset auxiliary devices

The URL and the ref to pull are what a maintainer types after ``git pull``; Patchwork stores
them together as the patch's ``pull_url`` (``https://github.com/... tags/spacemit-...``).
Mailers damage the block: trailing blanks, the ref pushed to its own line, a long URL broken
in two. ``ssh://``, ``git+ssh://``, ``git@host:path`` and ``http://`` URLs occur too. Mail that
is not request-pull output but says "please pull from URL ref" counts as well.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_AVAILABLE_RE = re.compile(r"available in the git repository at:?[ \t]*$", re.I | re.M)
# b4 and Patchwork accept "scheme://" and "user@host:" URLs; the ref is one token.
_URL_RE = re.compile(r"[\w+-]+(?:://|@)[\w/.@:~%+-]+")
_REF_RE = re.compile(r"[\w/.+-]+")
_HEX_RE = re.compile(r"[0-9a-f]{7,40}:?")
_BASE_RE = re.compile(r"changes since commit ([0-9a-f]{5,40})", re.I)
_HEAD_RE = re.compile(r"fetch changes up to ([0-9a-f]{5,40})", re.I)
_DASHES_RE = re.compile(r"^-{20,}[ \t]*$", re.M)
# The diffstat that closes the shortlog: " drivers/clk/foo.c | 12 +-", " 3 files changed, ...".
_DIFFSTAT_RE = re.compile(r"^ \S.*(?:\|\s+(?:\d+|Bin)\b|\d+ files? changed)", re.M)
_PLEASE_PULL_RE = re.compile(
    r"please (?:git )?pull(?: from)?:?\s*\n?\s*((?:git|https?|ssh|git\+ssh)://\S+)"
    r"(?:[ \t]+([^\s:]+))?", re.I)


@dataclass(frozen=True)
class PullRequest:
    """A pull request: ``url`` and ``ref`` (branch or ``tags/...``, '' when not named), with the
    base and head commits, the tag's message and the shortlog when the text gives them."""

    url: str
    ref: str
    base_commit: str = ""
    head_commit: str = ""
    description: str = ""
    shortlog: str = ""

    @property
    def pull_url(self) -> str:
        """URL and ref as Patchwork stores them: ``git://host/repo.git tags/foo-for-6.9``."""
        return f"{self.url} {self.ref}".strip()


def find_pull(text: str) -> PullRequest | None:
    """The pull request in ``text`` (LF line ends), or ``None``."""
    # Cheap test first: most mail is neither request-pull output nor a "please pull" note.
    if "epository at" not in text and "pull" not in text and "Pull" not in text:
        return None
    found = _request_pull(text)
    if found is None:
        m = _PLEASE_PULL_RE.search(text)
        if not m:
            return None
        found = (m.group(1), (m.group(2) or "").rstrip(":"))
    url, ref = found
    base = _BASE_RE.search(text)
    head = _HEAD_RE.search(text)
    description, shortlog = _log(text, head.end() if head else 0)
    return PullRequest(url=url, ref=ref, base_commit=base.group(1) if base else "",
                       head_commit=head.group(1) if head else "", description=description,
                       shortlog=shortlog)


def _request_pull(text: str) -> tuple[str, str] | None:
    """(URL, ref) after "are available in the git repository at:"."""
    m = _AVAILABLE_RE.search(text)
    if m is None:
        return None
    lines = [line.strip().rstrip("\\").strip() for line in text[m.end():].split("\n")[1:6]]
    while lines and not lines[0]:
        lines.pop(0)
    if not lines:
        return None
    words = lines[0].split()
    url = _URL_RE.fullmatch(words[0]) if words else None
    if url is None:
        return None
    ref = words[1] if len(words) > 1 else ""
    following = lines[1].split() if len(lines) > 1 else []
    if not ref and following:
        first = following[0]
        if len(following) == 2 and "://" not in first and words[0].endswith(("/", "-", ".")):
            # The URL broken in two by the mailer: "git://git.kernel.org/pub/scm/" then
            # "linux/kernel/git/geert/renesas-drivers.git tags/renesas-clk-for-v6.17-tag1".
            return words[0] + first, following[1]
        if len(following) == 1 and "://" not in first and not _HEX_RE.fullmatch(first):
            if words[0].endswith("/") and first.endswith(".git"):
                return words[0] + first, ""
            ref = first  # the ref pushed to a line of its own
    if ref and not _REF_RE.fullmatch(ref.rstrip(":")):
        ref = ""
    return words[0], ref.rstrip(":")


def _log(text: str, after: int) -> tuple[str, str]:
    """(the tag's message, the shortlog) between the dashed lines request-pull writes after
    "for you to fetch changes up to"; the shortlog ends at the diffstat."""
    dashes = list(_DASHES_RE.finditer(text, after))
    if not dashes:
        return "", ""
    description = ""
    if len(dashes) >= 2:
        description = text[dashes[0].end():dashes[1].start()].strip("\n")
    rest = text[dashes[-1].end():]
    stat = _DIFFSTAT_RE.search(rest)
    shortlog = rest[:stat.start()] if stat else rest.split("\n-- \n", 1)[0]
    return description.strip(), shortlog.strip("\n").rstrip()
