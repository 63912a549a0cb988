"""P0: hub start to the first ready single-user server, vanilla JupyterHub vs the demo config.

Both hubs run the same proxy, ports, local-process servers and Python; the vanilla one has none
of Mutirão. Runs alternate (vanilla, demo, vanilla, ...) so machine noise hits both alike; the
figure is the ratio of the medians (demo / vanilla: 1.0 means Mutirão adds nothing).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import requests

from ..harness import HubProcess, wait_for

RUNS = 5


def time_to_first_server(base_config) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        hub = HubProcess(Path(tmp), base_config=base_config)
        t0 = time.perf_counter()
        hub.start(timeout=120)
        try:
            assert hub.api("POST", "users/bench").status_code == 201
            hub.spawn("bench", timeout=120)
            token = hub.user_token("bench")
            # ready means the lab page is served through the proxy, not just the process up
            wait_for(
                lambda: (
                    requests.get(
                        hub.user_url("bench", "lab"),
                        headers={"Authorization": f"token {token}"},
                        timeout=30,
                    ).status_code
                    == 200
                ),
                60,
                what="the lab page",
            )
            return time.perf_counter() - t0
        finally:
            leaks = hub.stop()
            assert not leaks, leaks


def run(runs: int = RUNS) -> str:
    from ..harness import DEMO_CONFIG

    vanilla, demo = [], []
    for _ in range(runs):
        vanilla.append(time_to_first_server(None))
        demo.append(time_to_first_server(DEMO_CONFIG))
    v, d = statistics.median(vanilla), statistics.median(demo)
    return f"P0: runs={runs} vanilla_s={v:.2f} mutirao_s={d:.2f} ratio={d / v:.2f}"
