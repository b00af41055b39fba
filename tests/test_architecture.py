"""The dependency rules of the code base, enforced."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ingest_worker_does_not_import_flask():
    code = ("import sys, ingest.worker, ingest.reindex, ingest.watch, ingest.quarantine, "
            "listarchive.cli; assert 'flask' not in sys.modules, 'flask imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_flask_only_in_web_package():
    offenders = []
    for path in [*ROOT.glob("ingest/**/*.py"), *ROOT.glob("listarchive/**/*.py")]:
        if "web" in path.relative_to(ROOT).parts:
            continue
        text = path.read_text()
        if "import flask" in text or "from flask" in text:
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_third_party_parsers_sit_behind_one_adapter():
    users: dict[str, set[str]] = {"unidiff": set(), "whoosh": set()}
    for path in [*ROOT.glob("ingest/**/*.py"), *ROOT.glob("listarchive/**/*.py")]:
        text = path.read_text()
        for lib in users:
            if f"import {lib}" in text or f"from {lib}" in text:
                users[lib].add(str(path.relative_to(ROOT)))
    assert users["unidiff"] <= {"listarchive/mail/patches.py"}
    assert users["whoosh"] <= {"listarchive/search/whooshindex.py"}


def test_no_stdlib_shadowing_module_names():
    shadow = {"email", "mailbox", "threading", "html", "json", "queue", "types", "logging"}
    names = {p.stem for p in [*ROOT.glob("ingest/*.py"), *ROOT.glob("listarchive/**/*.py")]}
    assert not names & shadow
