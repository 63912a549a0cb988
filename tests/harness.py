"""A real JupyterHub for tests: the demo config, the npm proxy, local single-user servers.

:class:`HubProcess` starts ``jupyterhub`` on free ports with a temporary state folder, logs users in
through the real login form, spawns their servers, and tears everything down without leaking a
process: servers are stopped through the REST API before the hub is stopped, and whatever still
runs in the state folder afterwards is reported and killed.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from urllib.parse import quote

import psutil
import requests

REPO = Path(__file__).resolve().parent.parent
DEMO_CONFIG = REPO / "config" / "demo" / "jupyterhub_config.py"
VENV_BIN = Path(sys.executable).parent
# A base URL that breaks naive escaping, as JupyterHub's own tests use.
ODD_BASE_URL = "/@/space%20word/"
CHP = REPO / "node_modules" / ".bin" / "configurable-http-proxy"
DEMO_PASSWORDS = {u: f"{u}-demo" for u in ("ana", "bruno", "carla", "davi")}

# JupyterHub as it comes, for comparisons: same proxy, ports and local servers as the demo, none
# of Mutirão (no team authenticator, and the mutirao_lab server extension switched off).
VANILLA_CONFIG = "; ".join(
    [
        "import os, sys",
        "c.JupyterHub.bind_url = 'http://127.0.0.1:' + os.environ['MUTIRAO_PORT']"
        " + os.environ['MUTIRAO_BASE_URL']",
        "c.JupyterHub.hub_ip = '127.0.0.1'",
        "c.JupyterHub.hub_port = int(os.environ['MUTIRAO_HUB_PORT'])",
        "c.ConfigurableHTTPProxy.api_url = 'http://127.0.0.1:'"
        " + os.environ['MUTIRAO_PROXY_API_PORT']",
        f"c.ConfigurableHTTPProxy.command = [{str(CHP)!r}]",
        "c.JupyterHub.authenticator_class = 'dummy'",
        "c.JupyterHub.spawner_class = 'simple'",
        "c.SimpleLocalProcessSpawner.home_dir_template = os.environ['MUTIRAO_STATE_DIR']"
        " + '/homes/{username}'",
        "c.Spawner.cmd = [sys.executable, '-m', 'jupyterhub.singleuser']",
        "c.Spawner.default_url = '/lab'",
        "c.Spawner.args = ['--ServerApp.jpserver_extensions={\"mutirao_lab\": False}']"
        " + (['--allow-root'] if os.geteuid() == 0 else [])",
    ]
)


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(n: int) -> list[int]:
    """*n* distinct free ports: the sockets stay bound until all are chosen, so the kernel
    cannot hand the same port out twice (a hub and a proxy on one port fail to start)."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def wait_for(predicate, timeout: float, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            result = predicate()
        except requests.ConnectionError as e:
            result, last = None, e
        if result:
            return result
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what} (last error: {last})")


def processes_under(folder: Path) -> list[psutil.Process]:
    """Processes whose working directory is inside ``folder`` (user servers run in their homes)."""
    found = []
    prefix = str(folder)
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.cwd().startswith(prefix) and proc.pid != os.getpid():
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


