"""Rerolled series made with real git (the review-loop tests: range-diff, inline comments
carried across revisions, dependencies), each revision sent with ``git format-patch``.

Three families, one reroll shape each, every revision a branch from ``main`` so that ``git
range-diff main..A-v1 main..A-v2`` compares what the archive compares:

- ``changed``: three patches; v2 reworks patch 2 (code and message), 1 and 3 are the same.
  Reviewers answer v1 inline: Alice on a line of patch 1 (unchanged in v2), Bob on the line of
  patch 2 that v2 changes; Carol acks patch 1 (a trailer carried to v2).
- ``added``: two patches; v2 puts a new patch between them.
- ``dropped``: three patches; v2 drops patch 2 and sends patch 3 before patch 1.
- ``deps``: one patch on top of ``changed`` v2, whose cover letter names its prerequisite as
  b4 writes it (``base-commit:``, ``prerequisite-message-id:``) and with ``Depends-on:``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from fidelityworld import reply
from mailfixtures import dev_git, format_patch

LIST = "linux-clk@example.org"
BASE_DATE = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
FOO = "".join(f"int foo{n}(void)\n{{\n\treturn {n};\n}}\n\n" for n in range(1, 9))


@dataclass
class RerollWorld:
    repo: Path
    base: str
    mbox: Path
    ids: dict[str, str] = field(default_factory=dict)  # name -> Message-ID
    ranges: dict[str, tuple[str, str]] = field(default_factory=dict)  # family -> (v1, v2) tips


def _msgid(raw: bytes) -> str:
    found = re.search(rb"^Message-I[dD]: <([^>]+)>", raw, re.M)
    assert found is not None
    return found.group(1).decode()


def _branch(repo: Path, name: str, start: str,
            commits: list[tuple[str, str, str]]) -> str:
    """A branch from ``start`` with one commit per (path, text, message); its tip."""
    dev_git(repo, "checkout", "-q", "-b", name, start)
    for path, text, message in commits:
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
        dev_git(repo, "add", path)
        dev_git(repo, "commit", "-qm", message)
    return dev_git(repo, "rev-parse", "HEAD").strip()


def _quote(raw: bytes, first: str, last: str) -> str:
    """The lines of a patch mail from the one starting with ``first`` to the one equal to
    ``last``, quoted as a mail client quotes them."""
    lines = raw.decode().split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith(first))
    end = next(i for i, line in enumerate(lines) if i > start and line == last)
    return "".join(f"> {line}\n" for line in lines[start:end + 1])


def _sob(title: str, why: str = "") -> str:
    return f"{title}\n\n{why or 'Explain ' + title}.\n\nSigned-off-by: Dev Eloper <dev@example.org>"


def build(base: Path) -> RerollWorld:
    repo = base / "repo"
    repo.mkdir()
    dev_git(repo, "init", "-q", "-b", "main")
    (repo / "drivers").mkdir()
    (repo / "drivers/foo.c").write_text(FOO)
    dev_git(repo, "add", ".")
    dev_git(repo, "commit", "-qm", "base")
    start = dev_git(repo, "rev-parse", "HEAD").strip()
    world = RerollWorld(repo, start, base / "world.mbox")
    changed_1 = ("drivers/foo.c", FOO.replace("return 2;", "return 20;"), _sob("foo: two is 20"))
    changed_3 = ("drivers/bar.c", "int bar;\n", _sob("bar: add bar"))
    foo_v1 = FOO.replace("return 2;", "return 20;").replace("return 7;", "return 70;")
    foo_v2 = FOO.replace("return 2;", "return 20;").replace("return 7;", "return 77;")
    families = {
        "changed": ([changed_1, ("drivers/foo.c", foo_v1, _sob("foo: seven is 70")), changed_3],
                    [changed_1, ("drivers/foo.c", foo_v2,
                                 _sob("foo: seven is 77", "Seventy-seven, as the data sheet says")),
                     changed_3]),
        "added": ([("add/one.c", "int one;\n", _sob("add: one")),
                   ("add/two.c", "int two;\n", _sob("add: two"))],
                  [("add/one.c", "int one;\n", _sob("add: one")),
                   ("add/half.h", "#define HALF 1\n", _sob("add: one and a half")),
                   ("add/two.c", "int two;\n", _sob("add: two"))]),
        "dropped": ([("drop/a.c", "int a;\n", _sob("drop: alpha")),
                     ("drop/b.c", "int b;\n", _sob("drop: beta")),
                     ("drop/c.c", "int c;\n", _sob("drop: gamma"))],
                    [("drop/c.c", "int c;\n", _sob("drop: gamma")),
                     ("drop/a.c", "int a;\n", _sob("drop: alpha"))]),
    }
    sent: dict[str, list[bytes]] = {}
    for name, (v1, v2) in families.items():
        tips = (_branch(repo, f"{name}-v1", start, v1), _branch(repo, f"{name}-v2", start, v2))
        world.ranges[name] = tips
        for version, tip in (("v1", tips[0]), ("v2", tips[1])):
            args = ["-v2"] if version == "v2" else []
            mails = format_patch(dev_git, repo, base / f"{name}-{version}", f"--to={LIST}",
                                 *args, f"{start}..{tip}")
            sent[f"{name}-{version}"] = [m.replace(b"clk: steps", f"{name}: work".encode())
                                         for m in mails]
    deps_tip = _branch(repo, "deps", world.ranges["changed"][1],
                       [("drivers/baz.c", "int baz;\n", _sob("baz: add baz"))])
    world.ranges["deps"] = (world.ranges["changed"][1], deps_tip)
    deps = format_patch(dev_git, repo, base / "deps-v1", f"--to={LIST}",
                        f"{world.ranges['changed'][1]}..{deps_tip}")
    prereq = _msgid(sent["changed-v2"][0])
    deps[0] = deps[0].replace(b"clk: steps", b"deps: on top of changed").replace(
        b"*** BLURB HERE ***", f"*** BLURB HERE ***\n\nDepends-on: <{prereq}>".encode())
    deps[0] = re.sub(rb"\n-- \n", f"\n\nbase-commit: {start}\nprerequisite-message-id: "
                     f"<{prereq}>\n-- \n".encode(), deps[0], count=1)
    sent["deps-v1"] = deps

    t = BASE_DATE
    mails: list[bytes] = []

    def add(name: str, raw: bytes) -> bytes:
        nonlocal t
        t += timedelta(minutes=10)
        if raw.startswith(b"From "):
            raw = raw.split(b"\n", 1)[1]
        raw = re.sub(rb"^Date: .*$", f"Date: {format_datetime(t)}".encode(), raw, count=1,
                     flags=re.M)
        world.ids[name] = _msgid(raw)
        mails.append(raw)
        return raw

    for key in ("changed-v1", "added-v1", "dropped-v1"):
        for i, raw in enumerate(sent[key]):
            add(f"{key}-{i}", raw)
    p1, p2 = mails[1], mails[2]
    add("alice", reply(p1, "Alice Reviewer <alice@example.org>",
                       "On Mon, Dev Eloper wrote:\n" + _quote(p1, "diff --git", "+\treturn 20;")
                       + "\nWhy twenty?\n\n>  }\n", "alice@example.org", t))
    add("bob", reply(p2, "Bob Builder <bob@example.org>",
                     _quote(p2, "+++ ", "+\treturn 70;")
                     + "\nSeventy is wrong, see the data sheet.\n", "bob@example.org", t))
    add("carol", reply(p1, "Carol <carol@example.org>", "Acked-by: Carol <carol@example.org>",
                       "carol@example.org", t))
    for key in ("changed-v2", "added-v2", "dropped-v2", "deps-v1"):
        for i, raw in enumerate(sent[key]):
            add(f"{key}-{i}", raw)
    world.mbox.write_bytes(b"".join(b"From mboxrd@z Thu Jan  1 00:00:00 1970\n"
                                    + re.sub(rb"(?m)^(>*From )", rb">\1", raw)
                                    + (b"" if raw.endswith(b"\n") else b"\n") + b"\n"
                                    for raw in mails))
    return world
