"""The Jinja filters of the site, all of them: mail text in, escaped markup out.

Mail is hostile input. Everything here escapes first and adds markup only around escaped text:
links only for ``http``/``https`` URLs (``javascript:`` stays text), quoted runs folded into
``<details>`` (works without JavaScript and in text browsers, which show it unfolded), the
signature after ``-- `` dimmed, diff lines of inline patches classed for colour. HTML parts are
never rendered: the parser already turned them into text.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any

from markupsafe import Markup, escape

from listarchive.mail.msgids import quote_msgid
from listarchive.mail.patches import DIFF_OPENERS, starts_diff

# Trailing punctuation is usually the sentence's, not the URL's: "see https://x.org/a)."
_URL_RE = re.compile(r"\bhttps?://[^\s<>\"'\x00-\x1f\x7f]+", re.I)
_URL_TAIL = ".,;:!?)]}>'\""
# Quoted runs up to this many lines stay open: folding one line saves nothing.
FOLD_AFTER = 3
_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def utc(moment: datetime | None, with_time: bool = True) -> str:
    """Absolute UTC date, the same for every reader: ``2024-03-05 14:07 UTC``."""
    if moment is None:
        return "(no date)"
    return moment.strftime("%Y-%m-%d %H:%M UTC") if with_time else moment.strftime("%Y-%m-%d")


def date_only(moment: datetime | None) -> str:
    return utc(moment, with_time=False)


@lru_cache(maxsize=4096)
def msgid_url(msgid: str) -> str:
    """Kept: a commented patch page links every comment to its reply (urllib's quote was 3% of
    the page)."""
    return quote_msgid(msgid)


def clean(text: str) -> str:
    """Drop control characters (except tab/newline) that terminals and XML choke on."""
    return _CONTROL_RE.sub("", text)


def linkify(text: str) -> Markup:
    """Escape ``text`` and turn http(s) URLs into ``rel="nofollow noopener"`` links."""
    if "://" not in text:  # most lines of a mail: markupsafe's C escape alone
        return escape(text)
    out: list[str] = []
    pos = 0
    for m in _URL_RE.finditer(text):
        url = m.group(0)
        cut = len(url)
        while cut and url[cut - 1] in _URL_TAIL:
            # keep a ")" that closes a "(" inside the URL (Wikipedia-style links)
            if url[cut - 1] == ")" and url[:cut].count("(") >= url[:cut].count(")"):
                break
            cut -= 1
        url = url[:cut]
        if not url:
            continue
        out.append(str(escape(text[pos:m.start()])))
        out.append(f'<a href="{escape(url)}" rel="nofollow noopener">{escape(url)}</a>')
        pos = m.start() + len(url)
    out.append(str(escape(text[pos:])))
    return Markup("".join(out))


def _diff_class(line: str) -> str:
    first = line[:1]
    if first == "+":
        return "dh" if line.startswith("+++ ") else "add"
    if first == "-":
        return "dh" if line.startswith("--- ") else "del"
    if first == "@":
        return "hunk" if line.startswith("@@") else ""
    if first == "d":
        return "dh" if line.startswith("diff --git ") else ""
    if first == "i":
        return "dh" if line.startswith("index ") else ""
    return ""


def _pre(lines: list[str], diff: list[bool], css: str = "") -> str:
    # Escaped in one call, then cut: escaping never adds or removes a line end. Only the lines
    # with a URL go through linkify.
    escaped = str(escape("\n".join(lines))).split("\n") if lines else []
    parts = []
    for line, html, in_diff in zip(lines, escaped, diff, strict=True):
        if "://" in line:
            html = str(linkify(line))
        cls = _diff_class(line) if in_diff else ""
        parts.append(f'<span class="{cls}">{html}</span>' if cls else html)
    attr = f' class="{css}"' if css else ""
    return f"<pre{attr}>" + "\n".join(parts) + "</pre>"


@lru_cache(maxsize=1024)
def render_body(text: str) -> Markup:
    """A mail body as a sequence of ``<pre>`` blocks, quotes folded, signature dimmed.

    The signature is what follows the last ``-- `` line (RFC 3676), the form git
    format-patch also uses for its version trailer (``-- \\n2.43.0``). Mail never changes, so the
    rendering of recently shown bodies is kept (a thread page shows fifty of them).
    """
    lines = clean(text.replace("\r\n", "\n")).split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    sig_at = len(lines)
    for i in range(len(lines) - 1, -1, -1):
        if lines[i] in ("-- ", "--"):
            sig_at = i
            break
    body, signature = lines[:sig_at], lines[sig_at:]
    start = next((i for i, line in enumerate(body)
                  if line[:1] in DIFF_OPENERS and starts_diff(body, i)), len(body))
    diff_flags = [i >= start for i in range(len(body))]
    blocks: list[str] = []
    i = 0
    while i < len(body):
        quoted = body[i].startswith(">")
        j = i
        while j < len(body) and body[j].startswith(">") == quoted:
            j += 1
        chunk, flags = body[i:j], diff_flags[i:j]
        if quoted and len(chunk) > FOLD_AFTER:
            first = str(linkify(chunk[0]))
            blocks.append(f'<details class="quote"><summary>{first} '
                          f'<span class="more">[{len(chunk) - 1} more quoted lines]</span>'
                          f'</summary>{_pre(chunk[1:], flags[1:], "q")}</details>')
        else:
            blocks.append(_pre(chunk, flags, "q" if quoted else ""))
        i = j
    if signature:
        blocks.append(_pre(signature, [False] * len(signature), "sig"))
    return Markup("".join(blocks))


class RenderedDiffs:
    """Rendered diffs by their text, newest use last, within a memory budget (text and HTML
    counted): a diff never changes, and rendering a commented patch page's files was a fifth
    of its requests/s at 100k messages. Bounded by size, not number, so a few huge diffs
    cannot make a web worker grow."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.used = 0
        self._items: OrderedDict[str, tuple[Markup, int]] = OrderedDict()

    def render(self, text: str) -> Markup:
        hit = self._items.get(text)
        if hit is not None:
            self._items.move_to_end(text)
            return hit[0]
        lines = clean(text.replace("\r\n", "\n")).rstrip("\n").split("\n")
        html = Markup(_pre(lines, [True] * len(lines), "diff"))
        cost = len(text) + len(html)
        if cost <= self.budget:
            self._items[text] = (html, cost)
            self.used += cost
            while self.used > self.budget:
                self.used -= self._items.popitem(last=False)[1][1]
        return html


RENDERED_DIFFS = RenderedDiffs(8 << 20)  # characters, per process


def render_diff(text: str) -> Markup:
    """One file's part of a diff as a ``<pre class="diff">``, lines classed for colour (added,
    removed, hunk and file headers) and escaped; URLs in context lines are linked too."""
    return RENDERED_DIFFS.render(text)


def filesize(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / 1024 / 1024:.1f} MiB"


def who(name: str, email: str) -> str:
    return name or email or "(no sender)"


FILTERS: dict[str, Callable[..., Any]] = {
    "utc": utc, "date_only": date_only, "msgid_url": msgid_url, "linkify": linkify,
    "render_body": render_body, "render_diff": render_diff, "filesize": filesize,
    "clean": clean,
}
