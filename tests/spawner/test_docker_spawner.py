"""GPUDockerSpawner through a real hub, against a real (private) Docker daemon.

What is real: ``dockerd`` (started by :mod:`.docker_fixture`, which also says exactly what the user
image is), the containers, the hub and its proxy, the team authenticator, and
``jupyterhub-singleuser`` inside each container. There is no GPU here, and Docker refuses to start
a container whose device request names the ``nvidia`` driver when the NVIDIA Container Toolkit is
missing ("could not select device driver"). So, honestly:

- the hub runs with ``gpu_device_requests = False``: GPU servers really start, and their real
  containers are checked for the GPU labels and for the ``NVIDIA_VISIBLE_DEVICES`` /
  ``CUDA_VISIBLE_DEVICES`` that the server process sees, but they carry no device request;
- the device request itself is checked on the ``create_container`` arguments the spawner builds
  (:func:`~mutirao_spawner.docker.finish_create_kwargs`), sent to the real daemon, which creates
  the container (device drivers are resolved only at start) and reports ``DeviceRequests`` in its
  ``HostConfig``; and one spawn with device requests on (for one user, set by a
  ``pre_spawn_hook``) shows what a host without the toolkit does: a clear message, the GPU back
  in the ledger, no container left.

The GPUs are declared (``gpu_discovery = "config"``), two of them, so that after a hub restart the
first stays with its holder and the second goes to the next server.

The tests of this module share one daemon and one hub and run in file order (each brings the
servers it needs to the state it needs); the daemon and every container are removed at the end,
and a container still running then fails the module.
"""

from __future__ import annotations

import asyncio
import gc
import json
import re
import signal
import textwrap
import warnings
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

import docker
import pytest
import requests
from dockerspawner import DockerSpawner
from traitlets import TraitError
from traitlets.config import PyFileConfigLoader

from mutirao_spawner.docker import (
    LABEL_GPUS,
    LABEL_PROFILE,
    LABEL_SERVER,
    DockerSpawnError,
    GPUDockerSpawner,
    check_team_volumes,
    container_labels,
    finish_create_kwargs,
    gpu_device_requests,
    gpu_env,
    holders_from_containers,
    team_volume_binds,
)
from mutirao_spawner.inventory import inventory_from_config
from mutirao_spawner.profiles import Profile, parse_profiles

from ..harness import DEMO_CONFIG, DEMO_PASSWORDS, REPO, HubProcess, wait_for
from .docker_fixture import (
    IMAGE,
    LABEL_TEST,
    MISSING_IMAGE,
    PrivateDockerd,
    build_user_image,
    create_team_volume,
    host_runtime_mounts,
)

GPU_A = "GPU-5a3c0e6e-8d1f-4c57-9d1c-1f0e2d3c4b5a"
GPU_B = "GPU-b7e2f1a0-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
L4 = "NVIDIA L4"
EDITORS = "ml-research-editors"
ARTIFACTS = REPO / "test-artifacts"


# -- pure parts: no daemon ----------------------------------------------------------------------


def test_gpu_env_names_exactly_the_granted_gpus():
    assert gpu_env([GPU_A, GPU_B]) == {
        "NVIDIA_VISIBLE_DEVICES": f"{GPU_A},{GPU_B}",
        "CUDA_VISIBLE_DEVICES": f"{GPU_A},{GPU_B}",
    }
    # a CPU server hides every GPU, even in a CUDA image on a host whose default runtime is nvidia
    assert gpu_env([]) == {"NVIDIA_VISIBLE_DEVICES": "void", "CUDA_VISIBLE_DEVICES": ""}


