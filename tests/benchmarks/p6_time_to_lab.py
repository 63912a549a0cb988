"""P6: time to a ready server for many users, the suite vs vanilla JupyterHub.

N users (100; ``MUTIRAO_BENCH_QUICK=1``: 8) log in through the login form and spawn a local
single-user server on each hub, at most ``CONCURRENCY`` spawns at a time in all; each server is
stopped once ready, so the machine holds only a few at once. The timed part is from the spawn
request to the server being ready (the hub's ``ready`` flag), per user; the figure is the ratio
of the medians (suite / vanilla: 1.0 means the suite adds nothing).

- vanilla: JupyterHub's SimpleLocalProcessSpawner, and the single-user server without
  Mutirão's server extension (the harness's ``VANILLA_CONFIG``);
- suite: the same with ``c.JupyterHub.spawner_class = "mutirao-local"`` in run-as-hub-user mode
  (profiles, the GPU ledger with no GPUs, CUDA_VISIBLE_DEVICES="", the admin page) and the
  mutirao_lab server extension loaded in the single-user server (comments, versioning, room
  roles), as a Mutirão user gets it.

Fair on purpose: both use the same base spawner (LocalProcessSpawner), the same single-user
server command, and the same other server extensions, jupyter-collaboration and
jupyter-server-fileid, which a vanilla hub needs too for real-time collaboration (they are
installed, so both sides load them). Both use JupyterHub's dummy authenticator: login happens
before the timed part, so password hashing does not count on either side.

Both hubs run at the same time and the spawns alternate between them (vanilla, suite, vanilla,
...), so other load on the machine weighs on both sides alike; ``vanilla_first=...`` and the
per-side medians are printed to judge the noise.
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
c.Spawner.args = [a for a in c.Spawner.args if "mutirao_lab" not in a]  # the suite's server
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


def _hub(tmp: str, name: str, extra: str) -> HubProcess:
    return HubProcess(Path(tmp) / name, base_config=None, extra_config=COMMON + extra).start(
        timeout=120
    )


def run() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        hubs = {"vanilla": _hub(tmp, "vanilla", ""), "suite": _hub(tmp, "suite", SUITE)}
        try:
            jobs = [(side, f"p6u{i:03d}") for i in range(USERS) for side in ("vanilla", "suite")]
            with ThreadPoolExecutor(CONCURRENCY) as pool:
                times = list(pool.map(lambda job: _one(hubs[job[0]], job[1]), jobs))
        finally:
            leaks = [leak for hub in hubs.values() for leak in hub.stop()]
        assert not leaks, leaks
    vanilla = statistics.median(times[0::2])
    suite = statistics.median(times[1::2])
    return (
        f"P6: time_to_lab_ratio={suite / vanilla:.2f} users={USERS} concurrency={CONCURRENCY}"
        f" vanilla_median_s={vanilla:.2f} mutirao_median_s={suite:.2f} order=interleaved"
    )


if __name__ == "__main__":
    print(run())
