"""A room's server against what its own members might try: symlinks an editor plants out of
the room's folder, and the role table's edges (a viewer marks their mentions read; git
credentials need an editor).

A real server (pytest-jupyter) that is a room with the ``RoomAuthorizer``; members as in
``test_room_authorizer`` (a stand-in for the hub's identity, with the scopes the rooms service
gives each role). The symlinks are made on disk, as a terminal or a checkout would.
"""

from __future__ import annotations

import json
import os

import pytest
from jupyter_server_ydoc.handlers import FORK_DOCUMENTS
from pycrdt import Map
from tornado.httpclient import HTTPClientError

from . import test_room_authorizer as room
from .test_room_authorizer import auth

# the shared fixtures, by name
hub_env, server_user, notebook = room.hub_env, room.server_user, room.notebook
connect = room.connect


@pytest.fixture
def jp_server_config(tmp_path_factory):
    config = room.jp_server_config.__wrapped__()
    config["MutiraoApp"] = {
        "credentials_dir": str(tmp_path_factory.mktemp("credentials")),
        "max_timeline_forks": 2,
    }
    return config


async def call(jp_fetch, *parts, user, method="GET", body=None, **kwargs):
    if body is not None and not isinstance(body, str):
        body = json.dumps(body)
    try:
        r = await jp_fetch(*parts, method=method, body=body, headers=auth(user), **kwargs)
    except HTTPClientError as e:
        if e.response is None:
            raise
        r = e.response
    return r.code, r.body.decode("utf-8", "replace")


@pytest.fixture
def planted(jp_root_dir, tmp_path_factory):
    """``secret.txt`` (outside the room) behind ``link.txt`` and ``dir-link/``, and
    ``inner.txt``, a link to a file inside the room."""
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret.txt").write_text("the server's secret\n")
    (jp_root_dir / "notes.txt").write_text("room notes\n")
    os.symlink(outside / "secret.txt", jp_root_dir / "link.txt")
    os.symlink(outside, jp_root_dir / "dir-link")
    os.symlink("notes.txt", jp_root_dir / "inner.txt")
    return outside


@pytest.mark.parametrize("user", ["vera", "edu", "olga"])
async def test_symlinks_out_of_the_room_are_missing_files(jp_fetch, planted, user):
    for parts in [
        ("api", "contents", "link.txt"),
        ("api", "contents", "dir-link"),
        ("api", "contents", "dir-link", "secret.txt"),
        ("files", "link.txt"),
        ("files", "dir-link", "secret.txt"),
        ("nbconvert", "script", "link.txt"),
    ]:
        code, text = await call(jp_fetch, *parts, user=user)
        assert code == 404, (parts, code, text)
        assert "secret" not in text.replace("secret.txt", "")
        assert str(planted) not in text
    # the link inside the room works; the listing leaves the outward ones out
    code, text = await call(jp_fetch, "api", "contents", "inner.txt", user=user)
    assert code == 200
    assert json.loads(text)["content"] == "room notes\n"
    code, text = await call(jp_fetch, "api", "contents", user=user)
    assert code == 200
    names = {m["name"] for m in json.loads(text)["content"]}
    assert {"inner.txt", "notes.txt"} <= names
    assert not names & {"link.txt", "dir-link"}


async def test_an_editor_cannot_write_through_a_symlink_out_of_the_room(jp_fetch, planted):
    model = {"type": "file", "format": "text", "content": "overwritten"}
    for method, parts, body in [
        ("PUT", ("api", "contents", "link.txt"), model),
        ("PUT", ("api", "contents", "dir-link", "new.txt"), model),
        ("PATCH", ("api", "contents", "notes.txt"), {"path": "dir-link/moved.txt"}),
        ("PATCH", ("api", "contents", "link.txt"), {"path": "stolen.txt"}),
        ("POST", ("api", "contents"), {"copy_from": "link.txt"}),
        ("POST", ("api", "contents", "dir-link"), {"type": "file"}),
    ]:
        code, text = await call(jp_fetch, *parts, method=method, body=body, user="edu")
        assert code == 404, (method, parts, code, text)
    assert (planted / "secret.txt").read_text() == "the server's secret\n"
    assert sorted(p.name for p in planted.iterdir()) == ["secret.txt"]


