"""GPUKubeSpawner, the Kubernetes flavour of the GPU spawner.

There is no Kubernetes API server here, so:

- the pod manifests kubespawner would submit (built with kubespawner's own ``make_pod`` from the
  arguments :mod:`mutirao_spawner.kube` computes, and the bodies the spawner really POSTs) are
  validated against the Kubernetes 1.30 OpenAPI schema with kubernetes-validate, in strict mode
  (unknown fields fail). The schema does not check label syntax or resource names, so
  :func:`assert_valid_pod` checks those with Kubernetes' own rules;
- the spawn flow runs against :class:`FakeKubeAPI`, a small aiohttp app on 127.0.0.1 that answers
  the only endpoints kubespawner calls (list and watch pods and events, create, read and delete
  a pod). kubernetes_asyncio, kubespawner's reflectors and the spawner run unchanged above it, so
  the boundary under test is HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Mapping
from typing import Any

import kubernetes_validate
import pytest
from aiohttp import web
from kubernetes_asyncio.client import ApiClient
from kubernetes_asyncio.config import kube_config
from kubespawner.objects import make_pod
from traitlets.config import Config

from mutirao_spawner.inventory import inventory_from_config
from mutirao_spawner.kube import (
    ANNOTATION_SERVER,
    ANNOTATION_SLOTS,
    LABEL_GPUS,
    LABEL_SERVER,
    PRODUCT_LABEL,
    capacity_to_gpus,
    gpu_annotations,
    gpu_labels,
    gpu_node_selector,
    gpu_resources,
    gpu_tolerations,
    holders_from_pods,
    insufficient_gpu_message,
    product_label_value,
    slots_from_pod,
)
from mutirao_spawner.ledger import Granted, Ledger, Policy, Queued, Request
from mutirao_spawner.mixin import GPUSpawnError
from mutirao_spawner.service import GPUService

from ..harness import REPO

K8S_VERSION = "1.30.0"
A100 = "NVIDIA A100-SXM4-80GB"
L4 = "NVIDIA L4"
CAPACITY = [
    {"model": A100, "count": 2},
    {"model": A100, "mig_profile": "1g.10gb", "count": 3},
    {"model": L4, "count": 4, "memory_mib": 23034},
]
GPU_TAINT = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
INSUFFICIENT = "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."

# Kubernetes' own syntax rules (apimachinery validation), which the OpenAPI schema leaves out
_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
_DNS_SUBDOMAIN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
QUALIFIED_NAME = re.compile(rf"^({_DNS_SUBDOMAIN}/)?{_NAME}$")
LABEL_VALUE = re.compile(rf"^({_NAME})?$")


def serialize(obj: Any) -> Any:
    """A kubernetes_asyncio model as the JSON the client sends (camelCase keys, no Nones)."""
    return ApiClient.sanitize_for_serialization(_Serializer(), obj)


class _Serializer:
    # sanitize_for_serialization needs only these two names from its ApiClient; a real one
    # would open an HTTP session
    PRIMITIVE_TYPES = ApiClient.PRIMITIVE_TYPES
    sanitize_for_serialization = ApiClient.sanitize_for_serialization


def assert_valid_pod(pod: Mapping[str, Any]) -> None:
    """Schema-valid for Kubernetes 1.30, with labels and resource names Kubernetes accepts."""
    kubernetes_validate.validate(dict(pod), K8S_VERSION, strict=True)
    metadata = pod["metadata"]
    for key, value in metadata.get("labels", {}).items():
        assert QUALIFIED_NAME.match(key), key
        assert len(key.split("/")[-1]) <= 63, key
        assert LABEL_VALUE.match(value), (key, value)
        assert len(value) <= 63, (key, value)
    for key in metadata.get("annotations", {}):
        assert QUALIFIED_NAME.match(key), key
    for key, value in pod["spec"].get("nodeSelector", {}).items():
        assert QUALIFIED_NAME.match(key), key
        assert LABEL_VALUE.match(value), (key, value)
    for container in pod["spec"]["containers"]:
        resources = container.get("resources", {})
        for name in [*resources.get("limits", {}), *resources.get("requests", {})]:
            assert QUALIFIED_NAME.match(name), name


# -- declared capacity -----------------------------------------------------------------------


def test_capacity_becomes_ledger_slots():
    inventory = inventory_from_config(capacity_to_gpus(CAPACITY))
    # in the order the ledger hands them out: declaration order
    assert Ledger(inventory).free() == (
        "k8s/nvidia-a100-sxm4-80gb/gpu-0",
        "k8s/nvidia-a100-sxm4-80gb/gpu-1",
        "k8s/nvidia-a100-sxm4-80gb/mig-1g.10gb-0",
        "k8s/nvidia-a100-sxm4-80gb/mig-1g.10gb-1",
        "k8s/nvidia-a100-sxm4-80gb/mig-1g.10gb-2",
        "k8s/nvidia-l4/gpu-0",
        "k8s/nvidia-l4/gpu-1",
        "k8s/nvidia-l4/gpu-2",
        "k8s/nvidia-l4/gpu-3",
    )
    # the MIG parent is bookkeeping: never handed out
    assert "k8s/nvidia-a100-sxm4-80gb/mig-1g.10gb" in inventory
    assert {g.model for g in inventory} == {A100, L4}
    assert inventory["k8s/nvidia-l4/gpu-3"].memory_mib == 23034
    # the same declaration gives the same slots, so saved claims survive a hub restart
    assert capacity_to_gpus(CAPACITY) == capacity_to_gpus(CAPACITY)


def test_the_ledger_counts_declared_capacity():
    ledger = Ledger(inventory_from_config(capacity_to_gpus(CAPACITY)), Policy(per_user_limit=2))
    first = ledger.request(Request("alice/a", "alice", model=A100, count=2), now=0)
    a100 = "k8s/nvidia-a100-sxm4-80gb"
    assert first == Granted("alice/a", (f"{a100}/gpu-0", f"{a100}/gpu-1"))
    mig = ledger.request(Request("bob/m", "bob", mig_profile="1g.10gb", count=1), now=0)
    assert mig == Granted("bob/m", (f"{a100}/mig-1g.10gb-0",))
    # A100s are all taken: the next A100 request waits, and no pod is requested for it
    assert isinstance(ledger.request(Request("carol/a", "carol", model=A100), now=0), Queued)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"count": 1}, "model is required"),
        ({"model": A100, "count": -1}, "count must be a whole number"),
        ({"model": A100, "count": True}, "count must be a whole number"),
        ({"model": A100, "count": "2"}, "count must be a whole number"),
        ({"model": A100, "count": 1, "gpus": 2}, "unknown key 'gpus'"),
        ({"model": A100, "count": 1, "mig_profile": "1g.10gb+me"}, "is not a MIG profile"),
        ({"model": A100, "count": 1, "memory_mib": -5}, "memory_mib must be"),
        ("A100", "expected a dict"),
    ],
)
def test_bad_capacity_is_refused_naming_the_entry(entry, message):
    with pytest.raises(ValueError, match=message) as raised:
        capacity_to_gpus([{"model": L4, "count": 1}, entry])
    assert "gpu_capacity[1]" in str(raised.value)


def test_capacity_declared_twice_is_refused():
    with pytest.raises(ValueError, match=r"gpu_capacity\[1\]: .* declared twice"):
        capacity_to_gpus([{"model": A100, "count": 1}, {"model": A100.lower(), "count": 2}])


# -- pod manifests ---------------------------------------------------------------------------

# (profile name, GPU count, GPU model, MIG profile, node selector, tolerations) per kind of server
PROFILES = {
    "cpu": ("cpu", 0, None, None, {}, ()),
    "one-gpu": ("a100", 1, A100, None, {}, ()),
    "multi-gpu": (
        "a100-x4",
        4,
        A100,
        None,
        {"topology.kubernetes.io/zone": "rack-2"},
        ({"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoSchedule"},),
    ),
    "mig": ("mig-small", 1, A100, "1g.10gb", {}, ()),
}


def manifest(kind: str) -> dict[str, Any]:
    """The pod kubespawner's ``make_pod`` builds from what GPUKubeSpawner computes for ``kind``."""
    name, gpus, model, mig, selector, tolerations = PROFILES[kind]
    slots = [f"k8s/slot-{n}" for n in range(gpus)]
    resources = gpu_resources(gpus, mig)
    pod = make_pod(
        name="jupyter-alice--train",
        cmd=["jupyterhub-singleuser"],
        port=8888,
        image="quay.io/jupyter/pytorch-notebook:2024-10-07",
        cpu_limit=8.0,
        mem_limit="32G",
        extra_resource_limits=resources,
        extra_resource_guarantees=resources,
        node_selector=gpu_node_selector(gpus, model, selector),
        tolerations=gpu_tolerations(gpus, [GPU_TAINT], tolerations),
        labels={"component": "singleuser-server", **gpu_labels("alice/train", name, slots)},
        annotations=gpu_annotations("alice/train", slots),
        extra_pod_config={"activeDeadlineSeconds": 8 * 3600 + 600},
    )
    return serialize(pod)


