"""GPU inventory: NVML discovery, declared GPUs, and inventory diffs.

NVML is faked at its library boundary because this machine has no GPU: ``FakeNVML`` has the
functions, constants and exception classes of the real ``pynvml`` module (the exceptions *are*
pynvml's), and its data is the shape NVML reports on an 8 x A100-SXM4-80GB host with GPU 3 in MIG
mode, split as nvidia-smi lists it: 3g.40gb, 2g.20gb and two 1g.10gb instances, three of the seven
MIG slots empty. A real-GPU check lives outside this suite (tests/gpu, ``make gpu-check``).
"""

from __future__ import annotations

from types import SimpleNamespace

import pynvml
import pytest

from mutirao_spawner.inventory import GPU, Inventory, diff_inventory, discover_nvml
from mutirao_spawner.inventory import inventory_from_config as from_config

MIB = 1024 * 1024
A100 = "NVIDIA A100-SXM4-80GB"
MIG_GPU = 3
# (profile, MiB) per MIG slot of GPU 3 as NVML reports them; None: no instance in that slot
MIG_SLOTS = [("3g.40gb", 40192), ("2g.20gb", 19968), ("1g.10gb", 9728), ("1g.10gb", 9728)]
MIG_SLOTS += [None, None, None]


def gpu_uuid(i: int) -> str:
    return f"GPU-{i:08x}-5a3e-1c2b-9d4f-7e6a0b1c2d3e"


def mig_uuid(slot: int) -> str:
    return f"MIG-{slot:08x}-42e4-5de3-91c7-45d71c87eb3f"


class FakeNVML:
    """The pynvml functions discover_nvml uses, over a fixed host; ``as_bytes`` mimics
    nvidia-ml-py before 11.515, which returned names and uuids as bytes."""

    NVMLError = pynvml.NVMLError
    NVMLError_NotFound = pynvml.NVMLError_NotFound
    NVMLError_NotSupported = pynvml.NVMLError_NotSupported
    NVML_DEVICE_MIG_ENABLE = pynvml.NVML_DEVICE_MIG_ENABLE
    NVML_DEVICE_MIG_DISABLE = pynvml.NVML_DEVICE_MIG_DISABLE

    def __init__(self, count=8, as_bytes=False, mig_capable=True, fail_uuid_of=None):
        self.count, self.as_bytes, self.mig_capable = count, as_bytes, mig_capable
        self.fail_uuid_of = fail_uuid_of
        self.calls: list[str] = []

    def _out(self, text):
        return text.encode() if self.as_bytes else text

    def nvmlInit(self):
        self.calls.append("init")

    def nvmlShutdown(self):
        self.calls.append("shutdown")

    def nvmlDeviceGetCount(self):
        return self.count

    def nvmlDeviceGetHandleByIndex(self, index):
        if not 0 <= index < self.count:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return ("gpu", index)

    def nvmlDeviceGetUUID(self, handle):
        if handle == self.fail_uuid_of:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_GPU_IS_LOST)
        kind, i, *slot = handle
        return self._out(gpu_uuid(i) if kind == "gpu" else mig_uuid(slot[0]))

    def nvmlDeviceGetName(self, handle):
        return self._out(A100 if handle[0] == "gpu" else f"{A100} MIG {MIG_SLOTS[handle[2]][0]}")

    def nvmlDeviceGetMemoryInfo(self, handle):
        mib = 81920 if handle[0] == "gpu" else MIG_SLOTS[handle[2]][1]
        return SimpleNamespace(total=mib * MIB, free=mib * MIB, used=0)

    def nvmlDeviceGetMigMode(self, handle):
        if not self.mig_capable:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
        mode = pynvml.NVML_DEVICE_MIG_ENABLE if handle[1] == MIG_GPU else 0
        return [mode, mode]

    def nvmlDeviceGetMaxMigDeviceCount(self, handle):
        return len(MIG_SLOTS)

    def nvmlDeviceGetMigDeviceHandleByIndex(self, handle, slot):
        if handle[1] != MIG_GPU or MIG_SLOTS[slot] is None:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_FOUND)
        return ("mig", handle[1], slot)


def test_fake_matches_the_real_pynvml_api():
    names = [n for n in vars(FakeNVML) if n.startswith(("nvml", "NVML"))]
    assert len(names) > 10
    assert [n for n in names if not hasattr(pynvml, n)] == []


@pytest.mark.parametrize("as_bytes", [False, True])
def test_discover_8_a100_with_one_in_mig_mode(as_bytes):
    nvml = FakeNVML(as_bytes=as_bytes)
    inventory = discover_nvml(nvml)
    assert nvml.calls == ["init", "shutdown"]
    assert len(inventory) == 8 + 4
    assert inventory[gpu_uuid(0)] == GPU(gpu_uuid(0), 0, A100, 81920)
    assert inventory[gpu_uuid(MIG_GPU)].mig_enabled
    units = inventory.allocatable()
    assert [g.uuid for g in units if not g.is_mig] == [gpu_uuid(i) for i in range(8) if i != 3]
    mig = [g for g in units if g.is_mig]
    assert [(g.uuid, g.profile, g.memory_mib) for g in mig] == [
        (mig_uuid(0), "3g.40gb", 40192),
        (mig_uuid(1), "2g.20gb", 19968),
        (mig_uuid(2), "1g.10gb", 9728),
        (mig_uuid(3), "1g.10gb", 9728),
    ]
    assert {(g.parent_uuid, g.index, g.model) for g in mig} == {(gpu_uuid(3), 3, A100)}


