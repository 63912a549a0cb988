"""P4: the GPU ledger under 1,000 spawn requests through a real hub, against the hub without it.

Both hubs run the same config (JupyterHub's dummy authenticator, the npm proxy) with a fast test
spawner whose ``start`` returns at once the address of one tiny shared HTTP server, so the figure
is the hub's own work: REST API, proxy routes, and (on one side) the GPU mixin and its ledger over
8 declared GPUs. Each of N users (1,000; ``MUTIRAO_BENCH_QUICK=1``: 100) spawns, waits until
ready on the spawn's progress event stream (as the spawn page does), and stops, with at most
``CONCURRENCY`` users in flight; with 8 GPUs most requests queue.

- ``double_bookings``: from the spawner's own log of grant and stop times per GPU, the number of
  times a GPU was granted while another server still had it (must be 0).
- ``decision_p99_ms``: the ledger's decision time, p99, from the admin API.
- ``throughput_ratio``: spawns per second with the mixin / without it (same run, same machine),
  as the ratio of the medians over the hub runs. The two hubs run in the order ABBA (base, GPU,
  GPU, base), so a machine that warms up or gets busier during the run weighs on both sides
  alike; ``MUTIRAO_BENCH_ROUNDS`` sets how many ABBA rounds (default 1).
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests
from jupyterhub.spawner import Spawner

from mutirao_spawner.mixin import GPUSpawnerMixin

from ..harness import REPO, HubProcess, wait_for

QUICK = os.environ.get("MUTIRAO_BENCH_QUICK") == "1"
USERS = 100 if QUICK else 1000
CONCURRENCY = 50
GPUS = 8
ROUNDS = int(os.environ.get("MUTIRAO_BENCH_ROUNDS", "1"))
BASE, GPU = "FastSpawner", "FastGPUSpawner"


class FastSpawner(Spawner):
    """Starts nothing: every server is the one shared HTTP server in the benchmark process."""

    running = False

    async def start(self):
        self.running = True
        return os.environ["MUTIRAO_BENCH_TARGET"]

    async def poll(self):
        return None if self.running else 0

    async def stop(self, now=False):
        self.running = False


class FastGPUSpawner(GPUSpawnerMixin, FastSpawner):
    """The same, through the GPU mixin; logs grants and stops to find double bookings."""

    def _log_event(self, kind: str) -> None:
        with open(os.environ["MUTIRAO_BENCH_EVENTS"], "a") as f:
            event = {"t": time.time(), "kind": kind, "server": self.server_id}
            f.write(json.dumps({**event, "gpus": self.gpu_uuids}) + "\n")

    def apply_assignment(self) -> None:
        self._log_event("grant")

    async def stop(self, now=False):
        self._log_event("stop")
        await super().stop(now=now)

    async def observe_running(self):
        return set(self.gpu_uuids) if self.running else None


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


def _config(spawner: str) -> str:
    gpus = [{"uuid": f"GPU-bench-{i:04d}", "model": "Bench GPU"} for i in range(GPUS)]
    return f"""
