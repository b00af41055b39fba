"""``listarchive demo`` (what ``make demo`` runs): build an archive and serve it.

Without ``--mbox`` the archive is the generated ``demo-devel`` list (:mod:`listarchive.demo.story`),
written once to ``<data_dir>/demo/`` and reused afterwards, so running ``make demo`` again
re-ingests the same file and adds nothing. With ``--mbox PATH`` it archives that mailbox instead,
on a list named after the file (``linux-clk.mbox`` -> ``linux-clk``).
"""

from __future__ import annotations

import dataclasses
import re
import sys
from pathlib import Path
from typing import TextIO

from ingest.subsystems import import_maintainers
from ingest.worker import run_ingest
from listarchive.access.accounts import create_user, get_user
from listarchive.archive.db import open_archive
from listarchive.demo import builder, story
from listarchive.errors import ConfigError
from listarchive.review.gitscan import scan
from listarchive.search.indexer import refresh_states
from listarchive.settings import ListConfig, Settings, check_list_name
from listarchive.web.serve import serve

EX_OK, EX_USAGE = 0, 2
FALLBACK_NAME = "mbox"
DEMO_USER, DEMO_PASSWORD = "maintainer", "demo-only"


def list_name_for(path: Path) -> str:
    """A valid list name (see :func:`listarchive.settings.check_list_name`) from a file name.

    ``Linux-CLK.mbox.gz`` -> ``linux-clk``; ``My Mail (2024).mbox`` -> ``my-mail-2024``;
    ``all.mbox`` -> ``all-mbox`` (``all`` is a site URL); a name with nothing usable
    (``.mbox``, ``ÜÖ.mbox``) -> ``mbox``.
    """
    stem = path.name
    for suffix in (".gz", ".mbox", ".mboxrd", ".mbx", ".eml", ".txt"):
        if stem.lower().endswith(suffix) and len(stem) > len(suffix):
            stem = stem[: -len(suffix)]
    name = re.sub(r"[^a-z0-9._-]+", "-", stem.lower()).strip("-._")[:64].rstrip("-._")
    if not name:
        return FALLBACK_NAME
    try:
        return check_list_name(name)
    except ConfigError:
        return f"{name[:59]}-mbox"


def demo_settings(settings: Settings) -> Settings:
    """``settings`` with the demo list declared (List-Id, address, description), unless the
    configuration already declares a list of that name."""
    if settings.list_config(builder.LIST_NAME) is not None:
        return settings
    demo_list = ListConfig(name=builder.LIST_NAME, list_id=builder.LIST_ID,
                           description=builder.LIST_DESCRIPTION, address=builder.LIST_ADDRESS)
    return dataclasses.replace(settings, lists=(*settings.lists, demo_list))


def prepare_demo(settings: Settings, out: TextIO) -> builder.DemoFiles:
    """The generated list under ``<data_dir>/demo/``, generated only when it is not there yet."""
    target = settings.data_dir / "demo"
    files = builder.DemoFiles(mbox=target / builder.MBOX_NAME,
                               maintainers=target / "MAINTAINERS", repo=target / "repo")
    # generate_demo_mbox writes the mbox last, in one rename: if it is there, the rest is too.
    if files.mbox.is_file() and files.maintainers.is_file():
        print(f"using the demo list generated earlier: {files.mbox}", file=out)
        return files
    print(f"generating the demo list in {target} ...", file=out)
    return story.generate_demo_mbox(target)


def import_subsystems(settings: Settings, maintainers: Path, out: TextIO) -> None:

    count, matched = import_maintainers(settings, str(maintainers))
    print(f"subsystems: {count} from {maintainers.name}, {matched} patches matched", file=out)


def scan_demo_repo(settings: Settings, repo: Path, out: TextIO) -> None:
    """Mark the patches that landed in the demo repository's main branch accepted, as a
    maintainer's ``listarchive git-scan`` would."""

    archive = open_archive(settings)
    with archive.sessions.begin() as session:
        result = scan(session, repo, "main")
    refresh_states(settings, archive.sessions)  # ``state:accepted`` finds them at once
    print(f"git-scan: {result.commits} commits read, {result.changed} patches marked accepted",
          file=out)


def demo_account(settings: Settings, out: TextIO) -> None:
    """A local maintainer account, so that state changes can be tried in the browser."""

    with open_archive(settings).sessions.begin() as session:
        if get_user(session, DEMO_USER) is None:
            create_user(session, DEMO_USER, "maintainer@example.org", DEMO_PASSWORD, is_admin=True)
    print(f"log in as {DEMO_USER} / {DEMO_PASSWORD} to change states (this demo archive only)",
          file=out)


def run_demo(settings: Settings, mbox: str | None, host: str | None, port: int | None,
             serve_site: bool = True, out: TextIO | None = None) -> int:
    """Build the demo archive (or archive ``mbox``), print a summary and the URL, then serve
    until interrupted unless ``serve_site`` is false. Returns the exit status: 2 when ``mbox``
    does not exist."""

    out = out if out is not None else sys.stdout
    if mbox is None:
        settings = demo_settings(settings)
        files = prepare_demo(settings, out)
        source, list_name = files.mbox, builder.LIST_NAME
    else:
        source = Path(mbox)
        if not source.exists():
            print(f"listarchive demo: no such mailbox: {mbox}", file=sys.stderr)
            return EX_USAGE
        list_name = list_name_for(source)

    open_archive(settings, upgrade=True).close()  # an archive of an older version is upgraded
    print(f"archiving {source} on list {list_name} ...", file=out)
    summary = run_ingest(settings, [str(source)], list_name=list_name)
    print(f"read {summary.read}, new {summary.new}, duplicate {summary.duplicate}, "
          f"quarantined {summary.quarantined}; archive: {summary.threads} threads, "
          f"{summary.patches} patches, {summary.series} series", file=out)
    if mbox is None:
        import_subsystems(settings, files.maintainers, out)
        scan_demo_repo(settings, files.repo, out)
        demo_account(settings, out)

    host = host or settings.host
    port = port or settings.port
    base = settings.base_url or f"http://{host}:{port}"
    print(f"archive: {base}/{list_name}/", file=out)
    if not serve_site:
        return EX_OK
    print("serving; stop with Ctrl-C", file=out)
    out.flush()

    serve(settings, host, port)
    return EX_OK
