"""The comments REST and websocket API in a pytest-jupyter server (no hub).

Users and roles: a test identity provider maps the token ``tok-<name>`` to the user ``<name>``
(any other token falls through to the server's own token check), and the shipped
``StaticRoleResolver`` gives each name its room role (``ROLES``). ``sam`` is authenticated but
not a member; "anonymous" sends no token at all.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import nbformat
import pytest
from jupyter_server.auth.identity import IdentityProvider, User
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from tornado.httpclient import HTTPClientError

from mutirao_lab.comments.model import MAX_BODY_BYTES
from mutirao_lab.comments.roles import StaticRoleResolver

ROLES = {
    "vera": "viewer",
    "cami": "commenter",
    "ceci": "commenter",
    "edu": "editor",
    "olga": "owner",
}
XSS = '<img src=x onerror="alert(1)"><script>alert(document.cookie)</script>'
CELL_A_SOURCE = "print('olá')\n"


class TokenIdentityProvider(IdentityProvider):
    """``Authorization: token tok-<name>`` is the user ``<name>``; cami's display name is
    hostile, to check it is stored and returned as data."""

    async def get_user(self, handler):
        scheme, _, token = handler.request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "token" and token.startswith("tok-"):
            name = token[4:]
            handler._token_authenticated = True  # a token, like the server's own: no XSRF
            display = XSS if name == "cami" else name.title()
            return User(username=name, display_name=display)
        return await super().get_user(handler)


@pytest.fixture
def jp_server_config():
    return {
        "ServerApp": {
            # jupyter_server_ydoc as in a real server: a notebook open for collaboration is
            # read from its live document
            "jpserver_extensions": {
                "mutirao_lab": True,
                "jupyter_server_fileid": True,
                "jupyter_server_ydoc": True,
            },
            "identity_provider_class": TokenIdentityProvider,
        },
        "MutiraoApp": {"role_resolver_class": StaticRoleResolver},
        "StaticRoleResolver": {"roles": ROLES},
    }


def write_notebook(root, name="nb.ipynb", with_a=True):
    cells = [new_markdown_cell("# Title", id="cell-b")]
    if with_a:
        out = new_output("stream", name="stdout", text="olá\n")
        cells.insert(0, new_code_cell(CELL_A_SOURCE, id="cell-a", outputs=[out]))
    nb = new_notebook(cells=cells)
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(root / name))
    return nb


@pytest.fixture
def notebook(jp_root_dir):
    write_notebook(jp_root_dir)
    return "nb.ipynb"


@pytest.fixture
def api(jp_fetch):
    """``await api(method, "threads", ..., user=, body=, params=)`` → ``(status, json)``."""

    async def call(method, *parts, user="olga", body=None, params=None, raw=False):
        headers = {"Authorization": f"token tok-{user}" if user else ""}
        kwargs = {}
        if body is not None:
            kwargs["body"] = body if isinstance(body, (str, bytes)) else json.dumps(body)
        elif method in ("POST", "PATCH"):
            kwargs["body"] = "{}"
        try:
            r = await jp_fetch(
                "mutirao", "api", "comments", *parts,
                method=method, headers=headers, params=params, **kwargs,
            )  # fmt: skip
        except HTTPClientError as e:
            if e.response is None:
                raise
            r = e.response
        if raw:
            return r
        if r.code != 204:
            assert r.headers["Content-Type"].startswith("application/json"), r.headers
        return r.code, (json.loads(r.body) if r.body else None)

    return call


async def new_thread(api, user="ceci", cell="cell-a", body="a thought", **extra):
    code, thread = await api(
        "POST",
        "threads",
        user=user,
        body={"path": "nb.ipynb", "cell_id": cell, "body": body, **extra},
    )
    assert code == 201, thread
    return thread


# -- the role matrix -------------------------------------------------------------------------------

# who acts, and who wrote what they act on: "cami (own)" acts on cami's thread and reply,
# everyone else on ceci's
ACTORS = ["anonymous", "sam", "vera", "cami (own)", "cami", "edu", "olga"]


def _user(actor):
    return None if actor == "anonymous" else actor.split()[0]


async def _act(api, endpoint, actor, thread, reply):
    t, c, r = thread["id"], thread["comments"][0]["id"], reply["comments"][-1]["id"]
    user = _user(actor)
    fid = thread["file_id"]
    calls = {
        "list threads": ("GET", ("threads",), None, {"file_id": fid}),
        "start thread": (
            "POST",
            ("threads",),
            {"file_id": fid, "cell_id": "cell-b", "body": "x"},
            None,
        ),
        "get thread": ("GET", ("threads", t), None, None),
        "reply": ("POST", ("threads", t, "comments"), {"body": "re"}, None),
        "edit reply": ("PATCH", ("threads", t, "comments", r), {"body": "edited"}, None),
        "delete reply": ("DELETE", ("threads", t, "comments", r), None, None),
        "delete first comment": ("DELETE", ("threads", t, "comments", c), None, None),
        "delete thread": ("DELETE", ("threads", t), None, None),
        "resolve": ("POST", ("threads", t, "resolve"), {}, None),
        "reopen": ("POST", ("threads", t, "reopen"), {}, None),
        "mentions": ("GET", ("mentions",), None, None),
        "mark mentions read": ("POST", ("mentions", "read"), {}, None),
        "members": ("GET", ("members",), None, None),
        "export json": ("GET", ("export",), None, {"file_id": fid}),
        "export notebook": ("GET", ("export",), None, {"file_id": fid, "format": "notebook"}),
        "write commented copy": ("POST", ("export",), {"file_id": fid}, None),
    }
    method, parts, body, params = calls[endpoint]
    code, _ = await api(method, *parts, user=user, body=body, params=params)
    return code


READ = [403, 403, 200, 200, 200, 200, 200]
WRITE = [403, 403, 403, 201, 201, 201, 201]
OWN_OR_MODERATOR = [403, 403, 403, 200, 403, 200, 200]
OWN_OR_MODERATOR_204 = [403, 403, 403, 204, 403, 204, 204]
MATRIX = {
    "list threads": READ,
    "start thread": WRITE,
    "get thread": READ,
    "reply": WRITE,
    "edit reply": OWN_OR_MODERATOR,
    "delete reply": OWN_OR_MODERATOR_204,
    # a thread with only one's own comments in it: the reply is the author's too
    "delete first comment": OWN_OR_MODERATOR_204,
    "delete thread": OWN_OR_MODERATOR_204,
    "resolve": OWN_OR_MODERATOR,
    "reopen": OWN_OR_MODERATOR,
    "mentions": READ,
    "mark mentions read": READ,
    "members": READ,
    "export json": READ,
    "export notebook": READ,
    "write commented copy": [403, 403, 403, 403, 403, 201, 201],
}


@pytest.mark.parametrize("endpoint", list(MATRIX))
async def test_role_matrix(api, notebook, endpoint):
    got = []
    for actor in ACTORS:
        author = "cami" if actor == "cami (own)" else "ceci"
        thread = await new_thread(api, user=author)
        code, reply = await api(
            "POST", "threads", thread["id"], "comments", user=author, body={"body": "r"}
        )
        assert code == 201
        if endpoint == "reopen":
            assert (await api("POST", "threads", thread["id"], "resolve", user="olga"))[0] == 200
        got.append(await _act(api, endpoint, actor, thread, reply))
    assert dict(zip(ACTORS, got, strict=True)) == dict(zip(ACTORS, MATRIX[endpoint], strict=True))


async def test_a_commenter_cannot_delete_a_thread_others_replied_to(api, notebook):
    thread = await new_thread(api, user="cami")
    await api("POST", "threads", thread["id"], "comments", user="ceci", body={"body": "mine"})
    assert (await api("DELETE", "threads", thread["id"], user="cami"))[0] == 403
    assert (await api("DELETE", "threads", thread["id"], user="edu"))[0] == 204
    assert (await api("GET", "threads", thread["id"]))[0] == 404


async def test_websocket_role_matrix(jp_ws_fetch, api, notebook):
    thread = await new_thread(api)
    expected = {None: 403, "sam": 403, "vera": 101, "cami": 101, "edu": 101, "olga": 101}
    got = {}
    for user in expected:
        headers = {"Authorization": f"token tok-{user}" if user else ""}
        try:
            ws = await jp_ws_fetch(
                "mutirao", "api", "comments", "events",
                params={"file_id": thread["file_id"]}, headers=headers,
            )  # fmt: skip
        except HTTPClientError as e:
            got[user] = e.code
        else:
            got[user] = 101
            ws.close()
    assert got == expected


# -- live ------------------------------------------------------------------------------------------


async def test_websocket_receives_changes_within_a_second(jp_ws_fetch, api, notebook):
    _, listing = await api("GET", "threads", params={"path": notebook}, user="vera")
    ws = await jp_ws_fetch(
        "mutirao", "api", "comments", "events",
        params={"file_id": listing["file_id"]}, headers={"Authorization": "token tok-vera"},
    )  # fmt: skip
    try:
        thread = await new_thread(api, user="cami", body="live @ceci")
        msg = json.loads(await asyncio.wait_for(ws.read_message(), 1))
        assert msg["type"] == "created"
        assert msg["thread"] == thread
        assert msg["comment_id"] == thread["comments"][0]["id"]

        await api("POST", "threads", thread["id"], "resolve", user="cami")
        msg = json.loads(await asyncio.wait_for(ws.read_message(), 1))
        assert (msg["type"], msg["thread"]["resolved"]) == ("resolved", True)

        await api("DELETE", "threads", thread["id"], user="olga")
        msg = json.loads(await asyncio.wait_for(ws.read_message(), 1))
        assert (msg["type"], msg["thread"]["id"]) == ("deleted", thread["id"])
    finally:
        ws.close()


@pytest.mark.parametrize("body", ["short", "é" * 30_000], ids=["16-bit", "64-bit"])
async def test_websocket_events_of_every_length_arrive_whole(jp_ws_fetch, api, notebook, body):
    """The server frames each event once for all its clients: a short event (16-bit length)
    and one over 64 KiB (a body of accents, escaped in the JSON) reach two clients intact."""
    _, listing = await api("GET", "threads", params={"path": notebook}, user="vera")
    sockets = []
    for user in ("vera", "edu"):
        ws = await jp_ws_fetch(
            "mutirao", "api", "comments", "events",
            params={"file_id": listing["file_id"]}, headers={"Authorization": f"token tok-{user}"},
        )  # fmt: skip
        sockets.append(ws)
    try:
        thread = await new_thread(api, user="cami", body=body)
        for ws in sockets:
            text = await asyncio.wait_for(ws.read_message(), 5)
            assert len(text) > 65535 or body == "short"
            assert json.loads(text)["thread"] == thread
        # the next event follows on the same sockets
        await api("POST", "threads", thread["id"], "resolve", user="cami")
        for ws in sockets:
            msg = json.loads(await asyncio.wait_for(ws.read_message(), 5))
            assert (msg["type"], msg["thread"]["id"]) == ("resolved", thread["id"])
    finally:
        for ws in sockets:
            ws.close()


async def test_websocket_for_an_unknown_file_is_404(jp_ws_fetch, notebook):
    with pytest.raises(HTTPClientError) as e:
        await jp_ws_fetch(
            "mutirao", "api", "comments", "events",
            params={"file_id": "nope"}, headers={"Authorization": "token tok-olga"},
        )  # fmt: skip
    assert e.value.code == 404


# -- threads ---------------------------------------------------------------------------------------


async def test_thread_lifecycle(api, notebook):
    thread = await new_thread(api, user="cami", output_index=0)
    assert thread["cell_id"] == "cell-a"
    assert thread["output_index"] == 0
    assert thread["last_source"] == CELL_A_SOURCE
    assert thread["author"]["username"] == "cami"
    assert [c["body"] for c in thread["comments"]] == ["a thought"]

    code, thread = await api(
        "POST", "threads", thread["id"], "comments", user="ceci", body={"body": "yes"}
    )
    assert code == 201
    reply = thread["comments"][1]
    code, thread = await api(
        "PATCH", "threads", thread["id"], "comments", reply["id"], user="ceci", body={"body": "no"}
    )
    assert code == 200
    assert thread["comments"][1]["body"] == "no"
    assert thread["comments"][1]["edited_at"]

    code, thread = await api("POST", "threads", thread["id"], "resolve", user="cami")
    assert (code, thread["resolved"], thread["resolved_by"]["username"]) == (200, True, "cami")
    code, thread = await api("POST", "threads", thread["id"], "reopen", user="cami")
    assert (code, thread["resolved"], thread["resolved_by"]) == (200, False, None)

    code, _ = await api("DELETE", "threads", thread["id"], "comments", reply["id"], user="ceci")
    assert code == 204
    code, thread = await api("GET", "threads", thread["id"])
    assert len(thread["comments"]) == 1

    _, listing = await api("GET", "threads", params={"path": notebook})
    assert [t["id"] for t in listing["threads"]] == [thread["id"]]
    assert listing["path"] == notebook


async def test_a_cell_only_in_the_live_document_can_get_a_thread(
    api, jp_serverapp, notebook, tmp_path, monkeypatch
):
    # a collaborator added a cell a moment ago; it is not saved yet, but it is there for everyone
    monkeypatch.chdir(tmp_path)  # the room's update store is a file in the current folder
    ydoc = jp_serverapp.web_app.settings["jupyter_server_ydoc"]
    doc = await ydoc.get_document(
        path=notebook, content_type="notebook", file_format="json", copy=False, create=True
    )
    doc.append_cell({"cell_type": "markdown", "source": "live", "metadata": {}, "id": "cell-live"})
    thread = await new_thread(api, cell="cell-live")
    assert thread["last_source"] == "live"


async def test_text_range_anchor(api, notebook):
    thread = await new_thread(api, text_range={"start": 0, "end": 5})
    assert thread["text_range"] == {"start": 0, "end": 5}
    assert thread["output_index"] is None


async def test_a_text_range_follows_the_cells_edits(api, jp_fetch, notebook, jp_root_dir):
    """Text added before the commented words moves the range; a save of the edited notebook
    (as the lab's autosave makes) is enough, before anyone lists threads."""
    words = "print"
    start = CELL_A_SOURCE.index(words)
    thread = await new_thread(api, text_range={"start": start, "end": start + len(words)})
    edited = nbformat.read(str(jp_root_dir / notebook), as_version=4)
    edited.cells[0].source = "# first, a comment line\n" + CELL_A_SOURCE
    await jp_fetch(
        "api", "contents", notebook, method="PUT",
        body=json.dumps({"type": "notebook", "format": "json", "content": edited}),
    )  # fmt: skip
    got = await thread_when(api, thread["id"], lambda t: t["last_source"] != CELL_A_SOURCE)
    r = got["text_range"]
    assert edited.cells[0].source[r["start"] : r["end"]] == words
    assert r["start"] == start + len("# first, a comment line\n")
    # the commented words deleted: an empty range where they were, the thread stays
    edited.cells[0].source = edited.cells[0].source.replace(words, "", 1)
    await jp_fetch(
        "api", "contents", notebook, method="PUT",
        body=json.dumps({"type": "notebook", "format": "json", "content": edited}),
    )  # fmt: skip
    got = await thread_when(api, thread["id"], lambda t: t["text_range"]["end"] == r["start"])
    assert got["text_range"] == {"start": r["start"], "end": r["start"]}
    assert got["outdated"] is False


async def test_a_new_thread_says_where_the_server_spent_its_time(api, notebook):
    """``Server-Timing`` (shown by the browser's developer tools): getting to the handler,
    storing, pushing, and the total."""
    r = await api(
        "POST",
        "threads",
        user="ceci",
        body={"path": "nb.ipynb", "cell_id": "cell-a", "body": "timed"},
        raw=True,
    )
    assert r.code == 201
    steps = dict(s.strip().split(";dur=") for s in r.headers["Server-Timing"].split(","))
    assert set(steps) == {"pre", "db", "push", "app"}
    assert all(float(v) >= 0 for v in steps.values())
    assert sum(float(steps[k]) for k in ("pre", "db", "push")) <= float(steps["app"])


async def test_xss_is_stored_verbatim_and_returned_as_a_json_string(api, notebook):
    thread = await new_thread(api, user="cami", body=XSS)
    r = await api("GET", "threads", thread["id"], raw=True)
    assert r.headers["Content-Type"] == "application/json"
    model = json.loads(r.body)
    assert model["comments"][0]["body"] == XSS
    assert model["author"]["display_name"] == XSS
    # it is data inside a JSON string, never markup the response itself carries
    assert b"<script>" in r.body
    assert r.body.lstrip().startswith(b"{")


# -- hostile input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("{not json", 400),
        ("[1, 2]", 400),
        ('"just a string"', 400),
        ({"path": "nb.ipynb", "cell_id": "cell-a"}, 400),
        ({"path": "nb.ipynb", "cell_id": "cell-a", "body": 42}, 400),
        ({"path": "nb.ipynb", "cell_id": "cell-a", "body": None}, 400),
        ({"path": "nb.ipynb", "cell_id": "cell-a", "body": ["a"]}, 400),
        ({"path": "nb.ipynb", "cell_id": "cell-a", "body": {"html": "x"}}, 400),
        ({"path": "nb.ipynb", "cell_id": "cell-a", "body": "   "}, 400),
        ({"path": "nb.ipynb", "cell_id": 7, "body": "x"}, 400),
        ({"path": "nb.ipynb", "cell_id": "cell-a", "body": "x", "output_index": -1}, 400),
        ({"path": "nb.ipynb", "cell_id": "cell-a", "body": "x", "output_index": "0"}, 400),
        ({"path": "nb.ipynb", "cell_id": "cell-a", "body": "x", "text_range": [0, 1]}, 400),
        (
            {
                "path": "nb.ipynb",
                "cell_id": "cell-a",
                "body": "x",
                "text_range": {"start": 3, "end": 1},
            },
            400,
        ),
        (
            {
                "path": "nb.ipynb",
                "cell_id": "cell-a",
                "body": "x",
                "text_range": {"start": 0, "end": 999},
            },
            400,
        ),
        ({"path": "nb.ipynb", "file_id": "x", "cell_id": "cell-a", "body": "x"}, 400),
        ({"cell_id": "cell-a", "body": "x"}, 400),
        ({"path": "notes.txt", "cell_id": "cell-a", "body": "x"}, 400),
        ({"path": "nb.ipynb", "cell_id": "no-such-cell", "body": "x"}, 404),
        ({"path": "nb.ipynb", "cell_id": "cell-a", "body": "x", "output_index": 1}, 404),
        ({"path": "nb.ipynb", "cell_id": "cell-b", "body": "x", "output_index": 0}, 404),
        ({"path": "missing.ipynb", "cell_id": "cell-a", "body": "x"}, 404),
        ({"path": "../outside.ipynb", "cell_id": "cell-a", "body": "x"}, 404),
        ({"path": ".mutirao/comments.sqlite", "cell_id": "cell-a", "body": "x"}, 404),
        ({"file_id": "0" * 36, "cell_id": "cell-a", "body": "x"}, 404),
        ({"path": "nb.ipynb", "cell_id": "cell-a", "body": "x" * (MAX_BODY_BYTES + 1)}, 413),
        ({"path": "nb.ipynb", "cell_id": "cell-a", "body": "é" * (MAX_BODY_BYTES // 2 + 1)}, 413),
    ],
)
async def test_bad_new_thread(api, notebook, jp_root_dir, body, status):
    (jp_root_dir / "notes.txt").write_text("not a notebook")
    code, model = await api("POST", "threads", body=body)
    assert code == status, model
    assert model["message"]
    _, listing = await api("GET", "threads", params={"path": notebook})
    assert listing["threads"] == []


async def test_a_body_of_exactly_the_limit_is_accepted(api, notebook):
    thread = await new_thread(api, body="x" * MAX_BODY_BYTES)
    assert len(thread["comments"][0]["body"]) == MAX_BODY_BYTES


async def test_a_huge_request_is_refused_before_parsing(api, notebook):
    code, _ = await api("POST", "threads", body="{" + " " * (8 * MAX_BODY_BYTES) + "}")
    assert code == 413


async def test_bad_replies_and_edits(api, notebook):
    thread = await new_thread(api)
    t, c = thread["id"], thread["comments"][0]["id"]
    cases = [
        ("POST", ("threads", t, "comments"), "{oops", 400),
        ("POST", ("threads", t, "comments"), {"body": 1}, 400),
        ("POST", ("threads", t, "comments"), {"body": "x" * (MAX_BODY_BYTES + 1)}, 413),
        ("POST", ("threads", "f" * 32, "comments"), {"body": "x"}, 404),
        ("POST", ("threads", "not%20an%20id", "comments"), {"body": "x"}, 404),
        ("PATCH", ("threads", t, "comments", c), {"body": False}, 400),
        ("PATCH", ("threads", t, "comments", c), {"body": "x" * (MAX_BODY_BYTES + 1)}, 413),
        ("PATCH", ("threads", t, "comments", "f" * 32), {"body": "x"}, 404),
        ("DELETE", ("threads", t, "comments", "f" * 32), None, 404),
        ("DELETE", ("threads", "f" * 32), None, 404),
        ("GET", ("threads", "f" * 32), None, 404),
        ("POST", ("threads", "f" * 32, "resolve"), {}, 404),
        ("POST", ("mentions", "read"), {"comment_ids": "all"}, 400),
        ("POST", ("mentions", "read"), "nope", 400),
    ]
    got = []
    for method, parts, body, _ in cases:
        code, model = await api(method, *parts, body=body)
        assert model is None or model["message"]
        got.append(code)
    assert got == [status for *_, status in cases]


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({}, 400),
        ({"file_id": "nope"}, 404),
        ({"path": "missing.ipynb"}, 404),
        ({"path": "nb.ipynb", "file_id": "x"}, 400),
        ({"path": "nb.ipynb", "format": "pdf"}, 400),
    ],
)
async def test_bad_listing_and_export(api, notebook, params, status):
    if "format" in params:
        code, _ = await api("GET", "export", params=params)
    else:
        code, _ = await api("GET", "threads", params=params)
    assert code == status


