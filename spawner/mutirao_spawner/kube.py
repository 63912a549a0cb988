"""GPUKubeSpawner: the Kubernetes flavour of the GPU spawner (KubeSpawner underneath).

On Kubernetes the NVIDIA device plugin, not Mutirão, picks the physical GPU a pod gets. So the
GPU ledger here works on *declared capacity*: the admin says how many GPUs of each model (and
how many MIG slices of each profile) the cluster offers, in :attr:`GPUKubeSpawner.gpu_capacity`,
and :func:`capacity_to_gpus` turns that count into synthetic ledger slots
(``k8s/<model>/gpu-<n>``, ``k8s/<model>/mig-<profile>-<n>``). The ledger grants slots, quotas
and the queue are checked *before* a pod is requested, and the pod then asks the scheduler for
that many ``nvidia.com/gpu`` (or ``nvidia.com/mig-<profile>``) resources. Slot names are stable
across hub restarts; lowering a count makes the slots above it "gone", which the ledger keeps
with their holders and reports, exactly as for a GPU that left a Docker host.

The module keeps kubespawner's split: pure functions build the pod's GPU resources, node
selectors, tolerations, labels and annotations and read holders back from pods; the spawner
only moves them into KubeSpawner's traits and reads the API.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from jupyterhub.utils import AnyTimeoutError

try:
    from kubespawner import KubeSpawner
    from kubespawner.clients import shared_client
    from kubespawner.slugs import is_valid_label, safe_slug
except ImportError as e:  # the flavour's libraries are an extra
    raise ImportError(
        "the mutirao-kube spawner needs the kubernetes extra: "
        "pip install 'mutirao-spawner[kubernetes]'"
    ) from e
from traitlets import Dict, Integer, List, default, validate

from .mixin import GPUSpawnerMixin

__all__ = [
    "ANNOTATION_SERVER", "ANNOTATION_SLOTS", "GPU_RESOURCE", "LABEL_GPUS", "LABEL_PROFILE",
    "LABEL_SERVER", "PRODUCT_LABEL", "GPUKubeSpawner", "capacity_to_gpus", "gpu_annotations",
    "gpu_labels", "gpu_node_selector", "gpu_resources", "gpu_tolerations", "holders_from_pods",
    "insufficient_gpu_message", "product_label_value", "resource_name", "slots_from_pod",
    "without_gpus",
]  # fmt: skip

GPU_RESOURCE = "nvidia.com/gpu"
# The label NVIDIA GPU feature discovery puts on each GPU node, e.g. "NVIDIA-A100-SXM4-80GB"
PRODUCT_LABEL = "nvidia.com/gpu.product"
# Labels select (their values are slugs); annotations carry the exact names
LABEL_SERVER = "mutirao.org/server"
LABEL_PROFILE = "mutirao.org/profile"
LABEL_GPUS = "mutirao.org/gpus"
ANNOTATION_SERVER = "mutirao.org/server-id"
ANNOTATION_SLOTS = "mutirao.org/gpu-slots"

# the name part of a Kubernetes qualified name (resource names, label keys)
_QUALIFIED = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_NOT_LABEL = re.compile(r"[^A-Za-z0-9_.-]+")
_NVIDIA_GPU = re.compile(r"^nvidia\.com/(gpu|mig-.+)$")
_INSUFFICIENT = re.compile(r"Insufficient (nvidia\.com/[-A-Za-z0-9_.]+)")
_CAPACITY_KEYS = {"model", "count", "mig_profile", "memory_mib"}
_FINISHED = ("Succeeded", "Failed")
# the KubeSpawner traits apply_assignment sets, put back to their configured values at each start
_PROFILE_TRAITS = (
    "image", "cpu_limit", "cpu_guarantee", "mem_limit", "mem_guarantee", "extra_resource_limits",
    "extra_resource_guarantees", "node_selector", "tolerations", "extra_pod_config",
)  # fmt: skip


# -- declared capacity -----------------------------------------------------------------------


def _slug(text: str) -> str:
    return _NOT_LABEL.sub("-", text).strip("-.").lower() or "gpu"


def capacity_to_gpus(capacity: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Turn a count-based capacity declaration into GPU entries for the inventory.

    ``capacity`` lists what the cluster's device plugin offers, e.g.::

        [{"model": "NVIDIA A100-SXM4-80GB", "count": 4},
         {"model": "NVIDIA A100-SXM4-80GB", "mig_profile": "1g.10gb", "count": 14},
         {"model": "NVIDIA L4", "count": 8, "memory_mib": 23034}]

    The result is in :func:`mutirao_spawner.inventory.inventory_from_config`'s format: one whole
    GPU per counted GPU (uuid ``k8s/<model>/gpu-<n>``), and for each MIG entry one synthetic
    parent GPU in MIG mode (``k8s/<model>/mig-<profile>``, never allocated itself) holding
    ``count`` instances (``k8s/<model>/mig-<profile>-<n>``). Each entry gets its own ``index``,
    in the order given, which is the order the ledger allocates in.

    Unknown keys, a missing model, a count that is not a whole number >= 0, a MIG profile that
    is not a valid Kubernetes resource name part, and a (model, mig_profile) pair given twice
    raise ValueError naming the entry.
    """
    gpus: list[dict[str, Any]] = []
    seen: set[tuple[str, str | None]] = set()
    for index, entry in enumerate(capacity):
        where = f"gpu_capacity[{index}]"
        if not isinstance(entry, Mapping):
            raise ValueError(f"{where}: expected a dict, not {entry!r}")
        unknown = sorted(set(entry) - _CAPACITY_KEYS)
        if unknown:
            known = ", ".join(sorted(_CAPACITY_KEYS))
            raise ValueError(f"{where}: unknown key {unknown[0]!r} (known: {known})")
        model, count = entry.get("model"), entry.get("count")
        mig, memory = entry.get("mig_profile"), entry.get("memory_mib", 0)
        if not isinstance(model, str) or not model.strip():
            raise ValueError(f"{where}: model is required, e.g. 'NVIDIA A100-SXM4-80GB'")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise ValueError(f"{where}: count must be a whole number >= 0, not {count!r}")
        if not isinstance(memory, int) or isinstance(memory, bool) or memory < 0:
            raise ValueError(f"{where}: memory_mib must be a whole number >= 0, not {memory!r}")
        if mig is not None and not (isinstance(mig, str) and _QUALIFIED.match(f"mig-{mig}")):
            raise ValueError(f"{where}: mig_profile {mig!r} is not a MIG profile like '1g.10gb'")
        key = (model.lower(), mig)
        if key in seen:
            raise ValueError(f"{where}: {model} {mig or 'GPUs'} is declared twice")
        seen.add(key)
        base = f"k8s/{_slug(model)}"
        if mig is None:
            gpus += [
                {"uuid": f"{base}/gpu-{n}", "model": model, "index": index, "memory_mib": memory}
                for n in range(count)
            ]
            continue
        parent = f"{base}/mig-{mig}"
        gpus.append({"uuid": parent, "model": model, "index": index, "mig_enabled": True})
        gpus += [
            {"uuid": f"{parent}-{n}", "parent_uuid": parent, "profile": mig, "memory_mib": memory}
            for n in range(count)
        ]
    return gpus


