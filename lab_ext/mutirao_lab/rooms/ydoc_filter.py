"""Read-only collaboration for those who may not write: drop their document updates.

jupyter-collaboration serves each document on a websocket
(``api/collaboration/room/<format>:<type>:<file id>``) and applies every Y sync message a
client sends to the shared document. A viewer (or commenter) can open that websocket, since
it only needs to read, and a modified client could then write through it. This module
swaps jupyter-collaboration's websocket handler for a subclass that asks the server's
Authorizer once, when the connection opens, whether the user may ``write`` on ``contents``;
if not, the connection's document updates (Y sync step 2 and update messages) and its
``save`` requests are dropped before they reach the room. Everything else flows: the
client's sync step 1 (so it receives the document and everyone's edits) and awareness (so
its cursor and presence are seen).

The connections that may write also say who wrote: each document update they send is
recorded (by user, per file id) for the next snapshot's ``Edited-by``
(:mod:`mutirao_lab.versioning.writers`).

The decision is made when the websocket opens. A role changed on the hub reaches an open
connection at the server's next reading of the room's shares (:mod:`.sessions`): a connection
that may no longer write, or no longer read, is closed with a message JupyterLab shows
("Session expired"), and the lab reconnects with the new role once the tab is reloaded.

Awareness (presence, cursors) is rewritten on the way in (:mod:`.awareness`): each client id
belongs to the connection that announced it first, and the person a state shows is the
connection's authenticated hub identity, whatever the client wrote.
"""

from __future__ import annotations

import json
import logging
import weakref
from typing import Any

from jupyter_core.utils import ensure_async

from ..versioning import writers
from . import awareness

#: The Y protocol's message types (y-protocols ``sync`` and ``awareness``; pycrdt's
#: ``YMessageType`` / ``YSyncMessageType``), and jupyter-collaboration's RAW messages.
SYNC, AWARENESS, RAW = 0, 1, 2
SYNC_STEP1, SYNC_STEP2, SYNC_UPDATE = 0, 1, 2

log = logging.getLogger(__name__)


def is_document_write(message: bytes | str) -> bool:
    """Would this websocket message change the shared document?

    A SYNC message other than step 1 (a state vector, which asks for what the client
    misses) carries an update. Malformed SYNC messages count as writes, so they are dropped
    too. Text messages are not Y messages.
    """
    if not isinstance(message, (bytes, bytearray, memoryview)) or len(message) == 0:
        return False
    if message[0] != SYNC:
        return False
    return len(message) < 2 or message[1] != SYNC_STEP1


def is_save_request(message: bytes | str) -> bool:
    """jupyter-collaboration's RAW ``save`` message (write the document to disk)."""
    if not isinstance(message, (bytes, bytearray, memoryview)) or len(message) < 2:
        return False
    return message[0] == RAW and bytes(message[2:6]) == b"save"


#: Close reasons for a connection whose access changed, as jupyter-collaboration's own
#: (a JSON ``reason`` the lab's document provider shows in its "Session expired" dialog; a
#: websocket close reason holds at most 123 bytes).
DEMOTED = json.dumps(
    {
        "reason": "role_changed",
        "reloadable": True,
        "errorReason": "Your role in this room changed. Reload to go on.",
    },
    separators=(",", ":"),
)
REVOKED = json.dumps(
    {
        "reason": "access_revoked",
        "reloadable": False,
        "errorReason": "You no longer have access to this room.",
    },
    separators=(",", ":"),
)

#: Per room (a document, or the lab's global awareness): which connection speaks for which
#: awareness client id.
_claims: weakref.WeakKeyDictionary[Any, dict[int, Any]] = weakref.WeakKeyDictionary()


def _hub_prefix(handler: Any) -> str:
    hub_auth = getattr(getattr(handler, "identity_provider", None), "hub_auth", None)
    return str(getattr(hub_auth, "hub_prefix", "") or "/hub/")