async def thread_when(api, thread_id, predicate, timeout=1.0):
    """The thread once ``predicate`` holds (or as it is after ``timeout`` seconds): saves update
    threads from a contents event, handled just after the save has answered."""
    for _ in range(int(timeout / 0.02)):
        _, thread = await api("GET", "threads", thread_id)
        if predicate(thread):
            break
        await asyncio.sleep(0.02)
    return thread


# -- anchoring -------------------------------------------------------------------------------------


async def test_the_thread_follows_a_renamed_notebook(api, jp_fetch, notebook):
    thread = await new_thread(api)
    await jp_fetch("api", "contents", "sub", method="PUT", body=json.dumps({"type": "directory"}))
    r = await jp_fetch(
        "api", "contents", notebook, method="PATCH", body=json.dumps({"path": "sub/renamed.ipynb"})
    )
    assert r.code == 200
    code, listing = await api("GET", "threads", params={"path": "sub/renamed.ipynb"})
    assert code == 200
    assert listing["file_id"] == thread["file_id"]
    assert [t["id"] for t in listing["threads"]] == [thread["id"]]
    code, listing = await api("GET", "threads", params={"file_id": thread["file_id"]})
    assert listing["path"] == "sub/renamed.ipynb"
    assert (await api("GET", "threads", params={"path": notebook}))[0] == 404


