"""GPULocalProcessSpawner.list_running_holders on real processes: it finds servers by the
``MUTIRAO_SERVER_ID`` in their environment (read from /proc), and leaves alone the processes of
another hub on the same machine (another ``MUTIRAO_HUB_ID``); ``stop_holder`` stops what it
found for one server id."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid

import pytest

from mutirao_spawner import local
from mutirao_spawner.local import GPULocalProcessSpawner


@pytest.fixture
def processes():
    started: list[subprocess.Popen] = []

    def start(**env: str) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(60)"], env={**os.environ, **env}
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.kill()
        proc.wait(10)


def test_only_this_hubs_servers_are_holders(processes, monkeypatch):
    monkeypatch.setattr(local, "hub_identity", lambda: "this-hub")
    tag = uuid.uuid4().hex[:8]
    ours, theirs, old = f"ours-{tag}/", f"theirs-{tag}/", f"old-{tag}/"
    processes(MUTIRAO_SERVER_ID=ours, MUTIRAO_HUB_ID="this-hub", CUDA_VISIBLE_DEVICES="GPU-a")
    processes(MUTIRAO_SERVER_ID=theirs, MUTIRAO_HUB_ID="other-hub", CUDA_VISIBLE_DEVICES="GPU-b")
    processes(MUTIRAO_SERVER_ID=old, CUDA_VISIBLE_DEVICES="GPU-c")  # started before hub ids
    holders = asyncio.run(GPULocalProcessSpawner.list_running_holders())
    assert holders[ours] == {"GPU-a"}
    assert holders[old] == {"GPU-c"}
    assert theirs not in holders


def test_reclaim_stops_only_that_servers_processes_of_this_hub(processes, monkeypatch):
    """``stop_holder`` (``unknown_gpu_holders = "reclaim"`` for a holder that is not a hub
    server) sends SIGTERM to the server's processes, its kernels included, and to nothing else."""
    monkeypatch.setattr(local, "hub_identity", lambda: "this-hub")
    tag = uuid.uuid4().hex[:8]
    stray, other = f"stray-{tag}/", f"other-{tag}/"
    server = processes(MUTIRAO_SERVER_ID=stray, MUTIRAO_HUB_ID="this-hub", CUDA_VISIBLE_DEVICES="a")
    kernel = processes(MUTIRAO_SERVER_ID=stray, CUDA_VISIBLE_DEVICES="a")
    theirs = processes(MUTIRAO_SERVER_ID=stray, MUTIRAO_HUB_ID="other-hub")
    bystander = processes(MUTIRAO_SERVER_ID=other, MUTIRAO_HUB_ID="this-hub")
    stopped = asyncio.run(GPULocalProcessSpawner.stop_holder(stray))
    assert sorted(stopped) == sorted([f"process {server.pid}", f"process {kernel.pid}"])
    assert server.wait(10) == -signal.SIGTERM
    assert kernel.wait(10) == -signal.SIGTERM
    assert theirs.poll() is None
    assert bystander.poll() is None
    assert stray not in asyncio.run(GPULocalProcessSpawner.list_running_holders())
