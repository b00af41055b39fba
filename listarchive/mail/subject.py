"""Subject lines of patch mail as a small value object.

``SubjectInfo.parse("[PATCH net-next v2 3/7] net: fix")`` gives revision 2, counter 3, total 7,
prefixes ``("patch", "net-next", "v2")`` and title ``"net: fix"``. Parsing never raises: a subject
is whatever a mail client produced, from ``Re: Re: [PATCH v7 0/2] ...`` and Outlook's ``AW:`` to
1990s ``PATCH1/8 foo`` and mutt's ``[user@host: Re: [list] subject]`` forward wrapper.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Reply markers in the languages seen on kernel lists: "Re", Outlook's German "AW", Nordic
# "SV"/"VS", Dutch "Antw", Polish "Odp", Italian "R"/"Rif", Chinese clients' "回复"/"回覆"/"答复",
# also counted forms ("Re[2]:", "Re^2:") and a full-width colon.
_REPLY_RE = re.compile(
    r"(?:re|aw|sv|vs|antw|odp|rif|ref|r|回复|回覆|答复)(?:\[\d+\]|\^\d+)?\s*[:：]\s*", re.I)
# Forward markers: English, German "WG", French "TR", Italian "I"-less forms are too ambiguous.
_FWD_RE = re.compile(r"(?:fwd?|wg|tr)\s*[:：]\s*", re.I)
# A whole subject wrapped as "[Fwd: ...]" or mutt's "[user@example.org: ...]".
_WRAP_RE = re.compile(r"\[(?:fwd?|fw|[^\s:\[\]]+@[^\s:\[\]]+)\s*:\s*", re.I)
# b4's thank-you mail ("Re: (subset) [PATCH ...]") and similar leading parenthesised markers.
_LEAD_PAREN_RE = re.compile(r"\((?:subset|fwd?|resend)\)\s*", re.I)
# Unbracketed prefixes from the pre-git era: "PATCH1/8 foo", "PATCH 2/3: foo", "RFC PATCH: foo".
_BARE_PATCH_RE = re.compile(
    r"(?:(RFC)\s*)?PATCH(?:\s*[vV](\d{1,4}))?(?:\s*(\d{1,4})\s*/\s*(\d{1,4}))?(?:\s*[:\-]\s*|\s+)")
_TOKEN_SPLIT_RE = re.compile(r"[\s,]+")
# Numbers in subjects have at most four digits: "[PATCH v99999999999999999999999]" or a
# 5,000-digit counter is a title word, never a number a database column has to hold.
_COUNT_RE = re.compile(r"\d{1,4}")
_COUNTER_RE = re.compile(r"(\d{1,4})/(\d{1,4})")
_REVISION_RE = re.compile(r"v(\d{1,4})(?:\.\d+)?")
_GLUED_RE = re.compile(r"(patch|rfc|resend)(?:v(\d{1,4}))?(?:(\d{1,4})/(\d{1,4}))?")
_TITLE_REVISION_RE = re.compile(r"[(\[]\s*(?:v|take\s*|version\s*)(\d{1,4})\s*[)\]]", re.I)
_TRAILING_MARK_RE = re.compile(r"\s*[(\[]\s*(?:v\d{1,4}|take\s*\d{1,4}|version\s*\d{1,4}|"
                               r"resend|fwd?)\s*[)\]]\s*$", re.I)
_GIT_PULL_RE = re.compile(r"\bgit\s+pull\b|^pull\s+request\b", re.I)
_MAX_PREFIX_ROUNDS = 64


@dataclass(frozen=True)
class SubjectInfo:
    """What a subject line says about the mail: see the module docstring for the forms handled.

    ``counter``/``total`` are 0 when absent; ``revision`` is 1 unless a ``vN`` is given (in a
    prefix bracket, glued as ``[PATCHv3]``, or in the title as ``(v2)``). ``is_patch`` is true
    for a ``PATCH`` prefix or any ``N/M`` counter (``[net-next v3 1/4]`` is a patch on netdev):
    whether the mail really carries a diff is for :mod:`listarchive.mail.patches` to say. QEMU's
    ``[PULL 03/15]`` is both a patch and part of a pull request. ``is_cover`` holds for replies
    to a cover too (``Re: [PATCH 0/3]``): check ``is_reply`` as well.
    """

    subject: str
    title: str
    prefixes: tuple[str, ...] = ()
    revision: int = 1
    counter: int = 0
    total: int = 0
    is_patch: bool = False
    is_rfc: bool = False
    is_resend: bool = False
    is_reply: bool = False
    is_forward: bool = False
    is_pull: bool = False

    @property
    def is_cover(self) -> bool:
        """``[PATCH 0/N]``: the cover letter of a series."""
        return self.counter == 0 and self.total > 0

    @classmethod
    def parse(cls, subject: str) -> SubjectInfo:
        return _parse(subject)

    def normalized_title(self) -> str:
        """The title for matching revisions of one work (see :func:`normalize_title`)."""
        return normalize_title(self.title)


def normalize_title(title: str) -> str:
    """A series title for matching revisions of one work: lower-case, whitespace collapsed, a
    trailing ``(v2)``/``[RESEND]`` marker and final period dropped."""
    for _ in range(4):
        stripped = _TRAILING_MARK_RE.sub("", title)
        if stripped == title:
            break
        title = stripped
    return " ".join(title.lower().split()).rstrip(". ")


def _matching_bracket(text: str, start: int) -> int:
    """Index of the ``]`` closing ``text[start]``, nesting respected; -1 when unclosed."""
    depth = 0
    for i in range(start, len(text)):
        ch = text[i]
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth == 0:
                return i
    return -1


@dataclass
class _State:
    prefixes: list[str]
    revision: int = 0
    counter: int = 0
    total: int = 0
    patch: bool = False
    rfc: bool = False
    resend: bool = False
    pull: bool = False


def _take_tokens(state: _State, inner: str) -> None:
    tokens = [t for t in _TOKEN_SPLIT_RE.split(inner.strip().lower()) if t]
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if (i + 2 < len(tokens) and tokens[i + 1] == "of" and _COUNT_RE.fullmatch(tok)
                and _COUNT_RE.fullmatch(tokens[i + 2])):  # "[PATCH 1 of 3]" (Mercurial's)
            if not state.total:
                state.counter, state.total = int(tok), int(tokens[i + 2])
            i += 3
            continue
        i += 1
        m = _COUNTER_RE.fullmatch(tok)
        if m:
            if not state.total:
                state.counter, state.total = int(m.group(1)), int(m.group(2))
            continue
        state.prefixes.append(tok)
        m = _REVISION_RE.fullmatch(tok)
        if m:
            state.revision = state.revision or int(m.group(1))
            continue
        m = _GLUED_RE.fullmatch(tok)
        if m:
            kind = m.group(1)
            state.patch = state.patch or kind == "patch"
            state.rfc = state.rfc or kind == "rfc"
            state.resend = state.resend or kind == "resend"
            if m.group(2):
                state.revision = state.revision or int(m.group(2))
            if m.group(3) and not state.total:
                state.counter, state.total = int(m.group(3)), int(m.group(4))
            continue
        if tok in ("pull", "pull-request", "pr"):
            state.pull = True


def _parse(subject: str) -> SubjectInfo:
    text = " ".join(subject.split())
    state = _State(prefixes=[])
    reply = forward = False
    for _ in range(_MAX_PREFIX_ROUNDS):
        m = _REPLY_RE.match(text)
        if m:
            reply = True
            text = text[m.end():]
            continue
        m = _FWD_RE.match(text) or _LEAD_PAREN_RE.match(text)
        if m:
            forward = forward or m.group(0).lower().startswith(("fw", "wg", "tr", "(fw"))
            text = text[m.end():]
            continue
        if text.startswith("["):
            end = _matching_bracket(text, 0)
            wrap = _WRAP_RE.match(text)
            if wrap:
                forward = True
                inner_end = end if end > 0 else len(text)
                text = (text[wrap.end():inner_end] + " " + text[inner_end + 1:]).strip()
                continue
            if end < 0:
                break  # "[PATCH foo" with the bracket never closed: keep it in the title
            _take_tokens(state, text[1:end].replace("[", " ").replace("]", " "))
            text = text[end + 1:].lstrip(" :")
            continue
        break
    if not state.prefixes and not state.total:
        m = _BARE_PATCH_RE.match(text)
        if m and m.end() < len(text):
            state.patch = True
            state.rfc = bool(m.group(1))
            state.prefixes.extend(["rfc", "patch"] if m.group(1) else ["patch"])
            if m.group(2):
                state.revision = int(m.group(2))
                state.prefixes.append(f"v{m.group(2)}")
            if m.group(3):
                state.counter, state.total = int(m.group(3)), int(m.group(4))
            text = text[m.end():]
    title = text.strip()
    if not state.revision:
        m = _TITLE_REVISION_RE.search(title)
        if m:
            state.revision = int(m.group(1))
    if _TRAILING_MARK_RE.search(title) and "resend" in title[-10:].lower():
        state.resend = True
    pull = state.pull or (not state.patch and bool(_GIT_PULL_RE.search(title)))
    return SubjectInfo(
        subject=subject,
        title=title,
        prefixes=tuple(state.prefixes),
        revision=max(state.revision, 1),
        counter=state.counter,
        total=state.total,
        is_patch=state.patch or state.total > 0,
        is_rfc=state.rfc,
        is_resend=state.resend,
        is_reply=reply,
        is_forward=forward,
        is_pull=pull,
    )
