"""REST and websocket handlers of the comments API, under ``<base_url>mutirao/api/comments/``.

Described in ``openapi.yaml`` beside the package. Each request is authenticated and authorized
by the server (resource ``mutirao``), then checked against the user's room role, from the
configured :class:`~mutirao_lab.comments.roles.RoleResolver`, with :func:`.model.can`.
"""

from __future__ import annotations

import copy
import json
import posixpath
import time
from typing import Any
from urllib.parse import quote

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized, ws_authenticated
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web, websocket
from tornado.iostream import StreamClosedError

from ..handlers import AUTH_RESOURCE, MutiraoHandler
from ..jsonbody import JSONBodyError
from .model import (
    MAX_BODY_BYTES,
    Anchor,
    Author,
    Comment,
    CommentError,
    Thread,
    can,
    cell_source,
    check_anchor_in_cell,
    check_body,
    parse_anchor_options,
    parse_mentions,
)
from .service import CommentsService, new_id, now
from .store import CommentDB

#: A request is JSON around at most one body, which escaping can make up to 6 times longer
#: (a control character becomes \u0000); anything larger is refused before it is parsed.
MAX_REQUEST_BYTES = 6 * MAX_BODY_BYTES + 65536


class CommentsHandler(MutiraoHandler):
    """Base of the comments REST handlers."""

    service: CommentsService

    def initialize(  # type: ignore[override]
        self, service: CommentsService, name: str | None = None
    ) -> None:
        super().initialize(name=name or "mutirao_lab")
        self.service = service
        #: seconds spent in named steps of the request, for its Server-Timing header
        self.timings: dict[str, float] = {}

    def finish(self, chunk: Any = None) -> Any:
        # the server's own time for the request, for the browser's developer tools (and P5)
        if not self._headers_written:
            steps = [f"{k};dur={v * 1000:.1f}" for k, v in self.timings.items()]
            steps.append(f"app;dur={self.request.request_time() * 1000:.1f}")
            self.set_header("Server-Timing", ", ".join(steps))
        return super().finish(chunk)

    def read_json(self) -> dict[str, Any]:
        try:
            return self.json_object(MAX_REQUEST_BYTES)
        except JSONBodyError as e:
            raise CommentError(e.status, e.message) from None

    async def role(self) -> str:
        """The user's room role; 403 for someone who is not a member."""
        role = await self.service.role(self.current_user, self)
        if role is None:
            raise CommentError(403, "you are not a member of this room")
        self.service.saw(self.me())
        return role

    def allow(self, role: str, action: str, is_author: bool = False) -> None:
        if not can(role, action, is_author):
            raise CommentError(403, f"a {role} may not {action} this")

    async def thread(self, thread_id: str) -> Thread:
        thread = await self.service.store.call(CommentDB.get_thread, thread_id)
        if thread is None:
            raise CommentError(404, f"no thread {thread_id}")
        # a thread of a file that is gone (or hidden) is not found either
        if self.service.file_ids.get_path(thread.anchor.file_id) is None:
            raise CommentError(404, f"no thread {thread_id}")
        return thread

    def me(self) -> Author:
        return Author.from_user(self.current_user)

    def file_query(self) -> tuple[str | None, str | None]:
        return self.get_query_argument("file_id", None), self.get_query_argument("path", None)


def _threads_json(db: CommentDB, file_id: str, path: str) -> bytes:
    threads = db.threads_for_file(file_id)
    model = {"file_id": file_id, "path": path, "threads": [t.to_json() for t in threads]}
    return json.dumps(model).encode()


