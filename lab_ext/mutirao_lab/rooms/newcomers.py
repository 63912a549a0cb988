"""A room's server re-reads its shares when someone it does not know yet arrives.

The server reads its shares from the hub every ``MutiraoApp.share_refresh_interval`` seconds
(:mod:`.shares`). Someone who has just accepted a share link, or been invited, would otherwise
reach the room before the next reading and get a 403 for every request of the page until a
reload. So when a signed-in hub user with no room role makes a request, the shares are read
again before the request is judged: once at a time (the page's parallel requests wait for the
same reading), and at most every :data:`MIN_INTERVAL` seconds, so a non-member cannot make the
server ask the hub at the rate of their requests.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .authorizer import RoomAuthorizer

#: Fewest seconds between two readings caused by requests.
MIN_INTERVAL = 2.0


class NewcomerRefresh:
    """Read the shares again, before judging it, for a request of someone without a role."""

    def __init__(
        self,
        read: Callable[[], Awaitable[object]],
        authorizer: RoomAuthorizer,
        min_interval: float = MIN_INTERVAL,
    ) -> None:
        #: reads the shares and applies a change (the server extension's periodic reading)
        self.read = read
        self.authorizer = authorizer
        self.min_interval = min_interval
        self._last = float("-inf")
        self._reading: asyncio.Future | None = None

    async def __call__(self, user: Any) -> None:
        if user is None or getattr(user, "hub_user", None) is None:
            return
        if self.authorizer.role(user) is not None:
            return
        if self._reading is None:
            now = time.monotonic()
            if now - self._last < self.min_interval:
                return
            self._last = now
            self._reading = asyncio.ensure_future(self.read())
            self._reading.add_done_callback(self._done)
        await asyncio.shield(self._reading)

    def _done(self, _future: asyncio.Future) -> None:
        self._reading = None


def install(identity_provider: Any, refresh: NewcomerRefresh) -> None:
    """Run ``refresh`` after the identity provider has found a request's user.

    jupyter-server asks the identity provider for the user in every handler's ``prepare``,
    before any authorization; the Authorizer then judges with the shares just read.
    """
    find_user = identity_provider.get_user

    async def get_user(handler: Any) -> Any:
        user = find_user(handler)
        if inspect.isawaitable(user):
            user = await user
        await refresh(user)
        return user

    identity_provider.get_user = get_user