@pytest.mark.parametrize("kind", PROFILES)
def test_pod_manifest_is_valid_kubernetes(kind):
    assert_valid_pod(manifest(kind))


def test_cpu_pod_asks_for_no_gpu_and_no_gpu_node():
    pod = manifest("cpu")
    limits = pod["spec"]["containers"][0]["resources"]["limits"]
    assert limits == {"cpu": 8.0, "memory": "32G"}
    assert "nodeSelector" not in pod["spec"]
    assert "tolerations" not in pod["spec"]
    assert pod["metadata"]["labels"][LABEL_GPUS] == "0"


def test_whole_gpu_pod_asks_the_device_plugin_for_nvidia_com_gpu():
    pod = manifest("one-gpu")
    resources = pod["spec"]["containers"][0]["resources"]
    assert resources["limits"]["nvidia.com/gpu"] == "1"
    assert resources["requests"]["nvidia.com/gpu"] == "1"  # extended resources: requests == limits
    assert pod["spec"]["nodeSelector"] == {PRODUCT_LABEL: "NVIDIA-A100-SXM4-80GB"}
    assert pod["spec"]["tolerations"] == [GPU_TAINT]


def test_multi_gpu_pod_merges_the_profile_selector_and_tolerations():
    pod = manifest("multi-gpu")
    assert pod["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "4"
    assert pod["spec"]["nodeSelector"] == {
        PRODUCT_LABEL: "NVIDIA-A100-SXM4-80GB",
        "topology.kubernetes.io/zone": "rack-2",
    }
    assert [t["key"] for t in pod["spec"]["tolerations"]] == ["nvidia.com/gpu", "dedicated"]
    assert pod["metadata"]["labels"][LABEL_GPUS] == "4"
    assert pod["metadata"]["annotations"][ANNOTATION_SLOTS].split(",") == [
        f"k8s/slot-{n}" for n in range(4)
    ]


def test_mig_pod_asks_for_the_mixed_strategy_resource():
    pod = manifest("mig")
    limits = pod["spec"]["containers"][0]["resources"]["limits"]
    assert limits["nvidia.com/mig-1g.10gb"] == "1"
    assert "nvidia.com/gpu" not in limits


def test_labels_are_slugs_and_annotations_are_exact():
    server = "Émile.O'Brien@example.org/a very long server name that goes on and on and on"
    labels = gpu_labels(server, "gpu", ["k8s/x/gpu-0"])
    assert LABEL_VALUE.match(labels[LABEL_SERVER])
    assert len(labels[LABEL_SERVER]) <= 63
    assert gpu_labels(server + "!", "gpu", [])[LABEL_SERVER] != labels[LABEL_SERVER]
    annotations = gpu_annotations(server, ["a", "b"])
    assert annotations == {ANNOTATION_SERVER: server, ANNOTATION_SLOTS: "a,b"}
    assert product_label_value("NVIDIA H100 80GB HBM3") == "NVIDIA-H100-80GB-HBM3"


def test_a_profile_selector_wins_over_the_model():
    selector = gpu_node_selector(1, A100, {PRODUCT_LABEL: "NVIDIA-A100-PCIE-40GB"})
    assert selector == {PRODUCT_LABEL: "NVIDIA-A100-PCIE-40GB"}
    assert gpu_node_selector(0, A100, {}) == {}  # a CPU server does not need a GPU node


def test_gpu_resources_refuse_negative_counts():
    assert gpu_resources(0) == {}
    with pytest.raises(ValueError, match=">= 0"):
        gpu_resources(-1)


# -- reading back what runs --------------------------------------------------------------------


def pod_dict(server: str, slots: list[str], phase: str = "Running") -> dict[str, Any]:
    return {
        "metadata": {
            "name": server.replace("/", "--"),
            "annotations": gpu_annotations(server, slots),
        },
        "status": {"phase": phase},
    }


def test_holders_come_from_pod_annotations():
    pods = [
        pod_dict("alice/", ["k8s/a/gpu-0", "k8s/a/gpu-1"]),
        pod_dict("bob/train", ["k8s/a/mig-1g.10gb-0"], phase="Pending"),  # waiting for a node
        pod_dict("carol/", ["k8s/a/gpu-2"], phase="Succeeded"),  # finished: holds nothing
        pod_dict("dave/", []),  # a CPU server
        {"metadata": {"name": "someone-elses-pod"}, "status": {"phase": "Running"}},
    ]
    assert holders_from_pods(pods) == {
        "alice/": {"k8s/a/gpu-0", "k8s/a/gpu-1"},
        "bob/train": {"k8s/a/mig-1g.10gb-0"},
        "dave/": set(),
    }
    assert slots_from_pod(pods[4]) == set()


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (INSUFFICIENT, "Waiting for a GPU node: the cluster reports Insufficient nvidia.com/gpu"),
        (
            "0/5 nodes are available: 2 node(s) had untolerated taint, 3 Insufficient nvidia.com/mig-1g.10gb.",  # noqa: E501
            "Waiting for a GPU node: the cluster reports Insufficient nvidia.com/mig-1g.10gb",
        ),
        ("0/3 nodes are available: 3 Insufficient cpu.", None),
    ],
)
def test_insufficient_gpu_events_become_queue_messages(message, expected):
    event = {"reason": "FailedScheduling", "type": "Warning", "message": message}
    assert insufficient_gpu_message(event) == expected
    assert insufficient_gpu_message({**event, "reason": "Scheduled"}) is None


