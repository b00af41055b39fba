"""Freed memory goes back to the system between batches, and an ingest's threads share few
allocator arenas (listarchive.memory)."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.pure,
              pytest.mark.skipif(platform.system() != "Linux"
                                 or platform.libc_ver()[0] != "glibc",
                                 reason="malloc_trim is glibc's")]


SCENARIO = """
import ctypes, ctypes.util, sys, threading
from pathlib import Path
from listarchive.memory import give_back

CHUNK = 64 * 1024  # under glibc's mmap threshold: served from the thread's arena
COUNT = 1024  # 64 MB

def anonymous_mb():
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
        if line.startswith("Anonymous:"):
            return int(line.split()[1]) // 1024
    sys.exit("no Anonymous line in smaps_rollup")

libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
kept = []

def work():
    blocks = [libc.malloc(CHUNK) for _ in range(COUNT)]
    for block in blocks:
        ctypes.memset(block, 1, CHUNK)  # touch every page: resident
    kept.append(libc.malloc(CHUNK))  # above the others: the arena cannot shrink
    for block in blocks:
        libc.free(block)

before = anonymous_mb()
thread = threading.Thread(target=work)
thread.start()
thread.join()
held = anonymous_mb()
give_back()
print(before, held, anonymous_mb())
"""


def test_pages_freed_by_a_finished_thread_are_given_back() -> None:
    """What an engine's indexing thread leaves behind: 64 MB freed in its arena, pinned
    there by one block still in use at the top, stays resident until given back.

    It runs in a new interpreter: in a test worker, earlier tests decide which arena the
    thread gets and what is free in it, and so how much of the 64 MB shows."""
    done = subprocess.run([sys.executable, "-c", SCENARIO], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parent.parent, check=True, timeout=60)
    before, held, after = map(int, done.stdout.split())
    assert held - before > 48, "the freed blocks were released without a trim"
    assert held - after > 48, "give_back() left the freed blocks resident"


ARENAS_SCENARIO = """
import ctypes, ctypes.util, os, re, sys, tempfile, threading
from listarchive.memory import few_arenas

if sys.argv[1] == "few":
    few_arenas()
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
start = threading.Barrier(8)
kept = []

def work():
    start.wait()  # all at once, as an engine's indexing threads and the read-ahead run
    kept.extend(libc.malloc(64 * 1024) for _ in range(16))

threads = [threading.Thread(target=work) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "info.xml").encode()
    out = libc.fopen(path, b"w")
    libc.malloc_info(0, out)
    libc.fclose(out)
    print(len(re.findall(r'<heap nr="', open(path).read())))
"""


def test_an_ingest_caps_the_allocator_arenas_its_threads_get() -> None:
    """Eight threads allocating at once get arenas of their own, unless ``few_arenas()`` ran
    first: then they share :data:`listarchive.memory.ARENAS` of them."""
    from listarchive.memory import ARENAS

    def arenas(mode: str) -> int:
        done = subprocess.run([sys.executable, "-c", ARENAS_SCENARIO, mode], capture_output=True,
                              text=True, cwd=Path(__file__).resolve().parent.parent,
                              check=True, timeout=60)
        return int(done.stdout)

    assert arenas("many") > ARENAS
    assert arenas("few") <= ARENAS
