"""R1: a comment acknowledged to its author survives a SIGKILL of the server.

The scenario of ``tests/lab/test_comments_durability.py``, as a figure: a real
``jupyter server``, 50 concurrent replies, SIGKILL once some are acknowledged (the rest are in
flight), a restart on the same folder, and a count of the acknowledged comments that are there.
"""

from __future__ import annotations

import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import requests
from nbformat.v4 import new_code_cell, new_notebook

from ..lab.test_comments_durability import KILL_AFTER, WRITERS, Server


def start(home: Path, root: Path, log_name: str, tries: int = 3) -> Server:
    """Start a server; a loaded machine can take longer than the test's 20 s, so try again."""
    for attempt in range(tries):
        server = Server(home, root)
        try:
            return server.start(f"{attempt}-{log_name}")
        except AssertionError:
            server.stop()
            if attempt == tries - 1:
                raise
    raise AssertionError("unreachable")


def run(writers: int = WRITERS, kill_after: int = KILL_AFTER) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        root = home / "root"
        root.mkdir()
        nb = new_notebook(cells=[new_code_cell("x = 1", id="cell-a")])
        nbformat.write(nb, str(root / "nb.ipynb"))
        first = start(home, root, "server-1.log")
        second = None
        try:
            r = first.post(
                "mutirao/api/comments/threads",
                {"path": "nb.ipynb", "cell_id": "cell-a", "body": "R1"},
            )
            assert r.status_code == 201, r.text
            thread_id = r.json()["id"]
            acknowledged: dict[str, str] = {}
            lock = threading.Lock()

            def post(i: int) -> None:
                body = f"comment {i}"
                try:
                    r = first.post(
                        f"mutirao/api/comments/threads/{thread_id}/comments", {"body": body}
                    )
                except requests.RequestException:
                    return  # cut off in flight: never acknowledged
                if r.status_code != 201:
                    return
                (comment,) = [c for c in r.json()["comments"] if c["body"] == body]
                with lock:
                    acknowledged[comment["id"]] = body
                    if len(acknowledged) == kill_after:
                        first.kill()

            with ThreadPoolExecutor(writers) as pool:
                list(pool.map(post, range(writers)))
            first.kill()  # in case fewer than kill_after were acknowledged
            second = start(home, root, "server-2.log")
            r = second.get(f"mutirao/api/comments/threads/{thread_id}")
            assert r.status_code == 200, r.text
            stored = {c["id"]: c["body"] for c in r.json()["comments"]}
            lost = sum(1 for cid, body in acknowledged.items() if stored.get(cid) != body)
        finally:
            first.stop()
            if second is not None:
                second.stop()
    return f"R1: acknowledged={len(acknowledged)} lost={lost} writers={writers}"


if __name__ == "__main__":
    print(run())
