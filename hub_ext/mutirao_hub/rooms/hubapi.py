"""The few calls of JupyterHub's REST API that the rooms service makes, with its own token."""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

PAGINATED = "application/jupyterhub-pagination+json"


class HubAPIError(Exception):
    """The hub answered with an error; ``status`` and ``message`` are the hub's."""

    def __init__(self, status: int, message: str):
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


def _q(name: str) -> str:
    return quote(name, safe="")


class HubAPI:
    """A thin async client of ``/hub/api`` (``api_url``) using the service's token."""

    def __init__(self, api_url: str, token: str):
        self.api_url = api_url.rstrip("/") + "/"
        self.token = token
        self.client = AsyncHTTPClient()

    async def request(self, method: str, path: str, body=None, *, params=None, headers=None):
        url = self.api_url + path
        if params:
            url += "?" + urlencode(params)
        req = HTTPRequest(
            url,
            method=method,
            headers={"Authorization": f"token {self.token}", **(headers or {})},
            body=None if body is None else json.dumps(body),
            allow_nonstandard_methods=True,
            request_timeout=60,
        )
        try:
            resp = await self.client.fetch(req)
        except HTTPClientError as e:
            message = ""
            if e.response is not None and e.response.body:
                try:
                    message = json.loads(e.response.body).get("message", "")
                except (ValueError, AttributeError):
                    message = e.response.body.decode("utf8", "replace")[:500]
            raise HubAPIError(e.code, message or str(e)) from None
        if resp.code == 204 or not resp.body:
            return None
        return json.loads(resp.body)

    async def _all_pages(self, path: str, params: dict | None = None) -> list[dict]:
        items: list[dict] = []
        offset = 0
        while True:
            page = await self.request(
                "GET",
                path,
                params={**(params or {}), "offset": offset},
                headers={"Accept": PAGINATED},
            )
            if isinstance(page, list):  # an older hub ignores the pagination header
                return page
            items.extend(page["items"])
            nxt = (page.get("_pagination") or {}).get("next")
            if not nxt:
                return items
            offset = nxt["offset"]

    # users -------------------------------------------------------------------------------
    async def get_user(self, name: str) -> dict | None:
        try:
            return await self.request("GET", f"users/{_q(name)}")
        except HubAPIError as e:
            if e.status == 404:
                return None
            raise

    async def list_users(self) -> list[dict]:
        return await self._all_pages("users")

    async def active_servers(self) -> dict[str, dict]:
        """``{user: model of their default server}`` for users with a server running or
        starting (one listing, instead of one request per room)."""
        users = await self._all_pages("users", {"state": "active"})
        return {
            u["name"]: (u.get("servers") or {})[""] for u in users if "" in (u.get("servers") or {})
        }

    async def create_user(self, name: str) -> dict:
        return await self.request("POST", f"users/{_q(name)}", {})

    async def delete_user(self, name: str) -> None:
        await self.request("DELETE", f"users/{_q(name)}")

    async def start_server(self, name: str, options: dict | None = None) -> int:
        try:
            await self.request("POST", f"users/{_q(name)}/server", options or {})
        except HubAPIError as e:
            if e.status == 400 and "already running" in e.message:
                return 200
            raise
        return 202

    async def stop_server(self, name: str) -> None:
        await self.request("DELETE", f"users/{_q(name)}/server")

    # groups ------------------------------------------------------------------------------
    async def get_group(self, name: str) -> dict | None:
        try:
            return await self.request("GET", f"groups/{_q(name)}")
        except HubAPIError as e:
            if e.status == 404:
                return None
            raise

    async def list_groups(self) -> list[dict]:
        return await self._all_pages("groups")

    async def ensure_group(self, name: str) -> None:
        if await self.get_group(name) is None:
            await self.request("POST", f"groups/{_q(name)}", {})

    # shares ------------------------------------------------------------------------------
    async def server_shares(self, owner: str) -> list[dict]:
        return await self._all_pages(f"shares/{_q(owner)}/")

    async def shared_with_user(self, name: str) -> list[dict]:
        return await self._all_pages(f"users/{_q(name)}/shared")

    async def grant(self, owner: str, scopes: list[str], *, user=None, group=None) -> dict:
        body: dict = {"scopes": scopes}
        body["user" if user else "group"] = user or group
        return await self.request("POST", f"shares/{_q(owner)}/", body)

    async def revoke(self, owner: str, scopes=None, *, user=None, group=None) -> None:
        body: dict = {"user": user} if user else {"group": group}
        if scopes is not None:
            body["scopes"] = scopes
        await self.request("PATCH", f"shares/{_q(owner)}/", body)

    async def revoke_all(self, owner: str) -> None:
        await self.request("DELETE", f"shares/{_q(owner)}/")

    async def share_codes(self, owner: str) -> list[dict]:
        return await self._all_pages(f"share-codes/{_q(owner)}/")

    async def new_share_code(self, owner: str, scopes: list[str], expires_in: int) -> dict:
        return await self.request(
            "POST", f"share-codes/{_q(owner)}/", {"scopes": scopes, "expires_in": expires_in}
        )

    async def delete_share_codes(self, owner: str, code_id: str | None = None) -> None:
        params = {"id": code_id} if code_id else None
        await self.request("DELETE", f"share-codes/{_q(owner)}/", params=params)
