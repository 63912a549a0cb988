"""P1: live co-editing latency in a room against vanilla jupyter-collaboration, same hub.

One demo hub (npm proxy, hub auth, rooms service) runs two servers: the room ``room-collab``
(Mutirão's server extension: the role Authorizer, the viewer filter on the collaboration
websocket, the start-up garbage-collector tuning) and ``collab-vanilla``, a plain user's server
with jupyter-collaboration as it comes, shared with the same people through JupyterHub's
sharing API (see tests/collab.py). For each N, N people (editors) open one notebook on one
server as JupyterLab does (``api/collaboration/session``, then the document websocket through
the proxy with their token) with pycrdt + jupyter-ydoc clients, all in this one asyncio
process. Paced edits: ``EDITS`` edits at seeded random moments within ``WINDOW_S``, each by a
random client typing a short marker into the notebook's first cell. An edit's latency is from
sending it to the moment the slowest of the *other* N-1 clients has applied it to its
document. ``lost`` counts edits some client never received (within 30 s).

Vanilla and room alternate for each N (vanilla first), on a fresh notebook each time. Output:
one line per N, ``P1: clients=N p50_ms p99_ms`` (the room) ``ratio_p50 ratio_p99`` (room /
vanilla) and the vanilla figures. The clients share the machine's CPU with the hub, the proxy
and the server, so at N=100 part of each latency is the client side decoding 99 copies.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import math
import random
import tempfile
import time
from pathlib import Path

from tornado.httpclient import AsyncHTTPClient

from ..collab import (
    EDITORS,
    ROOM_USER,
    VANILLA,
    CollabHub,
    YClient,
    start_collab_hub,
    write_notebook,
)

CLIENTS = (2, 20, 100)
EDITS = 300
WINDOW_S = 30.0
WARMUP_EDITS = 10
ARRIVAL_TIMEOUT_S = 30.0


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1)]


class Edits:
    """Edits in flight: who sent each, when, and which clients have it."""

    def __init__(self, clients: int):
        self.clients = clients
        self.pending: dict[str, tuple[int, float, set[int]]] = {}
        self.latencies: dict[str, float] = {}
        self.done = asyncio.Event()
        self.expected = 0

    def sent(self, marker: str, writer: int) -> None:
        self.pending[marker] = (writer, time.perf_counter(), set())

    def on_change(self, index: int, client: YClient) -> None:
        if not self.pending:
            return
        text = client.source(0)
        now = time.perf_counter()
        for marker, (writer, t0, have) in list(self.pending.items()):
            if index == writer or index in have or marker not in text:
                continue
            have.add(index)
            if len(have) == self.clients - 1:
                self.latencies[marker] = now - t0
                del self.pending[marker]
                if len(self.latencies) == self.expected:
                    self.done.set()


async def connect_all(base_url: str, people: list[str], tokens: dict[str, str], path: str, edits):
    clients: list[YClient] = []
    for i, name in enumerate(people):
        notify = functools.partial(edits.on_change, i)
        clients.append(YClient(name, base_url, tokens[name], path, on_change=notify))
    gate = asyncio.Semaphore(10)  # as people arrive, not all in the same millisecond

    async def one(client: YClient) -> None:
        async with gate:
            await client.connect(timeout=120)

    await asyncio.gather(*(one(c) for c in clients))
    return clients


async def measure(
    base_url: str,
    people: list[str],
    tokens: dict[str, str],
    path: str,
    seed: int,
    edits_total: int = EDITS,
    window_s: float = WINDOW_S,
) -> tuple[list[float], int, bool]:
    """Latencies (s) of the paced edits on one server, how many were lost, and whether every
    client ended with the same notebook."""
    AsyncHTTPClient.configure(None, max_clients=max(10, len(people)))
    n = len(people)
    edits = Edits(n)
    clients = await connect_all(base_url, people, tokens, path, edits)
    try:
        rng = random.Random(seed)
        # warm-up: the first edits pay for lazy start-up in the server; not measured
        for k in range(WARMUP_EDITS):
            writer = rng.randrange(n)
            marker = f"#w{k};"
            edits.expected = len(edits.latencies) + 1
            edits.done.clear()
            edits.sent(marker, writer)
            clients[writer].edit(0, marker)
            await asyncio.wait_for(edits.done.wait(), ARRIVAL_TIMEOUT_S)
        edits.latencies.clear()
        edits.expected = edits_total
        edits.done.clear()
        schedule = sorted((rng.uniform(0, window_s), rng.randrange(n)) for _ in range(edits_total))
        start = time.perf_counter()
        for k, (at, writer) in enumerate(schedule):
            delay = start + at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            marker = f"#e{k};"
            edits.sent(marker, writer)
            clients[writer].edit(0, marker)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(edits.done.wait(), ARRIVAL_TIMEOUT_S)
        converged = len({c.source(0) for c in clients}) == 1
        return list(edits.latencies.values()), edits_total - len(edits.latencies), converged
    finally:
        for c in clients:
            c.close()
        await asyncio.sleep(0.5)


def ms(values: list[float], p: float) -> float:
    return percentile(values, p) * 1000 if values else math.nan


def run(clients: tuple[int, ...] = CLIENTS) -> str:
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        collab: CollabHub = start_collab_hub(Path(tmp))
        try:
            people = [f"p1-{i:03d}" for i in range(max(clients))]
            collab.add_people(people, EDITORS)
            for n in clients:
                for user in (ROOM_USER, VANILLA):
                    write_notebook(collab.home(user), cells=1, name=f"p1-{n}.ipynb")
            collab.start_vanilla(people)
            collab.start_room(people[0])
            for n in clients:
                path = f"p1-{n}.ipynb"
                results = {}
                for user in (VANILLA, ROOM_USER):
                    gc.collect()
                    results[user] = asyncio.run(
                        measure(collab.server_url(user), people[:n], collab.tokens, path, seed=n)
                    )
                (room, room_lost, _), (van, van_lost, _) = results[ROOM_USER], results[VANILLA]
                r50, r99, v50, v99 = ms(room, 50), ms(room, 99), ms(van, 50), ms(van, 99)
                lines.append(
                    f"P1: clients={n} p50_ms={r50:.1f} p99_ms={r99:.1f} "
                    f"ratio_p50={r50 / v50:.2f} ratio_p99={r99 / v99:.2f} "
                    f"vanilla_p50_ms={v50:.1f} vanilla_p99_ms={v99:.1f} "
                    f"edits={EDITS} window_s={WINDOW_S:.0f} lost={room_lost + van_lost}"
                )
        finally:
            leaks = collab.hub.stop()
            assert not leaks, leaks
    return "\n".join(lines)


if __name__ == "__main__":
    print(run())
