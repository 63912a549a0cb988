"""Live co-editing through a real hub: a room and a vanilla peer, and Y clients that edit them.

:func:`start_collab_hub` starts the demo hub (npm proxy, rooms service) with one room,
``room-collab``, shared with the team ``collab-editors`` at ``editor`` and ``collab-viewers`` at
``viewer``, and one plain user, ``collab-vanilla``, whose server runs jupyter-collaboration
without Mutirão's server extension (so without the role filter and its start-up tuning) and is
shared with the same team through JupyterHub's own sharing API. People are made through the
hub's REST API with one token each; both servers see the same people with the same tokens.

:class:`YClient` is what JupyterLab's collaborative notebook does on the wire: ``PUT
api/collaboration/session/<path>``, then the document websocket
``api/collaboration/room/json:notebook:<file id>?sessionId=...`` through the proxy with the
person's token, pycrdt's sync protocol, and the notebook read and edited through jupyter-ydoc's
:class:`~jupyter_ydoc.YNotebook`. When the server goes away it reconnects as the lab does,
keeping its document when the server accepts its session and starting from a fresh one when
the server asks it to reload.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import nbformat
from jupyter_ydoc import YNotebook
from nbformat.v4 import new_code_cell, new_notebook
from pycrdt import (
    Decoder,
    Doc,
    Encoder,
    Text,
    YMessageType,
    create_awareness_message,
    create_sync_message,
    create_update_message,
    handle_sync_message,
    read_message,
)
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.websocket import WebSocketClosedError, websocket_connect

from .harness import HubProcess, wait_for

ROOM = "collab"
ROOM_USER = f"room-{ROOM}"
VANILLA = "collab-vanilla"
EDITORS = "collab-editors"
VIEWERS = "collab-viewers"
ADMIN = "collab-admin"
NOTEBOOK = "shared.ipynb"
RAW = 2  # jupyter-collaboration's RAW messages (save requests and their answers)


def hub_config(state: Path) -> str:
    """Extra hub config: the room (seeded by the rooms service) and the vanilla peer."""
    return f"""
        from mutirao_hub.rooms.config import rooms_service_config
        rooms_service_config(
            c,
            state_dir={str(state / "rooms")!r},
            sync_interval=1,
            seed_rooms=[{{"name": {ROOM!r},
                          "teams": {{{EDITORS!r}: "editor", {VIEWERS!r}: "viewer"}}}}],
        )

        def _vanilla_peer(spawner):
            # the comparison server: jupyter-collaboration as it comes, none of Mutirão
            if spawner.user.name == {VANILLA!r}:
                spawner.args = [*spawner.args,
                                '--ServerApp.jpserver_extensions={{"mutirao_lab": False}}']

        c.Spawner.pre_spawn_hook = _vanilla_peer
        # a hub admin, who shares and revokes through the rooms API as a room's owner does
        c.Authenticator.admin_users.add({ADMIN!r})
        # the tests' service shares the vanilla peer's server, as its owner could
        c.JupyterHub.load_roles = [*c.JupyterHub.load_roles,
                                   {{"name": "collab-sharing", "scopes": ["shares"],
                                     "services": ["mutirao-tests"]}}]
        """


class CollabHub:
    """The hub, the people's tokens, and the room's and the vanilla server's URLs."""

    def __init__(self, hub: HubProcess, state: Path):
        self.hub = hub
        self.state = state
        self.tokens: dict[str, str] = {}
        self.rooms_api = hub.url + "services/mutirao-rooms/api/"

    def home(self, user: str) -> Path:
        return self.state / "hub" / "homes" / user

    def add_people(self, names: list[str], team: str) -> None:
        """Hub users in ``team`` (a hub group), each with an API token."""
        new = [n for n in names if n not in self.tokens]
        if new:
            r = self.hub.api("POST", "users", json={"usernames": new})
            assert r.status_code == 201, r.text
        r = self.hub.api("POST", f"groups/{team}/users", json={"users": names})
        assert r.status_code == 200, r.text
        for name in new:
            self.tokens[name] = self.hub.user_token(name)
        # the rooms service turns the team's share into each member's own (its sync loop)
        wait_for(
            lambda: all(self.may_access(n, ROOM_USER) for n in (names[0], names[-1])),
            60,
            what="the room to be shared with the new members",
        )

    def add_person(self, name: str) -> None:
        """A hub user in no team (their room role is what is shared with them), with a token;
        :data:`ADMIN` is made by the hub at start-up."""
        if name != ADMIN:
            r = self.hub.api("POST", f"users/{name}")
            assert r.status_code == 201, r.text
        self.tokens[name] = self.hub.user_token(name)

    def share(self, who: str, person: str, role: str | None) -> None:
        """``who`` gives ``person`` ``role`` in the room through the rooms API, as the share
        dialog does (``None``: revokes their share)."""
        if role is None:
            r = self.rooms_call(who, "DELETE", f"rooms/{ROOM}/shares/users/{person}")
            assert r.status_code == 204, r.text
        else:
            r = self.rooms_call(
                who, "POST", f"rooms/{ROOM}/shares", json={"user": person, "role": role}
            )
            assert r.status_code == 200, r.text

    def room_status(self, who: str, method: str = "GET", path: str = "api/contents") -> int:
        """The room server's answer to ``who``'s token for one REST call."""
        import requests

        r = requests.request(
            method,
            self.server_url(ROOM_USER) + path,
            headers={"Authorization": f"token {self.tokens[who]}"},
            timeout=60,
        )
        return r.status_code

    def may_access(self, who: str, server_user: str) -> bool:
        import requests

        r = requests.get(
            self.hub.api_url("user"),
            headers={"Authorization": f"token {self.tokens[who]}"},
            timeout=30,
        )
        return f"access:servers!server={server_user}/" in r.json()["scopes"]

    def rooms_call(self, who: str, method: str, path: str, **kwargs: Any) -> Any:
        import requests

        return requests.request(
            method,
            self.rooms_api + path,
            headers={"Authorization": f"token {self.tokens[who]}"},
            timeout=60,
            **kwargs,
        )

    def start_room(self, who: str, timeout: float = 120) -> None:
        """Start the room's server through the rooms API, as a member does, and wait for it."""
        r = self.rooms_call(who, "POST", f"rooms/{ROOM}/server")
        assert r.status_code in (200, 201, 202), r.text
        self.wait_ready(ROOM_USER, timeout)

    def stop_room(self, who: str, timeout: float = 60) -> None:
        r = self.rooms_call(who, "DELETE", f"rooms/{ROOM}/server")
        assert r.status_code == 202, r.text

        def stopped():
            model = self.hub.api("GET", f"users/{ROOM_USER}").json()
            return not model.get("servers")

        wait_for(stopped, timeout, interval=0.2, what="the room's server to stop")

    def wait_ready(self, user: str, timeout: float = 120) -> None:
        def ready():
            server = self.hub.api("GET", f"users/{quote(user)}").json().get("servers", {}).get("")
            return server and server.get("ready")

        wait_for(ready, timeout, interval=0.3, what=f"{user}'s server")

    def start_vanilla(self, people: list[str]) -> None:
        """The vanilla peer's server, shared with ``people`` through JupyterHub's sharing API
        (one share each: a token's scopes include its owner's own shares, not its groups')."""
        if VANILLA not in self.tokens:
            r = self.hub.api("POST", f"users/{VANILLA}")
            assert r.status_code == 201, r.text
            self.tokens[VANILLA] = self.hub.user_token(VANILLA)
        self.hub.spawn(VANILLA)
        import requests

        # really vanilla: Mutirão's server extension is not there
        r = requests.get(
            self.server_url(VANILLA) + "mutirao/api/version",
            headers={"Authorization": f"token {self.tokens[VANILLA]}"},
            timeout=30,
        )
        assert r.status_code == 404, r.text
        for name in people:
            r = self.hub.api("POST", f"shares/{VANILLA}/", json={"user": name})
            assert r.status_code == 200, r.text

    def server_url(self, user: str) -> str:
        return self.hub.user_url(user)


