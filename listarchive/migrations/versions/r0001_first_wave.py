"""The schema of the first released archives (threads, patches, series, states, accounts,
embargoes by thread). Archives made before migrations existed are this revision.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

revision = "0001"
down_revision = None


def upgrade() -> None:
    """Nothing: a new archive is created from the models whole; this revision only names the
    starting point of archives that were made before revisions were recorded."""
