"""The GPU admin page and API (who may read them) and the GPU metrics on the hub's /metrics,
through a real hub with one declared GPU."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from ..harness import HubProcess, wait_for

GPU = "GPU-99999999-8888-7777-6666-555555555555"
EXTRA = f"""
c.GPULocalProcessSpawner.gpu_discovery = "config"
c.GPULocalProcessSpawner.gpus = [{{"uuid": "{GPU}", "model": "Test GPU"}}]
c.GPULocalProcessSpawner.profiles = [{{"name": "cpu"}}, {{"name": "gpu", "gpu_counts": [1]}}]
c.JupyterHub.authenticate_prometheus = False
# the tests' service holds the custom scope through a role, as a team would
c.JupyterHub.load_roles.append(
    {{"name": "gpu-readers", "scopes": ["custom:mutirao-gpus:read"], "services": ["mutirao-tests"]}}
)
"""


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    hub = HubProcess(tmp_path_factory.mktemp("hub"), extra_config=EXTRA).start(timeout=120)
    for user in ("ana", "bruno"):
        hub.login(user)
    yield hub
    leaks = hub.stop()
    artifacts = Path(__file__).parents[2] / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "admin-metrics-hub.log").write_text(hub.log())
    assert not leaks, leaks


def get(hub: HubProcess, path: str, token: str | None) -> requests.Response:
    headers = {"Authorization": f"token {token}"} if token else {}
    return requests.get(hub.api_url(path), headers=headers, timeout=30, allow_redirects=False)


@pytest.mark.parametrize(
    ("who", "status"),
    [("admin", 200), ("scope", 200), ("user", 404), ("anonymous", 403)],
)
def test_api_access_table(hub, who, status):
    token = {
        "admin": hub.user_token("ana"),
        "scope": hub.token,
        "user": hub.user_token("bruno"),
        "anonymous": None,
    }[who]
    r = get(hub, "mutirao/gpus", token)
    assert r.status_code == status, r.text
    if status == 404:  # exactly like an API path that does not exist
        missing = get(hub, "mutirao/no-such-thing", token)
        assert (missing.status_code, missing.json()) == (404, r.json())
    if status == 200:
        assert [g["uuid"] for g in r.json()["gpus"]] == [GPU]


def test_page_access(hub):
    assert hub.login("bruno").get(hub.hub_url("mutirao/gpus"), timeout=30).status_code == 404
    anonymous = requests.get(hub.hub_url("mutirao/gpus"), timeout=30, allow_redirects=False)
    assert anonymous.status_code == 302
    assert "login" in anonymous.headers["Location"]
    page = hub.login("ana").get(hub.hub_url("mutirao/gpus"), timeout=30)
    assert page.status_code == 200
    assert GPU in page.text
    assert "Nobody is waiting." in page.text


def metrics(hub: HubProcess) -> str:
    r = requests.get(hub.hub_url("metrics"), timeout=30)
    assert r.status_code == 200
    return r.text


def test_holder_on_page_api_and_metrics(hub):
    get(hub, "mutirao/gpus", hub.token)  # starts the GPU service before any spawn
    assert f'mutirao_gpu_assigned{{model="Test GPU",uuid="{GPU}"}} 0.0' in metrics(hub)
    r = hub.api("POST", "users/bruno/server", json={"profile": "gpu"})
    assert r.status_code in (201, 202), r.text
    wait_for(
        lambda: hub.api("GET", "users/bruno").json()["servers"].get("", {}).get("ready"),
        180,
        interval=0.5,
        what="bruno's server",
    )
    gpu = get(hub, "mutirao/gpus", hub.token).json()["gpus"][0]
    assert (gpu["holder"], gpu["user"], gpu["team"]) == ("bruno/", "bruno", "ml-research")
    assert gpu["since"] > 0
    text = metrics(hub)
    assert f'mutirao_gpu_assigned{{model="Test GPU",uuid="{GPU}"}} 1.0' in text
    assert 'mutirao_team_gpus_held{team="ml-research"} 1.0' in text
    assert 'mutirao_team_gpus_queued{team="ml-research"} 0.0' in text
    assert "mutirao_gpu_decision_seconds_count" in text
    page = hub.login("ana").get(hub.hub_url("mutirao/gpus"), timeout=30)
    assert "bruno/" in page.text
    assert "ml-research" in page.text
    hub.api("DELETE", "users/bruno/server")
    wait_for(
        lambda: not hub.api("GET", "users/bruno").json()["servers"],
        90,
        interval=0.5,
        what="bruno's server to stop",
    )
    assert f'mutirao_gpu_assigned{{model="Test GPU",uuid="{GPU}"}} 0.0' in metrics(hub)
