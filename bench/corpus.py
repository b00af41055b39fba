"""Assemble the benchmark corpus: real mail, optionally replicated to a larger size.

The real sets live in ``../shared/corpora/lore`` (relative to the repository root): two mboxrd
files and one public-inbox epoch as a git bundle. Sizes above what they hold are made by
replication: copy ``k`` (k >= 1) of a message gets ``.copyK`` appended to the local part of every
Message-ID it names (``Message-ID``, ``References``, ``In-Reply-To``), so a reply still points at
its parent's copy and threads stay whole, and its ``Date`` moved back by ``k * DATE_SHIFT_DAYS``
days, so copies neither deduplicate against the original nor pile up on one day.
"""

from __future__ import annotations

import datetime as dt
import gzip
import itertools
import re
import subprocess
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPORA = REPO.parent / "shared" / "corpora" / "lore"
SCRATCH = REPO / "bench" / "scratch"

FROM_LINE = b"From mboxrd@z Thu Jan  1 00:00:00 1970\n"
DATE_SHIFT_DAYS = 30
_ID_HEADERS = frozenset({b"message-id", b"references", b"in-reply-to"})
_ANGLE_ID = re.compile(rb"<([^<>\s]+)>")
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_MBOXRD_ESCAPE = re.compile(rb"^(>*From )", re.MULTILINE)


@dataclass(frozen=True)
class RealSet:
    """One real list archive of the shared corpora."""

    name: str
    file: str
    count: int

    @property
    def path(self) -> Path:
        return CORPORA / self.file


REAL_SETS = (
    RealSet("linux-clk", "linux-clk-last10000.mboxrd.gz", 10_000),
    RealSet("linux-mips", "linux-mips-first10000.mboxrd.gz", 10_000),
    RealSet("linux-erofs", "linux-erofs-epoch0.bundle", 15_218),
)

# SIZE=small takes the first messages of each set: enough threads and patches for a smoke run.
SMALL_TAKE = {"linux-clk": 700, "linux-mips": 600, "linux-erofs": 700}
SCALED = {"10k": 10_000, "100k": 100_000, "300k": 300_000, "1m": 1_000_000}
ALIASES = {"scale": ("10k", "100k")}


@dataclass(frozen=True)
class CorpusSpec:
    """What a ``--size`` value means: ``limit`` messages (None: the real sets once)."""

    size: str
    limit: int | None
    small: bool = False

    @property
    def mbox_path(self) -> Path:
        return SCRATCH / f"corpus-{self.size}.mboxrd"


def parse_sizes(value: str) -> list[CorpusSpec]:
    """``"default"``, ``"small"``, ``"100k"``, ``"scale"`` or a comma list of them.

    >>> [s.limit for s in parse_sizes("small,100k")]
    [None, 100000]
    """
    out: list[CorpusSpec] = []
    for part in value.lower().split(","):
        part = part.strip()
        for name in ALIASES.get(part, (part,)):
            if name == "default":
                out.append(CorpusSpec("default", None))
            elif name == "small":
                out.append(CorpusSpec("small", None, small=True))
            elif name in SCALED:
                out.append(CorpusSpec(name, SCALED[name]))
            else:
                known = ", ".join(["small", "default", *SCALED, *ALIASES])
                raise ValueError(f"unknown size {name!r} (known: {known})")
    return out


def split_mboxrd(stream: Iterable[bytes]) -> Iterator[bytes]:
    """Yield each message of an mboxrd stream, still escaped, without its ``From `` line.

    In mboxrd every body line that starts with ``From `` was written as ``>From ``, so any line
    that starts with ``From `` is a separator. The blank line the writer puts between messages is
    dropped, so the bytes yielded are what was archived.
    """
    lines: list[bytes] = []
    started = False
    for line in stream:
        if line.startswith(b"From "):
            if started:
                yield _drop_separator(b"".join(lines))
            lines = []
            started = True
        elif started:
            lines.append(line)
    if started:
        yield _drop_separator(b"".join(lines))


def _drop_separator(raw: bytes) -> bytes:
    return raw[:-1] if raw.endswith(b"\n\n") else raw