class ThreadsHandler(CommentsHandler):
    """``GET /comments/threads?file_id=|path=``: a notebook's threads.
    ``POST /comments/threads``: start a thread."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.allow(await self.role(), "read")
        file_id, path = await self.service.find_file(*self.file_query())
        await self.service.reconcile(file_id, path)
        # a notebook's threads carry their cells' sources: encoded on the store's thread
        body = await self.service.store.call(_threads_json, file_id, path)
        self.set_header("Content-Type", "application/json")
        self.finish(body)

    @web.authenticated
    @authorized
    async def post(self) -> None:
        # from the request's arrival to here: reading it, signing in, and any wait for the loop
        self.timings["pre"] = self.request.request_time()
        role = await self.role()
        self.allow(role, "write")
        model = self.read_json()
        body = check_body(model.get("body"))
        output_index, text_range = parse_anchor_options(
            model.get("output_index"), model.get("text_range")
        )
        cell_id = model.get("cell_id")
        if not isinstance(cell_id, str) or not cell_id:
            raise CommentError(400, "`cell_id` must be a string")
        file_id, path = await self.service.find_file(model.get("file_id"), model.get("path"))
        cell = next((c for c in await self.service.cells(path) if c.get("id") == cell_id), None)
        if cell is None:
            raise CommentError(404, f"no cell {cell_id} in {path}")
        check_anchor_in_cell(cell, output_index, text_range)
        members = await self.service.members(self)
        author, stamp, thread_id = self.me(), now(), new_id()
        thread = Thread(
            id=thread_id,
            anchor=Anchor(file_id, cell_id, output_index, text_range),
            created_at=stamp,
            author=author,
            last_source=cell_source(cell),
            comments=[
                Comment(
                    new_id(), thread_id, author, body, stamp, None, parse_mentions(body, members)
                )
            ],
        )
        started = time.perf_counter()
        thread = await self.service.store.call(CommentDB.create_thread, thread, path)
        stored = time.perf_counter()
        self.service.publish("created", thread, comment_id=thread.comments[0].id)
        self.service.notify(thread, thread.comments[0])
        self.timings.update(db=stored - started, push=time.perf_counter() - stored)
        self.write_json(thread.to_json(), status=201)


class ThreadHandler(CommentsHandler):
    """``GET /comments/threads/{id}``; ``DELETE`` removes the whole thread."""

    @web.authenticated
    @authorized
    async def get(self, thread_id: str) -> None:
        self.allow(await self.role(), "read")
        self.write_json((await self.thread(thread_id)).to_json())

    @web.authenticated
    @authorized
    async def delete(self, thread_id: str) -> None:
        role = await self.role()
        thread = await self.thread(thread_id)
        # a commenter may take back a thread only while every comment in it is their own
        me = self.current_user.username
        self.allow(role, "delete", all(c.author.username == me for c in thread.comments))
        if await self.service.store.call(CommentDB.delete_thread, thread_id):
            self.service.publish("deleted", thread)
        self.set_status(204)
        self.finish()


class ResolveHandler(CommentsHandler):
    """``POST /comments/threads/{id}/resolve`` and ``/reopen``."""

    @web.authenticated
    @authorized
    async def post(self, thread_id: str, verb: str) -> None:
        role = await self.role()
        thread = await self.thread(thread_id)
        self.allow(role, "resolve", thread.author.username == self.current_user.username)
        resolved = verb == "resolve"
        if resolved == thread.resolved:
            self.write_json(thread.to_json())
            return
        by, at = (self.me(), now()) if resolved else (None, None)
        updated = await self.service.store.call(CommentDB.set_resolved, thread_id, resolved, by, at)
        if updated is None:
            raise CommentError(404, f"no thread {thread_id}")
        self.service.publish("resolved" if resolved else "updated", updated)
        self.write_json(updated.to_json())


class RepliesHandler(CommentsHandler):
    """``POST /comments/threads/{id}/comments``: reply to a thread."""

    @web.authenticated
    @authorized
    async def post(self, thread_id: str) -> None:
        role = await self.role()
        self.allow(role, "write")
        body = check_body(self.read_json().get("body"))
        await self.thread(thread_id)
        members = await self.service.members(self)
        comment = Comment(
            new_id(), thread_id, self.me(), body, now(), None, parse_mentions(body, members)
        )
        thread = await self.service.store.call(CommentDB.add_comment, comment)
        if thread is None:
            raise CommentError(404, f"no thread {thread_id}")
        self.service.publish("created", thread, comment_id=comment.id)
        self.service.notify(thread, comment)
        self.write_json(thread.to_json(), status=201)


class CommentHandler(CommentsHandler):
    """``PATCH /comments/threads/{id}/comments/{id}`` edits a comment's body; ``DELETE`` removes
    it (removing the first comment removes the thread)."""

    async def _comment(self, thread_id: str, comment_id: str) -> tuple[Thread, Comment]:
        thread = await self.thread(thread_id)
        comment = next((c for c in thread.comments if c.id == comment_id), None)
        if comment is None:
            raise CommentError(404, f"no comment {comment_id} in thread {thread_id}")
        return thread, comment

    @web.authenticated
    @authorized
    async def patch(self, thread_id: str, comment_id: str) -> None:
        role = await self.role()
        _, comment = await self._comment(thread_id, comment_id)
        self.allow(role, "edit", comment.author.username == self.current_user.username)
        body = check_body(self.read_json().get("body"))
        mentions = parse_mentions(body, await self.service.members(self))
        updated = await self.service.store.call(
            CommentDB.edit_comment, thread_id, comment_id, body, mentions, now()
        )
        if updated is None:
            raise CommentError(404, f"no comment {comment_id} in thread {thread_id}")
        self.service.publish("updated", updated, comment_id=comment_id)
        edited = next((c for c in updated.comments if c.id == comment_id), None)
        if edited is not None:
            self.service.notify(updated, edited, before=list(comment.mentions))
        self.write_json(updated.to_json())

    @web.authenticated
    @authorized
    async def delete(self, thread_id: str, comment_id: str) -> None:
        role = await self.role()
        thread, comment = await self._comment(thread_id, comment_id)
        me = self.current_user.username
        store = self.service.store
        if comment is thread.comments[0]:
            self.allow(role, "delete", all(c.author.username == me for c in thread.comments))
            if await store.call(CommentDB.delete_thread, thread_id):
                self.service.publish("deleted", thread)
        else:
            self.allow(role, "delete", comment.author.username == me)
            if await store.call(CommentDB.delete_comment, thread_id, comment_id):
                updated = await store.call(CommentDB.get_thread, thread_id)
                if updated is not None:
                    self.service.publish("updated", updated, comment_id=comment_id)
        self.set_status(204)
        self.finish()


class MentionsHandler(CommentsHandler):
    """``GET /comments/mentions[?all=1]``: the user's (unread) mentions."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.allow(await self.role(), "read")
        user = self.current_user.username
        unread_only = self.get_query_argument("all", "0").lower() in ("0", "false", "")
        mentions = await self.service.store.call(CommentDB.mentions_for, user, unread_only)
        unread = await self.service.store.call(CommentDB.unread_count, user)
        self.write_json({"unread": unread, "mentions": mentions})


