"""Threading: pure tree building, and order independence through the real store."""

from __future__ import annotations

import random
from datetime import datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, func, select

from ingest.rawmail import RawMail
from ingest.worker import Summary, Worker
from listarchive.archive.batches import select_in
from listarchive.archive.derived import list_stat_totals
from listarchive.archive.models import ListStat, Message, Thread
from listarchive.mail.threads import TreeItem, build_tree, components, pick_root
from listarchive.settings import from_mapping


def test_components_join_through_ghosts():
    comps = components([("b", ["a"]), ("c", ["a", "b"]), ("x", ["ghost"]), ("y", ["ghost"]),
                        ("z", [])])
    assert sorted(map(sorted, comps)) == [["a", "b", "c"], ["ghost", "x", "y"], ["z"]]


def test_tree_is_depth_first_by_date_and_survives_cycles():
    d = [datetime(2025, 1, i) for i in range(1, 8)]
    items = [TreeItem("root", "", d[0]), TreeItem("r2", "root", d[2]), TreeItem("r1", "root", d[1]),
             TreeItem("r1a", "r1", d[3]), TreeItem("orphan", "ghost", d[4]),
             # a -> b -> a: a loop of broken References; both must still show, once.
             TreeItem("a", "b", d[5]), TreeItem("b", "a", d[6])]
    rows = build_tree(items)
    assert [(r.msgid, r.depth) for r in rows] == [
        ("root", 0), ("r1", 1), ("r1a", 2), ("r2", 1), ("orphan", 0), ("a", 0), ("b", 1)]
    assert pick_root(items) == "root"


def test_deep_chain_needs_no_recursion():
    items = [TreeItem(f"m{i}", f"m{i - 1}" if i else "", datetime(2025, 1, 1)) for i in range(20000)]
    rows = build_tree(items)
    assert len(rows) == 20000 and rows[-1].depth == 19999


def mail(msgid: str, refs: list[str], day: int, subject: str = "topic") -> bytes:
    head = [f"From: Person {day} <p{day}@example.org>", f"Subject: {subject}",
            f"Date: Mon, {day:02d} Jan 2024 10:00:00 +0000", f"Message-ID: <{msgid}>"]
    if refs:
        head.append("References: " + " ".join(f"<{r}>" for r in refs))
        head.append(f"In-Reply-To: <{refs[-1]}>")
    return ("\n".join(head) + "\n\nbody\n").encode()


# Two threads that only a late message joins, a reply to an unseen message, a loop, a
# self-reference, and two unrelated "[PATCH] fix typo" mails that must stay apart.
MAILS = [
    mail("a1", [], 1), mail("a2", ["a1"], 2), mail("a3", ["a1", "a2"], 3),
    mail("b2", ["b1-ghost"], 4), mail("b3", ["b1-ghost", "b2"], 5),
    mail("joiner", ["a3", "b3"], 6),
    mail("c1", ["c2"], 7), mail("c2", ["c1"], 8), mail("self", ["self"], 9),
    mail("t1", [], 10, "[PATCH] fix typo"), mail("t2", [], 11, "[PATCH] fix typo"),
    mail("late-root-reply", ["late-root"], 12), mail("late-root", [], 13),
]


def partition(worker: Worker) -> tuple[frozenset[frozenset[str]], frozenset[str]]:
    with worker.sessions() as session:
        groups: dict[int, set[str]] = {}
        for msgid, tid in session.execute(select(Message.msgid, Message.thread_id)):
            groups.setdefault(tid, set()).add(msgid)
        roots = frozenset(session.scalars(select(Thread.root_msgid)))
    return frozenset(frozenset(g) for g in groups.values()), roots


