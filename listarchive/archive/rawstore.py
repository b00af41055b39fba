"""How raw message bytes sit in the database: zlib-compressed, inflated byte-exact on read.

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


def sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()
