"""Parity harness, the review side: the APIs, pages and am-ready downloads decide what
Patchwork, b4 and git decide, on the mail of tests/fidelityworld.py (real ``git format-patch``
and ``git request-pull`` output, and the replies of reviewers).

The am-ready mbox of each series is compared with what the real ``b4 am`` makes of the same
thread, fetched over HTTP from this archive as b4 fetches from lore (its patch-id search
included): after ``git am`` of both, every commit has the same subject, the same trailers and
the same tree. One difference is intended and stated below: an Acked-by given to v1's cover
letter is not carried to a patch that v2 changed (b4 carries it when v2 has no cover letter).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import backends
import pytest
from fidelityworld import FidelityWorld, build
from mailfixtures import DEV_ENV
from werkzeug.serving import make_server

from ingest.worker import run_ingest
from listarchive.mail.subject import SubjectInfo
from listarchive.settings import from_mapping

B4 = str(Path(sys.executable).parent / "b4")
DATA = Path(__file__).resolve().parent / "data"
SHAPES = ["series-out-of-order.mbox", "series-missing-patch.mbox", "series-unthreaded.mbox",
          "series-v2-in-reply-to-v1.mbox", "series-extra-patch.mbox"]
pytestmark = pytest.mark.skipif(not Path(B4).exists() or shutil.which("git") is None,
                                reason="b4 or git is not installed")


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=DEV_ENV, check=True,
                          capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
@backends.archive_fixture
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("fidelity")
    mail = build(base)
    settings = from_mapping({"storage": {"data_dir": str(base / "instance")},
                             "search": {"enabled": True},
                             "lists": [{"name": "linux-clk", "description": "clk"}]})
    summary = run_ingest(settings, [str(mail.mbox), *(str(DATA / s) for s in SHAPES)],
                         "linux-clk")
    assert summary.quarantined == 0
    from listarchive.web import create_app

    app = create_app(settings)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    home = base / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
           "XDG_CACHE_HOME": str(home / ".cache"), "GIT_CONFIG_NOSYSTEM": "1"}
    for key, value in (("b4.midmask", f"http://127.0.0.1:{server.server_port}/all/%s"),
                       ("user.name", "Maint Ainer"), ("user.email", "maint@example.org")):
        subprocess.run(["git", "config", "--global", key, value], env=env, check=True)
    try:
        yield {"mail": mail, "app": app, "client": app.test_client(), "env": env,
               "base": base, "settings": settings}
    finally:
        server.shutdown()
        thread.join(5)


def ids(world: dict[str, Any]) -> dict[str, str]:
    mail: FidelityWorld = world["mail"]
    return mail.ids


def message(world: dict[str, Any], name: str) -> dict[str, Any]:
    r = world["client"].get(f"/api/v1/messages/{ids(world)[name]}")
    assert r.status_code == 200, name
    return r.get_json()


def series_id(world: dict[str, Any], name: str) -> int:
    obj = message(world, name)
    assert obj["series"] is not None, name
    return int(obj["series"]["id"])


# --- a cover letter is never a patch -----------------------------------------------------------


def test_cover_letters_are_never_patches(world):
    client = world["client"]
    for name in ("v1-0", "v3-0"):
        obj = message(world, name)
        assert obj["patch"] is None, name
        assert obj["series"]["number"] == 0
        sid = obj["series"]["id"]
        series = client.get(f"/api/v1/series/{sid}").get_json()
        cover_id = series["cover"]["id"]
        assert client.get(f"/api/v1/patches/{cover_id}").status_code == 404
        assert client.get(f"/api/1.2/covers/{cover_id}/").status_code == 200
        assert client.get(f"/api/1.2/patches/{cover_id}/").status_code == 404
        page = client.get(f"/patch/{cover_id}/")
        assert page.status_code == 302 and page.headers["Location"].endswith(f"/series/{sid}/")
    listed = {p["msgid"] for p in client.get("/api/1.2/patches/?per_page=200").get_json()}
    assert f"<{ids(world)['v1-0']}>" not in listed and f"<{ids(world)['v1-1']}>" in listed
    covers = {c["msgid"] for c in client.get("/api/1.2/covers/?per_page=200").get_json()}
    assert {f"<{ids(world)['v1-0']}>", f"<{ids(world)['v3-0']}>"} <= covers


def test_every_series_shape_numbers_its_members(world):
    """Out of order, missing a patch, unthreaded, v2 in reply to v1, an extra [PATCH 3/2], and
    (generated) a series without a cover letter threaded deep: covers have no patch and number
    0, patches are patches numbered by their counter, the extra one included."""
    client = world["client"]
    msgids = []
    for name in SHAPES:
        msgids += re.findall(r"^Message-I[dD]: <([^>]+)>", (DATA / name).read_text(), re.M)
    msgids += [ids(world)[f"deep-{n}"] for n in (1, 2, 3)]
    seen_covers = 0
    for msgid in msgids:
        obj = client.get(f"/api/v1/messages/{msgid}").get_json()
        subject = SubjectInfo.parse(obj["subject"])
        if subject.is_reply:
            assert obj["patch"] is None, msgid  # a review, whatever its subject's counter
        elif subject.is_cover:
            seen_covers += 1
            assert obj["patch"] is None, msgid
            assert obj["series"]["number"] == 0, msgid
        else:
            assert obj["patch"] is not None and obj["patch"]["message_id"] == msgid, msgid
            if obj["series"] is None:  # a second copy of 2/4 sent later: not a member
                assert msgid == "missing-2-again@example.org"
                continue
            assert obj["series"]["number"] == subject.counter, msgid
    assert seen_covers >= 3
    extra_series = client.get("/api/v1/messages/extra-3@example.org").get_json()["series"]
    mbox = client.get(f"/series/{extra_series['id']}/mbox").get_data(as_text=True)
    assert re.findall(r"^Subject: \[PATCH (\d/\d)\]", mbox, re.M) == ["1/3", "2/3", "3/3"]
    deep = {series_id(world, f"deep-{n}") for n in (1, 2, 3)}
    assert len(deep) == 1
    series = client.get(f"/api/v1/series/{deep.pop()}").get_json()
    assert series["cover"] is None and [p["number"] for p in series["patches"]] == [1, 2, 3]


# --- pull requests ---------------------------------------------------------------------------


def test_pull_request_carries_url_and_ref_and_no_am_download(world):
    client = world["client"]
    obj = message(world, "pull")
    pull = obj["patch"]
    assert pull["pull_url"] == "https://git.example.org/clk.git clk-fixes"
    sid = obj["series"]["id"]
    series = client.get(f"/api/v1/series/{sid}").get_json()
    assert series["pull"] is True and series["mbox"] is None
    assert client.get(f"/series/{sid}/mbox").status_code == 404
    assert client.get(f"/patch/{pull['id']}/mbox").status_code == 404
    page = client.get(f"/patch/{pull['id']}/").get_data(as_text=True)
    assert "PULL" in page and "https://git.example.org/clk.git" in page and "clk-fixes" in page
    assert world["mail"].fixes_head in page and world["mail"].base in page  # head, base
    assert "Dev Eloper (1):" in page  # shortlog
    assert "mbox (for git am)" not in page
    series_page = client.get(f"/series/{sid}/").get_data(as_text=True)
    title = re.search(r"<title>(.*?)</title>", series_page, re.S)
    assert title is not None and "[PATCH" not in title.group(1) and "v1" not in title.group(1)
    assert "mbox (for git am)" not in series_page and "git am" not in series_page
    assert 'class="badge pull"' in client.get("/linux-clk/series/").get_data(as_text=True)
    assert 'class="badge pull"' in client.get("/linux-clk/").get_data(as_text=True)
    pw = client.get(f"/api/1.2/patches/{pull['id']}/").get_json()
    assert pw["pull_url"] == "https://git.example.org/clk.git clk-fixes"
    assert pw["mbox"].endswith("/raw") and pw["series"][0]["mbox"].endswith("/raw")
    assert client.get(f"/api/1.2/series/{sid}/").get_json()["mbox"].endswith("/raw")


def test_no_series_mbox_is_empty(world):
    """git am of an empty mbox exits 0 having applied nothing: every series either has an
    am-ready mbox with patches in it, or none at all (404, and ``mbox`` null in its JSON)."""
    client = world["client"]
    listing = client.get("/api/v1/series?per_page=200").get_json()["results"]
    assert len(listing) >= 8
    for row in listing:
        series = client.get(f"/api/v1/series/{row['id']}").get_json()
        got = client.get(f"/series/{row['id']}/mbox")
        if series["mbox"] is None:
            assert got.status_code == 404, row["title"]
        else:
            assert got.status_code == 200 and got.data.count(b"\nFrom: ") >= 1, row["title"]


def test_git_scan_accepts_a_pull_when_its_head_lands(world, cli):
    mail: FidelityWorld = world["mail"]
    cfg = world["base"] / "listarchive.toml"
    cfg.write_text(f'[storage]\ndata_dir = "{world["base"] / "instance"}"\n\n'
                   '[search]\nenabled = false\n')
    pull_id = message(world, "pull")["patch"]["id"]

    def state() -> str:
        return world["client"].get(f"/api/v1/patches/{pull_id}").get_json()["state"]

    done = cli(["-c", str(cfg), "git-scan", str(mail.repo), "main"], cwd=world["base"])
    assert done.returncode == 0, done.stderr
    assert state() == "new"  # clk-fixes is not in main yet
    git(mail.repo, "merge", "-q", "--no-ff", "-m", "Merge branch 'clk-fixes'", "clk-fixes")
    done = cli(["-c", str(cfg), "git-scan", str(mail.repo), "main"], cwd=world["base"])
    assert done.returncode == 0, done.stderr
    assert state() == "accepted"
    page = world["client"].get(f"/patch/{pull_id}/").get_data(as_text=True)
    assert mail.fixes_head[:12] in page  # the evidence in the history


# --- trailers and the am-ready mbox, compared with b4 am -----------------------------------


def b4_am(world: dict[str, Any], msgid: str, version: int, name: str) -> Path:
    out = world["base"] / f"b4-{name}"
    done = subprocess.run([B4, "am", "-o", str(out), "-v", str(version), msgid],
                          cwd=world["base"], env=world["env"], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    (mbx,) = out.glob("*.mbx")
    return mbx


def applied(world: dict[str, Any], mbox: Path, name: str) -> list[tuple[str, list[str], str]]:
    """(subject, trailer lines without Link:, tree) of each commit ``git am`` makes of
    ``mbox`` on the series' base."""
    mail: FidelityWorld = world["mail"]
    work = world["base"] / f"apply-{name}"
    git(world["base"], "clone", "-q", str(mail.repo), str(work))
    git(work, "checkout", "-q", mail.base)
    git(work, "am", "-q", str(mbox))
    out = []
    for sha in git(work, "rev-list", "--reverse", f"{mail.base}..HEAD").split():
        body = git(work, "log", "-1", "--format=%b", sha)
        trailers = [line for line in body.splitlines()
                    if re.match(r"[A-Za-z-]+: ", line) and not line.startswith("Link: ")]
        out.append((git(work, "log", "-1", "--format=%s", sha).strip(), trailers,
                    git(work, "rev-parse", f"{sha}^{{tree}}").strip()))
    return out


