"""Regrouping reads only the series a batch can change: each series keeps a key of its title
(the revisions of one work share it), patches' pointers to earlier postings are rows of their
own, and the indexes to find a series by title key or change-id and a sender's patches by date;
a state change is found by its evidence (was a mailed command recorded?).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

from listarchive.archive import derived
from listarchive.mail.msgids import MSGID_MAX

revision = "0011"
down_revision = "0010"


def upgrade() -> None:
    with op.batch_alter_table("series") as batch:
        batch.add_column(sa.Column("title_key", sa.String(16), nullable=False, server_default=""))
    op.create_index("ix_series_sender_title", "series", ["sender_email", "title_key"])
    op.create_index("ix_series_change_id", "series", ["change_id"])
    op.create_index("ix_patches_sender_date", "patches", ["sender_email", "date"])
    op.create_table(
        "patch_links",
        sa.Column("patch_id", sa.Integer, sa.ForeignKey("messages.id"), primary_key=True),
        sa.Column("target_msgid", sa.String(MSGID_MAX), primary_key=True))
    op.create_index("ix_patch_links_target_msgid", "patch_links", ["target_msgid"])
    op.create_index("ix_state_changes_evidence", "state_changes", ["evidence"],
                    postgresql_using="hash")
    session = Session(bind=op.get_bind())
    derived.fill_series_lookups(session)
    session.flush()