def test_discover_gpus_without_mig_support():
    inventory = discover_nvml(FakeNVML(count=2, mig_capable=False))
    assert [g.uuid for g in inventory.allocatable()] == [gpu_uuid(0), gpu_uuid(1)]


def test_discover_shuts_nvml_down_when_a_gpu_fails():
    nvml = FakeNVML(fail_uuid_of=("gpu", 5))
    with pytest.raises(pynvml.NVMLError_GpuIsLost):
        discover_nvml(nvml)
    assert nvml.calls == ["init", "shutdown"]


def test_discover_propagates_init_failure_without_shutdown():
    nvml = FakeNVML()

    def no_driver():
        raise pynvml.NVMLError(pynvml.NVML_ERROR_DRIVER_NOT_LOADED)

    nvml.nvmlInit = no_driver
    with pytest.raises(pynvml.NVMLError_DriverNotLoaded):
        discover_nvml(nvml)
    assert nvml.calls == []


def test_a_gpu_that_disappears_is_reported():
    before = discover_nvml(FakeNVML())
    after = discover_nvml(FakeNVML(count=7))  # GPU 7 fell off the bus
    appeared, disappeared = diff_inventory(before, after)
    assert appeared == ()
    assert [g.uuid for g in disappeared] == [gpu_uuid(7)]
    assert diff_inventory(after, before) == (disappeared, ())


def test_without_drops_a_gpu_and_its_mig_instances():
    inventory = discover_nvml(FakeNVML())
    assert len(inventory.without(gpu_uuid(3))) == 7
    assert mig_uuid(2) not in inventory.without(mig_uuid(2))
    assert len(inventory.without(mig_uuid(2))) == 11
    assert inventory.without("GPU-nope") == inventory


def test_inventory_refuses_inconsistent_records():
    with pytest.raises(ValueError, match="listed twice"):
        Inventory((GPU("GPU-a", 0, A100, 1), GPU("GPU-a", 1, A100, 1)))
    with pytest.raises(ValueError, match="not a GPU in MIG mode"):
        Inventory((GPU("GPU-a", 0, A100, 1), GPU("MIG-b", 0, A100, 1, "GPU-a", "1g.10gb")))


def test_config_declares_gpus_and_mig_instances():
    inventory = from_config(
        [
            {"uuid": "GPU-a", "model": A100, "memory_mib": 81920},
            {"uuid": "MIG-x", "parent_uuid": "GPU-b", "profile": "1g.10gb", "memory_mib": 9728},
            {"uuid": "GPU-b", "model": A100, "index": 4},
        ]
    )
    assert inventory["GPU-a"] == GPU("GPU-a", 0, A100, 81920)
    assert inventory["GPU-b"] == GPU("GPU-b", 4, A100, 0, mig_enabled=True)
    assert inventory["MIG-x"] == GPU("MIG-x", 4, A100, 9728, "GPU-b", "1g.10gb")
    assert [g.uuid for g in inventory.allocatable()] == ["GPU-a", "MIG-x"]
    assert from_config([]) == Inventory()


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([{"model": A100}], r"gpus\[0\]: uuid is required"),
        ([{"uuid": "GPU-a"}], r"gpus\[0\]: model is required"),
        ([{"uuid": "GPU-a", "model": A100}] * 2, r"gpus\[1\]: uuid GPU-a is declared twice"),
        ([{"uuid": "GPU-a", "modle": A100}], r"unknown key 'modle'"),
        ([{"uuid": 7, "model": A100}], r"uuid must be str, not 7"),
        ([{"uuid": "GPU-a", "model": A100, "index": True}], r"index must be int, not True"),
        ([{"uuid": "GPU-a", "model": A100, "memory_mib": -1}], r"must not be negative"),
        ([{"uuid": "MIG-a", "profile": "1g.10gb"}], r"needs both parent_uuid and profile"),
        (
            [{"uuid": "MIG-a", "parent_uuid": "GPU-x", "profile": "1g.10gb"}],
            r"parent_uuid GPU-x is not a declared GPU in MIG mode",
        ),
        (
            [
                {"uuid": "GPU-x", "model": A100, "mig_enabled": False},
                {"uuid": "MIG-a", "parent_uuid": "GPU-x", "profile": "1g.10gb"},
            ],
            r"gpus\[1\]: parent_uuid GPU-x is not a declared GPU in MIG mode",
        ),
        (["GPU-a"], r"gpus\[0\]: expected a dict"),
    ],
)
def test_config_errors_name_the_entry(entries, message):
    with pytest.raises(ValueError, match=message):
        from_config(entries)
