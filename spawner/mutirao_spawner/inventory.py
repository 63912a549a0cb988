"""GPU inventory: the GPUs and MIG instances a host has, as plain data.

Two ways fill it: :func:`discover_nvml` asks NVML through the pynvml module it is handed, and
:func:`inventory_from_config` reads the GPUs an admin declared (remote Docker hosts, tests).
Nothing here keeps state or touches a device on its own: refreshing the inventory means building a
new one and comparing it with :func:`diff_inventory`. The GPU ledger (:mod:`.ledger`) decides who
gets which unit of it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["GPU", "Inventory", "diff_inventory", "discover_nvml", "inventory_from_config"]

_MIB = 1024 * 1024
# NVML names a MIG device after its parent and profile: "NVIDIA A100-SXM4-80GB MIG 1g.10gb"
_MIG_NAME = re.compile(r"\bMIG\s+(\S+)\s*$")


@dataclass(frozen=True)
class GPU:
    """One GPU or one MIG instance.

    A whole GPU has ``parent_uuid=None``; if ``mig_enabled`` it is split into MIG instances and is
    not allocatable itself. A MIG instance (uuid ``MIG-...``) is an allocatable unit of its own:
    ``parent_uuid`` names its GPU, ``profile`` its MIG profile (``"1g.10gb"``), ``index`` and
    ``model`` are its parent's, ``memory_mib`` is the slice's own memory.
    """

    uuid: str
    index: int
    model: str
    memory_mib: int
    parent_uuid: str | None = None
    profile: str | None = None
    mig_enabled: bool = False

    @property
    def is_mig(self) -> bool:
        return self.parent_uuid is not None


@dataclass(frozen=True)
class Inventory:
    """An immutable set of GPUs, looked up by uuid.

    Raises ValueError when a uuid is listed twice or a MIG instance's parent is missing or not
    in MIG mode, so every Inventory that exists is consistent.
    """

    gpus: tuple[GPU, ...] = ()
    _by_uuid: dict[str, GPU] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        gpus = tuple(self.gpus)
        by_uuid: dict[str, GPU] = {}
        for gpu in gpus:
            if gpu.uuid in by_uuid:
                raise ValueError(f"GPU {gpu.uuid} is listed twice")
            by_uuid[gpu.uuid] = gpu
        for gpu in gpus:
            if gpu.parent_uuid is None:
                continue
            parent = by_uuid.get(gpu.parent_uuid)
            if parent is None or parent.is_mig or not parent.mig_enabled:
                raise ValueError(
                    f"MIG instance {gpu.uuid} names {gpu.parent_uuid} as its GPU, "
                    "which is not a GPU in MIG mode here"
                )
        object.__setattr__(self, "gpus", gpus)
        object.__setattr__(self, "_by_uuid", by_uuid)

    def __iter__(self) -> Iterator[GPU]:
        return iter(self.gpus)

    def __len__(self) -> int:
        return len(self.gpus)

    def __contains__(self, uuid: object) -> bool:
        return uuid in self._by_uuid

    def get(self, uuid: str) -> GPU | None:
        return self._by_uuid.get(uuid)

    def __getitem__(self, uuid: str) -> GPU:
        return self._by_uuid[uuid]

    def allocatable(self) -> tuple[GPU, ...]:
        """The units a server can be given: whole GPUs not in MIG mode, and MIG instances."""
        return tuple(gpu for gpu in self.gpus if gpu.is_mig or not gpu.mig_enabled)

    def without(self, uuid: str) -> Inventory:
        """This inventory less one GPU (and its MIG instances, if it is a whole GPU)."""
        return Inventory(tuple(g for g in self.gpus if uuid not in (g.uuid, g.parent_uuid)))


def diff_inventory(old: Inventory, new: Inventory) -> tuple[tuple[GPU, ...], tuple[GPU, ...]]:
    """Return ``(appeared, disappeared)`` between two inventories, compared by uuid.

    A GPU whose record changed but kept its uuid (MIG mode switched, say) is in neither list;
    its MIG instances, which have uuids of their own, are.
    """
    appeared = tuple(gpu for gpu in new if gpu.uuid not in old)
    disappeared = tuple(gpu for gpu in old if gpu.uuid not in new)
    return appeared, disappeared


def _text(value: str | bytes) -> str:
    # nvidia-ml-py before 11.515 returned bytes for names and uuids; later versions return str
    return value.decode() if isinstance(value, bytes) else value


def _mig_enabled(nvml: Any, handle: Any) -> bool:
    try:
        current, _pending = nvml.nvmlDeviceGetMigMode(handle)
    except nvml.NVMLError_NotSupported:
        return False  # GPUs before Ampere have no MIG at all
    return bool(current == getattr(nvml, "NVML_DEVICE_MIG_ENABLE", 1))


def discover_nvml(nvml: Any) -> Inventory:
    """Ask NVML for this host's GPUs and MIG instances.

    ``nvml`` is the ``pynvml`` module (from nvidia-ml-py) or anything with the same functions and
    exception classes; passing it in keeps this module importable, and testable, without a GPU.
    Errors from ``nvmlInit`` (no driver, say) propagate; after a successful init NVML is always
    shut down again. Empty MIG slots (``NVMLError_NotFound``) are skipped. A MIG instance whose
    name does not end in ``MIG <profile>`` gets its full name as profile.
    """
    nvml.nvmlInit()
    try:
        gpus: list[GPU] = []
        for index in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            uuid = _text(nvml.nvmlDeviceGetUUID(handle))
            model = _text(nvml.nvmlDeviceGetName(handle))
            memory = nvml.nvmlDeviceGetMemoryInfo(handle).total // _MIB
            mig = _mig_enabled(nvml, handle)
            gpus.append(GPU(uuid, index, model, memory, mig_enabled=mig))
            if not mig:
                continue
            for slot in range(nvml.nvmlDeviceGetMaxMigDeviceCount(handle)):
                try:
                    mig_handle = nvml.nvmlDeviceGetMigDeviceHandleByIndex(handle, slot)
                except nvml.NVMLError_NotFound:
                    continue  # no instance created in this slot
                name = _text(nvml.nvmlDeviceGetName(mig_handle))
                match = _MIG_NAME.search(name)
                gpus.append(
                    GPU(
                        uuid=_text(nvml.nvmlDeviceGetUUID(mig_handle)),
                        index=index,
                        model=model,
                        memory_mib=nvml.nvmlDeviceGetMemoryInfo(mig_handle).total // _MIB,
                        parent_uuid=uuid,
                        profile=match.group(1) if match else name,
                    )
                )
        return Inventory(tuple(gpus))
    finally:
        nvml.nvmlShutdown()


_KEYS = {"uuid", "model", "index", "memory_mib", "parent_uuid", "profile", "mig_enabled"}


def _field(where: str, entry: Mapping[str, Any], key: str, kind: type, default: Any) -> Any:
    value = entry.get(key, default)
    if value is default:
        return value
    # bool is an int in Python; an index of True is a typo, not a GPU
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ValueError(f"{where}: {key} must be {kind.__name__}, not {value!r}")
    return value


def inventory_from_config(entries: Iterable[Mapping[str, Any]]) -> Inventory:
    """Build an inventory from the GPUs an admin declared, e.g.::

        [{"uuid": "GPU-0a1b...", "model": "NVIDIA A100-SXM4-80GB", "memory_mib": 81920},
         {"uuid": "MIG-9f8e...", "parent_uuid": "GPU-0a1b...", "profile": "1g.10gb"}]

    Required: ``uuid``; ``model`` for whole GPUs (a MIG instance inherits its parent's).
    Optional: ``index`` (default: the GPU's position among whole GPUs; a MIG instance takes its
    parent's), ``memory_mib`` (default 0), ``parent_uuid`` and ``profile`` (together: a MIG
    instance), ``mig_enabled`` (default: whether some instance names the GPU as parent).
    Unknown keys, wrong types, repeated uuids and dangling parents raise ValueError naming the
    entry, so a typo fails at hub start instead of handing out the wrong GPU.
    """
    entries = list(entries)
    whole: dict[str, GPU] = {}
    pending_mig: list[tuple[str, Mapping[str, Any]]] = []
    seen: set[str] = set()
    parents = {e.get("parent_uuid") for e in entries if isinstance(e, Mapping)}
    for position, entry in enumerate(entries):
        where = f"gpus[{position}]"
        if not isinstance(entry, Mapping):
            raise ValueError(f"{where}: expected a dict, not {entry!r}")
        unknown = sorted(set(entry) - _KEYS)
        if unknown:
            known = ", ".join(sorted(_KEYS))
            raise ValueError(f"{where}: unknown key {unknown[0]!r} (known: {known})")
        uuid = _field(where, entry, "uuid", str, None)
        if not uuid:
            raise ValueError(f"{where}: uuid is required")
        if uuid in seen:
            raise ValueError(f"{where}: uuid {uuid} is declared twice")
        seen.add(uuid)
        memory = _field(where, entry, "memory_mib", int, 0)
        if memory < 0:
            raise ValueError(f"{where}: memory_mib must not be negative")
        if ("parent_uuid" in entry) != ("profile" in entry):
            raise ValueError(f"{where}: a MIG instance needs both parent_uuid and profile")
        if "parent_uuid" in entry:
            _field(where, entry, "parent_uuid", str, None)
            _field(where, entry, "profile", str, None)
            pending_mig.append((where, entry))
            continue
        model = _field(where, entry, "model", str, None)
        if not model:
            raise ValueError(f"{where}: model is required for a whole GPU")
        index = _field(where, entry, "index", int, len(whole))
        mig = _field(where, entry, "mig_enabled", bool, uuid in parents)
        whole[uuid] = GPU(uuid, index, model, memory, mig_enabled=mig)
    gpus = list(whole.values())
    for where, entry in pending_mig:
        parent = whole.get(entry["parent_uuid"])
        if parent is None or not parent.mig_enabled:
            raise ValueError(
                f"{where}: parent_uuid {entry['parent_uuid']} is not a declared GPU in MIG mode"
            )
        model = _field(where, entry, "model", str, parent.model)
        gpus.append(
            GPU(
                uuid=entry["uuid"],
                index=parent.index,
                model=model,
                memory_mib=entry.get("memory_mib", 0),
                parent_uuid=parent.uuid,
                profile=entry["profile"],
            )
        )
    return Inventory(tuple(gpus))
