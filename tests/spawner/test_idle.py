"""Idle GPU decisions (pure) and the GPU service's NVML-driven parts: idle sampling and actions,
inventory refresh with a vanished GPU.

There is no GPU here, so NVML is faked at its library boundary only: :class:`FakeNVML` stands in
for the ``pynvml`` module (same function and exception names), with the layout a real
``nvidia-smi -L`` shows on a two-A100 host. Everything above it (discover_nvml, the service, the
ledger, the idle decision) is the real code.
"""

from __future__ import annotations

import asyncio
import sys
from collections import deque
from types import SimpleNamespace

import pytest

from mutirao_spawner import idle
from mutirao_spawner.ledger import Granted, Request
from mutirao_spawner.service import GPUService

# as `nvidia-smi -L` prints them on a DGX-style host
A100 = "NVIDIA A100-SXM4-80GB"
UUIDS = ["GPU-6b9c0b54-3a1f-7d2e-9c41-0e5f2a7b8c90", "GPU-1f2e3d4c-5b6a-4798-8a9b-0c1d2e3f4a5b"]


class FakeNVML:
    """The slice of pynvml that discover_nvml and the service call."""

    class NVMLError(Exception):
        pass

    class NVMLError_NotSupported(NVMLError):
        pass

    class NVMLError_NotFound(NVMLError):
        pass

    def __init__(self) -> None:
        self.present = list(UUIDS)
        self.utilisation = dict.fromkeys(UUIDS, 0)
        self.fail = False

    def nvmlInit(self):
        if self.fail:
            raise self.NVMLError("Driver Not Loaded")

    def nvmlShutdown(self):
        pass

    def nvmlDeviceGetCount(self):
        return len(self.present)

    def nvmlDeviceGetHandleByIndex(self, index):
        return self.present[index]

    def nvmlDeviceGetHandleByUUID(self, uuid):
        if uuid not in self.present:
            raise self.NVMLError_NotFound(uuid)
        return uuid

    def nvmlDeviceGetUUID(self, handle):
        return handle

    def nvmlDeviceGetName(self, handle):
        return A100

    def nvmlDeviceGetMemoryInfo(self, handle):
        return SimpleNamespace(total=81920 * 1024 * 1024)

    def nvmlDeviceGetMigMode(self, handle):
        raise self.NVMLError_NotSupported()

    def nvmlDeviceGetUtilizationRates(self, handle):
        return SimpleNamespace(gpu=self.utilisation[handle], memory=0)


@pytest.fixture
def nvml(monkeypatch):
    fake = FakeNVML()
    monkeypatch.setitem(sys.modules, "fake_pynvml_for_tests", fake)
    return fake


def make_service(action="stop", window=100.0) -> GPUService:
    return GPUService(
        discovery="nvml",
        nvml_module="fake_pynvml_for_tests",
        idle_window=window,
        idle_threshold=5,
        idle_action=action,
    )


class FakeUser:
    def __init__(self):
        self.name = "alice"
        self.settings = {}
        self.stopped = []

    async def stop(self, name):
        self.stopped.append(name)


class FakeSpawner:
    """What the service touches on a spawner: its user, name and the release hook."""

    pending = None
    name = ""
    _log_name = "alice/"

    def __init__(self):
        self.user = FakeUser()
        self.restarted = []

    async def restart_without_gpus(self, reason):
        self.restarted.append(reason)


# -- the pure decision -------------------------------------------------------------------------


def test_idle_needs_the_whole_window_below_threshold():
    samples = deque()
    for t, u in [(0, 1), (50, 2), (99, 4)]:
        idle.record(samples, t, u, window=100)
    assert not idle.gpu_is_idle(samples, 99, 100, 5)  # the window is not covered yet
    idle.record(samples, 101, 0, window=100)
    assert idle.gpu_is_idle(samples, 101, 100, 5)
    idle.record(samples, 150, 30, window=100)
    assert not idle.gpu_is_idle(samples, 150, 100, 5)  # one busy sample keeps it


def test_record_keeps_only_what_the_window_needs():
    samples = deque()
    for t in range(0, 1000, 10):
        idle.record(samples, t, 0, window=100)
    assert len(samples) <= 12
    assert samples[0][0] <= 990 - 100


def test_a_server_is_idle_only_when_all_its_gpus_are():
    samples = {"a": [(0, 0), (200, 0)], "b": [(0, 0), (200, 50)]}
    holdings = {"x/": ["a"], "y/": ["a", "b"], "z/": ["c"], "cpu/": []}
    assert idle.idle_servers(holdings, samples, 200, 100, 5) == ["x/"]


# -- the service over the fake NVML ------------------------------------------------------------


def test_nvml_inventory_and_a_vanished_gpu_is_reported_not_crashed_on(nvml):
    async def scenario():
        service = make_service()
        await service.settled()  # the first discovery, on the NVML thread
        assert [g.uuid for g in service.ledger.inventory] == UUIDS
        spawner = FakeSpawner()
        decision = service.request(Request("alice/", "alice"), spawner, now=0)
        assert decision == Granted("alice/", (UUIDS[0],))
        nvml.present.remove(UUIDS[0])
        service.refresh(now=10)
        assert service.ledger.gone() == (UUIDS[0],)  # the holder keeps it until it stops
        assert [r["kind"] for r in service.reports] == ["vanished"]
        assert "alice/ keeps it" in service.reports[0]["message"]
        nvml.fail = True  # a driver hiccup is not every GPU vanishing
        service.refresh(now=20)
        assert [g.uuid for g in service.ledger.inventory] == [UUIDS[1]]
        assert service.snapshot()["gpus"][-1] == {
            **service.snapshot()["gpus"][-1], "uuid": UUIDS[0], "present": False,
        }  # fmt: skip
        service.release("alice/")
        assert service.ledger.holdings() == {}

    asyncio.run(scenario())


def test_no_driver_means_no_gpus_at_start(nvml):
    async def scenario():
        nvml.fail = True
        service = make_service()
        await service.settled()
        return service.ledger.inventory

    assert len(asyncio.run(scenario())) == 0


@pytest.mark.parametrize("action", ["stop", "release", "none"])
def test_idle_action(nvml, action):
    async def scenario():
        service = make_service(action)
        await service.settled()
        spawner = FakeSpawner()
        service.request(Request("alice/", "alice"), spawner, now=0)
        nvml.utilisation[UUIDS[0]] = 1
        assert await service.sample_idle(now=0) == []
        assert await service.sample_idle(now=60) == []
        nvml.utilisation[UUIDS[1]] = 0  # a free GPU is never "idle": nobody holds it
        found = await service.sample_idle(now=101)
        assert found == ["alice/"]
        assert service.utilisation[UUIDS[0]] == 1.0
        stopped = spawner.user.stopped
        restarted = spawner.restarted
        assert (stopped, len(restarted)) == {
            "stop": ([""], 0), "release": ([], 1), "none": ([], 0),
        }[action]  # fmt: skip
        if action == "none":
            assert service.snapshot()["gpus"][0]["idle"] is True

    asyncio.run(scenario())


def test_a_busy_sample_keeps_the_server(nvml):
    async def scenario():
        service = make_service("stop")
        await service.settled()
        spawner = FakeSpawner()
        service.request(Request("alice/", "alice"), spawner, now=0)
        for t, u in [(0, 0), (50, 80), (101, 0), (140, 0)]:
            nvml.utilisation[UUIDS[0]] = u
            assert await service.sample_idle(now=t) == []
        assert spawner.user.stopped == []

    asyncio.run(scenario())