def ours(world: dict[str, Any], name: str, label: str) -> Path:
    sid = series_id(world, name)
    got = world["client"].get(f"/series/{sid}/mbox")
    assert got.status_code == 200
    path = world["base"] / f"ours-{label}.mbx"
    path.write_bytes(got.data)
    return path


V1_TRAILERS = [
    ["Signed-off-by: Dev Eloper <dev@example.org>",
     "Reviewed-by: Alice Reviewer <alice@example.org>",
     "Tested-by: Eve Tester <eve@example.org>",  # a review of Alice's review
     "Reviewed-by: Carol Long-Name <carol@example.org>",  # the address wrapped, joined
     "Acked-by: Dave Maintainer <dave@example.org>"],  # given to the cover letter
    ["Signed-off-by: Dev Eloper <dev@example.org>",
     "Acked-by: Bob Builder <bob@example.org>",  # <mailto:...> of an HTML client removed
     "Reviewed-by: Frank Fixer <frank@example.org>",  # after his suggested diff
     "Acked-by: Gina <gina@example.org>",  # a reply to the suggestion counts for the patch
     "Acked-by: Dave Maintainer <dave@example.org>"],  # not Mallory's "Famous Maintainer"
    ["Signed-off-by: Dev Eloper <dev@example.org>",
     'Tested-by: "Doe, Jane" <jane@example.org>',
     "Reviewed-by: Jane Doe (ACME) <jane.doe@acme.example>",
     "Acked-by: Dave Maintainer <dave@example.org>"],
]


