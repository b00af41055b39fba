"""The README's first screen, followed as a newcomer would: the two commands at the very top,
then their own mailbox archived, served, searched from the shell with the command the README
gives, and the b4 page it names answering with this archive's settings.

The mailbox is the first 200 messages of the linux-clk corpus (../shared/corpora/lore), whose
List-Id names the archive ``instance-linux-clk/`` exactly as the README says.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import mailfixtures
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
FIRST_SCREEN = README.split("## How fast", 1)[0]


def test_the_two_commands_open_the_readme():
    block = re.search(r"```\n(.*?)```", README, re.S)
    assert block is not None and README.index(block.group(0)) < 500
    lines = [line.split("#")[0].strip() for line in block.group(1).splitlines()]
    assert [line for line in lines if line] == ["make demo", "make test"]


def readme_commands(prefix: str) -> list[str]:
    """Commands of the first screen written in backquotes that start with ``prefix``."""
    prose = re.sub(r"```.*?```", "", FIRST_SCREEN, flags=re.S)
    return [c for c in re.findall(r"`([^`]+)`", prose.replace("\n   ", " "))
            if c.startswith(prefix)]


def test_a_newcomers_own_mailbox_served_searched_and_b4(corpora, tmp_path, cli):
    source = corpora / "lore" / "linux-clk-last10000.mboxrd.gz"
    if not source.is_file():
        pytest.skip("the linux-clk corpus is not there")
    mbox = tmp_path / "linux-clk.mbox"
    mbox.write_bytes(mailfixtures.first_messages(source, 200))
    assert "make demo MBOX=~/mail/linux-clk.mbox" in FIRST_SCREEN
    made = cli(["demo", "--mbox", str(mbox), "--no-serve"], tmp_path)  # what make demo runs
    assert made.returncode == 0, made.stderr
    printed = made.stdout.decode()
    assert "archive: http://127.0.0.1:8080/linux-clk/" in printed
    assert "http://127.0.0.1:8080/linux-clk/_/text/b4/" in printed
    assert "http://127.0.0.1:8080/linux-clk/" in FIRST_SCREEN
    config = tmp_path / "instance-linux-clk" / "listarchive.toml"
    assert config.is_file()

    searches = readme_commands(".venv/bin/listarchive -c instance-linux-clk/listarchive.toml search")
    assert searches
    for command in searches:
        args = shlex.split(command)[1:]  # as the console script
        found = cli(args, tmp_path)
        assert found.returncode == 0, found.stderr
        assert re.search(rb"^\d+ match", found.stdout, re.M), found.stdout[-500:]
        assert not found.stdout.startswith(b"0 match")
    serves = readme_commands(".venv/bin/listarchive -c instance-linux-clk/listarchive.toml serve")
    assert serves

    # the pages the first screen sends the reader to, on this very archive
    from listarchive.settings import load
    from listarchive.web import create_app

    client = create_app(load(config)).test_client()
    b4 = client.get("/linux-clk/_/text/b4/", base_url="http://127.0.0.1:8080")
    assert b4.status_code == 200
    assert "b4.midmask http://127.0.0.1:8080/linux-clk/%s" in b4.get_data(as_text=True)
    listing = client.get("/linux-clk/").get_data(as_text=True)
    assert 'href="/linux-clk/_/text/help/"' in listing and 'href="/linux-clk/_/activity/"' in listing
    assert client.get("/linux-clk/_/activity/").status_code == 200
