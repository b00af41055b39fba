"""The subcommands of the ``listarchive`` console script, one module per area: building and
feeding the archive (:mod:`.archive`), reading it (:mod:`.reading`), accounts (:mod:`.users`),
review states (:mod:`.review`), restricted threads (:mod:`.restricted`). The parser and the
mapping of errors to exit codes are :mod:`listarchive.cli`'s.

Each command is a few lines that call one function of the core; imports stay inside them, so
that ``listarchive ingest -`` (one delivery from a mail server) loads only what it uses.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from listarchive.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

EX_OK, EX_FAIL, EX_USAGE, EX_TEMPFAIL = 0, 1, 2, 75


@contextmanager
def transaction(settings: Settings) -> Iterator[Session]:
    """One committed transaction for a command that changes accounts or states."""
    from listarchive.archive.db import open_archive

    archive = open_archive(settings)
    try:
        with archive.sessions.begin() as session:
            yield session
    finally:
        archive.close()
