"""The generated demo list and ``listarchive demo``.

The generator is checked on what the mail must show (a v1 and a v2 sharing a change-id, trailers
in replies, a pull request, HTML-only and non-ASCII mail), against the git repository it was cut
from (real commit ids, ``git am`` of the v2 series), and through the real ingest pipeline.
"""

from __future__ import annotations

import email
import io
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import func, select

from ingest.sources import open_source
from ingest.worker import run_ingest
from listarchive.demo import list_name_for, run_demo
from listarchive.demo.builder import LIST_ID, LIST_NAME, MBOX_NAME, PULL_URL, DemoFiles
from listarchive.demo.story import generate_demo_mbox
from listarchive.settings import Settings, from_mapping

NOW = datetime(2024, 3, 21, 12, 0, tzinfo=UTC)
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoFiles:
    return generate_demo_mbox(tmp_path_factory.mktemp("demo"), seed=1, now=NOW)


@pytest.fixture(scope="module")
def mails(demo: DemoFiles) -> list[EmailMessage]:
    out = []
    for raw in open_source(str(demo.mbox)).read():
        msg = email.message_from_bytes(raw.data, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        out.append(msg)
    return out


def by_subject(mails: list[EmailMessage], subject: str) -> EmailMessage:
    found = [m for m in mails if str(m["Subject"]) == subject]
    assert len(found) == 1, f"{len(found)} mails with subject {subject!r}"
    return found[0]


def text_of(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain", "html"))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content


def msgid(msg: EmailMessage) -> str:
    return str(msg["Message-ID"]).strip("<>")


def git(repo: Path, *args: str, stdin: bytes | None = None) -> str:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_AUTHOR_NAME": "Tester", "GIT_AUTHOR_EMAIL": "tester@example.org",
           "GIT_COMMITTER_NAME": "Tester", "GIT_COMMITTER_EMAIL": "tester@example.org"}
    done = subprocess.run(["git", *args], cwd=repo, env=env, input=stdin, capture_output=True,
                          check=True)
    return done.stdout.decode()


# --- determinism ---------------------------------------------------------------------------------


def test_same_seed_gives_the_same_bytes_and_history(demo: DemoFiles, tmp_path: Path) -> None:
    again = generate_demo_mbox(tmp_path / "again", seed=1, now=NOW)
    assert again.mbox.read_bytes() == demo.mbox.read_bytes()
    assert again.maintainers.read_text() == demo.maintainers.read_text()
    assert git(again.repo, "rev-parse", "main") == git(demo.repo, "rev-parse", "main")


def test_another_seed_gives_other_message_ids(demo: DemoFiles, tmp_path: Path) -> None:
    other = generate_demo_mbox(tmp_path / "other", seed=2, now=NOW)
    ids = set(re.findall(rb"^Message-ID: (.*)$", demo.mbox.read_bytes(), re.M | re.I))
    other_ids = set(re.findall(rb"^Message-ID: (.*)$", other.mbox.read_bytes(), re.M | re.I))
    assert len(ids) == len(other_ids) and not ids & other_ids


def test_regenerating_replaces_the_repository(demo: DemoFiles, tmp_path: Path) -> None:
    first = generate_demo_mbox(tmp_path / "twice", seed=3, now=NOW)
    second = generate_demo_mbox(tmp_path / "twice", seed=3, now=NOW)
    assert first.mbox.read_bytes() == second.mbox.read_bytes()


# --- the shape of the list -----------------------------------------------------------------------


def test_size_authors_dates_and_list_id(mails: list[EmailMessage]) -> None:
    assert 60 <= len(mails) <= 120
    authors = {m["From"].addresses[0].addr_spec for m in mails}
    assert len(authors) >= 10
    assert all(a.endswith((".example.org", "@example.org", ".example.com", "@example.com"))
               for a in authors)
    dates = [m["Date"].datetime for m in mails]
    assert min(dates) >= NOW - timedelta(days=22)
    assert max(dates) <= NOW
    assert max(dates) >= NOW - timedelta(days=2), "the list should look alive up to now"
    assert dates == sorted(dates), "an mbox is in arrival order"
    assert all(str(m["List-Id"]) == f"<{LIST_ID}>" for m in mails)
    assert len({msgid(m) for m in mails}) == len(mails)


def test_every_reply_points_at_a_message_in_the_list(mails: list[EmailMessage]) -> None:
    ids = {msgid(m) for m in mails}
    replies = [m for m in mails if m["In-Reply-To"]]
    assert len(replies) > len(mails) // 2
    for m in replies:
        assert str(m["In-Reply-To"]).strip("<>") in ids
        refs = str(m["References"]).split()
        assert refs[-1] == str(m["In-Reply-To"])


def test_a_reply_chain_five_deep(mails: list[EmailMessage]) -> None:
    assert max(len(str(m["References"] or "").split()) for m in mails) >= 5


def test_v1_and_v2_share_the_change_id_and_v2_links_v1(mails: list[EmailMessage]) -> None:
    v1 = by_subject(mails, "[PATCH 0/3] clk: demo: support rate changes")
    v2 = by_subject(mails, "[PATCH v2 0/3] clk: demo: support rate changes")
    change_ids = [re.findall(r"^change-id: (\S+)$", text_of(c), re.M) for c in (v1, v2)]
    assert change_ids[0] and change_ids[0] == change_ids[1]
    assert "Changes in v2:" in text_of(v2)
    assert f"v1: https://lists.example.org/r/{msgid(v1)}" in text_of(v2)
    for cover in (v1, v2):
        base = re.search(r"^base-commit: ([0-9a-f]{40})$", text_of(cover), re.M)
        assert base is not None
    for version, cover in (("", v1), (" v2", v2)):
        patches = [m for m in mails
                   if re.match(rf"\[PATCH{version} [1-3]/3\]", str(m["Subject"]))]
        assert len(patches) == 3
        assert all(str(p["In-Reply-To"]).strip("<>") == msgid(cover) for p in patches)


def test_same_diff_same_patch_id_across_versions(mails: list[EmailMessage],
                                                 demo: DemoFiles) -> None:
    def patch_id(subject: str) -> str:
        body = text_of(by_subject(mails, subject)).encode()
        return git(demo.repo, "patch-id", "--stable", stdin=body).split()[0]

    assert (patch_id("[PATCH 1/3] clk: demo: add a round_rate callback")
            == patch_id("[PATCH v2 1/3] clk: demo: add a round_rate callback"))
    assert (patch_id("[PATCH 2/3] clk: demo: implement set_rate")
            != patch_id("[PATCH v2 2/3] clk: demo: implement set_rate"))


def test_reviews_quote_and_give_trailers(mails: list[EmailMessage]) -> None:
    v1_p1 = by_subject(mails, "[PATCH 1/3] clk: demo: add a round_rate callback")
    v2 = by_subject(mails, "[PATCH v2 0/3] clk: demo: support rate changes")

    def replies_to(parent: EmailMessage) -> list[str]:
        return [text_of(m) for m in mails
                if str(m["In-Reply-To"] or "").strip("<>") == msgid(parent)]

    review = next(t for t in replies_to(v1_p1) if "Reviewed-by:" in t)
    assert re.search(r"^Reviewed-by: Priya Venkataraman <priya\.v@example\.org>$", review, re.M)
    assert re.search(r"^> ", review, re.M)
    on_cover = "\n".join(replies_to(v2))
    assert re.search(r"^Reviewed-by: ", on_cover, re.M)
    assert re.search(r"^Tested-by: ", on_cover, re.M)
    assert any(re.search(r"^Acked-by: ", text_of(m), re.M) for m in mails)
    v1_p2 = by_subject(mails, "[PATCH 2/3] clk: demo: implement set_rate")
    changes = next(t for t in replies_to(v1_p2) if "Please clamp" in t)
    assert "> +\twritel(div - 1, dc->base + DEMO_CLK_DIV);" in changes


def test_applied_thanks_names_real_commits(mails: list[EmailMessage], demo: DemoFiles) -> None:
    v2 = by_subject(mails, "[PATCH v2 0/3] clk: demo: support rate changes")
    ty = next(m for m in mails if str(m["In-Reply-To"] or "").strip("<>") == msgid(v2)
              and "Applied" in text_of(m))
    listed = re.findall(r"^\[(\d)/3\] (.+)\n {6}commit: ([0-9a-f]{12})$", text_of(ty), re.M)
    assert [n for n, _, _ in listed] == ["1", "2", "3"]
    for _, title, sha in listed:
        assert git(demo.repo, "log", "-1", "--format=%s", sha).strip() == title
        assert git(demo.repo, "branch", "--contains", sha, "--format=%(refname:short)").split() \
            == ["main"]


def test_rfc_fixes_and_reported_by(mails: list[EmailMessage], demo: DemoFiles) -> None:
    rfc = [m for m in mails if str(m["Subject"]).startswith("[RFC PATCH] ")]
    assert len(rfc) == 1 and "diff --git a/drivers/gpio/gpio-demo.c" in text_of(rfc[0])
    fix = by_subject(mails, "[PATCH] gpio: demo: fix off-by-one in the interrupt mask check")
    body = text_of(fix)
    fixes = re.search(r'^Fixes: ([0-9a-f]{12}) \("(.+)"\)$', body, re.M)
    assert fixes is not None
    assert git(demo.repo, "log", "-1", "--format=%s", fixes.group(1)).strip() == fixes.group(2)
    assert re.search(r"^Reported-by: Elena Sorokina <elena\.sorokina@example\.com>$", body, re.M)
    report = by_subject(mails, "[BUG] gpio: demo: masking line 8 kills all button interrupts")
    assert f"Closes: https://lists.example.org/r/{msgid(report)}" in body


def test_pull_request_in_request_pull_format(mails: list[EmailMessage], demo: DemoFiles) -> None:
    body = text_of(by_subject(mails, "[GIT PULL] gpio: demo: fixes for 0.3"))
    since = re.search(r"^The following changes since commit ([0-9a-f]{40}):$", body, re.M)
    upto = re.search(r"^for you to fetch changes up to ([0-9a-f]{40}):$", body, re.M)
    assert since and upto
    assert f"\n  {PULL_URL} tags/gpio-demo-fixes-0.3\n" in body
    assert "Samir Haddad (1):\n      gpio: demo: fix off-by-one" in body
    assert re.search(r"^ 1 file changed, 2 insertions\(\+\), 2 deletions\(-\)$", body, re.M)
    assert str(demo.repo) not in body
    assert git(demo.repo, "rev-parse", "gpio-demo-fixes-0.3^{commit}").strip() == upto.group(1)


def test_html_only_mail(mails: list[EmailMessage]) -> None:
    html = [m for m in mails if m.get_content_type() == "text/html"]
    assert len(html) == 1
    assert "fixed-clock" in html[0].get_content()
    assert html[0].get_body(preferencelist=("plain",)) is None


def test_non_ascii_author_and_subject(mails: list[EmailMessage], demo: DemoFiles) -> None:
    raw = demo.mbox.read_bytes()
    assert b"Subject: gpio-demo: =?utf-8?" in raw, "non-ASCII subjects are RFC 2047 encoded"
    thread = [m for m in mails if "“line” or “pin”" in str(m["Subject"])]
    assert len(thread) >= 5
    assert str(thread[0]["From"]) == "José Müller <jose.mueller@example.com>"
    assert any(str(m["From"]).startswith("Łukasz Wójcik") for m in thread)
    assert "Grüße" in text_of(thread[0])


def test_attachments(mails: list[EmailMessage]) -> None:
    report = by_subject(mails, "[BUG] gpio: demo: masking line 8 kills all button interrupts")
    names = {p.get_filename(): p for p in report.iter_attachments()}
    assert set(names) == {"dmesg.txt", "config.gz"}
    assert "nobody cared" in names["dmesg.txt"].get_content()
    assert names["config.gz"].get_content()[:2] == b"\x1f\x8b"


def test_maintainers_file_has_kernel_sections(demo: DemoFiles) -> None:
    from listarchive.mail.maintainers import parse_maintainers

    sections = {s.name: s for s in parse_maintainers(demo.maintainers.read_text())}
    assert set(sections) == {"CLOCK DEMO DRIVER", "DEMO DOCUMENTATION", "GPIO DEMO DRIVER",
                             "THE REST"}
    clk = sections["CLOCK DEMO DRIVER"]
    assert clk.files == ("Documentation/driver-api/clk-demo.rst", "drivers/clk/demo/")
    assert clk.reviewers == ("Priya Venkataraman <priya.v@example.org>",)
    assert clk.lists == ("demo-devel@lists.example.org",)
    assert demo.maintainers.read_text() == (demo.repo / "MAINTAINERS").read_text()


def test_v2_series_applies_with_git_am_on_its_base(mails: list[EmailMessage], demo: DemoFiles,
                                                   tmp_path: Path) -> None:
    cover = by_subject(mails, "[PATCH v2 0/3] clk: demo: support rate changes")
    base = re.search(r"^base-commit: ([0-9a-f]{40})$", text_of(cover), re.M)
    assert base is not None
    patches = sorted((m for m in mails if re.match(r"\[PATCH v2 [1-3]/3\]", str(m["Subject"]))),
                     key=lambda m: str(m["Subject"]))
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", str(demo.repo), str(work))
    git(work, "checkout", "-q", base.group(1))
    for patch in patches:
        git(work, "am", "-q", stdin=patch.as_bytes(policy=policy.compat32))
    assert git(work, "log", "--format=%s", f"{base.group(1)}..HEAD").splitlines() == [
        "Documentation: clk: describe the demo clock's rate range",
        "clk: demo: implement set_rate",
        "clk: demo: add a round_rate callback",
    ]
    source = (work / "drivers/clk/demo/clk-demo.c").read_text()
    assert "div = clamp(div, 1U, DEMO_CLK_MAX_DIV);" in source
    assert "Reviewed-by: Priya" in git(work, "log", "-1", "--format=%b", "HEAD~2")


# --- review comments beside the diff --------------------------------------------------------------

RATE_SERIES = "clk: demo: support rate changes"
CLK = "drivers/clk/demo/clk-demo.c"
CLK_DOC = "Documentation/driver-api/clk-demo.rst"


def rate_series(client: Any, version: int) -> int:
    found = [r["id"] for r in client.get(f"/api/v1/series?list={LIST_NAME}").get_json()["results"]
             if r["title"] == RATE_SERIES and r["version"] == version]
    assert len(found) == 1
    return int(found[0])


def rate_patches(client: Any, version: int) -> dict[int, int]:
    """The patch ids of the rate series' revision ``version``, by their number in it."""
    series = client.get(f"/api/v1/series/{rate_series(client, version)}").get_json()
    return {p["number"]: p["id"] for p in series["patches"]}


def placed(client: Any, patch_id: int) -> list[tuple[str, int | None, int | None, str, str]]:
    obj = client.get(f"/api/v1/patches/{patch_id}/comments").get_json()
    return [(c["file"], c["old_line"], c["new_line"], c["author"]["name"], c["line"])
            for c in obj["comments"]]


def test_v1_reviews_are_placed_beside_the_lines_they_answer(demo_site: Any) -> None:
    """The reviews of v1 quote the diff from a hunk header as kernel reviewers do: Priya on
    1/3 and 2/3, Grace on 3/3, each comment on the line it was written under."""
    client = demo_site.app.test_client()
    v1 = rate_patches(client, 1)
    assert placed(client, v1[1]) == [
        (CLK, None, 55, "Priya Venkataraman", "+\tdiv = clamp(div, 1U, DEMO_CLK_MAX_DIV);")]
    assert placed(client, v1[2]) == [
        (CLK, None, 63, "Priya Venkataraman",
         "+\tunsigned int div = DIV_ROUND_UP(parent_rate, rate);"),
        (CLK, None, 65, "Priya Venkataraman", "+\twritel(div - 1, dc->base + DEMO_CLK_DIV);")]
    assert placed(client, v1[3]) == [(CLK_DOC, None, 16, "Grace O'Donnell", "+supported rate.")]
    # Priya's Reviewed-by follows a cut ("[...]"): it is no comment on a line, but a trailer.
    (on_clamp,) = client.get(f"/api/v1/patches/{v1[1]}/comments").get_json()["comments"]
    assert on_clamp["text"].startswith("Good: the clamp") and "Reviewed-by" not in on_clamp["text"]
    assert any(t["name"] == "Reviewed-by" and "Priya" in t["value"]
               for t in client.get(f"/api/v1/patches/{v1[1]}").get_json()["trailers"])
    # v2 drew no comment on a line: its replies quote prose or the diff without a hunk header.
    assert all(placed(client, pid) == [] for pid in rate_patches(client, 2).values())


def test_patch_page_shows_the_comments_inside_the_diff(demo_site: Any) -> None:
    client = demo_site.app.test_client()
    patch = rate_patches(client, 1)[2]
    page = BeautifulSoup(client.get(f"/patch/{patch}/").get_data(as_text=True), "html.parser")
    section = page.find("section", id=True, class_="file")
    assert section is not None
    assert section.find("h3").get_text(strip=True) == CLK
    notes = section.find_all("div", class_="comment")
    metas = [n.find("p", class_="meta").get_text(" ", strip=True).split(" · ") for n in notes]
    assert [(m[0], m[2]) for m in metas] == [("Priya Venkataraman", "line 63"),
                                             ("Priya Venkataraman", "line 65")]
    # each note follows the piece of diff that ends with the line it answers
    pieces = [n.find_previous_sibling("div", class_="body").get_text() for n in notes]
    assert pieces[0].rstrip().endswith("unsigned int div = DIV_ROUND_UP(parent_rate, rate);")
    assert pieces[1].rstrip().endswith("writel(div - 1, dc->base + DEMO_CLK_DIV);")
    assert "Nothing keeps div within 1..256" in notes[0].get_text()


def test_v2_series_page_shows_the_v1_comment_on_unchanged_lines(demo_site: Any) -> None:
    """v2 keeps round_rate as it was (Priya's comment on its clamp still applies) and changes
    the lines of set_rate and of the documentation that the other comments asked about."""
    client = demo_site.app.test_client()
    v2 = rate_patches(client, 2)
    page = client.get(f"/series/{rate_series(client, 2)}/").get_data(as_text=True)
    assert "1 comment on v1 on lines that did not change</strong> in v2" in page
    carried = BeautifulSoup(page, "html.parser").find("section", id="carried")
    assert carried is not None
    items = [(li.find("span", class_="state").get_text(strip=True),
              li.find("a").get_text(strip=True),
              li.find("a").find_next_sibling(string=True).strip().rstrip(","),
              li.find_all("a")[-1]["href"]) for li in carried.find_all("li")]
    assert sorted(items) == sorted([
        ("unchanged in v2", f"{CLK}:55", "Priya Venkataraman", f"/patch/{v2[1]}/"),
        ("changed since", f"{CLK}:63", "Priya Venkataraman", f"/patch/{v2[2]}/"),
        ("changed since", f"{CLK}:65", "Priya Venkataraman", f"/patch/{v2[2]}/"),
        ("changed since", f"{CLK_DOC}:16", "Grace O'Donnell", f"/patch/{v2[3]}/"),
    ])


# --- listarchive demo ----------------------------------------------------------------------------


@pytest.mark.parametrize("filename, expected", [
    ("linux-clk.mbox", "linux-clk"),
    ("Linux-CLK.mbox.gz", "linux-clk"),
    ("My Mail (2024).mbox", "my-mail-2024"),
    ("all.mbox", "all-mbox"),
    ("ÜÖ.mbox", "mbox"),
    (".mbox", "mbox"),
    ("archive", "archive"),
    ("x" * 80 + ".mbox", "x" * 64),
])
def test_list_name_for(filename: str, expected: str) -> None:
    assert list_name_for(Path(filename)) == expected


def test_run_demo_builds_the_archive_once(settings: Settings) -> None:
    out = io.StringIO()
    assert run_demo(settings, None, None, None, serve_site=False, out=out) == 0
    mbox = settings.data_dir / "demo" / MBOX_NAME
    assert mbox.is_file()
    text = out.getvalue()
    assert "archive: http://127.0.0.1:8080/demo-devel/" in text
    first = re.search(r"read (\d+), new (\d+),.*archive: (\d+) threads, (\d+) patches, "
                      r"(\d+) series", text)
    assert first is not None
    read, new, threads, patches, series = map(int, first.groups())
    assert read == new >= 60
    assert threads > 0 and patches > 0 and series > 0

    stamp = mbox.stat().st_mtime_ns
    again = io.StringIO()
    assert run_demo(settings, None, None, None, serve_site=False, out=again) == 0
    assert mbox.stat().st_mtime_ns == stamp, "an existing demo list is not regenerated"
    assert "using the demo list generated earlier" in again.getvalue()
    summary = run_ingest(settings, [str(mbox)], list_name="demo-devel")
    assert summary.new == 0 and summary.duplicate == read
    assert (summary.threads, summary.patches, summary.series) == (threads, patches, series)


def test_run_demo_on_a_given_mbox(settings: Settings, tmp_path: Path) -> None:
    mbox = tmp_path / "Escaped From.mbox"
    shutil.copy(DATA / "mboxrd-escaped-from.mbox", mbox)
    out = io.StringIO()
    assert run_demo(settings, str(mbox), "127.0.0.2", 9999, serve_site=False, out=out) == 0
    assert "on list escaped-from" in out.getvalue()
    assert "archive: http://127.0.0.2:9999/escaped-from/" in out.getvalue()
    assert not (settings.data_dir / "demo").exists()


def test_run_demo_refuses_a_missing_mbox(settings: Settings, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert run_demo(settings, str(tmp_path / "nope.mbox"), None, None, serve_site=False) == 2
    assert "no such mailbox" in capsys.readouterr().err


def test_cli_demo_no_serve(tmp_path: Path,
                           cli: Callable[..., subprocess.CompletedProcess[bytes]]) -> None:
    done = cli(["demo", "--no-serve"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr.decode()
    stdout = done.stdout.decode()
    assert "archive: http://127.0.0.1:8080/demo-devel/" in stdout
    assert (tmp_path / "instance" / "demo" / MBOX_NAME).is_file()
    missing = cli(["demo", "--no-serve", "--mbox", "missing.mbox"], cwd=tmp_path)
    assert missing.returncode == 2


def test_without_git_the_error_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from listarchive.errors import ListarchiveError

    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ListarchiveError, match="generated with git, which is not installed"):
        generate_demo_mbox(tmp_path / "demo", seed=1, now=NOW)
    assert not (tmp_path / "demo" / MBOX_NAME).exists()


@pytest.mark.sqlite_only  # an archive of its own is a data folder of its own
def test_demo_of_a_real_mailbox_is_an_archive_of_its_own(
        tmp_path: Path, corpora: Path,
        cli: Callable[..., subprocess.CompletedProcess[bytes]]) -> None:
    """``make demo MBOX=...`` after ``make demo``: the mailbox gets its own archive, its list is
    named from List-Id (not from the file), progress is printed, and nothing of the demo (its
    subsystems, people, account, list) appears in it; the demo's archive stays as it was."""
    from mailfixtures import first_messages

    from listarchive.archive.db import open_archive
    from listarchive.archive.models import MailingList, Subsystem, User
    from listarchive.settings import load

    assert cli(["demo", "--no-serve"], cwd=tmp_path).returncode == 0
    mbox = tmp_path / "downloaded (1).mbox"
    mbox.write_bytes(first_messages(corpora / "lore" / "linux-clk-last10000.mboxrd.gz", 300))
    done = cli(["demo", "--no-serve", "--mbox", str(mbox)], cwd=tmp_path)
    assert done.returncode == 0, done.stderr.decode()
    out = done.stdout.decode()
    assert "on list linux-clk" in out and "List-Id: linux-clk.vger.kernel.org" in out
    assert "messages read" in out and "read 300, new 300" in out
    assert "maintainers import" in out and "git-scan" in out

    own = load(tmp_path / "instance-linux-clk" / "listarchive.toml")
    archive = open_archive(own)
    with archive.sessions() as s:
        assert list(s.scalars(select(MailingList.name))) == ["linux-clk"]
        assert s.scalar(select(func.count()).select_from(Subsystem)) == 0
        assert s.scalar(select(func.count()).select_from(User)) == 0
    archive.close()
    demo = open_archive(load(tmp_path / "listarchive.toml") if (tmp_path / "listarchive.toml")
                        .exists() else from_mapping({"storage": {
                            "data_dir": str(tmp_path / "instance")}}))
    with demo.sessions() as s:
        assert "linux-clk" not in set(s.scalars(select(MailingList.name)))
    demo.close()
    # the commands it prints work on that archive
    shown = cli(["-c", str(tmp_path / "instance-linux-clk" / "listarchive.toml"), "search",
                 "s:clk"], cwd=tmp_path)
    assert shown.returncode == 0 and shown.stdout.strip()
