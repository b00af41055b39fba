"""A list's per-thread rows keep the thread's summary over the list's messages (the message
shown, its subject, the first date, the first senders and how many there are), and a thread
its senders over every list, so that a list index page (and /all/) reads its threads from
those rows alone: the columns, filled from the stored mail's columns as the ingest would.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

from listarchive.archive import derived
from listarchive.mail.msgids import MSGID_MAX

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    with op.batch_alter_table("thread_lists") as batch:
        batch.add_column(sa.Column("first_date", sa.DateTime, nullable=True))
        batch.add_column(sa.Column("root_msgid", sa.String(MSGID_MAX), nullable=False,
                                   server_default=""))
        for name in ("subject", "participants"):
            batch.add_column(sa.Column(name, sa.Text, nullable=False, server_default=""))
        batch.add_column(sa.Column("participant_count", sa.Integer, nullable=False,
                                   server_default="0"))
    with op.batch_alter_table("threads") as batch:
        batch.add_column(sa.Column("participants", sa.Text, nullable=False, server_default=""))
        batch.add_column(sa.Column("participant_count", sa.Integer, nullable=False,
                                   server_default="0"))
    session = Session(bind=op.get_bind())
    derived.fill_thread_summaries(session)
    session.flush()
