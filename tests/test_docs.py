"""The README documents every URL the site answers and every command the CLI has."""

from __future__ import annotations

import re
from pathlib import Path

from listarchive.cli import build_parser
from listarchive.settings import RESERVED_LIST_NAMES, from_mapping
from listarchive.web import create_app

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()

# URL converters as the README writes them.
_PLACEHOLDERS = [(r"<name>", "LIST"), (r"<slug>", "SUBSYSTEM"), (r"<key>", "PROJECT"),
                 (r"<path:raw>", "MSGID"), (r"<path:rest>", "MSGID"), (r"<int[^>]*>", "ID"),
                 (r"<chart>", "CHART")]


def documented_form(rule: str) -> str:
    for pattern, name in _PLACEHOLDERS:
        rule = re.sub(pattern, name, rule)
    return rule


def test_every_route_is_in_the_readme(tmp_path):
    app = create_app(from_mapping({"storage": {"data_dir": str(tmp_path)},
                                   "search": {"enabled": False}}))
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        form = documented_form(rule.rule)
        if form == "/LIST/MSGID":  # the message dispatcher: /LIST/MSGID/, /raw, /T/ ... listed
            assert "`/LIST/MSGID/raw`" in README
            continue
        if f"`{form}`" not in README and f"`{form.rstrip('/')}`" not in README:
            missing.append(form)
    assert missing == []


def test_first_path_segments_of_the_site_cannot_be_list_names(tmp_path):
    app = create_app(from_mapping({"storage": {"data_dir": str(tmp_path)},
                                   "search": {"enabled": False}}))
    fixed = {r.rule.split("/")[1] for r in app.url_map.iter_rules() if not r.rule.startswith("/<")}
    assert fixed - {""} <= RESERVED_LIST_NAMES


def test_every_command_is_in_the_readme():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name in sub.choices:
        assert f"listarchive {name}" in README, name
