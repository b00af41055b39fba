"""Review states: ``state`` (show or set one), ``git-scan`` (what landed upstream), and
``outbox``, the notification mails that state changes send."""

from __future__ import annotations

import argparse

from listarchive.commands import EX_OK, transaction
from listarchive.errors import ListarchiveError, SourceError
from listarchive.settings import Settings

CONSOLE = "console"  # who the command line acts as when no --as names a user


def _refresh_search_states(settings: Settings) -> None:
    """After a command changed states: their search documents follow (``state:``)."""
    from listarchive.archive.db import open_archive
    from listarchive.search.indexer import refresh_states

    archive = open_archive(settings)
    try:
        refresh_states(settings, archive.sessions)
    finally:
        archive.close()


def _notify(settings: Settings) -> None:
    """After a command changed states: queue and send their notifications (when on)."""
    from listarchive.notify.outboxcmd import notify_now

    notify_now(settings)


def cmd_state(args: argparse.Namespace, settings: Settings) -> int:
    from listarchive.access import accounts
    from listarchive.access.visibility import Viewer
    from listarchive.errors import Forbidden, NotFound
    from listarchive.review import changes, history, states

    with transaction(settings) as session:
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


def cmd_git_scan(args: argparse.Namespace, settings: Settings) -> int:
    from listarchive.review.gitscan import scan

    with transaction(settings) as session:
        result = scan(session, args.repo, args.branch, full=args.all)
    _refresh_search_states(settings)
    _notify(settings)
    print(f"read {result.commits} new commits up to {result.tip[:12]}: {result.matched} patches "
          f"matched, {result.changed} marked accepted")
    return EX_OK


def cmd_outbox(args: argparse.Namespace, settings: Settings) -> int:
    from listarchive.notify.outboxcmd import run_outbox

    for line in run_outbox(settings, args.action):
        print(line)
    return EX_OK