def test_create_kwargs_get_labels_and_exact_device_requests():
    admin = {
        "image": IMAGE,
        "labels": {"team": "ml"},
        "ports": {"8888/tcp": None},
        "host_config": {
            "PortBindings": {"8888/tcp": [{"HostIp": "127.0.0.1"}]},
            # an admin's catch-all GPU request would double-book: it is replaced
            "DeviceRequests": [{"Driver": "nvidia", "Count": -1, "Capabilities": [["gpu"]]}],
        },
    }
    labels = container_labels("ana/train", "gpu", [GPU_B])
    out = finish_create_kwargs(admin, labels, gpu_device_requests([GPU_B]))
    assert out["labels"] == {
        "team": "ml",
        LABEL_SERVER: "ana/train",
        LABEL_PROFILE: "gpu",
        LABEL_GPUS: GPU_B,
    }
    assert out["host_config"]["DeviceRequests"] == [
        {
            "Driver": "nvidia",
            "Count": 0,
            "DeviceIDs": [GPU_B],
            "Capabilities": [["gpu"]],
            "Options": {},
        }
    ]
    assert out["ports"] == admin["ports"]
    cpu = finish_create_kwargs(admin, container_labels("ana/", "cpu", []), [], host_network=True)
    assert "DeviceRequests" not in cpu["host_config"]
    assert "PortBindings" not in cpu["host_config"]
    assert "ports" not in cpu
    assert cpu["labels"][LABEL_GPUS] == ""
    assert admin["host_config"]["DeviceRequests"][0]["Count"] == -1  # the input is not changed


def test_team_volumes_by_role():
    volumes = {
        "ml-research": [
            {"volume": "ml-datasets", "mount": "/data/ml", "mode": "by-role"},
            {"volume": "ml-scratch", "mount": "/scratch", "mode": "rw"},
            {"volume": "ml-models", "mount": "/models"},
        ],
        "data-platform": [{"volume": "dp-lake", "mount": "/data/lake", "mode": "by-role"}],
    }
    member = team_volume_binds(volumes, ["ml-research"])
    assert member == {
        "ml-datasets": {"bind": "/data/ml", "mode": "ro"},
        "ml-scratch": {"bind": "/scratch", "mode": "rw"},
        "ml-models": {"bind": "/models", "mode": "ro"},
    }
    editor = team_volume_binds(volumes, ["ml-research", EDITORS, "data-platform"])
    assert editor["ml-datasets"]["mode"] == "rw"
    assert editor["ml-models"]["mode"] == "ro"  # "ro" stays read-only for editors too
    assert editor["dp-lake"]["mode"] == "ro"  # editor of one team is not editor of another
    owner = team_volume_binds(volumes, ["data-platform", "data-platform-owners"])
    assert owner == {"dp-lake": {"bind": "/data/lake", "mode": "rw"}}
    # an editor group alone, without the team, mounts nothing
    assert team_volume_binds(volumes, [EDITORS]) == {}
    custom = team_volume_binds(volumes, ["ml-research", "ml-research-leads"], ["{team}-leads"])
    assert custom["ml-datasets"]["mode"] == "rw"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "must be a dict"),
        ({"t": "vol"}, "must be a list"),
        ({"t": [{"volume": "v", "mount": "data"}]}, "absolute path"),
        ({"t": [{"volume": "v", "mount": "/d", "mode": "rwx"}]}, "mode must be one of"),
        ({"t": [{"volume": "", "mount": "/d"}]}, "volume"),
        ({"t": [{"volume": "v", "mount": "/d", "readonly": True}]}, "unknown key 'readonly'"),
    ],
)
def test_bad_team_volumes_are_refused(value, message):
    with pytest.raises(ValueError, match=message):
        check_team_volumes(value)


def test_holders_from_container_labels():
    listed = [
        {"Labels": container_labels("ana/", "gpu", [GPU_A])},
        {"Labels": container_labels("bruno/big", "gpu-2", [GPU_B, "MIG-1"])},
        {"Labels": container_labels("carla/", "cpu", [])},
        {"Labels": {"com.example": "not ours"}},
        {"Labels": None},
    ]
    assert holders_from_containers(listed) == {
        "ana/": {GPU_A},
        "bruno/big": {GPU_B, "MIG-1"},
        "carla/": set(),
    }
    # on a Docker host that two hubs share, each counts its own containers and those made by
    # hand (no hub label), never the other hub's
    shared = [
        {"Labels": container_labels("ana/", "gpu", [GPU_A], hub="hub-1")},
        {"Labels": container_labels("ana/", "gpu", [GPU_B], hub="hub-2")},
        {"Labels": container_labels("by-hand/", "gpu", ["MIG-2"])},
    ]
    assert holders_from_containers(shared, hub="hub-1") == {"ana/": {GPU_A}, "by-hand/": {"MIG-2"}}
    assert holders_from_containers(shared, hub="hub-2") == {"ana/": {GPU_B}, "by-hand/": {"MIG-2"}}


