"""Durable storage of comments: one SQLite database per server, next to the room's files.

WAL journal with ``synchronous=FULL``: every write is committed and synced before the method
returns, so the HTTP answer that acknowledges a comment is sent only once the comment would
survive a crash of the server (or of the machine). SQLite is blocking; :class:`CommentStore`
runs all of it on one thread of its own, so the event loop never waits on the disk and the
database is only ever touched from that one thread.

Group commit: calls that arrive while that thread is busy wait in a queue; the thread then
runs all of them in one transaction, each in a savepoint of its own, and commits (and syncs)
once. No call's result is handed back before that commit, so durability is as before, but
100 concurrent posts cost a handful of syncs instead of 100 serialised ones.
"""

from __future__ import annotations

import asyncio
import json
import queue
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

from .model import Anchor, AnchorChange, AnchorState, Author, Comment, Thread

T = TypeVar("T")

#: The most calls one group commit takes from the queue; the rest wait for the next one.
MAX_GROUP = 256

#: Schema migrations, applied in order; the database records which ones it has. Never edit a
#: released step: append a new one.
MIGRATIONS: list[str] = [
    # 1: threads, comments, mentions
    """
    CREATE TABLE threads (
        id TEXT PRIMARY KEY,
        file_id TEXT NOT NULL,
        cell_id TEXT NOT NULL,
        output_index INTEGER,
        range_start INTEGER,
        range_end INTEGER,
        created_at TEXT NOT NULL,
        author TEXT NOT NULL,
        author_username TEXT NOT NULL,
        resolved INTEGER NOT NULL DEFAULT 0,
        resolved_by TEXT,
        resolved_at TEXT,
        outdated INTEGER NOT NULL DEFAULT 0,
        last_source TEXT,
        last_path TEXT
    );
    CREATE INDEX threads_by_file ON threads (file_id);
    CREATE TABLE comments (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        thread_id TEXT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
        author TEXT NOT NULL,
        author_username TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at TEXT NOT NULL,
        edited_at TEXT,
        mentions TEXT NOT NULL DEFAULT '[]'
    );
    CREATE INDEX comments_by_thread ON comments (thread_id, seq);
    CREATE TABLE mentions (
        username TEXT NOT NULL,
        comment_id TEXT NOT NULL REFERENCES comments (id) ON DELETE CASCADE,
        read_at TEXT,
        PRIMARY KEY (username, comment_id)
    );
    """,
]


def _author(text: str | None) -> Author | None:
    return None if text is None else Author(**json.loads(text))


def _dump(author: Author | None) -> str | None:
    return None if author is None else json.dumps(asdict(author))