# -- the flow, against a fake Kubernetes API over HTTP -----------------------------------------


def _selects(selector: str, values: Mapping[str, str]) -> bool:
    """Kubernetes' equality-based selector (``a=b,c``) against labels or fields."""
    for term in filter(None, selector.split(",")):
        key, eq, value = term.partition("=")
        if key not in values or (eq and values[key] != value):
            return False
    return True


def _fields(obj: Mapping[str, Any]) -> dict[str, str]:
    involved = obj.get("involvedObject") or {}
    return {f"involvedObject.{k}": v for k, v in involved.items() if isinstance(v, str)}


def _status(code: int, reason: str) -> web.Response:
    return web.json_response({"kind": "Status", "code": code, "reason": reason}, status=code)


class FakeKubeAPI:
    """The part of the Kubernetes API that kubespawner uses, on 127.0.0.1.

    With ``gpu_nodes_free`` a created pod runs at once; without, it stays Pending and the
    scheduler's ``FailedScheduling`` "Insufficient nvidia.com/gpu" event is recorded for it.
    Watches are answered like a quiet API server: the stream ends after a second or at the next
    change, and kubespawner's reflector lists again (what it does after every watch timeout).
    """

    def __init__(self, gpu_nodes_free: bool = True, pods: list[dict[str, Any]] = ()) -> None:
        self.gpu_nodes_free = gpu_nodes_free
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request
        self.created: list[dict[str, Any]] = []  # pod bodies as POSTed
        self.pods = {f"{p['metadata']['namespace']}/{p['metadata']['name']}": p for p in pods}
        self.events: list[dict[str, Any]] = []
        self._version = 1
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> FakeKubeAPI:
        app = web.Application()
        base = "/api/v1/namespaces/{ns}"
        app.router.add_get(base + "/pods", self.list_pods)
        app.router.add_post(base + "/pods", self.create_pod)
        app.router.add_get(base + "/pods/{name}", self.read_pod)
        app.router.add_delete(base + "/pods/{name}", self.delete_pod)
        app.router.add_get(base + "/events", self.list_events)
        app.middlewares.append(self._record)
        self._runner = web.AppRunner(app, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append((request.method, request.path))
        return await handler(request)

    def pod_requests(self, method: str) -> list[str]:
        return [path for m, path in self.requests if m == method and "/pods" in path]

    def _change(self) -> str:
        self._version += 1
        self._changed.set()
        self._changed = asyncio.Event()
        return str(self._version)

    async def _list(self, request: web.Request, kind: str, items: list[dict[str, Any]]) -> Any:
        if request.query.get("watch", "").lower() in ("true", "1"):
            response = web.StreamResponse(headers={"Content-Type": "application/json"})
            await response.prepare(request)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), 1)
            with contextlib.suppress(ConnectionError):  # the reflector stopped listening
                await response.write_eof()
            return response
        body = {
            "kind": kind,
            "apiVersion": "v1",
            "metadata": {"resourceVersion": str(self._version)},
            "items": items,
        }
        return web.json_response(body)

    async def list_pods(self, request: web.Request) -> Any:
        selector = request.query.get("labelSelector", "")
        pods = [
            p
            for p in self.pods.values()
            if p["metadata"]["namespace"] == request.match_info["ns"]
            and _selects(selector, p["metadata"].get("labels") or {})
        ]
        return await self._list(request, "PodList", pods)

    async def list_events(self, request: web.Request) -> Any:
        selector = request.query.get("fieldSelector", "")
        events = [e for e in self.events if _selects(selector, _fields(e))]
        return await self._list(request, "EventList", events)

    async def create_pod(self, request: web.Request) -> Any:
        pod = await request.json()
        self.created.append(json.loads(json.dumps(pod)))
        ns, name = request.match_info["ns"], pod["metadata"]["name"]
        key = f"{ns}/{name}"
        if key in self.pods:
            return _status(409, "AlreadyExists")
        pod["metadata"].update(namespace=ns, uid=f"uid-{name}", resourceVersion=self._change())
        if self.gpu_nodes_free:
            statuses = [
                {
                    "name": "notebook",
                    "image": pod["spec"]["containers"][0]["image"],
                    "imageID": "",
                    "ready": True,
                    "restartCount": 0,
                    "state": {"running": {}},
                }
            ]
            pod["status"] = {
                "phase": "Running",
                "podIP": "127.0.0.1",
                "containerStatuses": statuses,
            }
        else:
            pod["status"] = {"phase": "Pending"}
            self.events.append(
                {
                    "metadata": {"name": f"{name}.1", "namespace": ns, "uid": f"ev-{name}"},
                    "involvedObject": {"kind": "Pod", "name": name, "namespace": ns},
                    "reason": "FailedScheduling",
                    "type": "Warning",
                    "message": INSUFFICIENT,
                    "lastTimestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "eventTime": None,
                }
            )
        self.pods[key] = pod
        self._change()
        return web.json_response(pod, status=201)

    async def read_pod(self, request: web.Request) -> Any:
        pod = self.pods.get(f"{request.match_info['ns']}/{request.match_info['name']}")
        if pod is None:
            return _status(404, "NotFound")
        return web.json_response(pod)

    async def delete_pod(self, request: web.Request) -> Any:
        pod = self.pods.pop(f"{request.match_info['ns']}/{request.match_info['name']}", None)
        if pod is None:
            return _status(404, "NotFound")
        self._change()
        return web.json_response(pod)


