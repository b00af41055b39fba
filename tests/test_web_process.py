"""What a web worker process does once, when its application is built."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import gc, sys
freezes = []
freeze = gc.freeze
gc.freeze = lambda: (freezes.append(1), freeze())[1]
from listarchive.settings import load
from listarchive.web import create_app
settings = load(sys.argv[1])
create_app(settings)
frozen = gc.get_freeze_count()
tracked = len(gc.get_objects())
create_app(settings)
print(frozen, tracked, len(freezes))
"""


def test_the_objects_a_web_process_is_built_from_are_left_out_of_full_collections(
        tmp_path: Path) -> None:
    """A full collection walks every object the collector tracks; built once, the application's
    own objects (modules, mappers, routes) made each full pass of a worker take about 60 ms.
    They are frozen when the first application is built, and only then."""
    config = tmp_path / "listarchive.toml"
    config.write_text(f'[storage]\ndata_dir = "{tmp_path / "instance"}"\n')
    init = subprocess.run([sys.executable, "-m", "listarchive.cli", "--config", str(config),
                           "init"], capture_output=True, timeout=300)
    assert init.returncode == 0, init.stderr
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(config)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    frozen, tracked, freezes = map(int, done.stdout.split())
    assert frozen > 20_000
    assert tracked < frozen / 10  # what a full collection still walks
    assert freezes == 1  # a second application (a test's) freezes nothing
