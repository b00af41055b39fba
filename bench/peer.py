"""public-inbox (Debian's package) on the same corpus: import, index, serve.

The bulk path is the one public-inbox itself uses under ``-mda``/``-watch`` and that lore's
mirrors run: messages are written into v2 epoch git repositories by ``PublicInbox::Import`` (its
``git fast-import`` writer, one commit per message, blob ``m``, a new epoch every ~1 GB packed as
``V2Writable`` does), then ``public-inbox-index`` builds msgmap, the overview database and the
Xapian index from the epochs. Both steps are timed; ingest is their sum.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from bench.ours import LIST, IngestResult
from bench.system import du, free_port, run_measured, say, wait_for_port

ADDRESS = "bench@example.org"

# Reads an mboxrd with public-inbox's own reader and writes the v2 epochs with its own
# git fast-import writer; rotation follows V2Writable (1 GB packed, at its packing factor).
IMPORT_PL = r"""
use strict; use warnings;
use PublicInbox::Import; use PublicInbox::Git; use PublicInbox::MultiGit;
use PublicInbox::MboxReader; use PublicInbox::V2Writable;
my ($dir, $mbox) = @ARGV;
my $rotate = int((1024 * 1024 * 1024) / $PublicInbox::V2Writable::PACKING_FACTOR);
my $mg = PublicInbox::MultiGit->new($dir, 'all.git', 'git');
my $epoch = 0;
sub importer {
	my $git = PublicInbox::Git->new($mg->add_epoch($epoch));
	my $im = PublicInbox::Import->new($git, 'bench', 'bench@example.org');
	$im->{path_type} = 'v2';
	$im->{lock_path} = undef;
	$im;
}
my $im = importer();
my $n = 0;
open(my $fh, '<', $mbox) or die "open $mbox: $!";
PublicInbox::MboxReader->mboxrd($fh, sub {
	my ($eml) = @_;
	$im->add($eml);
	$n++;
	if ($im->{bytes_added} >= $rotate) {
		$im->done;
		$epoch++;
		$im = importer();
	}
});
$im->done;
print "imported $n epochs ", $epoch + 1, "\n";
"""


def _env(home: Path) -> dict[str, str]:
    return dict(os.environ, PI_CONFIG=str(home / "pi-config"), HOME=str(home))


def disk_split(inbox: Path) -> dict[str, int]:
    """git epochs (the messages), SQLite (msgmap + overview), Xapian shards."""
    out = {"database": 0, "search index": 0, "git (messages)": 0, "other": 0}
    for entry in inbox.iterdir() if inbox.exists() else ():
        if entry.name in ("git", "all.git"):
            out["git (messages)"] += du(entry)
        elif entry.name.endswith(".sqlite3"):
            out["database"] += du(entry)
        elif entry.name.startswith("xap"):
            for part in entry.iterdir():
                key = "search index" if part.name.isdigit() else "database"
                out[key] += du(part)
        else:
            out["other"] += du(entry)
    return out


def article_count(inbox: Path) -> int:
    """Messages public-inbox indexed (rows of its overview database)."""
    overs = list(inbox.glob("xap*/over.sqlite3"))
    if not overs:
        return 0
    with sqlite3.connect(f"file:{overs[0]}?mode=ro", uri=True) as db:
        row = db.execute("SELECT COUNT(*) FROM over WHERE num > 0").fetchone()
    return int(row[0]) if row else 0


LEVELS = {"full": "Xapian full", "basic": "basic, no Xapian"}


def ingest(mbox: Path, messages: int, raw_bytes: int, home: Path, timeout: float,
           level: str = "full") -> IngestResult:
    """``public-inbox-init -V2 -L LEVEL``, bulk import into epochs, ``public-inbox-index``.

    ``basic`` keeps git, msgmap and the overview database but no Xapian index: the
    counterpart of listarchive with its search index off.
    """
    res = IngestResult("public-inbox", LEVELS[level], messages, raw_bytes)
    if shutil.which("public-inbox-init") is None:
        res.error = "public-inbox is not installed"
        return res
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    inbox = home / "inbox"
    env = _env(home)
    init = run_measured(["public-inbox-init", "-V2", "-L", level, LIST, str(inbox),
                         f"http://127.0.0.1/{LIST}", ADDRESS], env=env, timeout=120)
    if init.returncode != 0:
        res.error = f"public-inbox-init: {init.stderr.strip()[-300:]}"
        return res
    script = home / "import.pl"
    script.write_text(IMPORT_PL)
    say(f"public-inbox ({level}) import of {messages} messages")
    imp = run_measured(["perl", str(script), str(inbox), str(mbox)], env=env, timeout=timeout)
    if imp.returncode != 0:
        res.error = f"import: exit {imp.returncode}: {imp.stderr.strip()[-300:]}"
        return res
    say(f"  import {imp.wall:.0f} s; public-inbox-index")
    idx = run_measured(["public-inbox-index", str(inbox)], env=env, timeout=timeout)
    if idx.returncode != 0:
        res.error = f"index: exit {idx.returncode}: {idx.stderr.strip()[-300:]}"
        return res
    res.ok = True
    res.wall = imp.wall + idx.wall
    res.cpu = imp.cpu + idx.cpu
    res.max_rss_mb = max(imp.max_rss_mb, idx.max_rss_mb)
    res.max_anon_mb = max(imp.max_anon_mb, idx.max_anon_mb)
    res.steps = {"import": imp.wall, "index": idx.wall, "import cpu": imp.cpu,
                 "index cpu": idx.cpu}
    res.disk = disk_split(inbox)
    res.stored = article_count(inbox)
    res.summary = {"import": imp.stdout.strip(),
                   "shards": len([p for p in inbox.glob("xap*/*") if p.name.isdigit()])}
    say(f"  index {idx.wall:.0f} s: {res.rate:.0f} msg/s wall, peak RSS {res.max_rss_mb:.0f} MB")
    return res


def serve(home: Path) -> tuple[subprocess.Popen[bytes] | None, int, str]:
    """``public-inbox-httpd -W 2`` (two workers, as ours gets two) on a loopback port."""
    if shutil.which("public-inbox-httpd") is None:
        return None, 0, "public-inbox-httpd is not installed"
    port = free_port()
    log = (home / "httpd.log").open("wb")
    proc = subprocess.Popen(["public-inbox-httpd", "-W", "2", "-l", f"http://127.0.0.1:{port}"],
                            env=_env(home), stdout=log, stderr=log, start_new_session=True)
    if not wait_for_port(port, proc):
        tail = (home / "httpd.log").read_text(errors="replace").strip().splitlines()
        return None, 0, f"public-inbox-httpd did not start: {(tail or ['no output'])[-1][:200]}"
    return proc, port, ""
