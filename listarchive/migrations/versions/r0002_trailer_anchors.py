"""Each trailer keeps its anchor: the patch, cover letter or pull request it counts for.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

from listarchive.archive import derived

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    with op.batch_alter_table("trailers") as batch:
        batch.add_column(sa.Column("anchor_msgid", sa.String(500), nullable=False,
                                   server_default=""))
        batch.create_index("ix_trailers_anchor_msgid", ["anchor_msgid"])
    session = Session(bind=op.get_bind())
    threads = [t for (t,) in session.execute(sa.text(
        "SELECT DISTINCT m.thread_id FROM messages m JOIN trailers t ON t.message_id = m.id "
        "WHERE m.thread_id IS NOT NULL"))]
    derived.anchor_trailers(session, threads)
    session.flush()
