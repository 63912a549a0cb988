"""R4 (the room boundary): every route a room's server registers × eight identities.

A room's server (``$JUPYTERHUB_USER=room-ml-research``) with every server extension this
environment enables, in this process, listening on a free port; the routes are read from its
tornado routers once every extension has loaded, and each method each route's handler
implements is sent as anonymous, non-member, viewer, commenter, editor, owner, admin (with an
owner's share) and admin without a share (see tests/lab/access_matrix.py). Expected: what
``mutirao_lab.rooms.roles.ROUTES`` says. ``endpoints`` counts route × method pairs.

The open-session figures of the same line (demote, revoke, re-add) come from
:mod:`.r4_sessions`, through a real hub; ``python -m tests.benchmarks.r4_boundary --matrix``
prints the matrix's figures alone.

Goal: ``unexpected_allows=0 unexpected_denies=0``.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
from typing import Any

from ..lab import access_matrix as am

BASE_URL = "/user/room%40ml/"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def matrix() -> dict[str, Any]:
    """The access matrix's figures, on a room's server started for the purpose."""
    from jupyter_server.serverapp import ServerApp
    from tornado.httpserver import HTTPServer

    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "JUPYTERHUB_USER": am.ROOM,
            "JUPYTERHUB_SERVER_NAME": "",
            # nothing the matrix writes lands in this machine's own Jupyter folders
            "JUPYTER_CONFIG_DIR": os.path.join(tmp, "config"),
            "JUPYTER_DATA_DIR": os.path.join(tmp, "data"),
            "JUPYTER_RUNTIME_DIR": os.path.join(tmp, "runtime"),
            "JUPYTERLAB_SETTINGS_DIR": os.path.join(tmp, "lab", "user-settings"),
            "JUPYTERLAB_WORKSPACES_DIR": os.path.join(tmp, "lab", "workspaces"),
        }
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        root = os.path.join(tmp, "room")
        os.makedirs(root)
        try:
            app = ServerApp()
            app.initialize(
                argv=[
                    f"--ServerApp.root_dir={root}",
                    f"--ServerApp.base_url={BASE_URL}",
                    "--ServerApp.open_browser=False",
                    "--ServerApp.identity_provider_class="
                    "tests.lab.access_matrix.HubScopesIdentityProvider",
                    "--ServerApp.log_level=CRITICAL",
                ],
                new_httpserver=False,
            )
            port = _free_port()
            server = HTTPServer(app.web_app)
            server.listen(port, "127.0.0.1")
            try:
                result = app.io_loop.run_sync(
                    lambda: am.run(f"http://127.0.0.1:{port}", app.web_app, BASE_URL)
                )
            finally:
                server.stop()
                app.io_loop.run_sync(app._cleanup)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    return {
        "endpoints": result.endpoints,
        "identities": len(am.IDENTITIES),
        "unexpected_allows": len(result.unexpected_allows) + len(result.missing),
        "unexpected_denies": len(result.unexpected_denies),
    }


def line(figures: dict[str, Any]) -> str:
    return "R4: " + " ".join(f"{k}={v}" for k, v in figures.items())


def run() -> str:
    from . import r4_sessions

    return line({**matrix(), **r4_sessions.measure()})


if __name__ == "__main__":
    if "--matrix" in sys.argv[1:]:
        print(line(matrix()))
    else:
        print(run())
