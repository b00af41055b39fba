"""The bench's memory figures: peak RSS from ``wait4``, and the anonymous part sampled from
``/proc``, which leaves out the pages of files a process maps (as tantivy maps its index)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bench.system import run_measured

pytestmark = pytest.mark.pure

MB = 1024 * 1024
SIZE_MB = 64

ALLOCATES = f"""
import time
block = bytearray({SIZE_MB * MB})
for i in range(0, len(block), 4096):
    block[i] = 1
time.sleep(1.0)
"""

MAPS = """
import mmap, sys, time
with open(sys.argv[1], "rb") as f:
    m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
    total = sum(m[i] for i in range(0, len(m), 4096))
    time.sleep(1.0)
"""

CHILD_ALLOCATES = f"""
import subprocess, sys
subprocess.run([sys.executable, "-c", {ALLOCATES!r}], check=True)
"""


def test_allocated_memory_is_counted_as_anonymous() -> None:
    m = run_measured([sys.executable, "-c", ALLOCATES], timeout=60)
    assert m.returncode == 0, m.failure()
    assert m.max_rss_mb >= SIZE_MB
    assert m.max_anon_mb >= SIZE_MB * 0.9


def test_a_mapped_file_counts_in_peak_rss_but_not_as_anonymous(tmp_path: Path) -> None:
    data = tmp_path / "segment"
    data.write_bytes(b"\1" * (SIZE_MB * MB))
    m = run_measured([sys.executable, "-c", MAPS, str(data)], timeout=60)
    assert m.returncode == 0, m.failure()
    assert m.max_rss_mb >= SIZE_MB
    assert 0 < m.max_anon_mb < m.max_rss_mb - SIZE_MB * 0.9


def test_a_process_started_by_the_command_is_sampled_too() -> None:
    m = run_measured([sys.executable, "-c", CHILD_ALLOCATES], timeout=60)
    assert m.returncode == 0, m.failure()
    assert m.max_anon_mb >= SIZE_MB * 0.9
