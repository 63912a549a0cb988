"""Role changes reach open websockets: who opened each one, and closing what is no longer allowed.

A websocket is authorized once, when it opens (jupyter-server's kernels, terminals and event
bus, jupyter-collaboration's documents, Mutirão's comment events); a REST call is authorized at
every request. Without more, a member demoted or removed from a room would keep their open
sockets: a kernel to run code in, a document to type into, edits to watch.

:class:`OpenSockets` remembers every websocket the room's Authorizer lets open, with the
identity that opened it and what it was let do (``(action, resource)`` pairs). After each
reading of the room's shares the server extension calls :meth:`OpenSockets.revalidate` when
the shares changed (the hub is asked again who each socket's token is: its scopes and teams)
and :meth:`OpenSockets.recheck` always (each socket's role is decided again): a socket whose
grants no longer hold is closed, or handled by the socket itself when it knows better (the
collaboration websocket, :mod:`.ydoc_filter`, closes with a message the lab shows).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from jupyter_core.utils import ensure_async

#: The websocket close code for a socket whose access ended (RFC 6455: policy violation).
POLICY_CLOSE = 1008
CLOSE_REASON = "Your access to this room changed."
#: How many questions about tokens the server asks the hub at once.
HUB_REQUESTS = 8

log = logging.getLogger(__name__)


@dataclass
class _Socket:
    user: Any
    token: str | None
    session_id: str
    grants: set[tuple[str, str]] = field(default_factory=set)
    #: the hub no longer lets this token in: close the socket as soon as it is open
    refused: bool = False


def is_websocket(handler: Any) -> bool:
    from tornado.websocket import WebSocketHandler

    return isinstance(handler, WebSocketHandler)


def is_open(handler: Any) -> bool:
    connection = getattr(handler, "ws_connection", None)
    return connection is not None and not connection.is_closing()


class OpenSockets:
    """The websockets open on this server, with who opened them and what they may do."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._sockets: weakref.WeakKeyDictionary[Any, _Socket] = weakref.WeakKeyDictionary()
        self.log = logger or log

    def __len__(self) -> int:
        return sum(1 for h in list(self._sockets) if is_open(h))

    def track(self, handler: Any, user: Any, action: str, resource: str) -> None:
        """Remember that ``handler`` (a websocket, open or about to be) was let ``action`` on
        ``resource`` as ``user``."""
        entry = self._sockets.get(handler)
        if entry is None or entry.user is not user:
            hub_auth = getattr(getattr(handler, "identity_provider", None), "hub_auth", None)
            token, session_id = None, ""
            if hub_auth is not None:
                try:
                    token = hub_auth.get_token(handler) or None
                    session_id = hub_auth.get_session_id(handler) or ""
                except Exception:  # no request left to read: it is revalidated by role only
                    token = None
            entry = self._sockets[handler] = _Socket(user, token, session_id)
        entry.grants.add((action, resource))

    def _live(self) -> list[tuple[Any, _Socket]]:
        items = []
        for handler, entry in list(self._sockets.items()):
            connection = getattr(handler, "ws_connection", None)
            if connection is None:
                continue  # not upgraded yet (or refused): looked at again next time
            if connection.is_closing():
                self._sockets.pop(handler, None)
                continue
            items.append((handler, entry))
        return items

    async def revalidate(self, hub_auth: Any, only: Callable[[Any], bool] | None = None) -> bool:
        """Ask the hub again who each socket's token is (scopes and teams change with shares)
        and give the sockets' users the hub's new answer; a token the hub no longer lets in
        here closes its sockets. ``only(hub user model)`` picks the sockets to ask about (all
        by default). Returns ``False`` when the hub could not be asked (try again).
        """
        by_token: dict[tuple[str, str], list[tuple[Any, _Socket]]] = {}
        for handler, entry in list(self._sockets.items()):
            if only is not None and not only(getattr(entry.user, "hub_user", None)):
                continue
            if entry.token is not None:
                by_token.setdefault((entry.token, entry.session_id), []).append((handler, entry))
        if not by_token:
            return True

        # a few questions at a time: a busy room has many sockets, the hub serves everyone
        limit = asyncio.Semaphore(HUB_REQUESTS)

        async def ask(token: str, session_id: str) -> Any:
            async with limit:
                return await hub_auth.user_for_token(token, session_id=session_id, sync=False)

        keys = list(by_token)
        answers = await asyncio.gather(*(ask(*k) for k in keys), return_exceptions=True)
        ok = True
        for key, model in zip(keys, answers, strict=True):
            if isinstance(model, BaseException):
                self.log.warning("Could not ask the hub who a websocket's user is: %s", model)
                ok = False
                continue
            for _handler, entry in by_token[key]:
                username = getattr(entry.user, "username", None)
                allowed = (
                    isinstance(model, dict)
                    and model.get("name") == username
                    and bool(hub_auth.check_scopes(hub_auth.access_scopes, model))
                )
                if allowed:
                    entry.user.hub_user = model
                else:
                    entry.refused = True
        return ok

    async def recheck(self, authorizer: Any) -> int:
        """Decide again what each open socket's user may do; close (or let the socket handle)
        those that lost a grant. Returns how many sockets were acted on."""
        acted = 0
        may_keep = getattr(authorizer, "may_keep_socket", None)
        for handler, entry in self._live():
            if entry.refused or (may_keep is not None and not may_keep(handler, entry.user)):
                self._close(handler, entry, set(entry.grants))
                acted += 1
                continue
            lost = set()
            for action, resource in sorted(entry.grants):
                allowed = await ensure_async(
                    authorizer.is_authorized(handler, entry.user, action, resource)
                )
                if not allowed:
                    lost.add((action, resource))
            if lost:
                self._close(handler, entry, lost)
                acted += 1
                continue
            raised = getattr(handler, "mutirao_role_raised", None)
            if raised is not None and await raised(authorizer):
                # promoted: the socket was opened read-only and says so to reconnect
                self._sockets.pop(handler, None)
                self.log.info(
                    "Closing a read-only websocket of %s: their room role now lets them write",
                    getattr(entry.user, "username", "?"),
                )
                acted += 1
        return acted

    def _close(self, handler: Any, entry: _Socket, lost: set[tuple[str, str]]) -> None:
        self._sockets.pop(handler, None)
        self.log.info(
            "Closing a websocket of %s: their room role no longer allows %s",
            getattr(entry.user, "username", "?"),
            ", ".join(f"{a} on {r}" for a, r in sorted(lost)) or "anything",
        )
        on_lost = getattr(handler, "mutirao_access_lost", None)
        try:
            if on_lost is not None:
                on_lost(lost, entry.grants - lost)
            else:
                handler.close(POLICY_CLOSE, CLOSE_REASON)
        except Exception as e:  # already gone
            self.log.debug("Closing a websocket failed: %s", e)
