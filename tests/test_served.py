"""The site under the server the deployment unit runs it with (granian, its own command line
from ``docs/deploy/listarchive-web.service``), over real sockets: what the test client cannot
show. That server hands the site no raw request URI, so Message-IDs holding ``/`` are split
from the decoded path; connections stay open between requests."""

from __future__ import annotations

import contextlib
import gzip
import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_deploy_docs import DEPLOY, exec_start
from test_two_machines import free_port

from listarchive.mail.msgids import quote_msgid

DATA = Path(__file__).parent / "data"
ODD = ["odd/slash+plus@example.org", "ends/T@example.org", "2024/raw@example.org",
       "grüße.ñ@例え.example", "50%off$deal&co@example.org"]


@pytest.fixture
def served(tmp_path: Path, cli) -> Iterator[tuple[http.client.HTTPConnection, Path]]:
    (tmp_path / "listarchive.toml").write_text(
        "[storage]\ndata_dir = 'instance'\n"
        "[limits]\nsearch = ''\ndownload = ''\napi = ''\n"
        "[[lists]]\nname = 'odd'\n[[lists]]\nname = 'secret'\nrestricted = true\n")
    for args in (["init"], ["ingest", "--list", "odd", str(DATA / "web-odd-msgids.mbox")],
                 ["ingest", "--list", "secret", str(DATA / "web-restricted.eml")]):
        done = cli(args, tmp_path)
        assert done.returncode == 0, done.stderr.decode()
    program, *argv = exec_start(DEPLOY / "listarchive-web.service")
    port = free_port()
    argv[argv.index("--port") + 1] = str(port)
    argv[argv.index("--workers") + 1] = "2"
    env = dict(os.environ, LISTARCHIVE_CONFIG=str(tmp_path / "listarchive.toml"))
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(Path(sys.executable).parent / Path(program).name), *argv],
                                cwd=tmp_path, env=env, stdout=out, stderr=out,
                                start_new_session=True)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        # Both workers up: granian stopped while a worker still starts never finishes stopping.
        deadline = time.monotonic() + 60
        while log.read_text(errors="replace").count("Started worker-") < 2:
            assert proc.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, "the server's workers never started"
            time.sleep(0.1)
        conn.request("GET", "/")
        assert conn.getresponse().read()
        yield conn, tmp_path
    finally:
        conn.close()
        proc.terminate()  # its main process, which stops the workers (as systemd's KillMode=mixed)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError):  # and whatever is left of them
            os.killpg(proc.pid, signal.SIGKILL)


def fetch(conn: http.client.HTTPConnection, path: str, method: str = "GET",
          headers: dict[str, str] | None = None, body: bytes | None = None
          ) -> http.client.HTTPResponse:
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    resp.data = resp.read()  # type: ignore[attr-defined]
    return resp


def test_odd_message_ids_round_trip_through_the_deployed_server(served):
    from listarchive import settings
    from listarchive.web import create_app

    conn, folder = served
    app = create_app(settings.load(folder / "listarchive.toml")).test_client()
    for msgid in ODD:
        base = f"/odd/{quote_msgid(msgid)}/"
        page = fetch(conn, base)
        assert page.status == 200, msgid
        assert msgid.encode() in page.data.replace(b"&amp;", b"&"), msgid
        raw = fetch(conn, base + "raw")
        assert raw.status == 200, msgid
        assert raw.data == app.get(base + "raw").data  # the stored bytes, exactly
        assert f"Message-ID: <{msgid}>".encode() in raw.data
        head = fetch(conn, base + "raw", method="HEAD")
        assert head.status == 200 and head.data == b""
        again = fetch(conn, base + "raw", headers={"If-None-Match": raw.headers["ETag"]})
        assert again.status == 304 and again.data == b""
    # one connection carried every request above
    assert conn.sock is not None


def test_restricted_mail_and_bad_urls_under_the_deployed_server(served):
    conn, _folder = served
    assert fetch(conn, "/secret/").status == 404
    assert fetch(conn, "/secret/secret-report@example.org/raw").status == 404
    assert fetch(conn, "/all/secret-report@example.org/raw").status == 404
    found = fetch(conn, "/all/?q=f%3Aexample.org")
    assert found.status == 200 and b"ends%2FT@example.org" in found.data
    assert b"secret-report" not in found.data and b"remote root" not in found.data
    assert fetch(conn, "/all/?q=%22unclosed").status == 400
    assert fetch(conn, "/odd/a%01b@x/").status == 400


def test_b4_query_post_answers_an_mbox_under_the_deployed_server(served):
    conn, _folder = served
    body = b"x=m&q=" + b"f%3Aexample.org"
    resp = fetch(conn, "/odd/?q=f%3Aexample.org&x=m", method="POST", body=body,
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status == 200, resp.data[:300]
    mbox = gzip.decompress(resp.data)
    for msgid in ODD:
        assert f"Message-ID: <{msgid}>".encode() in mbox
