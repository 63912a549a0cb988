"""A room server's view of its JupyterHub shares: who holds which room role right now.

A person who opens a room in the browser reaches its server with an OAuth token that JupyterHub
scopes from their *roles* only; the room roles the rooms service grants travel on *shares*
(to a team's group, to a person, or from an accepted share link), so the browser token does not
carry them. The server therefore reads its own shares from the hub
(``GET /hub/api/shares/<room user>/<server name>``, with the server's ``$JUPYTERHUB_API_TOKEN``,
which needs ``read:shares!server``; :func:`mutirao_hub.rooms.config.rooms_service_config`
grants it) and keeps a table ``(user or group, name) -> room role``, refreshed every
``MutiraoApp.share_refresh_interval`` seconds. A team's membership comes from the request's hub
user model (its ``groups``), so a person removed from a team loses the team's role as soon as
the hub's user model for their requests does. When a reading finds any share added, removed,
raised or lowered, the server asks the hub again who its users' tokens are (see
``MutiraoApp._shares_changed``), for REST calls and open websockets alike.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Callable, Iterable
from urllib.parse import quote

from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from . import roles

__all__ = ["HubShares"]

#: Shares fetched per page (the hub's default page size is 200).
PAGE_SIZE = 200


class HubShares:
    """The room roles granted by one server's shares, as last read from the hub."""

    def __init__(
        self,
        api_url: str,
        token: str,
        server_user: str,
        server_name: str = "",
        log: logging.Logger | None = None,
    ) -> None:
        if not api_url.startswith(("http://", "https://")):
            raise ValueError(f"the hub's API URL must be http(s): {api_url!r}")
        self.url = (
            f"{api_url.rstrip('/')}/shares/{quote(server_user, safe='')}/"
            f"{quote(server_name, safe='')}"
        )
        self.token = token
        self.server_user = server_user
        self.server_name = server_name
        self.log = log or logging.getLogger(__name__)
        #: ``("user" | "group", name) -> role``; ``None`` until the first read succeeded
        self.table: dict[tuple[str, str], str] | None = None
        #: called when a reading finds a share added, gone, raised or lowered (see :meth:`_set`)
        self.on_change: Callable[[], None] | None = None

    # -- reading the hub -----------------------------------------------------------------------
    def _page_url(self, offset: int) -> str:
        return f"{self.url}?offset={offset}&limit={PAGE_SIZE}"

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"token {self.token}",
            "Accept": "application/jupyterhub-pagination+json",
        }

    def _next_offset(self, page: dict) -> int | None:
        nxt = (page.get("_pagination") or {}).get("next") or None
        return int(nxt["offset"]) if nxt and "offset" in nxt else None

    def load(self, timeout: float = 10) -> None:
        """Read the shares once, blocking (at start-up, before the first request)."""
        items: list = []
        offset: int | None = 0
        while offset is not None:
            url = self._page_url(offset)  # http(s), checked in __init__
            request = urllib.request.Request(url, headers=self._headers())  # noqa: S310
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                page = json.loads(response.read())
            items += page.get("items", [])
            offset = self._next_offset(page)
        self._set(items)

    async def refresh(self) -> bool:
        """Read the shares again; on failure keep the last table (and say so).

        Returns whether a share was added, removed, raised or lowered since the last reading.
        """
        client = AsyncHTTPClient()
        items: list = []
        offset: int | None = 0
        try:
            while offset is not None:
                response = await client.fetch(
                    HTTPRequest(self._page_url(offset), headers=self._headers(), request_timeout=10)
                )
                page = json.loads(response.body)
                items += page.get("items", [])
                offset = self._next_offset(page)
        except Exception as e:
            self.log.warning("Could not read this room's shares from the hub: %s", e)
            return False
        return self._set(items)

    def _set(self, items: Iterable) -> bool:
        table: dict[tuple[str, str], str] = {}
        for share in items:
            if not isinstance(share, dict):
                continue
            role = roles.role_from_scopes(share.get("scopes") or ())
            for kind in ("user", "group"):
                holder = share.get(kind) or {}
                name = holder.get("name") if isinstance(holder, dict) else None
                if name and role:
                    key = (kind, name)
                    table[key] = roles.highest([table.get(key), role]) or role
        previous, self.table = self.table, table
        changed = previous is not None and previous != table
        if changed and self.on_change is not None:
            self.on_change()
        return changed

    # -- deciding ------------------------------------------------------------------------------
    def role_for(self, username: str, groups: Iterable[str] = ()) -> str | None:
        """The highest room role ``username`` holds through a share to them or to a group of
        theirs; ``None`` when none (or the shares could not be read yet)."""
        table = self.table
        if not table:
            return None
        found = [table.get(("user", username))]
        found += [table.get(("group", g)) for g in groups]
        return roles.highest(found)

    def behind(self, model: object) -> bool:
        """Whether a hub user model (``GET /hub/api/user``, as the server cached it) gives more
        room role through its scopes than the shares as last read give its user: the model is
        older than the shares (a share given and taken back between two readings, say), and
        the hub should be asked again."""
        if self.table is None or not isinstance(model, dict):
            return False
        name = model.get("name")
        if not isinstance(name, str) or (
            model.get("kind", "user") == "user" and name == self.server_user
        ):
            return False
        scoped = roles.role_from_scopes(
            model.get("scopes") or (), self.server_user, self.server_name
        )
        groups = model.get("groups") or ()
        shared = self.role_for(name, groups if isinstance(groups, list) else ())
        return roles.role_rank(scoped) > roles.role_rank(shared)
