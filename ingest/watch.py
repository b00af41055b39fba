"""``listarchive watch``: follow Maildirs, growing mboxes and public-inbox archives.

The position reached in each source is saved in the same transaction as the batch it ends, so a
restart resumes exactly after the last stored batch.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from ingest.sources import open_source
from ingest.worker import Summary, Worker
from listarchive.access.embargo import expire
from listarchive.search.indexer import apply_embargo_change
from listarchive.settings import Settings

logger = logging.getLogger(__name__)


def watch(settings: Settings, specs: list[str], list_name: str | None = None,
          interval: float = 2.0, once: bool = False, stop: threading.Event | None = None) -> Summary:
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        def _stop(signum: int, _frame: FrameType | None) -> None:
            logger.info("signal %d: stopping after the current batch", signum)
            stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
    worker = Worker(settings, list_name)
    sources = [open_source(spec, follow=True) for spec in specs]
    total = Summary()
    while not stop.is_set():
        for source in sources:
            before = total.read
            worker.ingest(source, total, position=worker.position(source.key), save_position=True)
            if total.read != before:
                logger.info("%s: %d new messages", source.key, total.new)
                worker.index()
        # Embargo dates are checked every pass, whether or not mail arrived.
        apply_embargo_change(settings, expire, worker.sessions)
        # Changes made elsewhere (the site, git-scan) are noticed here too, and retries go out.
        worker.notify()
        if once:
            break
        stop.wait(interval)
    return total