class FakeUser:
    """What KubeSpawner and the mixin read from a hub user."""

    def __init__(self, name: str, teams: tuple[str, ...] = ("ml-research",)) -> None:
        self.name = name
        self.id = abs(hash(name)) % 10_000
        self.url = f"/user/{name}/"
        self.groups = [type("Group", (), {"name": team})() for team in teams]


@pytest.fixture
def kube(tmp_path, monkeypatch):
    """Run ``scenario(api)`` in a fresh event loop against a :class:`FakeKubeAPI`.

    kubespawner reads a kubeconfig first (the fake API's address then replaces its server) and
    keeps its reflectors on the class: they are stopped after each test.
    """
    from mutirao_spawner.kube import GPUKubeSpawner

    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "fake", "cluster": {"server": "http://127.0.0.1:9"}}],
        "users": [{"name": "fake", "user": {}}],
        "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
        "current-context": "fake",
    }
    (tmp_path / "kubeconfig").write_text(json.dumps(kubeconfig))
    # read from $KUBECONFIG when kubernetes_asyncio is imported, so set where it is kept
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(tmp_path / "kubeconfig"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)

    def run(scenario: Any, **api_kwargs: Any) -> Any:
        async def main() -> Any:
            async with FakeKubeAPI(**api_kwargs) as api:
                try:
                    return await scenario(api)
                finally:
                    await GPUKubeSpawner._stop_all_reflectors()

        GPUService.reset()  # one GPU ledger per hub process: a fresh "hub" per test
        try:
            return asyncio.run(main())
        finally:
            GPUService.reset()

    return run