def _spawner(**kwargs) -> GPUDockerSpawner:
    return GPUDockerSpawner(user=SimpleNamespace(name="ana", groups=[]), **kwargs)


def test_profile_sets_image_allow_list_and_limits():
    spawner = _spawner(allowed_images="*")
    spawner.profile = Profile(
        "gpu",
        images=("lab:cuda", "lab:cpu"),
        image="lab:cpu",
        cpu_limit=2,
        mem_limit="3G",
        extra={"dockerspawner_override": {"extra_host_config": {"shm_size": "1G"}}},
    )
    spawner.apply_assignment()
    assert spawner.image == "lab:cpu"
    assert spawner.allowed_images == {"lab:cuda": "lab:cuda", "lab:cpu": "lab:cpu"}  # not "*"
    assert spawner.cpu_limit == 2.0
    assert spawner.mem_limit == 3 * 1024**3
    assert spawner.extra_host_config == {"shm_size": "1G"}
    assert spawner.remove
    assert spawner.notebook_dir == "/home/jovyan"


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        (Profile("gpu", images=("lab:1",), image="busybox"), "'busybox' is not allowed"),
        (
            Profile("gpu", images=("lab:1",), extra={"dockerspawner_override": {"image": "x"}}),
            "dockerspawner_override may not set image",
        ),
    ],
)
def test_profile_cannot_escape_its_images(profile, message):
    spawner = _spawner()
    spawner.profile = profile
    with pytest.raises(DockerSpawnError, match=message):
        spawner.apply_assignment()


def test_kept_containers_are_refused():
    with pytest.raises(TraitError, match="remove must be True"):
        _spawner(remove=False)


def test_bad_team_volumes_fail_at_configuration():
    with pytest.raises(ValueError, match="absolute path"):
        _spawner(team_volumes={"t": [{"volume": "v", "mount": "data"}]})


