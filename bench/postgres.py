"""listarchive on PostgreSQL beside SQLite: the corpus ingested by one worker and by two at once
into a throw-away PostgreSQL cluster, the two workers' archive then served for the load client.

The cluster is the test suite's (``.ci/pg-start``: trust authentication on 127.0.0.1, fsync off,
as the ``postgres`` user when the bench runs as root), started in the scratch folder for one
corpus size and stopped when that size is done, whatever happened; each ingest gets a new
database in it. Like :mod:`bench.ours`, nothing of the product is imported.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

from bench import ours
from bench.corpus import REPO
from bench.ours import IngestResult
from bench.system import say

PG_START = REPO / ".ci" / "pg-start"
SERVER = "listarchive-postgresql"  # the load client's name for the PostgreSQL archive's server
INSTALL_LIB = Path("/usr/lib/postgresql")


@dataclass
class PgRun:
    """The PostgreSQL column at one corpus size; ``error`` says why it was not run."""

    size: str
    error: str = ""
    version: str = ""
    one: IngestResult | None = None  # one `listarchive ingest` of the whole corpus
    two: IngestResult | None = None  # two at once, one per half, into one database
    served: str = ""  # the data folder the two workers' archive is served from


def from_dict(d: dict[str, object] | None) -> PgRun | None:
    """A PgRun back from ``results.json`` (None for runs made before it was measured)."""
    if not d:
        return None
    d = dict(d)
    for key in ("one", "two"):
        found = d.get(key)
        d[key] = IngestResult(**found) if isinstance(found, dict) else None
    return PgRun(**d)  # type: ignore[arg-type]


def bin_dir() -> Path | None:
    """The newest installed PostgreSQL's programs (Debian keeps them off the PATH)."""
    found = [p.parent for p in INSTALL_LIB.glob("*/bin/initdb")]
    return max(found, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
               default=None)


def ensure() -> tuple[str, list[str]]:
    """Install Debian's ``postgresql`` when it is missing, as public-inbox is
    (:func:`bench.system.ensure_tools`). Returns why PostgreSQL cannot run ('' when it can) and
    what was installed; never raises: without it, only the PostgreSQL column is missing."""
    if bin_dir() is not None:
        return "", []
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        return ("not run: PostgreSQL is not installed (apt-get install postgresql, or run "
                "make bench as root)"), []
    say("installing postgresql: apt-get install -y postgresql")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    done = subprocess.run(["apt-get", "install", "-y", "-qq", "postgresql"], env=env,
                          capture_output=True, text=True)
    if done.returncode != 0 or bin_dir() is None:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return f"not run: apt-get install postgresql failed ({tail[:200]})", []
    return "", ["postgresql"]


def _as_owner(argv: list[str]) -> list[str]:
    """initdb refuses root: as root, the cluster's programs run as ``postgres`` (pg-start's
    choice)."""
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


class Cluster:
    """A throw-away PostgreSQL cluster in ``folder`` for the length of a ``with`` block, stopped
    at its end even when the block fails; ``error`` says why there is none."""

    def __init__(self, folder: Path, unavailable: str = "") -> None:
        self.folder = folder
        self.error = unavailable
        self.url = ""

    def __enter__(self) -> Cluster:
        if self.error:
            return self
        say(f"PostgreSQL: a throw-away cluster in {self.folder.relative_to(REPO)}/")
        try:
            started = subprocess.run([str(PG_START), str(self.folder)], capture_output=True,
                                     text=True, timeout=180)
        except subprocess.TimeoutExpired:
            self.error = "not run: .ci/pg-start did not finish in 180 s"
            return self
        if started.returncode != 0:
            tail = (started.stderr.strip().splitlines() or ["no output"])[-1]
            self.error = f"not run: .ci/pg-start failed ({tail[:200]})"
            return self
        self.url = started.stdout.strip().splitlines()[-1]
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def stop(self) -> None:
        data = self.folder / "data"
        programs = bin_dir()
        if programs is None or not (data / "postmaster.pid").exists():
            return
        subprocess.run(_as_owner([str(programs / "pg_ctl"), "-D", str(data), "-m", "fast",
                                  "-w", "stop"]), capture_output=True, timeout=120)

    def _client(self, program: str, *args: str) -> str:
        """Run one of PostgreSQL's client programs against the cluster; its output."""
        programs = bin_dir()
        assert programs is not None
        where = urlsplit(self.url)
        done = subprocess.run([str(programs / program), "-h", where.hostname or "127.0.0.1",
                               "-p", str(where.port), "-U", where.username or "listarchive",
                               *args], capture_output=True, text=True, timeout=120, check=True)
        return done.stdout.strip()

    def database(self, name: str) -> str:
        """A new, empty database; its URL."""
        self._client("createdb", name)
        return self.url.rsplit("/", 1)[0] + "/" + name

    def size_of(self, name: str) -> int:
        return int(self._client("psql", "-d", name, "-Atc",
                                f"SELECT pg_database_size('{name}')") or 0)

    def version(self) -> str:
        return self._client("psql", "-d", "postgres", "-Atc", "SHOW server_version")


def measure(cluster: Cluster, size: str, mbox: Path, messages: int, raw_bytes: int,
            halves: tuple[Path, Path], scratch: Path, timeout: float) -> PgRun:
    """The corpus into a new database by one worker, then into another by two workers at once
    (search on, as the SQLite archive that is served); the second is the one served."""
    run = PgRun(size, error=cluster.error)
    if cluster.error:
        say(f"PostgreSQL column {cluster.error}")
        return run
    try:
        run.version = cluster.version()
        for key, workers in (("one", ()), ("two", halves)):
            name = f"bench_{size}_{key}".replace("-", "_")
            home = scratch / f"ours-{size}-postgresql-{key}"
            result = ours.ingest(mbox, messages, raw_bytes, True, home, timeout,
                                 cluster.database(name), workers)
            result.disk["database"] = cluster.size_of(name)
            setattr(run, key, result)
            if result.ok and workers:
                run.served = str(home)
    except subprocess.CalledProcessError as exc:
        run.error = f"not run: {Path(exc.cmd[0]).name} failed ({(exc.stderr or '').strip()[-200:]})"
    except (subprocess.SubprocessError, ValueError) as exc:
        run.error = f"not run: {exc}"
    return run