class MentionsReadHandler(CommentsHandler):
    """``POST /comments/mentions/read`` with ``{"comment_ids": [...]}`` (or ``{}`` for all)."""

    @web.authenticated
    # marking one's own mentions read changes nothing anyone else sees: every member may, so
    # the server judges it as a read of Mutirão's API (viewers may not write there)
    @authorized(action="read")
    async def post(self) -> None:
        self.allow(await self.role(), "read")
        ids = self.read_json().get("comment_ids")
        if ids is not None and (
            not isinstance(ids, list) or not all(isinstance(i, str) for i in ids)
        ):
            raise CommentError(400, "`comment_ids` must be a list of strings")
        unread = await self.service.store.call(
            CommentDB.mark_read, self.current_user.username, ids, now()
        )
        self.write_json({"unread": unread})


class MembersHandler(CommentsHandler):
    """``GET /comments/members``: who can be @mentioned, and the user's own role."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        role = await self.role()
        self.allow(role, "read")
        members = await self.service.members(self)
        self.write_json(
            {
                "me": {"username": self.current_user.username, "role": role},
                "members": members,
                # how each is shown (display name, picture), for those the server has seen
                "people": [self.service.identity(m) for m in members],
            }
        )


class ExportHandler(CommentsHandler):
    """``GET /comments/export?file_id=|path=[&format=notebook]``: download a notebook's threads
    (or the notebook with them in its metadata). ``POST /comments/export`` writes that notebook
    as a new file ``<name>-with-comments.ipynb`` beside the original."""

    async def _export(self) -> tuple[str, dict[str, Any]]:
        file_id, path = await self.service.find_file(*self.file_query_or_body())
        await self.service.reconcile(file_id, path)
        threads = await self.service.store.call(CommentDB.threads_for_file, file_id)
        return path, {
            "format": "mutirao-comments",
            "version": 1,
            "file_id": file_id,
            "path": path,
            "exported_at": now(),
            "threads": [t.to_json() for t in threads],
        }

    def file_query_or_body(self) -> tuple[Any, Any]:
        if self.request.method == "POST":
            model = self.read_json()
            return model.get("file_id"), model.get("path")
        return self.file_query()

    async def _with_comments(self, path: str, export: dict[str, Any]) -> dict[str, Any]:
        cm = self.service.settings["contents_manager"]
        model = await ensure_async(cm.get(path, content=True, type="notebook"))
        notebook = copy.deepcopy(model["content"])
        notebook.setdefault("metadata", {})["mutirao"] = {"comments": export}
        return notebook

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.allow(await self.role(), "read")
        fmt = self.get_query_argument("format", "json")
        if fmt not in ("json", "notebook"):
            raise CommentError(400, "`format` is json or notebook")
        path, export = await self._export()
        stem = posixpath.splitext(posixpath.basename(path))[0]
        if fmt == "json":
            name, model = f"{stem}-comments.json", export
        else:
            name, model = f"{stem}-with-comments.ipynb", await self._with_comments(path, export)
        disposition = "attachment; filename*=UTF-8''" + quote(name, safe="")
        self.set_header("Content-Disposition", disposition)
        self.write_json(model)

    @web.authenticated
    @authorized
    async def post(self) -> None:
        self.allow(await self.role(), "export_copy")
        path, export = await self._export()
        notebook = await self._with_comments(path, export)
        cm = self.service.settings["contents_manager"]
        folder, base = posixpath.split(path)
        stem = posixpath.splitext(base)[0]
        target = posixpath.join(folder, f"{stem}-with-comments.ipynb")
        n = 0
        while await ensure_async(cm.file_exists(target)):  # never overwrite a file
            n += 1
            target = posixpath.join(folder, f"{stem}-with-comments-{n}.ipynb")
        saved = await ensure_async(
            cm.save({"type": "notebook", "format": "json", "content": notebook}, target)
        )
        self.write_json({"path": saved["path"], "threads": len(export["threads"])}, status=201)


class CommentEventsHandler(
    ExtensionHandlerMixin, WebSocketMixin, websocket.WebSocketHandler, JupyterHandler
):
    """``GET /comments/events?file_id=``: a websocket that receives every change to the
    file's threads as ``{"type": "created"|"updated"|"deleted"|"resolved", "thread": ...}``."""

    auth_resource = AUTH_RESOURCE

    def initialize(  # type: ignore[override]
        self, service: CommentsService, name: str | None = None
    ) -> None:
        super().initialize(name=name or "mutirao_lab")
        self.service = service
        self.file_id: str | None = None
        self.path: str | None = None

    async def pre_get(self) -> None:
        role = await self.service.role(self.current_user, self)
        if not can(role, "read"):
            raise web.HTTPError(403, "you are not a member of this room")
        try:
            self.file_id, self.path = await self.service.find_file(
                self.get_query_argument("file_id", None), None
            )
        except CommentError as e:
            raise web.HTTPError(e.status, "no such notebook") from None

    @ws_authenticated
    @authorized
    async def get(self, *args: Any, **kwargs: Any) -> None:
        await self.pre_get()
        res = super().get(*args, **kwargs)
        if res is not None:
            await res

    def open(self, *args: Any, **kwargs: Any) -> None:
        super().open(*args, **kwargs)
        assert self.file_id is not None
        self.service.subscribe(self.file_id, self.send, self.path)

    def get_compression_options(self) -> None:
        # never compressed: send() writes frames that every client shares, as they are
        return None

    def send(self, frame: bytes) -> None:
        """Push one event, a text frame already built (:meth:`CommentsService.publish` builds
        it once for every client). The write is buffered by the stream, never awaited: no
        client waits on another.
        """
        conn = self.ws_connection
        stream = getattr(conn, "stream", None)
        if conn is None or stream is None or conn.is_closing():
            self.on_close()
            return
        try:
            stream.write(frame)
        except StreamClosedError:
            self.on_close()

    def on_message(self, message: str | bytes) -> None:
        # the socket only pushes; writes go through the REST API, where they are durable
        pass

    def on_close(self) -> None:
        if self.file_id is not None:
            self.service.unsubscribe(self.file_id, self.send)
        if self.ping_callback is not None:
            self.ping_callback.stop()
