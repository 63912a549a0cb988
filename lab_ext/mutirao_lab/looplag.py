"""A probe of the event loop's lag, exposed as Prometheus metrics.

A task sleeps ``interval`` seconds at a time; how much later than asked it wakes up is how long
the loop was busy with something else (a callback that ran too long, CPU work on the loop):
what every other request waited. Each sample goes to the histogram
``mutirao_event_loop_lag_seconds``; the gauge ``mutirao_event_loop_lag_max_seconds`` holds the
largest lag of the last minute. Both are in prometheus_client's default registry, which
jupyter-server serves at ``<base_url>metrics``.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from prometheus_client import REGISTRY, Gauge, Histogram

__all__ = ["LAG_MAX_SECONDS", "LAG_SECONDS", "LoopLagProbe"]


def _metric(kind: Any, name: str, documentation: str, **kwargs: Any) -> Any:
    try:
        return kind(name, documentation, **kwargs)
    except ValueError:  # registered by the other Mutirão package in this process (tests)
        return REGISTRY._names_to_collectors[name]


LAG_SECONDS = _metric(
    Histogram,
    "mutirao_event_loop_lag_seconds",
    "How much later than asked the event loop ran a timer: time other work held the loop",
    buckets=(0.001, 0.002, 0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5,
             5, 10),
)  # fmt: skip
LAG_MAX_SECONDS = _metric(
    Gauge, "mutirao_event_loop_lag_max_seconds", "The largest event loop lag of the last minute"
)

#: the window of LAG_MAX_SECONDS
WINDOW_S = 60.0


class LoopLagProbe:
    """Samples the running loop's lag every ``interval`` seconds while started."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self._task: asyncio.Task | None = None
        # (time, lag), lags decreasing: the first is the window's largest
        self._window: deque[tuple[float, float]] = deque()

    def start(self) -> None:
        """Start sampling on the running loop (again, if it was stopped)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def record(self, now: float, lag: float) -> None:
        LAG_SECONDS.observe(lag)
        window = self._window
        while window and window[-1][1] <= lag:
            window.pop()
        window.append((now, lag))
        while window[0][0] < now - WINDOW_S:
            window.popleft()
        LAG_MAX_SECONDS.set(window[0][1])

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(self.interval)
            now = loop.time()
            self.record(now, max(0.0, now - before - self.interval))
