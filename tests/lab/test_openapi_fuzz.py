"""Schemathesis over ``lab_ext/mutirao_lab/openapi.yaml`` against a real ``jupyter server``
with mutirao_lab (a personal server, where the token's user is owner: every operation is
reached), on a folder that is a git repository with a notebook. See :mod:`tests.openapi_fuzz`.

Not fuzzed: clone, pull and push (they reach remotes over the network, which tests have
none of) and the comments websocket (not a REST call).
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from ..benchmarks.r5_hostile import Server
from ..openapi_fuzz import fuzz

SPEC = Path(__file__).resolve().parents[2] / "lab_ext" / "mutirao_lab" / "openapi.yaml"
SKIP = frozenset({"POST /git/clone", "POST /git/pull", "POST /git/push", "GET /comments/events"})


@pytest.fixture(scope="module")
def server():
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        root = home / "root"
        root.mkdir()
        nb = new_notebook(cells=[new_code_cell("x = 1", id="cell-a")])
        nbformat.write(nb, str(root / "nb.ipynb"))
        git = ["git", "-c", "user.name=Fuzz", "-c", "user.email=fuzz@example.org"]
        subprocess.run([*git, "init", "-q", "-b", "main"], cwd=root, check=True)
        subprocess.run([*git, "add", "-A"], cwd=root, check=True)
        subprocess.run([*git, "commit", "-q", "-m", "first"], cwd=root, check=True)
        s = Server(home, root)
        try:
            yield s
        finally:
            s.stop()


def test_the_api_answers_as_its_openapi_file_says(server):
    sent = fuzz(SPEC, server.url + "mutirao/api", server.headers, skip=SKIP)
    assert sent > 100
