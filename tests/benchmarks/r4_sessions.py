"""R4 (open sessions): how soon a role change made through the rooms API reaches open sessions.

The demo hub with the room ``room-collab`` (tests/collab.py), its server at the default
``MutiraoApp.share_refresh_interval`` (10 s). A hub admin changes shares through the rooms API,
as a room's owner does from the share dialog; each figure starts when that call has answered.

- ``demote_write_stop_s``: an editor types into a notebook every ``TICK_S`` on their open
  document connection (pycrdt + jupyter-ydoc, :class:`~tests.collab.YClient`) and is demoted
  to viewer: the time until the last of their edits that still reached another editor was
  typed.
- ``revoke_read_stop_s``: a viewer watches an editor type every ``TICK_S`` and their share is
  revoked: the time until the last edit that still reached them arrived.
- ``readd_allow_s``: that person, refused by the room's server since (it has an answer for
  their token without the room in it), is given a share again: the time until the room's
  server answers their token's REST call with 200 (asked every ``TICK_S``).

Goal: each at most ``share_refresh_interval`` + 5 s.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
import time
from pathlib import Path

from ..collab import (
    ADMIN,
    EDITORS,
    ROOM_USER,
    CollabHub,
    YClient,
    start_collab_hub,
    until,
    write_notebook,
)

TICK_S = 0.1
SHARE_REFRESH_INTERVAL_S = 10.0  # MutiraoApp.share_refresh_interval's default
WAIT_S = 120
PATH = "r4.ipynb"
MOVER = "r4-mover"
WATCHER = "r4-watch"


async def _demote(collab: CollabHub, base: str) -> float:
    await asyncio.to_thread(collab.share, ADMIN, MOVER, "editor")
    await until(lambda: collab.room_status(MOVER) == 200, WAIT_S, what="the editor to be let in")
    mover = YClient(MOVER, base, collab.tokens[MOVER], PATH)
    watch = YClient(WATCHER, base, collab.tokens[WATCHER], PATH)
    for c in (mover, watch):
        await c.connect()
    typed: dict[int, float] = {}
    try:
        t0 = 0.0
        n = 0
        while True:
            n += 1
            typed[n] = time.monotonic()
            mover.edit(0, f"<d{n}>")
            if n == 5:
                await asyncio.to_thread(collab.share, ADMIN, MOVER, "viewer")
                t0 = time.monotonic()
            if not mover.connected:
                break
            if t0 and time.monotonic() - t0 > WAIT_S:
                raise TimeoutError("the demoted editor's connection stayed open")
            await asyncio.sleep(TICK_S)
        # what the room's document holds now, as someone who opens it gets it
        fresh = YClient(WATCHER, base, collab.tokens[WATCHER], PATH)
        await fresh.connect()
        fresh.close()
        reached = [int(x) for x in re.findall(r"<d(\d+)>", fresh.source(0))]
        return max(0.0, typed[max(reached)] - t0)
    finally:
        for c in (mover, watch):
            c.close()


async def _revoke(collab: CollabHub, base: str) -> float:
    await asyncio.to_thread(collab.share, ADMIN, MOVER, "viewer")
    arrived: dict[str, float] = {}

    def seen(client: YClient) -> None:
        for marker in re.findall(r"<r\d+>", client.source(0)):
            arrived.setdefault(marker, time.monotonic())

    member = YClient(MOVER, base, collab.tokens[MOVER], PATH, on_change=seen)
    editor = YClient(WATCHER, base, collab.tokens[WATCHER], PATH)
    for c in (member, editor):
        await c.connect()
    try:
        t0 = 0.0
        n = 0
        while member.connected:
            n += 1
            editor.edit(0, f"<r{n}>")
            if n == 5:
                await asyncio.to_thread(collab.share, ADMIN, MOVER, None)
                t0 = time.monotonic()
            if t0 and time.monotonic() - t0 > WAIT_S:
                raise TimeoutError("the removed member's connection stayed open")
            await asyncio.sleep(TICK_S)
        return max(0.0, max(arrived.values()) - t0)
    finally:
        for c in (member, editor):
            c.close()


async def _readd(collab: CollabHub) -> float:
    # refused now (and the room's server holds that answer for their token)
    await until(lambda: collab.room_status(MOVER) == 403, WAIT_S, what="the member to be refused")
    await asyncio.to_thread(collab.share, ADMIN, MOVER, "viewer")
    t0 = time.monotonic()
    while await asyncio.to_thread(collab.room_status, MOVER) != 200:
        if time.monotonic() - t0 > 600:
            raise TimeoutError("the member added back stayed refused")
        await asyncio.sleep(TICK_S)
    return time.monotonic() - t0


async def _measure(collab: CollabHub) -> dict[str, float]:
    base = collab.server_url(ROOM_USER)
    return {
        "demote_write_stop_s": round(await _demote(collab, base), 1),
        "revoke_read_stop_s": round(await _revoke(collab, base), 1),
        "readd_allow_s": round(await _readd(collab), 1),
    }


def measure() -> dict[str, float]:
    """The three figures, through a real hub started for the purpose (and stopped after)."""
    with tempfile.TemporaryDirectory() as tmp:
        collab = start_collab_hub(Path(tmp))
        try:
            collab.add_people([WATCHER], EDITORS)
            for name in (MOVER, ADMIN):
                collab.add_person(name)
            write_notebook(collab.home(ROOM_USER), cells=1, name=PATH)
            collab.start_room(WATCHER)
            out = asyncio.run(_measure(collab))
        finally:
            leaks = collab.hub.stop()
            assert not leaks, leaks
    return {**out, "share_refresh_interval_s": SHARE_REFRESH_INTERVAL_S}


def line(figures: dict[str, float]) -> str:
    return "R4: " + " ".join(f"{k}={v}" for k, v in figures.items())


def run() -> str:
    return line(measure())


if __name__ == "__main__":
    print(run())
