"""A user whose profile has a maximum runtime is warned in JupyterLab before the hub stops the
server: once ``max_runtime_warning_s`` before, and again one minute before, with the exact time.

A real hub (demo config, one profile with a 150 s maximum runtime and a 120 s warning), a real
single-user server, JupyterLab in Chromium (time zone UTC, British English, so the time reads
``HH:MM:SS UTC``).
"""

from __future__ import annotations

import re
import time

import pytest

from ..spawner.test_mixin_local import server, wait_gone
from .test_lab_browser import log_in

pytestmark = pytest.mark.e2e

MAX_RUNTIME = 150
EXTRA = f"""
c.GPULocalProcessSpawner.profiles = [{{"name": "short", "max_runtime_s": {MAX_RUNTIME}}}]
c.GPULocalProcessSpawner.max_runtime_warning_s = 120
"""


def test_the_user_is_warned_before_the_max_runtime_stop(hub_factory, browser, artifacts_dir):
    hub = hub_factory(extra_config=EXTRA)
    context = browser.new_context(
        viewport={"width": 1280, "height": 800}, locale="en-GB", timezone_id="UTC"
    )
    try:
        page = context.new_page()
        page.set_default_timeout(60_000)
        log_in(page, hub, "bruno", "bruno-demo")
        page.wait_for_url(re.compile(r".*/user/bruno/lab.*"), timeout=120_000)
        page.wait_for_selector("#jp-main-dock-panel", state="visible", timeout=120_000)
        stop_at = int(server(hub, "bruno")["state"]["mutirao"]["stop_at"])
        at = time.strftime("%H:%M:%S", time.gmtime(stop_at))

        # the first warning: 120 s before the stop (at once if the lab loaded after that)
        first = page.get_by_text(re.compile(rf"This server stops at {at} UTC \(in \d+ minutes\)"))
        first.wait_for(timeout=120_000)
        assert "maximum runtime of its profile" in first.inner_text()
        page.screenshot(path=str(artifacts_dir / "runtime-warning.png"))
        assert time.time() < stop_at - 60

        # the last one, a minute before, while the server still runs
        last = page.get_by_text(f"This server stops in 1 minute, at {at} UTC")
        last.wait_for(timeout=120_000)
        assert time.time() < stop_at
        assert server(hub, "bruno")["ready"]
        page.screenshot(path=str(artifacts_dir / "runtime-last-warning.png"))
    finally:
        context.close()
    wait_gone(hub, "bruno", timeout=120)
    assert "reached the maximum runtime" in hub.log()
