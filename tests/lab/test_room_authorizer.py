"""Room roles enforced in the server: the pure table, real endpoints, and the collaboration
websocket with raw Y clients.

The server under test is a room (``$JUPYTERHUB_USER=room-ml-research``) with the
``RoomAuthorizer``. A test identity provider stands in for JupyterHub's: ``token tok-<name>``
is the user ``<name>`` with a hub user model whose ``scopes`` are what the hub gives a share
at the member's role (``mutirao_hub.rooms.policy.share_scopes``, the rooms service's own
function), so these tests also pin the hub side's scope format.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import quote

import nbformat
import pytest
from jupyter_server.auth.identity import IdentityProvider, User
from nbformat.v4 import new_code_cell, new_notebook
from pycrdt import (
    Array,
    Awareness,
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
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

from mutirao_hub.rooms import policy
from mutirao_lab.rooms import roles, ydoc_filter
from mutirao_lab.rooms.authorizer import RoomAuthorizer
from mutirao_lab.rooms.resolver import RoomRoleResolver

ROOM = "room-ml-research"
MEMBERS = {"vera": "viewer", "cami": "commenter", "edu": "editor", "olga": "owner"}
SOURCE = "x = 1\n"


def hub_model(name: str) -> dict[str, Any]:
    """The hub user model the room's server would get for ``name``'s token."""
    if name in MEMBERS:
        scopes = policy.share_scopes(MEMBERS[name], ROOM)
    elif name == "otto":  # a member of another room, with a forged-looking owner scope
        scopes = [
            f"access:servers!server={ROOM}/",
            "custom:mutirao-room-owner!server=room-other/",
            "custom:mutirao-room-editor!user=room-other",
        ]
    else:  # sam: reached the server (say, an admin), but no room role
        scopes = [f"access:servers!server={ROOM}/"]
    return {"kind": "user", "name": name, "admin": name == "sam", "scopes": scopes}


class HubUser(User):
    """Like JupyterHub's ``JupyterHubUser``: the hub model rides along, not as a field."""

    hub_user: dict

    def __init__(self, hub_user: dict):
        self.hub_user = hub_user
        super().__init__(username=hub_user["name"])


class HubScopesIdentityProvider(IdentityProvider):
    """``Authorization: token tok-<name>`` is ``<name>`` with hub-like scopes."""

    async def get_user(self, handler):
        scheme, _, token = handler.request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "token" and token.startswith("tok-"):
            handler._token_authenticated = True  # a token, like the server's own: no XSRF
            return HubUser(hub_model(token[4:]))
        return await super().get_user(handler)


def auth(name: str | None) -> dict[str, str]:
    # anonymous: a header that replaces pytest-jupyter's own token
    return {"Authorization": f"token tok-{name}" if name else "token nope"}


# -- (a) the pure table -----------------------------------------------------------------------

RESOURCES = (
    "api",
    "collaboration",
    "config",
    "contents",
    "csp",
    "events",
    "files",
    "kernels",
    "kernelspecs",
    "lab",
    "lsp",
    "mutirao",
    "nbconvert",
    "server",
    "sessions",
    "terminals",
    "some-other-extension",
)
ACTIONS = ("read", "write", "execute")


def expected(role: str | None, action: str, resource: str) -> bool:
    """The issue's words, written out independently of roles.RULES."""
    if role is None:
        return False
    if role in ("editor", "owner"):
        return True
    if resource == "terminals":
        return False  # no terminals, not even a list
    if action == "read":
        return True  # read files and see live edits
    if action == "write":
        # open a live document; CSP reports; commenters write comments
        return resource in ("collaboration", "csp") or (
            resource == "mutirao" and role == "commenter"
        )
    return resource == "events"  # subscribing to the event bus only reads


@pytest.mark.parametrize("role", [None, *roles.ROLES])
def test_allowed_table(role):
    for resource in RESOURCES:
        for action in ACTIONS:
            assert roles.allowed(role, action, resource) is expected(role, action, resource), (
                role,
                action,
                resource,
            )


