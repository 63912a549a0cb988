"""The comments service: what the handlers share. It finds files (by jupyter-server-fileid's
file id or by path) and their current cells, keeps threads' anchors up to date, and pushes
changes to the websocket clients of each file (an in-process publish/subscribe).
"""

from __future__ import annotations

import asyncio
import datetime
import inspect
import json
import os
import struct
import time
import uuid
from collections.abc import Callable, Hashable
from typing import Any

from jupyter_core.utils import ensure_async
from tornado import web

from ..notify import Notifier, comment_recipients
from .model import Comment, CommentError, Thread, reconcile
from .store import CommentDB, CommentStore

#: jupyter_server's contents events (save, rename, ...), emitted on its event bus
CONTENTS_EVENTS = "https://events.jupyter.org/jupyter_server/contents_service/v1"

#: A websocket client of a file: called with each event as a whole websocket text frame,
#: built once for every client (see :func:`text_frame`)
Listener = Callable[[bytes], None]

#: People whose identity (display name, picture) the service keeps for the @-autocomplete
PEOPLE_KEPT = 1000

#: Notebooks whose cells :meth:`CommentsService.cells` keeps, the most recently read ones
CELLS_CACHE_SIZE = 32

#: A file changed less than this long before it was looked at may change again without its
#: size or times changing (timestamps are as coarse as the file system's clock tick): its cells
#: are not kept ("racy" in git's words).
RACY_NS = 1_000_000_000


def now() -> str:
    """UTC, ISO 8601 with milliseconds and a ``Z``: sorts as text, parses in every browser."""
    stamp = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def new_id() -> str:
    return uuid.uuid4().hex


def text_frame(payload: bytes) -> bytes:
    """One unfragmented, unmasked, uncompressed websocket text frame (RFC 6455, 5.2), as a
    server sends it. The same bytes can go to every client: a server never masks its frames,
    and the events socket does not negotiate compression."""
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", 0x81, n)
    elif n <= 0xFFFF:
        header = struct.pack("!BBH", 0x81, 126, n)
    else:
        header = struct.pack("!BBQ", 0x81, 127, n)
    return header + payload


