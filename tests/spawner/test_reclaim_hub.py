"""Reclaim through a real hub: idle GPUs stopped or released, and unknown GPU holders.

The hub, its proxy and the single-user servers are real (GPULocalProcessSpawner, the demo
config). There is no GPU here, so NVML is faked at its library boundary only: the test writes a
stand-in ``pynvml`` module (tests/spawner/fake_nvml.py: two A100s as ``nvidia-smi -L`` shows
them, utilisation read from a file the test changes) and puts its folder first on the hub's
``PYTHONPATH``. Everything the hub does with it (discovery, idle sampling, the ledger, stopping or
restarting the server, the admin API) is the real code in the real hub process.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from urllib.parse import quote

import psutil
import pytest
import requests

from ..harness import HubProcess, wait_for
from .fake_nvml import FakeNVMLFiles
from .test_mixin_local import server, server_env, start, wait_gone, wait_ready

WINDOW = 4  # seconds: the idle window, sampled every second

EXTRA = f"""
c.GPULocalProcessSpawner.gpu_discovery = "nvml"
c.GPULocalProcessSpawner.profiles = [{{"name": "gpu", "gpu_counts": [1]}}, {{"name": "cpu"}}]
c.GPULocalProcessSpawner.gpu_refresh_interval = 1
c.GPULocalProcessSpawner.idle_sample_interval = 1
c.GPULocalProcessSpawner.idle_gpu_window = {WINDOW}
c.GPULocalProcessSpawner.idle_gpu_threshold = 5
"""


@pytest.fixture
def nvml(tmp_path, monkeypatch) -> FakeNVMLFiles:
    """The fake ``pynvml`` on the PYTHONPATH of every hub this test starts."""
    fake = FakeNVMLFiles(tmp_path / "fake-nvml", utilisation=90)
    # first on the hub's path, before the packages under test
    path = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(fake.folder), *([path] if path else [])]))
    return fake


def gpu_api(hub: HubProcess) -> dict:
    r = requests.get(
        hub.api_url("mutirao/gpus"), headers={"Authorization": f"token {hub.ana}"}, timeout=30
    )
    assert r.status_code == 200, r.text
    return r.json()


def held(hub: HubProcess) -> dict[str, str]:
    """GPU uuid -> holder, for the held GPUs, from the GPU API."""
    return {g["uuid"]: g["holder"] for g in gpu_api(hub)["gpus"] if g["holder"]}


def report_kinds(hub: HubProcess, server_id: str) -> list[str]:
    return [r["kind"] for r in gpu_api(hub)["reports"] if r.get("server") == server_id]


def start_hub(hub_factory, extra: str) -> HubProcess:
    hub = hub_factory(extra_config=EXTRA + extra)
    for user in ("ana", "bruno"):
        hub.login(user)
    hub.ana = hub.user_token("ana")  # an admin, who may read the GPU API
    return hub


@pytest.mark.parametrize("action", ["stop", "release"])
def test_an_idle_gpu_server_is_reclaimed(hub_factory, nvml, action):
    hub = start_hub(hub_factory, f'c.GPULocalProcessSpawner.idle_gpu_action = "{action}"\n')
    assert [g["model"] for g in gpu_api(hub)["gpus"]] == ["NVIDIA A100-SXM4-80GB"] * 2
    assert start(hub, "bruno", profile="gpu").status_code in (201, 202)
    wait_ready(hub, "bruno")
    gpu = server_env(hub, "bruno")["CUDA_VISIBLE_DEVICES"]
    assert gpu in nvml.uuids
    assert held(hub) == {gpu: "bruno/"}

    # busy: sampled (the API shows the utilisation), and kept for two whole windows
    wait_for(lambda: any(g["utilization"] == 90 for g in gpu_api(hub)["gpus"]), 30, what="a sample")
    time.sleep(2 * WINDOW)
    assert server(hub, "bruno")["ready"]
    assert held(hub) == {gpu: "bruno/"}
    assert "idle" not in report_kinds(hub, "bruno/")

    nvml.set_utilisation(0)
    if action == "stop":
        wait_gone(hub, "bruno", timeout=60)
    else:

        def restarted_on_cpu():
            s = server(hub, "bruno")
            return s and s["ready"] and s["user_options"].get("profile") == "cpu"

        wait_for(restarted_on_cpu, 90, interval=0.5, what="bruno's server back without GPUs")
        assert server_env(hub, "bruno")["CUDA_VISIBLE_DEVICES"] == ""
    assert held(hub) == {}
    assert "idle" in report_kinds(hub, "bruno/")
    message = next(r["message"] for r in gpu_api(hub)["reports"] if r["kind"] == "idle")
    assert f"its GPUs were under 5% for {WINDOW} s" in message
    assert ("stopping it" if action == "stop" else "restarting it without GPUs") in message


def forget_gpu_assignments(hub: HubProcess) -> None:
    """Stop the hub, then drop the GPU record from every saved spawner state, as a database
    restored from an older backup would: the servers keep running with their GPUs."""
    hub.proc.send_signal(signal.SIGTERM)
    hub.proc.wait(60)
    hub._log_file.close()  # start() opens it again
    with sqlite3.connect(hub.state_dir / "jupyterhub.sqlite") as db:
        for spawner_id, state in db.execute("SELECT id, state FROM spawners").fetchall():
            saved = json.loads(state) if state else {}
            if saved.pop("mutirao", None) is not None:
                db.execute(
                    "UPDATE spawners SET state = ? WHERE id = ?", (json.dumps(saved), spawner_id)
                )


def restart(hub: HubProcess, unknown_gpu_holders: str) -> None:
    with open(hub.config_path, "a") as f:
        f.write(f'c.GPULocalProcessSpawner.unknown_gpu_holders = "{unknown_gpu_holders}"\n')
    forget_gpu_assignments(hub)
    hub.start(timeout=120)
    hub.ana = hub.user_token("ana")


def test_a_server_holding_a_gpu_the_ledger_does_not_know(hub_factory, nvml):
    hub = start_hub(hub_factory, "c.JupyterHub.cleanup_servers = False\n")
    assert start(hub, "bruno", profile="gpu").status_code in (201, 202)
    wait_ready(hub, "bruno")
    gpu = server_env(hub, "bruno")["CUDA_VISIBLE_DEVICES"]
    pid = server(hub, "bruno")["state"]["pid"]

    # report: listed on the admin page and in the API, the GPU stays unassigned
    restart(hub, "report")
    wait_for(lambda: "unknown" in report_kinds(hub, "bruno/"), 60, what="the unknown report")
    assert held(hub) == {}
    assert server(hub, "bruno")["state"]["pid"] == pid  # left running
    page = hub.login("ana").get(hub.hub_url("mutirao/gpus"), timeout=30)
    assert page.status_code == 200
    assert f"bruno/ runs with {gpu} (the ledger did not give it these GPUs)" in page.text

    # adopt: the ledger records the holding, so nobody else is given that GPU
    restart(hub, "adopt")
    wait_for(lambda: held(hub) == {gpu: "bruno/"}, 60, what="the adoption")
    assert "adopted" in report_kinds(hub, "bruno/")
    assert server(hub, "bruno")["state"]["pid"] == pid

    # reclaim: the hub stops the server, and the GPU is free again
    restart(hub, "reclaim")
    wait_gone(hub, "bruno", timeout=60)
    assert "reclaimed" in report_kinds(hub, "bruno/")
    assert held(hub) == {}
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    r = hub.api("GET", f"users/{quote('bruno')}")
    assert r.json()["servers"] == {}
