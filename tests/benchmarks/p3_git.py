"""P3: Mutirão's versioning UI vs jupyterlab-git's, action by action, on one 10,000-commit
repository; and Mutirão's in-process commit vs the git CLI commit it falls back to.

jupyterlab-git is installed into its own venv (``.state/bench-venv``, made here; never the
project's ``.venv``) and runs in its own jupyter server. Mutirão runs in two servers from
``.venv``: one as installed, and one whose in-process commit
(``mutirao_lab.versioning.fastpath.commit``) is turned off by a server extension written here
for the purpose (``p3_cli_only``), so that every commit it makes goes through ``git commit``,
as when the in-process path declines. The three servers serve the same folder, so they work on
one and the same repository (same packs, same index, same history as it grows).

Each figure is one UI action, each side sending the requests its own UI sends for it (their
number is printed as ``<action>_requests_ours`` / ``<action>_requests_peer``; requests the UI
sends at once are sent at once here too), and every compared pair runs the same git operation:

- ``history``: a notebook's history is shown (Mutirão's History panel: ``locate``, then its
  ``log?path=``, ``snapshots`` and ``status`` at once; jupyterlab-git's file history:
  ``POST log`` with ``follow_path``). Both sides run ``git log --follow`` on the file (Mutirão
  answers from commits it has parsed before where it can, as it does in use);
- ``diff``: the notebook diff of two versions (Mutirão: one ``GET diff``; jupyterlab-git: the
  two versions through ``/content`` then ``/diffnotebook``), a different pair each round so no
  cache answers;
- ``commit``: committing a changed notebook, from the status the UI shows first (Mutirão's
  commit dialog: ``status``, then ``POST commit``; jupyterlab-git: ``status``, ``add``,
  ``commit``). The refreshes each UI makes after a commit are left out on both sides.

``ratio_<action>`` is the ratio of the medians (Mutirão / jupyterlab-git: below 1 is faster).
``fast_vs_cli_commit`` is the median ``POST commit`` of the installed server over that of the
server without the in-process path (below 1: the in-process commit wins); each of its commits
is checked to have gone the expected way (its reflog entry). Each round runs every side in
turn, the order alternating from round to round, after a warm-up of every side.

``MUTIRAO_BENCH_P3_RUNS`` sets the number of measured rounds (default 21; a few minutes on
two loaded cores).
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from ..harness import REPO

COMMITS = 10_000
NOTEBOOK_EVERY = 20  # the notebook changes in one commit out of 20: 500 versions
CELLS = 200
RUNS = int(os.environ.get("MUTIRAO_BENCH_P3_RUNS", "21"))
WARMUP = 3
VENV = REPO / ".state" / "bench-venv"
TOKEN = "p3-bench-token"
NB = "analysis.ipynb"

CLI_ONLY = '''"""P3's third server: Mutirão without its in-process commit (benchmark only)."""
from mutirao_lab.versioning import fastpath


def _jupyter_server_extension_points():
    return [{"module": "p3_cli_only"}]


def _load_jupyter_server_extension(serverapp):
    fastpath.commit = lambda *args, **kwargs: None
