"""``GET /mutirao/api/runtime``: when the hub will stop this server (a profile's max runtime).

The hub's GPU spawner gives a server with a maximum runtime two variables: ``MUTIRAO_STOP_AT``
(epoch seconds) and ``MUTIRAO_STOP_WARNING_S`` (how long before the stop users are warned, the
spawner's ``max_runtime_warning_s``). The lab extension reads them from here and warns the user
before the stop, and again one minute before it.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping

from jupyter_server.auth.decorator import authorized
from tornado import web

from .handlers import MutiraoHandler

#: Warn this many seconds before the stop when the hub does not say (``MUTIRAO_STOP_WARNING_S``).
DEFAULT_WARNING_S = 600.0


def _number(value: str | None) -> float | None:
    """A finite, positive number from an environment variable; None for anything else."""
    try:
        number = float(value) if value is not None else None
    except ValueError:
        return None
    if number is None or not math.isfinite(number) or number <= 0:
        return None
    return number


def runtime_model(env: Mapping[str, str], now: float) -> dict:
    """The endpoint's answer: ``stop_at`` (epoch seconds or None), ``warning_s``, ``now``."""
    stop_at = _number(env.get("MUTIRAO_STOP_AT"))
    warning_s = _number(env.get("MUTIRAO_STOP_WARNING_S")) or DEFAULT_WARNING_S
    return {"stop_at": stop_at, "warning_s": warning_s, "now": now}


class RuntimeHandler(MutiraoHandler):
    """When this server will be stopped, if its profile has a maximum runtime."""

    @web.authenticated
    @authorized
    def get(self) -> None:
        # "now" lets the browser correct for its own clock being off
        self.write_json(runtime_model(os.environ, time.time()))
