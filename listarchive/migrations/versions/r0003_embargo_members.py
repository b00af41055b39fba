"""Embargoes hide messages by Message-ID, not whole threads: what an embargo of an older archive
hid (its anchor's thread) is named message by message.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table(
        "embargo_members",
        sa.Column("embargo_id", sa.Integer, sa.ForeignKey("embargoes.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("msgid", sa.String(500), primary_key=True, index=True),
        sa.Column("how", sa.String(8), nullable=False, server_default="reply"))
    op.execute(sa.text(
        "INSERT INTO embargo_members (embargo_id, msgid, how) "
        "SELECT e.id, e.anchor_msgid, 'anchor' FROM embargoes e"))
    op.execute(sa.text(
        "INSERT INTO embargo_members (embargo_id, msgid, how) "
        "SELECT DISTINCT e.id, m.msgid, 'thread' FROM embargoes e "
        "JOIN nodes n ON n.msgid = e.anchor_msgid "
        "JOIN messages m ON m.thread_id = n.thread_id WHERE m.msgid <> e.anchor_msgid"))
