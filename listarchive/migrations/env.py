"""Alembic's entry point: migrations run on the connection the caller holds (inside its
transaction and its lock), never on one of their own."""

from __future__ import annotations

from alembic import context

from listarchive.archive.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
