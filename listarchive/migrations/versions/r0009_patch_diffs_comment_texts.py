"""Each patch's commit message, diff and files are kept as the ingest read them
(``patch_diffs``), and each placed review comment with its text and the line it answers, so
the patch page, range-diffs and discussions parse no mail: the diffs filled here from the
stored mail, then the comments placed again (revision 0008 made their table), which reads
those diffs; as ``listarchive reindex`` would.

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
    for name in ("text", "quoted"):
        op.add_column("review_comments",
                      sa.Column(name, sa.Text, nullable=False, server_default=""))
    session = Session(bind=op.get_bind())
    patchdiffs.fill(session)
    placement.place_everywhere(session)
    session.flush()
