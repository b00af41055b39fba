"""The ``listarchive`` console script: thin subcommands that call one function each."""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from listarchive import settings as settings_mod
from listarchive.errors import (
    ConfigError,
    InvalidChange,
    ListarchiveError,
    SourceError,
    TemporaryFailure,
)
from listarchive.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from listarchive.archive.models import User

EX_OK, EX_FAIL, EX_USAGE, EX_TEMPFAIL = 0, 1, 2, 75
CONSOLE = "console"  # who the command line acts as when no --as names a user

Handler = Callable[[argparse.Namespace, Settings], int]


def cmd_init(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy.engine import make_url

    from ingest.worker import Worker
    from listarchive.archive import schema
    from listarchive.archive.db import make_engine

    engine = make_engine(settings, writer=True)
    try:
        done = schema.prepare(engine, upgrade=True)
    finally:
        engine.dispose()
    Worker(settings).index()  # the configured lists, and the search index with its engine
    where = make_url(settings.db_url).render_as_string(hide_password=True)
    print(f"archive ready ({done}, schema {schema.head()}): {where}")
    return EX_OK


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.worker import run_ingest

    if args.sources.count("-") > 1:
        raise SourceError("'-' (standard input) can be given only once")
    summary = run_ingest(settings, args.sources, args.list, stdin=sys.stdin.buffer,
                         show_progress=sys.stderr.isatty() and not args.json)
    for problem in summary.problems[:50]:
        print(f"quarantined: {problem}", file=sys.stderr)
    if args.json:
        print(json.dumps(summary.as_json()))
    elif args.sources != ["-"] or summary.quarantined:
        print(f"read {summary.read}, new {summary.new}, duplicate {summary.duplicate}, "
              f"quarantined {summary.quarantined}; archive: {summary.threads} threads, "
              f"{summary.patches} patches, {summary.series} series ({summary.seconds:.1f} s)")
    return EX_OK


def cmd_watch(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.watch import watch

    watch(settings, args.sources, args.list, interval=args.interval, once=args.once)
    return EX_OK


def cmd_reindex(args: argparse.Namespace, settings: Settings) -> int:
    if args.search:
        import time

        from listarchive.archive.db import open_archive
        from listarchive.search import indexer

        if not settings.search_enabled:
            print("listarchive: search is switched off ([search] enabled = false)",
                  file=sys.stderr)
            return EX_USAGE
        start = time.monotonic()
        count = indexer.rebuild(settings, open_archive(settings, writer=True).sessions)
        print(f"indexed {count} messages for search ({time.monotonic() - start:.1f} s)")
        return EX_OK
    from ingest.reindex import reindex

    summary = reindex(settings)
    print(f"reindexed {summary.read} messages: {summary.threads} threads "
          f"({summary.seconds:.1f} s)")
    return EX_OK


def cmd_quarantine(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.quarantine import list_quarantined, retry_quarantined

    if args.action == "retry":
        fixed, still = retry_quarantined(settings, args.ids or None)
        print(f"released {fixed}, still quarantined {still}")
        return EX_OK
    rows = list_quarantined(settings)
    if not rows:
        print("quarantine is empty: every message read so far was stored")
    for row in rows:
        print(f"{row.id}\t{row.created_at:%Y-%m-%d %H:%M}\t{row.raw_size}\t{row.reason}\t"
              f"{row.source}")
    return EX_OK


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from listarchive.console import search_command

    return search_command(settings, args.query, args.list, args.limit, args.json)


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    from listarchive.console import show_command

    return show_command(settings, args.msgid, args.json)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from listarchive.web.serve import serve

    serve(settings, args.host, args.port)
    return EX_OK


def cmd_maintainers(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.subsystems import import_maintainers

    count, matched = import_maintainers(settings, args.file)
    print(f"imported {count} subsystems; {matched} patches matched")
    return EX_OK


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from listarchive.demo import run_demo

    return run_demo(settings, args.mbox, args.host, args.port, serve_site=not args.no_serve)


@contextmanager
def _transaction(settings: Settings) -> Iterator[Session]:
    """One committed transaction for a command that changes accounts or states."""
    from listarchive.archive.db import open_archive

    archive = open_archive(settings)
    try:
        with archive.sessions.begin() as session:
            yield session
    finally:
        archive.close()


def _refresh_search_states(settings: Settings) -> None:
    """After a command changed states: their search documents follow (``state:``)."""
    from listarchive.archive.db import open_archive
    from listarchive.search.indexer import refresh_states

    archive = open_archive(settings)
    try:
        refresh_states(settings, archive.sessions)
    finally:
        archive.close()


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

    with _transaction(settings) as session:
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

    with _transaction(settings) as session:
        user = accounts.get_user(session, args.name)
        if user is None:
            raise ListarchiveError(f"no user {args.name!r}")
        print(accounts.new_token(session, user, args.label or ""))
    return EX_OK


def cmd_git_scan(args: argparse.Namespace, settings: Settings) -> int:
    from listarchive.review.gitscan import scan

    with _transaction(settings) as session:
        result = scan(session, args.repo, args.branch, full=args.all)
    _refresh_search_states(settings)
    _notify(settings)
    print(f"read {result.commits} new commits up to {result.tip[:12]}: {result.matched} patches "
          f"matched, {result.changed} marked accepted")
    return EX_OK


def _notify(settings: Settings) -> None:
    """After a command changed states: queue and send their notifications (when on)."""
    from listarchive.notify.outboxcmd import notify_now

    notify_now(settings)


def cmd_outbox(args: argparse.Namespace, settings: Settings) -> int:
    from listarchive.notify.outboxcmd import run_outbox

    for line in run_outbox(settings, args.action):
        print(line)
    return EX_OK


def cmd_state(args: argparse.Namespace, settings: Settings) -> int:
    from listarchive.access import accounts
    from listarchive.access.visibility import Viewer
    from listarchive.errors import Forbidden, NotFound
    from listarchive.review import changes, history, states

    with _transaction(settings) as session:
        if args.state is None:
            print(states.effective_state(session, args.kind, args.id))
            operator = Viewer(user=CONSOLE, is_admin=True)
            for e in history.state_history(session, operator, args.kind, args.id):
                who = e.rule if e.via == "rule" else e.who
                evidence = " ".join(piece.value for piece in e.evidence)
                print(f"{e.at:%Y-%m-%d %H:%M}\t{e.object_kind} {e.object_id}\t"
                      f"{e.field}: {e.from_value} -> {e.to_value}\t{e.via} {who}\t{evidence}\t"
                      f"{e.reason}")
            return EX_OK
        if not args.as_user:
            raise SourceError("setting a state needs --as NAME")
        user = accounts.get_user(session, args.as_user)
        if user is None:
            raise ListarchiveError(f"no user {args.as_user!r}")
        try:
            changed = changes.change(session, user, args.kind, [args.id],
                                     changes.ChangeRequest(state=args.state,
                                                           reason=args.reason or ""), "cli")
        except (NotFound, Forbidden) as exc:
            raise ListarchiveError(str(exc)) from exc
        new = states.effective_state(session, args.kind, args.id)
    _refresh_search_states(settings)
    _notify(settings)
    print(f"{args.kind} {args.id}: {new}" + ("" if changed else " (unchanged)"))
    return EX_OK


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

    with _transaction(settings) as session:
        for e in audit_log(session, args.limit):
            print(f"{e.at:%Y-%m-%d %H:%M:%S}\t{e.actor}\t{e.action}\t<{e.target_msgid}>\t"
                  f"{e.embargo_id or ''}\t{e.detail}")
    return EX_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="listarchive", description=__doc__)
    parser.add_argument("-c", "--config", help="TOML configuration file")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Handler, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(handler=handler)
        return p

    add("init", cmd_init, "create the database and search index (idempotent)")
    p = add("ingest", cmd_ingest, "import mbox/mboxrd (.gz), Maildir, public-inbox archives or - "
                                  "(one message on stdin)")
    p.add_argument("--list", help="store every message on this list (created if missing)")
    p.add_argument("--json", action="store_true", help="print a JSON summary as the last line")
    p.add_argument("sources", nargs="+", metavar="SOURCE")
    p = add("watch", cmd_watch, "keep importing what arrives in the sources until stopped")
    p.add_argument("--list", help="store every message on this list (created if missing)")
    p.add_argument("--interval", type=float, default=2.0, help="seconds between polls")
    p.add_argument("--once", action="store_true", help="one pass, then exit")
    p.add_argument("sources", nargs="+", metavar="SOURCE")
    p = add("reindex", cmd_reindex, "rebuild everything derived from the stored raw messages")
    p.add_argument("--search", action="store_true",
                   help="only rebuild the search index (threads, patches and series stay)")
    p = add("quarantine", cmd_quarantine, "list quarantined messages, or retry them after a fix")
    p.add_argument("action", choices=["list", "retry"], nargs="?", default="list")
    p.add_argument("ids", nargs="*", type=int, help="quarantine ids to retry (default: all)")
    p = add("search", cmd_search, "search the archive with the site's query language")
    p.add_argument("--list", help="only this list")
    p.add_argument("--json", action="store_true", help="print the JSON object of /api/v1/search")
    p.add_argument("--limit", type=int, default=50, help="at most N results; 0 = every match")
    p.add_argument("query", nargs="+", help="the query (words are joined with spaces)")
    p = add("show", cmd_show, "one message as the site knows it")
    p.add_argument("--json", action="store_true", help="print the object of /api/v1/messages/MSGID")
    p.add_argument("msgid", help="Message-ID, with or without <>")
    p = add("serve", cmd_serve, "serve the site (production: any WSGI server on "
                                "listarchive.web:create_app())")
    p.add_argument("--host", help="address to listen on (default: web.host)")
    p.add_argument("--port", type=int, help="port (default: web.port)")
    p = add("maintainers", cmd_maintainers, "load a kernel-style MAINTAINERS file")
    p.add_argument("action", choices=["import"])
    p.add_argument("file", help="path of the MAINTAINERS file")
    p = add("user", cmd_user, "create accounts and give them rights on lists or subsystems")
    p.add_argument("action", choices=["add", "grant", "list"])
    p.add_argument("name", nargs="?", default="", help="user name")
    p.add_argument("--email", help="the address the user sends mail from")
    p.add_argument("--admin", action="store_true", help="may change everything")
    p.add_argument("--maintainer", action="append", default=[], metavar="LIST_OR_SUBSYSTEM",
                   help="may change states there (repeatable; list:NAME or subsystem:NAME)")
    p.add_argument("--password-stdin", action="store_true",
                   help="read the password from the first line of standard input")
    p.add_argument("--no-password", action="store_true", help="no login, API tokens only")
    p.add_argument("--bot", action="store_true",
                   help="a CI system: with a token it posts checks on its --maintainer lists "
                        "and subsystems, and changes nothing else (no login)")
    p = add("token", cmd_token, "print a new API token for that user")
    p.add_argument("name", help="user name")
    p.add_argument("--label", help="what the token is for")
    p = add("git-scan", cmd_git_scan, "mark patches accepted that landed in a git repository")
    p.add_argument("repo", metavar="REPO", help="path of the git repository")
    p.add_argument("branch", metavar="BRANCH", nargs="?", help="branch (default: HEAD)")
    p.add_argument("--all", action="store_true", help="read every commit again, not only new ones")
    p = add("outbox", cmd_outbox, "notification mails waiting for the SMTP relay (when "
                                  "notifications are on)")
    p.add_argument("action", nargs="?", choices=["list", "retry"], default="list",
                   help="list: pending and failed mails (default); retry: send what is due now, "
                        "and the mails given up")
    p = add("state", cmd_state, "show a patch's or series' state and history, or set it")
    p.add_argument("kind", choices=["patch", "series"])
    p.add_argument("id", type=int)
    p.add_argument("state", nargs="?", help="the new state (omit to show state and history)")
    p.add_argument("--as", dest="as_user", metavar="NAME", help="the user making the change")
    p.add_argument("--reason", help="why, for the history")
    p = add("restrict", cmd_restrict, "put the thread of MSGID under embargo (visible only to "
                                      "those allowed and admins)")
    p.add_argument("msgid", help="Message-ID, with or without <>")
    p.add_argument("--until", help="disclose by itself after this date (YYYY-MM-DD[THH:MM] UTC)")
    p.add_argument("--allow", action="append", default=[], metavar="USER_OR_GROUP",
                   help="who may read it (repeatable; user:NAME, group:NAME, list:NAME)")
    p.add_argument("--as", dest="as_user", metavar="NAME", help="the user making the change")
    p.add_argument("--unpublish", action="store_true",
                   help="hide a disclosed thread again (admins, with --as)")
    p = add("disclose", cmd_disclose, "publish an embargoed thread at its permanent URLs")
    p.add_argument("msgid", nargs="?", help="Message-ID, with or without <>")
    p.add_argument("--expired", action="store_true", help="disclose every embargo past its date")
    p.add_argument("--as", dest="as_user", metavar="NAME", help="the user disclosing")
    p = add("audit", cmd_audit, "the audit log of restricted threads, newest first")
    p.add_argument("--limit", type=int, default=50, help="at most N entries; 0 = all")
    p = add("demo", cmd_demo, "build a demo archive and serve it (what `make demo` runs)")
    p.add_argument("--mbox", help="archive this real mailbox instead of the generated list")
    p.add_argument("--host", default=None, help="address to listen on")
    p.add_argument("--port", type=int, default=None, help="port")
    p.add_argument("--no-serve", action="store_true", help="build the archive, do not serve")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0) and EX_USAGE
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = settings_mod.load(args.config)
    except ConfigError as exc:
        print(f"listarchive: invalid configuration: {exc}", file=sys.stderr)
        return EX_USAGE
    try:
        return int(args.handler(args, settings))
    except TemporaryFailure as exc:
        print(f"listarchive: temporary failure, try again later: {exc}", file=sys.stderr)
        return EX_TEMPFAIL
    except (ConfigError, SourceError, InvalidChange) as exc:
        print(f"listarchive: {exc}", file=sys.stderr)
        return EX_USAGE
    except ListarchiveError as exc:
        print(f"listarchive: {exc}", file=sys.stderr)
        return EX_FAIL
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (``listarchive show ... | head``): not an error of ours. Point
        # stdout at nothing so that the interpreter's final flush does not complain again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EX_OK


if __name__ == "__main__":
    sys.exit(main())
