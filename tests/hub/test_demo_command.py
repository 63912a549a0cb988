"""`make demo`'s launcher: it prints the URL and credentials, and Ctrl-C leaves nothing running."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import psutil
import requests

from ..harness import REPO, HubProcess, processes_under, wait_for


def test_demo_prints_credentials_and_ctrl_c_leaves_no_orphans(tmp_path):
    hub = HubProcess(tmp_path)  # only for its free ports, URLs and env; the demo script starts it
    out = tmp_path / "demo.out"
    with open(out, "wb") as f:
        proc = subprocess.Popen(
            [str(REPO / "scripts" / "demo.sh")],
            env=hub.env(),
            stdout=f,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, like a terminal's foreground job
        )
    try:
        wait_for(
            lambda: requests.get(hub.hub_url("login"), timeout=5).status_code == 200,
            60,
            what="the demo's login page",
        )
        banner = out.read_text()
        assert hub.url in banner
        assert "ana    / ana-demo" in banner
        assert "Ctrl-C" in banner

        session = hub.login("carla")
        assert session.login_response.status_code == 302
        # as a browser does after login: follow the redirect to the spawn page
        session.get(hub.hub_url("spawn"), timeout=30)

        def lab_ready():
            r = session.get(hub.user_url("carla", "lab"), timeout=30)
            return r.status_code == 200 and "JupyterLab" in r.text

        wait_for(lab_ready, 120, interval=1, what="carla's JupyterLab")
        servers = processes_under(tmp_path)
        assert servers, "the user server should run in its home under the state folder"

        # Ctrl-C in a terminal sends SIGINT to the whole foreground process group
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(60)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and processes_under(tmp_path):
            time.sleep(0.2)
        left = [p.cmdline() for p in processes_under(tmp_path)]
        assert not left, f"processes left after Ctrl-C: {left}"
        assert not any(psutil.pid_exists(p.pid) for p in servers)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        for p in processes_under(tmp_path):
            p.kill()