def list_totals(worker: Worker) -> tuple[dict[int, tuple[int, int]], dict[int, tuple[int, int]]]:
    """The list totals the ingest kept, and the same summed from the per-thread rows now."""
    with worker.sessions() as session:
        kept = {lid: (t, m) for lid, t, m in session.execute(
            select(ListStat.list_id, ListStat.threads, ListStat.messages)) if t or m}
        derived = {lid: (t, int(m)) for lid, t, m in session.execute(list_stat_totals())}
    return kept, derived


def ingest_in_order(tmp: Path, order: list[int], batch: int) -> Worker:
    cfg = from_mapping({"storage": {"data_dir": str(tmp)}, "search": {"enabled": False},
                        "ingest": {"batch_size": batch}})
    worker = Worker(cfg, "test")
    items = [RawMail(MAILS[i], f"m{i}", "") for i in order]
    for start in range(0, len(items), batch):
        worker.store(items[start:start + batch], Summary())
    return worker


def test_expected_threads_in_arrival_order(tmp_path):
    groups, roots = partition(ingest_in_order(tmp_path, list(range(len(MAILS))), 3))
    assert frozenset({"a1", "a2", "a3", "b2", "b3", "joiner"}) in groups
    assert frozenset({"t1"}) in groups and frozenset({"t2"}) in groups
    assert frozenset({"c1", "c2"}) in groups and frozenset({"self"}) in groups
    assert frozenset({"late-root", "late-root-reply"}) in groups
    assert {"a1", "late-root", "t1", "t2", "self"} <= roots


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), batch=st.integers(1, 6))
def test_threads_do_not_depend_on_arrival_order(tmp_path_factory, seed, batch):
    reference = ingest_in_order(tmp_path_factory.mktemp("ref"), list(range(len(MAILS))), 50)
    order = list(range(len(MAILS)))
    random.Random(seed).shuffle(order)
    shuffled = ingest_in_order(tmp_path_factory.mktemp("shuf"), order, batch)
    assert partition(shuffled) == partition(reference)
    # the list totals kept through every merge equal a recount, and do not depend on the order
    kept, derived = list_totals(shuffled)
    assert kept == derived == list_totals(reference)[1]
    assert sum(m for _t, m in kept.values()) == len(MAILS)


def test_missing_parents_get_placeholders_that_keep_the_nesting():
    """lore's ``[not found]``: replies to a message that was never archived hang under one
    placeholder for it, and a placeholder sits under the nearest earlier References entry."""
    d = [datetime(2025, 1, i) for i in range(1, 8)]
    items = [
        TreeItem("cover", "", d[0]),
        # patch 1/2 arrived; patch 2/2 did not, but two reviews of it did
        TreeItem("p1", "cover", d[1], ("cover",)),
        TreeItem("rev-a", "p2", d[2], ("cover", "p2")),
        TreeItem("rev-b", "p2", d[3], ("cover", "p2")),
        # a reply whose whole ancestry is missing: two placeholders, nested
        TreeItem("late", "mid", d[4], ("old-root", "mid")),
    ]
    rows = build_tree(items, ghosts=True)
    assert [(r.msgid, r.depth, r.ghost) for r in rows] == [
        ("cover", 0, False), ("p1", 1, False), ("p2", 1, True), ("rev-a", 2, False),
        ("rev-b", 2, False), ("old-root", 0, True), ("mid", 1, True), ("late", 2, False)]
    # without placeholders the orphans become roots, as before
    assert [(r.msgid, r.depth) for r in build_tree(items)] == [
        ("cover", 0), ("p1", 1), ("rev-a", 0), ("rev-b", 0), ("late", 0)]


def test_placeholders_do_not_depend_on_arrival_order():
    d = [datetime(2025, 1, i) for i in range(1, 5)]
    items = [TreeItem("a", "x", d[0], ("r", "x")), TreeItem("b", "y", d[1], ("r", "x", "y")),
             TreeItem("c", "x", d[2], ("q", "x"))]
    first = build_tree(items, ghosts=True)
    assert build_tree(list(reversed(items)), ghosts=True) == first
    assert [(r.msgid, r.depth, r.ghost) for r in first] == [
        ("r", 0, True), ("x", 1, True), ("a", 2, False), ("y", 2, True), ("b", 3, False),
        ("c", 2, False)]