def _make_handler_class() -> type | None:
    try:
        from jupyter_server_ydoc.handlers import YDocWebSocketHandler
        from pycrdt import Decoder
    except ImportError:
        return None

    class ReadOnlyAwareYDocWebSocketHandler(YDocWebSocketHandler):
        """jupyter-collaboration's websocket, dropping document writes from those the
        Authorizer does not let ``write`` on ``contents``, and speaking for each person in
        awareness with their hub identity."""

        # closed until open() has asked the Authorizer
        _may_write = False
        _identity: dict[str, Any] | None = None

        async def open(self, room_id: str) -> None:
            # tornado calls on_message only once a coroutine open() has returned
            self._may_write = bool(
                await ensure_async(
                    self.authorizer.is_authorized(self, self.current_user, "write", "contents")
                )
            )
            model = self.identity_provider.identity_model(self.current_user)
            self._identity = awareness.identity(model, _hub_prefix(self))
            await super().open(room_id)

        def _may_speak_for(self, client_id: int) -> bool:
            room = getattr(self, "room", None)
            if room is None:
                return False
            server_awareness = getattr(room, "awareness", None)
            if client_id == getattr(server_awareness, "client_id", None):
                return False  # the server's own presence
            claims = _claims.setdefault(room, {})
            ref = claims.get(client_id)
            owner = ref() if ref is not None else None
            if owner is None or owner._gone:
                claims[client_id] = weakref.ref(self)
                return True
            return owner is self

        _gone = False

        def on_close(self) -> None:
            self._gone = True
            room = getattr(self, "room", None)
            claims = _claims.get(room) if room is not None else None
            if claims:
                for client_id in [c for c, ref in claims.items() if ref() is self]:
                    del claims[client_id]
            super().on_close()

        async def mutirao_role_raised(self, authorizer: Any) -> bool:
            """Called by :meth:`.sessions.OpenSockets.recheck` for a socket that lost
            nothing: a read-only connection whose person may now write is closed with the
            lab's "role changed" message, so the lab reloads into the new role (its
            read-only mode and this filter are decided when they open). True when closed."""
            if self._may_write or self._gone:
                return False
            allowed = await ensure_async(
                authorizer.is_authorized(self, self.current_user, "write", "contents")
            )
            if not allowed:
                return False
            self.close(1003, DEMOTED)
            return True

        def mutirao_access_lost(self, lost: set, kept: set) -> None:
            """Called by :class:`.sessions.OpenSockets` when the user's role changed."""
            self._may_write = False
            self.close(1003, DEMOTED if kept else REVOKED)

        async def on_message(self, message: Any) -> None:
            if (
                isinstance(message, (bytes, bytearray, memoryview))
                and len(message) > 0
                and message[0] == awareness.AWARENESS
            ):
                identity = self._identity
                if identity is None:
                    return
                rewritten = awareness.rewrite(bytes(message), identity, self._may_speak_for)
                if rewritten is None:
                    self.log.debug(
                        "Dropped an awareness update from %s in %s",
                        self.current_user.username,
                        self._room_id,
                    )
                    return
                message = rewritten
            if not self._may_write:
                if is_document_write(message):
                    self.log.debug(
                        "Dropped a document update from %s (read-only) in %s",
                        self.current_user.username,
                        self._room_id,
                    )
                    return
                if is_save_request(message):
                    # answered like a save already under way, which clients take calmly
                    self.log.debug(
                        "Refused a save from %s (read-only) in %s",
                        self.current_user.username,
                        self._room_id,
                    )
                    decoder = Decoder(bytes(message))
                    decoder.read_var_uint()
                    decoder.read_var_string()
                    reply = {"type": "save", "responseTo": decoder.read_var_uint()}
                    await self.send(self._encode_json_message({**reply, "status": "skipped"}))
                    return
            elif is_document_write(message):
                # who edited, for the next snapshot's Edited-by (see versioning.writers)
                writers.wrote(self.settings, self._room_id, self.current_user, message)
            await super().on_message(message)

    return ReadOnlyAwareYDocWebSocketHandler


#: The filtering handler class, or ``None`` without jupyter-collaboration.
FilteringHandler = _make_handler_class()


def _swap(router: Any, base: type, new: type) -> int:
    swapped = 0
    for rule in getattr(router, "rules", ()):
        target = rule.target
        if isinstance(target, type):
            if issubclass(target, base) and not issubclass(target, new):
                if target is not base:
                    # someone else's subclass: replacing it would lose their changes
                    log.warning("Mutirão: %s is not %s; not replacing it", target, base)
                    continue
                rule.target = new
                swapped += 1
        else:
            swapped += _swap(target, base, new)
    return swapped


def install(web_app: Any) -> bool:
    """Route jupyter-collaboration's document websocket to the filtering handler.

    Returns whether a route was found (``False`` without jupyter-collaboration, or when its
    handlers are not registered yet). Installing twice is harmless.
    """
    if FilteringHandler is None:
        return False
    base = FilteringHandler.__mro__[1]
    swapped = _swap(web_app.default_router, base, FilteringHandler)
    swapped += _swap(web_app.wildcard_router, base, FilteringHandler)
    if swapped:
        return True
    return _installed(web_app)


def _installed(web_app: Any) -> bool:
    def walk(router: Any) -> bool:
        for rule in getattr(router, "rules", ()):
            target = rule.target
            if isinstance(target, type):
                if FilteringHandler is not None and issubclass(target, FilteringHandler):
                    return True
            elif walk(target):
                return True
        return False

    return walk(web_app.default_router) or walk(web_app.wildcard_router)
