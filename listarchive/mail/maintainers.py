"""The kernel's MAINTAINERS file: subsystems, their people and lists, and which files they cover.

``parse_maintainers(text)`` reads the sections (a title line followed by ``X:\\tvalue`` field
lines, separated by blank lines) and skips the prose header and anything else that is not a
section. ``SubsystemMatcher(subsystems).match(paths)`` answers "which subsystems does this patch
touch", ranked the way ``scripts/get_maintainer.pl`` ranks them: the subsystem whose file pattern
is deepest comes first, ``N:`` regex matches come after every ``F:`` match, and catch-alls such as
``THE REST`` (``F: *`` and ``F: */``) come last.

Pattern semantics (as documented at the top of MAINTAINERS and implemented by get_maintainer.pl):

* ``F: drivers/net/`` -- everything in and below the directory;
* ``F: drivers/net/*`` -- files directly in the directory, not in subdirectories (a glob pattern
  that does not end in ``/`` must have as many ``/`` as the path);
* ``F: drivers/clk`` -- a literal naming a directory behaves as ``drivers/clk/``, otherwise it
  names one file;
* ``*``, ``?`` and ``[...]`` are globs (``*`` may cross ``/`` in a pattern that ends with ``/``:
  ``arch/*/include/uapi/`` covers ``arch/arm/mach-x/include/uapi/...`` too, as get_maintainer.pl
  does);
* ``X:`` uses the same rules and removes the section for that path;
* ``N:`` is a regular expression searched anywhere in the path (``N: [^a-z]tegra``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_FIELD_RE = re.compile(r"([A-Z]):\s+(.*?)\s*$")
_ADDRESS_RE = re.compile(r"[^\s<>(),;\"']+@[^\s<>(),;\"']+")
_GLOB_CHARS = frozenset("*?[")
# Specificity of a match through an N: regex: below any F: match, above a catch-all.
N_SPECIFICITY = 0
# Specificity of a pattern that starts with a glob ("*", "*/", "*/*/vexpress*"): ranks last.
CATCH_ALL_SPECIFICITY = -1


@dataclass(frozen=True)
class Subsystem:
    """One section of MAINTAINERS. People are kept as written, ``"Name <email>"``, without the
    remarks some entries carry (``R: Paulo Alcantara <pc@cjr.nz> (DFS, global name space)``);
    ``lists`` holds only the addresses of the ``L:`` lines (``(moderated for non-subscribers)``
    dropped)."""

    name: str
    status: str = ""
    lists: tuple[str, ...] = ()
    maintainers: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    regexes: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    trees: tuple[str, ...] = ()
    web: tuple[str, ...] = ()
    patchwork: tuple[str, ...] = ()

    @property
    def people(self) -> tuple[str, ...]:
        """Maintainers then reviewers: who should see a patch to this subsystem."""
        return self.maintainers + self.reviewers


@dataclass(frozen=True)
class SubsystemMatch:
    """A subsystem touched by a set of paths. ``specificity`` is the best over its paths:
    the number of path components of the matching ``F:`` pattern (a file or ``dir/*`` pattern
    counts one more than the directory holding it), 0 for an ``N:`` match, -1 for catch-alls."""

    name: str
    specificity: int
    paths: tuple[str, ...]


def _person(value: str) -> str:
    """``"Name <addr> (remark)"`` -> ``"Name <addr>"``; a bare address stays as it is."""
    end = value.find(">")
    if end >= 0:
        return value[:end + 1].strip()
    m = _ADDRESS_RE.search(value)
    return m.group(0) if m else value.strip()


_FIELD_NAMES = {"S": "status", "L": "lists", "M": "maintainers", "R": "reviewers", "F": "files",
                "X": "excludes", "N": "regexes", "K": "keywords", "T": "trees", "W": "web",
                "Q": "patchwork"}


def _build(name: str, fields: list[tuple[str, str]]) -> Subsystem:
    values: dict[str, list[str]] = {key: [] for key in _FIELD_NAMES.values()}
    for tag, value in fields:
        key = _FIELD_NAMES.get(tag)
        if key is None or not value:
            continue  # B:, C:, P: and unknown tags are not used here
        if tag == "L":
            m = _ADDRESS_RE.search(value)
            if not m:
                continue
            value = m.group(0)
        elif tag in ("M", "R"):
            value = _person(value)
        values[key].append(value)
    status = values.pop("status")
    return Subsystem(name=name, status=status[0] if status else "",
                     **{key: tuple(v) for key, v in values.items()})


def parse_maintainers(text: str) -> tuple[Subsystem, ...]:
    """Every section of a MAINTAINERS text, in file order.

    A section is a title line directly followed by field lines; the prose before the first one
    is skipped, and so is the documentation block listing the tags (its lines are indented:
    ``\\tM: *Mail* patches to: ...``). Field lines with no title above them, and title-like lines
    with no fields below them, are ignored rather than refused. Both tab and spaces after the
    tag are accepted (``F:      Documentation/...`` appears in Linux 6.1).
    """
    lines = text.splitlines()
    out: list[Subsystem] = []
    name = ""
    fields: list[tuple[str, str]] = []
    for i, line in enumerate(lines):
        m = _FIELD_RE.match(line)
        if m:
            if name:
                fields.append((m.group(1), m.group(2)))
            continue
        if name:
            out.append(_build(name, fields))
            name, fields = "", []
        title = line.strip()
        if title and not line[0].isspace() and i + 1 < len(lines) and \
                _FIELD_RE.match(lines[i + 1]):
            name = title
    if name:
        out.append(_build(name, fields))
    return tuple(out)


@dataclass(frozen=True)
class _Glob:
    """An F:/X: pattern with glob characters, as the regex get_maintainer.pl would build."""

    section: int
    specificity: int
    is_dir: bool
    regex: re.Pattern[str]
    slashes: int

    def matches(self, path: str) -> bool:
        if self.regex.match(path) is None:
            return False
        # Without a trailing "/", "*" stays within one directory level: "drivers/net/*".
        return self.is_dir or path.count("/") == self.slashes


@dataclass(frozen=True)
class _Literal:
    """An F:/X: pattern without glob characters, looked up by its text. ``is_dir`` when written
    with a trailing ``/``; one without it names a file, or a directory when the path continues
    below it (get_maintainer.pl stats the tree for that; we have only the path)."""

    section: int
    specificity: int
    is_dir: bool


_Hit = tuple[int, int]  # (specificity, 1 for a literal pattern, 0 for a glob or N: regex)


def _glob_regex(pattern: str) -> re.Pattern[str] | None:
    """get_maintainer.pl's translation: ``.`` literal, ``*`` -> ``.*``, ``?`` -> ``.``,
    ``[...]`` kept as a class; anchored at the start only."""
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch == "[":
            end = pattern.find("]", i + 2)
            if end < 0:
                out.append(re.escape(ch))
            else:
                out.append("[" + pattern[i + 1:end].replace("\\", "\\\\") + "]")
                i = end
        else:
            out.append(re.escape(ch))
        i += 1
    try:
        return re.compile("".join(out))
    except re.error:
        return None


def _compile(section: int, text: str) -> tuple[str, _Literal | _Glob] | None:
    """The pattern and its index key: the text itself (without a trailing ``/``) for a literal,
    else the directory of the literal prefix before the first glob character ('' when the
    pattern starts with one)."""
    text = text.strip()
    while text.startswith("./"):
        text = text[2:]
    if not text:
        return None
    first_glob = next((i for i, ch in enumerate(text) if ch in _GLOB_CHARS), -1)
    is_dir = text.endswith("/")
    slashes = text.count("/")
    specificity = slashes if is_dir else slashes + 1
    if first_glob < 0:
        return text.rstrip("/"), _Literal(section, specificity, is_dir)
    if first_glob == 0:
        specificity = CATCH_ALL_SPECIFICITY
    regex = _glob_regex(text)
    if regex is None:
        return None
    prefix = text[:first_glob]
    key = prefix[:prefix.rfind("/")] if "/" in prefix else ""
    return key, _Glob(section, specificity, is_dir, regex, slashes)


def _required_literal(pattern: str) -> str:
    """A substring every match of the regex ``pattern`` must contain, '' when unsure.

    Used to skip most ``N:`` regexes with a cheap ``in`` test: ``[^a-z]tegra`` needs
    ``tegra``, ``bcm[9]?63138`` needs ``63138``, ``bcm113*`` needs ``bcm11`` (the ``3`` is
    optional). Alternations, groups and whitespace (significant under ``re.X``) give up.
    """
    if any(ch in pattern for ch in "|()# \t\\"):
        return ""
    runs: list[str] = []
    cur = ""
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "[":
            end = pattern.find("]", i + 2)
            if end < 0:
                return ""
            runs.append(cur)
            cur = ""
            i = end + 1
            continue
        if ch in "*?{":
            cur = cur[:-1]
            runs.append(cur)
            cur = ""
        elif ch.isalnum() or ch in "/_,-":
            cur += ch
        else:
            runs.append(cur)
            cur = ""
        i += 1
    runs.append(cur)
    return max(runs, key=len)


_Building = tuple[dict[str, list[_Literal]], dict[str, list[_Glob]]]
_Index = tuple[dict[str, list[_Literal]], dict[str, tuple[re.Pattern[str], list[_Glob]]]]


def _freeze_index(index: _Building) -> _Index:
    literals, globs = index
    return literals, {key: (re.compile("|".join(f"(?:{g.regex.pattern})" for g in pats)), pats)
                      for key, pats in globs.items()}


class SubsystemMatcher:
    """Which subsystems cover which paths, built once from :func:`parse_maintainers` output.

    Literal F:/X: patterns are dictionary keys, looked up for each parent directory of a path
    (``drivers``, ``drivers/clk``, ``drivers/clk/qcom`` for ``drivers/clk/qcom/gcc-sm8550.c``)
    and for the path itself. Glob patterns are filed under the directory of their literal
    prefix and only tried for paths below it. ``N:`` regexes run only on paths holding a
    substring the regex requires.
    """

    def __init__(self, subsystems: Sequence[Subsystem]) -> None:
        self.subsystems = tuple(subsystems)
        files: _Building = ({}, {})
        excludes: _Building = ({}, {})
        self._regexes: list[tuple[int, str, re.Pattern[str]]] = []
        for idx, sub in enumerate(self.subsystems):
            for index, patterns in ((files, sub.files), (excludes, sub.excludes)):
                for text in patterns:
                    compiled = _compile(idx, text)
                    if compiled is None:
                        continue
                    key, pat = compiled
                    if isinstance(pat, _Literal):
                        index[0].setdefault(key, []).append(pat)
                    else:
                        index[1].setdefault(key, []).append(pat)
            for text in sub.regexes:
                try:
                    rx = re.compile(text, re.X)
                except re.error:
                    continue  # a Perl-only construct: skip it rather than refuse the file
                self._regexes.append((idx, _required_literal(text), rx))
        self._files = _freeze_index(files)
        self._excludes = _freeze_index(excludes)
        self._by_name = {sub.name: sub for sub in self.subsystems}

    def subsystem(self, name: str) -> Subsystem | None:
        return self._by_name.get(name)

    @staticmethod
    def _hits(index: _Index, path: str, dirs: list[str]) -> dict[int, _Hit]:
        literals, globs = index
        found: dict[int, _Hit] = {}
        for d in dirs:
            for lit in literals.get(d, ()):
                # Every literal filed under a parent directory of the path covers it.
                if (lit.specificity, 1) > found.get(lit.section, (-9, 0)):
                    found[lit.section] = (lit.specificity, 1)
            bucket = globs.get(d)
            # One combined regex rejects most paths for a whole directory's globs at once.
            if bucket is None or bucket[0].match(path) is None:
                continue
            for pat in bucket[1]:
                if (pat.specificity, 0) > found.get(pat.section, (-9, 0)) and pat.matches(path):
                    found[pat.section] = (pat.specificity, 0)
        for lit in literals.get(path, ()):
            if not lit.is_dir and (lit.specificity, 1) > found.get(lit.section, (-9, 0)):
                found[lit.section] = (lit.specificity, 1)
        return found

    def _path_matches(self, path: str) -> dict[int, _Hit]:
        """Section index -> (specificity, literal) for one path, exclusions applied."""
        path = path.lstrip("/")
        dirs = [""]
        pos = path.find("/")
        while pos >= 0:
            dirs.append(path[:pos])
            pos = path.find("/", pos + 1)
        found = self._hits(self._files, path, dirs)
        excluded = self._hits(self._excludes, path, dirs) if self._excludes[0] or \
            self._excludes[1] else {}
        for idx in excluded:
            found.pop(idx, None)
        for idx, literal, rx in self._regexes:
            if literal in path and idx not in found and idx not in excluded and rx.search(path):
                found[idx] = (N_SPECIFICITY, 0)
        return found

    def match(self, paths: Iterable[str]) -> tuple[SubsystemMatch, ...]:
        """The subsystems covering any of ``paths``, most specific first.

        Order: best specificity over the section's paths; at equal depth a literal pattern
        (``drivers/clk/qcom/``) before a glob (``drivers/*/qcom/``); then how many of the paths
        it covers; then file order (MAINTAINERS is alphabetical, so ties are stable and predictable).
        """
        best: dict[int, _Hit] = {}
        covered: dict[int, list[str]] = {}
        for path in dict.fromkeys(paths):
            for idx, hit in self._path_matches(path).items():
                best[idx] = max(best.get(idx, hit), hit)
                covered.setdefault(idx, []).append(path)
        order = sorted(best, key=lambda i: (-best[i][0], -best[i][1], -len(covered[i]), i))
        return tuple(SubsystemMatch(self.subsystems[i].name, best[i][0], tuple(covered[i]))
                     for i in order)

    def reviewers(self, paths: Iterable[str]) -> tuple[str, ...]:
        """``M:`` and ``R:`` people of the matched subsystems, most specific subsystem first,
        each person once (compared by address, case-insensitively). Catch-all sections (``THE
        REST``) only count when nothing more specific matched: get_maintainer.pl users do not
        expect Linus Torvalds on every clock driver patch."""
        matches = self.match(paths)
        specific = [m for m in matches if m.specificity > CATCH_ALL_SPECIFICITY]
        chosen = specific or list(matches)
        seen: set[str] = set()
        out: list[str] = []
        for m in chosen:
            for person in self._by_name[m.name].people:
                found = _ADDRESS_RE.search(person)
                key = (found.group(0) if found else person).lower()
                if key not in seen:
                    seen.add(key)
                    out.append(person)
        return tuple(out)
