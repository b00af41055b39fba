"""Reading the archive: ``search`` and ``show`` (terminal output of :mod:`listarchive.console`),
and ``serve``, the site."""

from __future__ import annotations

import argparse

from listarchive.commands import EX_OK
from listarchive.settings import Settings


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