def escape_mboxrd(raw: bytes) -> bytes:
    """Escape a raw message body for mboxrd: ``From `` -> ``>From ``, ``>From `` -> ``>>From ``."""
    return _MBOXRD_ESCAPE.sub(rb">\1", raw)


def iter_bundle(bundle: Path, work: Path) -> Iterator[bytes]:
    """Yield the messages of a public-inbox epoch bundle (blob ``m`` of each commit), escaped.

    The bundle is cloned once into ``work``; commits that delete ``m`` (purged messages) have no
    blob and are skipped. One ``git cat-file --batch`` streams every blob.
    """
    repo = work / (bundle.stem + ".git")
    if not (repo / "HEAD").exists():
        work.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "clone", "-q", "--mirror", str(bundle), str(repo)], check=True)
    commits = subprocess.run(["git", "-C", str(repo), "rev-list", "--reverse", "HEAD"],
                             check=True, capture_output=True).stdout.split()
    proc = subprocess.Popen(["git", "-C", str(repo), "cat-file", "--batch"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    stdin = proc.stdin

    def feed() -> None:
        for sha in commits:
            stdin.write(sha + b":m\n")
        stdin.close()

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    out = proc.stdout
    for _ in commits:
        header = out.readline().split()
        if len(header) < 3 or header[1] != b"blob":
            continue
        blob = out.read(int(header[2]))
        out.read(1)
        yield escape_mboxrd(blob)
    writer.join()
    proc.wait()


def iter_real(real: RealSet, work: Path) -> Iterator[bytes]:
    if real.file.endswith(".bundle"):
        yield from iter_bundle(real.path, work)
        return
    with gzip.open(real.path, "rb") as fh:
        yield from split_mboxrd(fh)


def iter_base(small: bool, work: Path) -> Iterator[bytes]:
    """The real sets one after another (linux-clk first, so a 10k prefix is exactly it)."""
    for real in REAL_SETS:
        messages = iter_real(real, work)
        if small:
            yield from itertools.islice(messages, SMALL_TAKE[real.name])
        else:
            yield from messages


def _copy_id(mid: bytes, copy: int) -> bytes:
    tag = b".copy%d" % copy
    if b"@" in mid:
        local, domain = mid.rsplit(b"@", 1)
        return local + tag + b"@" + domain
    return mid + tag


def _split_fields(head: bytes) -> list[bytes]:
    """Header block -> logical fields, each with its continuation lines and line ends."""
    fields: list[bytes] = []
    for line in head.split(b"\n"):
        if fields and line[:1] in (b" ", b"\t"):
            fields[-1] += b"\n" + line
        else:
            fields.append(line)
    return fields


def rewrite_copy(raw: bytes, copy: int) -> bytes:
    """Copy ``copy`` of a message: ids tagged ``.copyN`` and the date moved back.

    Only the ``Message-ID``, ``References``, ``In-Reply-To`` and ``Date`` fields change; a Date
    that does not parse (``Date: 32 Foo 19100``) is left as it is, as is a body. A Message-ID
    without angle brackets (seen from old mailers) is tagged whole.

    >>> rewrite_copy(b"Message-ID: <a@b>\\nIn-Reply-To: <c@d>\\n\\nbody <a@b>\\n", 2)
    b'Message-ID: <a.copy2@b>\\nIn-Reply-To: <c.copy2@d>\\n\\nbody <a@b>\\n'
    """
    if copy == 0:
        return raw
    end = _HEADER_END.search(raw)
    head, rest = (raw[: end.start()], raw[end.start():]) if end else (raw, b"")
    out = []
    for field in _split_fields(head):
        name, colon, value = field.partition(b":")
        key = name.strip().lower()
        if colon and key in _ID_HEADERS:
            if _ANGLE_ID.search(value):
                value = _ANGLE_ID.sub(lambda m: b"<" + _copy_id(m.group(1), copy) + b">", value)
            elif key == b"message-id" and value.strip():
                stripped = value.strip()
                value = value.replace(stripped, _copy_id(stripped, copy))
            field = name + colon + value
        elif colon and key == b"date":
            field = name + colon + _shift_date(value, copy)
        out.append(field)
    return b"\n".join(out) + rest


def _shift_date(value: bytes, copy: int) -> bytes:
    text = value.decode("latin-1").strip()
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return value
    if when is None:
        return value
    try:
        shifted = when - dt.timedelta(days=DATE_SHIFT_DAYS * copy)
    except OverflowError:
        return value
    end = b"\r" if value.endswith(b"\r") else b""
    return b" " + format_datetime(shifted).encode("ascii") + end


def replicate(base: Iterable[bytes], limit: int | None,
              base_again: Iterator[Iterable[bytes]] | None = None) -> Iterator[bytes]:
    """The base messages, then copy 1, 2, ... of them until ``limit`` messages (None: once).

    ``base_again`` yields a fresh iterable of the base for each further copy (the base is
    streamed, not held in memory).
    """
    count = 0
    copy = 0
    source: Iterable[bytes] = base
    while True:
        for raw in source:
            if limit is not None and count >= limit:
                return
            yield rewrite_copy(raw, copy)
            count += 1
        if limit is None or base_again is None or count >= limit:
            return
        copy += 1
        source = next(base_again)


def write_mboxrd(messages: Iterable[bytes], path: Path) -> int:
    """Write escaped messages as one mboxrd file; returns the number written."""
    tmp = path.with_suffix(".tmp")
    n = 0
    with tmp.open("wb") as out:
        for raw in messages:
            out.write(FROM_LINE)
            out.write(raw)
            if not raw.endswith(b"\n"):
                out.write(b"\n")
            out.write(b"\n")
            n += 1
    tmp.replace(path)
    return n


def unescape_mboxrd(raw: bytes) -> bytes:
    """The message as archived: ``>From `` -> ``From `` (one level)."""
    return re.sub(rb"^>(>*From )", rb"\1", raw, flags=re.MULTILINE)


def assemble(spec: CorpusSpec) -> tuple[Path, int]:
    """Write the corpus of ``spec`` into the scratch folder (reused if already there)."""
    SCRATCH.mkdir(parents=True, exist_ok=True)
    path = spec.mbox_path
    done = path.with_suffix(".count")
    if path.exists() and done.exists():
        return path, int(done.read_text())
    work = SCRATCH / "src"
    base = iter_base(spec.small, work)
    again = (iter_base(spec.small, work) for _ in itertools.count())
    n = write_mboxrd(replicate(base, spec.limit, again), path)
    done.write_text(str(n))
    return path, n


def write_prefix(src: Path, dest: Path, count: int) -> int:
    """The first ``count`` messages of an mboxrd file as a new one (the profiling input)."""
    with src.open("rb") as fh:
        return write_mboxrd(itertools.islice(split_mboxrd(fh), count), dest)


def write_late_copies(src: Path, dest: Path, count: int, copy: int = 999) -> tuple[int, str]:
    """``count`` messages new to an archive of ``src`` (copy ``copy`` of its first ones).

    Returns how many were written and the Message-ID of the last, to ask the search for.
    """
    with src.open("rb") as fh:
        msgs = [rewrite_copy(raw, copy) for raw in itertools.islice(split_mboxrd(fh), count)]
    write_mboxrd(msgs, dest)
    head = msgs[-1].split(b"\n\n", 1)[0] if msgs else b""
    mid = b""
    for field in _split_fields(head):
        if field.lower().startswith(b"message-id:"):
            found = _ANGLE_ID.search(field)
            mid = found.group(1) if found else b""
    return len(msgs), mid.decode("latin-1")


def write_halves(src: Path, first: Path, second: Path) -> tuple[int, int]:
    """The corpus dealt into two mboxrd files by alternate messages (1st, 3rd, ... and 2nd,
    4th, ...): one for each of two ingest workers, so a reply often reaches the archive through
    the other worker than its parent, as when two machines take deliveries."""
    counts = []
    for start, dest in ((0, first), (1, second)):  # one pass each: constant memory at any size
        with src.open("rb") as fh:
            counts.append(write_mboxrd(itertools.islice(split_mboxrd(fh), start, None, 2), dest))
    return counts[0], counts[1]