class CommentDB:
    """The synchronous database; use it from one thread only (see :class:`CommentStore`)."""

    def __init__(self, path: str):
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.con = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.con.row_factory = sqlite3.Row
        mode = self.con.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if path != ":memory:" and mode.lower() != "wal":
            raise RuntimeError(f"{path}: SQLite refused WAL mode (got {mode})")
        self.con.execute("PRAGMA synchronous = FULL")
        self.con.execute("PRAGMA foreign_keys = ON")
        self.con.execute("PRAGMA busy_timeout = 10000")
        self.migrate()

    def close(self) -> None:
        self.con.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        if self.con.in_transaction:
            # inside a group commit (:meth:`run_group`): a savepoint, so that a call that fails
            # takes back only its own writes
            self.con.execute("SAVEPOINT call")
            try:
                yield self.con
            except BaseException:
                self.con.execute("ROLLBACK TO call")
                self.con.execute("RELEASE call")
                raise
            self.con.execute("RELEASE call")
            return
        self.con.execute("BEGIN IMMEDIATE")
        try:
            yield self.con
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def run_group(
        self, calls: Sequence[tuple[Callable[..., Any], tuple]]
    ) -> list[tuple[bool, Any]]:
        """Run ``method(self, *args)`` for each call in ONE transaction, committed (and synced)
        once; returns ``(True, result)`` or ``(False, exception)`` for each, in order.

        Each call's writes are in a savepoint, so one that fails leaves the others' writes alone,
        as if it had run on its own. Should the transaction itself fail (the commit, or an error
        that makes SQLite roll it back), nothing of it is kept and the calls are run again one
        by one, each in its own transaction, as without group commit.
        """
        outcomes: list[tuple[bool, Any]] = []
        try:
            self.con.execute("BEGIN IMMEDIATE")
            for method, args in calls:
                try:
                    outcomes.append((True, method(self, *args)))
                except Exception as e:
                    outcomes.append((False, e))
                if not self.con.in_transaction:
                    raise sqlite3.OperationalError("the group transaction was rolled back")
            self.con.execute("COMMIT")
            return outcomes
        except sqlite3.Error:
            if self.con.in_transaction:
                self.con.execute("ROLLBACK")
        except BaseException:
            if self.con.in_transaction:
                self.con.execute("ROLLBACK")
            raise
        return [_run_one(self, method, args) for method, args in calls]

    def migrate(self) -> int:
        """Bring the schema up to date; returns its version."""
        with self._tx() as con:
            con.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations"
                " (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            version = con.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0] or 0
            if version > len(MIGRATIONS):
                raise RuntimeError(
                    f"the comments database has schema version {version}, newer than this"
                    f" mutirao-lab knows ({len(MIGRATIONS)}); upgrade mutirao-lab"
                )
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in script.split(";"):
                    if statement.strip():
                        con.execute(statement)
                con.execute(
                    "INSERT INTO schema_migrations VALUES (?, strftime('%Y-%m-%dT%H:%M:%fZ'))",
                    (number,),
                )
            return len(MIGRATIONS)

    # -- reading ------------------------------------------------------------------------

    def _threads(self, where: str, args: tuple) -> list[Thread]:
        rows = self.con.execute(
            f"SELECT * FROM threads WHERE {where} ORDER BY created_at, id",  # noqa: S608
            args,
        ).fetchall()
        threads = {}
        for r in rows:
            text_range = None if r["range_start"] is None else (r["range_start"], r["range_end"])
            threads[r["id"]] = Thread(
                id=r["id"],
                anchor=Anchor(r["file_id"], r["cell_id"], r["output_index"], text_range),
                created_at=r["created_at"],
                author=_author(r["author"]),  # type: ignore[arg-type]
                resolved=bool(r["resolved"]),
                resolved_by=_author(r["resolved_by"]),
                resolved_at=r["resolved_at"],
                outdated=bool(r["outdated"]),
                last_source=r["last_source"],
            )
        if threads:
            marks = ",".join("?" * len(threads))
            for c in self.con.execute(
                f"SELECT * FROM comments WHERE thread_id IN ({marks}) ORDER BY seq",  # noqa: S608
                tuple(threads),
            ):
                threads[c["thread_id"]].comments.append(
                    Comment(
                        id=c["id"],
                        thread_id=c["thread_id"],
                        author=_author(c["author"]),  # type: ignore[arg-type]
                        body=c["body"],
                        created_at=c["created_at"],
                        edited_at=c["edited_at"],
                        mentions=json.loads(c["mentions"]),
                    )
                )
        return list(threads.values())

    def get_thread(self, thread_id: str) -> Thread | None:
        found = self._threads("id = ?", (thread_id,))
        return found[0] if found else None

    def threads_for_file(self, file_id: str) -> list[Thread]:
        return self._threads("file_id = ?", (file_id,))

    def anchor_states(self, file_id: str) -> list[AnchorState]:
        return [
            AnchorState(
                r["id"],
                r["cell_id"],
                bool(r["outdated"]),
                r["last_source"],
                None if r["range_start"] is None else (r["range_start"], r["range_end"]),
            )
            for r in self.con.execute(
                "SELECT id, cell_id, outdated, last_source, range_start, range_end FROM threads"
                " WHERE file_id = ?",
                (file_id,),
            )
        ]

    def mentions_for(self, username: str, unread_only: bool) -> list[dict[str, Any]]:
        rows = self.con.execute(
            "SELECT m.comment_id, m.read_at, c.thread_id, c.author, c.body, c.created_at,"
            " t.file_id, t.cell_id, t.last_path FROM mentions m"
            " JOIN comments c ON c.id = m.comment_id JOIN threads t ON t.id = c.thread_id"
            " WHERE m.username = ? AND (m.read_at IS NULL OR NOT ?) ORDER BY c.seq DESC",
            (username, unread_only),
        ).fetchall()
        return [
            {
                "comment_id": r["comment_id"],
                "thread_id": r["thread_id"],
                "file_id": r["file_id"],
                "cell_id": r["cell_id"],
                "path": r["last_path"],
                "author": json.loads(r["author"]),
                "body": r["body"],
                "created_at": r["created_at"],
                "read": r["read_at"] is not None,
            }
            for r in rows
        ]

    def unread_count(self, username: str) -> int:
        return self.con.execute(
            "SELECT COUNT(*) FROM mentions WHERE username = ? AND read_at IS NULL", (username,)
        ).fetchone()[0]

    # -- writing ------------------------------------------------------------------------

    def _insert_comment(self, con: sqlite3.Connection, c: Comment) -> None:
        con.execute(
            "INSERT INTO comments (id, thread_id, author, author_username, body, created_at,"
            " mentions) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                c.id,
                c.thread_id,
                _dump(c.author),
                c.author.username,
                c.body,
                c.created_at,
                json.dumps(c.mentions),
            ),
        )
        self._set_mentions(con, c.id, c.author.username, c.mentions, new=True)

    @staticmethod
    def _set_mentions(
        con: sqlite3.Connection, comment_id: str, author: str, names: list[str], new: bool = False
    ) -> None:
        wanted = [n for n in names if n != author]  # nobody needs to be told what they wrote
        if new:
            # a new comment has no mentions yet; every statement saved is a GIL hand-off saved
            if wanted:
                con.executemany(
                    "INSERT OR IGNORE INTO mentions (username, comment_id) VALUES (?, ?)",
                    [(n, comment_id) for n in wanted],
                )
            return
        marks = ",".join("?" * len(wanted))
        con.execute(
            f"DELETE FROM mentions WHERE comment_id = ? AND username NOT IN ({marks})",  # noqa: S608
            (comment_id, *wanted),
        )
        con.executemany(
            "INSERT OR IGNORE INTO mentions (username, comment_id) VALUES (?, ?)",
            [(n, comment_id) for n in wanted],
        )

    def create_thread(self, thread: Thread, path: str | None) -> Thread:
        a = thread.anchor
        with self._tx() as con:
            con.execute(
                "INSERT INTO threads (id, file_id, cell_id, output_index, range_start, range_end,"
                " created_at, author, author_username, last_source, last_path)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    thread.id,
                    a.file_id,
                    a.cell_id,
                    a.output_index,
                    None if a.text_range is None else a.text_range[0],
                    None if a.text_range is None else a.text_range[1],
                    thread.created_at,
                    _dump(thread.author),
                    thread.author.username,
                    thread.last_source,
                    path,
                ),
            )
            for c in thread.comments:
                self._insert_comment(con, c)
        # what was written, as written: reading it back would only cost time
        return thread

    def add_comment(self, comment: Comment) -> Thread | None:
        with self._tx() as con:
            found = con.execute("SELECT 1 FROM threads WHERE id = ?", (comment.thread_id,))
            if not found.fetchone():
                return None
            self._insert_comment(con, comment)
        return self.get_thread(comment.thread_id)

    def edit_comment(
        self, thread_id: str, comment_id: str, body: str, mentions: list[str], at: str
    ) -> Thread | None:
        with self._tx() as con:
            row = con.execute(
                "SELECT author_username FROM comments WHERE id = ? AND thread_id = ?",
                (comment_id, thread_id),
            ).fetchone()
            if row is None:
                return None
            con.execute(
                "UPDATE comments SET body = ?, mentions = ?, edited_at = ? WHERE id = ?",
                (body, json.dumps(mentions), at, comment_id),
            )
            self._set_mentions(con, comment_id, row["author_username"], mentions)
        return self.get_thread(thread_id)

    def delete_comment(self, thread_id: str, comment_id: str) -> bool:
        with self._tx() as con:
            cur = con.execute(
                "DELETE FROM comments WHERE id = ? AND thread_id = ?", (comment_id, thread_id)
            )
            return cur.rowcount > 0

    def delete_thread(self, thread_id: str) -> bool:
        with self._tx() as con:
            return con.execute("DELETE FROM threads WHERE id = ?", (thread_id,)).rowcount > 0

    def set_resolved(
        self, thread_id: str, resolved: bool, by: Author | None, at: str | None
    ) -> Thread | None:
        with self._tx() as con:
            cur = con.execute(
                "UPDATE threads SET resolved = ?, resolved_by = ?, resolved_at = ? WHERE id = ?",
                (int(resolved), _dump(by), at, thread_id),
            )
            if cur.rowcount == 0:
                return None
        return self.get_thread(thread_id)

    def apply_anchor_changes(self, changes: list[AnchorChange]) -> None:
        with self._tx() as con:
            con.executemany(
                "UPDATE threads SET outdated = ?, last_source = ?,"
                " range_start = COALESCE(?, range_start), range_end = COALESCE(?, range_end)"
                " WHERE id = ?",
                [
                    (
                        int(c.outdated),
                        c.last_source,
                        c.text_range[0] if c.text_range else None,
                        c.text_range[1] if c.text_range else None,
                        c.thread_id,
                    )
                    for c in changes
                ],
            )

    def set_last_path(self, file_id: str, path: str) -> None:
        with self._tx() as con:
            con.execute(
                "UPDATE threads SET last_path = ? WHERE file_id = ? AND"
                " (last_path IS NULL OR last_path != ?)",
                (path, file_id, path),
            )

    def mark_read(self, username: str, comment_ids: list[str] | None, at: str) -> int:
        with self._tx() as con:
            if comment_ids is None:
                con.execute(
                    "UPDATE mentions SET read_at = ? WHERE username = ? AND read_at IS NULL",
                    (at, username),
                )
            else:
                con.executemany(
                    "UPDATE mentions SET read_at = ? WHERE username = ? AND comment_id = ?"
                    " AND read_at IS NULL",
                    [(at, username, cid) for cid in comment_ids],
                )
        return self.unread_count(username)


