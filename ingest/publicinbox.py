"""public-inbox v2 archives: one git commit per message, read through ``git cat-file --batch``.

Position: ``"<epoch>:<commit>"`` of the last message read.
"""

from __future__ import annotations

import logging
import re
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ingest.rawmail import RawMail
from listarchive.errors import SourceError

logger = logging.getLogger(__name__)

_EPOCH_RE = re.compile(r"^(\d+)\.git$")


def _is_bare_repo(path: Path) -> bool:
    return (path / "HEAD").is_file() and (path / "objects").is_dir() and (path / "refs").is_dir()


def _epoch_dirs(folder: Path) -> list[tuple[int, Path]]:
    epochs = []
    for entry in folder.iterdir():
        match = _EPOCH_RE.match(entry.name)
        if match and _is_bare_repo(entry):
            epochs.append((int(match.group(1)), entry))
    return sorted(epochs)


def find_inbox(path: Path) -> PublicInboxSource | None:
    """The public-inbox archive at the directory ``path``: one epoch repository (a bare git
    repository), an inbox directory holding ``git/0.git``..., or that ``git/`` directory itself;
    None when it is none of them."""
    if _is_bare_repo(path):
        match = _EPOCH_RE.match(path.name)
        return PublicInboxSource(path, [(int(match.group(1)) if match else 0, path)], single=True)
    for candidate in (path / "git", path):
        if candidate.is_dir() and _epoch_dirs(candidate):
            return PublicInboxSource(candidate, _epoch_dirs(candidate))
    return None


@dataclass(frozen=True)
class PublicInboxSource:
    """A public-inbox v2 archive: epoch repositories ``0.git``, ``1.git``... one commit per mail.

    Each commit's tree holds the message as blob ``m``; a removal commit holds ``d`` instead and is
    skipped. Epochs are read in numeric order, each with one ``git rev-list --reverse`` feeding one
    ``git cat-file --batch`` (a process per message would be about a hundred times slower).
    Epochs are listed on every read, so ``watch`` picks up a new epoch when the archive rolls over.
    The position ``"<epoch>:<commit>"`` resumes with ``<commit>..HEAD`` in that epoch.
    """

    path: Path  # the directory holding the N.git repositories, or the one epoch repository
    epochs: list[tuple[int, Path]]
    single: bool = False

    @property
    def key(self) -> str:
        return str(self.path.resolve())

    def _current_epochs(self) -> list[tuple[int, Path]]:
        return self.epochs if self.single else _epoch_dirs(self.path)

    def read(self, position: str = "") -> Iterator[RawMail]:
        after_epoch, after_commit = -1, ""
        if position:
            epoch_text, _, after_commit = position.partition(":")
            if not epoch_text.isdigit() or not re.fullmatch(r"[0-9a-f]{40,64}", after_commit):
                raise SourceError(f"{self.path}: {position!r} is not a public-inbox position "
                                  "(<epoch>:<commit>)")
            after_epoch = int(epoch_text)
        for epoch, repo in self._current_epochs():
            if epoch < after_epoch:
                continue
            since = after_commit if epoch == after_epoch else ""
            label = repo.name if self.single else f"git/{repo.name}"
            for commit, data in _epoch_blobs(repo, since):
                yield RawMail(data, f"{label}:{commit}", f"{epoch}:{commit}")


def _git(repo: Path, *args: str) -> list[str]:
    return ["git", f"--git-dir={repo}", *args]


def _epoch_blobs(repo: Path, since: str) -> Iterator[tuple[str, bytes]]:
    """``(commit, blob m)`` for each commit of the epoch after ``since``, oldest first."""
    try:
        head = subprocess.run(_git(repo, "rev-parse", "--verify", "--quiet", "HEAD^{commit}"),
                              capture_output=True, check=False)
    except FileNotFoundError as exc:
        raise SourceError("git is not installed; it is needed to read public-inbox archives") \
            from exc
    if head.returncode != 0:
        return  # a new epoch without commits yet
    revs = _git(repo, "rev-list", "--reverse", f"{since}..HEAD" if since else "HEAD")
    rev_list = subprocess.Popen(revs, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # %(rest) echoes what follows the object name on the input line: the commit of each blob.
    cat_file = subprocess.Popen(
        _git(repo, "cat-file", "--batch=%(objectname) %(objecttype) %(objectsize) %(rest)",
             "--buffer"),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert rev_list.stdout is not None and cat_file.stdin is not None
    assert cat_file.stdout is not None
    feeder = threading.Thread(target=_feed, args=(rev_list.stdout, cat_file.stdin), daemon=True)
    feeder.start()
    out = cat_file.stdout
    try:
        while True:
            header = out.readline()
            if not header:
                break
            fields = header.split()
            if fields[-1] == b"missing" or len(fields) != 4:
                continue  # a removal commit: its tree holds `d`, not `m`
            _oid, kind, size_text, commit = fields
            blob = out.read(int(size_text) + 1)[:-1]  # the object is followed by "\n"
            if kind != b"blob":
                logger.warning("%s: %s:m is a %s, not a message; skipped", repo,
                               commit.decode(), kind.decode())
                continue
            yield commit.decode("ascii"), blob
        feeder.join()
        err = rev_list.stderr.read() if rev_list.stderr else b""
        if rev_list.wait() != 0:
            raise SourceError(f"{repo}: git rev-list failed (is the saved position from this "
                              f"archive?): {err.decode(errors='replace').strip()}")
    finally:
        # The consumer may stop early (generator closed): killing both processes makes the
        # feeder's next read hit EOF or its next write fail, so it ends and can be joined; only
        # then are the pipes closed here (closing one the feeder is writing to would race).
        for proc in (rev_list, cat_file):
            if proc.poll() is None:
                proc.kill()
        feeder.join()
        for proc in (rev_list, cat_file):
            proc.wait()
        for stream in (rev_list.stdout, rev_list.stderr, cat_file.stdout):
            if stream is not None:
                stream.close()


def _feed(commits: IO[bytes], batch: IO[bytes]) -> None:
    """Turn rev-list's commit ids into cat-file requests ``<commit>:m <commit>``."""
    try:
        for line in commits:
            commit = line.strip()
            batch.write(commit + b":m " + commit + b"\n")
    except OSError:
        pass  # cat-file was killed because the reader stopped early: nothing left to feed
    finally:
        try:
            batch.close()
        except OSError:
            pass  # flushing into a killed cat-file
