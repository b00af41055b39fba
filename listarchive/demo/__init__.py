"""``listarchive demo`` (what ``make demo`` runs): build an archive and serve it.

Without ``--mbox`` the archive is the generated ``demo-devel`` list (:mod:`listarchive.demo.story`),
written once to ``<data_dir>/demo/`` and reused afterwards, so running ``make demo`` again
re-ingests the same file and adds nothing. With ``--mbox PATH`` it archives that mailbox instead,
in an archive of its own beside the demo's (``instance-linux-clk/`` next to ``instance/``, with a
configuration file for the commands that follow), on a list named from the mail's ``List-Id``
(``<linux-clk.vger.kernel.org>`` -> ``linux-clk``), else after the file. Nothing of the demo (its
subsystems, its people, its account) reaches that archive.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
import time
from collections import Counter
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import TextIO

from ingest.sources import open_source
from ingest.subsystems import import_maintainers
from ingest.worker import run_ingest
from listarchive.access.accounts import create_user, get_user
from listarchive.archive.db import open_archive
from listarchive.demo import builder, story
from listarchive.errors import ConfigError, SourceError
from listarchive.review.gitscan import scan
from listarchive.search.indexer import refresh_states
from listarchive.settings import ListConfig, Settings, check_list_name
from listarchive.web.serve import serve

EX_OK, EX_USAGE = 0, 2
FALLBACK_NAME = "mbox"
DEMO_USER, DEMO_PASSWORD = "maintainer", "demo-only"
CONFIG_NAME = "listarchive.toml"
_LIST_ID_RE = re.compile(r"<([A-Za-z0-9][A-Za-z0-9._-]{0,250})>")


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


def list_id_of(source: Path, sample: int = 500) -> str:
    """The List-Id most of the first ``sample`` messages of ``source`` carry, '' if none."""
    seen: Counter[str] = Counter()
    parser = BytesHeaderParser()
    try:
        for count, mail in enumerate(open_source(str(source)).read()):
            if count >= sample:
                break
            head = mail.data.split(b"\n\n", 1)[0][:65536]
            found = _LIST_ID_RE.search(str(parser.parsebytes(head).get("List-Id", "")))
            if found:
                seen[found.group(1).lower()] += 1
    except (SourceError, OSError, ValueError):
        return ""
    return seen.most_common(1)[0][0] if seen else ""


def name_from_list_id(list_id: str) -> str | None:
    """``linux-clk.vger.kernel.org`` -> ``linux-clk``; None when that is no valid list name."""
    try:
        return check_list_name(list_id.split(".", 1)[0].lower())
    except ConfigError:
        return None


def mbox_settings(settings: Settings, name: str, list_id: str) -> Settings:
    """An archive of its own for a mailbox: ``<data_dir>-<name>`` beside the demo's, with the
    list declared and a configuration file there naming it for the commands that follow."""
    data_dir = settings.data_dir.with_name(f"{settings.data_dir.name}-{name}")
    data_dir.mkdir(parents=True, exist_ok=True)
    lists = tuple(c for c in settings.lists if c.name == name) or (
        ListConfig(name=name, list_id=list_id),)
    own = dataclasses.replace(settings, data_dir=data_dir, search_dir=None, lists=lists)
    config = data_dir / CONFIG_NAME
    if not config.exists():
        lines = ["# The archive `listarchive demo --mbox` made; use it with -c THIS_FILE.",
                 "[storage]", f"data_dir = {json.dumps(str(data_dir.resolve()))}"]
        if settings.database_url:
            lines.append(f"database_url = {json.dumps(settings.database_url)}")
        lines += ["", "[[lists]]", f"name = {json.dumps(name)}"]
        if list_id:
            lines.append(f"list_id = {json.dumps(list_id)}")
        config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return own


class Progress:
    """Where no progress bar can be drawn (output to a pipe or a file): a line every few
    seconds with how many messages were read."""

    def __init__(self, out: TextIO, every: float = 3.0) -> None:
        self.out, self.every = out, every
        self.done = 0
        self.last = 0.0

    def __call__(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if now - self.last >= self.every:  # the first batch, then every few seconds
            self.last = now
            print(f"  ... {self.done} messages read", file=self.out, flush=True)


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
        list_id = list_id_of(source)
        list_name = name_from_list_id(list_id) or list_name_for(source)
        settings = mbox_settings(settings, list_name, list_id)
        print(f"a separate archive for this mailbox: {settings.data_dir}"
              + (f" (List-Id: {list_id})" if list_id else ""), file=out)

    open_archive(settings, upgrade=True).close()  # an archive of an older version is upgraded
    print(f"archiving {source} on list {list_name} ...", file=out, flush=True)
    tty = sys.stderr.isatty()
    summary = run_ingest(settings, [str(source)], list_name=list_name, show_progress=tty,
                         progress=None if tty else Progress(out))
    print(f"read {summary.read}, new {summary.new}, duplicate {summary.duplicate}, "
          f"quarantined {summary.quarantined}; archive: {summary.threads} threads, "
          f"{summary.patches} patches, {summary.series} series", file=out)
    if mbox is None:
        import_subsystems(settings, files.maintainers, out)
        scan_demo_repo(settings, files.repo, out)
        demo_account(settings, out)
    else:
        config = settings.data_dir / CONFIG_NAME
        print(f"next, with this archive's configuration ({config}):\n"
              f"  subsystems:  listarchive -c {config} maintainers import PATH/TO/linux/MAINTAINERS\n"
              f"  states:      listarchive -c {config} git-scan PATH/TO/linux master\n"
              f"  an account:  listarchive -c {config} user add NAME --email ADDRESS --admin\n"
              f"  serve again: listarchive -c {config} serve", file=out)

    host = host or settings.host
    port = port or settings.port
    base = settings.base_url or f"http://{host}:{port}"
    print(f"archive: {base}/{list_name}/", file=out)
    print(f"b4:      {base}/{list_name}/_/text/b4/ (the git config lines that point b4 here)",
          file=out)
    if not serve_site:
        return EX_OK
    print("serving; stop with Ctrl-C", file=out)
    out.flush()

    serve(settings, host, port)
    return EX_OK
