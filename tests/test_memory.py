"""Freed memory goes back to the system between batches (listarchive.memory)."""

from __future__ import annotations

import ctypes
import ctypes.util
import platform
import threading
from pathlib import Path

import pytest

from listarchive.memory import give_back

pytestmark = [pytest.mark.pure,
              pytest.mark.skipif(platform.system() != "Linux"
                                 or platform.libc_ver()[0] != "glibc",
                                 reason="malloc_trim is glibc's")]

CHUNK = 64 * 1024  # under glibc's mmap threshold: served from the thread's arena
COUNT = 1024  # 64 MB


def anonymous_mb() -> int:
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
        if line.startswith("Anonymous:"):
            return int(line.split()[1]) // 1024
    raise AssertionError("no Anonymous line in smaps_rollup")


def test_pages_freed_by_a_finished_thread_are_given_back() -> None:
    """What an engine's indexing thread leaves behind: 64 MB freed in its arena, pinned
    there by one block still in use at the top, stays resident until given back."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    kept: list[int] = []

    def work() -> None:
        blocks = [libc.malloc(CHUNK) for _ in range(COUNT)]
        for block in blocks:
            ctypes.memset(block, 1, CHUNK)  # touch every page: resident
        kept.append(libc.malloc(CHUNK))  # above the others: the arena cannot shrink
        for block in blocks:
            libc.free(block)

    thread = threading.Thread(target=work)
    give_back()  # free pages left resident by earlier tests would be reused, not counted
    before = anonymous_mb()
    thread.start()
    thread.join()
    try:
        held = anonymous_mb()
        assert held - before > 48, "the freed blocks were released without a trim"
        give_back()
        assert held - anonymous_mb() > 48
    finally:
        libc.free(kept[0])