def test_example_config_loads(tmp_path, monkeypatch):
    """config/docker-gpu/jupyterhub_config.py: its profiles, GPUs and volumes are well formed."""
    gpus = tmp_path / "gpus.json"
    gpus.write_text(json.dumps([{"uuid": GPU_A, "model": "NVIDIA A100-SXM4-80GB"}]))
    monkeypatch.setenv("MUTIRAO_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("MUTIRAO_GPUS", str(gpus))
    path = REPO / "config" / "docker-gpu" / "jupyterhub_config.py"
    config = PyFileConfigLoader(path.name, str(path.parent)).load_config()
    assert config.JupyterHub.spawner_class == "mutirao-docker"
    spawner = _spawner(config=config)
    profiles = parse_profiles(spawner.profiles)
    assert {p.name for p in profiles} == {"cpu", "gpu", "mig-small"}
    assert all(p.images for p in profiles)
    assert set(spawner.team_profiles) <= set(spawner.team_volumes)
    assert inventory_from_config(spawner.gpus).get(GPU_A) is not None
    assert spawner.pull_policy == "never"


# -- the daemon, the image and the hub ------------------------------------------------------------


@pytest.fixture(scope="module")
def dockerd():
    daemon = PrivateDockerd().start()
    try:
        client = daemon.client()
        build_user_image(client)
        for volume in ("ml-datasets", "ml-scratch", "dp-lake"):
            create_team_volume(client, volume)
        yield daemon
    finally:
        leaks = []
        if daemon.proc is not None:
            try:
                leaks = daemon.remove_containers()
            finally:
                daemon.stop()
        else:
            daemon.stop()
        assert not leaks, f"containers still running after the tests: {leaks}"


def _extra_config(daemon: PrivateDockerd, users_file: Path) -> str:
    mounts = host_runtime_mounts()
    profiles = [
        {"name": "cpu", "display_name": "CPU", "images": [IMAGE], "cpu_limit": 0.5,
         "mem_limit": "1G"},
        {"name": "gpu", "display_name": "1 GPU", "images": [IMAGE], "cpu_limit": 1,
         "mem_limit": "2G", "gpu_counts": [1], "gpu_model": L4},
        {"name": "unbuilt", "images": [MISSING_IMAGE], "gpu_counts": [1]},
    ]  # fmt: skip
    team_volumes = {
        "ml-research": [
            {"volume": "ml-datasets", "mount": "/data/ml", "mode": "by-role"},
            {"volume": "ml-scratch", "mount": "/scratch", "mode": "rw"},
        ],
        "data-platform": [{"volume": "dp-lake", "mount": "/data/lake", "mode": "by-role"}],
    }
    gpus = [{"uuid": GPU_A, "model": L4}, {"uuid": GPU_B, "model": L4}]
    return textwrap.dedent(
        f"""
        # JupyterHub as it comes (the harness's vanilla base), with Mutirão's team sign-in
        c.JupyterHub.authenticator_class = "mutirao-local"
        c.LocalTeamAuthenticator.users_file = {str(users_file)!r}
        c.LocalTeamAuthenticator.allowed_teams = {{"ml-research", "data-platform", {EDITORS!r}}}
        c.JupyterHub.spawner_class = "mutirao-docker"
        # the restart test needs servers to outlive the hub; the harness stops them itself
        c.JupyterHub.cleanup_servers = False
        c.DockerSpawner.client_kwargs = {{"base_url": {daemon.url!r}}}
        c.DockerSpawner.network_name = "host"
        c.DockerSpawner.pull_policy = "never"
        c.DockerSpawner.prefix = "mutirao-test"
        c.DockerSpawner.read_only_volumes = {mounts!r}
        c.DockerSpawner.extra_create_kwargs = {{"labels": {{{LABEL_TEST!r}: "1"}}}}
        c.Spawner.args = []  # the vanilla base switches mutirao_lab off; the image runs it
        c.Spawner.http_timeout = 120  # this machine is slow and shared
        c.DockerSpawner.cmd = [{str(REPO / ".venv" / "bin" / "jupyterhub-singleuser")!r}]
        c.GPUDockerSpawner.gpu_device_requests = False
        c.GPUDockerSpawner.gpu_discovery = "config"
        c.GPUDockerSpawner.gpu_refresh_interval = 3  # reconcile with the containers often
        c.GPUDockerSpawner.gpus = {gpus!r}
        c.GPUDockerSpawner.profiles = {profiles!r}
        c.GPUDockerSpawner.team_volumes = {team_volumes!r}

        def _device_requests_for_carla(spawner):
            # carla's spawns show what a host without the NVIDIA Container Toolkit does
            spawner.gpu_device_requests = spawner.user.name == "carla"

        c.Spawner.pre_spawn_hook = _device_requests_for_carla

        # the GPU ledger's REST endpoint, readable by the tests' service
        from mutirao_spawner.admin import SCOPE, gpu_admin_config
        gpu_admin_config(c)
        for role in c.JupyterHub.load_roles:
            if role["name"] == "mutirao-tests":
                role["scopes"].append(SCOPE)
        """
    )


@pytest.fixture(scope="module")
def docker_hub(dockerd, tmp_path_factory):
    state = tmp_path_factory.mktemp("docker-hub")
    # the demo users; davi is also in ml-research's editor team
    users = (DEMO_CONFIG.parent / "users.toml").read_text()
    davi = 'teams = ["data-platform", "ml-research"]'
    assert users.count(davi) == 1
    users_file = state / "users.toml"
    users_file.write_text(users.replace(davi, davi[:-1] + f', "{EDITORS}"]'))
    hub = HubProcess(state, base_config=None, extra_config=_extra_config(dockerd, users_file))
    try:
        hub.start()
        for user in DEMO_PASSWORDS:
            assert hub.login(user).login_response.status_code == 302  # creates users, groups
        yield hub
    finally:
        leaks = hub.stop()
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "docker-hub-jupyterhub.log").write_text(hub.log())
        (ARTIFACTS / "docker-hub-dockerd.log").write_text(dockerd.log(tail=None))
        assert not leaks, leaks


# -- helpers ------------------------------------------------------------------------------------