def test_allowed_refuses_unknown_actions_and_roles():
    assert not roles.allowed("owner", "delete", "contents")
    assert not roles.allowed("admin", "read", "contents")


@pytest.mark.parametrize(
    ("name", "scopes", "server_user", "role"),
    [
        ("room-x", [], "room-x", "owner"),  # the room's own token
        ("ana", policy.share_scopes("editor", "room-x"), "room-x", "editor"),
        ("ana", policy.share_scopes("viewer", "room-x"), "room-x", "viewer"),
        ("ana", ["custom:mutirao-room-commenter!user=room-x"], "room-x", "commenter"),
        ("ana", ["custom:mutirao-room-viewer"], "room-x", "viewer"),  # unfiltered
        ("ana", ["custom:mutirao-room-owner!server=room-y/"], "room-x", None),  # other room
        ("ana", ["custom:mutirao-room-owner!server=room-x/gpu"], "room-x", None),  # other server
        ("ana", ["custom:mutirao-room-king!server=room-x/"], "room-x", None),  # unknown role
        ("ana", ["access:servers!server=room-x/", "admin:servers"], "room-x", None),
        ("ana", [], "ana", "owner"),  # a personal server's owner
        ("bia", ["access:servers!server=ana/"], "ana", "owner"),  # JupyterHub's own sharing
        ("bia", ["custom:mutirao-room-viewer!server=ana/"], "ana", "viewer"),  # shared at a role
    ],
)
def test_user_role(name, scopes, server_user, role):
    model = {"kind": "user", "name": name, "scopes": scopes}
    assert roles.user_role(name, model, server_user=server_user) == role


def test_user_role_without_a_hub_and_for_services():
    assert roles.user_role("me", None, server_user="") == "owner"
    assert roles.user_role("me", None, server_user="room-x") is None
    # a service named like the room is not the room
    service = {"kind": "service", "name": "room-x", "scopes": []}
    assert roles.user_role("room-x", service, server_user="room-x") is None
    named = roles.user_role("gpu", {"name": "a", "scopes": []}, server_user="a", server_name="")
    assert named == "owner"


def test_role_from_scopes_agrees_with_the_hub():
    samples = [
        *(policy.share_scopes(r, "room-x") for r in roles.ROLES),
        *(policy.share_scopes(r, "room-y") for r in roles.ROLES),
        ["custom:mutirao-room-editor!user=room-x", "custom:mutirao-room-owner!user=room-y"],
        ["custom:mutirao-room-owner", "custom:other"],
        [],
    ]
    for scopes in samples:
        for server in ("room-x", "room-y", None):
            assert roles.role_from_scopes(scopes, server) == policy.role_from_scopes(
                scopes, server
            ), (scopes, server)


def test_document_write_messages():
    update = create_update_message(b"\x01\x02")
    assert ydoc_filter.is_document_write(update)
    assert ydoc_filter.is_document_write(bytes([YMessageType.SYNC, 1, 1, 0]))  # step 2
    assert ydoc_filter.is_document_write(bytes([YMessageType.SYNC]))  # malformed
    assert not ydoc_filter.is_document_write(create_sync_message(Doc()))  # step 1
    assert not ydoc_filter.is_document_write(create_awareness_message(b"\x00"))
    assert not ydoc_filter.is_document_write("text")
    assert ydoc_filter.is_save_request(save_message(7))
    assert not ydoc_filter.is_save_request(update)


# -- (b) real endpoints -----------------------------------------------------------------------


@pytest.fixture
def server_user():
    return ROOM


@pytest.fixture(autouse=True)
def hub_env(monkeypatch, server_user):
    monkeypatch.setenv("JUPYTERHUB_USER", server_user)
    monkeypatch.setenv("JUPYTERHUB_SERVER_NAME", "")


