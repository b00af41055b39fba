"""A delivery from the mail server runs ``listarchive ingest --list NAME -`` once per message,
so what it imports is paid by every message of the list. A plain reply imports only what it
uses: not Alembic (the archive is current), not the search engine the archive does not use,
not the HTML parser (the mail is plain text), DKIM (the reply says no command) nor the
progress bar (a delivery draws none)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from listarchive.archive import schema
from listarchive.archive.db import open_archive
from listarchive.archive.models import Message
from listarchive.settings import load

DATA = Path(__file__).resolve().parent / "data"
NOT_NEEDED = ("alembic", "whoosh", "bs4", "dkim", "tqdm")
SCRIPT = """
import atexit, runpy, sys
atexit.register(lambda: print("imported:", ",".join(
    m for m in {watched!r} if m in sys.modules), file=sys.stderr))
sys.argv = ["listarchive", "--config", {config!r}, "ingest", "--list", "clk", "-"]
runpy.run_module("listarchive.cli", run_name="__main__")
"""


def test_the_newest_revision_by_file_name_is_alembics() -> None:
    assert schema.newest_by_name() == schema.head()


def test_a_plain_delivery_imports_only_what_it_uses(tmp_path: Path) -> None:
    config = tmp_path / "listarchive.toml"
    config.write_text(f'[storage]\ndata_dir = "{tmp_path / "instance"}"\n'
                      '[search]\nengine = "tantivy"\n[[lists]]\nname = "clk"\n')
    init = subprocess.run([sys.executable, "-m", "listarchive.cli", "--config", str(config),
                           "init"], capture_output=True, timeout=300)
    assert init.returncode == 0, init.stderr
    mail = (DATA / "reply-quoting-a-diff.eml").read_bytes()
    done = subprocess.run([sys.executable, "-c", SCRIPT.format(watched=NOT_NEEDED,
                                                               config=str(config))],
                          input=mail, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr
    archive = open_archive(load(config))
    try:
        with archive.sessions() as session:
            assert session.scalar(select(func.count()).select_from(Message)) == 1
    finally:
        archive.close()
    assert b"imported: \n" in done.stderr, done.stderr.decode(errors="replace")[-2000:]
