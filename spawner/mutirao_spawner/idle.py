"""Idle GPU decisions: pure functions over utilisation samples (no NVML, no clock).

The GPU service samples each held GPU's utilisation (NVML's ``nvmlDeviceGetUtilizationRates``,
percent of time a kernel ran) every ``idle_sample_interval`` seconds and keeps the samples per
GPU. A server is idle when every GPU it holds is idle; a GPU is idle when its samples cover the
whole window and each of them is below the threshold. A GPU without samples for the window
(just assigned, or NVML cannot read it, as for MIG instances) is never idle: reclaiming is an
action on someone's work, so doubt keeps the server.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping

__all__ = ["Samples", "gpu_is_idle", "idle_servers", "record"]

Samples = deque  # of (time, utilisation percent), oldest first


def record(samples: Samples, now: float, utilisation: float, window: float) -> None:
    """Add a sample and drop those no longer needed to judge ``window`` seconds.

    One sample older than the window is kept: it proves the window is covered.
    """
    samples.append((now, utilisation))
    while len(samples) > 1 and samples[1][0] <= now - window:
        samples.popleft()


def gpu_is_idle(
    samples: Iterable[tuple[float, float]], now: float, window: float, threshold: float
) -> bool:
    samples = list(samples)
    if not samples or samples[0][0] > now - window:
        return False  # the window is not covered yet
    recent = [u for t, u in samples if t >= now - window] or [samples[-1][1]]
    return all(u < threshold for u in recent)


def idle_servers(
    holdings: Mapping[str, Iterable[str]],
    samples: Mapping[str, Iterable[tuple[float, float]]],
    now: float,
    window: float,
    threshold: float,
) -> list[str]:
    """Servers (``server id -> GPU uuids``) whose every GPU is idle, in server id order."""
    idle = []
    for server_id, uuids in sorted(holdings.items()):
        uuids = list(uuids)
        if uuids and all(gpu_is_idle(samples.get(u, ()), now, window, threshold) for u in uuids):
            idle.append(server_id)
    return idle