async def test_a_deleted_cell_makes_the_thread_outdated_with_its_last_source(
    api, jp_fetch, notebook, jp_root_dir
):
    thread = await new_thread(api)
    edited = nbformat.read(str(jp_root_dir / notebook), as_version=4)
    edited.cells[0].source = "print('edited')\n"
    await jp_fetch(
        "api", "contents", notebook, method="PUT",
        body=json.dumps({"type": "notebook", "format": "json", "content": edited}),
    )  # fmt: skip
    # moving the cell keeps the thread on it: anchors are cell ids, not positions
    edited.cells.reverse()
    await jp_fetch(
        "api", "contents", notebook, method="PUT",
        body=json.dumps({"type": "notebook", "format": "json", "content": edited}),
    )  # fmt: skip
    got = await thread_when(api, thread["id"], lambda t: t["last_source"] != CELL_A_SOURCE)
    assert (got["outdated"], got["last_source"]) == (False, "print('edited')\n")

    without = nbformat.read(str(jp_root_dir / notebook), as_version=4)
    without.cells = [c for c in without.cells if c.id != "cell-a"]
    # the save itself updates the thread, before anyone lists threads
    await jp_fetch(
        "api", "contents", notebook, method="PUT",
        body=json.dumps({"type": "notebook", "format": "json", "content": without}),
    )  # fmt: skip
    got = await thread_when(api, thread["id"], lambda t: t["outdated"])
    assert (got["outdated"], got["last_source"]) == (True, "print('edited')\n")
    _, listing = await api("GET", "threads", params={"path": notebook})
    assert listing["threads"][0]["outdated"] is True
    assert (await api("POST", "threads", thread["id"], "comments", body={"body": "still here"}))[
        0
    ] == 201
    # a new thread cannot anchor to the deleted cell
    code, _ = await api(
        "POST", "threads", body={"path": notebook, "cell_id": "cell-a", "body": "x"}
    )
    assert code == 404

    # undo: the cell is back, and so is the thread
    await jp_fetch(
        "api", "contents", notebook, method="PUT",
        body=json.dumps({"type": "notebook", "format": "json", "content": edited}),
    )  # fmt: skip
    got = await thread_when(api, thread["id"], lambda t: not t["outdated"])
    assert got["outdated"] is False


