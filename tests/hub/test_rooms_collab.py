"""Live co-editing in a room through a real hub, proxy and room server, with real Y clients.

Small versions of the P1 and R3 benchmarks (tests/benchmarks/p1_rooms.py, r3_rooms.py), so
their code keeps working, asserting what people would notice: everyone ends with the same
notebook, in the room and on a vanilla jupyter-collaboration server alike; a viewer's edit
reaches nobody (a known failure through the hub, see the test's mark); and a room server
restarted mid-session through the rooms API loses no saved edit, duplicates no cell and
scrambles no text. Nothing here is timed.
"""

from __future__ import annotations

import asyncio

import pytest

from ..benchmarks import p1_rooms, r3_rooms
from ..collab import (
    EDITORS,
    ROOM_USER,
    VANILLA,
    VIEWERS,
    CollabHub,
    YClient,
    start_collab_hub,
    until,
    write_notebook,
)
from ..conftest import ARTIFACTS

EDITORS_HERE = ["ed-a", "ed-b", "ed-c"]
VIEWER = "view-v"


@pytest.fixture(scope="module")
def collab(tmp_path_factory):
    state = tmp_path_factory.mktemp("collab")
    hub = start_collab_hub(state)
    try:
        hub.add_people([*EDITORS_HERE, "ed-watch"], EDITORS)
        hub.add_people([VIEWER], VIEWERS)
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
