"""Who is looking, and what they may see: the one place read queries ask.

Every read query takes a :class:`Viewer` and narrows its SQL with :func:`visible_message` or
:func:`visible_list`. A message the viewer may not see must answer exactly like a Message-ID that
was never archived (404, ``None``), or the archive would confirm that a private report exists.

Today one rule applies: messages live on lists and a list declared ``restricted = true`` is hidden
from anonymous viewers. Embargoed threads (``listarchive restrict``) add their condition to
:func:`visible_message` and nothing else changes: queries, views and the search filter
(:meth:`Viewer.search_keys`) already go through here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, exists, select, true

from listarchive.models import MailingList, Message, MessageList


@dataclass(frozen=True)
class Viewer:
    """The person behind a request. The default is an anonymous visitor."""

    user: str | None = None
    is_admin: bool = False
    # Restricted lists this viewer was granted (by name), besides what admins see anyway.
    lists: frozenset[str] = field(default_factory=frozenset)

    @property
    def anonymous(self) -> bool:
        return self.user is None

    def search_keys(self) -> frozenset[str]:
        """Access keys handed to the search index: ``public`` plus ``list:NAME`` grants.

        The index stores the same keys per document, so search filters without asking the
        database, and a hit the viewer may not see never reaches a result page.
        """
        keys = {"public"}
        if self.is_admin:
            keys.add("admin")
        keys.update(f"list:{name}" for name in self.lists)
        return frozenset(keys)


ANONYMOUS = Viewer()


def visible_list(viewer: Viewer) -> ColumnElement[bool]:
    """SQL condition on :class:`MailingList`: lists this viewer may browse."""
    if viewer.is_admin:
        return true()
    if viewer.lists:
        return (MailingList.restricted.is_(False)) | MailingList.name.in_(sorted(viewer.lists))
    return MailingList.restricted.is_(False)


def visible_message(viewer: Viewer) -> ColumnElement[bool]:
    """SQL condition on :class:`Message`: on at least one list this viewer may browse.

    Embargoes plug in here (an ``and_`` with the thread's embargo state) so that every page,
    download, feed and API answer follows.
    """
    if viewer.is_admin:
        return true()
    return exists(
        select(MessageList.message_id)
        .join(MailingList, MailingList.id == MessageList.list_id)
        .where(MessageList.message_id == Message.id, visible_list(viewer)))


def list_allowed(viewer: Viewer, restricted: bool, name: str) -> bool:
    """The Python twin of :func:`visible_list` for a list already loaded."""
    return viewer.is_admin or not restricted or name in viewer.lists
