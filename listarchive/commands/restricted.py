"""Restricted threads: ``restrict``, ``disclose`` and the ``audit`` log."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from listarchive.commands import EX_OK, transaction
from listarchive.errors import ListarchiveError, SourceError
from listarchive.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from listarchive.archive.models import User


def _as_user(session: Session, name: str | None) -> User | None:
    """``--as NAME``: the account acting (rights and audit); None = the console operator."""
    from listarchive.access import accounts

    if not name:
        return None
    user = accounts.get_user(session, name)
    if user is None:
        raise ListarchiveError(f"no user {name!r}")
    return user


def cmd_restrict(args: argparse.Namespace, settings: Settings) -> int:
    from listarchive.access import embargo
    from listarchive.search.indexer import apply_embargo_change

    msgid = args.msgid.strip().strip("<>")
    until = embargo.parse_until(args.until) if args.until else None

    def change(session: Session) -> embargo.EmbargoChange:
        actor = _as_user(session, args.as_user)
        if args.unpublish:
            if actor is None:
                raise ListarchiveError("--unpublish needs --as ADMIN")
            return embargo.unpublish(session, msgid, actor)
        return embargo.restrict(session, msgid, actor, until, args.allow)

    for done in apply_embargo_change(settings, change):
        print(f"{done.action}: thread of <{done.anchor_msgid}> (embargo {done.embargo_id}, "
              f"{len(done.msgids)} messages)")
    return EX_OK


def cmd_disclose(args: argparse.Namespace, settings: Settings) -> int:
    from listarchive.access import embargo
    from listarchive.search.indexer import apply_embargo_change

    if args.expired == bool(args.msgid):
        raise SourceError("give either MSGID or --expired")
    msgid = (args.msgid or "").strip().strip("<>")
    done = apply_embargo_change(settings, embargo.expire if args.expired else
                         (lambda session: embargo.disclose(session, msgid,
                                                           _as_user(session, args.as_user))))
    for item in done:
        print(f"disclosed: thread of <{item.anchor_msgid}> ({len(item.msgids)} messages)")
    if args.expired and not done:
        print("no embargo is past its date")
    return EX_OK


def cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    from listarchive.access.audit import audit_log

    with transaction(settings) as session:
        for e in audit_log(session, args.limit):
            print(f"{e.at:%Y-%m-%d %H:%M:%S}\t{e.actor}\t{e.action}\t<{e.target_msgid}>\t"
                  f"{e.embargo_id or ''}\t{e.detail}")
    return EX_OK
