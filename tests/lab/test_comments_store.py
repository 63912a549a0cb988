"""Group commit in the comments store: calls that queue up while its thread is busy are run in
one transaction, committed once, and none of them is answered before that commit."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import pytest

from mutirao_lab.comments.model import Anchor, Author, Comment, Thread
from mutirao_lab.comments.store import CommentDB, CommentStore

ANA = Author("ana", "Ana")


def thread(n: int) -> Thread:
    tid = f"t{n}"
    return Thread(
        id=tid,
        anchor=Anchor("file", "cell-a"),
        created_at=f"2024-01-01T00:00:{n:02d}.000Z",
        author=ANA,
        last_source="x = 1",
        comments=[Comment(f"c{n}", tid, ANA, f"comment {n}", "2024-01-01T00:00:00.000Z")],
    )


class Gate:
    """A call that holds the store's thread until opened, so that the next calls queue up."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.open = threading.Event()

    def __call__(self, db: CommentDB) -> None:
        self.entered.set()
        assert self.open.wait(10)


@pytest.fixture
def store(tmp_path):
    s = CommentStore(str(tmp_path / "comments.sqlite"))
    s.wait_open()
    yield s
    s.close()


@pytest.fixture
def groups(monkeypatch):
    """The size of every group commit."""
    sizes: list[int] = []
    run_group = CommentDB.run_group

    def spy(self, calls):
        sizes.append(len(calls))
        return run_group(self, calls)

    monkeypatch.setattr(CommentDB, "run_group", spy)
    return sizes


async def queue_behind_gate(store: CommentStore, calls) -> list:
    gate = Gate()
    held = asyncio.ensure_future(store.call(gate))
    await asyncio.get_running_loop().run_in_executor(None, gate.entered.wait, 10)
    pending = [asyncio.ensure_future(store.call(method, *args)) for method, *args in calls]
    await asyncio.sleep(0.05)
    assert not any(p.done() for p in pending)  # nothing answered while the group waits
    gate.open.set()
    await held
    return await asyncio.gather(*pending, return_exceptions=True)


async def test_queued_writes_are_committed_together_and_all_kept(store, groups, tmp_path):
    results = await queue_behind_gate(
        store, [(CommentDB.create_thread, thread(n), "nb.ipynb") for n in range(20)]
    )
    assert [t.id for t in results] == [f"t{n}" for n in range(20)]
    assert groups == [20]  # one transaction, one commit (one sync) for the 20 posts
    # durable: a fresh connection (another process would see the same) finds every one
    other = CommentDB(str(tmp_path / "comments.sqlite"))
    try:
        assert len(other.threads_for_file("file")) == 20
    finally:
        other.close()


async def test_a_failing_call_takes_back_only_its_own_writes(store, groups):
    await store.call(CommentDB.create_thread, thread(1), "nb.ipynb")

    def insert_then_fail(db: CommentDB) -> None:
        with db._tx() as con:
            con.execute(
                "UPDATE threads SET last_source = 'changed' WHERE id = 't1'",
            )
            raise RuntimeError("boom")

    results = await queue_behind_gate(
        store,
        [
            (CommentDB.create_thread, thread(2), "nb.ipynb"),
            (CommentDB.create_thread, thread(1), "nb.ipynb"),  # the same id again
            (insert_then_fail,),
            (CommentDB.create_thread, thread(3), "nb.ipynb"),
        ],
    )
    assert groups == [4]
    assert results[0].id == "t2"
    assert isinstance(results[1], sqlite3.IntegrityError)
    assert isinstance(results[2], RuntimeError)
    assert results[3].id == "t3"
    kept = await store.call(CommentDB.threads_for_file, "file")
    assert [t.id for t in kept] == ["t1", "t2", "t3"]
    assert kept[0].last_source == "x = 1"  # the failed call's update was rolled back
    assert [len(t.comments) for t in kept] == [1, 1, 1]


async def test_a_failed_group_is_run_again_one_call_at_a_time(store, monkeypatch):
    real_execute_calls: list[str] = []
    db = store._db
    assert db is not None
    con = db.con

    class FailingCommit:
        """The connection, except that the first COMMIT of a group fails (a full disk, say)."""

        failed = False

        def __getattr__(self, name):
            return getattr(con, name)

        def execute(self, sql, *args):
            real_execute_calls.append(sql)
            if sql == "COMMIT" and not self.failed and con.in_transaction and group_open[0]:
                self.failed = True
                raise sqlite3.OperationalError("disk I/O error")
            return con.execute(sql, *args)

    group_open = [False]
    run_group = CommentDB.run_group

    def marked(self, calls):
        group_open[0] = True
        try:
            return run_group(self, calls)
        finally:
            group_open[0] = False

    monkeypatch.setattr(CommentDB, "run_group", marked)
    monkeypatch.setattr(db, "con", FailingCommit())
    results = await queue_behind_gate(
        store, [(CommentDB.create_thread, thread(n), "nb.ipynb") for n in range(3)]
    )
    assert [t.id for t in results] == ["t0", "t1", "t2"]
    assert "ROLLBACK" in real_execute_calls
    monkeypatch.setattr(db, "con", con)
    assert len(await store.call(CommentDB.threads_for_file, "file")) == 3


async def test_a_cancelled_call_is_not_run(store):
    gate = Gate()
    held = asyncio.ensure_future(store.call(gate))
    await asyncio.get_running_loop().run_in_executor(None, gate.entered.wait, 10)
    cancelled = asyncio.ensure_future(store.call(CommentDB.create_thread, thread(1), "nb.ipynb"))
    kept = asyncio.ensure_future(store.call(CommentDB.create_thread, thread(2), "nb.ipynb"))
    await asyncio.sleep(0.01)
    cancelled.cancel()
    await asyncio.sleep(0.05)  # the cancellation reaches the queued call
    gate.open.set()
    await held
    assert (await kept).id == "t2"
    assert [t.id for t in await store.call(CommentDB.threads_for_file, "file")] == ["t2"]
