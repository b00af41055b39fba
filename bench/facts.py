"""What to ask the servers: Message-IDs, ~50-message threads and a fixed mix of real queries.

Everything is read from the corpus file itself (its first ``SCAN_LIMIT`` messages, which hold the
real sets; replicated copies have the same shape), with a fixed random seed, so both servers get
the same URLs in the same order on every run.
"""

from __future__ import annotations

import itertools
import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path
from urllib.parse import quote

from bench.corpus import split_mboxrd

SCAN_LIMIT = 40_000
SEED = 20240601
_ID = re.compile(r"<([^<>\s]+)>")
_DIFF_FILE = re.compile(rb"^diff --git a/(\S+) b/", re.MULTILINE)
_SUBJECT_TAGS = re.compile(r"^\s*((re|fwd?|aw)\s*:\s*|\[[^\]]*\]\s*)+", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]{4,}")
_STOP = frozenset("""about after again their there these those which would could should while
where patch patches fixes series update support remove driver drivers added adding using other
first""".split())


@dataclass(frozen=True)
class MessageFacts:
    mid: str
    parent: str | None
    subject: str
    sender: str
    year_month: str | None


@dataclass
class CorpusFacts:
    """Message-IDs to request, thread roots and the query mix."""

    messages: list[str] = field(default_factory=list)
    threads: list[tuple[str, int]] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    scanned: int = 0


def _header_facts(raw: bytes, parser: BytesHeaderParser) -> MessageFacts | None:
    msg = parser.parsebytes(raw)
    ids = _ID.findall(str(msg.get("Message-ID", "")))
    if not ids:
        return None
    refs = _ID.findall(str(msg.get("References", "")))
    irt = _ID.findall(str(msg.get("In-Reply-To", "")))
    parent = refs[-1] if refs else (irt[0] if irt else None)
    senders = getaddresses([str(msg.get("From", ""))])
    sender = senders[0][1].lower() if senders and "@" in senders[0][1] else ""
    month = None
    try:
        when = parsedate_to_datetime(str(msg.get("Date", "")))
        if when is not None and 1990 < when.year < 2030:
            month = f"{when.year:04d}-{when.month:02d}"
    except (TypeError, ValueError, IndexError):
        pass
    subject = " ".join(str(msg.get("Subject", "")).split())
    return MessageFacts(ids[0], parent, subject, sender, month)


def _thread_sizes(facts: list[MessageFacts]) -> dict[str, list[str]]:
    """Group present messages into threads by their parent chain (union-find, no recursion)."""
    up: dict[str, str] = {}

    def find(x: str) -> str:
        root = x
        while up.get(root, root) != root:
            root = up[root]
        while up.get(x, x) != root:
            up[x], x = root, up[x]
        return root

    for f in facts:
        up.setdefault(f.mid, f.mid)
        if f.parent:
            up.setdefault(f.parent, f.parent)
            a, b = find(f.mid), find(f.parent)
            if a != b:
                up[a] = b
    groups: dict[str, list[str]] = defaultdict(list)
    for f in facts:
        groups[find(f.mid)].append(f.mid)
    return groups


def scan(mbox: Path, message_sample: int = 200, thread_sample: int = 8) -> CorpusFacts:
    """Read the corpus and pick URLs and queries (deterministic for a given corpus)."""
    parser = BytesHeaderParser(policy=compat32)
    facts: list[MessageFacts] = []
    files: Counter[str] = Counter()
    seen: set[str] = set()
    with mbox.open("rb") as fh:
        for raw in itertools.islice(split_mboxrd(fh), SCAN_LIMIT):
            f = _header_facts(raw, parser)
            # Reused Message-IDs are archived under a derived id by both systems: skip them.
            if f is None or f.mid in seen:
                continue
            seen.add(f.mid)
            facts.append(f)
            for name in _DIFF_FILE.findall(raw):
                files[name.decode("utf-8", "replace")] += 1
    rng = random.Random(SEED)
    out = CorpusFacts(scanned=len(facts))
    out.messages = rng.sample([f.mid for f in facts], min(message_sample, len(facts)))
    groups = _thread_sizes(facts)
    order = {f.mid: i for i, f in enumerate(facts)}
    by_size = sorted(groups.values(), key=lambda g: (abs(len(g) - 50), order[g[0]]))
    out.threads = [(min(g, key=order.__getitem__), len(g)) for g in by_size[:thread_sample]]
    out.queries = build_queries(facts, files, rng)
    return out


def build_queries(facts: list[MessageFacts], files: Counter[str],
                  rng: random.Random) -> list[str]:
    """At least 200 queries in lore's language, every one built from real mail.

    50 senders (``f:``), 50 subject words (``s:``), 40 subject phrases, 40 diff file names
    (``dfn:``), 30 one-month date ranges (``d:``) and 10 sender+word combinations.
    """
    senders = Counter(f.sender for f in facts if f.sender)
    words: Counter[str] = Counter()
    phrases: list[str] = []
    for f in facts:
        title = _SUBJECT_TAGS.sub("", f.subject)
        found = [w.lower() for w in _WORD.findall(title) if w.lower() not in _STOP]
        words.update(found)
        plain = [w for w in title.split() if w.isalpha() and len(w) > 2]
        if len(plain) >= 3:
            start = rng.randrange(len(plain) - 1)
            phrases.append(" ".join(plain[start:start + 2]).lower())
    months = sorted({f.year_month for f in facts if f.year_month})

    def pick(pool: list[str], n: int) -> list[str]:
        return rng.sample(pool, min(n, len(pool)))

    common_senders = [s for s, c in senders.most_common(400) if c >= 3]
    common_words = [w for w, c in words.most_common(600) if c >= 3]
    common_files = [p for p, c in files.most_common(400)]
    queries = [f"f:{s}" for s in pick(common_senders, 50)]
    queries += [f"s:{w}" for w in pick(common_words, 50)]
    queries += [f'"{p}"' for p in pick(sorted(set(phrases)), 40)]
    queries += [f"dfn:{p}" for p in pick(common_files, 40)]
    for month in pick(months, 30):
        year, mon = (int(x) for x in month.split("-"))
        nxt = f"{year + (mon == 12):04d}-{mon % 12 + 1:02d}"
        queries.append(f"d:{month}-01..{nxt}-01")
    for s, w in zip(pick(common_senders, 10), pick(common_words, 10), strict=False):
        queries.append(f"f:{s} s:{w}")
    # Top up from subject words if a small corpus ran short of some kind.
    extra = [f"s:{w}" for w in common_words if f"s:{w}" not in queries]
    queries += extra[: max(0, 200 - len(queries))]
    return queries


def mid_path(mid: str) -> str:
    """A Message-ID as a URL path segment, escaped the way lore links are (``/`` -> ``%2F``)."""
    return quote(mid, safe="@!$&'()*+,;=:~")
