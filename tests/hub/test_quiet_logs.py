"""A normal session's hub log is quiet: start, spawn, co-edit, Ctrl-C.

The demo hub as ``make demo`` runs it (npm proxy, local authenticator, rooms service and its
seeded room ``ml-research``). A member signs in, starts the room's server from the rooms API and
opens a notebook there in a collaborative client; the hub is then stopped with SIGINT, as Ctrl-C
in a terminal does, while the notebook is open. What an admin reading the log must not see: an
ERROR when the servers stop, the room account's warning at each of its share refreshes, a
deprecation warning at start.
"""

from __future__ import annotations

import asyncio
import signal

import requests

from ..collab import YClient, write_notebook
from ..harness import HubProcess, wait_for

ROOM_USER = "room-ml-research"
NOISE = [
    "could not update the threads",
    "cannot schedule new futures after shutdown",
    "is no longer in the users file",
    "stale auth info",
    "extra_handlers is deprecated",
]


def test_start_spawn_and_ctrl_c_log_no_error_and_no_noise(tmp_path):
    # the tests' own service replaced the demo's services: the rooms service comes back here
    rooms = f"""
        from mutirao_hub.rooms.config import rooms_service_config
        rooms_service_config(c, state_dir={str(tmp_path / "rooms")!r}, seed_rooms=[
            {{"name": "ml-research", "teams": {{"ml-research": "editor"}}}}])
        """
    hub = HubProcess(tmp_path / "hub", extra_config=rooms).start(timeout=120)
    try:
        wait_for(
            lambda: hub.api("GET", f"users/{ROOM_USER}").status_code == 200,
            60,
            what="the rooms service to seed the room",
        )
        hub.login("ana")  # a member of ml-research, from the users file
        token = hub.user_token("ana")
        write_notebook(tmp_path / "hub" / "homes" / ROOM_USER, cells=2, name="quiet.ipynb")
        r = requests.post(
            f"{hub.url}services/mutirao-rooms/api/rooms/ml-research/server",
            headers={"Authorization": f"token {token}"},
            timeout=60,
        )
        assert r.status_code in (200, 201, 202), r.text

        def ready() -> bool:
            server = hub.api("GET", f"users/{ROOM_USER}").json()["servers"].get("")
            return bool(server and server["ready"])

        wait_for(ready, 120, interval=0.3, what="the room's server")
        # the room's server has asked the hub for its shares with its own token (it does every
        # share_refresh_interval), which is when the hub refreshes the room account
        wait_for(
            lambda: f"Refreshing auth for {ROOM_USER}" in hub.log(),
            60,
            what="the room's server to be seen by the hub",
        )

        # a thread on the notebook, on a range of its text: its anchor follows every save
        r = requests.post(
            hub.user_url(ROOM_USER, "mutirao/api/comments/threads"),
            headers={"Authorization": f"token {token}"},
            json={"path": "quiet.ipynb", "cell_id": "cell-0", "body": "why 0?",
                  "text_range": {"start": 2, "end": 6}},
            timeout=60,
        )  # fmt: skip
        assert r.status_code == 201, r.text

        async def edit_then_ctrl_c() -> None:
            client = YClient("ana", hub.user_url(ROOM_USER), token, "quiet.ipynb")
            await client.connect()
            client.edit(0, "x = 1\n")
            hub.proc.send_signal(signal.SIGINT)
            await asyncio.to_thread(hub.proc.wait, 60)
            client.close()

        asyncio.run(edit_then_ctrl_c())
    finally:
        leaks = hub.stop()
    assert not leaks, leaks
    log = hub.log()
    assert "Mutirão: saved 1 of 1 open documents on stop" in log  # the scenario happened
    assert [line for line in log.splitlines() if line.startswith("[E ")] == []
    assert [n for n in NOISE if n in log] == []
