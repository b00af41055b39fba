"""How raw message bytes sit in the database: zlib-compressed, inflated byte-exact on read; and
the long texts derived from them (a patch's diff), kept the same way.

Kernel mail compresses about 3:1 with zlib, which keeps the database near the size of a git-packed
public-inbox archive; inflating one message costs microseconds.
"""

from __future__ import annotations

import hashlib
import zlib


def pack(raw: bytes) -> bytes:
    return zlib.compress(raw, 6)


def unpack(blob: bytes) -> bytes:
    return zlib.decompress(blob)


def pack_text(text: str) -> bytes:
    """A text compressed as :func:`pack` does mail; any ``str`` comes back equal from
    :func:`unpack_text` (lone surrogates included)."""
    return pack(text.encode("utf-8", "surrogatepass"))


def unpack_text(blob: bytes) -> str:
    return unpack(blob).decode("utf-8", "surrogatepass")


def sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()
