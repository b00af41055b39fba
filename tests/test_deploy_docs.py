"""The deployment files under docs/deploy name commands that exist, with arguments their
programs accept, and README's "Running it for a real list" points at every one of them."""

from __future__ import annotations

import configparser
import re
import shlex
from pathlib import Path

import pytest
from granian.cli import cli as granian_cli

from listarchive.cli import build_parser

pytestmark = pytest.mark.pure

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "docs" / "deploy"
UNITS = sorted(DEPLOY.glob("*.service"))


def exec_start(unit: Path) -> list[str]:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(unit.read_text())
    assert {"Unit", "Service", "Install"} <= set(parser.sections()), unit.name
    assert parser["Service"]["User"] != "root"
    return shlex.split(parser["Service"]["ExecStart"])


def check_listarchive_command(argv: list[str]) -> None:
    """argparse exits on anything it does not accept."""
    args = build_parser().parse_args(argv)
    assert callable(args.handler)


def test_there_are_units_for_the_site_and_for_importing():
    assert {u.name for u in UNITS} >= {"listarchive-web.service", "listarchive-watch.service"}


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_each_unit_runs_a_command_that_accepts_its_arguments(unit):
    program, *argv = exec_start(unit)
    assert program.startswith("/srv/listarchive/.venv/bin/")
    name = program.rsplit("/", 1)[1]
    if name == "listarchive":
        check_listarchive_command(argv)
        return
    assert name == "granian"
    params = granian_cli.make_context("granian", list(argv)).params  # click exits on a bad one
    module, _, factory = params["app"].partition(":")
    assert (module, factory, params["factory"]) == ("listarchive.web", "create_app", True)
    import listarchive.web

    assert callable(listarchive.web.create_app)
    assert params["interface"].value == "wsgi"
    assert params["workers"] > 1  # one process would serve one slow request at a time
    assert params["blocking_threads"] == 1  # the site's Python runs in one thread per worker
    # make bench measures the site served as deployed
    from bench.ours import SERVER_ARGS, SITE

    assert set(SERVER_ARGS) <= set(argv) and argv[-1] == SITE
    nginx = (DEPLOY / "nginx-listarchive.conf").read_text()
    upstream = re.search(r"upstream (\w+) \{([^}]*)\}", nginx)
    assert upstream is not None
    assert f"server {params['host']}:{params['port']};" in upstream.group(2)
    assert nginx.count(f"proxy_pass http://{upstream.group(1)};") == 2


def test_the_mail_server_pipe_is_a_delivery_on_stdin():
    lines = [line for line in (DEPLOY / "postfix-aliases").read_text().splitlines()
             if line and not line.startswith("#")]
    assert lines
    for line in lines:
        _alias, command = line.split(":", 1)
        argv = shlex.split(command.strip().strip('"').lstrip("|"))
        assert argv[0].endswith("/.venv/bin/listarchive")
        check_listarchive_command(argv[1:])
        assert argv[-1] == "-" and "ingest" in argv and "--list" in argv


def test_nginx_passes_what_the_site_reads_through_trusted_proxies():
    conf = (DEPLOY / "nginx-listarchive.conf").read_text()
    code = re.sub(r"#.*", "", conf)
    assert code.count("{") == code.count("}")
    # every statement is a directive and its arguments, ended by ";" or opening a block
    statements = [s.split() for s in re.split(r"[;{}]", code) if s.strip()]
    assert all(re.fullmatch(r"[a-z_0-9]+", words[0]) for words in statements)
    for header in ("X-Forwarded-For", "X-Forwarded-Proto", "Host"):
        assert f"proxy_set_header {header}" in code
    assert "trusted_proxies = 1" in conf  # the setting the comment tells to make


def test_readme_points_at_every_deployment_file():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Running it for a real list", 1)[1].split("\n## ", 1)[0]
    for path in DEPLOY.iterdir():
        assert f"docs/deploy/{path.name}" in section, path.name
    for needed in ("pg_dump", "listarchive init", "exit 75", "granian", "LISTARCHIVE_DATABASE_URL"):
        assert needed in section, needed