import sys
sys.path.insert(0, {str(REPO)!r})
c.JupyterHub.spawner_class = "tests.benchmarks.p4_ledger.{spawner}"
c.JupyterHub.concurrent_spawn_limit = 0
c.JupyterHub.log_level = "INFO"
c.Spawner.http_timeout = 60
c.FastGPUSpawner.gpus = {gpus!r}
c.FastGPUSpawner.profiles = [{{"name": "gpu", "gpu_counts": [1]}}]
c.FastGPUSpawner.gpu_queue_timeout = 1800
c.FastGPUSpawner.gpu_refresh_interval = 3600
from mutirao_spawner.admin import gpu_admin_config
gpu_admin_config(c)
c.JupyterHub.load_roles.append(
    {{"name": "bench", "scopes": ["custom:mutirao-gpus:read"], "services": ["mutirao-tests"]}}
)
"""


def _wait_ready(hub: HubProcess, user: str) -> None:
    """Wait as the spawn page does, on the progress event stream: no polling, so thousands of
    waiting users do not turn into a stream of REST requests that the hub must answer."""
    with requests.get(
        hub.api_url(f"users/{user}/server/progress"),
        headers={"Authorization": f"token {hub.token}"},
        stream=True,
        timeout=1800,
    ) as r:
        for line in r.iter_lines(decode_unicode=True):
            if line and line.startswith("data:"):
                event = json.loads(line[5:])
                assert not event.get("failed"), event
                if event.get("ready"):
                    return
    wait_for(  # the stream closed early (the server became ready as it opened)
        lambda: hub.api("GET", f"users/{user}").json()["servers"].get("", {}).get("ready"),
        60,
        interval=0.5,
        what=f"{user}'s server",
    )


def _one(hub: HubProcess, user: str) -> None:
    r = hub.api("POST", f"users/{user}/server", json={"profile": "gpu"})
    assert r.status_code in (201, 202), r.text
    if r.status_code == 202:
        _wait_ready(hub, user)
    r = hub.api("DELETE", f"users/{user}/server")
    assert r.status_code in (202, 204), r.text
    if r.status_code == 202:
        wait_for(
            lambda: not hub.api("GET", f"users/{user}").json()["servers"],
            120,
            interval=0.1,
            what=f"{user}'s server to stop",
        )


def _run_hub(spawner: str, events: Path) -> tuple[float, dict]:
    with tempfile.TemporaryDirectory() as tmp:
        hub = HubProcess(Path(tmp), base_config=None, extra_config=_config(spawner))
        hub.start(timeout=120)
        try:
            users = [f"u{i:04d}" for i in range(USERS)]
            for i in range(0, USERS, 200):
                r = hub.api("POST", "users", json={"usernames": users[i : i + 200]})
                assert r.status_code == 201, r.text
            t0 = time.perf_counter()
            with ThreadPoolExecutor(CONCURRENCY) as pool:
                list(pool.map(lambda u: _one(hub, u), users))
            elapsed = time.perf_counter() - t0
            stats = {}
            if spawner == "FastGPUSpawner":
                stats = hub.api("GET", "mutirao/gpus").json()["decisions"]
            return elapsed, stats
        finally:
            hub.stop()


def double_bookings(events: Path) -> int:
    holder: dict[str, str | None] = defaultdict(lambda: None)
    clashes = 0
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    for event in sorted(lines, key=lambda e: e["t"]):
        for gpu in event["gpus"]:
            if event["kind"] == "grant":
                clashes += holder[gpu] is not None
                holder[gpu] = event["server"]
            elif holder[gpu] == event["server"]:
                holder[gpu] = None
    return clashes


def run() -> str:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    times: dict[str, list[float]] = {BASE: [], GPU: []}
    p99s: list[float] = []
    clashes = 0
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MUTIRAO_BENCH_TARGET"] = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            for i, spawner in enumerate((BASE, GPU, GPU, BASE) * ROUNDS):
                events = Path(tmp) / f"events-{i}.jsonl"
                events.touch()
                os.environ["MUTIRAO_BENCH_EVENTS"] = str(events)
                elapsed, stats = _run_hub(spawner, events)
                times[spawner].append(elapsed)
                if spawner == GPU:
                    p99s.append(stats.get("p99_ms", 0.0))
                    clashes += double_bookings(events)
        finally:
            server.shutdown()
    base_s, gpu_s = statistics.median(times[BASE]), statistics.median(times[GPU])
    return (
        f"P4: double_bookings={clashes} decision_p99_ms={max(p99s):.3f}"
        f" throughput_ratio={base_s / gpu_s:.2f} users={USERS} gpus={GPUS}"
        f" order={'ABBA' * ROUNDS} base_spawns_per_s={USERS / base_s:.1f}"
        f" gpu_spawns_per_s={USERS / gpu_s:.1f}"
        f" base_runs_s={','.join(f'{t:.1f}' for t in times[BASE])}"
        f" gpu_runs_s={','.join(f'{t:.1f}' for t in times[GPU])}"
    )


if __name__ == "__main__":
    print(run())