def worker_for(tmp: Path) -> Worker:
    cfg = from_mapping({"storage": {"data_dir": str(tmp)}, "search": {"enabled": False}})
    return Worker(cfg, "test")


def store_counting(worker: Worker, mails: list[bytes]) -> int:
    """Store ``mails`` as one batch; the statements it sent."""
    sent = [0]

    def count(*_args: object) -> None:
        sent[0] += 1

    event.listen(worker.engine, "before_cursor_execute", count)
    try:
        worker.store([RawMail(m, f"m{i}", "") for i, m in enumerate(mails)], Summary())
    finally:
        event.remove(worker.engine, "before_cursor_execute", count)
    return sent[0]


# Twelve threads stored apart; then one batch whose replies join them: three at once, two
# pairs, and a thread reached through its ghost.
APART = [mail(f"r{i}", [] if i % 4 else [f"r{i}-ghost"], i + 1) for i in range(12)]
JOINERS = [mail("j3", ["r0", "r1", "r2"], 20), mail("j2a", ["r3", "r4"], 21),
           mail("j2b", ["r5", "r6"], 22), mail("via-ghost", ["r8-ghost", "r7"], 23)]


def test_several_merges_in_one_batch_equal_them_one_by_one(tmp_path):
    together = worker_for(tmp_path / "together")
    store_counting(together, APART)
    store_counting(together, JOINERS)
    alone = worker_for(tmp_path / "alone")
    for one in APART + JOINERS:
        store_counting(alone, [one])
    groups, roots = partition(together)
    assert (groups, roots) == partition(alone)
    assert frozenset({"r0", "r1", "r2", "j3"}) in groups
    assert frozenset({"r7", "r8", "via-ghost"}) in groups
    assert len(groups) == 12 - 2 - 1 - 1 - 1
    with together.sessions() as session:  # no emptied thread is left behind
        assert session.scalar(select(func.count()).select_from(Thread)) == len(groups)
    kept, derived = list_totals(together)
    assert kept == derived == list_totals(alone)[1]


def test_merges_of_a_batch_cost_no_statement_each(tmp_path):
    """Every merge of a batch is done by the same few statements: each statement is a round
    trip to a database server, and two workers importing at once merge often."""
    one = worker_for(tmp_path / "one")
    store_counting(one, APART)
    one_merge = store_counting(one, [JOINERS[1], mail("x", ["r0"], 30), mail("y", ["r5"], 31),
                                     mail("z", ["r7"], 32)])
    many = worker_for(tmp_path / "many")
    store_counting(many, APART)
    four_merges = store_counting(many, JOINERS)
    assert four_merges <= one_merge


def test_a_lookup_of_many_ids_is_one_statement_text_whatever_their_number(tmp_path):
    """Looking up a batch's Message-IDs: the right rows, and on PostgreSQL one statement text
    for any number of them (``= ANY`` of one array), which the server prepares once instead of
    parsing and planning a statement of hundreds of parameters at every batch."""
    worker = worker_for(tmp_path)
    store_counting(worker, APART)
    texts: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        texts.append(statement)

    event.listen(worker.reader_engine, "before_cursor_execute", seen)
    try:
        with worker.readers() as session:
            found = [sorted(select_in(session, select(Message.msgid), Message.msgid, wanted))
                     for wanted in (["r1", "r2", "nosuch"], [f"r{i}" for i in range(9)])]
    finally:
        event.remove(worker.reader_engine, "before_cursor_execute", seen)
    assert found == [[("r1",), ("r2",)], [(f"r{i}",) for i in range(9)]]
    if worker.engine.dialect.name == "postgresql":
        assert len(set(texts)) == 1 and "ANY" in texts[0]
