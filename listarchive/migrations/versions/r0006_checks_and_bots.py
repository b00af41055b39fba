"""Automation: CI checks on patches and bot accounts. Events need no table: they are read from
the history, the checks and the stored mail.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("kind", sa.String(8), nullable=False,
                                   server_default="person"))
    op.create_table(
        "checks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("patch_id", sa.Integer, nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"),
                  nullable=True),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("context", sa.String(255), nullable=False),
        sa.Column("target_url", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created", sa.DateTime, nullable=False))
    op.create_index("ix_checks_patch", "checks", ["patch_id", "context", "id"])
    op.create_index("ix_checks_created", "checks", ["created"])
