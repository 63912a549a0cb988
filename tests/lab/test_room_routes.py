"""The room boundary's edges on a real room server (pytest-jupyter's, with every server
extension a room runs): nbdime kept inside the room, lab settings and workspaces per person,
admins without a share, and a server that refuses to start without its boundary.

Identities are those of :mod:`tests.lab.access_matrix` (a stand-in for the hub's identity
provider, which cannot run inside this server; tests/hub go through a real hub).
"""

from __future__ import annotations

import asyncio
import json
import os

import nbformat
import pytest
from jupyter_server.auth import Authorizer
from nbformat.v4 import new_code_cell, new_notebook
from tornado.httpclient import HTTPClientError

from mutirao_lab.rooms import routes, ydoc_filter
from mutirao_lab.rooms.routes import RoomBoundaryError

from . import access_matrix as am
from .test_access_matrix import EXTENSIONS, pytestmark  # noqa: F401


@pytest.fixture
def server_user():
    return am.ROOM


@pytest.fixture(autouse=True)
def collect_pipes():
    # what the previous test's server left is collected before this test starts
    am.collect_leaked_pipes()


@pytest.fixture(autouse=True, scope="module")
def collect_pipes_last():
    # and the last test's, once its server has been cleaned up
    yield
    am.collect_leaked_pipes()


@pytest.fixture(autouse=True)
def room_env(monkeypatch, server_user):
    monkeypatch.setenv("JUPYTERHUB_USER", server_user)
    monkeypatch.setenv("JUPYTERHUB_SERVER_NAME", "")


@pytest.fixture
def room_authorizer_config():
    return {}


@pytest.fixture
def jp_server_config(room_authorizer_config):
    return {
        "ServerApp": {
            "jpserver_extensions": dict.fromkeys(EXTENSIONS, True),
            "identity_provider_class": am.HubScopesIdentityProvider,
        },
        "RoomAuthorizer": room_authorizer_config,
    }