# -- mentions, members, export ---------------------------------------------------------------------


async def test_mentions(api, notebook):
    thread = await new_thread(api, user="cami", body="@ceci and @EDU, not `@olga`; me: @cami")
    assert thread["comments"][0]["mentions"] == ["ceci", "edu", "cami"]
    code, mine = await api("GET", "mentions", user="ceci")
    assert (code, mine["unread"]) == (200, 1)
    assert mine["mentions"][0]["thread_id"] == thread["id"]
    assert mine["mentions"][0]["path"] == notebook
    assert (await api("GET", "mentions", user="cami"))[1]["unread"] == 0  # not oneself
    assert (await api("GET", "mentions", user="olga"))[1]["unread"] == 0  # code is not a mention

    # an edit that drops a mention drops the unread mention; a new one adds one
    c = thread["comments"][0]["id"]
    await api("PATCH", "threads", thread["id"], "comments", c, user="cami", body={"body": "@olga"})
    assert (await api("GET", "mentions", user="edu"))[1]["unread"] == 0
    assert (await api("GET", "mentions", user="olga"))[1]["unread"] == 1

    code, read = await api("POST", "mentions", "read", user="olga", body={"comment_ids": [c]})
    assert (code, read) == (200, {"unread": 0})
    _, everything = await api("GET", "mentions", user="olga", params={"all": "1"})
    assert [m["read"] for m in everything["mentions"]] == [True]

    await new_thread(api, user="cami", body="@vera")
    await new_thread(api, user="cami", body="@vera again")
    assert (await api("POST", "mentions", "read", user="vera", body={}))[1] == {"unread": 0}


