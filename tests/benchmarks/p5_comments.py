"""P5: 100 concurrent commenters on one notebook, through the proxy of a real hub.

One user's server behind the demo hub and its npm proxy. Every commenter holds the notebook's
comments websocket open (``events?file_id=``), as the lab does. A post's latency is from sending
it to the moment the slowest of the *other* commenters' websockets has it: post-to-seen-by-others.
``lost`` counts posts that were not acknowledged (HTTP 201) or that some other commenter never
saw.

Two loads, both with 100 commenters connected. The headline (``p99_ms``, ``p50_ms``) is paced:
each commenter posts three times at random moments within 20 s (15 posts/s for the room, each
fanned out to 99 listeners: far busier than people commenting). ``burst_*`` is the worst case:
all 100 post in the same instant, 10,000 deliveries at once; on a 2-core machine that runs the
hub, the proxy and the 100 clients too, it measures the machine's CPU more than the server.

The clients are kept cheap, so that they measure the server rather than themselves: the 100
websockets are spread over ``LISTENER_PROCS`` processes (aiohttp, whose websocket reader is
compiled), each message is only searched for the post's number (not parsed), and the posts go
over aiohttp's kept-alive connections, as a browser's do. Every process stamps with
``time.perf_counter`` (the system-wide monotonic clock on Linux), so stamps compare across them.

Where the time goes: ``ack_p50/p99_ms`` is post to HTTP 201 at the client (proxy, server, disk),
``server_p50/p99_ms`` the server's own time for the same requests, and ``pre_p99_ms``,
``db_p99_ms`` and ``push_p99_ms`` the parts of it spent before the handler ran (reading the
request, signing in, waiting for the event loop), storing the comment (the wait for its group
commit) and handing the event to the 100 websockets (from its ``Server-Timing`` header).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import multiprocessing
import random
import re
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from ..harness import HubProcess

WRITERS = 100
# Paced: each commenter posts POSTS_EACH times at random moments within WINDOW_S
POSTS_EACH = 3
WINDOW_S = 20.0
USER = "p5-bench"
SEEN_TIMEOUT_S = 30
# processes that hold the listening websockets (the posts go from the main process)
LISTENER_PROCS = 4
# a post's body carries its number between two markers, found without parsing the event
MARK = re.compile(r"P5#(\d+)#")
# the server's own time for a request, as its Server-Timing header gives it
SERVER_TIMING = re.compile(r"\b(\w+);dur=([\d.]+)")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1)]


def listen(ws_url: str, headers: dict[str, str], sockets: int, total: int, conn: Connection):
    """A listener process: open ``sockets`` websockets, say so, and record when each sees each
    post; hand back ``[{post number: seen at}, ...]`` once all are seen or when told to stop."""

    async def main() -> list[dict[int, float]]:
        seen: list[dict[int, float]] = [{} for _ in range(sockets)]
        done = asyncio.Event()
        complete = [0]
        async with aiohttp.ClientSession(headers=headers) as session:
            wss = await asyncio.gather(
                *(session.ws_connect(ws_url, max_msg_size=0) for _ in range(sockets))
            )
            conn.send("ready")

            async def read(i: int) -> None:
                mine = seen[i]
                async for msg in wss[i]:
                    m = MARK.search(msg.data)
                    if m is not None:
                        mine.setdefault(int(m.group(1)), time.perf_counter())
                        if len(mine) == total:
                            complete[0] += 1
                            if complete[0] == sockets:
                                done.set()

            readers = [asyncio.ensure_future(read(i)) for i in range(sockets)]
            stop = asyncio.Event()
            asyncio.get_running_loop().add_reader(conn.fileno(), stop.set)
            waiters = [asyncio.ensure_future(e.wait()) for e in (done, stop)]
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            for task in (*readers, *waiters):
                task.cancel()
            for ws in wss:
                await ws.close()
        return seen

    seen = asyncio.run(main())
    with contextlib.suppress(OSError):  # the parent gave up waiting
        conn.send(seen)
    conn.close()


async def measure(
    base: str, token: str, writers: int, schedule: list[tuple[int, float]]
) -> tuple[list[float], list[float], dict[str, list[float]], int]:
    """Post ``schedule`` ((writer, seconds from start) pairs) with every writer listening;
    returns post-to-seen-by-others latencies, post-to-acknowledged latencies, the server's
    own times, and the number of lost posts."""
    headers = {"Authorization": f"token {token}"}
    api = f"{base}mutirao/api/comments/"
    connector = aiohttp.TCPConnector(limit=writers)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as http:
        async with http.get(f"{api}threads", params={"path": "p5.ipynb"}) as r:
            file_id = (await r.json())["file_id"]
        ws_url = api.replace("http", "ws", 1) + "events?" + urlencode({"file_id": file_id})
        total = len(schedule)

        # writer w listens on socket w: process w // per, socket w % per
        ctx = multiprocessing.get_context("spawn")
        per = math.ceil(writers / LISTENER_PROCS)
        counts = [min(per, writers - k * per) for k in range(LISTENER_PROCS) if k * per < writers]
        pipes, procs = [], []
        for n in counts:
            mine, theirs = ctx.Pipe()
            p = ctx.Process(target=listen, args=(ws_url, headers, n, total, theirs), daemon=True)
            p.start()
            theirs.close()
            pipes.append(mine)
            procs.append(p)
        try:
            for conn in pipes:
                if not await asyncio.to_thread(conn.poll, 120) or conn.recv() != "ready":
                    raise RuntimeError("a listener process did not connect")

            sent: dict[int, float] = {}
            acked: dict[int, float] = {}
            server: dict[str, list[float]] = {"app": [], "pre": [], "db": [], "push": []}
            start = time.perf_counter()

            async def post(n: int, writer: int, at: float) -> None:
                await asyncio.sleep(max(0.0, start + at - time.perf_counter()))
                body = {"path": "p5.ipynb", "cell_id": "cell-a", "body": f"P5#{n}# by {writer}"}
                sent[n] = time.perf_counter()
                with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                    async with http.post(
                        f"{api}threads",
                        data=json.dumps(body),
                        headers={"Content-Type": "application/json"},
                        timeout=aiohttp.ClientTimeout(total=SEEN_TIMEOUT_S),
                    ) as r:
                        await r.read()
                        if r.status == 201:
                            acked[n] = time.perf_counter()
                            timing = r.headers.get("Server-Timing", "")
                            for step, dur in SERVER_TIMING.findall(timing):
                                server.setdefault(step, []).append(float(dur) / 1000)

            await asyncio.gather(*(post(n, w, at) for n, (w, at) in enumerate(schedule)))
            seen: list[dict[int, float]] = []
            for conn in pipes:
                if not await asyncio.to_thread(conn.poll, SEEN_TIMEOUT_S):
                    conn.send("stop")
                seen.extend(await asyncio.to_thread(conn.recv))
        finally:
            for p in procs:
                p.join(10)
                if p.is_alive():
                    p.kill()

    latencies, acks, lost = [], [], total - len(acked)
    for n, (writer, _) in enumerate(schedule):
        if n not in acked:
            continue
        acks.append(acked[n] - sent[n])
        others = [seen[j].get(n) for j in range(writers) if j != writer]
        if any(t is None for t in others):
            lost += 1
            continue
        latencies.append(max(others) - sent[n])  # type: ignore[type-var]
    return latencies, acks, server, lost


def paced_schedule(writers: int, posts_each: int, window_s: float) -> list[tuple[int, float]]:
    """Each writer posts ``posts_each`` times at seeded random moments within the window."""
    rng = random.Random(5)
    return sorted(
        ((w, rng.uniform(0, window_s)) for w in range(writers) for _ in range(posts_each)),
        key=lambda p: p[1],
    )


def ms(values: list[float], p: float) -> str:
    return f"{percentile(values, p) * 1000:.0f}" if values else "nan"


def run(writers: int = WRITERS) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        hub = HubProcess(Path(tmp))
        hub.start(timeout=120)
        try:
            assert hub.api("POST", f"users/{USER}").status_code == 201
            hub.spawn(USER, timeout=120)
            nb = new_notebook(cells=[new_code_cell("x = 1", id="cell-a")])
            home = Path(tmp) / "homes" / USER
            home.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, str(home / "p5.ipynb"))
            token = hub.user_token(USER)
            url = hub.user_url(USER)
            schedule = paced_schedule(writers, POSTS_EACH, WINDOW_S)
            paced, acks, server, lost = asyncio.run(measure(url, token, writers, schedule))
            burst, _, _, burst_lost = asyncio.run(
                measure(url, token, writers, [(w, 0.0) for w in range(writers)])
            )
        finally:
            leaks = hub.stop()
            assert not leaks, leaks
    rate = len(schedule) / WINDOW_S
    return (
        f"P5: writers={writers} p99_ms={ms(paced, 99)} p50_ms={ms(paced, 50)} "
        f"lost={lost + burst_lost} posts={len(schedule)} rate_per_s={rate:.0f} "
        f"ack_p50_ms={ms(acks, 50)} ack_p99_ms={ms(acks, 99)} "
        f"server_p50_ms={ms(server['app'], 50)} server_p99_ms={ms(server['app'], 99)} "
        f"pre_p99_ms={ms(server['pre'], 99)} db_p99_ms={ms(server['db'], 99)} "
        f"push_p99_ms={ms(server['push'], 99)} "
        f"burst_p99_ms={ms(burst, 99)} burst_p50_ms={ms(burst, 50)}"
    )


if __name__ == "__main__":
    print(run())
