"""Indexes in the order pages read them: a list's threads, every thread and every series newest
first with undated ones last, ties by id. On PostgreSQL the earlier ascending indexes could not
serve that order, so each page of a list index sorted every thread of the list.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"

# (index, table, equal columns, date column, tie-break column)
INDEXES = [
    ("ix_thread_lists_recent", "thread_lists", "list_id, ", "last_date", "thread_id"),
    ("ix_threads_recent", "threads", "", "last_date", "id"),
    ("ix_series_recent", "series", "", "date", "id"),
]
REPLACED = [("ix_thread_lists_list_last", "thread_lists"), ("ix_threads_last_date", "threads"),
            ("ix_series_date", "series")]


def upgrade() -> None:
    nulls = " NULLS LAST" if op.get_bind().dialect.name == "postgresql" else ""
    for name, table in REPLACED:
        op.drop_index(name, table_name=table)
    for name, table, equal, date, tiebreak in INDEXES:
        op.execute(f"CREATE INDEX {name} ON {table} ({equal}{date} DESC{nulls}, {tiebreak} DESC)")
