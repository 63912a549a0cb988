"""GPULocalProcessSpawner through a real hub: forged forms, CUDA_VISIBLE_DEVICES, the queue,
cancel, no-queue refusal, a hub restart, max runtime.

The hub runs the demo config with one declared GPU (no NVML here: the GPU is declared, and
CUDA_VISIBLE_DEVICES is checked in the real server process's environment, read from /proc).
"""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from ..harness import HubProcess, wait_for

GPU = "GPU-11111111-2222-3333-4444-555555555555"
EXTRA = f"""
c.GPULocalProcessSpawner.gpu_discovery = "config"
c.GPULocalProcessSpawner.gpus = [{{"uuid": "{GPU}", "model": "Test GPU", "memory_mib": 1024}}]
c.GPULocalProcessSpawner.profiles = [
    {{"name": "cpu"}},
    {{"name": "gpu", "gpu_counts": [1]}},
    {{"name": "short", "max_runtime_s": 20}},
]
c.GPULocalProcessSpawner.team_profiles = {{"ml-research": ["gpu"]}}
c.GPULocalProcessSpawner.gpu_limit_per_user = 1
c.GPULocalProcessSpawner.gpu_refresh_interval = 3
"""
SPAWN_TIMEOUT = 180


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    hub = HubProcess(tmp_path_factory.mktemp("hub"), extra_config=EXTRA).start(timeout=120)
    for user in ("ana", "bruno", "carla", "davi"):
        hub.login(user)
    hub.ana = hub.user_token("ana")  # an admin, who may read the GPU API
    yield hub
    leaks = hub.stop()
    (Path(__file__).parents[2] / "test-artifacts").mkdir(exist_ok=True)
    (Path(__file__).parents[2] / "test-artifacts" / "mixin-local-hub.log").write_text(hub.log())
    assert not leaks, leaks