async def test_members(api, notebook):
    code, model = await api("GET", "members", user="edu")
    assert code == 200
    assert model["me"] == {"username": "edu", "role": "editor"}
    assert model["members"] == sorted(ROLES)
    # how each is shown, for the @-autocomplete: edu, who asked, with their identity
    people = {p["username"]: p for p in model["people"]}
    assert list(people) == sorted(ROLES)
    assert people["edu"]["display_name"] == "Edu"


async def test_export(api, jp_fetch, notebook):
    thread = await new_thread(api)
    r = await api("GET", "export", params={"path": notebook}, raw=True)
    assert "nb-comments.json" in r.headers["Content-Disposition"]
    export = json.loads(r.body)
    assert export["format"] == "mutirao-comments"
    assert [t["id"] for t in export["threads"]] == [thread["id"]]

    code, nb = await api("GET", "export", params={"path": notebook, "format": "notebook"})
    assert code == 200
    nbformat.validate(nbformat.from_dict(nb))
    assert nb["metadata"]["mutirao"]["comments"]["threads"][0]["id"] == thread["id"]

    code, written = await api("POST", "export", body={"path": notebook})
    assert (code, written) == (201, {"path": "nb-with-comments.ipynb", "threads": 1})
    code, again = await api("POST", "export", body={"path": notebook})
    assert again["path"] == "nb-with-comments-1.ipynb"
    r = await jp_fetch("api", "contents", "nb-with-comments.ipynb")
    copy = json.loads(r.body)["content"]
    assert copy["metadata"]["mutirao"]["comments"]["file_id"] == thread["file_id"]
    # the original is untouched
    r = await jp_fetch("api", "contents", notebook)
    assert "mutirao" not in json.loads(r.body)["content"]["metadata"]