class CommentsService:
    """Shared by every comments handler of one server; made by ``MutiraoApp``."""

    def __init__(self, store: CommentStore, role_resolver: Any, settings: dict, log: Any):
        self.store = store
        self.roles = role_resolver
        self.settings = settings
        self.log = log
        self._listeners: dict[str, set[Listener]] = {}
        # ("disk" | "live", path) -> (version, cells): see cells()
        self._cells: dict[tuple[str, str], tuple[Hashable, list[dict[str, Any]]]] = {}
        # path -> (version, the read of it in progress): see cells()
        self._reads: dict[str, tuple[Hashable, asyncio.Future[list[dict[str, Any]]]]] = {}
        self._warming: set[asyncio.Task[Any]] = set()
        self._closed = False
        #: posts mentions and replies to people's notification feeds (None: nowhere to post)
        self.notifier: Notifier | None = None
        #: how the people who used the comments API look (their hub identity), newest last
        self._people: dict[str, dict[str, Any]] = {}

    # -- who -----------------------------------------------------------------------------

    async def role(self, user: Any, handler: Any) -> str | None:
        role = self.roles.role(user, handler)
        return await role if inspect.isawaitable(role) else role

    async def members(self, handler: Any) -> list[str]:
        members = self.roles.members(handler)
        return list(await members if inspect.isawaitable(members) else members)

    def saw(self, author: Any) -> None:
        """Remember how a user of the comments API looks, for the @-autocomplete."""
        model = {
            "username": author.username,
            "display_name": author.display_name or author.username,
            "initials": author.initials,
            "color": author.color,
            "avatar_url": author.avatar_url,
        }
        self._people.pop(author.username, None)
        self._people[author.username] = model
        while len(self._people) > PEOPLE_KEPT:
            self._people.pop(next(iter(self._people)))

    def identity(self, username: str) -> dict[str, Any]:
        """How ``username`` looks, as far as the server knows (at least their user name)."""
        return dict(self._people.get(username) or {"username": username})

    def notify(self, thread: Thread, comment: Comment, before: list[str] | None = None) -> None:
        """Tell the people ``comment`` mentions, and (a reply) the others in its thread.

        ``before``: for an edit, whom the comment mentioned already (told once is enough)."""
        if self.notifier is None:
            return
        first = comment.id == (thread.comments[0].id if thread.comments else comment.id)
        participants = (
            []
            if before is not None or first
            else [thread.author.username, *(c.author.username for c in thread.comments)]
        )
        told = comment_recipients(
            comment.author.username, comment.mentions, participants, before or ()
        )
        path = self.file_ids.get_path(thread.anchor.file_id) or ""
        for kind in ("mention", "reply"):
            people = [user for user, k in told.items() if k == kind]
            self.notifier.send(people, kind, comment.author.username, path, comment.body)

    # -- files ---------------------------------------------------------------------------

    @property
    def file_ids(self) -> Any:
        fim = self.settings.get("file_id_manager")
        if fim is None:
            raise CommentError(503, "comments need the jupyter_server_fileid server extension")
        return fim

    async def find_file(self, file_id: Any = None, path: Any = None) -> tuple[str, str]:
        """``(file_id, path)`` of a notebook named by either; 404 when there is no such file.

        A hidden file (the comments database itself, say) is not found either.
        """
        if (file_id is None) == (path is None):
            raise CommentError(400, "give exactly one of `file_id` and `path`")
        cm = self.settings["contents_manager"]
        if file_id is not None:
            if not isinstance(file_id, str) or not file_id:
                raise CommentError(400, "`file_id` must be a string")
            path = self.file_ids.get_path(file_id)
            if path is None:
                raise CommentError(404, f"no file with id {file_id}")
        elif not isinstance(path, str) or not path.strip("/"):
            raise CommentError(400, "`path` must be a string")
        path = path.strip("/")
        if not await ensure_async(cm.file_exists(path)) or (
            not cm.allow_hidden and await ensure_async(cm.is_hidden(path))
        ):
            raise CommentError(404, f"no file {file_id or path}")
        if not path.endswith(".ipynb"):
            raise CommentError(400, "comments are on notebooks (.ipynb)")
        if file_id is None:
            file_id = self.file_ids.index(path)
        return file_id, path

    async def cells(self, path: str) -> list[dict[str, Any]]:
        """The notebook's cells now: from the live collaborative document when one is open,
        else from disk. Each is a dict with ``id``, ``source`` and (code cells) ``outputs``.

        The cells of the last notebooks read are kept with their version (the live document's
        encoded state; the file's inode, size and times), and handed out again while the
        version is the same, rather than parsed again for every post. Calls that come while
        the same version is being read from disk wait for that read instead of starting their
        own (the first read of a notebook, validated by the contents manager, can take a
        second on a busy server; a burst of posts would otherwise each pay it). The dicts are
        shared: callers must not change them.
        """
        ydoc = self.settings.get("jupyter_server_ydoc")
        if ydoc is not None and hasattr(ydoc, "get_document"):
            try:
                doc = await ydoc.get_document(
                    path=path, content_type="notebook", file_format="json", copy=True
                )
            except Exception:  # the live document is a bonus; the file on disk is the truth
                self.log.debug("Mutirão comments: no live document for %s", path, exc_info=True)
                doc = None
            if doc is not None:
                try:
                    # the same encoded state is the same content
                    state: Hashable = doc.ydoc.get_update()
                except Exception:  # not a pycrdt document after all: no caching
                    return list(doc.get()["cells"])
                cached = self._cached_cells(("live", path), state)
                if cached is None:
                    cached = self._keep_cells(("live", path), state, list(doc.get()["cells"]))
                return cached
        cm = self.settings["contents_manager"]
        version = self._file_version(cm, path)
        if version is not None:
            cached = self._cached_cells(("disk", path), version)
            if cached is not None:
                return cached
        reading = self._reads.get(path)
        if reading is not None and reading[0] == version:
            return list(await asyncio.shield(reading[1]))
        done: asyncio.Future[list[dict[str, Any]]] = asyncio.get_running_loop().create_future()
        self._reads[path] = (version, done)
        try:
            cells = await self._read_cells(cm, path)
        except BaseException as e:
            done.set_exception(e)
            done.exception()  # seen, even when nobody else was waiting
            raise
        finally:
            if self._reads.get(path, (None, None))[1] is done:
                del self._reads[path]
        done.set_result(cells)
        if version is not None and time.time_ns() - max(version[3], version[4]) > RACY_NS:
            self._keep_cells(("disk", path), version, cells)
        return list(cells)

    @staticmethod
    async def _read_cells(cm: Any, path: str) -> list[dict[str, Any]]:
        try:
            model = await ensure_async(cm.get(path, content=True, type="notebook"))
        except web.HTTPError as e:
            raise CommentError(404 if e.status_code < 500 else 500, f"cannot read {path}") from e
        return list(model["content"]["cells"])

    @staticmethod
    def _file_version(cm: Any, path: str) -> tuple[int, ...] | None:
        """What changes whenever the notebook's file does: ``(dev, inode, size, mtime, ctime)``;
        None where the contents manager does not keep files on this machine's disk."""
        os_path = getattr(cm, "_get_os_path", None)
        if os_path is None:
            return None
        try:
            st = os.stat(os_path(path))
        except Exception:
            return None
        return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def _cached_cells(self, key: tuple[str, str], version: Hashable) -> list[dict] | None:
        found = self._cells.get(key)
        if found is None or found[0] != version:
            return None
        return list(found[1])

    def _keep_cells(
        self, key: tuple[str, str], version: Hashable, cells: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        self._cells.pop(key, None)
        self._cells[key] = (version, cells)
        while len(self._cells) > CELLS_CACHE_SIZE:
            self._cells.pop(next(iter(self._cells)))
        return list(cells)

    async def reconcile(self, file_id: str, path: str, cells: list | None = None) -> None:
        """Mark the file's threads outdated (or current again) from its cells now, and tell the
        file's clients about every thread that changed."""
        states = await self.store.call(CommentDB.anchor_states, file_id)
        if not states:
            return
        await self.store.call(CommentDB.set_last_path, file_id, path)
        if cells is None:
            cells = await self.cells(path)
        # following text ranges through a large cell's edits takes a while: not on the loop
        changes = await asyncio.get_running_loop().run_in_executor(None, reconcile, states, cells)
        if not changes:
            return
        await self.store.call(CommentDB.apply_anchor_changes, changes)
        flipped = {s.thread_id for s in states if s.outdated} ^ {
            c.thread_id for c in changes if c.outdated
        }
        # a text range that moved with the edit: clients mark the text where it is now
        before = {s.thread_id: s.text_range for s in states}
        flipped |= {c.thread_id for c in changes if c.text_range != before.get(c.thread_id)}
        for c in changes:
            # a source that follows the cell's edits is not news; a thread going outdated, or
            # a text range moving, is
            if c.thread_id in flipped:
                thread = await self.store.call(CommentDB.get_thread, c.thread_id)
                if thread is not None:
                    self.publish("updated", thread)

    async def on_contents_event(self, logger: Any, schema_id: str, data: dict) -> None:
        """Listener on jupyter_server's event bus: a saved notebook may have lost (or regained)
        commented cells; a renamed one keeps its id and gets a new last path."""
        path = data.get("path")
        if data.get("action") not in ("save", "rename") or not isinstance(path, str):
            return
        if not path.endswith(".ipynb") or self._closed:
            return
        try:
            file_id = self.file_ids.get_id(path)
            if file_id is not None:
                await self.reconcile(file_id, path)
        except Exception:  # never break a save because of comments
            if self._closed:  # the server stopped meanwhile; the next read reconciles
                self.log.debug("Mutirão comments: %s saved while stopping", path, exc_info=True)
                return
            self.log.exception("Mutirão comments: could not update the threads of %s", path)

    # -- live ------------------------------------------------------------------------------

    def subscribe(self, file_id: str, listener: Listener, path: str | None = None) -> None:
        """Send the file's events to ``listener``. The first client of a notebook (at
        ``path``) also has its cells read now, in the background: people open a notebook
        before they comment on it, so the first comment does not wait for that read."""
        listeners = self._listeners.setdefault(file_id, set())
        if not listeners and path is not None:
            task = asyncio.ensure_future(self._warm(path))
            self._warming.add(task)
            task.add_done_callback(self._warming.discard)
        listeners.add(listener)

    async def _warm(self, path: str) -> None:
        try:
            await self.cells(path)
        except Exception:  # a post will say what is wrong, if anyone posts
            self.log.debug("Mutirão comments: could not read %s ahead", path, exc_info=True)

    def unsubscribe(self, file_id: str, listener: Listener) -> None:
        listeners = self._listeners.get(file_id, set())
        listeners.discard(listener)
        if not listeners:
            self._listeners.pop(file_id, None)

    def publish(self, kind: str, thread: Thread, **extra: Any) -> None:
        """Send ``{"type": kind, "thread": ...}`` to the file's clients, now (no batching).

        The event is encoded once, as JSON and then as a websocket frame, and the same bytes go
        to every client: with 100 clients, framing each copy (and tornado's task per message)
        cost more than everything else a post does."""
        listeners = self._listeners.get(thread.anchor.file_id)
        if not listeners:
            return
        message = {"type": kind, "file_id": thread.anchor.file_id, "thread": thread.to_json()}
        message.update(extra)
        frame = text_frame(json.dumps(message).encode())
        for listener in list(listeners):
            try:
                listener(frame)
            except Exception:  # one broken client must not keep the others from hearing
                self.log.exception("Mutirão comments: could not push an event")

    def close(self) -> None:
        self._closed = True
        self._listeners.clear()
        self.store.close()