@pytest.fixture
def jp_server_config():
    return {
        "ServerApp": {
            "jpserver_extensions": {
                "mutirao_lab": True,
                "jupyter_server_fileid": True,
                "jupyter_server_ydoc": True,
                "jupyter_server_terminals": True,
            },
            "identity_provider_class": HubScopesIdentityProvider,
            "authorizer_class": RoomAuthorizer,
        },
        # a short cleanup delay, so rooms close with the test
        "YDocExtension": {"document_cleanup_delay": 1},
    }


@pytest.fixture
def notebook(jp_root_dir):
    nb = new_notebook(cells=[new_code_cell(SOURCE, id="cell-a")])
    nbformat.write(nb, str(jp_root_dir / "nb.ipynb"))
    return "nb.ipynb"


async def status(jp_fetch, *parts, user, method="GET", body=None, **kwargs) -> int:
    if body is not None and not isinstance(body, str):
        body = json.dumps(body)
    try:
        r = await jp_fetch(*parts, method=method, body=body, headers=auth(user), **kwargs)
    except HTTPClientError as e:
        return e.code
    return r.code


PEOPLE = [None, "sam", "otto", *MEMBERS]


def may(name: str | None, minimum: str) -> bool:
    return name in MEMBERS and roles.role_rank(MEMBERS[name]) >= roles.role_rank(minimum)


@pytest.mark.parametrize("name", PEOPLE)
async def test_contents_matrix(jp_fetch, notebook, name):
    read = await status(jp_fetch, "api", "contents", notebook, user=name)
    assert read == (200 if may(name, "viewer") else 403)
    path = f"made-by-{name}.txt"
    model = {"type": "file", "format": "text", "content": "hi"}
    put = await status(jp_fetch, "api", "contents", path, method="PUT", body=model, user=name)
    assert put == (201 if may(name, "editor") else 403)
    victim = path if put == 201 else notebook
    delete = await status(jp_fetch, "api", "contents", victim, method="DELETE", user=name)
    assert delete == (204 if may(name, "editor") else 403)
    files = await status(jp_fetch, "files", notebook, user=name, follow_redirects=False)
    # a page, not an API: the anonymous are sent to log in
    assert files == (200 if may(name, "viewer") else 302 if name is None else 403)


@pytest.mark.parametrize("name", PEOPLE)
async def test_kernels_sessions_terminals_matrix(jp_fetch, jp_ws_fetch, notebook, name):
    editor = may(name, "editor")
    assert await status(jp_fetch, "api", "kernels", user=name) == (
        200 if may(name, "viewer") else 403
    )
    if editor:
        r = await jp_fetch(
            "api", "kernels", method="POST", body="{}", headers=auth(name), request_timeout=120
        )
        assert r.code == 201
        kernel_id = json.loads(r.body)["id"]
    else:
        assert await status(jp_fetch, "api", "kernels", method="POST", body={}, user=name) == 403
        # someone else's kernel: no websocket (execution) either
        r = await jp_fetch(
            "api", "kernels", method="POST", body="{}", headers=auth("edu"), request_timeout=120
        )
        kernel_id = json.loads(r.body)["id"]
        with pytest.raises(HTTPClientError) as e:
            await jp_ws_fetch("api", "kernels", kernel_id, "channels", headers=auth(name))
        assert e.value.code == 403
    session = {"path": notebook, "type": "notebook", "name": "", "kernel": {"id": kernel_id}}
    assert await status(jp_fetch, "api", "sessions", method="POST", body=session, user=name) == (
        201 if editor else 403
    )
    term = await status(jp_fetch, "api", "terminals", method="POST", body={}, user=name)
    assert term == (200 if editor else 403)
    assert await status(jp_fetch, "api", "terminals", user=name) == (200 if editor else 403)
    assert await status(jp_fetch, "api", "kernels", kernel_id, method="DELETE", user="olga") == 204