# -- what the pod asks for -------------------------------------------------------------------


def resource_name(mig_profile: str | None) -> str:
    """The extended resource the device plugin offers: ``nvidia.com/gpu``, or with the mixed MIG
    strategy ``nvidia.com/mig-<profile>`` (``nvidia.com/mig-1g.10gb``)."""
    return GPU_RESOURCE if not mig_profile else f"nvidia.com/mig-{mig_profile}"


def gpu_resources(gpus: int, mig_profile: str | None = None) -> dict[str, str]:
    """The pod's extended resource limits (and, equal to them, its requests); {} for 0 GPUs."""
    if gpus < 0:
        raise ValueError(f"a GPU count must be >= 0, not {gpus}")
    return {resource_name(mig_profile): str(gpus)} if gpus else {}


def without_gpus(resources: Mapping[str, Any]) -> dict[str, Any]:
    """``resources`` less NVIDIA's GPU and MIG resources, which only the GPU ledger hands out."""
    return {k: v for k, v in resources.items() if not _NVIDIA_GPU.match(k)}


def product_label_value(model: str) -> str:
    """``model`` as GPU feature discovery writes it in ``nvidia.com/gpu.product``: spaces and other
    characters a label value cannot hold become ``-`` ("NVIDIA A100-SXM4-80GB" →
    "NVIDIA-A100-SXM4-80GB"), at most 63 characters."""
    return _NOT_LABEL.sub("-", model).strip("-_.")[:63].rstrip("-_.")


