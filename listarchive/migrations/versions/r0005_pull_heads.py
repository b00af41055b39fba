"""A pull request keeps the head commit it asks to pull, so that git-scan can tell when it
landed: the column, filled from the stored pull requests.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

from listarchive.archive import derived

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    with op.batch_alter_table("patches") as batch:
        batch.add_column(sa.Column("pull_head", sa.String(40), nullable=False, server_default=""))
    session = Session(bind=op.get_bind())
    derived.fill_pull_heads(session)
    session.flush()
