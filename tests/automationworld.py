"""The archive the automation tests share (checks, events, mail commands): two series made with
``git format-patch`` on lists ``gizmo`` and ``other``, a restricted list ``secret`` holding a
third, search on, and accounts made with the real console script: ``ci-gizmo`` (a bot granted
list ``gizmo``), ``maint`` (a maintainer of ``gizmo``) and ``root`` (admin)."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mailfixtures import NO_LIMITS
from sqlalchemy import select
from werkzeug.serving import make_server
from worlds import make_word_series, msgid_of

from ingest.worker import run_ingest
from listarchive.archive.db import make_engine, make_sessionmaker
from listarchive.archive.models import Patch, Series
from listarchive.settings import Settings, load

PASSWORD = "correct horse battery"


@dataclass
class AutoWorld:
    base: Path
    settings: Settings
    app: Any
    series: dict[str, int]  # list name -> series id
    patches: dict[str, tuple[int, ...]]
    covers: dict[str, str]  # list name -> cover Message-ID
    tokens: dict[str, str]

    def session(self) -> Any:
        return make_sessionmaker(make_engine(self.settings))()

    def client(self) -> Any:
        return self.app.test_client()

    def cli(self, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([sys.executable, "-m", "listarchive.cli", "-c",
                               str(self.base / "listarchive.toml"), *args], cwd=self.base,
                              input=stdin, capture_output=True, timeout=300)


CONFIG = """[storage]
data_dir = "{base}/instance"
database_url = "{url}"
[search]
enabled = true
[limits]
search = ""
download = ""
api = ""
{extra}
[[lists]]
name = "gizmo"
address = "gizmo@example.org"
[[lists]]
name = "other"
address = "other@example.org"
[[lists]]
name = "secret"
address = "secret@example.org"
restricted = true
"""


def build(base: Path, extra: str = "", database_url: str = "") -> AutoWorld:
    """``database_url``: '' for the module's database (the module's schema on PostgreSQL);
    a second world in one module needs its own (``backends.archive_url()``)."""
    assert NO_LIMITS  # the same switched-off limits as the other web worlds
    (base / "listarchive.toml").write_text(CONFIG.format(base=base, extra=extra,
                                                         url=database_url))
    settings = load(str(base / "listarchive.toml"))
    dirs = {}
    for name in ("gizmo", "other", "secret"):
        _, _, out = make_word_series(base, name, f"{name}@example.org")
        dirs[name] = out
        run_ingest(settings, [str(p) for p in sorted(out.glob("*.patch"))], name)
    session = make_sessionmaker(make_engine(settings))()
    series, patches, covers = {}, {}, {}
    for name, out in dirs.items():
        cover = msgid_of(next(out.glob("0000-*.patch")))
        sid = session.scalars(select(Series.id).where(Series.cover_msgid == cover)).one()
        series[name], covers[name] = sid, cover
        patches[name] = tuple(session.scalars(select(Patch.id).where(
            Patch.series_id == sid, Patch.kind == "patch").order_by(Patch.counter)))
    session.close()
    world = AutoWorld(base, settings, None, series, patches, covers, {})
    for args in (("user", "add", "ci-gizmo", "--email", "ci@example.org", "--bot",
                  "--maintainer", "list:gizmo"),
                 ("user", "add", "maint", "--email", "maint@example.org", "--password-stdin",
                  "--maintainer", "list:gizmo"),
                 ("user", "add", "root", "--email", "root@example.org", "--password-stdin",
                  "--admin")):
        done = world.cli(*args, stdin=PASSWORD.encode() + b"\n")
        assert done.returncode == 0, done.stderr
    for name in ("ci-gizmo", "maint", "root"):
        done = world.cli("token", name)
        assert done.returncode == 0, done.stderr
        world.tokens[name] = done.stdout.decode().strip()
    from listarchive.web import create_app

    world.app = create_app(settings)
    return world


@contextmanager
def serving(app: Any) -> Iterator[int]:
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv.server_port
    finally:
        srv.shutdown()
        thread.join(5)