PROFILES_CONFIG = [
    {"name": "cpu", "images": ["quay.io/jupyter/minimal-notebook:2024-10-07"]},
    {
        "name": "a100",
        "images": ["quay.io/jupyter/pytorch-notebook:cuda12-2024-10-07"],
        "cpu_limit": 8,
        "mem_limit": "32G",
        "gpu_counts": [1, 2],
        "gpu_model": A100,
        "max_runtime_s": 8 * 3600,
        "tolerations": [
            {"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoSchedule"}
        ],
    },
    {
        "name": "mig-small",
        "images": ["quay.io/jupyter/pytorch-notebook:cuda12-2024-10-07"],
        "gpu_counts": [1],
        "gpu_model": A100,
        "mig_profile": "1g.10gb",
    },
    {"name": "vision-only", "images": ["quay.io/jupyter/minimal-notebook:2024-10-07"]},
]


def make_spawner(
    api: FakeKubeAPI,
    user: str = "alice",
    name: str = "",
    options: dict | None = None,
    **config: Any,
) -> Any:
    """A GPUKubeSpawner for ``user``'s server ``name`` (team ml-research), at the fake API."""
    from mutirao_spawner.kube import GPUKubeSpawner

    c = Config()
    settings = {
        "k8s_api_host": api.url,
        "namespace": "jhub",
        "cmd": ["jupyterhub-singleuser"],
        "slow_spawn_message_threshold": 0,
        "start_timeout": 30,
        "gpu_capacity": CAPACITY,
        "profiles": PROFILES_CONFIG,
        "team_profiles": {"vision": ["vision-only"]},
        "gpu_limit_per_user": 2,
        **config,
    }
    for key, value in settings.items():
        setattr(c.GPUKubeSpawner, key, value)
    orm_spawner = type("OrmSpawner", (), {"name": name, "server": None, "state": {}})()
    spawner = GPUKubeSpawner(config=c, user=FakeUser(user), orm_spawner=orm_spawner, _mock=True)
    spawner.user_options = options or {}
    return spawner


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"profile": "a100", "gpus": "3"}, "allows 1, 2 GPUs, not 3"),
        ({"profile": "vision-only"}, "not available to alice"),
        ({"profile": "a100", "image": "docker.io/evil/miner:latest"}, "is not allowed"),
        ({"profile": "a100", "gpus": "-1"}, "must be a whole number"),
    ],
)
def test_a_forged_form_reaches_no_kubernetes_api(kube, options, message):
    async def scenario(api):
        spawner = make_spawner(api, options=options)
        with pytest.raises(GPUSpawnError, match=message):
            await spawner.start()
        assert api.requests == []
        assert GPUService.for_spawner(spawner).ledger.holdings() == {}

    kube(scenario)


