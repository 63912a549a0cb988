"""P5: 100 concurrent commenters on one notebook, through the proxy of a real hub.

One user's server behind the demo hub and its npm proxy. Every commenter holds the notebook's
comments websocket open (``events?file_id=``), as the lab does, then all of them start a thread
at once. A post's latency is from sending it to the moment the slowest of the *other*
commenters' websockets has it: post-to-seen-by-others. ``lost`` counts posts that were not
acknowledged (HTTP 201) or that some other commenter never saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
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
USER = "p5-bench"
SEEN_TIMEOUT_S = 30


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1)]


async def measure(base: str, token: str, writers: int) -> tuple[list[float], int]:
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
                if len(seen[i]) == writers:
                    complete[0] += 1
                    if complete[0] == writers:
                        everyone.set()

    listeners = [asyncio.ensure_future(listen(i)) for i in range(writers)]
    sent: dict[str, float] = {}
    acked: set[str] = set()

    async def post(i: int) -> None:
        body = f"P5 comment {i}"
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

    await asyncio.gather(*(post(i) for i in range(writers)))
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(everyone.wait(), SEEN_TIMEOUT_S)
    for s in sockets:
        s.close()
    for task in listeners:
        task.cancel()

    latencies, lost = [], writers - len(acked)
    for i in range(writers):
        body = f"P5 comment {i}"
        if body not in acked:
            continue
        others = [seen[j].get(body) for j in range(writers) if j != i]
        if any(t is None for t in others):
            lost += 1
            continue
        latencies.append(max(others) - sent[body])  # type: ignore[type-var]
    return latencies, lost


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
            latencies, lost = asyncio.run(measure(hub.user_url(USER), token, writers))
        finally:
            leaks = hub.stop()
            assert not leaks, leaks
    p50 = percentile(latencies, 50) * 1000 if latencies else float("nan")
    p99 = percentile(latencies, 99) * 1000 if latencies else float("nan")
    return f"P5: writers={writers} p99_ms={p99:.0f} p50_ms={p50:.0f} lost={lost}"


if __name__ == "__main__":
    print(run())
