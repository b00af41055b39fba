"""Patch series from patch facts: which mails form one posting, and which postings are rerolls.

Pure: no database. The store hands in one :class:`PatchFact` per patch mail (cover letters and
pull requests included) and gets back :class:`SeriesGroup` values and revision links; the same
facts in any order give the same answer, so ``listarchive reindex`` is reproducible.

How mail is grouped, in the order the rules are tried (what b4 and Patchwork users expect):

1. Replies (``Re: [PATCH ...]``) are never members. A cover letter (``[PATCH v3 0/7]``) starts a
   series; so does a ``[GIT PULL]`` without counters, on its own.
2. A patch joins the nearest message it is threaded under (In-Reply-To first, then References
   from the newest) that comes from the same sender with the same revision and total and is
   either a cover or a patch with another counter: ``git send-email`` threads patches under the
   cover (b4, ``--no-chain-reply-to``), under each other (``--chain-reply-to``), or under patch 1
   when there is no cover. A patch from another sender joins a cover it answers directly, with
   the cover's revision and total (b4 reads a series from its thread, whoever sent each patch:
   linux-clk has the last five patches of a 16-patch v18 sent by a co-maintainer in answer to
   the author's cover). A v2 sent in reply to v1 (``--in-reply-to``) has another revision, so
   it starts its own series; so does a partial reroll (``[PATCH v2 3/5]`` answering v1's 3/5),
   which is then incomplete.
3. Patches threaded under a message we do not have (a cover sent to other lists only) are
   grouped by thread root, sender, revision and total.
4. Patches threaded to nothing (no References: old mailers, ``git send-email --no-thread``,
   ``[RESEND PATCH v6 4/5]`` sent alone) are grouped by sender, revision and total when their
   dates lie within 12 hours of each other (chains of such gaps, so the answer does not depend
   on arrival order), with at most one unthreaded cover; a patch that others were threaded
   under already heads a series and is left alone.
5. Two patches with one counter in a series (a resend in the same thread): the earliest stays,
   the other is listed in ``duplicates``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import unquote

from listarchive.mail.subject import SubjectInfo, normalize_title

UNTHREADED_WINDOW = timedelta(hours=12)

_CHANGE_ID_RE = re.compile(r"^change-id:[ \t]*(\S+)[ \t]*$", re.M | re.I)
# Message-IDs in lore-style URLs: lore.kernel.org/LIST/MSGID/, /r/MSGID, lkml.kernel.org/r/,
# patch.msgid.link/MSGID, and our own /r/ redirects on any host.
_URL_MSGID_RE = re.compile(
    r"https?://(?:lore\.kernel\.org/(?:[\w.+-]+/)?|lkml\.kernel\.org/r/|patch\.msgid\.link/|"
    r"[\w.-]+/r/)([^\s/<>()\[\]\"']+(?:@|%40)[^\s/<>()\[\]\"']+)", re.I)
_BRACKET_MSGID_RE = re.compile(r"<([^\s<>@]+@[^\s<>]+)>")
# Lines that point at an earlier posting: b4's "- Link to v3: URL", "v1: URL", "[v2] URL",
# "Previous version: URL", patchew's "Supersedes: <msgid>", a Link: trailer.
_REVISION_LINE_RE = re.compile(
    r"\bv\d+\b|\bversions?\b|\brevisions?\b|\bprevious\b|\bprev\b|\bearlier\b|\bRFC\b|"
    r"\bresend\b|^\s*link:|^\s*supersedes:", re.I)
# ... but not the ones naming what a series is built on.
_DEPENDENCY_LINE_RE = re.compile(r"depend|based[- ]on|prerequisite|requires|on top of", re.I)
_SUPERSEDES_RE = re.compile(r"^\s*supersedes:", re.I)
_SUPERSEDES_ANYWHERE_RE = re.compile(r"supersedes:", re.I)
_ANY_URL_RE = re.compile(r"[A-Za-z][\w+.-]{0,31}://\S+")
# A line that points at a posting is a label and a URL (a Message-ID is at most 500 characters):
# longer lines are not read for links, so a 1 MB line costs one length check.
MAX_LINK_LINE = 2000


@dataclass(frozen=True)
class PatchFact:
    """What grouping needs to know of one patch mail. ``sender`` is the lower-cased address;
    ``date`` is UTC, naive; ``parent`` the Message-ID it answers ('' if none); ``has_diff`` is
    false for a cover letter or a pull request; ``change_id`` is b4's (see
    :func:`extract_change_id`); ``links`` the earlier postings the body points to (see
    :func:`extract_links`)."""

    msgid: str
    sender: str
    subject: SubjectInfo
    date: datetime | None
    parent: str
    references: tuple[str, ...]
    has_diff: bool
    change_id: str = ""
    links: tuple[str, ...] = ()


@dataclass(frozen=True)
class SeriesGroup:
    """One posting of a series. ``anchor`` is its stable identity: the cover's Message-ID, else
    that of the patch with the lowest counter. ``patches`` are ``(counter, msgid)`` sorted;
    ``missing`` the counters of 1..total not received; ``duplicates`` the Message-IDs of later
    copies of a counter already present; ``date`` the earliest of the members; ``revision``
    the highest of the members (a ``[PATCH 0/4]`` cover sent with ``[PATCH v2 1/4]``...)."""

    anchor: str
    cover: str | None
    patches: tuple[tuple[int, str], ...]
    revision: int
    total: int
    sender: str
    title: str
    complete: bool
    missing: tuple[int, ...]
    change_id: str
    date: datetime | None
    duplicates: tuple[str, ...] = ()
    is_pull: bool = False
    is_rfc: bool = False

    @property
    def members(self) -> tuple[str, ...]:
        """Cover (if any) then patches, by counter."""
        head = (self.cover,) if self.cover else ()
        return head + tuple(msgid for _, msgid in self.patches)


def extract_change_id(header_value: str, body: str) -> str:
    """b4's change-id: the ``X-Change-ID:`` header (b4 sets it on the cover letter), else the
    ``change-id: 20250812-glymur-clock-controller-v4-59887f028a7d`` line b4 writes below the
    ``---`` of a cover letter. Quoted lines (``> change-id: ...`` in a review) do not count."""
    value = header_value.strip()
    if value:
        return value.split()[0]
    m = _CHANGE_ID_RE.search(body)
    return m.group(1) if m else ""


def extract_links(body: str) -> tuple[str, ...]:
    """Message-IDs of earlier postings that ``body`` points to, in order of appearance.

    Kept: URLs of the lore kind (``https://lore.kernel.org/r/MSGID``, ``.../all/MSGID/``,
    ``https://patch.msgid.link/MSGID``) and ``<MSGID>`` on a line that speaks of a version
    (b4's ``- Link to v3: URL``, ``v1: URL``, ``Previous version: URL``, a ``Link:`` line) or on
    the line below such a line (``v1:`` then the URL indented on its own line), and patchew's
    ``Supersedes: <MSGID>``. Skipped: quoted text, and lines about what the series depends on
    (``Depends on: https://lore.kernel.org/r/...``), which name other work, not an older one.
    """
    if "://" not in body and not _SUPERSEDES_ANYWHERE_RE.search(body):
        return ()  # no line can hold a link: most replies, read in one pass in C
    out: list[str] = []
    # Only a line with a URL or a Supersedes: label can name a posting; whether it does
    # depends on its words and on those of the line above it (the last one not blank).
    above = ""
    for raw in body.splitlines():
        if ("@" in raw or "%40" in raw) and ("://" in raw or "upersedes" in raw.lower()) and (
                len(raw) <= MAX_LINK_LINE):
            line = raw.strip()
            if not line.startswith(">"):
                depends, speaks_of_version = _judge(line)
                prev_depends, prev_speaks_of_version = _judge_above(above)
                if (speaks_of_version or (prev_speaks_of_version and not _words(line).strip())) \
                        and not (depends or prev_depends):
                    found = [unquote(m) for m in _URL_MSGID_RE.findall(line)]
                    if _SUPERSEDES_RE.match(line):
                        found += _BRACKET_MSGID_RE.findall(line)
                    for msgid in found:
                        msgid = msgid.rstrip(".,;:")
                        if msgid not in out:
                            out.append(msgid)
        if len(raw) > MAX_LINK_LINE or raw.strip():
            above = raw
    return tuple(out)


def _words(line: str) -> str:
    """A line without its links: the words around them (b4's Message-IDs hold "-v5-")."""
    return _ANY_URL_RE.sub(" ", _BRACKET_MSGID_RE.sub(" ", line))


def _judge(line: str) -> tuple[bool, bool]:
    """(whether ``line`` names what a series depends on, whether it speaks of a version)."""
    words = _words(line)
    depends = bool(_DEPENDENCY_LINE_RE.search(words))
    return depends, bool(_REVISION_LINE_RE.search(words)) and not depends


def _judge_above(raw: str) -> tuple[bool, bool]:
    """:func:`_judge` of the line above a link; a quoted or overlong one speaks of nothing."""
    if len(raw) > MAX_LINK_LINE:
        return False, False
    line = raw.strip()
    return (False, False) if not line or line.startswith(">") else _judge(line)


def title_key(title: str) -> str:
    """What the titles of one work's revisions share (see :func:`link_revisions`), short enough
    for an index whatever the title's length: a hash of the normalized title, '' for none."""
    normal = normalize_title(title)
    if not normal:
        return ""
    return hashlib.blake2b(normal.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def _sort_key(fact: PatchFact) -> tuple[bool, datetime, str]:
    return (fact.date is None, fact.date or datetime.min, fact.msgid)


def _is_member_kind(fact: PatchFact) -> bool:
    s = fact.subject
    return not s.is_reply and (s.is_patch or s.is_pull or fact.has_diff)


# git send-email writes "<date>.<pid>-<n>-<address>", b4 "<date>-<slug>-v<rev>-<n>-<hash>@<host>":
# everything but <n> is shared by the mails of one sending.
_SEND_KEY_RE = re.compile(r"^(.+)-(\d{1,4})-([^-@]+@.+)$")


def send_key(msgid: str) -> str:
    """What the Message-IDs of one ``git send-email``/b4 run share ('' when the form is
    unknown): ``20250723110815.2865403-2-quic_varada@quicinc.com`` gives
    ``20250723110815.2865403--quic_varada@quicinc.com``."""
    m = _SEND_KEY_RE.match(msgid)
    return f"{m.group(1)}--{m.group(3)}" if m else ""


def _compatible(a: PatchFact, b: PatchFact) -> bool:
    """Whether ``b`` may be the message ``a`` was threaded under within one posting.

    Same sender and total, a cover or another counter, and the same revision -- unless both
    came from one sending (see :func:`send_key`): linux-clk has ``[PATCH 0/4]`` followed by
    ``[PATCH v2 1/4]``..``4/4`` sent in one run, the version forgotten on the cover only.
    Another sender's patch only with the revision and total of the cover it answers directly.
    """
    sa, sb = a.subject, b.subject
    if sa.total != sb.total or not (sb.is_cover or sb.counter != sa.counter):
        return False
    if a.sender != b.sender:
        return sb.is_cover and a.parent == b.msgid and sa.revision == sb.revision
    if sa.revision == sb.revision:
        return True
    key = send_key(a.msgid)
    return bool(key) and key == send_key(b.msgid)


class _Union:
    """Union-find over Message-IDs. Which member ends up the root does not matter: only the
    components are used, and those do not depend on the order of unions."""

    def __init__(self, msgids: Iterable[str]) -> None:
        self.parent: dict[str, str] = {m: m for m in msgids}

    def find(self, msgid: str) -> str:
        root = msgid
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[msgid] != root:  # path compression, iteratively
            self.parent[msgid], msgid = root, self.parent[msgid]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


def group_series(facts: Iterable[PatchFact]) -> list[SeriesGroup]:
    """Group patch facts into series (see the module docstring for the rules), ordered by date
    then anchor. A Message-ID given twice is taken once (the copy that sorts first)."""
    by_msgid: dict[str, PatchFact] = {}
    for fact in sorted(facts, key=lambda f: (f.msgid, *_sort_key(f), f.subject.subject,
                                                 f.sender, f.parent)):
        if _is_member_kind(fact):
            by_msgid.setdefault(fact.msgid, fact)
    union = _Union(by_msgid)
    targeted: set[str] = set()
    ghosts: dict[tuple[str, str, int, int], list[str]] = {}
    unthreaded: dict[tuple[str, int, int], list[PatchFact]] = {}
    covered: set[str] = set()  # roots of unthreaded components that hold a cover
    for fact in by_msgid.values():
        s = fact.subject
        if s.is_cover and not fact.references and fact.date is not None:
            unthreaded.setdefault((fact.sender, s.revision, s.total), []).append(fact)
            covered.add(fact.msgid)
        if s.is_cover or s.total < 1:
            continue  # covers, single patches and pull requests start their own series
        target = _threaded_under(fact, by_msgid)
        if target is not None:
            union.union(fact.msgid, target)
            targeted.update((fact.msgid, target))
        elif fact.references:
            # Threaded under a cover we do not have (sent to other lists too, or before the
            # archive starts): patches of one thread root belong together.
            key = (fact.references[0], fact.sender, s.revision, s.total)
            ghosts.setdefault(key, []).append(fact.msgid)
        elif fact.date is not None and s.total > 1:
            unthreaded.setdefault((fact.sender, s.revision, s.total), []).append(fact)
    for msgids in ghosts.values():
        for msgid in msgids[1:]:
            union.union(msgids[0], msgid)
    for bucket in unthreaded.values():
        # Only lone patches: one that others were threaded under is a series of its own.
        lone = sorted((f for f in bucket if f.msgid not in targeted), key=_sort_key)
        for before, after in zip(lone, lone[1:], strict=False):
            assert before.date is not None and after.date is not None
            if after.date - before.date > UNTHREADED_WINDOW:
                continue
            ra, rb = union.find(before.msgid), union.find(after.msgid)
            if not (ra in covered and rb in covered):  # never two covers in one series
                union.union(ra, rb)
                if ra in covered or rb in covered:
                    covered.add(union.find(ra))
    components: dict[str, list[PatchFact]] = {}
    for msgid, fact in by_msgid.items():
        components.setdefault(union.find(msgid), []).append(fact)
    groups = [_make_group(members) for members in components.values()]
    groups.sort(key=lambda g: (g.date is None, g.date or datetime.min, g.anchor))
    return groups


def _threaded_under(fact: PatchFact, by_msgid: Mapping[str, PatchFact]) -> str | None:
    """The nearest compatible message ``fact`` replies to, or None."""
    chain = [fact.parent] if fact.parent else []
    chain += reversed(fact.references)
    for ref in chain:
        other = by_msgid.get(ref)
        if other is not None and other.msgid != fact.msgid and _compatible(fact, other):
            return other.msgid
    return None


def _make_group(members: list[PatchFact]) -> SeriesGroup:
    members.sort(key=_sort_key)
    covers = [f for f in members if f.subject.is_cover]
    cover = covers[0] if covers else None
    by_counter: dict[int, PatchFact] = {}
    duplicates: list[str] = [f.msgid for f in covers[1:]]
    for fact in members:
        if fact.subject.is_cover:
            continue
        if fact.subject.counter in by_counter:
            duplicates.append(fact.msgid)  # members are sorted: the earliest copy stays
        else:
            by_counter[fact.subject.counter] = fact
    patches = tuple(sorted((c, f.msgid) for c, f in by_counter.items()))
    head = cover or by_counter[min(by_counter)]
    total = head.subject.total
    missing = tuple(c for c in range(1, total + 1) if c not in by_counter)
    ordered = ([cover] if cover else []) + [by_counter[c] for c in sorted(by_counter)]
    change_id = next((f.change_id for f in ordered if f.change_id), "")
    dates = [f.date for f in members if f.date is not None]
    return SeriesGroup(
        anchor=head.msgid, cover=cover.msgid if cover else None, patches=patches,
        revision=max(f.subject.revision for f in members), total=total, sender=head.sender,
        title=head.subject.title, complete=not missing, missing=missing, change_id=change_id,
        date=min(dates) if dates else None, duplicates=tuple(sorted(duplicates)),
        is_pull=head.subject.is_pull, is_rfc=head.subject.is_rfc)


def _group_key(group: SeriesGroup) -> tuple[int, bool, datetime, str]:
    return (group.revision, group.date is None, group.date or datetime.min, group.anchor)


def link_revisions(groups: Sequence[SeriesGroup],
                   facts_by_msgid: Mapping[str, PatchFact]) -> list[tuple[str, str, str]]:
    """Which series are rerolls of which: ``(older anchor, newer anchor, reason)``, sorted.

    Each series gets at most one older revision. Series sharing b4's change-id are linked in
    (revision, date) order (``change-id``). For the others, two kinds of evidence are weighed
    and the nearest predecessor wins (on a tie, the explicit link):

    * ``link``: the cover, a patch, or a reply to one of them points at a member of another
      series that is an earlier revision (or the same revision posted earlier: patchew's
      ``Supersedes:`` on a pull request's second try); the highest such revision counts (a v4
      cover links v3, v2 and v1: v3);
    * ``title``: same sender and the same normalized title with a lower revision; the
      nearest lower revision, whatever the dates (patchew's ``obsolete-by`` case has a v3
      dated before v1).
    """
    ordered = sorted(groups, key=_group_key)
    older: dict[str, tuple[str, str]] = {}

    by_change: dict[str, list[SeriesGroup]] = {}
    for g in ordered:
        if g.change_id:
            by_change.setdefault(g.change_id, []).append(g)
    for same in by_change.values():
        for before, after in zip(same, same[1:], strict=False):
            older.setdefault(after.anchor, (before.anchor, "change-id"))

    owner: dict[str, SeriesGroup] = {}
    for g in ordered:
        for msgid in g.members:
            owner.setdefault(msgid, g)
    pointers: dict[str, set[str]] = {}
    for fact in facts_by_msgid.values():
        if not fact.links:
            continue
        source = owner.get(fact.msgid)
        if source is None and fact.subject.is_reply:
            source = owner.get(fact.parent)
        if source is not None:
            pointers.setdefault(source.anchor, set()).update(fact.links)

    by_title: dict[tuple[str, str], list[SeriesGroup]] = {}
    for g in ordered:
        title = normalize_title(g.title)  # the anchor's title
        if title:
            by_title.setdefault((g.sender, title), []).append(g)
    title_pick: dict[str, SeriesGroup] = {}
    for same in by_title.values():
        for i, g in enumerate(same):
            lower = [o for o in same[:i] if o.revision < g.revision]
            if lower:
                best = max(o.revision for o in lower)
                # Of several postings of that revision (a resend), the reroll follows the last.
                title_pick[g.anchor] = [o for o in lower if o.revision == best][-1]

    for g in ordered:
        if g.anchor in older:
            continue
        candidates: list[tuple[SeriesGroup, str]] = []
        targets = {owner[m].anchor: owner[m] for m in pointers.get(g.anchor, ()) if m in owner}
        earlier = [t for t in targets.values()
                   if t.anchor != g.anchor and _group_key(t) < _group_key(g)]
        if earlier:
            candidates.append((max(earlier, key=_group_key), "link"))
        if g.anchor in title_pick:
            candidates.append((title_pick[g.anchor], "title"))
        if candidates:
            # The nearest predecessor: a v3 cover may link only the RFC while v2 shares its
            # title; on a tie the explicit link wins.
            pick, reason = max(candidates, key=lambda c: (_group_key(c[0]), c[1] == "link"))
            older[g.anchor] = (pick.anchor, reason)
    return sorted((old, new, reason) for new, (old, reason) in older.items())