def test_a_quota_refusal_happens_before_any_pod_request(kube):
    async def scenario(api):
        holder = make_spawner(api, options={"profile": "a100", "gpus": "2"})
        await holder.start()
        assert len(api.pod_requests("POST")) == 1
        # alice holds 2 GPUs, her quota: a third server is refused with no request for a pod
        second = make_spawner(api, name="second", options={"profile": "mig-small"})
        with pytest.raises(GPUSpawnError, match="quota") as refused:
            await second.start()
        assert "No GPU for this server" in str(refused.value)
        assert len(api.pod_requests("POST")) == 1
        await holder.stop(now=True)

    kube(scenario)


def test_a_granted_spawn_requests_the_pod_the_ledger_decided(kube):
    async def scenario(api):
        spawner = make_spawner(api, options={"profile": "a100", "gpus": "2"})
        url = await spawner.start()
        assert url == "http://127.0.0.1:8888"
        ledger = GPUService.current().ledger
        slots = ledger.claim("alice/").gpu_uuids
        assert slots == ("k8s/nvidia-a100-sxm4-80gb/gpu-0", "k8s/nvidia-a100-sxm4-80gb/gpu-1")

        [pod] = api.created
        assert_valid_pod(pod)
        container = pod["spec"]["containers"][0]
        assert container["image"] == "quay.io/jupyter/pytorch-notebook:cuda12-2024-10-07"
        limits = container["resources"]["limits"]
        assert limits == {"cpu": 8.0, "memory": 32 * 2**30, "nvidia.com/gpu": "2"}
        assert container["resources"]["requests"]["nvidia.com/gpu"] == "2"
        assert pod["spec"]["nodeSelector"] == {PRODUCT_LABEL: "NVIDIA-A100-SXM4-80GB"}
        assert [t["key"] for t in pod["spec"]["tolerations"]] == ["nvidia.com/gpu", "dedicated"]
        assert pod["spec"]["activeDeadlineSeconds"] == 8 * 3600 + 600
        labels, annotations = pod["metadata"]["labels"], pod["metadata"]["annotations"]
        assert labels[LABEL_GPUS] == "2"
        assert labels["mutirao.org/profile"] == "a100"
        assert annotations[ANNOTATION_SERVER] == "alice/"
        assert annotations[ANNOTATION_SLOTS] == ",".join(slots)
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["MUTIRAO_SERVER_ID"] == "alice/"
        assert "CUDA_VISIBLE_DEVICES" not in env  # the device plugin decides what CUDA sees

        # what the ledger reconciles with after a hub restart: read back from the pod
        assert await spawner.observe_running() == set(slots)
        assert await type(spawner).list_running_holders() == {"alice/": set(slots)}

        await spawner.stop(now=True)
        assert api.pod_requests("DELETE") == ["/api/v1/namespaces/jhub/pods/jupyter-alice"]
        assert ledger.claim("alice/") is None
        assert await spawner.observe_running() is None

    kube(scenario)


