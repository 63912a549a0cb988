"""A stand-in ``pynvml`` module for a real hub process on a machine without GPUs.

:func:`install` writes a module named ``pynvml`` into a folder; a test puts that folder first on
the hub's ``PYTHONPATH``, so the hub's ``import pynvml`` (``nvml_module``'s default) finds it
instead of nvidia-ml-py. Everything above NVML (discovery, the GPU service, the ledger, idle
sampling, the spawner) is the real code in the real hub.

The fake has the functions and exception classes the hub calls, with the layout ``nvidia-smi -L``
prints on a two-GPU A100 host (whole GPUs, MIG off: ``nvmlDeviceGetMigMode`` raises
``NVMLError_NotSupported`` as on a card without MIG). Each GPU's utilisation is read from a JSON
file at every call, so a test changes it while the hub runs (:meth:`FakeNVMLFiles.set_utilisation`).

The slow variants: :meth:`FakeNVMLFiles.slow` makes every ``nvmlInit`` take a while, and
:meth:`FakeNVMLFiles.hang` makes it block, as NVML does on a busy or failing driver, until
:meth:`FakeNVMLFiles.release`; the hub's call is seen to have begun
(:meth:`FakeNVMLFiles.hanging`).
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

MODEL = "NVIDIA A100-SXM4-80GB"

MODULE = '''\
"""Fake pynvml written by tests/spawner/fake_nvml.py (no GPU on this machine)."""
import json
import os
import time
from types import SimpleNamespace

_STATE = {state!r}


class NVMLError(Exception):
    pass


class NVMLError_NotSupported(NVMLError):
    pass


class NVMLError_NotFound(NVMLError):
    pass


def _gpus():
    with open(_STATE) as f:
        return json.load(f)["gpus"]


def nvmlInit():
    # the slow variants: take a while, or block while the test says so (and say it does)
    if os.path.exists(_STATE + ".slow"):
        with open(_STATE + ".slow") as f:
            time.sleep(float(f.read()))
    if os.path.exists(_STATE + ".hang"):
        open(_STATE + ".hanging", "w").close()
        while os.path.exists(_STATE + ".hang"):
            time.sleep(0.05)


def nvmlShutdown():
    pass


def nvmlDeviceGetCount():
    return len(_gpus())


def nvmlDeviceGetHandleByIndex(index):
    return _gpus()[index]["uuid"]


def nvmlDeviceGetHandleByUUID(uuid):
    if isinstance(uuid, bytes):
        uuid = uuid.decode()
    if not any(g["uuid"] == uuid for g in _gpus()):
        raise NVMLError_NotFound(uuid)
    return uuid


def _gpu(handle):
    return next(g for g in _gpus() if g["uuid"] == handle)


def nvmlDeviceGetUUID(handle):
    return handle


def nvmlDeviceGetName(handle):
    return _gpu(handle)["name"]


def nvmlDeviceGetMemoryInfo(handle):
    total = _gpu(handle)["memory_mib"] * 1024 * 1024
    return SimpleNamespace(total=total, free=total, used=0)


def nvmlDeviceGetMigMode(handle):
    raise NVMLError_NotSupported()


def nvmlDeviceGetUtilizationRates(handle):
    return SimpleNamespace(gpu=_gpu(handle)["utilisation"], memory=0)
'''


class FakeNVMLFiles:
    """The fake module's folder and its state file; two A100s with fresh uuids."""

    def __init__(self, folder: Path, utilisation: int = 0) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.state = self.folder / "nvml-state.json"
        # fresh uuids: other hubs on this machine must never see these GPUs as theirs
        self.uuids = [f"GPU-{uuid.uuid4()}" for _ in range(2)]
        self._write(dict.fromkeys(self.uuids, utilisation))
        (self.folder / "pynvml.py").write_text(MODULE.format(state=str(self.state)))

    def _write(self, utilisation: dict[str, int]) -> None:
        gpus = [
            {"uuid": u, "name": MODEL, "memory_mib": 81920, "utilisation": utilisation[u]}
            for u in self.uuids
        ]
        tmp = self.state.with_suffix(".tmp")
        tmp.write_text(json.dumps({"gpus": gpus}))
        os.replace(tmp, self.state)  # the hub never reads half a file

    def set_utilisation(self, value: int) -> None:
        self._write(dict.fromkeys(self.uuids, value))

    # -- the slow variant --------------------------------------------------------------------
    @property
    def _hang(self) -> Path:
        return self.state.with_name(self.state.name + ".hang")

    @property
    def _hanging(self) -> Path:
        return self.state.with_name(self.state.name + ".hanging")

    def hang(self) -> None:
        """From now on, every ``nvmlInit`` blocks until :meth:`release`."""
        self._hanging.unlink(missing_ok=True)
        self._hang.touch()

    def hanging(self) -> bool:
        """Whether a call has blocked since :meth:`hang`."""
        return self._hanging.exists()

    def release(self) -> None:
        self._hang.unlink(missing_ok=True)

    def slow(self, seconds: float) -> None:
        """From now on, every ``nvmlInit`` takes ``seconds``."""
        self.state.with_name(self.state.name + ".slow").write_text(str(seconds))