def spawn(hub: HubProcess, user: str, timeout: float = 150, **options) -> dict:
    """Start ``user``'s server with spawn options; return the last progress event."""
    r = hub.api("POST", f"users/{quote(user)}/server", json=options)
    if r.status_code == 400:  # failed within the hub's slow_spawn_timeout: the API says why
        return {"failed": True, "message": r.json()["message"]}
    assert r.status_code in (201, 202), r.text
    event: dict = {}
    with requests.get(
        hub.api_url(f"users/{quote(user)}/server/progress"),
        headers={"Authorization": f"token {hub.token}"},
        stream=True,
        timeout=timeout,
    ) as stream:
        for line in stream.iter_lines(decode_unicode=True):
            if line and line.startswith("data:"):
                event = json.loads(line[5:])
                if event.get("ready") or event.get("failed"):
                    break
    return event


def ready(hub: HubProcess, user: str, profile: str = "gpu") -> dict:
    event = spawn(hub, user, profile=profile)
    assert event.get("ready"), event
    return hub.api("GET", f"users/{quote(user)}").json()["servers"][""]


def stop(hub: HubProcess, user: str) -> None:
    hub.api("DELETE", f"users/{quote(user)}/server")

    def stopped():
        model = hub.api("GET", f"users/{quote(user)}").json()
        return not model.get("servers") and not model.get("pending")

    wait_for(stopped, 60, interval=0.5, what=f"{user}'s server to stop")


def holders(hub: HubProcess) -> dict[str, str | None]:
    """GPU uuid -> holding server id, from the hub's GPU ledger (its REST endpoint)."""
    r = hub.api("GET", "mutirao/gpus")
    assert r.status_code == 200, r.text
    return {gpu["uuid"]: gpu["holder"] for gpu in r.json()["gpus"]}


def container(daemon: PrivateDockerd, user: str) -> dict | None:
    try:
        return daemon.client().inspect_container(f"mutirao-test-{user}")
    except docker.errors.NotFound:
        return None


def exec_in(daemon: PrivateDockerd, user: str, *cmd: str) -> tuple[int, str]:
    client = daemon.client()
    exec_id = client.exec_create(f"mutirao-test-{user}", list(cmd))
    output = client.exec_start(exec_id).decode(errors="replace")
    return client.exec_inspect(exec_id)["ExitCode"], output


def server_env(daemon: PrivateDockerd, user: str) -> dict[str, str]:
    """The environment of the container's first process: jupyterhub-singleuser itself."""
    code, out = exec_in(daemon, user, "cat", "/proc/1/environ")
    assert code == 0, out
    return dict(item.split("=", 1) for item in out.split("\0") if "=" in item)


def binds(info: dict) -> dict[str, str]:
    """mount point -> "source:mode" of a container's binds and volumes."""
    return {m["Destination"]: f"{m.get('Name') or m['Source']}:{m['Mode'] or 'rw'}"
            for m in info["Mounts"]}  # fmt: skip


def restart(hub: HubProcess) -> None:
    """Stop the hub process (and its proxy) without stopping servers, and start it again."""
    hub.proc.send_signal(signal.SIGTERM)
    hub.proc.wait(60)
    hub._log_file.close()
    hub.start()


# -- through the hub ------------------------------------------------------------------------------


