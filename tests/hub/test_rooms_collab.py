"""Live co-editing in a room through a real hub, proxy and room server, with real Y clients.

Small versions of the P1 and R3 benchmarks (tests/benchmarks/p1_rooms.py, r3_rooms.py), so
their code keeps working, asserting what people would notice: everyone ends with the same
notebook, in the room and on a vanilla jupyter-collaboration server alike; a viewer's edit
reaches nobody; and a room server restarted mid-session through the rooms API loses no saved
edit, duplicates no cell and scrambles no text.

Role changes made through the rooms API (as the share dialog makes them) reach open sessions
at the room server's next reading of its shares (``share_refresh_interval``, left at its
default): a demoted editor's document connection, kernel and terminal sockets are closed and
they come back read-only; a removed member's document and event sockets are closed and they receive
nothing more; a member added back is let in again (not refused for the five minutes the
server caches who a token is). Awareness is the server's: a viewer who announces themselves
as someone else, with a logout link as avatar, or who writes into another person's entry, is
seen by others as themselves. Nothing here is timed (tests/benchmarks/r4_sessions.py is).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from ..benchmarks import p1_rooms, r3_rooms
from ..collab import (
    ADMIN,
    EDITORS,
    ROOM_USER,
    VANILLA,
    VIEWERS,
    CollabHub,
    YClient,
    closed_by_server,
    open_socket,
    start_collab_hub,
    until,
    write_notebook,
)
from ..conftest import ARTIFACTS
from ..harness import wait_for

EDITORS_HERE = ["ed-a", "ed-b", "ed-c"]
VIEWER = "view-v"
DEMOTED = "mover-d"
REMOVED = "mover-r"
# the room server reads its shares every share_refresh_interval (10 s): generous waits
SESSION_CHANGE_S = 120


@pytest.fixture(scope="module")
def collab(tmp_path_factory):
    state = tmp_path_factory.mktemp("collab")
    hub = start_collab_hub(state)
    try:
        hub.add_people([*EDITORS_HERE, "ed-watch"], EDITORS)
        hub.add_people([VIEWER], VIEWERS)
        for name in (DEMOTED, REMOVED):
            hub.add_person(name)
        hub.add_person(ADMIN)
        write_notebook(hub.home(ROOM_USER), cells=1, name="sessions.ipynb")
        write_notebook(hub.home(ROOM_USER), cells=1, name="awareness.ipynb")
        for user in (ROOM_USER, VANILLA):
            write_notebook(hub.home(user), cells=1, name="p1.ipynb")
        write_notebook(hub.home(ROOM_USER), cells=1, name="viewer.ipynb")
        write_notebook(hub.home(ROOM_USER), cells=len(EDITORS_HERE), name="r3.ipynb")
        hub.start_vanilla(EDITORS_HERE)
        hub.start_room(EDITORS_HERE[0])
        yield hub
    finally:
        leaks = hub.hub.stop()
        log = hub.hub.log()
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "rooms-collab-jupyterhub.log").write_text(log)
        assert "JupyterServerAuthWarning" not in log
        assert not leaks, leaks


@pytest.mark.parametrize("server", [ROOM_USER, VANILLA])
def test_every_editor_converges(collab: CollabHub, server):
    latencies, lost, converged = asyncio.run(
        p1_rooms.measure(
            collab.server_url(server),
            EDITORS_HERE,
            collab.tokens,
            "p1.ipynb",
            seed=1,
            edits_total=15,
            window_s=1.5,
        )
    )
    assert lost == 0
    assert len(latencies) == 15
    assert converged


def test_a_viewers_edit_reaches_nobody(collab: CollabHub):
    async def scenario() -> tuple[str, str, str]:
        base = collab.server_url(ROOM_USER)
        editor = YClient("ed-a", base, collab.tokens["ed-a"], "viewer.ipynb")
        other = YClient("ed-b", base, collab.tokens["ed-b"], "viewer.ipynb")
        viewer = YClient(VIEWER, base, collab.tokens[VIEWER], "viewer.ipynb")
        for c in (editor, other, viewer):
            await c.connect()
        try:
            viewer.edit(0, "# typed by the viewer\n")
            # one connection's messages are handled in order: once the editor's later edit
            # reached the viewer, the server had already dropped (or applied) the viewer's
            await asyncio.sleep(0.2)
            editor.edit(0, "# typed by the editor\n")
            await until(lambda: "typed by the editor" in viewer.source(0), what="the editor")
            await until(lambda: "typed by the editor" in other.source(0), what="the editor")
            fresh = YClient("ed-c", base, collab.tokens["ed-c"], "viewer.ipynb")
            await fresh.connect()
            server = fresh.source(0)
            fresh.close()
            return other.source(0), editor.source(0), server
        finally:
            for c in (editor, other, viewer):
                c.close()

    other, editor, server = asyncio.run(scenario())
    for text in (other, editor, server):
        assert "typed by the editor" in text
        assert "typed by the viewer" not in text


def test_a_room_restarted_mid_session_keeps_saved_edits_and_cells(collab: CollabHub):
    out = asyncio.run(
        r3_rooms.scenario(collab, EDITORS_HERE, "ed-watch", rounds=4, path="r3.ipynb")
    )
    assert out.converged, out
    assert out.saved_edits > 0, out
    assert out.duplicated_cells == 0, out
    assert out.lost_saved_edits == 0, out.missing
    assert out.scrambled_cells == 0, out
    assert out.lost_unsaved_edits == 0, out
    # the restart happened: the room's server answers again after it
    assert collab.hub.api("GET", f"users/{ROOM_USER}").json()["servers"][""]["ready"]


async def room_call(collab: CollabHub, who: str, method: str, path: str, body: Any = None) -> Any:
    response = await AsyncHTTPClient().fetch(
        HTTPRequest(
            collab.server_url(ROOM_USER) + path,
            method=method,
            headers={"Authorization": f"token {collab.tokens[who]}"},
            body=None if body is None else json.dumps(body),
            request_timeout=60,
        ),
        raise_error=False,
    )
    return response


def test_a_demoted_editor_stops_writing_in_open_sessions(collab: CollabHub):
    collab.share(ADMIN, DEMOTED, "editor")
    wait_for(lambda: collab.room_status(DEMOTED) == 200, 60, what="the room to let them in")

    async def scenario() -> None:
        base = collab.server_url(ROOM_USER)
        mover = YClient(DEMOTED, base, collab.tokens[DEMOTED], "sessions.ipynb")
        watch = YClient("ed-watch", base, collab.tokens["ed-watch"], "sessions.ipynb")
        for c in (mover, watch):
            await c.connect()
        r = await room_call(collab, DEMOTED, "POST", "api/kernels", {"name": "python3"})
        assert r.code == 201, r.body
        kernel_id = json.loads(r.body)["id"]
        kernel = await open_socket(collab, DEMOTED, f"api/kernels/{kernel_id}/channels")
        r = await room_call(collab, DEMOTED, "POST", "api/terminals", {})
        assert r.code == 200, r.body
        terminal_name = json.loads(r.body)["name"]
        terminal = await open_socket(collab, DEMOTED, f"terminals/websocket/{terminal_name}")
        try:
            mover.edit(0, "# typed as an editor\n")
            await until(lambda: "typed as an editor" in watch.source(0), what="the edit")

            await asyncio.to_thread(collab.share, ADMIN, DEMOTED, "viewer")
            # their document connection is closed with the lab's "role changed" message,
            # and their kernel and terminal sockets too, at the room server's next reading
            # of its shares
            await asyncio.wait_for(mover.closed(), SESSION_CHANGE_S)
            assert mover.close_code == 1003
            assert json.loads(mover.close_reason or "{}")["reason"] == "role_changed"
            await closed_by_server(kernel, SESSION_CHANGE_S)
            await closed_by_server(terminal, SESSION_CHANGE_S)
            r = await room_call(collab, DEMOTED, "GET", f"api/kernels/{kernel_id}")
            assert r.code == 200  # viewers still see the kernel...
            r = await room_call(collab, DEMOTED, "DELETE", f"api/kernels/{kernel_id}")
            assert r.code == 403  # ...and may no longer stop it (nor run code in it)

            # coming back, they read the document but their typing reaches nobody
            await mover.connect()
            assert "typed as an editor" in mover.source(0)
            mover.edit(0, "# typed after the demotion\n")
            # the save is answered after the edit was handled (one connection, in order)
            assert await mover.save() == "skipped"
            watch.edit(0, "# the editor goes on\n")
            await until(lambda: "the editor goes on" in mover.source(0), what="the editor")
            fresh = YClient("ed-c", base, collab.tokens["ed-c"], "sessions.ipynb")
            await fresh.connect()
            fresh.close()
            for text in (fresh.source(0), watch.source(0)):
                assert "the editor goes on" in text
                assert "typed after the demotion" not in text

            # promoted again: the read-only connection is closed the same way (the lab
            # reloads into the new role), and the next one writes
            await asyncio.to_thread(collab.share, ADMIN, DEMOTED, "editor")
            await asyncio.wait_for(mover.closed(), SESSION_CHANGE_S)
            assert mover.close_code == 1003
            assert json.loads(mover.close_reason or "{}")["reason"] == "role_changed"
            await mover.connect()
            mover.edit(0, "# typed after the promotion\n")
            await until(lambda: "typed after the promotion" in watch.source(0), what="it")
        finally:
            kernel.close()
            terminal.close()
            await room_call(collab, "ed-a", "DELETE", f"api/kernels/{kernel_id}")
            await room_call(collab, "ed-a", "DELETE", f"api/terminals/{terminal_name}")
            for c in (mover, watch):
                c.close()

    asyncio.run(scenario())


def test_a_removed_member_stops_receiving_and_an_added_back_one_gets_in(collab: CollabHub):
    collab.share(ADMIN, REMOVED, "viewer")
    wait_for(lambda: collab.room_status(REMOVED) == 200, 60, what="the room to let them in")

    async def scenario() -> None:
        base = collab.server_url(ROOM_USER)
        member = YClient(REMOVED, base, collab.tokens[REMOVED], "sessions.ipynb")
        editor = YClient("ed-b", base, collab.tokens["ed-b"], "sessions.ipynb")
        for c in (member, editor):
            await c.connect()
        events = await open_socket(collab, REMOVED, "api/events/subscribe")
        try:
            editor.edit(0, "# seen by the member\n")
            await until(lambda: "seen by the member" in member.source(0), what="the edit")

            await asyncio.to_thread(collab.share, ADMIN, REMOVED, None)
            await asyncio.wait_for(member.closed(), SESSION_CHANGE_S)
            assert member.close_code == 1003
            assert json.loads(member.close_reason or "{}")["reason"] == "access_revoked"
            await closed_by_server(events, SESSION_CHANGE_S)
            editor.edit(0, "# after the removal\n")
            # nothing reaches them any more, and they cannot come back
            assert "after the removal" not in member.source(0)
            r = await room_call(collab, REMOVED, "GET", "api/contents/sessions.ipynb")
            assert r.code == 403
            with pytest.raises(Exception, match="403"):
                await member.connect(timeout=30)
        finally:
            events.close()
            for c in (member, editor):
                c.close()

    asyncio.run(scenario())
    # the room server now holds an answer for their token without the room in it; added back,
    # they are let in at its next reading of the shares, not when that answer expires (5 min)
    collab.share(ADMIN, REMOVED, "viewer")
    wait_for(
        lambda: collab.room_status(REMOVED) == 200,
        SESSION_CHANGE_S,
        interval=0.5,
        what="the room server to let the member added back in",
    )

    async def back() -> str:
        member = YClient(
            REMOVED, collab.server_url(ROOM_USER), collab.tokens[REMOVED], "sessions.ipynb"
        )
        await member.connect()
        member.close()
        return member.source(0)

    assert "after the removal" in asyncio.run(back())


def test_awareness_shows_each_person_as_the_hub_knows_them(collab: CollabHub):
    async def scenario() -> tuple[YClient, YClient, YClient]:
        base = collab.server_url(ROOM_USER)
        editor = YClient("ed-a", base, collab.tokens["ed-a"], "awareness.ipynb")
        watch = YClient("ed-b", base, collab.tokens["ed-b"], "awareness.ipynb")
        viewer = YClient(VIEWER, base, collab.tokens[VIEWER], "awareness.ipynb")
        for c in (editor, watch, viewer):
            await c.connect()
        try:
            me = {"username": "ed-a", "name": "ed-a", "display_name": "ed-a"}
            editor.send_awareness({"user": me, "cursors": []})
            await until(lambda: editor.doc.client_id in watch.awareness, what="the editor")
            spoof = {
                "username": "ed-a",
                "name": "ed-a",
                "display_name": "Ed A (the real one)",
                "initials": "EA",
                "color": "#000000",
                "avatar_url": "/hub/logout",
            }
            # the viewer writes into the editor's entry, then announces itself as the editor
            viewer.send_awareness({"user": {"name": VIEWER}, "cursors": "x"}, editor.doc.client_id)
            viewer.send_awareness({"user": spoof, "cursors": [{"anchor": 3}]})
            # one connection's messages are forwarded in order: once the second one arrived,
            # the first one had been forwarded or dropped
            await until(lambda: viewer.doc.client_id in watch.awareness, what="the viewer")
        finally:
            for c in (editor, watch, viewer):
                c.close()
        return editor, watch, viewer

    editor, watch, viewer = asyncio.run(scenario())
    seen = watch.awareness[viewer.doc.client_id]
    assert seen["cursors"] == [{"anchor": 3}]
    assert seen["user"]["username"] == VIEWER
    assert seen["user"]["display_name"] == VIEWER  # no display name at the hub: the user name
    assert seen["user"]["initials"] == "VI"
    assert seen["user"]["avatar_url"] is None
    assert seen["user"]["color"] != "#000000"
    editors = [state for cid, state in watch.awareness_seen if cid == editor.doc.client_id]
    assert editors
    assert all(state["user"]["username"] == "ed-a" for state in editors)
