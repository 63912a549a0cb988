"""The room server's loop-lag probe, read from jupyter-server's /metrics (pytest-jupyter)."""

from __future__ import annotations

import asyncio
import time

import pytest


@pytest.fixture
def jp_server_config():
    return {"ServerApp": {"jpserver_extensions": {"mutirao_lab": True}}}


def samples(text: str, name: str) -> dict[str, float]:
    """Prometheus text format: the value of each sample of ``name``, by its line's name+labels."""
    found = {}
    for line in text.splitlines():
        if line.startswith(name):
            key, _, value = line.rpartition(" ")
            found[key] = float(value)
    return found


async def test_a_blocked_loop_shows_in_the_servers_metrics(jp_fetch):
    async def metrics() -> str:
        return (await jp_fetch("metrics")).body.decode()

    await asyncio.sleep(0.3)  # a few samples of the probe, started with the server
    before = samples(await metrics(), "mutirao_event_loop_lag_seconds")
    assert before["mutirao_event_loop_lag_seconds_count"] > 0

    time.sleep(0.3)  # noqa: ASYNC251 - something holds the loop, as CPU work on it would
    await asyncio.sleep(0.3)
    text = await metrics()
    after = samples(text, "mutirao_event_loop_lag_seconds")
    # one more sample at least 0.1 s late, and the last minute's largest lag says so
    slow = 'mutirao_event_loop_lag_seconds_bucket{le="0.1"}'
    assert (after["mutirao_event_loop_lag_seconds_count"] - after[slow]) > (
        before["mutirao_event_loop_lag_seconds_count"] - before[slow]
    )
    assert (
        samples(text, "mutirao_event_loop_lag_max_seconds")["mutirao_event_loop_lag_max_seconds"]
        >= 0.1
    )
