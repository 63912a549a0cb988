"""Clone, pull and push with credentials kept server-side per user, against a real git smart-HTTP
server (``git http-backend`` behind a small Python HTTP server with basic auth on 127.0.0.1).

``http://`` stands in for ``https://`` here (``MutiraoApp.allow_insecure_remotes``): the
credential flow (git asks, our ``GIT_ASKPASS`` helper answers from the user's store) is the same.
"""

from __future__ import annotations

import base64
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from . import test_git_api as base
from .test_git_api import git, server_config

api, _owner = base.api, base._owner
LOGIN, PASSWORD = "robot", "s3cret-token"


@pytest.fixture
def jp_server_config(tmp_path_factory):
    return server_config(tmp_path_factory, allow_insecure_remotes=True)


class GitHTTP(BaseHTTPRequestHandler):
    root = ""

    def log_message(self, *args):
        pass

    def _serve(self):
        auth = self.headers.get("Authorization", "")
        expected = "Basic " + base64.b64encode(f"{LOGIN}:{PASSWORD}".encode()).decode()
        if auth != expected:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path, _, query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        env = {
            "PATH": os.environ["PATH"],
            "GIT_PROJECT_ROOT": self.root,
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "REQUEST_METHOD": self.command,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": LOGIN,
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
            "GIT_HTTP_MAX_REQUEST_BUFFER": "100M",
        }
        out = subprocess.run(
            ["git", "http-backend"], input=body, env=env, capture_output=True, check=False
        ).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        status = 200
        headers = []
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _serve


@pytest.fixture
def remote(tmp_path):
    """A bare repository ``team.git`` with one commit, served with basic auth."""
    served = tmp_path / "served"
    served.mkdir()
    seed = tmp_path / "seed"
    seed.mkdir()
    git(seed, "init", "-q", "-b", "main")
    (seed / "README.md").write_text("hello\n")
    git(seed, "add", "-A")
    git(seed, "commit", "-q", "-m", "seed")
    git(tmp_path, "clone", "-q", "--bare", str(seed), str(served / "team.git"))
    git(served / "team.git", "config", "http.receivepack", "true")
    handler = type("Handler", (GitHTTP,), {"root": str(served)})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/team.git", served / "team.git", seed
    server.shutdown()
    server.server_close()


async def test_clone_pull_push_with_stored_credentials(api, remote, jp_root_dir):
    url, bare, seed = remote
    host = url.split("/")[2]
    code, body = await api("POST", "clone", body={"url": url, "repo": "team"})
    assert code == 401, body  # no credentials stored yet: a clear refusal, no prompt
    assert not (jp_root_dir / "team").exists()
    body = {"host": host, "username": LOGIN, "password": "wrong"}
    assert (await api("PUT", "credentials", user="edu", body=body))[0] == 200
    code, body = await api("POST", "clone", user="edu", body={"url": url, "repo": "team"})
    assert code == 401, body
    body = {"host": host, "username": LOGIN, "password": PASSWORD}
    assert (await api("PUT", "credentials", user="edu", body=body))[0] == 200
    code, hosts = await api("GET", "credentials", user="edu")
    assert hosts == {"hosts": [{"host": host, "username": LOGIN}]}  # never the password
    code, body = await api("POST", "clone", user="edu", body={"url": url, "repo": "team"})
    assert code == 201, body
    clone = jp_root_dir / "team"
    assert (clone / "README.md").read_text() == "hello\n"
    # the secret is nowhere in the repository
    for file in (clone / ".git").rglob("*"):
        assert not file.is_file() or PASSWORD.encode() not in file.read_bytes()
    assert git(clone, "remote", "get-url", "origin").strip() == url
    assert "jupyternotebook" in git(clone, "config", "--get-regexp", "merge")
    # edu commits and pushes
    (clone / "README.md").write_text("hello\nfrom edu\n")
    body = {"repo": "team", "paths": ["README.md"], "message": "edu writes"}
    assert (await api("POST", "commit", user="edu", body=body))[0] == 201
    code, body = await api("POST", "push", user="edu", body={"repo": "team"})
    assert code == 200, body
    assert git(bare, "log", "-1", "--format=%an|%s", "main").strip() == "Edu Silva|edu writes"
    # olga has no credentials for the host: her push is refused, edu's are not used
    code, body = await api("POST", "push", user="olga", body={"repo": "team"})
    assert code == 401, body
    # someone else pushes; edu pulls
    git(seed, "pull", "-q", str(bare), "main")
    (seed / "other.txt").write_text("x\n")
    git(seed, "add", "-A")
    git(seed, "commit", "-q", "-m", "other")
    git(seed, "push", "-q", str(bare), "main")
    code, body = await api("POST", "pull", user="edu", body={"repo": "team"})
    assert code == 200, body
    assert body["changed"] == ["other.txt"]
    assert (clone / "other.txt").exists()
    code, _ = await api("DELETE", "credentials", user="edu", params={"host": host})
    assert code == 204
    code, body = await api("POST", "pull", user="edu", body={"repo": "team"})
    assert code == 401