def test_reclaim_deletes_a_pod_the_hub_did_not_start(kube):
    """A pod with Mutirão's labels that no hub server stands for (made by hand, or left by a
    hub whose database was lost): ``stop_holder`` deletes it, and only it."""
    from mutirao_spawner.kube import GPUKubeSpawner

    def stray(name: str, server: str, phase: str = "Running") -> dict[str, Any]:
        return {
            "metadata": {
                "name": name,
                "namespace": "jhub",
                "labels": {LABEL_SERVER: "stray"},
                "annotations": gpu_annotations(server, ["k8s/nvidia-l4/gpu-3"]),
            },
            "status": {"phase": phase},
        }

    async def scenario(api):
        make_spawner(api)  # the hub spawns in jhub: that namespace is looked at
        holding = {"k8s/nvidia-l4/gpu-3"}
        assert await GPUKubeSpawner.list_running_holders() == {"zoe/": holding, "yan/": holding}
        assert await GPUKubeSpawner.stop_holder("zoe/") == ["pod jhub/jupyter-zoe"]
        assert api.pod_requests("DELETE") == ["/api/v1/namespaces/jhub/pods/jupyter-zoe"]
        assert set(api.pods) == {"jhub/jupyter-yan", "jhub/jupyter-xia"}
        assert await GPUKubeSpawner.stop_holder("xia/") == []  # finished: holds nothing
        assert await GPUKubeSpawner.list_running_holders() == {"yan/": holding}

    kube(
        scenario,
        pods=[
            stray("jupyter-zoe", "zoe/"),
            stray("jupyter-yan", "yan/"),
            stray("jupyter-xia", "xia/", phase="Succeeded"),
        ],
    )


def test_a_cpu_server_hides_the_nodes_gpus(kube):
    async def scenario(api):
        spawner = make_spawner(api, options={"profile": "cpu"})
        await spawner.start()
        [pod] = api.created
        assert_valid_pod(pod)
        container = pod["spec"]["containers"][0]
        assert "nvidia.com/gpu" not in container["resources"].get("limits", {})
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["NVIDIA_VISIBLE_DEVICES"] == "void"
        assert env["CUDA_VISIBLE_DEVICES"] == ""
        await spawner.stop(now=True)

    kube(scenario)


