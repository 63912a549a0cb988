"""Prometheus metrics of the GPU service, in prometheus_client's default registry.

JupyterHub serves that registry at ``/hub/metrics``, so these appear next to the hub's own
metrics with no extra endpoint. :func:`update` sets them from the ledger after every change.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from contextlib import suppress

from prometheus_client import Gauge, Histogram

from .ledger import Ledger

__all__ = [
    "DECISION_SECONDS",
    "GPU_ASSIGNED",
    "GPU_UTILISATION",
    "TEAM_HELD",
    "TEAM_QUEUED",
    "update",
]

GPU_ASSIGNED = Gauge(
    "mutirao_gpu_assigned",
    "1 when the GPU (or MIG instance) is held by a server, 0 when it is free",
    ["uuid", "model"],
)
GPU_UTILISATION = Gauge(
    "mutirao_gpu_utilization_percent",
    "GPU utilisation from NVML (percent of time a kernel ran), last sample",
    ["uuid", "model"],
)
TEAM_HELD = Gauge("mutirao_team_gpus_held", "GPUs held by the team's servers", ["team"])
TEAM_QUEUED = Gauge("mutirao_team_gpus_queued", "GPUs the team's queued spawns wait for", ["team"])
QUEUE_LENGTH = Gauge("mutirao_gpu_queue_length", "Spawns waiting in the GPU queue")
DECISION_SECONDS = Histogram(
    "mutirao_gpu_decision_seconds",
    "Time the GPU ledger took to decide a spawn request",
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05),
)

NO_TEAM = "(none)"
_seen_gpus: set[tuple[str, str]] = set()
_seen_teams: set[str] = set()


def update(ledger: Ledger, utilisation: Mapping[str, float]) -> None:
    """Set every gauge from ``ledger`` and the last utilisation samples (uuid -> percent)."""
    holdings = ledger.holdings()
    gpus = {(gpu.uuid, gpu.model) for gpu in ledger.inventory.allocatable()}
    for uuid, model in gpus:
        GPU_ASSIGNED.labels(uuid, model).set(1 if uuid in holdings else 0)
        if uuid in utilisation:
            GPU_UTILISATION.labels(uuid, model).set(utilisation[uuid])
    for uuid, model in _seen_gpus - gpus:  # a GPU that vanished stops being reported
        GPU_ASSIGNED.remove(uuid, model)
        with suppress(KeyError):  # never sampled
            GPU_UTILISATION.remove(uuid, model)
    _seen_gpus.clear()
    _seen_gpus.update(gpus)
    held: Counter[str] = Counter()
    for claim in holdings.values():
        held[claim.charge_team or NO_TEAM] += 1
    queued: Counter[str] = Counter()
    for req in ledger.queue():
        queued[req.charge_team or NO_TEAM] += req.count
    teams = set(held) | set(queued) | _seen_teams
    for team in teams:
        TEAM_HELD.labels(team).set(held[team])
        TEAM_QUEUED.labels(team).set(queued[team])
    _seen_teams.update(teams)
    QUEUE_LENGTH.set(len(ledger.queue()))