def notebook(path, source: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(new_notebook(cells=[new_code_cell(source, id="c")]), str(path))


async def call(jp_fetch, *parts, identity: str, method="GET", body=None) -> tuple[int, dict]:
    if body is not None and not isinstance(body, str):
        body = json.dumps(body)
    try:
        r = await jp_fetch(*parts, method=method, body=body, headers=am.auth_header(identity))
    except HTTPClientError as e:
        return e.code, {}
    return r.code, json.loads(r.body) if r.body else {}


# -- nbdime ------------------------------------------------------------------------------------


@pytest.fixture
def notebooks(jp_root_dir):
    notebook(jp_root_dir / "a.ipynb", "a = 1")
    notebook(jp_root_dir / "b.ipynb", "b = 2")
    notebook(jp_root_dir.parent / "outside.ipynb", "secret = 42")
    os.symlink(jp_root_dir.parent / "outside.ipynb", jp_root_dir / "link.ipynb")
    return jp_root_dir


async def test_nbdime_diffs_files_inside_the_room(jp_fetch, notebooks):
    code, body = await call(
        jp_fetch, "nbdime", "api", "diff", method="POST", identity="viewer",
        body={"base": "a.ipynb", "remote": "b.ipynb"},
    )  # fmt: skip
    assert code == 200
    assert "a = 1" in json.dumps(body["base"])


@pytest.mark.parametrize(
    "body",
    [
        {"base": "/etc/passwd", "remote": "a.ipynb"},
        {"base": "a.ipynb", "remote": "../outside.ipynb"},
        {"base": "a.ipynb", "remote": "link.ipynb"},  # a symlink out of the room
        {"base": "git:../outside.ipynb"},
        {"base": "checkpoint:/etc/passwd"},
        {"base": "a.ipynb", "remote": "sub/../../outside.ipynb"},
        {"base": "a.ipynb", "remote": "~/outside.ipynb"},
        {"base": ["a.ipynb"], "remote": "b.ipynb"},
        {"remote": "b.ipynb"},
    ],
)
async def test_nbdime_refuses_paths_out_of_the_room(jp_fetch, notebooks, body):
    code, _ = await call(jp_fetch, "nbdime", "api", "diff", method="POST", identity="owner",
                         body=body)  # fmt: skip
    assert code == 400


async def test_nbdime_never_fetches_a_url(jp_fetch, notebooks):
    hits = []

    async def listener(reader, writer):
        hits.append(await reader.read(100))
        writer.close()

    server = await asyncio.start_server(listener, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        for base in (f"http://127.0.0.1:{port}/nb.ipynb", f"a.ipynb#http://127.0.0.1:{port}/x"):
            body = {"base": "a.ipynb", "remote": base} if "#" not in base else {"base": base}
            code, _ = await call(jp_fetch, "nbdime", "api", "diff", method="POST",
                                 identity="owner", body=body)  # fmt: skip
            assert code == 400
        await asyncio.sleep(0.2)  # let a connection, if any were made, arrive
    finally:
        server.close()
    assert hits == []


@pytest.mark.parametrize(
    ("endpoint", "body"),
    [
        ("gitdiff", {"file_path": "../outside.ipynb", "ref_local": {"git": "HEAD"},
                     "ref_remote": {"special": "WORKING"}}),
        ("gitdiff", {"file_path": "a.ipynb", "ref_local": {"git": "--output=/tmp/x"},
                     "ref_remote": {"special": "WORKING"}}),
        ("isgit", {"path": "/etc"}),
        ("isgit", {"path": "../"}),
    ],
)  # fmt: skip
async def test_nbdime_git_endpoints_stay_in_the_room(jp_fetch, notebooks, endpoint, body):
    code, _ = await call(jp_fetch, "nbdime", "api", endpoint, method="POST", identity="editor",
                         body=body)  # fmt: skip
    assert code == 400


@pytest.mark.parametrize("path", ["a.ipynb", ""])
async def test_nbdime_isgit_answers_for_room_paths(jp_fetch, notebooks, path):
    # "": the folder of a notebook at the room's top, as nbdime's lab extension asks it
    code, body = await call(jp_fetch, "nbdime", "api", "isgit", method="POST",
                            identity="viewer", body={"path": path})  # fmt: skip
    assert code == 200
    assert isinstance(body["is_git"], bool)


# -- lab settings and workspaces ------------------------------------------------------------

THEMES = ("lab", "api", "settings", "@jupyterlab/apputils-extension:themes")


async def test_a_viewers_theme_is_their_own(jp_fetch):
    dark = {"raw": json.dumps({"theme": "JupyterLab Dark"})}
    code, _ = await call(jp_fetch, *THEMES, method="PUT", body=dark, identity="viewer")
    assert code == 204
    _, mine = await call(jp_fetch, *THEMES, identity="viewer")
    _, theirs = await call(jp_fetch, *THEMES, identity="editor")
    assert mine["settings"].get("theme") == "JupyterLab Dark"
    assert theirs["settings"].get("theme") != "JupyterLab Dark"
    # the room's own (shared) settings are untouched too
    _, rooms = await call(jp_fetch, *THEMES, identity="owner")
    assert rooms["settings"].get("theme") != "JupyterLab Dark"


async def test_workspaces_are_per_person(jp_fetch):
    space = {"data": {"layout-restorer:data": {}}, "metadata": {"id": "mine"}}
    code, _ = await call(jp_fetch, "lab", "api", "workspaces", "mine", method="PUT",
                         body=space, identity="commenter")  # fmt: skip
    assert code == 204
    _, own = await call(jp_fetch, "lab", "api", "workspaces", identity="commenter")
    _, other = await call(jp_fetch, "lab", "api", "workspaces", identity="viewer")
    assert "mine" in own["workspaces"]["ids"]
    assert "mine" not in other["workspaces"]["ids"]


def test_person_dirs_cannot_escape():
    assert routes.person_key("..") == "u-.."
    assert "/" not in routes.person_key("a/../../b")
    base = routes.person_dir("/srv/lab/user-settings", "../../etc", "user-settings")
    assert base.startswith("/srv/lab/mutirao-people/")


# -- admins -------------------------------------------------------------------------------------

ADMIN_PATHS = [
    ("GET", ("api", "me")),
    ("GET", ("lab", "api", "settings")),
    ("GET", ("lab", "api", "workspaces")),
    ("POST", ("nbdime", "api", "diff")),
    ("GET", ("api", "contents")),
]


@pytest.mark.parametrize(("method", "parts"), ADMIN_PATHS)
async def test_an_admin_without_a_share_is_refused(jp_fetch, notebooks, method, parts):
    body = {"base": "a.ipynb", "remote": "b.ipynb"} if method == "POST" else None
    code, _ = await call(jp_fetch, *parts, method=method, body=body,
                         identity="admin-without-share")  # fmt: skip
    assert code == 403
    code, _ = await call(jp_fetch, *parts, method=method, body=body, identity="admin")
    assert code == 200


@pytest.mark.parametrize("room_authorizer_config", [{"admins_act_as_owners": True}])
@pytest.mark.parametrize(("method", "parts"), ADMIN_PATHS)
async def test_admins_act_as_owners_when_configured(jp_fetch, notebooks, method, parts):
    body = {"base": "a.ipynb", "remote": "b.ipynb"} if method == "POST" else None
    code, _ = await call(jp_fetch, *parts, method=method, body=body,
                         identity="admin-without-share")  # fmt: skip
    assert code == 200
    # a non-member who is no admin is still refused
    code, _ = await call(jp_fetch, *parts, method=method, body=body, identity="non-member")
    assert code == 403


# -- refusing to start ---------------------------------------------------------------------------


def test_a_room_refuses_to_start_with_another_authorizer(jp_configurable_serverapp):
    config = {
        "ServerApp": {
            "jpserver_extensions": {"mutirao_lab": True},
            "authorizer_class": Authorizer,
        }
    }
    with pytest.raises(RoomBoundaryError, match="RoomAuthorizer"):
        jp_configurable_serverapp(config=config)


@pytest.mark.parametrize("server_user", ["alice"])
def test_a_personal_server_keeps_its_own_authorizer(jp_configurable_serverapp):
    config = {
        "ServerApp": {
            "jpserver_extensions": {"mutirao_lab": True},
            "authorizer_class": Authorizer,
        }
    }
    app = jp_configurable_serverapp(config=config)
    assert type(app.authorizer) is Authorizer


def test_a_room_refuses_to_start_without_the_read_only_filter(
    jp_configurable_serverapp, monkeypatch
):
    # as if jupyter-collaboration's websocket handler had changed beyond recognition
    monkeypatch.setattr(ydoc_filter, "FilteringHandler", None)
    config = {
        "ServerApp": {
            "jpserver_extensions": {
                "mutirao_lab": True,
                "jupyter_server_fileid": True,
                "jupyter_server_ydoc": True,
            }
        }
    }
    with pytest.raises(RoomBoundaryError, match="read-only"):
        jp_configurable_serverapp(config=config)


# -- what other extensions' handlers cannot take ---------------------------------------------

MALFORMED = [
    ("PUT", ("api", "collaboration", "session", "a.ipynb"), "{}"),
    ("PUT", ("lab", "api", "workspaces", "w1"), "{}"),
    ("POST", ("api", "kernels"), '{"name": "no-such-kernel"}'),
    ("POST", ("api", "contents", "missing.ipynb", "checkpoints"), "{}"),
    ("PUT", ("lab", "api", "settings", "@jupyterlab/apputils-extension:themes"), "{}"),
]


@pytest.mark.parametrize(("method", "parts", "body"), MALFORMED)
async def test_bodies_other_handlers_cannot_take_are_4xx(jp_fetch, method, parts, body, caplog):
    """jupyter-collaboration, JupyterLab and jupyter-server answer these with a 500 (a
    KeyError on a missing field, an unknown kernel name, a missing file); in a room they are
    the client's doing and answer 4xx, with no server detail."""
    code, answer = await call(jp_fetch, *parts, identity="owner", method=method, body=body)
    assert 400 <= code < 500, (code, answer)
    assert "/" not in json.dumps(answer.get("message", ""))