def gpu_node_selector(
    gpus: int, gpu_model: str | None = None, node_selector: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Node labels the pod requires: the GPU product when a GPU profile names a model, then the
    profile's own ``node_selector``, which wins on a clash."""
    selector = {PRODUCT_LABEL: product_label_value(gpu_model)} if gpus and gpu_model else {}
    selector.update(node_selector or {})
    return selector


def gpu_tolerations(
    gpus: int,
    default: Iterable[Mapping[str, Any]] = (),
    profile: Iterable[Mapping[str, Any]] = (),
    base: Iterable[Mapping[str, Any]] = (),
) -> list[dict[str, Any]]:
    """Tolerations: ``base`` (configured for every pod), ``default`` (the GPU nodes' taints) for
    GPU profiles, then the profile's own; a toleration given twice is kept once."""
    out: list[dict[str, Any]] = []
    for toleration in [*base, *(default if gpus else ()), *profile]:
        if dict(toleration) not in out:
            out.append(dict(toleration))
    return out


def gpu_labels(server_id: str, profile: str, slots: Iterable[str]) -> dict[str, str]:
    """Labels naming the server, its profile and its GPU count, as selectable label values."""
    return {
        LABEL_SERVER: safe_slug(server_id, is_valid=is_valid_label, max_length=63),
        LABEL_PROFILE: safe_slug(profile, is_valid=is_valid_label, max_length=63),
        LABEL_GPUS: str(len(list(slots))),
    }


def gpu_annotations(server_id: str, slots: Iterable[str]) -> dict[str, str]:
    """Annotations with the exact server id and the ledger slots it was granted (comma-separated;
    label values cannot hold ``/``)."""
    return {ANNOTATION_SERVER: server_id, ANNOTATION_SLOTS: ",".join(slots)}


# -- what runs -------------------------------------------------------------------------------


def slots_from_pod(pod: Mapping[str, Any]) -> set[str]:
    """The ledger slots a pod (a dict as the API returns it) was created with."""
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    return {slot for slot in annotations.get(ANNOTATION_SLOTS, "").split(",") if slot}


def holders_from_pods(pods: Iterable[Mapping[str, Any]]) -> dict[str, set[str]]:
    """Server id → ledger slots, for Mutirão's pods that still hold resources.

    Pods that finished (Succeeded, Failed) hold nothing in the scheduler's eyes; pending ones
    (waiting for a node) and terminating ones do, and count.
    """
    holders: dict[str, set[str]] = {}
    for pod in pods:
        if (pod.get("status") or {}).get("phase") in _FINISHED:
            continue
        server = ((pod.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION_SERVER)
        if server:
            holders.setdefault(server, set()).update(slots_from_pod(pod))
    return holders


def insufficient_gpu_message(event: Mapping[str, Any]) -> str | None:
    """The queue message for a ``FailedScheduling`` event that says the cluster has no free GPU
    (``0/3 nodes are available: 3 Insufficient nvidia.com/gpu.``), else None."""
    if event.get("reason") != "FailedScheduling":
        return None
    found = _INSUFFICIENT.search(event.get("message") or "")
    if not found:
        return None
    return f"Waiting for a GPU node: the cluster reports Insufficient {found.group(1).rstrip('.')}"


# -- the spawner ------------------------------------------------------------------------------


class GPUKubeSpawner(GPUSpawnerMixin, KubeSpawner):
    """Start each server in its own pod, with the GPUs the GPU ledger granted it.

    The ledger counts the declared :attr:`gpu_capacity`; when it grants, ``apply_assignment``
    sets KubeSpawner's traits from the profile (image, CPU, memory, the ``nvidia.com/gpu`` or
    ``nvidia.com/mig-<profile>`` limit, node selector, tolerations) and the pod is requested.
    A refusal or a queue happens before any request reaches the Kubernetes API.

    Mutirão profiles replace KubeSpawner's ``profile_list``, which this class ignores.
    """

    gpu_capacity = List(
        Dict(),
        help="""
        The GPUs the cluster offers, counted per model and MIG profile.

        The NVIDIA device plugin picks the physical GPU on Kubernetes, so the GPU ledger grants
        slots of this declared capacity and quotas are checked before a pod is requested. Each
        entry has ``model`` (as NVML names it), ``count``, and optionally ``mig_profile`` (the
        mixed MIG strategy's ``nvidia.com/mig-<profile>`` resource) and ``memory_mib``. Keep it
        equal to what the GPU nodes offer: more makes pods wait for a node (the spawn page says
        so), less leaves GPUs unused. Default: ``[]`` (CPU profiles only). Example::

            c.GPUKubeSpawner.gpu_capacity = [
                {"model": "NVIDIA A100-SXM4-80GB", "count": 4},
                {"model": "NVIDIA A100-SXM4-80GB", "mig_profile": "1g.10gb", "count": 14},
            ]

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    gpu_node_tolerations = List(
        Dict(),
        help="""
        Tolerations added to every GPU pod, for the taints the cluster puts on its GPU nodes.

        Default: tolerate ``nvidia.com/gpu`` with effect ``NoSchedule`` (the taint GKE puts on GPU
        nodes, and the usual one elsewhere). A profile's own ``tolerations`` are added after these.
        Example::

            c.GPUKubeSpawner.gpu_node_tolerations = [
                {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"},
            ]

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    max_runtime_grace_s = Integer(
        600,
        help="""
        Seconds past a profile's ``max_runtime_s`` after which Kubernetes itself ends the pod.

        The hub stops a server at its max runtime (after telling the user); the pod's
        ``activeDeadlineSeconds`` (max runtime plus this grace) is the backstop that frees the
        GPU even when the hub is down. Default: 600. Example::

            c.GPUKubeSpawner.max_runtime_grace_s = 300

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    @default("gpus")
    def _default_gpus(self) -> list[dict[str, Any]]:
        return capacity_to_gpus(self.gpu_capacity)

    @default("gpu_discovery")
    def _default_gpu_discovery(self) -> str:
        # the hub pod has no GPU to ask NVML about: the declaration is the inventory
        return "config"

    @default("gpu_node_tolerations")
    def _default_gpu_node_tolerations(self) -> list[dict[str, Any]]:
        return [{"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}]

    @validate("gpu_capacity")
    def _validate_gpu_capacity(self, proposal: Any) -> list[dict[str, Any]]:
        capacity_to_gpus(proposal.value)  # a typo fails at hub start, not at the first spawn
        return proposal.value

    @validate("max_runtime_grace_s")
    def _validate_grace(self, proposal: Any) -> int:
        if proposal.value < 0:
            raise ValueError(f"max_runtime_grace_s must be >= 0, not {proposal.value}")
        return proposal.value

    # -- the mixin's hooks ---------------------------------------------------------------------

    def apply_assignment(self) -> None:
        """Set KubeSpawner's traits for the granted profile; called before the pod is made.

        Each start begins again from the configured values (z2jh's ``singleuser.*``), so nothing
        of an earlier profile stays; GPU resources configured there are dropped, as the GPU
        ledger alone decides them.
        """
        profile = self.profile
        if profile.image is not None and profile.image not in profile.images:
            # the mixin checks the form; this keeps an unchecked image from ever reaching a pod
            raise ValueError(f"image {profile.image!r} is not allowed for profile {profile.name}")
        gpus = len(self.gpu_uuids)
        if gpus != (profile.gpus or 0):
            raise RuntimeError(
                f"{self.server_id}: the ledger granted {gpus} GPU slots for {profile.gpus}"
            )
        overrides = dict((profile.extra or {}).get("kubespawner_override") or {})
        base = self._configured([*_PROFILE_TRAITS, *overrides])
        kube: Any = self  # KubeSpawner's traits carry no types
        resources = gpu_resources(gpus, profile.mig_profile)
        if profile.image is not None:  # None: the profile names no image, KubeSpawner's stays
            kube.image = profile.image
        kube.extra_resource_limits = {**without_gpus(base["extra_resource_limits"]), **resources}
        kube.extra_resource_guarantees = {
            **without_gpus(base["extra_resource_guarantees"]),
            **resources,
        }
        kube.node_selector = {
            **base["node_selector"],
            **gpu_node_selector(gpus, profile.gpu_model, profile.node_selector),
        }
        kube.tolerations = gpu_tolerations(
            gpus, self.gpu_node_tolerations, profile.tolerations, base=base["tolerations"]
        )
        if profile.cpu_limit:
            kube.cpu_limit = float(profile.cpu_limit)
            if kube.cpu_guarantee and kube.cpu_guarantee > kube.cpu_limit:
                kube.cpu_guarantee = kube.cpu_limit  # Kubernetes refuses requests over limits
        if profile.mem_limit:
            kube.mem_limit = profile.mem_limit
            if kube.mem_guarantee and kube.mem_guarantee > kube.mem_limit:
                kube.mem_guarantee = kube.mem_limit
        if profile.max_runtime_s:
            deadline = int(profile.max_runtime_s) + self.max_runtime_grace_s
            kube.extra_pod_config = {**base["extra_pod_config"], "activeDeadlineSeconds": deadline}
        for trait, value in overrides.items():
            setattr(kube, trait, value)  # an admin's escape hatch, as in kubespawner's profiles

    def _configured(self, names: Iterable[str]) -> dict[str, Any]:
        """Put back the configured values of ``names`` (remembered the first time) and return
        all the remembered ones."""
        if self._configured_values is None:
            self._configured_values = {}
        for name in names:
            if name not in self._configured_values:
                self._configured_values[name] = copy.deepcopy(getattr(self, name))
        for name, value in self._configured_values.items():
            setattr(self, name, copy.deepcopy(value))
        return self._configured_values

    async def observe_running(self) -> set[str] | None:
        """The ledger slots this server's pod holds, or None when it has no pod holding any."""
        await self._start_watching_pods()
        pod = self.pod_reflector.pods.get(f"{self.namespace}/{self.pod_name}")
        if pod is None or (pod.get("status") or {}).get("phase") in _FINISHED:
            return None
        return slots_from_pod(pod)

    @classmethod
    async def list_running_holders(cls) -> dict[str, set[str]]:
        """Server id → ledger slots for every Mutirão pod in the namespaces this hub spawns in
        (those of the spawners made so far, whose creation also configured the client)."""
        holders: dict[str, set[str]] = {}
        for _, pods in await cls._labelled_pods():
            for server, slots in holders_from_pods(pods).items():
                holders.setdefault(server, set()).update(slots)
        return holders

    @classmethod
    async def stop_holder(cls, server_id: str) -> list[str]:
        """Delete the pods annotated with ``server_id`` that still hold resources."""
        api = shared_client("CoreV1Api")
        stopped = []
        for namespace, pods in await cls._labelled_pods():
            for pod in pods:
                meta = pod.get("metadata") or {}
                if (meta.get("annotations") or {}).get(ANNOTATION_SERVER) != server_id:
                    continue
                if (pod.get("status") or {}).get("phase") in _FINISHED:
                    continue
                await api.delete_namespaced_pod(meta["name"], namespace)
                stopped.append(f"pod {namespace}/{meta['name']}")
        return stopped

    @classmethod
    async def _labelled_pods(cls) -> list[tuple[str, list[dict[str, Any]]]]:
        """(namespace, pods with Mutirão's server label) for each namespace this hub uses."""
        if not cls._namespaces:
            return []
        api = shared_client("CoreV1Api")
        found = []
        for namespace in sorted(cls._namespaces):
            # raw JSON, as kubespawner's reflectors read it: no model objects to build
            response = await api.list_namespaced_pod(
                namespace, label_selector=LABEL_SERVER, _preload_content=False
            )
            found.append((namespace, json.loads(await response.read())["items"]))
        return found

    # -- KubeSpawner ---------------------------------------------------------------------------

    _namespaces: ClassVar[set[str]] = set()  # every namespace a GPUKubeSpawner was made for
    _configured_values: dict[str, Any] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        GPUKubeSpawner._namespaces.add(self.namespace)

    async def load_user_options(self) -> None:
        """Mutirão profiles were applied by :meth:`apply_assignment`; KubeSpawner's own
        ``profile_list`` would override them, so it is not read."""

    def get_env(self) -> dict[str, str]:
        env = super().get_env()
        env.update(self.gpu_environment())
        if self.gpu_uuids:
            # the slots are ledger names, not devices: the device plugin sets what CUDA sees
            env.pop("CUDA_VISIBLE_DEVICES", None)
        else:
            # CUDA images set NVIDIA_VISIBLE_DEVICES=all; on a node whose default runtime is
            # nvidia that would hand a CPU pod every GPU behind the device plugin's back
            env["NVIDIA_VISIBLE_DEVICES"] = "void"
        return env

    async def get_pod_manifest(self) -> Any:
        pod = await super().get_pod_manifest()
        pod.metadata.labels.update(gpu_labels(self.server_id, self.profile.name, self.gpu_uuids))
        pod.metadata.annotations.update(gpu_annotations(self.server_id, self.gpu_uuids))
        return pod

    async def progress(self) -> Any:
        """KubeSpawner's progress, with "Insufficient nvidia.com/gpu" said as a queue message."""
        async for event in super().progress():
            raw = event.get("raw_event") if isinstance(event, dict) else None
            message = insufficient_gpu_message(raw) if raw else None
            yield {**event, "message": message} if message else event

    async def _start(self) -> Any:
        try:
            return await super()._start()
        except AnyTimeoutError as e:
            reasons = [insufficient_gpu_message(event) for event in self.events]
            reason = next((r for r in reversed(reasons) if r), None)
            if reason is None:
                raise
            # the ledger returns the slots when start fails: the pending pod must not keep
            # asking the scheduler for a GPU nobody is counting any more
            await KubeSpawner.stop(self, now=True)
            raise TimeoutError(
                f"No GPU node became free within {self.start_timeout} seconds. {reason}."
            ) from e
