"""Reading rows in chunks past the ORM (listarchive.archive.batches)."""

from __future__ import annotations

from sqlalchemy import select

from listarchive.archive.batches import CHUNK, in_list, read, rows_in
from listarchive.archive.db import open_archive
from listarchive.archive.models import MailingList
from listarchive.settings import Settings

BY_NAME = select(MailingList.name).where(MailingList.name.in_(in_list()))


def test_rows_in_reads_every_chunk_and_what_the_session_has_not_flushed(
        settings: Settings) -> None:
    archive = open_archive(settings)
    try:
        with archive.sessions() as session:
            names = [f"list{i}" for i in range(CHUNK + 7)]
            session.add_all(MailingList(name=name) for name in names)  # pending, not flushed
            assert sorted(row.name for row in rows_in(session, BY_NAME, names)) == sorted(names)
            assert read(session, select(MailingList.id).where(MailingList.name == "list3"),
                        {}).scalar() is not None
            session.rollback()
            assert list(rows_in(session, BY_NAME, names)) == []
    finally:
        archive.close()


def test_no_autoflush_is_respected(settings: Settings) -> None:
    archive = open_archive(settings)
    try:
        with archive.sessions() as session, session.no_autoflush:
            session.add(MailingList(name="pending"))
            assert list(rows_in(session, BY_NAME, ["pending"])) == []
    finally:
        archive.close()