async def test_the_database_is_in_the_root_dir_and_hidden(api, jp_fetch, notebook, jp_root_dir):
    await new_thread(api)
    assert (jp_root_dir / ".mutirao" / "comments.sqlite").is_file()
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch("api", "contents", ".mutirao", "comments.sqlite")
    assert e.value.code == 404


async def test_path_with_characters_that_need_escaping(api, jp_root_dir):
    name = "a b/ç%40#?.ipynb"
    write_notebook(jp_root_dir, name)
    code, thread = await api(
        "POST", "threads", body={"path": name, "cell_id": "cell-a", "body": "x"}
    )
    assert code == 201
    code, listing = await api("GET", "threads", params={"path": name})
    assert (code, listing["path"]) == (200, name)
    assert [t["id"] for t in listing["threads"]] == [thread["id"]]


def test_every_route_and_method_is_in_the_openapi_file(jp_serverapp):
    import re

    import yaml
    from tornado.web import RequestHandler

    import mutirao_lab

    spec_file = Path(mutirao_lab.__file__).parent / "openapi.yaml"
    spec = yaml.safe_load(spec_file.read_text())
    described = {
        (re.sub(r"\{[^}]+\}", "x1", path), method.upper())
        for path, ops in spec["paths"].items()
        for method in ops
        if method != "parameters"
    }
    app = jp_serverapp.web_app.settings["mutirao_lab"]
    served = set()
    for pattern, handler, *_ in app.handlers:
        route = re.compile(pattern.removeprefix("/mutirao/api"))
        for method in handler.SUPPORTED_METHODS:
            impl = getattr(handler, method.lower())
            if impl is RequestHandler._unimplemented_method or method in ("HEAD", "OPTIONS"):
                continue
            matches = {d for d in described if d[1] == method and route.fullmatch(d[0])}
            assert matches, f"{method} {pattern} is not in openapi.yaml"
            served |= matches
    assert described == served, f"described but not served: {described - served}"
