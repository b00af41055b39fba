"""The mboxrd format, both directions, for single messages (no I/O here).

mboxrd is what lore.kernel.org serves and what b4 and ``git am`` read: each message is preceded by
a ``From `` separator line and followed by one blank line, and every body line matching
``^>*From `` gets one more ``>`` so that it can never be taken for a separator. Unlike the older
mboxo quoting (only ``From `` becomes ``>From ``), this is reversible: reading removes exactly one
``>`` from every ``^>+From `` line and gives back the stored bytes.

The streaming reader of whole mbox files lives in ``ingest.mboxsource``; it uses :func:`unescape`.
"""

from __future__ import annotations

import re

# The separator lore and public-inbox write: a fixed envelope sender and the epoch date, so that
# the same message always exports to the same bytes (archives are compared and deduplicated).
FROM_LINE = b"From mboxrd@z Thu Jan  1 00:00:00 1970\n"

_ESCAPE_RE = re.compile(rb"^(>*From )", re.MULTILINE)
_UNESCAPE_RE = re.compile(rb"^>(>*From )", re.MULTILINE)


def escape(data: bytes) -> bytes:
    """Quote every line that matches ``^>*From `` with one more ``>``.

    ``b"From here\\n>From there\\n"`` becomes ``b">From here\\n>>From there\\n"``. Lines are
    found after ``\\n``, so CRLF messages are quoted the same way.
    """
    if b"From " not in data:
        return data
    return _ESCAPE_RE.sub(rb">\1", data)


def unescape(data: bytes) -> bytes:
    """Undo :func:`escape`: every ``^>+From `` line loses one ``>``.

    A plain ``From `` line is left alone (it can only come from an mboxo writer that did not
    quote it, and there is nothing to undo).
    """
    if b">From " not in data:
        return data
    return _UNESCAPE_RE.sub(rb"\1", data)


def to_mboxrd(data: bytes) -> bytes:
    """One message's mboxrd chunk: separator line, quoted message, blank line.

    Concatenating chunks gives a valid mboxrd file. Reading the chunk back (``ingest.mboxsource``)
    gives ``data`` byte for byte when ``data`` ends with a newline, which every stored message
    from a mail server or a public-inbox archive does. A message without a final newline (seen
    in hand-written test mail and some web-form mailers) gets one here: mbox needs the blank line
    before the next separator to start on a line of its own, so such a message comes back with
    ``b"\\n"`` appended. CRLF messages keep their CRLF; only the added blank line is ``\\n``,
    which the reader removes again.
    """
    body = escape(data)
    if not body.endswith(b"\n"):
        body += b"\n"
    return FROM_LINE + body + b"\n"
