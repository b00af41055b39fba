"""The package as users install it: a wheel built from the checkout, installed into a fresh
virtual environment away from the checkout, serves pages with their templates and stylesheet."""

from __future__ import annotations

import os
import site
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SERVE = """
import sys, listarchive
from listarchive.settings import from_mapping
from listarchive.web import create_app
assert listarchive.__file__.startswith(sys.prefix), listarchive.__file__
app = create_app(from_mapping({"storage": {"data_dir": "instance"},
                               "search": {"enabled": False}}))
client = app.test_client()
home, css = client.get("/"), client.get("/static/site.css")
assert home.status_code == 200 and b"</html>" in home.data, home.status_code
assert css.status_code == 200 and b"{" in css.data, css.status_code
missing = client.get("/no-such-list/")
assert missing.status_code == 404 and b"no list named" in missing.data
print("served")
"""


def test_wheel_installs_and_serves_pages_outside_the_checkout(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--no-build-isolation", "-w", str(wheels), str(ROOT)],
                   check=True, capture_output=True, cwd=tmp_path, timeout=600)
    wheel = next(wheels.glob("listarchive-*.whl"))
    env_dir = tmp_path / "env"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    target = subprocess.run([str(python), "-c", "import sysconfig; "
                             "print(sysconfig.get_paths()['purelib'])"],
                            check=True, capture_output=True, text=True).stdout.strip()
    # The wheel itself goes into the new environment; its dependencies are borrowed from this
    # one as a plain path entry (not a site directory, so this checkout's editable install,
    # which lives in a .pth file there, does not come along).
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                    target, str(wheel)], check=True, capture_output=True, timeout=600)
    deps = [p for p in site.getsitepackages() if Path(p).is_dir()]
    (Path(target) / "borrowed-dependencies.pth").write_text("\n".join(deps) + "\n")
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LISTARCHIVE_CONFIG")}
    done = subprocess.run([str(python), "-c", SERVE], cwd=work, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "served"
