"""Ingest end to end on hand-made fixtures: dedup, lists, quarantine, dates, exit codes."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import backends
import pytest
from sqlalchemy import select

from ingest.quarantine import list_quarantined, retry_quarantined
from ingest.reindex import reindex
from ingest.worker import Worker, run_ingest, select_in_session
from listarchive.access.visibility import ANONYMOUS
from listarchive.archive import listview, rawstore
from listarchive.archive.db import PlannerStatistics
from listarchive.archive.models import MailingList, Message, MessageList, Thread
from listarchive.settings import from_mapping

DATA = Path(__file__).resolve().parent / "data"
TWO_LISTS = [{"name": "list-a", "list_id": "list-a.example.org", "address": "list-a@example.org"},
             {"name": "list-b", "list_id": "list-b.example.org", "address": "list-b@example.org"}]


def two_list_settings(tmp_path: Path):
    return from_mapping({"storage": {"data_dir": str(tmp_path / "instance")},
                         "search": {"enabled": False}, "lists": TWO_LISTS})


def messages(settings):
    worker = Worker(settings)
    with worker.sessions() as session:
        return {m.msgid: m for m in session.scalars(select(Message))}


def lists_of(settings, msgid: str) -> set[str]:
    with Worker(settings).sessions() as session:
        rows = session.execute(select(MailingList.name).join(MessageList)
                               .join(Message).where(Message.msgid == msgid))
        return set(rows.scalars())


def test_cross_posted_message_is_stored_once_and_on_both_lists(tmp_path):
    settings = two_list_settings(tmp_path)
    s1 = run_ingest(settings, [str(DATA / "cross-posted-list-a.eml")])
    s2 = run_ingest(settings, [str(DATA / "cross-posted-list-b.eml")])
    assert (s1.new, s2.new, s2.duplicate) == (1, 0, 1)
    stored = messages(settings)
    assert list(stored) == ["crosspost-1@example.org"]
    assert lists_of(settings, "crosspost-1@example.org") == {"list-a", "list-b"}
    # The first copy's bytes are kept exactly.
    raw = rawstore.unpack(_raw(settings, "crosspost-1@example.org"))
    assert raw == (DATA / "cross-posted-list-a.eml").read_bytes()


def test_a_copy_arriving_on_a_second_list_puts_its_thread_in_that_lists_index(tmp_path):
    settings = two_list_settings(tmp_path)
    run_ingest(settings, [str(DATA / "cross-posted-list-a.eml")])
    with Worker(settings).sessions() as session:
        assert listview.get_list(session, ANONYMOUS, "list-b") == listview.ListSummary(
            "list-b", "", "list-b@example.org", 0, 0, None)
    # the copy list-b's server delivered: nothing new to store, but list-b now carries it
    run_ingest(settings, [str(DATA / "cross-posted-list-b.eml")])
    with Worker(settings).sessions() as session:
        summary = listview.get_list(session, ANONYMOUS, "list-b")
        assert summary is not None and (summary.messages, summary.threads) == (1, 1)
        index = listview.list_index(session, ANONYMOUS, "list-b")
        assert index is not None
        assert [t.root_msgid for t in index.threads] == ["crosspost-1@example.org"]
    # rebuilt from the raw mail, the same
    reindex(settings)
    with Worker(settings).sessions() as session:
        again = listview.get_list(session, ANONYMOUS, "list-b")
        assert again is not None and (again.messages, again.threads) == (1, 1)


def _raw(settings, msgid: str) -> bytes:
    with Worker(settings).sessions() as session:
        return session.scalar(select(Message.raw).where(Message.msgid == msgid))


def test_reused_message_id_keeps_both_and_flags_the_second(tmp_path):
    settings = two_list_settings(tmp_path)
    run_ingest(settings, [str(DATA / "reused-msgid-first.eml")])
    summary = run_ingest(settings, [str(DATA / "reused-msgid-second.eml")])
    assert summary.new == 1
    stored = messages(settings)
    assert stored["reused@example.org"].subject == "first message using this id"
    [derived] = [m for m in stored.values() if "reused-msgid" in m.flags]
    assert derived.msgid.startswith("reused@example.org.dup-")
    assert derived.subject == "a different message reusing the id"
    # Re-import of either adds nothing.
    again = run_ingest(settings, [str(DATA / "reused-msgid-first.eml"),
                                  str(DATA / "reused-msgid-second.eml")])
    assert (again.new, again.duplicate) == (0, 2)


def test_missing_message_id_gets_a_stable_synthetic_one(tmp_path, settings):
    first = run_ingest(settings, [str(DATA / "no-message-id.eml")])
    second = run_ingest(settings, [str(DATA / "no-message-id.eml")])
    assert (first.new, second.new, second.duplicate) == (1, 0, 1)
    [msg] = messages(settings).values()
    assert msg.msgid.endswith("@synthetic.invalid") and "synthetic-msgid" in msg.flags


def test_unparseable_bytes_are_quarantined_listed_and_not_lost(tmp_path, settings):
    junk = (DATA / "not-mail-binary.eml").read_bytes()
    summary = run_ingest(settings, ["-"], stdin=io.BytesIO(junk))
    assert (summary.new, summary.quarantined) == (0, 1)
    [row] = list_quarantined(settings)
    assert "no header" in row.reason and row.raw_size == (DATA / "not-mail-binary.eml").stat().st_size
    assert retry_quarantined(settings) == (0, 1)  # still unparseable: stays


def test_oversized_message_is_quarantined_then_released_after_config_fix(tmp_path):
    small = from_mapping({"storage": {"data_dir": str(tmp_path / "i")}, "search": {"enabled": False},
                          "ingest": {"max_message_bytes": 1024}})
    big = b"From: a@example.org\nMessage-ID: <big@example.org>\nSubject: big\n\n" + b"x" * 2000 + b"\n"
    src = tmp_path / "big.eml"
    src.write_bytes(big)
    assert run_ingest(small, [str(src)]).quarantined == 1
    assert "max_message_bytes" in list_quarantined(small)[0].reason
    fixed = from_mapping({"storage": {"data_dir": str(tmp_path / "i")}, "search": {"enabled": False}})
    assert retry_quarantined(fixed) == (1, 0)
    assert list_quarantined(fixed) == []
    assert rawstore.unpack(_raw(fixed, "big@example.org")) == big


def test_future_date_is_flagged_and_not_latest_activity(tmp_path):
    settings = two_list_settings(tmp_path)
    run_ingest(settings, [str(DATA / "cross-posted-list-a.eml"), str(DATA / "future-date.eml")])
    stored = messages(settings)
    reply = stored["future-date@example.org"]
    assert "bad-date" in reply.flags and reply.date is not None and reply.date.year == 2085
    assert reply.sort_date is None
    with Worker(settings).sessions() as session:
        [thread] = session.scalars(select(Thread))
        assert thread.message_count == 2
        assert thread.last_date is not None and thread.last_date.year == 2025
        assert thread.root_msgid == "crosspost-1@example.org"


def test_broken_charsets_fall_back_without_losing_text(settings):
    run_ingest(settings, [str(DATA / "latin1-headers.eml")])
    msg = messages(settings)["latin1@example.de"]
    assert msg.from_name == "Jörg Müller"
    assert msg.subject.startswith("Grüße aus")


def test_stdin_delivery_as_from_a_mail_server(tmp_path, settings):
    raw = (DATA / "cross-posted-list-a.eml").read_bytes()
    summary = run_ingest(settings, ["-"], list_name="lkml", stdin=io.BytesIO(raw))
    assert summary.new == 1
    assert lists_of(settings, "crosspost-1@example.org") == {"lkml"}


def test_cli_json_summary_and_exit_codes(tmp_path, cli):
    ok = cli(["ingest", "--json", str(DATA / "cross-posted-list-a.eml"), "-"], tmp_path,
             (DATA / "not-mail-binary.eml").read_bytes())
    assert ok.returncode == 0, ok.stderr
    summary = json.loads(ok.stdout.decode().strip().splitlines()[-1])
    assert summary["read"] == 2 and summary["new"] == 1 and summary["quarantined"] == 1
    assert set(summary) == {"read", "new", "duplicate", "quarantined", "threads", "patches",
                            "series", "seconds"}
    assert b"no header" in ok.stderr
    # No progress bar when stderr is not a terminal.
    assert b"msg/s" not in ok.stderr and b"it/s" not in ok.stderr

    missing = cli(["ingest", str(tmp_path / "nope.mbox")], tmp_path)
    assert missing.returncode == 2 and b"nope.mbox" in missing.stderr
    bad_cfg = tmp_path / "bad.toml"
    bad_cfg.write_text("[web]\nport = 'x'\n")
    refused = cli(["-c", str(bad_cfg), "ingest", "-"], tmp_path)
    assert refused.returncode == 2 and b"web.port" in refused.stderr
    bad_list = cli(["ingest", "--list", "Not A List", "-"], tmp_path, b"From: a@b\n\nx\n")
    assert bad_list.returncode == 2 and b"--list" in bad_list.stderr


def test_locked_database_is_a_temporary_failure_for_the_mail_server(tmp_path, cli):
    assert cli(["init"], tmp_path).returncode == 0
    cfg = tmp_path / "listarchive.toml"
    cfg.write_text("[storage]\ndata_dir = 'instance'\nlock_timeout = 0.5\n"
                   "[search]\nenabled = false\n")
    with backends.writes_held(tmp_path / "instance"):
        proc = cli(["ingest", "-"], tmp_path, (DATA / "cross-posted-list-a.eml").read_bytes())
    assert proc.returncode == 75, proc.stderr
    assert b"temporary failure" in proc.stderr
    # The retry the mail server makes succeeds, and stores the message once.
    retry = cli(["ingest", "--json", "-"], tmp_path, (DATA / "cross-posted-list-a.eml").read_bytes())
    assert retry.returncode == 0 and json.loads(retry.stdout.splitlines()[-1])["new"] == 1


def test_simultaneous_deliveries_all_succeed_or_ask_for_retry(tmp_path):
    """Eight `ingest -` processes started at once on a new archive, as a busy mail server does:
    each exits 0, or 75 and succeeds when retried; every message is stored exactly once."""
    (tmp_path / "listarchive.toml").write_text("[search]\nenabled = false\n")
    mails = [(f"From: s{n}@example.org\nSubject: m{n}\nMessage-ID: <simul-{n}@example.org>\n"
              f"Date: Mon, 01 Jan 2024 10:00:0{n} +0000\n\nbody\n").encode() for n in range(8)]
    procs = [subprocess.Popen([sys.executable, "-m", "listarchive.cli", "ingest", "--list", "l", "-"],
                              cwd=tmp_path, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for _ in mails]
    for proc, raw in zip(procs, mails, strict=True):
        proc.stdin.write(raw)
        proc.stdin.close()
    codes = [proc.wait(timeout=120) for proc in procs]
    for proc in procs:
        proc.stdout.close()
        proc.stderr.close()
    assert set(codes) <= {0, 75}, codes
    for code, raw in zip(codes, mails, strict=True):
        if code == 75:
            retry = subprocess.run([sys.executable, "-m", "listarchive.cli", "ingest", "--list", "l",
                                    "-"], cwd=tmp_path, input=raw, capture_output=True, timeout=120)
            assert retry.returncode == 0
    assert backends.count_messages(tmp_path / "instance") == 8


def test_the_command_line_is_quiet_about_a_reader_that_goes_away_and_an_empty_quarantine(
        tmp_path, cli, corpora):
    """``listarchive search ... | head -1`` ends without a traceback and with 0; listing an
    empty quarantine says so instead of printing nothing."""
    from mailfixtures import first_messages

    mbox = tmp_path / "clk.mbox"
    mbox.write_bytes(first_messages(corpora / "lore" / "linux-clk-last10000.mboxrd.gz", 400))
    assert cli(["ingest", "--list", "linux-clk", str(mbox)], tmp_path).returncode == 0
    empty = cli(["quarantine", "list"], tmp_path)
    assert empty.returncode == 0 and b"quarantine is empty" in empty.stdout
    proc = subprocess.Popen([sys.executable, "-m", "listarchive.cli", "search", "--limit", "0",
                             "clk"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline()
    proc.stdout.close()  # what head does after its first line
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 0, err.decode()
    assert b"Traceback" not in err and b"BrokenPipe" not in err


def _generated(i: int) -> bytes:
    """Message ``i`` of a list of five-message threads."""
    reply = f"In-Reply-To: <stats-{i - i % 5}@example.org>\n" if i % 5 else ""
    return (f"From: Sender {i % 37} <s{i % 37}@example.org>\nSubject: topic {i // 5}\n"
            f"Date: Mon, 2 Jun 2025 10:{i // 60 % 60:02d}:{i % 60:02d} +0000\n"
            f"Message-ID: <stats-{i}@example.org>\n{reply}\nbody {i}\n").encode()


def _statistics(settings) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    """Messages in PostgreSQL's statistics of the messages table; its ANALYZEs not by autovacuum."""
    with Worker(settings).reader_engine.connect() as conn:
        row = conn.exec_driver_sql(
            "SELECT c.reltuples, s.analyze_count FROM pg_class c JOIN pg_stat_user_tables s"
            " ON s.relid = c.oid WHERE c.oid = 'messages'::regclass").one()
    return float(row[0]), int(row[1])


