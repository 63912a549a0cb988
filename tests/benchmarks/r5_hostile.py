"""R5: hostile input never gets a 5xx or a server path, and the collaboration timeline's memory
stays bounded.

A real ``jupyter server`` with mutirao_lab, jupyter-server-fileid and jupyter-collaboration
(a personal server: a room's needs a hub for its members' roles; the code paths measured are
the same). First a list of hostile requests to every JSON endpoint of Mutirão's API and to
the git query arguments (deep and oversized JSON, NUL characters, lone surrogates, a notebook
nested too deep in history): ``server_errors`` counts 5xx answers, ``path_leaks`` answers
that name the server's folders. Then a 5,000-cell notebook is opened for collaboration and
``GET api/collaboration/timeline`` is called 100 times, an editor changing the document
every tenth call (so that ten different forks are made); ``timeline_rss_growth_mb`` is the
server's resident memory after the calls minus before them (goal ≤ 50).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import psutil
import requests
from nbformat.v4 import new_code_cell, new_notebook
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from ..harness import free_port
from ..lab.test_room_authorizer import YClient

TOKEN = "r5-token"
CELLS = 5000
CALLS = 100
DEEP = b"[" * 100_000 + b"]" * 100_000

BODY_ENDPOINTS = [
    ("POST", "mutirao/api/comments/threads"),
    ("POST", "mutirao/api/comments/mentions/read"),
    ("POST", "mutirao/api/comments/export"),
    ("POST", "mutirao/api/git/commit"),
    ("POST", "mutirao/api/git/stage"),
    ("POST", "mutirao/api/git/branches"),
    ("POST", "mutirao/api/git/checkout"),
    ("POST", "mutirao/api/git/restore"),
    ("POST", "mutirao/api/git/resolve"),
    ("POST", "mutirao/api/git/snapshots"),
    ("POST", "mutirao/api/git/clone"),
    ("PUT", "mutirao/api/git/credentials"),
]
BODIES = [
    DEEP,
    b'{"body": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5000 + b"}",
    b'{"body": "' + b"x" * 3_000_000 + b'"}',
    b'{"body": "\\ud800", "path": "a\\u0000", "paths": ["\\udc00"], "message": "\\u0000"}',
    b"\xff\xfe not utf-8",
    b"[1, 2, 3]",
]
QUERY_ENDPOINTS = ["log", "show", "diff", "status", "branches", "snapshots", "conflict"]
QUERIES = [
    {"repo": "\0", "path": "nb.ipynb"},
    {"path": "nb\0.ipynb", "rev": "HEAD"},
    {"path": "deep.ipynb", "rev": "HEAD", "from": "HEAD", "to": "WORKING"},
    {"path": "/etc/passwd", "rev": "HEAD\0"},
    {"path": "x y.ipynb", "rev": "HEAD"},
]


class Server:
    def __init__(self, home: Path, root: Path):
        self.home, self.root = home, root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.headers = {"Authorization": f"token {TOKEN}"}
        env = dict(
            os.environ,
            JUPYTER_CONFIG_DIR=str(home / "config"),
            JUPYTER_DATA_DIR=str(home / "data"),
            JUPYTER_RUNTIME_DIR=str(home / "runtime"),
            JUPYTER_PLATFORM_DIRS="1",
        )
        env.pop("JUPYTERHUB_USER", None)
        self.log = open(home / "server.log", "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "jupyter_server",
                "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}",
                "--ServerApp.port_retries=0", "--ServerApp.open_browser=False", "--allow-root",
                f"--ServerApp.root_dir={root}", f"--IdentityProvider.token={TOKEN}",
                "--ServerApp.jpserver_extensions=mutirao_lab=True",
                "--ServerApp.jpserver_extensions=jupyter_server_fileid=True",
                "--ServerApp.jpserver_extensions=jupyter_server_ydoc=True",
            ],
            env=env, cwd=home, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, (home / "server.log").read_text()
            try:
                if self.call("GET", "mutirao/api/version").status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        raise AssertionError("jupyter server did not start")

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(
            method, self.url + path, headers=self.headers, timeout=120, **kwargs
        )

    def rss_mb(self) -> float:
        return psutil.Process(self.proc.pid).memory_info().rss / 1e6

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()


def leaks(text: str, folders: list[str]) -> bool:
    return any(f in text for f in folders)


def hostile(server: Server, folders: list[str]) -> tuple[int, int, int]:
    cases = errors = leaked = 0
    for method, path in BODY_ENDPOINTS:
        for body in BODIES:
            r = server.call(method, path, data=body)
            cases += 1
            errors += r.status_code >= 500
            leaked += leaks(r.text, folders)
    for endpoint in QUERY_ENDPOINTS:
        for params in QUERIES:
            r = server.call("GET", f"mutirao/api/git/{endpoint}", params=params)
            cases += 1
            errors += r.status_code >= 500
            leaked += leaks(r.text, folders)
    return cases, errors, leaked


async def timeline_growth(server: Server) -> tuple[float, int]:
    """RSS growth over CALLS timeline calls, an editor changing the document every tenth
    call (so the server cannot answer every call with one fork); and the forks made."""
    r = server.call("PUT", "api/collaboration/session/big.ipynb",
                    json={"format": "json", "type": "notebook"})  # fmt: skip
    assert r.status_code in (200, 201), r.text
    session = r.json()
    ws_url = (
        f"ws://127.0.0.1:{server.port}/api/collaboration/room/json:notebook:"
        f"{session['fileId']}?sessionId={session['sessionId']}"
    )
    socket = await websocket_connect(
        HTTPRequest(ws_url, headers=server.headers, connect_timeout=60, request_timeout=300),
        max_message_size=1 << 30,
    )
    editor = YClient("editor", socket)
    try:
        await editor.start()
        timeline = "api/collaboration/timeline/big.ipynb"
        params = {"format": "json", "type": "notebook"}
        deadline = time.monotonic() + 120
        while True:  # the room has loaded the notebook into its document and store
            r = await asyncio.to_thread(server.call, "GET", timeline, params=params)
            if r.status_code == 200 and r.json().get("timestamps"):
                break
            assert time.monotonic() < deadline, r.text
            await asyncio.sleep(0.5)
        before = server.rss_mb()
        forks = set()
        for i in range(CALLS):
            if i and i % 10 == 0:
                editor.edit(f"# edit {i}\n")
                await asyncio.sleep(0.2)  # for the server to apply it (a benchmark may wait)
            r = await asyncio.to_thread(server.call, "GET", timeline, params=params)
            assert r.status_code == 200, r.text
            forks.add(r.json()["forkRoom"])
        return server.rss_mb() - before, len(forks)
    finally:
        editor.close()


def run() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        root = home / "root"
        root.mkdir()
        cells = [new_code_cell(f"x_{i} = {i}\nprint(x_{i})", id=f"c{i}") for i in range(CELLS)]
        nbformat.write(new_notebook(cells=cells), str(root / "big.ipynb"))
        nbformat.write(new_notebook(cells=cells[:1]), str(root / "nb.ipynb"))
        subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
        deep = '{"a": ' * 20_000 + "{}" + "}" * 20_000
        (root / "deep.ipynb").write_text(
            nbformat.writes(new_notebook(cells=cells[:1])).replace(
                '"metadata": {', '"metadata": {"deep": ' + deep + ", ", 1
            )
        )
        subprocess.run(["git", "add", "-A"], cwd=root, check=True)
        subprocess.run(
            ["git", "-c", "user.name=R5", "-c", "user.email=r5@example.org",
             "commit", "-q", "-m", "first"],
            cwd=root, check=True,
        )  # fmt: skip
        server = Server(home, root)
        try:
            folders = [str(root), os.path.realpath(root), str(home), sys.prefix]
            cases, errors, leaked = hostile(server, folders)
            growth, forks = asyncio.run(timeline_growth(server))
        finally:
            server.stop()
    return (
        f"R5: cases={cases} server_errors={errors} path_leaks={leaked} "
        f"timeline_rss_growth_mb={growth:.0f} timeline_forks_made={forks}"
    )


if __name__ == "__main__":
    print(run())
