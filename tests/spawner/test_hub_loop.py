"""The hub keeps answering while NVML hangs, and its identity is its database's own.

Real hub, proxy and single-user servers (GPULocalProcessSpawner, the demo config). There is no
GPU here, so NVML is faked at its library boundary only (tests/spawner/fake_nvml.py), in its
slow variant: ``nvmlInit`` blocks, as it does on a busy or failing driver.
"""

from __future__ import annotations

import os
import signal

import requests

from ..harness import HubProcess, wait_for
from .fake_nvml import FakeNVMLFiles
from .test_mixin_local import server_env, start, wait_ready
from .test_reclaim_hub import gpu_api

EXTRA = """
c.GPULocalProcessSpawner.gpu_discovery = "nvml"
c.GPULocalProcessSpawner.profiles = [{"name": "cpu"}, {"name": "gpu", "gpu_counts": [1]}]
c.GPULocalProcessSpawner.gpu_refresh_interval = 1
c.GPULocalProcessSpawner.idle_sample_interval = 1
"""


def test_the_hub_answers_while_nvml_hangs(hub_factory, tmp_path, monkeypatch):
    nvml = FakeNVMLFiles(tmp_path / "fake-nvml")
    # first on the hub's path, before the packages under test
    path = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(nvml.folder), *([path] if path else [])]))
    hub = hub_factory(extra_config=EXTRA)
    for user in ("ana", "bruno", "carla"):
        hub.login(user)
    hub.ana = hub.user_token("ana")  # an admin, who may read the GPU API
    wait_for(lambda: len(gpu_api(hub)["gpus"]) == 2, 60, what="the GPUs discovered")

    nvml.hang()
    try:
        wait_for(nvml.hanging, 30, what="the hub's NVML call to block")
        # the hub still answers its API, its pages, and starts a server
        r = requests.get(
            hub.api_url("user"), headers={"Authorization": f"token {hub.ana}"}, timeout=30
        )
        assert r.status_code == 200
        assert r.json()["name"] == "ana"
        assert [g["holder"] for g in gpu_api(hub)["gpus"]] == [None, None]
        page = hub.login("ana").get(hub.hub_url("mutirao/gpus"), timeout=30)
        assert page.status_code == 200
        assert nvml.uuids[0] in page.text
        assert start(hub, "bruno", profile="cpu").status_code in (201, 202)
        wait_ready(hub, "bruno")
        assert nvml.hanging()  # all of that while NVML was still blocked
        # the hub's loop-lag probe is in its metrics
        metrics = requests.get(
            hub.hub_url("metrics"), headers={"Authorization": f"token {hub.ana}"}, timeout=30
        )
        assert "mutirao_event_loop_lag_seconds_count" in metrics.text
        assert "mutirao_event_loop_lag_max_seconds" in metrics.text
    finally:
        nvml.release()
    # and NVML's answers are used again once it is back
    assert start(hub, "carla", profile="gpu").status_code in (201, 202)
    wait_ready(hub, "carla")
    assert server_env(hub, "carla")["CUDA_VISIBLE_DEVICES"] in nvml.uuids


DEFAULT_DB = 'c.JupyterHub.db_url = "sqlite:///jupyterhub.sqlite"  # relative to the hub folder\n'


def hub_id(hub: HubProcess, user: str) -> str:
    """The hub identity a server of ``user`` was started with."""
    assert hub.api("POST", f"users/{user}/server").status_code in (201, 202)
    wait_ready(hub, user)
    return server_env(hub, user)["MUTIRAO_HUB_ID"]


def test_hubs_on_the_default_database_url_have_their_own_ids(hub_factory):
    first = hub_factory(extra_config=DEFAULT_DB)
    second = hub_factory(extra_config=DEFAULT_DB)
    for hub in (first, second):
        for user in ("ana", "bruno"):
            hub.login(user)
    first_id, second_id = hub_id(first, "ana"), hub_id(second, "ana")
    assert first_id
    assert second_id
    assert first_id != second_id

    # a restarted hub keeps its id
    first.stop_servers()
    first.proc.send_signal(signal.SIGTERM)
    first.proc.wait(60)
    first._log_file.close()  # start() opens it again
    first.start(timeout=120)
    assert hub_id(first, "bruno") == first_id
