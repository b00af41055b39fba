"""Accounts: ``user`` (add, grant, list) and ``token``."""

from __future__ import annotations

import argparse
import getpass
import sys

from listarchive.commands import EX_OK, transaction
from listarchive.errors import ListarchiveError, SourceError
from listarchive.settings import Settings


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ListarchiveError("the passwords differ")
    return first


def cmd_user(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy import select

    from listarchive.access import accounts
    from listarchive.archive.models import User

    with transaction(settings) as session:
        if args.action == "list":
            for user in session.scalars(select(User).order_by(User.name)):
                scopes = ", ".join(f"{g.scope_kind}:{g.scope_name}" for g in user.grants)
                role = "admin" if user.is_admin else "bot" if user.kind == "bot" else "-"
                print(f"{user.name}\t{user.email}\t{role}\t{scopes}")
            return EX_OK
        if args.action == "add":
            if not args.email:
                raise SourceError("user add needs --email")
            if args.bot and args.admin:
                raise SourceError("a bot account cannot be an admin")
            password = (None if args.no_password or args.bot
                        else _read_password(args.password_stdin))
            user = accounts.create_user(session, args.name, args.email, password, args.admin,
                                        kind="bot" if args.bot else "person")
        else:
            found = accounts.get_user(session, args.name)
            if found is None:
                raise ListarchiveError(f"no user {args.name!r}")
            user = found
        known = [c.name for c in settings.lists]
        for scope in args.maintainer:
            kind, name = accounts.resolve_scope(session, scope, known)
            accounts.grant(session, user, kind, name)
            print(f"{user.name} may {'post checks' if user.kind == 'bot' else 'change states'} "
                  f"on {kind} {name}")
        if args.action == "add":
            print(f"created {user.name}{' (admin)' if user.is_admin else ''}"
                  f"{' (bot: posts checks with a token, no login)' if args.bot else ''}")
    return EX_OK


def cmd_token(args: argparse.Namespace, settings: Settings) -> int:
    from listarchive.access import accounts

    with transaction(settings) as session:
        user = accounts.get_user(session, args.name)
        if user is None:
            raise ListarchiveError(f"no user {args.name!r}")
        print(accounts.new_token(session, user, args.label or ""))
    return EX_OK