@pytest.mark.skipif(not backends.POSTGRESQL, reason="about PostgreSQL's planner statistics")
def test_an_import_takes_postgresqls_statistics_anew_and_a_delivery_does_not(tmp_path):
    """PostgreSQL plans by the statistics of the last ANALYZE. An import that outgrows them
    takes them anew (with a young archive's, a lookup of a batch's Message-IDs scanned the whole
    table); a delivery of one message does not pay for an ANALYZE."""
    settings = from_mapping({"storage": {"data_dir": str(tmp_path / "instance")},
                             "search": {"enabled": False}})
    count = PlannerStatistics.LEAST + 300
    mbox = tmp_path / "import.mbox"
    mbox.write_bytes(b"".join(b"From stats@example.org Mon Jun  2 10:00:00 2025\n"
                              + _generated(i) + b"\n" for i in range(count)))
    assert run_ingest(settings, [str(mbox)], "l").new == count
    counted, analyzed = _statistics(settings)
    assert counted >= PlannerStatistics.LEAST and analyzed >= 1
    assert run_ingest(settings, ["-"], "l", stdin=io.BytesIO(_generated(count))).new == 1
    assert _statistics(settings)[1] == analyzed


def test_a_rerun_skips_by_hash_only_mail_already_on_the_list_it_names(tmp_path):
    settings = two_list_settings(tmp_path)
    run_ingest(settings, [str(DATA / "cross-posted-list-a.eml")], list_name="list-a")
    worker = Worker(settings)
    with worker.sessions() as session:
        stored = session.scalar(select(Message.sha256))
        ids = {name: lid for name, lid in session.execute(select(MailingList.name,
                                                                  MailingList.id))}
    assert select_in_session(worker.readers, {stored, "0" * 64}, ids["list-a"]) == [stored]
    # On another list it is new there: parsed again, to record that list.
    assert select_in_session(worker.readers, {stored}, ids["list-b"]) == []
