"""R3: a room's server restarted mid-session under 20 editors loses no saved edit and
duplicates no cell.

The demo hub with the room ``room-collab`` (tests/collab.py). A notebook of 20 cells, one per
editor; 20 editors (pycrdt + jupyter-ydoc clients through the proxy, see
:class:`~tests.collab.YClient`) and one watching member have it open. Every ``ROUND_S`` each
editor types a unique marker at the end of its own cell, and every few rounds one of them
saves (jupyter-collaboration's save request, as Ctrl-S sends it). Mid-session the room's
server is stopped and started again through the rooms API, as a member does, while the
editors keep typing (offline edits stay in their documents, as in the lab). Each client
reconnects as the lab does and editing goes on for as many rounds again.

An edit counts as *saved* when a save was requested after the watcher had received it (so
the server had applied it) and the server answered ``success``. At the end a client that
joins fresh reads what the server has, every client must hold the same cells, and:

- ``duplicated_cells``: cells beyond the notebook's 20 distinct ids, in the server's document
  or any client's (the classic failure: a reconnecting client pushes back a copy of every cell
  the restarted server loaded anew),
- ``lost_saved_edits``: saved edits missing from the server's document or from the file on
  disk after a last save.

Also reported: ``lost_unsaved_edits`` (edits never saved that are gone, such as those typed
while the server was away), ``scrambled_cells`` (cells whose markers are out of typing
order) and ``reloads`` (clients the restarted server asked to start from a fresh document).
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import re
import tempfile
import time
from pathlib import Path

import nbformat
from tornado.httpclient import AsyncHTTPClient

from ..collab import EDITORS, ROOM_USER, CollabHub, YClient, start_collab_hub, until, write_notebook

CLIENTS = 20
ROUNDS = 20  # before the restart, and again after it
ROUND_S = 0.25
SAVE_EVERY = 4
PATH = "r3.ipynb"


@dataclasses.dataclass
class Outcome:
    clients: int
    edits: int = 0
    saved_edits: int = 0
    duplicated_cells: int = 0
    lost_saved_edits: int = 0
    lost_unsaved_edits: int = 0
    scrambled_cells: int = 0
    reloads: int = 0
    restart_s: float = 0.0
    converged: bool = False
    missing: list[str] = dataclasses.field(default_factory=list)

    def line(self) -> str:
        return (
            f"R3: duplicated_cells={self.duplicated_cells} "
            f"lost_saved_edits={self.lost_saved_edits} clients={self.clients} "
            f"edits={self.edits} saved_edits={self.saved_edits} "
            f"lost_unsaved_edits={self.lost_unsaved_edits} "
            f"scrambled_cells={self.scrambled_cells} reloads={self.reloads} "
            f"restart_s={self.restart_s:.1f} converged={str(self.converged).lower()}"
        )


def cells_view(client: YClient) -> list[tuple[str, str]]:
    return [(str(c.get("id")), str(c["source"])) for c in client.notebook.ycells]


async def scenario(
    collab: CollabHub,
    people: list[str],
    watcher: str,
    rounds: int = ROUNDS,
    path: str = PATH,
    restart_as: str | None = None,
) -> Outcome:
    """Edit, save, restart the room's server (through the rooms API, as ``restart_as``),
    edit again; check what survived. The room's server must be running."""
    AsyncHTTPClient.configure(None, max_clients=len(people) + 4)
    base = collab.server_url(ROOM_USER)
    n = len(people)
    out = Outcome(clients=n)
    seen_at: dict[str, float] = {}  # marker -> when the watcher first had it
    cell_of: dict[str, int] = {}  # marker -> the editor (and cell) that typed it

    def watch(client: YClient) -> None:
        pending = [m for m in cell_of if m not in seen_at]
        if not pending:
            return
        sources = dict(cells_view(client))
        now = time.perf_counter()
        for marker in pending:
            if marker in sources.get(f"cell-{cell_of[marker]}", ""):
                seen_at[marker] = now

    watching = YClient(watcher, base, collab.tokens[watcher], path, on_change=watch)
    editors = [YClient(p, base, collab.tokens[p], path) for p in people]
    clients = [watching, *editors]
    for c in clients:
        await c.connect()
    saved: set[str] = set()
    rng = random.Random(3)
    count = 0

    async def edit_rounds(k: int) -> None:
        nonlocal count
        for r in range(k):
            for i, client in enumerate(editors):
                if client.synced.is_set() or not client.connected:
                    marker = f"<c{i}e{count}>"
                    count += 1
                    cell_of[marker] = i
                    try:
                        client.edit(client.index_of(f"cell-{i}"), marker)
                    except ValueError:  # a fresh document not in sync yet
                        del cell_of[marker]
            if r % SAVE_EVERY == SAVE_EVERY - 1:
                saver = editors[rng.randrange(n)]
                if saver.connected and saver.synced.is_set():
                    asked = time.perf_counter()
                    candidates = {m for m, t in seen_at.items() if t < asked}
                    try:
                        if await saver.save() == "success":
                            saved.update(candidates)
                    except (ConnectionError, asyncio.TimeoutError):
                        pass
            await asyncio.sleep(ROUND_S)

    async def keep_connected(client: YClient, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if not client.connected:
                await client.reconnect()
            await asyncio.sleep(0.1)

    stop = asyncio.Event()
    keepers = [asyncio.ensure_future(keep_connected(c, stop)) for c in clients]
    try:
        await edit_rounds(rounds)
        t0 = time.perf_counter()
        restarting = asyncio.ensure_future(
            asyncio.to_thread(restart, collab, restart_as or people[0])
        )
        while not restarting.done():
            await edit_rounds(1)
        await restarting
        await until(lambda: all(c.connected and c.synced.is_set() for c in clients), 120,
                    what="every client to reconnect")  # fmt: skip
        out.restart_s = time.perf_counter() - t0
        await edit_rounds(rounds)
        # a last save once the watcher has everything the connected editors typed
        await until(lambda: all(m in seen_at for m in cell_of), 30, what="the last edits")
        asked = time.perf_counter()
        if await editors[0].save() == "success":
            saved.update(m for m, t in seen_at.items() if t < asked)
    finally:
        stop.set()
        for k in keepers:
            k.cancel()

    fresh = YClient(watcher, base, collab.tokens[watcher], path)
    await fresh.connect()
    server = cells_view(fresh)
    try:
        await until(lambda: all(cells_view(c) == server for c in clients), 30, what="convergence")
        out.converged = True
    except TimeoutError:
        out.converged = False
    ids = [cid for cid, _ in server]
    out.duplicated_cells = max(
        len(ids) - len(set(ids)),
        *(len(v) - len({cid for cid, _ in v}) for v in map(cells_view, clients)),
    )
    on_disk = nbformat.read(str(collab.home(ROOM_USER) / path), as_version=4)
    disk_text = "".join(str(cell.source) for cell in on_disk.cells)
    live_text = "".join(src for _, src in server)
    missing = sorted(m for m in saved if m not in live_text or m not in disk_text)
    out.missing = missing
    out.lost_saved_edits = len(missing)
    out.lost_unsaved_edits = sum(1 for m in cell_of if m not in saved and m not in live_text)
    # each editor types at the end of its own cell: its markers must stay in typing order
    for _, src in server:
        numbers = [int(x) for x in re.findall(r"<c\d+e(\d+)>", src)]
        out.scrambled_cells += numbers != sorted(numbers)
    out.edits = len(cell_of)
    out.saved_edits = len(saved)
    out.reloads = sum(c.reloads for c in clients)
    for c in [*clients, fresh]:
        c.close()
    await asyncio.sleep(0.3)
    return out


def restart(collab: CollabHub, who: str) -> None:
    collab.stop_room(who)
    collab.start_room(who)


def run(clients: int = CLIENTS) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        collab = start_collab_hub(Path(tmp))
        try:
            people = [f"r3-{i:02d}" for i in range(clients)]
            collab.add_people([*people, "r3-watch"], EDITORS)
            write_notebook(collab.home(ROOM_USER), cells=clients, name=PATH)
            collab.start_room(people[0])
            out = asyncio.run(scenario(collab, people, "r3-watch"))
        finally:
            leaks = collab.hub.stop()
            assert not leaks, leaks
    return out.line()


if __name__ == "__main__":
    print(run())