def _run_one(db: CommentDB, method: Callable[..., Any], args: tuple) -> tuple[bool, Any]:
    try:
        return True, method(db, *args)
    except Exception as e:
        return False, e


class CommentStore:
    """:class:`CommentDB` behind a single-thread executor, for use from the event loop.

    ``await store.call(CommentDB.method, *args)`` runs one method on the store's thread; its
    writes are committed (and synced) when the await returns. Calls that queue up while the
    thread is busy are run together, in one transaction (see the module's docstring).
    """

    def __init__(self, path: str):
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mutirao-comments")
        self._db: CommentDB | None = None
        self._pending: queue.SimpleQueue[tuple[Callable[..., Any], tuple, Future]] = (
            queue.SimpleQueue()
        )
        self._opened = self._executor.submit(self._open)

    def _open(self) -> None:
        self._db = CommentDB(self.path)

    def wait_open(self) -> None:
        """Block until the database is open and migrated; raise what opening it raised."""
        self._opened.result()

    async def call(self, method: Callable[..., T], *args: Any) -> T:
        await asyncio.wrap_future(self._opened)
        done: Future[T] = Future()
        self._pending.put((method, args, done))
        # one drain per call: a drain that finds the queue empty (an earlier one took this call
        # into its group) does nothing
        self._executor.submit(self._drain)
        return await asyncio.wrap_future(done)

    def _drain(self) -> None:
        """On the store's thread: run every queued call, as one group commit."""
        group: list[tuple[Callable[..., Any], tuple, Future]] = []
        while len(group) < MAX_GROUP:
            try:
                call = self._pending.get_nowait()
            except queue.Empty:
                break
            if call[2].set_running_or_notify_cancel():  # not cancelled by its caller
                group.append(call)
        if not group:
            return
        db = self._db
        assert db is not None
        try:
            if len(group) == 1:
                method, args, _ = group[0]
                outcomes = [_run_one(db, method, args)]
            else:
                outcomes = db.run_group([(method, args) for method, args, _ in group])
        except BaseException as e:  # nothing of the group is known to be committed
            for _, _, done in group:
                done.set_exception(e)
            raise
        # only now, with everything committed, does any caller hear back
        for (_, _, done), (ok, value) in zip(group, outcomes, strict=True):
            if ok:
                done.set_result(value)
            else:
                done.set_exception(value)

    def close(self) -> None:
        def close():
            if self._db is not None:
                self._db.close()

        self._executor.submit(close)
        self._executor.shutdown(wait=True)