def test_insufficient_nvidia_gpu_is_said_on_the_spawn_page(kube):
    async def scenario(api):
        spawner = make_spawner(api, options={"profile": "mig-small"}, start_timeout=3)
        messages: list[str] = []

        async def follow() -> None:
            async for event in spawner.progress():
                messages.append(event.get("message", ""))

        follower = asyncio.ensure_future(follow())
        with pytest.raises(GPUSpawnError) as failed:
            await spawner.start()
        await asyncio.wait_for(follower, 5)

        expected = "Waiting for a GPU node: the cluster reports Insufficient nvidia.com/gpu"
        assert expected in messages
        # the timeout says why, and the GPU slot went back to the ledger with the pod deleted
        assert "No GPU node became free within 3 seconds" in str(failed.value)
        assert expected in str(failed.value)
        assert GPUService.current().ledger.holdings() == {}
        assert api.pods == {}
        [pod] = api.created
        assert pod["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/mig-1g.10gb"] == "1"

    kube(scenario, gpu_nodes_free=False)


def test_the_z2jh_values_configure_the_spawner(kube):
    """config/kubernetes/values.yaml: its hub.config is valid GPUKubeSpawner config."""
    import yaml

    from mutirao_spawner.profiles import parse_profiles

    values = yaml.safe_load((REPO / "config" / "kubernetes" / "values.yaml").read_text())
    spawner_config = values["hub"]["config"]["GPUKubeSpawner"]
    assert 'spawner_class = "mutirao-kube"' in values["hub"]["extraConfig"]["mutirao"]
    assert values["singleuser"]["startTimeout"] > spawner_config["gpu_queue_timeout"]

    async def scenario(api):
        spawner = make_spawner(api, **spawner_config)
        inventory = inventory_from_config(spawner.gpus)
        assert len(inventory.allocatable()) == 8 + 14 + 4
        profiles = {p.name: p for p in parse_profiles(spawner.profiles)}
        for name, allowed in spawner.team_profiles.items():
            assert set(allowed) <= set(profiles), name
        assert profiles["mig-small"].mig_profile == "1g.10gb"

    kube(scenario)


def test_the_entry_point_names_the_spawner():
    from importlib.metadata import entry_points

    from mutirao_spawner.kube import GPUKubeSpawner

    [entry] = entry_points(group="jupyterhub.spawners", name="mutirao-kube")
    assert entry.load() is GPUKubeSpawner


def test_each_start_begins_from_the_configured_pod(kube):
    """z2jh's own settings stay, GPUs configured outside the ledger go, and nothing of an earlier
    profile is left for the next start."""
    from mutirao_spawner.profiles import choose, parse_profiles

    user_toleration = {"key": "hub.jupyter.org/dedicated", "operator": "Equal", "value": "user"}
    config = {
        "tolerations": [user_toleration],
        "node_selector": {"hub.jupyter.org/node-purpose": "user"},
        "extra_resource_limits": {"nvidia.com/gpu": "8", "example.com/fpga": "1"},
        "cpu_limit": 1.0,
    }

    async def scenario(api):
        spawner = make_spawner(api, **config)
        profiles = parse_profiles(PROFILES_CONFIG)
        mig = choose(profiles, {}, {"ml-research"}, {"profile": "mig-small"})
        spawner.profile, spawner.gpu_uuids = mig, ["k8s/a100/mig-1g.10gb-0"]
        spawner.apply_assignment()
        assert spawner.extra_resource_limits == {
            "example.com/fpga": "1",
            "nvidia.com/mig-1g.10gb": "1",
        }
        assert spawner.tolerations == [user_toleration, GPU_TAINT]
        assert spawner.node_selector == {
            "hub.jupyter.org/node-purpose": "user",
            PRODUCT_LABEL: "NVIDIA-A100-SXM4-80GB",
        }

        cpu = choose(profiles, {}, {"ml-research"}, {"profile": "cpu"})
        spawner.profile, spawner.gpu_uuids = cpu, []
        spawner.apply_assignment()
        assert spawner.extra_resource_limits == {"example.com/fpga": "1"}
        assert spawner.tolerations == [user_toleration]
        assert spawner.node_selector == {"hub.jupyter.org/node-purpose": "user"}
        assert spawner.cpu_limit == 1.0
        assert spawner.image == "quay.io/jupyter/minimal-notebook:2024-10-07"
        assert "activeDeadlineSeconds" not in spawner.extra_pod_config

    kube(scenario)
