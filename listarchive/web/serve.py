"""``listarchive serve``: the site on waitress, a production-grade pure-Python WSGI server.

Larger deployments run granian on the factory instead, with several worker processes
(``docs/deploy/listarchive-web.service``), or any other WSGI server.
"""

from __future__ import annotations

import logging

from listarchive.settings import Settings
from listarchive.web import create_app

logger = logging.getLogger(__name__)


def serve(settings: Settings, host: str | None = None, port: int | None = None,
          threads: int = 8) -> None:
    """Serve until interrupted; ``host``/``port`` override ``web.host``/``web.port``."""
    from waitress import serve as waitress_serve


    app = create_app(settings)
    host = host or settings.host
    port = port or settings.port
    logger.info("serving on http://%s:%d/", host, port)
    waitress_serve(app, host=host, port=port, threads=threads, ident="listarchive")