def start_collab_hub(state: Path) -> CollabHub:
    """The hub with the room seeded (its server not started yet)."""
    hub = HubProcess(state / "hub", extra_config=hub_config(state))
    hub.start(timeout=120)
    collab = CollabHub(hub, state)
    wait_for(
        lambda: hub.api("GET", f"users/{ROOM_USER}").status_code == 200,
        60,
        what="the rooms service to seed the room",
    )
    return collab


def write_notebook(home: Path, cells: int, name: str = NOTEBOOK) -> None:
    """A notebook of ``cells`` code cells with fixed ids ``cell-0`` ... in ``home``."""
    home.mkdir(parents=True, exist_ok=True)
    nb = new_notebook(cells=[new_code_cell(f"# cell {i}\n", id=f"cell-{i}") for i in range(cells)])
    nbformat.write(nb, str(home / name))


def awareness_message(entries: list[tuple[int, int, Any]]) -> bytes:
    """y-protocols' awareness message: ``(client id, clock, state)`` entries, states as JSON."""
    payload = Encoder()
    payload.write_var_uint(len(entries))
    for client_id, clock, state in entries:
        payload.write_var_uint(client_id)
        payload.write_var_uint(clock)
        payload.write_var_string(json.dumps(state))
    return create_awareness_message(payload.to_bytes())


