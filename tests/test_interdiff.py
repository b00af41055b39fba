"""``/series/ID/interdiff`` against ``git range-diff``: the revisions of tests/rerollworld.py are
real commits sent with ``git format-patch``; what the archive makes of the mail alone (which
patch pairs with which, unchanged / changed / added / dropped, the changed lines of each
changed pair) must be what git makes of the commits.
"""

from __future__ import annotations

import difflib
import re
import shutil
from collections import Counter
from collections.abc import Iterator
from typing import Any

import backends
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mailfixtures import dev_git
from rerollworld import RerollWorld, build

from ingest.worker import run_ingest
from listarchive.mail.msgids import quote_msgid
from listarchive.mail.rangediff import PAIR_THRESHOLD, RevisionPatch, pair_patches, range_diff
from listarchive.review.interdiff import compared
from listarchive.settings import from_mapping

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
_GIT_LINE = re.compile(r"^\s*(\d+|-):\s+(?:[0-9a-f]+|-+) ([=!<>]) \s*(\d+|-):\s+(?:[0-9a-f]+|-+) ")
_STATUS = {"=": "unchanged", "!": "changed", "<": "dropped", ">": "added"}


@pytest.fixture(scope="module")
@backends.archive_fixture
def reroll(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("reroll")
    world = build(base)
    settings = from_mapping({"storage": {"data_dir": str(base / "instance")},
                             "search": {"enabled": False},
                             "lists": [{"name": "linux-clk", "description": "clk"}]})
    summary = run_ingest(settings, [str(world.mbox)], "linux-clk")
    assert summary.quarantined == 0
    from listarchive.web import create_app

    app = create_app(settings)
    yield {"world": world, "client": app.test_client(), "base": base}


def series_of(client: Any, msgid: str) -> int:
    obj = client.get(f"/api/v1/messages/{quote_msgid(msgid)}").get_json()
    assert obj["series"] is not None, msgid
    return int(obj["series"]["id"])


def git_range_diff(world: RerollWorld, family: str) -> tuple[list[tuple[str, str, str]],
                                                              dict[str, Counter[str]]]:
    """git's pairs as (old number, new number, status), and per new number the changed diff
    lines of the pair (inner ``+``/``-`` lines the outer diff adds or removes)."""
    v1, v2 = world.ranges[family]
    out = dev_git(world.repo, "range-diff", "--no-color", f"{world.base}..{v1}",
                  f"{world.base}..{v2}")
    pairs: list[tuple[str, str, str]] = []
    changed: dict[str, Counter[str]] = {}
    current = ""
    for line in out.splitlines():
        found = _GIT_LINE.match(line)
        if found:
            pairs.append((found.group(1), found.group(3), _STATUS[found.group(2)]))
            current = found.group(3)
            changed[current] = Counter()
        elif line.startswith("    ") and len(line) > 5 and line[4] in "+-" and line[5] in "+-" \
                and not line[5:].startswith(("+++", "---")):
            changed[current][line[4:6] + line[6:]] += 1
    return pairs, changed


@pytest.mark.parametrize("family", ["changed", "added", "dropped"])
def test_pairing_and_changed_lines_match_git_range_diff(reroll: dict[str, Any],
                                                        family: str) -> None:
    world, client = reroll["world"], reroll["client"]
    new = series_of(client, world.ids[f"{family}-v2-0"])
    got = client.get(f"/api/v1/series/{new}/interdiff")
    assert got.status_code == 200, got.data
    obj = got.get_json()
    assert obj["old"]["id"] == series_of(client, world.ids[f"{family}-v1-0"])
    ours = [(str(p["old"]["number"]) if p["old"] else "-",
             str(p["new"]["number"]) if p["new"] else "-", p["status"]) for p in obj["pairs"]]
    theirs, changed = git_range_diff(world, family)
    assert sorted(ours) == sorted(theirs)
    for pair in obj["pairs"]:
        if pair["status"] != "changed":
            assert pair["diff"] == []
            continue
        lines = Counter(line for line in pair["diff"]
                        if line[:1] in "+-" and line[1:2] in "+-"
                        and not line[1:].startswith(("+++", "---")))
        assert lines == changed[str(pair["new"]["number"])]
        assert lines  # the shapes change code, not only messages
    assert {"changed": 1, "added": 1, "dropped": 1}[family] == obj["counts"][family]


def test_page_text_and_links(reroll: dict[str, Any]) -> None:
    world, client = reroll["world"], reroll["client"]
    old = series_of(client, world.ids["changed-v1-0"])
    new = series_of(client, world.ids["changed-v2-0"])
    page = client.get(f"/series/{new}/interdiff")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'class="pair pair-changed"' in html and "pair-unchanged" in html
    assert "+\treturn 77;" in html or "+-\treturn 77;" in html or "return 77;" in html
    assert "<script" not in html
    text = client.get(f"/series/{new}/interdiff.txt")
    assert text.status_code == 200 and text.mimetype == "text/plain"
    assert re.search(r"2: ! +2: foo: seven is 77", text.get_data(as_text=True))
    assert client.get(f"/series/{new}/interdiff?from={old}").status_code == 200
    series_page = client.get(f"/series/{new}/").get_data(as_text=True)
    assert f'/series/{new}/interdiff?from={old}"' in series_page


@pytest.mark.parametrize("query, status, says", [
    ("?from=abc", 400, "a number"),
    ("?from=999999", 400, "not a revision"),
])
def test_bad_from_is_a_readable_4xx(reroll: dict[str, Any], query: str, status: int,
                                    says: str) -> None:
    world, client = reroll["world"], reroll["client"]
    new = series_of(client, world.ids["changed-v2-0"])
    for url in (f"/series/{new}/interdiff{query}", f"/api/v1/series/{new}/interdiff{query}",
                f"/series/{new}/interdiff.txt{query}"):
        got = client.get(url)
        assert got.status_code == status, url
        assert says in got.get_data(as_text=True)


def test_no_earlier_revision_or_wrong_direction(reroll: dict[str, Any]) -> None:
    world, client = reroll["world"], reroll["client"]
    old = series_of(client, world.ids["changed-v1-0"])
    new = series_of(client, world.ids["changed-v2-0"])
    other = series_of(client, world.ids["added-v1-0"])
    assert client.get(f"/series/{old}/interdiff").status_code == 400
    assert "first revision" in client.get(f"/series/{old}/interdiff").get_data(as_text=True)
    assert client.get(f"/series/{old}/interdiff?from={new}").status_code == 400
    assert client.get(f"/series/{new}/interdiff?from={other}").status_code == 400
    assert client.get("/series/123456789/interdiff").status_code == 404
    assert client.get("/api/v1/series/123456789/interdiff").status_code == 404


def _patch(number: int, title: str, body: str, pid: str = "") -> RevisionPatch:
    return RevisionPatch(number, title, title, body, pid, ("f.c",))


def test_pure_pairing_bounds_and_order() -> None:
    old = [_patch(1, "a: one", "+x\n", "p1"), _patch(2, "b: two", "+y\n", "p2")]
    new = [_patch(1, "b: two", "+y\n", "p2"), _patch(2, "c: three", "+z\n", "p3")]
    pairs = range_diff(old, new)
    assert [(p.status, p.old.number if p.old else 0, p.new.number if p.new else 0)
            for p in pairs] == [("dropped", 1, 0), ("unchanged", 2, 1), ("added", 0, 2)]
    huge = [_patch(n, f"t{n}", "+a\n" * 10, f"h{n}") for n in range(1000)]
    assert len(range_diff(huge, huge)) == 200  # MAX_PATCHES


def _score(old: RevisionPatch, new: RevisionPatch) -> float:
    """The similarity :mod:`listarchive.mail.rangediff` documents, computed the plain way."""
    def changed(diff: str) -> set[str]:
        return {line for line in diff.splitlines() if line[:1] in "+-"}

    def jaccard(a: set[str], b: set[str]) -> float:
        return len(a & b) / len(a | b) if a | b else 0.0

    title = difflib.SequenceMatcher(None, old.title.lower(), new.title.lower()).ratio()
    return 0.5 * title + 0.2 * jaccard(set(old.files), set(new.files)) \
        + 0.3 * jaccard(changed(old.diff), changed(new.diff))


def _plain_pairs(old: list[RevisionPatch], new: list[RevisionPatch]) -> dict[int, int]:
    """new number -> old number: the same patch-id first, then every other pair scored, the
    best first (ties: the closer numbers), down to the threshold."""
    match: dict[int, int] = {}
    for j, patch in enumerate(new):
        i = next((i for i, o in enumerate(old) if o.patch_id == patch.patch_id
                  and i not in match.values()), None)
        if patch.patch_id and i is not None:
            match[j] = i
    scored = sorted(((_score(old[i], new[j]), -abs(old[i].number - new[j].number), j, i)
                     for j in range(len(new)) if j not in match
                     for i in range(len(old)) if i not in match.values()), reverse=True)
    for score, _, j, i in scored:
        if score >= PAIR_THRESHOLD and j not in match and i not in match.values():
            match[j] = i
    return {new[j].number: old[i].number for j, i in match.items()}


_words = st.sampled_from(["clk: qcom:", "clk: imx:", "add", "fix", "gcc", "rpmh", "the",
                          "driver", "support", "sm8650", "x1e80100"])
_revision = st.lists(st.tuples(st.lists(_words, min_size=1, max_size=6).map(" ".join),
                               st.sets(st.sampled_from("abcd"), max_size=3),
                               st.sets(st.sampled_from("+x\n -y\n +z\n -w\n".split()),
                                       max_size=3),
                               st.sampled_from(["", "", "p1", "p2"])), max_size=7)


@given(_revision, _revision)
@settings(max_examples=300, deadline=None)
def test_pairing_is_the_plain_rule_of_the_best_scores_first(old_spec: list[Any],
                                                            new_spec: list[Any]) -> None:
    """The pairing skips the titles' ratio of pairs that cannot reach the threshold: what it
    pairs is what scoring every pair gives."""
    def patches(spec: list[Any]) -> list[RevisionPatch]:
        return [RevisionPatch(n, title, "", "".join(sorted(lines)), pid,
                              tuple(f"{f}.c" for f in sorted(files)), n)
                for n, (title, files, lines, pid) in enumerate(spec, 1)]

    old, new = patches(old_spec), patches(new_spec)
    got = {n.number: o.number for o, n in pair_patches(old, new) if o and n}
    assert got == _plain_pairs(old, new)


def test_a_range_diff_is_computed_once_per_question() -> None:
    old = [_patch(1, "a: one", "+x\n", "p1")]
    new = [_patch(1, "a: one", "+x\n+y\n", "p9")]
    first = compared(old, new)
    assert compared(list(old), list(new)) is first  # the same comparison, kept
    assert first == tuple(range_diff(old, new))
    other = compared(old, [_patch(1, "a: one", "+x\n+z\n", "p8")])
    assert other is not first and other[0].diff_lines != first[0].diff_lines


def test_every_consecutive_revision_pair_of_real_linux_clk(site: Any) -> None:
    """Real rerolls (the linux-clk slice of the site archive): every consecutive pair of
    revisions the archive linked has an interdiff page (no 5xx), each patch of both sides is
    classified once, and the JSON counts add up."""
    if not site.has_corpus:
        pytest.skip("the linux-clk corpus is not beside the project")
    from sqlalchemy import select

    from listarchive.archive.db import open_archive
    from listarchive.archive.models import SeriesRevision

    archive = open_archive(site.settings)
    try:
        with archive.sessions() as session:
            links = session.execute(select(SeriesRevision.older_id,
                                           SeriesRevision.newer_id)).all()
    finally:
        archive.close()
    assert len(links) >= 5  # the slice holds rerolls
    client = site.app.test_client()
    walked = 0
    for _, newer in links:
        page = client.get(f"/series/{newer}/interdiff")
        assert page.status_code in (200, 400), (newer, page.status_code)
        obj = client.get(f"/api/v1/series/{newer}/interdiff")
        assert obj.status_code == page.status_code
        if obj.status_code == 400:
            continue
        walked += 1
        data = obj.get_json()
        assert sum(data["counts"].values()) == len(data["pairs"])
        assert all(p["status"] in ("unchanged", "changed", "added", "dropped")
                   and (p["old"] or p["new"]) for p in data["pairs"])
        news = [p["new"]["patch"] for p in data["pairs"] if p["new"]]
        olds = [p["old"]["patch"] for p in data["pairs"] if p["old"]]
        assert len(news) == len(set(news)) and len(olds) == len(set(olds))
        assert client.get(f"/series/{newer}/interdiff.txt").status_code == 200
    assert walked >= 5


def _patch_of(client: Any, msgid: str) -> int:
    obj = client.get(f"/api/v1/messages/{quote_msgid(msgid)}").get_json()
    return int(obj["patch"]["id"])


def test_comments_on_the_patch_page_and_json(reroll: dict[str, Any]) -> None:
    world, client = reroll["world"], reroll["client"]
    p1 = _patch_of(client, world.ids["changed-v1-1"])
    html = client.get(f"/patch/{p1}/").get_data(as_text=True)
    diff_part, discussion = html.split('id="discussion"', 1)
    assert 'class="comment"' in diff_part and "Why twenty?" in diff_part
    assert diff_part.index("return 20;") < diff_part.index("Why twenty?")
    assert "Alice Reviewer" in discussion and "Carol" in discussion
    obj = client.get(f"/api/v1/patches/{p1}/comments").get_json()
    assert [(c["file"], c["old_line"], c["new_line"], c["message_id"], c["author"]["name"])
            for c in obj["comments"]] == [("drivers/foo.c", None, 8, "alice@example.org",
                                           "Alice Reviewer")]
    assert [r["message_id"] for r in obj["replies"]] == ["alice@example.org",
                                                         "carol@example.org"]
    series = series_of(client, world.ids["changed-v1-0"])
    page = client.get(f"/series/{series}/").get_data(as_text=True)
    assert f'/patch/{p1}/#discussion">1 comment<' in page
    assert client.get("/api/v1/patches/999999999/comments").status_code == 404


def test_comments_carried_to_the_next_revision(reroll: dict[str, Any]) -> None:
    world, client = reroll["world"], reroll["client"]
    new = series_of(client, world.ids["changed-v2-0"])
    page = client.get(f"/series/{new}/").get_data(as_text=True)
    assert "1 comment on v1 on lines that did not change" in page
    carried = page.split('id="carried"', 1)[1]
    alice, bob = carried.index("Why twenty?"), carried.index("Seventy is wrong")
    assert "unchanged in v2" in carried[:alice] and "changed since" in carried[alice:bob]
    # Carol's Acked-by on v1's patch 1, unchanged in v2, is carried to v2's patch 1
    obj = client.get(f"/api/v1/series/{new}").get_json()
    first = next(p for p in obj["patches"] if p["number"] == 1)
    assert any(t["name"] == "Acked-by" and "carol" in t["value"] for t in first["trailers"])


def test_dependencies_shown_and_applied_with_git(reroll: dict[str, Any],
                                                 tmp_path: Any) -> None:
    world, client = reroll["world"], reroll["client"]
    deps = series_of(client, world.ids["deps-v1-0"])
    prereq = series_of(client, world.ids["changed-v2-0"])
    obj = client.get(f"/api/v1/series/{deps}").get_json()["dependencies"]
    assert obj["base_commit"] == world.base
    assert {(p["kind"], p["series"]) for p in obj["prerequisites"]} == {("message-id", prereq)}
    page = client.get(f"/series/{deps}/").get_data(as_text=True)
    assert f'href="/series/{prereq}/"' in page and f"/series/{deps}/mbox?deps=1" in page
    got = client.get(f"/series/{deps}/mbox?deps=1")
    assert got.status_code == 200
    mbox = tmp_path / "deps.mbx"
    mbox.write_bytes(got.data)
    clone = tmp_path / "clone"
    dev_git(tmp_path, "clone", "-q", str(world.repo), str(clone))
    dev_git(clone, "checkout", "-q", world.base)
    dev_git(clone, "am", "-q", str(mbox))
    assert dev_git(clone, "rev-parse", "HEAD^{tree}") == dev_git(
        world.repo, "rev-parse", f"{world.ranges['deps'][1]}^{{tree}}")
    assert len(dev_git(clone, "log", "--format=%s", f"{world.base}..HEAD").splitlines()) == 4
    plain = client.get(f"/series/{deps}/mbox").data
    assert plain.count(b"\nSubject: ") == 1


def test_series_feed(reroll: dict[str, Any]) -> None:
    world, client = reroll["world"], reroll["client"]
    old = series_of(client, world.ids["changed-v1-0"])
    feed = client.get(f"/series/{old}/atom")
    assert feed.status_code == 200 and feed.mimetype == "application/atom+xml"
    import xml.etree.ElementTree as ET

    root = ET.fromstring(feed.data)
    titles = [e.findtext("{http://www.w3.org/2005/Atom}title") or ""
              for e in root.iter("{http://www.w3.org/2005/Atom}entry")]
    assert any(t.startswith("v2:") for t in titles)  # the new revision
    assert any(t.startswith("comment on drivers/foo.c") for t in titles)
    assert any(t.startswith("Re:") for t in titles)  # replies
    assert f'href="/series/{old}/atom"' in client.get(f"/series/{old}/").get_data(as_text=True)
    assert client.get("/series/999999999/atom").status_code == 404
    assert client.get("/s/no-such-subsystem/atom").status_code == 404
