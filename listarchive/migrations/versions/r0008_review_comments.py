"""Review comments placed on diff lines are stored where they are (issue 22): counts on the
series and queue pages read this table instead of parsing every thread. Filled by revision
0009, which keeps the patches' diffs that placing a comment reads.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    op.create_table(
        "review_comments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("patch_id", sa.Integer, sa.ForeignKey("messages.id"), nullable=False),
        sa.Column("message_id", sa.Integer, sa.ForeignKey("messages.id"), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("old_line", sa.Integer, nullable=False),
        sa.Column("new_line", sa.Integer, nullable=False),
        sa.Column("rank", sa.Integer, nullable=False))
    op.create_index("ix_review_comments_patch", "review_comments",
                    ["patch_id", "message_id", "rank"])
    op.create_index("ix_review_comments_message_id", "review_comments", ["message_id"])

