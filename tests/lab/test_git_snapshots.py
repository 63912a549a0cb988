"""Snapshots (automatic versions on save, on a hidden ref) and restores that update the live
collaborative document."""

from __future__ import annotations

import asyncio
import json

import nbformat

from . import test_git_api as base
from .test_git_api import OWNER, git, mutirao_app, notebook, write_nb

api, repo, jp_server_config, _owner = base.api, base.repo, base.jp_server_config, base._owner


async def save(jp_fetch, user, path, nb):
    await jp_fetch(
        "api", "contents", *path.split("/"),
        method="PUT",
        headers={"Authorization": f"token tok-{user}"},
        body=json.dumps({"type": "notebook", "format": "json", "content": nb}),
    )  # fmt: skip


async def test_saves_make_snapshots_off_the_branch(api, repo, jp_fetch, jp_serverapp):
    snapshots = mutirao_app(jp_serverapp).versioning.snapshots
    head = git(repo, "rev-parse", "HEAD")
    index = (repo / ".git" / "index").read_bytes()
    await save(jp_fetch, "edu", "proj/analysis.ipynb", notebook("x = 10"))
    await snapshots.flush()
    await save(jp_fetch, "olga", "proj/analysis.ipynb", notebook("x = 11"))
    await snapshots.flush()
    code, body = await api("GET", "snapshots", params={"repo": "proj", "path": "analysis.ipynb"})
    assert code == 200, body
    assert body["branch"] == "main"
    timeline = body["snapshots"]
    assert len(timeline) == 2
    assert timeline[0]["edited_by"] == [{"name": "Olga Silva", "email": "olga@example.org"}]
    assert timeline[1]["edited_by"] == [{"name": "Edu Silva", "email": "edu@users.noreply.mutirao"}]
    assert timeline[0]["committer"]["name"] == OWNER
    # nothing on the branch, the index or the branch's log
    assert git(repo, "rev-parse", "HEAD") == head
    assert (repo / ".git" / "index").read_bytes() == index
    assert "Snapshot" not in git(repo, "log", "--format=%s", "main")
    assert git(repo, "rev-parse", "refs/mutirao/snapshots/main").strip() == timeline[0]["id"]
    git(repo, "fsck", "--strict", "--no-progress")
    # a diff between a snapshot and the working copy, and between two snapshots
    params = {"repo": "proj", "path": "analysis.ipynb", "from": timeline[1]["id"]}
    code, diff = await api("GET", "diff", params=params)
    assert code == 200, diff
    assert diff["diff"]
    code, diff = await api("GET", "diff", params={**params, "to": timeline[0]["id"]})
    assert code == 200, diff


async def test_snapshots_are_throttled(api, repo, jp_fetch, jp_serverapp):
    app = mutirao_app(jp_serverapp)
    app.snapshot_interval = 3600
    snapshots = app.versioning.snapshots
    await save(jp_fetch, "edu", "proj/analysis.ipynb", notebook("x = 1"))
    await snapshots.flush()  # the first save of a file is snapshotted at once
    _, body = await api("GET", "snapshots", params={"repo": "proj"})
    assert len(body["snapshots"]) == 1
    await save(jp_fetch, "edu", "proj/analysis.ipynb", notebook("x = 2"))
    await save(jp_fetch, "olga", "proj/analysis.ipynb", notebook("x = 3"))
    # the later saves wait for the interval: one snapshot scheduled, none taken
    pending = snapshots._pending["proj/analysis.ipynb"].task
    assert pending is not None
    assert not pending.done()
    _, body = await api("GET", "snapshots", params={"repo": "proj"})
    assert len(body["snapshots"]) == 1
    snapshots.close()


async def test_restore_and_promote_a_snapshot(api, repo, jp_fetch, jp_serverapp):
    snapshots = mutirao_app(jp_serverapp).versioning.snapshots
    await save(jp_fetch, "edu", "proj/analysis.ipynb", notebook("draft = 1"))
    await snapshots.flush()
    code, body = await api("GET", "snapshots", params={"repo": "proj"})
    snap = body["snapshots"][0]["id"]
    write_nb(repo / "analysis.ipynb", "something else")
    code, body = await api(
        "POST", "restore", user="edu", body={"repo": "proj", "path": "analysis.ipynb", "rev": snap}
    )
    assert code == 200, body
    assert nbformat.read(str(repo / "analysis.ipynb"), 4).cells[1].source == "draft = 1"
    body = {"repo": "proj", "id": snap, "path": "analysis.ipynb", "message": "keep the draft"}
    code, out = await api("POST", "snapshots", "promote", user="edu", body=body)
    assert code == 201, out
    assert (
        git(repo, "log", "-1", "--format=%an|%cn|%s").strip() == f"Edu Silva|{OWNER}|keep the draft"
    )
    committed = nbformat.reads(git(repo, "show", "HEAD:analysis.ipynb"), 4)
    assert committed.cells[1].source == "draft = 1"
    assert git(repo, "status", "--porcelain", "--untracked-files=no") == ""


async def test_restore_updates_the_open_collaborative_document(api, repo, jp_serverapp):
    """The room of an open notebook gets the restored content in its Y document (what every
    connected client syncs from), and does not save its stale content back."""
    ydoc = jp_serverapp.web_app.settings["jupyter_server_ydoc"]
    jp_serverapp.web_app.settings["file_id_manager"].index("proj/analysis.ipynb")
    live = await ydoc.get_document(
        path="proj/analysis.ipynb",
        content_type="notebook",
        file_format="json",
        copy=False,
        create=True,
    )
    assert live.get()["cells"][1]["source"] == "x = 2"
    updates = []
    live.ydoc.observe(lambda event: updates.append(event.update))
    first = git(repo, "rev-list", "--max-parents=0", "HEAD").strip()
    code, body = await api(
        "POST", "restore", user="edu", body={"repo": "proj", "path": "analysis.ipynb", "rev": first}
    )
    assert code == 200, body
    assert body["live"] is True
    assert [c["source"] for c in live.get()["cells"]] == ["# Analysis", "x = 1"]
    assert len(updates) == 1  # one transaction: clients never see half a restore
    await asyncio.sleep(1.5)  # past the room's save delay: nothing stale is written back
    assert nbformat.read(str(repo / "analysis.ipynb"), 4).cells[1].source == "x = 1"
    # checking out a branch updates the open document too
    git(repo, "branch", "other", "HEAD")
    git(repo, "checkout", "-q", "other")
    write_nb(repo / "analysis.ipynb", "on other")
    git(repo, "commit", "-q", "-am", "other")
    git(repo, "checkout", "-q", "main")
    git(repo, "checkout", "-q", "--", "analysis.ipynb")
    code, body = await api(
        "POST", "restore", body={"repo": "proj", "path": "analysis.ipynb", "rev": "HEAD"}
    )
    code, body = await api("POST", "checkout", body={"repo": "proj", "branch": "other"})
    assert code == 200, body
    assert body["live"] == ["proj/analysis.ipynb"]
    assert live.get()["cells"][1]["source"] == "on other"
