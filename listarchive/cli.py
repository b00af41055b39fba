"""The ``listarchive`` console script: thin subcommands that call one function each."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence

from listarchive import settings as settings_mod
from listarchive.commands import (
    EX_FAIL,
    EX_OK,
    EX_TEMPFAIL,
    EX_USAGE,
    archive,
    reading,
    restricted,
    review,
    users,
)
from listarchive.errors import (
    ConfigError,
    InvalidChange,
    ListarchiveError,
    SourceError,
    TemporaryFailure,
)
from listarchive.settings import Settings

Handler = Callable[[argparse.Namespace, Settings], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="listarchive", description=__doc__)
    parser.add_argument("-c", "--config", help="TOML configuration file")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Handler, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(handler=handler)
        return p

    add("init", archive.cmd_init, "create the database and search index (idempotent)")
    p = add("ingest", archive.cmd_ingest, "import mbox/mboxrd (.gz), Maildir, public-inbox "
                                          "archives or - (one message on stdin)")
    p.add_argument("--list", help="store every message on this list (created if missing)")
    p.add_argument("--json", action="store_true", help="print a JSON summary as the last line")
    p.add_argument("sources", nargs="+", metavar="SOURCE")
    p = add("watch", archive.cmd_watch, "keep importing what arrives in the sources until stopped")
    p.add_argument("--list", help="store every message on this list (created if missing)")
    p.add_argument("--interval", type=float, default=2.0, help="seconds between polls")
    p.add_argument("--once", action="store_true", help="one pass, then exit")
    p.add_argument("sources", nargs="+", metavar="SOURCE")
    p = add("reindex", archive.cmd_reindex, "rebuild everything derived from the stored raw messages")
    p.add_argument("--search", action="store_true",
                   help="only rebuild the search index (threads, patches and series stay)")
    p = add("quarantine", archive.cmd_quarantine, "list quarantined messages, or retry them after a fix")
    p.add_argument("action", choices=["list", "retry"], nargs="?", default="list")
    p.add_argument("ids", nargs="*", type=int, help="quarantine ids to retry (default: all)")
    p = add("search", reading.cmd_search, "search the archive with the site's query language")
    p.add_argument("--list", help="only this list")
    p.add_argument("--json", action="store_true", help="print the JSON object of /api/v1/search")
    p.add_argument("--limit", type=int, default=50, help="at most N results; 0 = every match")
    p.add_argument("query", nargs="+", help="the query (words are joined with spaces)")
    p = add("show", reading.cmd_show, "one message as the site knows it")
    p.add_argument("--json", action="store_true", help="print the object of /api/v1/messages/MSGID")
    p.add_argument("msgid", help="Message-ID, with or without <>")
    p = add("serve", reading.cmd_serve, "serve the site (production: any WSGI server on "
                                        "listarchive.web:create_app())")
    p.add_argument("--host", help="address to listen on (default: web.host)")
    p.add_argument("--port", type=int, help="port (default: web.port)")
    p = add("maintainers", archive.cmd_maintainers, "load a kernel-style MAINTAINERS file")
    p.add_argument("action", choices=["import"])
    p.add_argument("file", help="path of the MAINTAINERS file")
    p = add("user", users.cmd_user, "create accounts and give them rights on lists or subsystems")
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
    p = add("token", users.cmd_token, "print a new API token for that user")
    p.add_argument("name", help="user name")
    p.add_argument("--label", help="what the token is for")
    p = add("git-scan", review.cmd_git_scan, "mark patches accepted that landed in a git repository")
    p.add_argument("repo", metavar="REPO", help="path of the git repository")
    p.add_argument("branch", metavar="BRANCH", nargs="?", help="branch (default: HEAD)")
    p.add_argument("--all", action="store_true", help="read every commit again, not only new ones")
    p = add("outbox", review.cmd_outbox, "notification mails waiting for the SMTP relay (when "
                                         "notifications are on)")
    p.add_argument("action", nargs="?", choices=["list", "retry"], default="list",
                   help="list: pending and failed mails (default); retry: send what is due now, "
                        "and the mails given up")
    p = add("state", review.cmd_state, "show a patch's or series' state and history, or set it")
    p.add_argument("kind", choices=["patch", "series"])
    p.add_argument("id", type=int)
    p.add_argument("state", nargs="?", help="the new state (omit to show state and history)")
    p.add_argument("--as", dest="as_user", metavar="NAME", help="the user making the change")
    p.add_argument("--reason", help="why, for the history")
    p = add("restrict", restricted.cmd_restrict, "put the thread of MSGID under embargo "
                                                 "(visible only to those allowed and admins)")
    p.add_argument("msgid", help="Message-ID, with or without <>")
    p.add_argument("--until", help="disclose by itself after this date (YYYY-MM-DD[THH:MM] UTC)")
    p.add_argument("--allow", action="append", default=[], metavar="USER_OR_GROUP",
                   help="who may read it (repeatable; user:NAME, group:NAME, list:NAME)")
    p.add_argument("--as", dest="as_user", metavar="NAME", help="the user making the change")
    p.add_argument("--unpublish", action="store_true",
                   help="hide a disclosed thread again (admins, with --as)")
    p = add("disclose", restricted.cmd_disclose, "publish an embargoed thread at its permanent URLs")
    p.add_argument("msgid", nargs="?", help="Message-ID, with or without <>")
    p.add_argument("--expired", action="store_true", help="disclose every embargo past its date")
    p.add_argument("--as", dest="as_user", metavar="NAME", help="the user disclosing")
    p = add("audit", restricted.cmd_audit, "the audit log of restricted threads, newest first")
    p.add_argument("--limit", type=int, default=50, help="at most N entries; 0 = all")
    p = add("demo", archive.cmd_demo, "build a demo archive and serve it (what `make demo` runs)")
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