def gpus(hub: HubProcess, token: str | None = None) -> dict:
    r = requests.get(
        hub.api_url("mutirao/gpus"),
        headers={"Authorization": f"token {token or hub.ana}"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return r.json()


def holder(hub: HubProcess) -> str | None:
    return next(g["holder"] for g in gpus(hub)["gpus"] if g["uuid"] == GPU)


def server(hub: HubProcess, user: str) -> dict | None:
    return hub.api("GET", f"users/{quote(user)}").json()["servers"].get("")


def wait_ready(hub: HubProcess, user: str, timeout: float = SPAWN_TIMEOUT) -> dict:
    def ready():
        s = server(hub, user)
        return s if s and s["ready"] else None

    return wait_for(ready, timeout, interval=0.5, what=f"{user}'s server")


def wait_gone(hub: HubProcess, user: str, timeout: float = 90) -> None:
    wait_for(lambda: server(hub, user) is None, timeout, interval=0.5, what=f"{user} stopped")


def server_env(hub: HubProcess, user: str) -> dict[str, str]:
    """The environment of the user's real server process, from /proc/<pid>/environ."""
    pid = server(hub, user)["state"]["pid"]
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)


def start(hub: HubProcess, user: str, **options) -> requests.Response:
    return hub.api("POST", f"users/{quote(user)}/server", json=options)


def stop(hub: HubProcess, user: str) -> None:
    hub.api("DELETE", f"users/{quote(user)}/server")
    wait_gone(hub, user)


@pytest.mark.parametrize(
    ("user", "options", "message"),
    [
        ("carla", {"profile": "gpu"}, "profile 'gpu' is not available to carla"),
        ("bruno", {"profile": "gpu", "gpus": 2}, "allows 1 GPUs, not 2"),
        ("bruno", {"profile": "gpu", "gpus": -1}, "must be between 0 and 64, not -1"),
        ("bruno", {"profile": "gpu", "gpus": 10**12}, "must be between 0 and 64"),
        ("bruno", {"profile": "gpu", "gpus": True}, "must be a whole number"),
        ("bruno", {"profile": "cpu", "image": "evil/miner:latest"}, "is not allowed"),
        ("bruno", {"profile": "gpu", "cmd": ["/bin/sh"]}, "unknown spawn option 'cmd'"),
    ],
)
def test_forged_options_fail_clearly_and_leave_nothing(hub, user, options, message):
    r = start(hub, user, **options)
    assert r.status_code == 400, r.text
    assert message in r.json()["message"]
    assert server(hub, user) is None
    state = gpus(hub)
    assert state["queue"] == []
    assert all(g["holder"] is None for g in state["gpus"])


def test_forged_spawn_form_shows_the_error_on_the_spawn_page(hub):
    session = hub.login("carla")
    page = session.get(hub.hub_url("spawn/carla"), timeout=30)
    assert page.status_code == 200
    assert 'value="cpu"' in page.text
    assert 'value="gpu"' not in page.text
    r = session.post(
        hub.hub_url("spawn/carla"),
        data={"profile": "gpu", "gpus-gpu": "1", "_xsrf": session.cookies.get("_xsrf", "")},
        timeout=60,
    )
    assert "profile &#39;gpu&#39; is not available to carla" in r.text or (
        "profile 'gpu' is not available to carla" in r.text
    ), r.text[-2000:]
    assert server(hub, "carla") is None
    assert holder(hub) is None


def test_cpu_server_sees_no_gpu(hub):
    r = start(hub, "carla", profile="cpu")
    assert r.status_code in (201, 202), r.text
    wait_ready(hub, "carla")
    env = server_env(hub, "carla")
    assert env["CUDA_VISIBLE_DEVICES"] == ""
    assert env["MUTIRAO_SERVER_ID"] == "carla/"
    assert "MUTIRAO_STOP_AT" not in env
    stop(hub, "carla")


def progress_messages(hub: HubProcess, user: str, until: str, timeout: float = 60) -> list[str]:
    """Read the spawn's progress event stream until a message contains ``until``."""
    seen = []
    with requests.get(
        hub.api_url(f"users/{quote(user)}/server/progress"),
        headers={"Authorization": f"token {hub.token}"},
        stream=True,
        timeout=timeout,
    ) as r:
        for line in r.iter_lines(decode_unicode=True):
            if line and line.startswith("data:"):
                seen.append(json.loads(line[5:])["message"])
                if until in seen[-1]:
                    break
    return seen


def test_two_users_race_for_the_last_gpu(hub):
    answers = {}

    def go(user):
        answers[user] = start(hub, user, profile="gpu").status_code

    threads = [threading.Thread(target=go, args=(u,)) for u in ("bruno", "davi")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(answers.values()) <= {201, 202}, answers
    first = wait_for(lambda: holder(hub), 120, interval=0.5, what="a GPU holder").rstrip("/")
    second = "davi" if first == "bruno" else "bruno"
    wait_ready(hub, first)
    assert server_env(hub, first)["CUDA_VISIBLE_DEVICES"] == GPU
    assert server(hub, second)["pending"] == "spawn"
    assert [q["server_id"] for q in gpus(hub)["queue"]] == [f"{second}/"]
    messages = progress_messages(hub, second, "Waiting for a GPU")
    assert (
        "Waiting for a GPU: position 1 in the queue (1 of 1 GPUs of model Test GPU held"
        in (messages[-1])
    ), messages
    stop(hub, first)
    wait_ready(hub, second)
    assert holder(hub) == f"{second}/"
    assert server_env(hub, second)["CUDA_VISIBLE_DEVICES"] == GPU
    stop(hub, second)
    assert holder(hub) is None


def test_cancel_while_queued(hub):
    assert start(hub, "bruno", profile="gpu").status_code in (201, 202)
    wait_ready(hub, "bruno")
    assert start(hub, "davi", profile="gpu").status_code == 202
    wait_for(lambda: gpus(hub)["queue"], 30, what="davi queued")
    r = hub.api("DELETE", "users/davi/server")
    assert r.status_code in (202, 204), r.text
    wait_gone(hub, "davi")
    assert gpus(hub)["queue"] == []
    stop(hub, "bruno")
    time.sleep(1)
    assert holder(hub) is None  # nobody was granted the GPU after the cancel


def test_max_runtime_stops_the_server(hub):
    assert start(hub, "ana", profile="short").status_code in (201, 202)
    wait_ready(hub, "ana")
    # the server is told when it will be stopped (20 s after its GPUs were decided: long
    # enough for a slow machine to bring it up and answer before then)
    env = server_env(hub, "ana")
    assert int(env["MUTIRAO_STOP_AT"]) <= time.time() + 20
    wait_gone(hub, "ana", timeout=90)
    assert "reached the maximum runtime" in hub.log()


def test_no_queue_refuses_at_once_and_a_restart_keeps_assignments(hub_factory):
    hub = hub_factory(
        extra_config=EXTRA
        + "c.GPULocalProcessSpawner.queue_when_full = False\n"
        + "c.JupyterHub.cleanup_servers = False\n"
    )
    for user in ("ana", "bruno", "davi"):
        hub.login(user)
    hub.ana = hub.user_token("ana")
    assert start(hub, "bruno", profile="gpu").status_code in (201, 202)
    wait_ready(hub, "bruno")
    t0 = time.monotonic()
    r = start(hub, "davi", profile="gpu")
    assert r.status_code == 400, r.text
    assert time.monotonic() - t0 < 15
    message = r.json()["message"]
    assert "all 1 GPU are in use (by bruno/)" in message, message
    assert "does not queue" in message, message
    assert "none has a maximum runtime" in message, message
    before = gpus(hub)["gpus"]
    pid = server(hub, "bruno")["state"]["pid"]

    hub.proc.send_signal(signal.SIGTERM)
    hub.proc.wait(60)
    hub._log_file.close()  # start() opens it again
    hub.start(timeout=120)
    hub.ana = hub.user_token("ana")
    wait_ready(hub, "bruno", timeout=60)
    assert server(hub, "bruno")["state"]["pid"] == pid  # the same process kept running
    assert gpus(hub)["gpus"] == before  # same holder, same since
    assert start(hub, "davi", profile="gpu").status_code == 400
    assert server_env(hub, "bruno")["CUDA_VISIBLE_DEVICES"] == GPU
