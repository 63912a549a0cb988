"""Repositories from birth, the deny list of secret and runtime files, who edited a snapshot,
and files followed across renames, in a pytest-jupyter server with real git (no hub).

Users, roles and the API helper are those of ``test_git_api``. The collaboration websocket is
driven by the bare Y client of ``test_room_authorizer`` (pycrdt's sync protocol over a real
websocket), as JupyterLab's would be.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from urllib.parse import quote

import pytest
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from mutirao_lab.versioning import protected
from mutirao_lab.versioning.birth import ensure_repository
from mutirao_lab.versioning.gitcore import GitCore
from mutirao_lab.versioning.service import RENAMES_FILE, load_renames
from mutirao_lab.versioning.writers import carries_change

from . import test_git_api as base
from .test_git_api import OWNER, git, mutirao_app, write_nb
from .test_room_authorizer import YClient, until

api, repo, jp_server_config, _owner = base.api, base.repo, base.jp_server_config, base._owner

#: One file of every secret and runtime kind a server's folder holds.
PLANTED = [
    ".mutirao/comments.sqlite",
    ".ipynb_checkpoints/analysis-checkpoint.ipynb",
    ".local/share/jupyter/runtime/kernel-1234.json",
    ".local/share/jupyter/runtime/jupyter_cookie_secret",
    ".local/share/jupyter/mutirao/git-credentials/askpass.sh",
    ".jupyter_ystore.db",
    "jupyter_cookie_secret",
    "notebook_secret",
    "kernel-5678.json",
    "sub/kernel-9.json",
    "askpass.sh",
    ".git-credentials",
    "server.pem",
    "sub/tls.key",
    ".env",
    ".env.local",
    ".cache/pip/x",
    ".ipython/profile_default/history.sqlite",
    ".ssh/id_ed25519",
    ".netrc",
]


def plant(root: Path) -> None:
    for rel in PLANTED:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("secret\n")


def committed(folder: Path) -> set[str]:
    return set(git(folder, "ls-tree", "-r", "--name-only", "HEAD").split())


async def test_init_writes_the_gitignore_and_a_first_commit_by_the_clicking_person(
    api, jp_root_dir
):
    (jp_root_dir / "fresh").mkdir()
    write_nb(jp_root_dir / "fresh" / "analysis.ipynb", "x = 1")
    code, body = await api("POST", "init", user="edu", body={"repo": "fresh"})
    assert code == 201, body
    assert body["branch"] == "main"
    folder = jp_root_dir / "fresh"
    assert git(folder, "log", "--format=%an|%ae|%cn").splitlines() == [
        f"Edu Silva|edu@users.noreply.mutirao|{OWNER}"
    ]
    assert git(folder, "symbolic-ref", "--short", "HEAD").strip() == "main"
    assert committed(folder) == {".gitignore"}
    ignore = (folder / ".gitignore").read_text()
    for pattern in (".mutirao/", ".ipynb_checkpoints/", ".local/", "kernel-*.json", "*.pem"):
        assert pattern in ignore.splitlines()
    # the notebook is offered for the next commit
    code, status = await api("GET", "status", params={"repo": "fresh"})
    assert [f["path"] for f in status["files"]] == ["analysis.ipynb"]
    code, body = await api("POST", "init", user="edu", body={"repo": "fresh"})
    assert code == 409, body
    code, body = await api("POST", "init", user="vera", body={"repo": "other"})
    assert code == 403, body


async def test_init_keeps_an_existing_gitignore_and_adds_what_it_lacks(api, jp_root_dir):
    folder = jp_root_dir / "mine"
    folder.mkdir()
    (folder / ".gitignore").write_text("data/\n*.pem")
    code, body = await api("POST", "init", body={"repo": "mine"})
    assert code == 201, body
    lines = (folder / ".gitignore").read_text().splitlines()
    assert lines[:2] == ["data/", "*.pem"]
    assert lines.count("*.pem") == 1
    assert ".mutirao/" in lines


async def test_init_on_the_configured_branch(api, jp_root_dir, jp_serverapp):
    mutirao_app(jp_serverapp).default_branch = "trunk"
    code, body = await api("POST", "init", body={"repo": "t"})
    assert code == 201, body
    assert git(jp_root_dir / "t", "symbolic-ref", "--short", "HEAD").strip() == "trunk"


def test_a_room_is_born_a_repository_authored_by_its_creator(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_USER", "room-lab")
    core = GitCore(str(tmp_path))
    try:
        env = {"MUTIRAO_ROOM_CREATOR": "Ana Souza <ana@example.org>"}
        made = ensure_repository(core, "main", env)
        assert made is not None
        assert made["author"] == {
            "name": "Ana Souza",
            "email": "ana@example.org",
        }
        assert git(tmp_path, "log", "--format=%an <%ae>|%cn|%s").splitlines() == [
            "Ana Souza <ana@example.org>|room-lab|"
            "Start versioning: ignore secrets and runtime files"
        ]
        # the next start finds the repository and leaves it alone
        assert ensure_repository(core, "main", env) is None
    finally:
        core.close()


def test_a_room_started_without_its_creator_is_authored_by_the_room(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_USER", "room-lab")
    core = GitCore(str(tmp_path))
    try:
        assert ensure_repository(core, "main", {"MUTIRAO_ROOM_CREATOR": "no brackets"})
        assert git(tmp_path, "log", "--format=%an").strip() == "room-lab"
    finally:
        core.close()


# -- the deny list --------------------------------------------------------------------------


def test_every_planted_kind_is_denied_and_ordinary_files_are_not():
    for rel in PLANTED:
        assert protected.denied(rel), rel
    for rel in ("analysis.ipynb", "keys.md", "env.py", "src/kernel.py", "notes/.envrc.md"):
        assert not protected.denied(rel), rel


@pytest.mark.parametrize("keep_gitignore", [True, False])
async def test_secret_and_runtime_files_are_never_offered_nor_committed(
    api, jp_root_dir, keep_gitignore
):
    code, body = await api("POST", "init", body={"repo": "room"})
    assert code == 201, body
    folder = jp_root_dir / "room"
    if not keep_gitignore:
        git(folder, "rm", "-q", ".gitignore")
        git(folder, "commit", "-q", "-m", "no .gitignore")
    plant(folder)
    write_nb(folder / "analysis.ipynb", "x = 1")
    code, status = await api("GET", "status", params={"repo": "room"})
    assert code == 200, status
    assert [f["path"] for f in status["files"]] == ["analysis.ipynb"]

    for rel in PLANTED:
        body = {"repo": "room", "paths": [rel], "message": "leak"}
        code, answer = await api("POST", "commit", body=body)
        assert code == 400, (rel, answer)
        assert "secret or runtime file" in answer["message"]
        code, answer = await api("POST", "stage", body={"repo": "room", "paths": [rel]})
        assert code == 400, (rel, answer)
    # a folder committed whole leaves them out
    code, answer = await api("POST", "commit", body={"repo": "room", "paths": ["sub"],
                                                      "message": "sub"})  # fmt: skip
    assert code == 400, answer
    assert answer["message"].startswith("nothing to commit in sub")
    code, answer = await api(
        "POST", "commit", body={"repo": "room", "paths": ["."], "message": "everything"}
    )
    assert code == 201, answer
    assert committed(folder) - {".gitignore"} == {"analysis.ipynb"}
    # staged behind the server's back (a terminal's git add -f): refused at commit
    git(folder, "add", "-f", "--", "notebook_secret")
    code, answer = await api("POST", "commit", body={"repo": "room", "paths": [], "message": "x"})
    assert code == 400, answer
    assert "notebook_secret" in answer["message"]


# -- who edited ---------------------------------------------------------------------------------


def test_an_empty_sync_answer_is_no_edit():
    assert not carries_change(b"\x00\x01\x02\x00\x00")
    assert carries_change(b"\x00\x02\x05\x01\x01\x02\x03\x04")


@pytest.fixture
def collaborate(jp_fetch, jp_http_port, jp_base_url):
    """``await collaborate(user, path)``: a Y client of ``path``'s collaborative document,
    connected as ``user`` with their token."""
    clients: list[YClient] = []

    async def make(name: str, path: str) -> YClient:
        headers = {"Authorization": f"token tok-{name}"}
        r = await jp_fetch(
            "api", "collaboration", "session", quote(path), method="PUT",
            body=json.dumps({"format": "json", "type": "notebook"}), headers=headers,
        )  # fmt: skip
        session = json.loads(r.body)
        room_id = f"json:notebook:{session['fileId']}"
        url = (
            f"ws://localhost:{jp_http_port}{jp_base_url}api/collaboration/room/{room_id}"
            f"?sessionId={session['sessionId']}"
        )
        ws = await websocket_connect(HTTPRequest(url, headers=headers))
        client = YClient(name, ws)
        clients.append(client)
        await client.start()
        return client

    yield make
    for client in clients:
        client.close()


async def test_a_snapshot_names_the_writers_of_the_session_not_its_watchers(
    api, repo, jp_serverapp, collaborate
):
    app = mutirao_app(jp_serverapp)
    app.snapshot_interval = 0
    write_nb(repo / "analysis.ipynb", "x = 1")
    git(repo, "commit", "-q", "-am", "start")
    writer = await collaborate("edu", "proj/analysis.ipynb")
    watcher = await collaborate("olga", "proj/analysis.ipynb")
    await until(lambda: writer.source() == "# Analysis")
    writer.edit("\nedited by edu")
    await until(lambda: "edited by edu" in watcher.source())

    async def snapshots():
        code, body = await api("GET", "snapshots", params={"repo": "proj"})
        assert code == 200, body
        return body["snapshots"]

    # the collaborative document saves itself, and the save is snapshotted
    deadline = asyncio.get_running_loop().time() + 30
    while not await snapshots():
        assert asyncio.get_running_loop().time() < deadline, "no snapshot"
        await asyncio.sleep(0.1)
    await app.versioning.snapshots.flush()
    timeline = await snapshots()
    assert timeline[0]["edited_by"] == [{"name": "Edu Silva", "email": "edu@users.noreply.mutirao"}]


# -- renames ------------------------------------------------------------------------------------


async def rename(jp_fetch, old: str, new: str) -> None:
    await jp_fetch(
        "api", "contents", *old.split("/"), method="PATCH",
        headers={"Authorization": "token tok-edu"}, body=json.dumps({"path": new}),
    )  # fmt: skip


async def test_history_follows_a_rename_and_the_commit_records_it(api, repo, jp_fetch):
    await rename(jp_fetch, "proj/analysis.ipynb", "proj/sales.ipynb")
    await rename(jp_fetch, "proj/sales.ipynb", "proj/sales-2026.ipynb")

    # before any commit: one renamed entry, and the old name's history
    code, status = await api("GET", "status", params={"repo": "proj"})
    assert status["files"] == [
        {"path": "sales-2026.ipynb", "index": " ", "worktree": "R", "from": "analysis.ipynb"}
    ]
    params = {"repo": "proj", "path": "sales-2026.ipynb"}
    code, log = await api("GET", "log", params=params)
    assert code == 200, log
    assert [c["message"] for c in log["commits"]] == ["second", "first"]

    # the commit dialog sends the new name; the commit takes the old name's deletion along
    body = {"repo": "proj", "paths": ["sales-2026.ipynb"], "message": "rename"}
    code, answer = await api("POST", "commit", user="edu", body=body)
    assert code == 201, answer
    assert "analysis.ipynb" not in committed(repo)
    assert git(repo, "status", "--porcelain") == ""
    code, log = await api("GET", "log", params=params)
    assert [c["message"] for c in log["commits"]] == ["rename", "second", "first"]


async def test_renames_are_kept_across_a_restart(api, repo, jp_fetch, jp_serverapp, jp_root_dir):
    await rename(jp_fetch, "proj/notes.md", "proj/readme.md")
    saved = jp_root_dir / RENAMES_FILE
    await until(lambda: saved.exists())
    # what a restarted server reads back
    assert load_renames(str(saved)) == {"proj/readme.md": "proj/notes.md"}
    saved.write_text("[not a mapping]")
    assert load_renames(str(saved)) == {}


async def test_a_commit_of_a_file_gone_since_the_dialog_opened_says_so(api, repo):
    (repo / "draft.md").write_text("x\n")
    (repo / "draft.md").unlink()
    body = {"repo": "proj", "paths": ["draft.md"], "message": "x"}
    code, answer = await api("POST", "commit", body=body)
    assert code == 400, answer
    assert answer["message"].startswith("draft.md is no longer there")
    assert "pathspec" not in answer["message"]
