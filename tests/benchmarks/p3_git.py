"""P3: Mutirão's versioning API vs jupyterlab-git's, on the same 10,000-commit repository.

jupyterlab-git is installed into its own venv (``.state/bench-venv``, made here; never the
project's ``.venv``) and runs in its own jupyter server; Mutirão's server runs from ``.venv``.
Both servers serve the same folder, so they work on one and the same repository (same packs,
same index, same history as it grows). After a warm-up of both, each round runs every action
on both servers, in alternating order (jupyterlab-git first in even rounds, Mutirão first in
odd ones), and each figure is the ratio of the medians (Mutirão / jupyterlab-git: below 1 is
faster):

- ``ratio_log``: what the history panel asks for when it is shown again after a commit: a page
  of 25 commits of the repository plus a page of 25 of one notebook's history
  (jupyterlab-git: ``POST /git/<repo>/log``, with ``follow_path`` for the file);
- ``ratio_log_cold``: the same with a page size never asked before, so no cached page answers
  it (Mutirão still has the commits it parsed before; reported beside the goal, not part of it);
- ``ratio_diff``: the notebook diff of two versions as the UI gets it (jupyterlab-git: the two
  versions through ``/content`` then ``/diffnotebook``; Mutirão: one ``GET diff``), a
  different pair each time so no cache answers;
- ``ratio_commit``: committing a changed notebook (jupyterlab-git: ``/add`` then
  ``/commit``; Mutirão: one ``POST commit``).
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from ..harness import REPO

COMMITS = 10_000
NOTEBOOK_EVERY = 20  # the notebook changes in one commit out of 20: 500 versions
CELLS = 200
RUNS = 21
WARMUP = 3
VENV = REPO / ".state" / "bench-venv"
TOKEN = "p3-bench-token"


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
    def __init__(self, bin_dir: Path, root: Path, extensions: dict[str, bool], log: Path):
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
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {TOKEN}"
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

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
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
        self.session.close()
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
        theirs = Server(bench_bin, root, {"jupyterlab_git": True}, base / "theirs.log")
        try:
            ours = Server(
                ours_bin,
                root,
                {"mutirao_lab": True, "jupyter_server_fileid": True},
                base / "ours.log",
            )
        except BaseException:
            theirs.stop()
            raise
        try:
            return _measure(theirs, ours, root / "repo", runs)
        finally:
            theirs.stop()
            ours.stop()


def _measure(theirs: Server, ours: Server, repo: Path, runs: int) -> str:
    shas = subprocess.run(
        ["git", "log", "--format=%H", "--", "analysis.ipynb"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()

    def their_log(count: int = 25) -> None:
        theirs.call("POST", "git/repo/log", json={"history_count": count})
        theirs.call(
            "POST", "git/repo/log", json={"history_count": count, "follow_path": "analysis.ipynb"}
        )

    def our_log(count: int = 25) -> None:
        ours.call("GET", "mutirao/api/git/log", params={"repo": "repo", "limit": count})
        ours.call(
            "GET",
            "mutirao/api/git/log",
            params={"repo": "repo", "limit": count, "path": "analysis.ipynb"},
        )

    def their_diff(i: int) -> None:
        a, b = shas[i + 1], shas[i]
        prev = theirs.call(
            "POST", "git/repo/content", json={"filename": "analysis.ipynb", "reference": {"git": a}}
        ).json()["content"]
        curr = theirs.call(
            "POST", "git/repo/content", json={"filename": "analysis.ipynb", "reference": {"git": b}}
        ).json()["content"]
        theirs.call(
            "POST", "git/diffnotebook", json={"previousContent": prev, "currentContent": curr}
        )

    def our_diff(i: int) -> None:
        a, b = shas[i + 1], shas[i]
        ours.call(
            "GET",
            "mutirao/api/git/diff",
            params={"repo": "repo", "path": "analysis.ipynb", "from": a, "to": b},
        )

    def edit(i: int) -> None:
        (repo / "analysis.ipynb").write_text(notebook(10_000 + i))

    def their_commit(i: int) -> None:
        theirs.call("POST", "git/repo/add", json={"add_all": False, "filename": "analysis.ipynb"})
        theirs.call(
            "POST",
            "git/repo/commit",
            json={"commit_msg": f"edit {i}", "amend": False, "author": None},
        )

    def our_commit(i: int) -> None:
        ours.call(
            "POST",
            "mutirao/api/git/commit",
            json={"repo": "repo", "paths": ["analysis.ipynb"], "message": f"edit {i}"},
        )

    sides = {
        "log": (their_log, our_log),
        "cold": (their_log, our_log),
        "diff": (their_diff, our_diff),
        "commit": (their_commit, our_commit),
    }
    t: dict[str, list[float]] = {f"{k}_{s}": [] for k in sides for s in "to"}
    edits = iter(range(1_000_000))

    def round_(i: int, record: bool) -> None:
        """One round; ``i`` is unique over warm-up and measured rounds."""
        order = (0, 1) if i % 2 == 0 else (1, 0)
        for action, fns in sides.items():
            for s in order:
                fn = fns[s]
                if action == "cold":  # a page size never asked for before: no cached page
                    dt = timed(lambda fn=fn: fn(26 + i))
                elif action == "diff":  # both sides diff the same pair, new in every round
                    dt = timed(lambda fn=fn: fn(i))
                elif action == "commit":
                    n = next(edits)
                    edit(n)
                    dt = timed(lambda fn=fn, n=n: fn(n))
                else:
                    dt = timed(fn)
                if record:
                    t[f"{action}_{'to'[s]}"].append(dt)

    for i in range(WARMUP):  # imports, the OS's caches, each side's readers and pools
        round_(i, record=False)
    for i in range(WARMUP, WARMUP + runs):
        round_(i, record=True)
    m = {k: statistics.median(v) for k, v in t.items()}
    return (
        f"P3: ratio_log={m['log_o'] / m['log_t']:.2f} "
        f"ratio_diff={m['diff_o'] / m['diff_t']:.2f} "
        f"ratio_commit={m['commit_o'] / m['commit_t']:.2f} "
        f"ratio_log_cold={m['cold_o'] / m['cold_t']:.2f} "
        f"commits={COMMITS} runs={runs} warmup={WARMUP} "
        f"log_ms={m['log_o'] * 1e3:.1f}/{m['log_t'] * 1e3:.1f} "
        f"log_cold_ms={m['cold_o'] * 1e3:.1f}/{m['cold_t'] * 1e3:.1f} "
        f"diff_ms={m['diff_o'] * 1e3:.1f}/{m['diff_t'] * 1e3:.1f} "
        f"commit_ms={m['commit_o'] * 1e3:.1f}/{m['commit_t'] * 1e3:.1f}"
    )


if __name__ == "__main__":
    print(run())
