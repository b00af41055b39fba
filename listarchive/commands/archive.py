"""Building and feeding the archive: ``init``, ``ingest``, ``watch``, ``reindex``,
``quarantine``, ``maintainers`` and ``demo``, the commands that run the ingest worker."""

from __future__ import annotations

import argparse
import json
import sys

from listarchive.commands import EX_OK, EX_USAGE
from listarchive.errors import SourceError
from listarchive.memory import few_arenas
from listarchive.settings import Settings


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
    few_arenas()
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

    few_arenas()
    watch(settings, args.sources, args.list, interval=args.interval, once=args.once)
    return EX_OK


def cmd_reindex(args: argparse.Namespace, settings: Settings) -> int:
    few_arenas()
    if args.search:
        import time

        from listarchive.archive.db import open_archive
        from listarchive.search import indexer

        if not settings.search_enabled:
            print("listarchive: search is switched off ([search] enabled = false)",
                  file=sys.stderr)
            return EX_USAGE
        start = time.monotonic()
        count = indexer.rebuild(settings, open_archive(settings, writer=True).sessions,
                                indexer.REBUILD_BATCH)
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


def cmd_maintainers(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.subsystems import import_maintainers

    count, matched = import_maintainers(settings, args.file)
    print(f"imported {count} subsystems; {matched} patches matched")
    return EX_OK


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from listarchive.demo import run_demo

    return run_demo(settings, args.mbox, args.host, args.port, serve_site=not args.no_serve)
