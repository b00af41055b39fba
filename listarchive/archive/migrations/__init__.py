"""Alembic migrations of the archive's schema (run by :func:`listarchive.archive.schema.upgrade`,
never by the ``alembic`` command: there is no alembic.ini). A new archive is created whole from
the models and stamped with the newest revision; an older one is upgraded step by step."""
