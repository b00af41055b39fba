"""The key that signs the site's sessions and forms, shared by every web server of an archive.

``web.secret_key`` in the configuration wins. Without it, the first web server to start makes
one and keeps it in the database, and every other web server process of the archive (several
workers, several machines) reads the same one: a login made on one is valid on all of them.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select

from listarchive.archive.db import Archive, insert_new
from listarchive.archive.models import Meta

KEY = "site_secret"


def site_secret(archive: Archive, configured: str = "") -> str:
    """``configured`` if set, else the archive's own key (made once, by whoever asks first)."""
    if configured:
        return configured
    with archive.sessions() as session:
        found = session.scalar(select(Meta.value).where(Meta.key == KEY))
        if found:
            return found
        session.execute(insert_new(session, Meta).values(key=KEY, value=secrets.token_hex(32)))
        session.commit()
        value = session.scalar(select(Meta.value).where(Meta.key == KEY))
    assert value, "the site key was just stored"
    return value
