"""DKIM signatures of incoming mail, verified with dkimpy: the one adapter to it.

``dnsfunc`` is dkimpy's: a function from a DNS name (bytes) to its TXT record (bytes). Without
one dkimpy asks DNS; :func:`keys_from_file` makes one from a file of records, for an archive
that must not (or cannot) reach DNS.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger(__name__)

DnsFunc = Callable[..., bytes | None]
VERIFIED, UNVERIFIED, UNSIGNED = "verified", "unverified", "unsigned"


def dkim_status(raw: bytes, dnsfunc: DnsFunc | None = None) -> str:
    """``verified`` (a valid signature), ``unverified`` (a signature that does not verify, or
    whose key cannot be found) or ``unsigned`` (no DKIM-Signature header)."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0].lower()
    if b"dkim-signature:" not in head:
        return UNSIGNED
    import dkim  # noqa: PLC0415 - only replies that say a command are verified

    try:
        ok = dkim.verify(raw, dnsfunc=dnsfunc) if dnsfunc is not None else dkim.verify(raw)
    except (dkim.DKIMException, ValueError, IndexError) as exc:
        logger.info("DKIM signature not verified: %s", exc)
        return UNVERIFIED
    return VERIFIED if ok else UNVERIFIED


def keys_from_file(path: Path) -> DnsFunc:
    """A ``dnsfunc`` answering from a file of ``NAME RECORD`` lines, e.g.
    ``sel._domainkey.example.org v=DKIM1; k=rsa; p=MIIB...``; names it lacks have no key."""
    records: dict[str, bytes] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        name, _, record = line.strip().partition(" ")
        if name and not name.startswith("#") and record:
            records[name.lower().rstrip(".")] = record.strip().encode()

    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        return records.get(name.decode("ascii", "replace").lower().rstrip("."))

    return lookup