@pytest.mark.parametrize("name", PEOPLE)
async def test_comments_follow_room_roles(jp_fetch, notebook, name):
    api = ("mutirao", "api", "comments")
    threads = await status(jp_fetch, *api, "threads", params={"path": notebook}, user=name)
    assert threads == (200 if may(name, "viewer") else 403)
    body = {"path": notebook, "cell_id": "cell-a", "body": f"from {name}"}
    post = await status(jp_fetch, *api, "threads", method="POST", body=body, user=name)
    assert post == (201 if may(name, "commenter") else 403)


async def test_comments_resolver_is_the_room_default(jp_serverapp, jp_fetch, notebook):
    app = next(iter(jp_serverapp.extension_manager.extension_apps["mutirao_lab"]))
    assert isinstance(app.comments.roles, RoomRoleResolver)
    await status(jp_fetch, "api", "contents", notebook, user="vera")
    await status(jp_fetch, "mutirao", "api", "comments", "threads", params={"path": notebook},
                 user="cami")  # fmt: skip
    r = await jp_fetch("mutirao", "api", "comments", "members", headers=auth("edu"))
    members = json.loads(r.body)
    names = {m if isinstance(m, str) else m.get("username") for m in members.get("members", [])}
    assert {"cami", "edu"} <= names
    assert "sam" not in names


async def test_the_room_itself_is_owner(jp_fetch):
    model = {"type": "file", "format": "text", "content": "by the room"}
    assert await status(jp_fetch, "api", "contents", "r.txt", method="PUT", body=model,
                        user=ROOM) == 201  # fmt: skip


@pytest.mark.parametrize("server_user", ["alice"])
async def test_personal_server_keeps_jupyterhub_sharing(jp_serverapp, jp_fetch):
    # sam has access to alice's server (JupyterHub's sharing) and no room role: full access
    model = {"type": "file", "format": "text", "content": "hi"}
    assert await status(jp_fetch, "api", "contents", "s.txt", method="PUT", body=model,
                        user="sam") == 201  # fmt: skip
    app = next(iter(jp_serverapp.extension_manager.extension_apps["mutirao_lab"]))
    assert not isinstance(app.comments.roles, RoomRoleResolver)


# -- (c) raw Y clients on the collaboration websocket ----------------------------------------


def save_message(save_id: int) -> bytes:
    encoder = Encoder()
    encoder.write_var_uint(ydoc_filter.RAW)
    encoder.write_var_string("save")
    encoder.write_var_uint(save_id)
    return encoder.to_bytes()


class YClient:
    """A bare Y websocket client: pycrdt's sync protocol, by hand, as a hostile client might."""

    def __init__(self, name: str, ws: Any):
        self.name = name
        self.ws = ws
        self.doc = Doc()
        self.awareness = Awareness(self.doc)
        self.peers: set[str] = set()  # names seen in awareness
        self.raw: list[dict] = []
        self.synced = asyncio.Event()
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while True:
            message = await self.ws.read_message()
            if message is None:
                return
            if message[0] == YMessageType.SYNC:
                reply = handle_sync_message(message[1:], self.doc)
                if reply is not None:
                    self.ws.write_message(reply, binary=True)
                if message[1] == 1:  # step 2: the server's answer to our step 1
                    self.synced.set()
            elif message[0] == YMessageType.AWARENESS:
                self.awareness.apply_awareness_update(read_message(message[1:]), "remote")
                for state in self.awareness.states.values():
                    user = (state or {}).get("user") or {}
                    if "name" in user:
                        self.peers.add(user["name"])
            elif message[0] == ydoc_filter.RAW:
                decoder = Decoder(message)
                decoder.read_var_uint()
                self.raw.append(json.loads(decoder.read_var_string()))

    async def start(self) -> None:
        self.ws.write_message(create_sync_message(self.doc), binary=True)
        await asyncio.wait_for(self.synced.wait(), 30)

    def source(self) -> str:
        cells = self.doc.get("cells", type=Array)
        return str(cells[0]["source"]) if len(cells) else ""

    def edit(self, text: str) -> None:
        """Append to the first cell's source and send the update, as a client would."""
        before = self.doc.get_state()
        source = self.doc.get("cells", type=Array)[0]["source"]
        assert isinstance(source, Text)
        source += text
        update = self.doc.get_update(before)
        self.ws.write_message(create_update_message(update), binary=True)

    def announce(self) -> None:
        self.awareness.set_local_state({"user": {"name": self.name}})
        update = self.awareness.encode_awareness_update([self.doc.client_id])
        self.ws.write_message(create_awareness_message(update), binary=True)

    def close(self) -> None:
        self.ws.close()
        self.task.cancel()