def test_cpu_server_in_a_real_container(dockerd, docker_hub):
    server = ready(docker_hub, "ana", "cpu")
    info = container(dockerd, "ana")
    assert info["State"]["Running"]
    assert info["Config"]["Image"] == IMAGE
    labels = info["Config"]["Labels"]
    assert labels[LABEL_SERVER] == "ana/"
    assert labels[LABEL_GPUS] == ""
    assert labels[LABEL_PROFILE] == "cpu"
    assert labels[LABEL_TEST] == "1"
    host = info["HostConfig"]
    assert host["NetworkMode"] == "host"
    assert host["CpuQuota"] == 50_000
    assert host["CpuPeriod"] == 100_000
    assert host["Memory"] == 1024**3
    assert not host.get("DeviceRequests")
    mounts = binds(info)
    assert mounts["/home/jovyan"] == "jupyterhub-user-ana:rw"
    assert mounts["/data/ml"] == "ml-datasets:ro"  # ana is in ml-research, not its editors
    assert mounts["/scratch"] == "ml-scratch:rw"
    assert "/data/lake" not in mounts  # not in data-platform
    # what the server process itself sees
    env = server_env(dockerd, "ana")
    assert env["NVIDIA_VISIBLE_DEVICES"] == "void"
    assert env["CUDA_VISIBLE_DEVICES"] == ""
    assert env["JUPYTERHUB_USER"] == "ana"
    assert exec_in(dockerd, "ana", "id", "-u") == (0, "1000\n")
    code, out = exec_in(dockerd, "ana", "touch", "/data/ml/from-ana")
    assert code != 0
    assert "Read-only file system" in out
    assert exec_in(dockerd, "ana", "touch", "/home/jovyan/notes.txt")[0] == 0
    # and it answers through the proxy
    token = docker_hub.user_token("ana")
    r = requests.get(
        docker_hub.user_url("ana", "api/contents/notes.txt"),
        headers={"Authorization": f"token {token}"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    assert server["state"]  # spawner state is saved (admin:server_state)


def test_gpu_server_gets_its_gpu_labels_and_env(dockerd, docker_hub):
    ready(docker_hub, "davi")
    info = container(dockerd, "davi")
    labels = info["Config"]["Labels"]
    assert labels[LABEL_SERVER] == "davi/"
    assert labels[LABEL_PROFILE] == "gpu"
    held = labels[LABEL_GPUS]
    assert held in (GPU_A, GPU_B)
    assert holders(docker_hub)[held] == "davi/"
    env = server_env(dockerd, "davi")
    assert env["CUDA_VISIBLE_DEVICES"] == held
    assert env["NVIDIA_VISIBLE_DEVICES"] == held
    assert not info["HostConfig"].get("DeviceRequests")  # gpu_device_requests is off here
    assert info["HostConfig"]["Memory"] == 2 * 1024**3
    mounts = binds(info)
    assert mounts["/data/ml"] == "ml-datasets:rw"  # davi is in ml-research-editors
    assert mounts["/data/lake"] == "dp-lake:ro"  # but not a data-platform editor
    assert exec_in(dockerd, "davi", "touch", "/data/ml/from-davi")[0] == 0
    # the daemon lists what runs, as the GPU service reconciles it
    listed = dockerd.client().containers(filters={"label": LABEL_SERVER})
    assert holders_from_containers(listed)["davi/"] == {held}


def test_hub_restart_keeps_the_assignment(dockerd, docker_hub):
    if container(dockerd, "davi") is None:
        ready(docker_hub, "davi")
    before = container(dockerd, "davi")
    held = before["Config"]["Labels"][LABEL_GPUS]
    restart(docker_hub)
    after = container(dockerd, "davi")
    assert after["Id"] == before["Id"]
    assert after["State"]["Running"]
    assert after["State"]["StartedAt"] == before["State"]["StartedAt"]  # not restarted
    model = docker_hub.api("GET", "users/davi").json()
    assert model["servers"][""]["ready"]
    assert holders(docker_hub)[held] == "davi/"
    # the other GPU is the only free one: bruno gets it, never davi's
    ready(docker_hub, "bruno")
    other = container(dockerd, "bruno")["Config"]["Labels"][LABEL_GPUS]
    assert {held, other} == {GPU_A, GPU_B}
    assert holders(docker_hub) == {held: "davi/", other: "bruno/"}
    # the GPU service reconciled with the containers' labels all along (every 3 s) and found
    # nothing to correct
    reports = docker_hub.api("GET", "mutirao/gpus").json()["reports"]
    assert not [r for r in reports if r["kind"] in ("stale", "mismatch", "unknown", "conflict")]
    stop(docker_hub, "bruno")
    # remove=True: a fresh container every start (Docker's auto-remove finishes it after the stop)
    wait_for(lambda: container(dockerd, "bruno") is None, 30, what="bruno's container to go")


def test_device_request_reaches_the_daemon(dockerd):
    client = dockerd.client()
    kwargs = finish_create_kwargs(
        {"image": IMAGE, "name": "mutirao-test-spec", "host_config": {"NetworkMode": "host"}},
        container_labels("ana/", "gpu", [GPU_A, GPU_B]),
        gpu_device_requests([GPU_A, GPU_B]),
    )
    created = client.create_container(**kwargs)
    try:
        info = client.inspect_container(created["Id"])
        (request,) = info["HostConfig"]["DeviceRequests"]
        assert request["Driver"] == "nvidia"
        assert request["DeviceIDs"] == [GPU_A, GPU_B]
        assert request["Capabilities"] == [["gpu"]]
        assert info["Config"]["Labels"][LABEL_GPUS] == f"{GPU_A},{GPU_B}"
    finally:
        client.remove_container(created["Id"], force=True)


def test_list_running_holders_reads_the_daemon(dockerd, monkeypatch):
    """The flavour-wide listing the GPU service reconciles with, before any spawner has made a
    Docker client (as at hub start): a container started by hand with Mutirão's labels."""
    client = dockerd.client()
    mounts = {p: {"bind": p, "mode": "ro"} for p in host_runtime_mounts()}
    created = client.create_container(
        IMAGE,
        ["sleep", "120"],
        labels=container_labels("erin/by-hand", "gpu", [GPU_B]),
        volumes=list(mounts),
        host_config=client.create_host_config(binds=mounts, network_mode="none"),
    )

    def fresh_clients():
        # as at hub start: no spawner has made the shared client yet
        for cls in (GPUDockerSpawner, DockerSpawner):
            if cls._client is not None:
                cls._client.close()
            monkeypatch.setattr(cls, "_client", None)

    fresh_clients()
    try:
        client.start(created["Id"])
        monkeypatch.setenv("DOCKER_HOST", dockerd.url)
        listed = asyncio.run(GPUDockerSpawner.list_running_holders())
        assert listed["erin/by-hand"] == {GPU_B}
        fresh_clients()
        monkeypatch.setenv("DOCKER_HOST", "unix:///tmp/mdk-nothing-here.sock")
        with warnings.catch_warnings():
            # docker-py leaves the socket of a failed unix connect to the garbage collector
            warnings.simplefilter("ignore", ResourceWarning)
            with pytest.raises(DockerSpawnError, match=r"mdk-nothing-here\.sock is not reachable"):
                asyncio.run(GPUDockerSpawner.list_running_holders())
            gc.collect()
    finally:
        fresh_clients()
        client.remove_container(created["Id"], force=True)


def test_no_gpu_runtime_is_a_clear_failure_and_returns_the_gpu(dockerd, docker_hub):
    stop(docker_hub, "davi")  # both GPUs free: the failed spawn must not keep one
    event = spawn(docker_hub, "carla", profile="gpu")
    assert event.get("failed"), event
    message = event["message"]
    assert "cannot give containers GPUs" in message, message
    assert "NVIDIA Container Toolkit" in message
    assert "could not select device driver" in message
    assert set(holders(docker_hub).values()) == {None}
    assert container(dockerd, "carla") is None


def test_image_not_on_the_host_is_a_clear_failure(dockerd, docker_hub):
    event = spawn(docker_hub, "bruno", profile="unbuilt")
    assert event.get("failed"), event
    assert f"The image '{MISSING_IMAGE}' is not on the Docker host" in event["message"]
    assert set(holders(docker_hub).values()) == {None}
    assert container(dockerd, "bruno") is None


def test_image_outside_the_allow_list_is_refused(dockerd, docker_hub):
    event = spawn(docker_hub, "bruno", profile="gpu", image="busybox:latest")
    assert event.get("failed"), event
    assert "'busybox:latest' is not allowed for profile 'gpu'" in event["message"]
    assert set(holders(docker_hub).values()) == {None}
    assert container(dockerd, "bruno") is None


def test_dockerd_down_is_a_clear_failure_and_returns_the_gpu(dockerd, docker_hub):
    for user in ("ana", "davi"):
        if container(dockerd, user) is not None:
            stop(docker_hub, user)
    dockerd.pause()
    try:
        event = spawn(docker_hub, "bruno", profile="gpu")
        assert event.get("failed"), event
        assert f"The Docker daemon at {dockerd.url} is not reachable" in event["message"]
        assert set(holders(docker_hub).values()) == {None}
    finally:
        dockerd.resume()
    ready(docker_hub, "bruno")  # the daemon is back and so is the GPU
    assert len([h for h in holders(docker_hub).values() if h]) == 1
    stop(docker_hub, "bruno")


def restart_with_unknown_holders(hub: HubProcess, policy: str | None) -> None:
    """Restart the hub with ``unknown_gpu_holders = policy`` (None: the default, "report")."""
    lines = [
        line
        for line in hub.config_path.read_text().splitlines()
        if "unknown_gpu_holders" not in line
    ]
    if policy:
        lines.append(f'c.GPUDockerSpawner.unknown_gpu_holders = "{policy}"')
    hub.config_path.write_text("\n".join(lines) + "\n")
    restart(hub)


def reports_of(hub: HubProcess, server_id: str) -> list[dict]:
    return [
        r for r in hub.api("GET", "mutirao/gpus").json()["reports"] if r.get("server") == server_id
    ]


def test_containers_holding_gpus_the_ledger_does_not_know(dockerd, docker_hub):
    """Containers with Mutirão's labels that no hub server stands for: one started by hand
    (no hub label) holding GPU_A, and one of another hub sharing this Docker host holding
    GPU_B. The first is reported, adopted or reclaimed per ``unknown_gpu_holders``; the other
    hub's is never touched."""
    for user in ("ana", "bruno", "davi"):
        if container(dockerd, user) is not None:
            stop(docker_hub, user)
    client = dockerd.client()
    mounts = {p: {"bind": p, "mode": "ro"} for p in host_runtime_mounts()}

    def run_by_hand(name: str, labels: dict[str, str]) -> str:
        created = client.create_container(
            IMAGE,
            ["sleep", "600"],
            name=name,
            labels={**labels, LABEL_TEST: "1"},
            volumes=list(mounts),
            host_config=client.create_host_config(binds=mounts, network_mode="none"),
        )
        client.start(created["Id"])
        return created["Id"]

    ghost = run_by_hand("mutirao-test-ghost", container_labels("ghost/", "gpu", [GPU_A]))
    visitor = run_by_hand(
        "mutirao-test-visitor",
        container_labels("visitor/", "gpu", [GPU_B], hub="another-hub"),
    )
    try:
        # report (the default): on the admin API, the GPU stays free in the ledger
        wait_for(lambda: reports_of(docker_hub, "ghost/"), 60, what="the unknown report")
        [report] = reports_of(docker_hub, "ghost/")
        assert report["kind"] == "unknown"
        assert f"ghost/ runs with {GPU_A}" in report["message"]
        assert holders(docker_hub) == {GPU_A: None, GPU_B: None}
        assert not reports_of(docker_hub, "visitor/")
        # found again at every reconciliation (every 3 s here): listed once, counted
        wait_for(lambda: reports_of(docker_hub, "ghost/")[0]["count"] >= 2, 60, what="a recount")
        assert len(reports_of(docker_hub, "ghost/")) == 1
        page = docker_hub.login("ana").get(docker_hub.hub_url("mutirao/gpus"), timeout=30)
        assert page.status_code == 200
        assert re.search(r"ghost/ runs with [^<]*\(seen \d+ times, last at", page.text), page.text

        # adopt: the ledger records the holding. The first spawn after the restart waits for
        # the first reconciliation, so it is given the other GPU, never the adopted one.
        restart_with_unknown_holders(docker_hub, "adopt")
        ready(docker_hub, "bruno")
        assert container(dockerd, "bruno")["Config"]["Labels"][LABEL_GPUS] == GPU_B
        assert holders(docker_hub) == {GPU_A: "ghost/", GPU_B: "bruno/"}
        assert [r["kind"] for r in reports_of(docker_hub, "ghost/")] == ["adopted"]
        stop(docker_hub, "bruno")

        # reclaim: the container is stopped (kept, for the admin to look at), the GPU is free;
        # with no server to load, the GPU service starts when an admin first reads its page
        restart_with_unknown_holders(docker_hub, "reclaim")
        holders(docker_hub)
        wait_for(
            lambda: not client.inspect_container(ghost)["State"]["Running"],
            60,
            what="the stray container to be stopped",
        )
        [report] = reports_of(docker_hub, "ghost/")
        assert report["kind"] == "reclaimed"
        assert report["message"].endswith("stopped container mutirao-test-ghost")
        assert holders(docker_hub)[GPU_A] is None
        # the other hub's container runs on, unreported
        assert client.inspect_container(visitor)["State"]["Running"]
        assert not reports_of(docker_hub, "visitor/")
    finally:
        for created in (ghost, visitor):
            client.remove_container(created, force=True)
        restart_with_unknown_holders(docker_hub, None)