'''


def bench_venv() -> Path:
    """jupyterlab-git in a venv of its own (made once, reused by later runs)."""
    python = VENV / "bin" / "python"
    ok = python.exists() and (
        subprocess.run([str(python), "-c", "import jupyterlab_git"], check=False).returncode == 0
    )
    if not ok:
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "jupyterlab-git==0.55.0"], check=True
        )
    return VENV / "bin"


def notebook(version: int) -> str:
    cells = [
        {
            "cell_type": "code",
            "id": f"cell-{i}",
            "execution_count": i,
            "metadata": {},
            "source": f"x_{i} = {i}\nprint(x_{i} * {version if i % 40 == version % 40 else 1})\n",
            "outputs": [{"output_type": "stream", "name": "stdout", "text": f"{i}\n"}],
        }
        for i in range(CELLS)
    ]
    nb = {
        "cells": cells,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(nb, indent=1) + "\n"


def make_repo(path: Path) -> None:
    """10,000 commits through ``git fast-import``, in seconds."""
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    lines: list[bytes] = []

    def data(text: str) -> None:
        raw = text.encode()
        lines.append(b"data %d\n" % len(raw) + raw + b"\n")

    t = 1_700_000_000
    for n in range(COMMITS):
        who = ["Ana", "Bruno", "Carla"][n % 3]
        lines.append(b"commit refs/heads/main\n")
        lines.append(f"committer {who} <{who.lower()}@example.org> {t + n * 60} +0000\n".encode())
        data(f"change {n}")
        # each commit of the stream continues the branch: no `from` needed
        if n % NOTEBOOK_EVERY == 0:
            lines.append(b"M 100644 inline analysis.ipynb\n")
            data(notebook(n // NOTEBOOK_EVERY))
        lines.append(f"M 100644 inline src/module_{n % 50}.py\n".encode())
        data(f"VALUE = {n}\n")
    subprocess.run(["git", "fast-import", "--quiet"], cwd=path, input=b"".join(lines), check=True)
    subprocess.run(["git", "checkout", "-q", "-f", "main"], cwd=path, check=True)
    subprocess.run(["git", "gc", "-q"], cwd=path, check=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(
        self,
        bin_dir: Path,
        root: Path,
        extensions: dict[str, bool],
        log: Path,
        pythonpath: Path | None = None,
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        config_dir = root.parent / f"config-{self.port}"
        config_dir.mkdir()
        (config_dir / "jupyter_server_config.json").write_text(
            json.dumps({"ServerApp": {"jpserver_extensions": extensions}})
        )
        env = {
            **os.environ,
            "JUPYTERHUB_USER": "bench-owner",
            "JUPYTER_CONFIG_DIR": str(config_dir),
        }
        env["PATH"] = f"{bin_dir}:{env['PATH']}"
        if pythonpath is not None:
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (str(pythonpath), env.get("PYTHONPATH")) if p
            )
        self.log = open(log, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                str(bin_dir / "jupyter"), "server", "--no-browser", "--allow-root",
                f"--port={self.port}", "--ip=127.0.0.1",
                f"--IdentityProvider.token={TOKEN}",
                f"--ServerApp.root_dir={root}",
                "--ServerApp.disable_check_xsrf=True",
            ],
            env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()
        self.requests = 0  # requests sent, counted per action by the caller
        deadline = time.monotonic() + 120
        while True:
            try:
                if self.session.get(self.url + "api/status", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.log.flush()
                tail = log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"server did not start:\n{tail}")
            time.sleep(0.3)

    @property
    def session(self) -> requests.Session:
        """One keep-alive connection per thread, as a browser keeps several."""
        s = getattr(self._local, "session", None)
        if s is None:
            s = self._local.session = requests.Session()
            s.headers["Authorization"] = f"token {TOKEN}"
            with self._lock:
                self._sessions.append(s)
        return s

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        with self._lock:
            self.requests += 1
        r = self.session.request(method, self.url + path, timeout=120, **kwargs)
        if r.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {r.status_code} {r.text[:500]}")
        return r

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for s in self._sessions:
            s.close()
        self.log.close()


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run(runs: int = RUNS) -> str:
    bench_bin = bench_venv()
    ours_bin = Path(sys.executable).parent
    with tempfile.TemporaryDirectory(prefix="p3-") as tmp:
        base = Path(tmp)
        root = base / "root"
        root.mkdir()
        make_repo(root / "repo")
        cli_ext = base / "cli-ext"
        cli_ext.mkdir()
        (cli_ext / "p3_cli_only.py").write_text(CLI_ONLY)
        ours_ext = {"mutirao_lab": True, "jupyter_server_fileid": True}
        servers: list[Server] = []
        try:
            servers.append(Server(bench_bin, root, {"jupyterlab_git": True}, base / "peer.log"))
            servers.append(Server(ours_bin, root, ours_ext, base / "ours.log"))
            servers.append(
                Server(
                    ours_bin,
                    root,
                    {**ours_ext, "p3_cli_only": True},
                    base / "ours-cli.log",
                    pythonpath=cli_ext,
                )
            )
            peer, ours, cli = servers
            return _measure(peer, ours, cli, root / "repo", runs)
        finally:
            for server in servers:
                server.stop()


def _measure(peer: Server, ours: Server, cli: Server, repo: Path, runs: int) -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=repo, capture_output=True, text=True, check=True
        ).stdout

    shas = git("log", "--format=%H", "--", NB).split()
    pool = ThreadPoolExecutor(3)

    # -- history: a notebook's history is shown ---------------------------------------------
    def peer_history(_: int) -> None:
        peer.call("POST", "git/repo/log", json={"history_count": 25, "follow_path": NB})

    def our_history(_: int, server: Server = ours) -> None:
        where = server.call("GET", "mutirao/api/git/locate", params={"path": f"repo/{NB}"}).json()
        page = {"repo": where["repo"], "path": where["path"], "skip": 0, "limit": 25}
        calls = [
            pool.submit(server.call, "GET", "mutirao/api/git/log", params=page),
            pool.submit(server.call, "GET", "mutirao/api/git/snapshots", params=page),
            pool.submit(server.call, "GET", "mutirao/api/git/status", params={"repo": "repo"}),
        ]
        for c in calls:
            c.result()

    # -- diff: two versions of the notebook, a new pair each round ---------------------------
    def peer_diff(i: int) -> None:
        a, b = shas[i + 1], shas[i]
        prev = peer.call(
            "POST", "git/repo/content", json={"filename": NB, "reference": {"git": a}}
        ).json()["content"]
        curr = peer.call(
            "POST", "git/repo/content", json={"filename": NB, "reference": {"git": b}}
        ).json()["content"]
        peer.call(
            "POST", "git/diffnotebook", json={"previousContent": prev, "currentContent": curr}
        )

    def our_diff(i: int) -> None:
        a, b = shas[i + 1], shas[i]
        ours.call(
            "GET", "mutirao/api/git/diff", params={"repo": "repo", "path": NB, "from": a, "to": b}
        )

    # -- commit: a changed notebook ----------------------------------------------------------
    edits = iter(range(1_000_000))
    commit_only: dict[str, list[float]] = {"fast": [], "cli": []}

    def edit() -> int:
        n = next(edits)
        (repo / NB).write_text(notebook(10_000 + n))
        return n

    def peer_commit(_: int) -> None:
        n = edit()
        peer.call("POST", "git/repo/status", json={})
        peer.call("POST", "git/repo/add", json={"add_all": False, "filename": NB})
        peer.call(
            "POST",
            "git/repo/commit",
            json={"commit_msg": f"edit {n}", "amend": False, "author": None},
        )

    def our_commit(_: int, server: Server = ours, kind: str = "fast") -> None:
        n = edit()
        server.call("GET", "mutirao/api/git/status", params={"repo": "repo"})
        dt = timed(
            lambda: server.call(
                "POST",
                "mutirao/api/git/commit",
                json={"repo": "repo", "paths": [NB], "message": f"edit {n}"},
            )
        )
        commit_only[kind].append(dt)
        # the commit went the way this server is there to measure
        made_by = git("reflog", "-1", "--format=%gs", "HEAD")
        if (kind == "fast") != made_by.startswith("commit (mutirao):"):
            raise RuntimeError(f"{kind} commit was made as {made_by!r}")

    def cli_commit(i: int) -> None:
        our_commit(i, cli, "cli")

    # action -> sides (the timed function and its server): peer, ours, and ours without the
    # in-process commit (commit only)
    actions: dict[str, list[tuple[Callable[[int], None], Server]]] = {
        "history": [(peer_history, peer), (our_history, ours)],
        "diff": [(peer_diff, peer), (our_diff, ours)],
        "commit": [(peer_commit, peer), (our_commit, ours), (cli_commit, cli)],
    }
    t: dict[tuple[str, int], list[float]] = {
        (a, s): [] for a, sides in actions.items() for s in range(len(sides))
    }
    counts: dict[tuple[str, int], set[int]] = {key: set() for key in t}

    def round_(i: int, record: bool) -> None:
        """One round; ``i`` is unique over warm-up and measured rounds."""
        for action, sides in actions.items():
            order = list(range(len(sides)))
            if i % 2:
                order.reverse()
            for s in order:
                fn, server = sides[s]
                before = server.requests
                dt = timed(lambda fn=fn: fn(i))
                counts[(action, s)].add(server.requests - before)
                if record:
                    t[(action, s)].append(dt)
        if not record:
            for kind in commit_only.values():
                kind.clear()

    try:
        for i in range(WARMUP):  # imports, the OS's caches, each side's readers and pools
            round_(i, record=False)
        for i in range(WARMUP, WARMUP + runs):
            round_(i, record=True)
    finally:
        pool.shutdown()
    m = {k: statistics.median(v) for k, v in t.items()}
    fast, cli_ms = statistics.median(commit_only["fast"]), statistics.median(commit_only["cli"])
    fields = []
    for action in actions:
        fields.append(f"ratio_{action}={m[(action, 1)] / m[(action, 0)]:.2f}")
    fields.append(f"fast_vs_cli_commit={fast / cli_ms:.2f}")
    for action in actions:
        fields.append(f"{action}_ms={m[(action, 1)] * 1e3:.1f}/{m[(action, 0)] * 1e3:.1f}")
        for s, side in ((1, "ours"), (0, "peer")):
            (n,) = counts[(action, s)]  # the same number every time
            fields.append(f"{action}_requests_{side}={n}")
    fields.append(f"commit_request_ms={fast * 1e3:.1f}/{cli_ms * 1e3:.1f}")
    fields.append(f"cli_action_ms={m[('commit', 2)] * 1e3:.1f}")
    fields.append(f"commits={COMMITS} runs={runs} warmup={WARMUP}")
    return "P3: " + " ".join(fields)


if __name__ == "__main__":
    print(run())