def test_am_ready_v1_applies_the_trailers_b4_applies(world):
    theirs = applied(world, b4_am(world, ids(world)["v1-0"], 1, "v1"), "b4-v1")
    mine = applied(world, ours(world, "v1-1", "v1"), "ours-v1")
    assert [sorted(t) for _, t, _ in theirs] == [sorted(t) for t in V1_TRAILERS]
    assert [(s, sorted(t), tree) for s, t, tree in mine] == \
        [(s, sorted(t), tree) for s, t, tree in theirs]


def test_am_ready_partial_reroll_keeps_v1_patches_as_b4_does(world):
    """v2 resends only 2/3: the mbox holds v1's 1/3 and 3/3 with their trailers and v2's 2/3
    with its own review. b4 also gives v2's new 2/3 the Acked-by Dave sent to v1's cover
    letter (it reuses that cover); we do not: Dave did not see the new patch."""
    theirs = applied(world, b4_am(world, ids(world)["v2-2"], 2, "v2"), "b4-v2")
    mine = applied(world, ours(world, "v2-2", "v2"), "ours-v2")
    assert [s for s, _, _ in mine] == [s for s, _, _ in theirs] == [
        "clk: foo: return the rate in Hz", "clk: foo: use the third parent",
        "clk: foo: name the rate"]
    dave = "Acked-by: Dave Maintainer <dave@example.org>"
    expected = [sorted(t) for _, t, _ in theirs]
    expected[1].remove(dave)
    assert [sorted(t) for _, t, _ in mine] == expected
    assert sorted(mine[1][1]) == sorted(["Signed-off-by: Dev Eloper <dev@example.org>",
                                          "Reviewed-by: Alice Reviewer <alice@example.org>"])
    assert [tree for _, _, tree in mine] == [tree for _, _, tree in theirs]
    page = world["client"].get(f"/series/{series_id(world, 'v2-2')}/").get_data(as_text=True)
    assert "Kept from v1" in page


