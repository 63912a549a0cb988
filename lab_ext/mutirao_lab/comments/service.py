"""The comments service: what the handlers share. It finds files (by jupyter-server-fileid's
file id or by path) and their current cells, keeps threads' anchors up to date, and pushes
changes to the websocket clients of each file (an in-process publish/subscribe).
"""

from __future__ import annotations

import datetime
import inspect
import uuid
from collections.abc import Callable
from typing import Any

from jupyter_core.utils import ensure_async
from tornado import web

from .model import CommentError, Thread, reconcile
from .store import CommentDB, CommentStore

#: jupyter_server's contents events (save, rename, ...), emitted on its event bus
CONTENTS_EVENTS = "https://events.jupyter.org/jupyter_server/contents_service/v1"

Listener = Callable[[dict[str, Any]], None]


def now() -> str:
    """UTC, ISO 8601 with milliseconds and a ``Z``: sorts as text, parses in every browser."""
    stamp = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def new_id() -> str:
    return uuid.uuid4().hex


class CommentsService:
    """Shared by every comments handler of one server; made by ``MutiraoApp``."""

    def __init__(self, store: CommentStore, role_resolver: Any, settings: dict, log: Any):
        self.store = store
        self.roles = role_resolver
        self.settings = settings
        self.log = log
        self._listeners: dict[str, set[Listener]] = {}

    # -- who -----------------------------------------------------------------------------

    async def role(self, user: Any, handler: Any) -> str | None:
        role = self.roles.role(user, handler)
        return await role if inspect.isawaitable(role) else role

    async def members(self, handler: Any) -> list[str]:
        members = self.roles.members(handler)
        return list(await members if inspect.isawaitable(members) else members)

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
        else from disk. Each is a dict with ``id``, ``source`` and (code cells) ``outputs``."""
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
                return list(doc.get()["cells"])
        cm = self.settings["contents_manager"]
        try:
            model = await ensure_async(cm.get(path, content=True, type="notebook"))
        except web.HTTPError as e:
            raise CommentError(404 if e.status_code < 500 else 500, f"cannot read {path}") from e
        return list(model["content"]["cells"])

    async def reconcile(self, file_id: str, path: str, cells: list | None = None) -> None:
        """Mark the file's threads outdated (or current again) from its cells now, and tell the
        file's clients about every thread that changed."""
        states = await self.store.call(CommentDB.anchor_states, file_id)
        if not states:
            return
        await self.store.call(CommentDB.set_last_path, file_id, path)
        changes = reconcile(states, cells if cells is not None else await self.cells(path))
        if not changes:
            return
        await self.store.call(CommentDB.apply_anchor_changes, changes)
        flipped = {s.thread_id for s in states if s.outdated} ^ {
            c.thread_id for c in changes if c.outdated
        }
        for c in changes:
            # a source that follows the cell's edits is not news; a thread going outdated is
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
        if not path.endswith(".ipynb"):
            return
        try:
            file_id = self.file_ids.get_id(path)
            if file_id is not None:
                await self.reconcile(file_id, path)
        except Exception:  # never break a save because of comments
            self.log.exception("Mutirão comments: could not update the threads of %s", path)

    # -- live ------------------------------------------------------------------------------

    def subscribe(self, file_id: str, listener: Listener) -> None:
        self._listeners.setdefault(file_id, set()).add(listener)

    def unsubscribe(self, file_id: str, listener: Listener) -> None:
        listeners = self._listeners.get(file_id, set())
        listeners.discard(listener)
        if not listeners:
            self._listeners.pop(file_id, None)

    def publish(self, kind: str, thread: Thread, **extra: Any) -> None:
        """Send ``{"type": kind, "thread": ...}`` to the file's clients, now (no batching)."""
        message = {"type": kind, "file_id": thread.anchor.file_id, "thread": thread.to_json()}
        message.update(extra)
        for listener in list(self._listeners.get(thread.anchor.file_id, ())):
            try:
                listener(message)
            except Exception:  # one broken client must not keep the others from hearing
                self.log.exception("Mutirão comments: could not push an event")

    def close(self) -> None:
        self._listeners.clear()
        self.store.close()
