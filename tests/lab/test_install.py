"""What an admin checks after installing mutirao-lab in the user environment."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

JUPYTER = str(Path(sys.executable).parent / "jupyter")


def _run(*args: str) -> str:
    out = subprocess.run([JUPYTER, *args], capture_output=True, text=True, timeout=120, check=True)
    # both commands print their lists on stderr and colour them
    return re.sub(r"\x1b\[[0-9;]*m", "", out.stdout + out.stderr)


def test_lab_extensions_are_enabled():
    listing = _run("labextension", "list")
    for name in ("mutirao-lab", "@jupyter/collaboration-extension", "nbdime-jupyterlab"):
        assert re.search(rf"^\s+{re.escape(name)} v\S+ enabled OK", listing, re.M), listing


def test_server_extensions_are_enabled():
    listing = _run("server", "extension", "list")
    for name in ("mutirao_lab", "jupyter_server_ydoc", "jupyter_server_fileid", "nbdime"):
        assert re.search(rf"^\s+{name} enabled", listing, re.M), listing
    assert re.search(r"mutirao_lab \S+ OK", listing), listing