class HubProcess:
    """One real ``jupyterhub`` process (and its proxy and user servers) for a test."""

    def __init__(
        self,
        state_dir: Path,
        base_url: str = ODD_BASE_URL,
        extra_config: str = "",
        base_config: Path | None = DEMO_CONFIG,
    ):
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.base_url = base_url
        self.port, self.hub_port, self.proxy_api_port, self.rooms_port = free_ports(4)
        self.token = secrets.token_hex(32)
        self.log_path = self.state_dir / "jupyterhub.log"
        self.config_path = self.state_dir / "jupyterhub_config.py"
        self.config_path.write_text(
            textwrap.dedent(
                f"""\
                c = get_config()  # noqa
                {VANILLA_CONFIG if base_config is None else f"load_subconfig({str(base_config)!r})"}
                # a service token the tests use to drive the hub's REST API
                c.JupyterHub.services = [{{"name": "mutirao-tests", "api_token": {self.token!r}}}]
                c.JupyterHub.load_roles = [{{
                    "name": "mutirao-tests",
                    "scopes": ["admin:users", "admin:servers", "admin:server_state",
                               "admin:groups", "read:hub", "tokens", "proxy", "shutdown"],
                    "services": ["mutirao-tests"],
                }}]
                c.JupyterHub.log_level = "DEBUG"
                # user servers load the lab extension that JUPYTER_PATH points at, when set
                # (a checkout's own build), like the hub; JupyterHub does not pass it on
                import os as _os
                if _os.environ.get("JUPYTER_PATH"):
                    c.Spawner.environment.update({{"JUPYTER_PATH": _os.environ["JUPYTER_PATH"]}})
                c.LocalProcessSpawner.interrupt_timeout = 2
                c.LocalProcessSpawner.term_timeout = 2
                c.LocalProcessSpawner.kill_timeout = 2
                # user servers load the lab extension the tests were built with (JUPYTER_PATH)
                c.Spawner.env_keep.append("JUPYTER_PATH")
                """
            )
            + textwrap.dedent(extra_config)
        )
        self.proc: subprocess.Popen | None = None
        self._log_file = None

    # -- URLs -------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.base_url}"

    def hub_url(self, path: str = "") -> str:
        return f"{self.url}hub/{path}"

    def api_url(self, path: str) -> str:
        return f"{self.url}hub/api/{path}"

    def user_url(self, user: str, path: str = "") -> str:
        return f"{self.url}user/{quote(user)}/{path}"

    # -- lifecycle --------------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            MUTIRAO_STATE_DIR=str(self.state_dir),
            MUTIRAO_PORT=str(self.port),
            MUTIRAO_HUB_PORT=str(self.hub_port),
            MUTIRAO_PROXY_API_PORT=str(self.proxy_api_port),
            MUTIRAO_ROOMS_PORT=str(self.rooms_port),
            MUTIRAO_BASE_URL=self.base_url,
            PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        )
        # the demo's pretend GPUs put a profile form before the lab; tests ask for them
        env.setdefault("MUTIRAO_DEMO_GPUS", "0")
        return env

    def start(self, timeout: float = 60) -> HubProcess:
        self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "jupyterhub"), "-f", str(self.config_path)],
            cwd=self.state_dir,
            env=self.env(),
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyterhub exited with {self.proc.returncode}:\n{self.log()}")
            r = requests.get(self.api_url(""), timeout=5)
            return r.status_code == 200

        wait_for(ready, timeout, what="the hub's API")
        return self

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"token {self.token}", **kwargs.pop("headers", {})}
        return requests.request(method, self.api_url(path), headers=headers, timeout=30, **kwargs)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def login(self, username: str, password: str | None = None) -> requests.Session:
        """Log in through the login form, as a browser does; returns the session."""
        s = requests.Session()
        s.get(self.hub_url("login"), timeout=30)
        r = s.post(
            self.hub_url("login"),
            data={
                "username": username,
                "password": DEMO_PASSWORDS.get(username, "") if password is None else password,
                "_xsrf": s.cookies.get("_xsrf", ""),
            },
            allow_redirects=False,
            timeout=30,
        )
        s.login_response = r  # type: ignore[attr-defined]
        return s

    def spawn(self, username: str, timeout: float = 120) -> dict:
        """Start a user's server through the REST API and wait until it is ready."""
        r = self.api("POST", f"users/{quote(username)}/server")
        assert r.status_code in (201, 202), r.text

        def ready():
            model = self.api("GET", f"users/{quote(username)}").json()
            server = model.get("servers", {}).get("")
            return model if server and server.get("ready") else None

        return wait_for(ready, timeout, interval=0.5, what=f"{username}'s server")

    def user_token(self, username: str) -> str:
        r = self.api("POST", f"users/{quote(username)}/tokens", json={"note": "tests"})
        assert r.status_code == 201, r.text
        return r.json()["token"]

    def stop_servers(self, timeout: float = 60) -> None:
        users = self.api("GET", "users").json()
        for user in users:
            if user.get("server") or user.get("pending"):
                self.api("DELETE", f"users/{quote(user['name'])}/server")

        def all_stopped():
            return not any(
                u.get("server") or u.get("pending") for u in self.api("GET", "users").json()
            )

        wait_for(all_stopped, timeout, interval=0.5, what="every server to stop")

    def stop(self) -> list[str]:
        """Stop servers, then the hub and its proxy; return what had to be killed (leaks)."""
        leaks: list[str] = []
        if self.proc and self.proc.poll() is None:
            try:
                self.stop_servers()
            except Exception as e:  # the hub may already be broken; still clean up below
                leaks.append(f"servers did not stop through the API: {e}")
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                leaks.append("jupyterhub did not exit on SIGTERM")
                self.proc.kill()
                self.proc.wait(10)
        if self.proc:
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                pass
            else:
                leaks.append("processes left in the hub's process group")
                os.killpg(self.proc.pid, signal.SIGKILL)
        for proc in processes_under(self.state_dir):
            leaks.append(f"leaked process {proc.pid}: {' '.join(proc.cmdline())}")
            proc.kill()
        if self._log_file:
            self._log_file.close()
        return leaks
