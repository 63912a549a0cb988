"""P6: time to a ready server for many users, Mutirão's GPU local spawner vs vanilla JupyterHub.

N users (100; ``MUTIRAO_BENCH_QUICK=1``: 8) log in through the login form and spawn a local
single-user server, at most ``CONCURRENCY`` at a time; each server is stopped once ready, so the
machine holds only a few at once. The timed part is from the spawn request to the server being
ready (the hub's ``ready`` flag), per user; the figure is the ratio of the medians (suite /
vanilla: 1.0 means the suite adds nothing).

- vanilla: JupyterHub's dummy authenticator and SimpleLocalProcessSpawner, Mutirão's server
  extension switched off (the harness's ``VANILLA_CONFIG``);
- suite: the same, with ``c.JupyterHub.spawner_class = "mutirao-local"`` in run-as-hub-user mode
  (profiles, the GPU ledger with no GPUs, CUDA_VISIBLE_DEVICES="", the admin page).

Both use the same base spawner (LocalProcessSpawner) and the same single-user server, so the
figure is the cost of the GPU spawner's checks and bookkeeping on the spawn path.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..harness import HubProcess, wait_for

QUICK = os.environ.get("MUTIRAO_BENCH_QUICK") == "1"
USERS = 8 if QUICK else 100
CONCURRENCY = 4

SUITE = """
c.JupyterHub.spawner_class = "mutirao-local"
c.GPULocalProcessSpawner.run_as_hub_user = True
c.GPULocalProcessSpawner.home_dir_template = os.environ["MUTIRAO_STATE_DIR"] + "/homes/{username}"
c.GPULocalProcessSpawner.gpu_discovery = "none"
from mutirao_spawner.admin import gpu_admin_config
gpu_admin_config(c)
"""
COMMON = """
import os
c.JupyterHub.concurrent_spawn_limit = 0
c.JupyterHub.log_level = "INFO"
c.Spawner.http_timeout = 300
c.Spawner.start_timeout = 300
"""


def _one(hub: HubProcess, user: str) -> float:
    hub.login(user, "any-password")  # the dummy authenticator takes any password
    t0 = time.perf_counter()
    r = hub.api("POST", f"users/{user}/server")
    assert r.status_code in (201, 202), r.text
    wait_for(
        lambda: hub.api("GET", f"users/{user}").json()["servers"].get("", {}).get("ready"),
        600,
        interval=0.2,
        what=f"{user}'s server",
    )
    elapsed = time.perf_counter() - t0
    hub.api("DELETE", f"users/{user}/server")
    wait_for(
        lambda: not hub.api("GET", f"users/{user}").json()["servers"],
        120,
        interval=0.2,
        what=f"{user}'s server to stop",
    )
    return elapsed


def _median_time(extra: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        hub = HubProcess(Path(tmp), base_config=None, extra_config=COMMON + extra)
        hub.start(timeout=120)
        try:
            users = [f"p6u{i:03d}" for i in range(USERS)]
            with ThreadPoolExecutor(CONCURRENCY) as pool:
                times = list(pool.map(lambda u: _one(hub, u), users))
            return statistics.median(times)
        finally:
            leaks = hub.stop()
            assert not leaks, leaks


def run() -> str:
    vanilla = _median_time("")
    suite = _median_time(SUITE)
    return (
        f"P6: time_to_lab_ratio={suite / vanilla:.2f} users={USERS} concurrency={CONCURRENCY}"
        f" vanilla_median_s={vanilla:.2f} mutirao_median_s={suite:.2f}"
    )


if __name__ == "__main__":
    print(run())
