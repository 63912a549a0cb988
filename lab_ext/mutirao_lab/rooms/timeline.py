"""Bounded memory for jupyter-collaboration's document timeline.

``GET api/collaboration/timeline/<path>?format=&type=`` replays the document's whole stored
history into a new document (a "fork") and keeps it, with a room on the collaboration
websocket server, so that the client can step through it (``api/collaboration/undo_redo``).
Nothing ever releases them: each call kept a copy of the history (100 calls on a
5,000-cell notebook took a room server from 240 MB to 2.2 GB).

:class:`BoundedTimelineHandler` takes the route's place (:func:`install`) and

- answers a timeline asked again for a document that has not changed since (same Y state
  vector) with the fork already made, instead of replaying the history again;
- keeps at most ``MutiraoApp.max_timeline_forks`` forks on the server, the least recently
  asked for going first (its fork document and its room are released, and collected at
  once: a client still stepping through it gets jupyter-collaboration's "Fork document not
  found");
- answers a missing ``format``/``type`` or an unknown file with 400/404, not a 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
from collections import OrderedDict
from typing import Any, ClassVar

from jupyter_server.auth.decorator import authorized
from tornado import web

log = logging.getLogger(__name__)

#: rooms being stopped (a reference, so that their tasks are not collected half way)
_stopping: set[asyncio.Future] = set()
#: Forks kept when the extension does not say.
DEFAULT_MAX_FORKS = 2


def _make_handler_class() -> type | None:
    try:
        from jupyter_server_ydoc import handlers as ydoc_handlers
        from jupyter_server_ydoc.handlers import TimelineHandler
        from jupyter_server_ydoc.utils import encode_file_path, room_id_from_encoded_path
    except ImportError:  # no jupyter-collaboration: no timeline
        return None

    class BoundedTimelineHandler(TimelineHandler):
        """jupyter-collaboration's timeline, with its forks reused and bounded."""

        #: (room id, state vector) → (fork id, the answer given), least recently used first
        forks: ClassVar[OrderedDict[tuple[str, bytes], tuple[str, dict[str, Any]]]] = OrderedDict()

        def _max_forks(self) -> int:
            app = self.settings.get("mutirao_lab")
            return max(1, int(getattr(app, "max_timeline_forks", DEFAULT_MAX_FORKS)))

        @web.authenticated
        @authorized
        async def get(self, path: str) -> None:
            fmt = self.get_query_argument("format", None)
            kind = self.get_query_argument("type", None)
            if not fmt or not kind:
                raise web.HTTPError(400, "`format` and `type` are required")
            file_id = self.settings["file_id_manager"].get_id(path)
            if file_id is None:
                raise web.HTTPError(404, f"No such file: {path}")
            room_id = room_id_from_encoded_path(encode_file_path(fmt, kind, file_id))
            room = self.ywebsocket_server.rooms.get(room_id)
            key = None
            if room is not None:
                key = (room_id, room.ydoc.get_state())
                known = self.forks.get(key)
                if known is not None and self._alive(known[0]):
                    self.forks.move_to_end(key)
                    self.set_header("Content-Type", "application/json")
                    self.finish(json.dumps(known[1]))
                    return
            self._key = key
            await super().get(path)

        def finish(self, chunk: Any = None) -> Any:
            key = getattr(self, "_key", None)
            if key is not None and isinstance(chunk, str) and self.get_status() == 200:
                self._key = None
                answer = json.loads(chunk)
                self.forks[key] = (answer["forkRoom"], answer)
                self._evict()
            return super().finish(chunk)

        def _alive(self, fork_id: str) -> bool:
            return (
                fork_id in ydoc_handlers.FORK_DOCUMENTS and fork_id in self.ywebsocket_server.rooms
            )

        def _evict(self) -> None:
            released = False
            while len(self.forks) > self._max_forks():
                _, (fork_id, _answer) = self.forks.popitem(last=False)
                release(self.ywebsocket_server, fork_id)
                released = True
            if released:
                # a fork's document and undo manager hold each other: without a collection
                # their memory waits for the collector's next full pass (measured in R5).
                # Rare next to what making a fork costs (replaying the whole history).
                gc.collect()

    return BoundedTimelineHandler


def release(server: Any, fork_id: str) -> None:
    """Drop a timeline fork: its document and its room (stopped if a client started it)."""
    from jupyter_server_ydoc import handlers as ydoc_handlers

    ydoc_handlers.FORK_DOCUMENTS.pop(fork_id, None)
    room = server.rooms.pop(fork_id, None)
    if room is not None and getattr(room, "_task_group", None) is not None:

        async def stop() -> None:
            with contextlib.suppress(RuntimeError):  # not running after all
                await room.stop()

        task = asyncio.ensure_future(stop())
        _stopping.add(task)
        task.add_done_callback(_stopping.discard)


#: The bounded handler class, or ``None`` without jupyter-collaboration.
BoundedTimelineHandler = _make_handler_class()


def install(web_app: Any) -> bool:
    """Route jupyter-collaboration's timeline to :class:`BoundedTimelineHandler`; whether a
    route was found. Installing twice is harmless."""
    if BoundedTimelineHandler is None:
        return False
    base = BoundedTimelineHandler.__mro__[1]
    found = False

    def walk(router: Any) -> None:
        nonlocal found
        for rule in getattr(router, "rules", ()):
            target = rule.target
            if isinstance(target, type):
                if target is base:
                    rule.target = BoundedTimelineHandler
                    found = True
                elif issubclass(target, BoundedTimelineHandler):
                    found = True
            else:
                walk(target)

    walk(web_app.default_router)
    walk(web_app.wildcard_router)
    return found