async def until(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.02)


@pytest.fixture
def connect(jp_fetch, jp_http_port, jp_base_url, notebook):
    clients: list[YClient] = []
    room_ids: list[str] = []

    async def make(name: str) -> YClient:
        r = await jp_fetch(
            "api", "collaboration", "session", quote(notebook), method="PUT",
            body=json.dumps({"format": "json", "type": "notebook"}), headers=auth(name),
        )  # fmt: skip
        session = json.loads(r.body)
        room_id = f"json:notebook:{session['fileId']}"
        room_ids.append(room_id)
        # by hand: jp_ws_fetch would escape the room id's colons, making it another room
        url = (
            f"ws://localhost:{jp_http_port}{jp_base_url}api/collaboration/room/{room_id}"
            f"?sessionId={session['sessionId']}"
        )
        ws = await websocket_connect(HTTPRequest(url, headers=auth(name)))
        client = YClient(name, ws)
        clients.append(client)
        await client.start()
        return client

    make.room_ids = room_ids  # type: ignore[attr-defined]
    yield make
    for client in clients:
        client.close()


def server_source(jp_serverapp, room_id: str) -> str:
    ydoc_app = next(iter(jp_serverapp.extension_manager.extension_apps["jupyter_server_ydoc"]))
    room = ydoc_app.ywebsocket_server.rooms[room_id]
    return str(room.ydoc.get("cells", type=Array)[0]["source"])


def test_the_filter_is_installed(jp_serverapp):
    assert ydoc_filter.install(jp_serverapp.web_app)  # already there: still true


@pytest.mark.parametrize("reader", ["vera", "cami"])
async def test_read_only_updates_are_dropped(jp_serverapp, connect, reader):
    editor = await connect("edu")
    watcher = await connect("olga")
    viewer = await connect(reader)
    room_id = connect.room_ids[0]
    await until(lambda: viewer.source() == SOURCE)

    # the reader writes, then announces itself: the server handles one connection's messages
    # in order, so once the others see the announcement the write was handled
    viewer.edit("# from the reader\n")
    assert "from the reader" in viewer.source()  # its own copy changed, nobody else's
    viewer.announce()
    await until(lambda: reader in watcher.peers and reader in editor.peers)
    assert "from the reader" not in server_source(jp_serverapp, room_id)

    # the editor's edit reaches the server and everyone, the reader included
    editor.edit("# from the editor\n")
    await until(lambda: "from the editor" in watcher.source())
    await until(lambda: "from the editor" in viewer.source())
    assert "from the editor" in server_source(jp_serverapp, room_id)
    assert "from the reader" not in watcher.source()
    assert "from the reader" not in server_source(jp_serverapp, room_id)

    # awareness flows both ways
    editor.announce()
    await until(lambda: "edu" in viewer.peers)

    # and a save request from the reader is answered without saving
    viewer.ws.write_message(save_message(41), binary=True)
    await until(lambda: any(m.get("responseTo") == 41 for m in viewer.raw))
    assert next(m for m in viewer.raw if m.get("responseTo") == 41)["status"] == "skipped"


async def test_editor_updates_are_applied(jp_serverapp, connect):
    editor = await connect("edu")
    other = await connect("olga")
    await until(lambda: other.source() == SOURCE)
    other.edit("# from the owner\n")
    await until(lambda: "from the owner" in editor.source())
    assert "from the owner" in server_source(jp_serverapp, connect.room_ids[0])