def test_am_ready_v3_carries_trailers_of_unchanged_patches(world):
    """v3's 1/3 is v1's 1/3 unchanged and its 2/3 is v2's: their trailers (and those of v1's
    cover letter, for the unchanged 1/3) carry over, as b4 finds them by patch-id; 3/3 changed
    and gets none."""
    theirs = applied(world, b4_am(world, ids(world)["v3-0"], 3, "v3"), "b4-v3")
    mine = applied(world, ours(world, "v3-1", "v3"), "ours-v3")
    assert [(s, sorted(t), tree) for s, t, tree in mine] == \
        [(s, sorted(t), tree) for s, t, tree in theirs]
    assert sorted(mine[0][1]) == sorted(V1_TRAILERS[0])
    assert mine[2][1] == ["Signed-off-by: Dev Eloper <dev@example.org>"]


def test_am_ready_plain_diff_patch_gets_its_review(world):
    """A patch that is plain ``diff -u`` output, no git headers, a blank context line
    stripped by the mailer: found, reviewed, and applied by git am as b4's is."""
    theirs = applied(world, b4_am(world, ids(world)["plain"], 1, "plain"), "b4-plain")
    mine = applied(world, ours(world, "plain", "plain"), "ours-plain")
    assert mine == theirs
    assert sorted(mine[0][1]) == ["Reviewed-by: Rita Reviewer <rita@example.org>",
                                  "Signed-off-by: Old Timer <old@example.org>"]


