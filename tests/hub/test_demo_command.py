"""`make demo`'s launcher: it prints the URL and credentials once the hub answers, shows the
product at once (pretend GPUs and the profile form, a seeded team room, no news prompt), and
Ctrl-C leaves nothing running."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import psutil
import requests

from mutirao_lab.comments.store import CommentDB

from ..harness import REPO, HubProcess, processes_under, wait_for

BANNER_LINE = "ana    / ana-demo"


def test_demo_prints_credentials_and_ctrl_c_leaves_no_orphans(tmp_path):
    hub = HubProcess(tmp_path)  # only for its free ports, URLs and env; the demo script starts it
    env = hub.env()
    env.pop("MUTIRAO_DEMO_GPUS")  # the demo's own default
    out = tmp_path / "demo.out"
    with open(out, "wb") as f:
        proc = subprocess.Popen(
            [str(REPO / "scripts" / "demo.sh")],
            env=env,
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
        wait_for(lambda: BANNER_LINE in out.read_text(), 30, what="the banner")
        banner = out.read_text()
        assert hub.url in banner
        assert "Ctrl-C" in banner
        # printed once the hub answers, not before its start-up log
        assert banner.index(BANNER_LINE) > banner.index("JupyterHub is now running")

        # -- the seeded team room: an example notebook under git, two versions, one thread
        room = tmp_path / "homes" / "room-ml-research"
        log = subprocess.run(
            ["git", "log", "--format=%an|%s", "--", "example.ipynb"],
            cwd=room,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\n")
        assert [line.split("|")[0] for line in log if line] == ["Bruno Lima", "Ana Souza"]
        db = CommentDB(str(room / ".mutirao" / "comments.sqlite"))
        try:
            threads = db.con.execute("SELECT last_path FROM threads").fetchall()
            assert [t["last_path"] for t in threads] == ["example.ipynb"]
        finally:
            db.close()

        # -- pretend GPUs by default: an ml-research member is offered the GPU profile
        bruno = hub.login("bruno")
        form = bruno.get(hub.hub_url("spawn"), timeout=30)
        assert form.status_code == 200
        assert "One GPU" in form.text

        session = hub.login("carla")
        assert session.login_response.status_code == 302
        # as a browser does after login: follow the redirect to the spawn page
        session.get(hub.hub_url("spawn"), timeout=30)

        def lab_ready():
            r = session.get(hub.user_url("carla", "lab"), timeout=30)
            return r.status_code == 200 and "JupyterLab" in r.text

        wait_for(lab_ready, 120, interval=1, what="carla's JupyterLab")
        # JupyterLab's offer to fetch news from the internet is off
        settings = session.get(
            hub.user_url("carla", "lab/api/settings/@jupyterlab/apputils-extension:notification"),
            timeout=30,
        ).json()
        assert settings["schema"]["properties"]["fetchNews"]["default"] == "false"
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