async def test_a_viewer_marks_their_own_mentions_read(jp_fetch, notebook):
    # (who can be mentioned comes from the hub's shares, which this server has none of)
    api = ("mutirao", "api", "comments", "mentions")
    code, text = await call(jp_fetch, *api, "read", method="POST", body={}, user="vera")
    assert code == 200, text
    assert json.loads(text) == {"unread": 0}
    body = {"comment_ids": ["nope"]}
    code, text = await call(jp_fetch, *api, "read", method="POST", body=body, user="vera")
    assert code == 200, text
    # a stranger may not
    code, _ = await call(jp_fetch, *api, "read", method="POST", body={}, user="sam")
    assert code == 403


@pytest.mark.parametrize(("user", "allowed"), [("vera", False), ("cami", False), ("edu", True)])
async def test_git_credentials_need_an_editor(jp_fetch, user, allowed):
    api = ("mutirao", "api", "git", "credentials")
    creds = {"host": "git.example.org", "username": user, "password": "s3cret"}
    code, text = await call(jp_fetch, *api, method="PUT", body=creds, user=user)
    assert code == (200 if allowed else 403), text
    code, text = await call(jp_fetch, *api, user=user)
    assert code == (200 if allowed else 403), text
    if allowed:
        assert json.loads(text)["hosts"] == [{"host": "git.example.org", "username": user}]
    code, text = await call(jp_fetch, *api, method="DELETE", params={"host": "x"}, user=user)
    assert code == (404 if allowed else 403), text


async def test_timeline_forks_are_reused_and_bounded(jp_serverapp, jp_fetch, connect, notebook):
    await connect("edu")
    room_id = connect.room_ids[0]
    ydoc_app = next(iter(jp_serverapp.extension_manager.extension_apps["jupyter_server_ydoc"]))
    server = ydoc_app.ywebsocket_server
    await room.until(lambda: room_id in server.rooms)
    timeline = ("api", "collaboration", "timeline", notebook)
    params = {"format": "json", "type": "notebook"}

    async def fork() -> str:
        code, text = await call(jp_fetch, *timeline, params=params, user="edu")
        assert code == 200, text
        return json.loads(text)["forkRoom"]

    # asked again for an unchanged document: the same fork, not another copy of the history
    first = await fork()
    assert {await fork() for _ in range(5)} == {first}
    # a changed document gets a new fork; past max_timeline_forks the oldest are released
    made = [first]
    for i in range(3):
        with server.rooms[room_id].ydoc.transaction():
            server.rooms[room_id].ydoc.get("r5", type=Map)["edit"] = i
        made.append(await fork())
    assert len(set(made)) == 4
    for gone in made[:2]:
        assert gone not in FORK_DOCUMENTS
        assert gone not in server.rooms
    for kept in made[2:]:
        assert kept in FORK_DOCUMENTS
        assert kept in server.rooms
    # malformed requests are 4xx, not upstream's 500
    code, _ = await call(jp_fetch, *timeline, user="edu")
    assert code == 400
    code, _ = await call(jp_fetch, "api", "collaboration", "timeline", "nope.ipynb",
                         params=params, user="edu")  # fmt: skip
    assert code == 404


@pytest.mark.parametrize(
    ("method", "parts"),
    [
        ("PUT", ("api", "contents", "deep.ipynb")),
        ("POST", ("api", "contents")),
        ("PATCH", ("api", "contents", "nb.ipynb")),
        ("POST", ("api", "sessions")),
        ("POST", ("api", "kernels")),
        ("PUT", ("api", "collaboration", "session", "nb.ipynb")),
        ("POST", ("api", "collaboration", "fork", "json:notebook:x")),
    ],
)
async def test_deep_json_to_other_handlers_is_400(jp_fetch, notebook, method, parts):
    deep = "[" * 100_000 + "]" * 100_000
    code, text = await call(jp_fetch, *parts, method=method, body=deep, user="olga")
    assert code == 400, (parts, code, text)