def read_awareness(message: bytes) -> list[tuple[int, int, Any]]:
    decoder = Decoder(read_message(message[1:]))
    entries = []
    for _ in range(decoder.read_var_uint()):
        client_id = decoder.read_var_uint()
        clock = decoder.read_var_uint()
        entries.append((client_id, clock, json.loads(decoder.read_var_string() or "null")))
    return entries


def save_message(save_id: int) -> bytes:
    encoder = Encoder()
    encoder.write_var_uint(RAW)
    encoder.write_var_string("save")
    encoder.write_var_uint(save_id)
    return encoder.to_bytes()


class YClient:
    """One person's collaborative notebook, on the wire as JupyterLab has it.

    ``on_change`` (if given) is called after each remote update is applied, with the client:
    the benchmark uses it to learn when an edit arrived.
    """

    def __init__(
        self,
        name: str,
        base_url: str,
        token: str,
        path: str = NOTEBOOK,
        on_change: Callable[[YClient], None] | None = None,
    ):
        self.name = name
        self.base_url = base_url
        self.token = token
        self.path = path
        self.on_change = on_change
        self.doc = Doc()
        self.notebook = YNotebook(self.doc)
        self.ws: Any = None
        self.synced = asyncio.Event()
        self.saves: dict[int, asyncio.Future] = {}
        self._save_ids = 0
        self.reloads = 0  # times the server asked for a fresh document
        self.close_code: int | None = None
        self.close_reason: str | None = None
        #: awareness as received: every (client id, state) in order, and the latest state of each
        self.awareness_seen: list[tuple[int, Any]] = []
        self.awareness: dict[int, Any] = {}
        self._clock = 0
        self._task: asyncio.Task | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    async def connect(self, timeout: float = 60) -> None:
        """Open the document (session, then websocket) and wait until it is in sync."""
        http = AsyncHTTPClient()
        r = await http.fetch(
            HTTPRequest(
                f"{self.base_url}api/collaboration/session/{quote(self.path)}",
                method="PUT",
                headers={**self.headers, "Content-Type": "application/json"},
                body=json.dumps({"format": "json", "type": "notebook"}),
                request_timeout=timeout,
            )
        )
        session = json.loads(r.body)
        room_id = f"json:notebook:{session['fileId']}"
        url = (
            self.base_url.replace("http", "ws", 1)
            + f"api/collaboration/room/{room_id}?sessionId={session['sessionId']}"
        )
        self.synced = asyncio.Event()
        self.close_code = None
        self.close()  # a connection from before a restart or a failed attempt
        self.ws = await websocket_connect(
            HTTPRequest(url, headers=self.headers, request_timeout=timeout),
            max_message_size=64 * 1024 * 1024,
        )
        self._task = asyncio.ensure_future(self._read(self.ws))
        self.ws.write_message(create_sync_message(self.doc), binary=True)
        await asyncio.wait(
            [asyncio.ensure_future(self.synced.wait()), self._task],
            timeout=timeout,
            return_when=asyncio.FIRST_COMPLETED,
        )
        if not self.synced.is_set():
            self.ws.close()
            raise ConnectionError(
                f"{self.name}: no sync (closed with {self.close_code}: {self.ws.close_reason})"
            )

    async def _read(self, ws: Any) -> None:
        while True:
            message = await ws.read_message()
            if message is None:
                self.close_code = ws.close_code
                self.close_reason = ws.close_reason
                for future in self.saves.values():
                    if not future.done():
                        future.set_exception(ConnectionError("closed"))
                return
            if message[0] == YMessageType.SYNC:
                reply = handle_sync_message(message[1:], self.doc)
                if reply is not None:
                    ws.write_message(reply, binary=True)
                if message[1] != 0:  # step 2 or an update: the document changed
                    if message[1] == 1:
                        self.synced.set()
                    if self.on_change is not None:
                        self.on_change(self)
            elif message[0] == YMessageType.AWARENESS:
                for client_id, _clock, state in read_awareness(message):
                    self.awareness_seen.append((client_id, state))
                    self.awareness[client_id] = state
            elif message[0] == RAW:
                decoder = Decoder(message)
                decoder.read_var_uint()
                answer = json.loads(decoder.read_var_string())
                future = self.saves.get(answer.get("responseTo"))
                if future is not None and not future.done():
                    future.set_result(answer.get("status"))

    @property
    def connected(self) -> bool:
        return self.ws is not None and self._task is not None and not self._task.done()

    async def closed(self) -> None:
        if self._task is not None:
            await asyncio.shield(self._task)

    # -- reading and editing ------------------------------------------------------------------
    def cell_ids(self) -> list[str]:
        return [str(cell.get("id")) for cell in self.notebook.ycells]

    def source(self, index: int) -> str:
        return str(self.notebook.ycells[index]["source"])

    def index_of(self, cell_id: str) -> int:
        return self.cell_ids().index(cell_id)

    def edit(self, index: int, text: str) -> None:
        """Type ``text`` at the end of a cell's source and send the update (offline, the
        edit stays in the document and reaches the server when the client syncs again)."""
        before = self.doc.get_state()
        source = self.notebook.ycells[index]["source"]
        assert isinstance(source, Text)
        source += text
        if self.connected and self.synced.is_set():
            self.ws.write_message(create_update_message(self.doc.get_update(before)), binary=True)

    def send_awareness(self, state: Any, client_id: int | None = None) -> None:
        """Announce ``state`` (JupyterLab's is ``{"user": {...}, "cursors": ...}``) for this
        client, or, as a hostile client could, for another ``client_id``."""
        self._clock += 1
        own = self.doc.client_id if client_id is None else client_id
        self.ws.write_message(awareness_message([(own, self._clock, state)]), binary=True)

    async def save(self, timeout: float = 30) -> str:
        """Ask the server to save (as Ctrl-S does); the server's answer (``success``...)."""
        self._save_ids += 1
        future = asyncio.get_running_loop().create_future()
        self.saves[self._save_ids] = future
        self.ws.write_message(save_message(self._save_ids), binary=True)
        return await asyncio.wait_for(future, timeout)

    # -- reconnecting ---------------------------------------------------------------------------
    async def reconnect(self, timeout: float = 120) -> None:
        """Reconnect after the server went away, as the lab's provider does: keep the document
        when the server accepts the session, start from a fresh one when it asks to reload."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                await self.connect(timeout=30)
                return
            except ConnectionError:
                if self.close_code == 1003:  # "reload": this session cannot continue
                    self.reloads += 1
                    self.doc = Doc()
                    self.notebook = YNotebook(self.doc)
            except (HTTPClientError, OSError, WebSocketClosedError):
                pass  # the server (or its route) is not back yet
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} could not reconnect")
            await asyncio.sleep(0.5)

    def close(self) -> None:
        if self.ws is not None:
            self.ws.close()
        if self._task is not None:
            self._task.cancel()


async def open_socket(collab: CollabHub, who: str, path: str) -> Any:
    """A websocket of the room's server (``api/kernels/<id>/channels``, ``api/events/subscribe``)
    opened with ``who``'s token, as the lab opens them."""
    url = collab.server_url(ROOM_USER).replace("http", "ws", 1) + path
    headers = {"Authorization": f"token {collab.tokens[who]}"}
    return await websocket_connect(HTTPRequest(url, headers=headers, request_timeout=60))


async def closed_by_server(ws: Any, timeout: float) -> int | None:
    """Read (and drop) what the server sends until it closes the socket; its close code."""

    async def drain() -> int | None:
        while await ws.read_message() is not None:
            pass
        return ws.close_code

    return await asyncio.wait_for(drain(), timeout)


async def until(condition: Callable[[], bool], timeout: float = 30, what: str = "it") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
