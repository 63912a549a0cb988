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
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import nbformat
from nbformat.v4 import new_code_cell, new_notebook
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

from ..harness import HubProcess

WRITERS = 100
# Paced: each commenter posts POSTS_EACH times at random moments within WINDOW_S
POSTS_EACH = 3
WINDOW_S = 20.0
USER = "p5-bench"
SEEN_TIMEOUT_S = 30


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1)]


async def measure(
    base: str, token: str, writers: int, schedule: list[tuple[int, float]]
) -> tuple[list[float], int]:
    """Post ``schedule`` ((writer, seconds from start) pairs) with every writer listening."""
    AsyncHTTPClient.configure(None, max_clients=writers)
    http = AsyncHTTPClient()
    headers = {"Authorization": f"token {token}"}
    api = f"{base}mutirao/api/comments/"
    r = await http.fetch(f"{api}threads?path=p5.ipynb", headers=headers)
    file_id = json.loads(r.body)["file_id"]

    ws_url = api.replace("http", "ws", 1) + "events?" + urlencode({"file_id": file_id})
    sockets = await asyncio.gather(
        *(websocket_connect(HTTPRequest(ws_url, headers=headers)) for _ in range(writers))
    )
    total = len(schedule)
    seen: list[dict[str, float]] = [{} for _ in range(writers)]
    everyone = asyncio.Event()
    complete = [0]  # listeners that have seen every post; a count, not a scan per message

    async def listen(i: int) -> None:
        while True:
            msg = await sockets[i].read_message()
            if msg is None:
                return
            event = json.loads(msg)
            if event["type"] == "created":
                seen[i][event["thread"]["comments"][0]["body"]] = time.perf_counter()
                if len(seen[i]) == total:
                    complete[0] += 1
                    if complete[0] == writers:
                        everyone.set()

    listeners = [asyncio.ensure_future(listen(i)) for i in range(writers)]
    sent: dict[str, float] = {}
    acked: set[str] = set()
    start = time.perf_counter()

    async def post(n: int, writer: int, at: float) -> None:
        await asyncio.sleep(max(0.0, start + at - time.perf_counter()))
        body = f"P5 comment {n} by {writer}"
        sent[body] = time.perf_counter()
        request = HTTPRequest(
            f"{api}threads",
            method="POST",
            headers={**headers, "Content-Type": "application/json"},
            body=json.dumps({"path": "p5.ipynb", "cell_id": "cell-a", "body": body}),
            request_timeout=SEEN_TIMEOUT_S,
        )
        try:
            r = await http.fetch(request)
        except HTTPClientError:
            return
        if r.code == 201:
            acked.add(body)

    await asyncio.gather(*(post(n, w, at) for n, (w, at) in enumerate(schedule)))
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(everyone.wait(), SEEN_TIMEOUT_S)
    for s in sockets:
        s.close()
    for task in listeners:
        task.cancel()

    latencies, lost = [], total - len(acked)
    for n, (writer, _) in enumerate(schedule):
        body = f"P5 comment {n} by {writer}"
        if body not in acked:
            continue
        others = [seen[j].get(body) for j in range(writers) if j != writer]
        if any(t is None for t in others):
            lost += 1
            continue
        latencies.append(max(others) - sent[body])  # type: ignore[type-var]
    return latencies, lost


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
            paced, lost = asyncio.run(measure(url, token, writers, schedule))
            burst, burst_lost = asyncio.run(
                measure(url, token, writers, [(w, 0.0) for w in range(writers)])
            )
        finally:
            leaks = hub.stop()
            assert not leaks, leaks
    rate = len(schedule) / WINDOW_S
    return (
        f"P5: writers={writers} p99_ms={ms(paced, 99)} p50_ms={ms(paced, 50)} "
        f"lost={lost + burst_lost} posts={len(schedule)} rate_per_s={rate:.0f} "
        f"burst_p99_ms={ms(burst, 99)} burst_p50_ms={ms(burst, 50)}"
    )


if __name__ == "__main__":
    print(run())
