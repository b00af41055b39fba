"""Alembic migrations of the archive's schema (run by :func:`listarchive.archive.schema.upgrade`,
never by the ``alembic`` command: there is no alembic.ini). A new archive is created whole from
the models and stamped with the newest revision; an older one is upgraded step by step.

They stand above the rest of the core: a revision that fills a new derived table runs the code
the ingest runs for it (placing review comments, reading each patch's diff), so the archive
package finds this folder by its path and imports nothing of it."""
