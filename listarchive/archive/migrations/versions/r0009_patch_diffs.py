"""Each patch's commit message, diff and files are kept as the ingest read them
(``patch_diffs``), so the patch page, range-diffs and discussions parse no mail: filled here
from the stored mail, as ``listarchive reindex`` would; then the review comments are placed
(revision 0008 made their table), which reads those diffs.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

from listarchive.archive import patchdiffs
from listarchive.review import placement

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    op.create_table(
        "patch_diffs",
        sa.Column("patch_id", sa.Integer, sa.ForeignKey("messages.id"), primary_key=True),
        sa.Column("commit_message", sa.LargeBinary, nullable=False),
        sa.Column("diff", sa.LargeBinary, nullable=False),
        sa.Column("files", sa.Text, nullable=False))
    session = Session(bind=op.get_bind())
    patchdiffs.fill(session)
    placement.place_everywhere(session)
    session.flush()