def test_mismatched_trailer_is_shown_and_neither_counted_nor_applied(world):
    client = world["client"]
    sid = series_id(world, "v1-1")
    series = client.get(f"/api/v1/series/{sid}").get_json()
    assert series["counts"] == {"acked": 3, "reviewed": 4, "tested": 2}
    patch2 = next(p for p in series["patches"] if p["number"] == 2)
    assert ("Acked-by", "Gina <gina@example.org>") in {
        (t["name"], t["value"]) for t in patch2["trailers"]}
    assert not [t for t in patch2["trailers"] if "Famous" in t["value"]]
    page = client.get(f"/series/{sid}/").get_data(as_text=True)
    assert "Famous Maintainer" in page and "mismatched" in page
    assert b"Famous Maintainer" not in client.get(f"/series/{sid}/mbox").data


# --- review suggestions --------------------------------------------------------------------


def test_review_suggestion_is_no_patch_but_readable_and_searchable(world):
    client = world["client"]
    frank = ids(world)["frank"]
    obj = message(world, "frank")
    assert obj["patch"] is None and obj["series"] is None
    page = client.get(f"/linux-clk/{frank}/").get_data(as_text=True)
    found = re.search(r'href="/patch/(\d+)/">Review suggestion', page)
    assert found is not None
    pid = found.group(1)
    assert client.get(f"/api/v1/patches/{pid}").status_code == 404
    assert client.get(f"/patch/{pid}/").status_code == 200
    raw = client.get(f"/patch/{pid}/raw").get_data(as_text=True)
    assert raw.startswith("--- a/drivers/clk-foo.c") and "+\treturn 4;" in raw
    hits = client.get("/api/v1/search", query_string={"q": "dfb:\"return 4\""}).get_json()
    assert frank in {r["message_id"] for r in hits["results"]}


# --- threads show what is missing ----------------------------------------------------------


def test_thread_shows_placeholders_for_missing_parents(world):
    client = world["client"]
    orphan, second = ids(world)["orphan"], ids(world)["orphan-2"]
    nested = client.get(f"/linux-clk/{orphan}/t/").get_data(as_text=True)
    assert nested.count("[not found]") >= 2
    assert "&lt;never-archived@example.org&gt;" in nested
    assert 'href="/r/never-archived@example.org"' in nested
    # both replies nest under the placeholder of their parent, itself under the cover's
    assert re.search(r'<article class="message d2"[^>]*>\s*<h2 class="subject"><a href="/linux-clk/'
                     + re.escape(orphan), nested)
    flat = client.get(f"/linux-clk/{orphan}/T/").get_data(as_text=True)
    assert 'class="message ghost' not in flat and "message d2" not in flat
    tree = client.get(f"/api/v1/threads/{orphan}").get_json()
    (root,) = tree["messages"]
    assert root["missing"] is True and root["message_id"] == "never-archived-cover@example.org"
    (parent,) = root["replies"]
    assert parent["missing"] is True and parent["message_id"] == "never-archived@example.org"
    assert [r["message_id"] for r in parent["replies"]] == [orphan, second]
    assert tree["message_count"] == 2
    overview = client.get(f"/linux-clk/{orphan}/").get_data(as_text=True)
    assert "[not found]" in overview
