"""Resolving a conflicted notebook (``POST /git/resolve``) with the merged notebook chosen in
nbdime's merge widget: written to disk and into the open collaborative document, staged, and
then committed as the merge commit. Real git with nbdime's merge driver; nothing is mocked."""

from __future__ import annotations

import asyncio
import json

import nbformat
import pytest
from nbdime.diff_utils import to_diffentry_dicts
from nbdime.merging.decisions import MergeDecision, apply_decisions
from tornado.httpclient import HTTPClientError

from . import test_git_api as base
from .test_git_api import git, mutirao_app, notebook, write_nb

api, repo, jp_server_config, _owner = base.api, base.repo, base.jp_server_config, base._owner

PATH = {"repo": "proj", "path": "analysis.ipynb"}


@pytest.fixture
def diverged(repo):
    """``other`` and ``main`` both changed cell 1 of ``analysis.ipynb``."""
    git(repo, "checkout", "-q", "-b", "other")
    write_nb(repo / "analysis.ipynb", "x = 3  # other")
    git(repo, "commit", "-q", "-am", "other edits the cell")
    git(repo, "checkout", "-q", "main")
    write_nb(repo / "analysis.ipynb", "x = 4  # main")
    git(repo, "commit", "-q", "-am", "main edits the cell")
    return repo


async def merge(api, repo):
    """Merge ``other`` into ``main`` through the API: it stops on ``analysis.ipynb``."""
    code, body = await api("POST", "merge", body={"repo": "proj", "branch": "other"})
    assert code == 409, body
    assert unmerged(repo) == ["analysis.ipynb"]
    return repo


def unmerged(repo) -> list[str]:
    return git(repo, "diff", "--name-only", "--diff-filter=U").split()


async def merged_as_widget_would(api, take: str) -> dict:
    """The notebook nbdime's merge widget serializes after the user takes one side of every
    conflict: nbdime's own ``apply_decisions`` on the decisions the conflict view got."""
    code, sides = await api("GET", "conflict", params=PATH)
    assert code == 200, sides
    decisions = []
    for d in sides["decisions"]:
        if d["conflict"]:
            d["action"], d["conflict"] = take, False
        for key in ("local_diff", "remote_diff", "custom_diff"):
            if d.get(key) is not None:
                d[key] = to_diffentry_dicts(d[key])
        decisions.append(MergeDecision(d))
    return json.loads(json.dumps(apply_decisions(sides["base"], decisions)))


async def test_resolve_writes_stages_updates_the_live_document_and_the_merge_commits(
    api, diverged, jp_serverapp
):
    repo = await merge(api, diverged)
    ydoc = jp_serverapp.web_app.settings["jupyter_server_ydoc"]
    jp_serverapp.web_app.settings["file_id_manager"].index("proj/analysis.ipynb")
    live = await ydoc.get_document(
        path="proj/analysis.ipynb",
        content_type="notebook",
        file_format="json",
        copy=False,
        create=True,
    )
    merged = await merged_as_widget_would(api, "remote")
    assert merged["cells"][1]["source"] == "x = 3  # other"

    code, body = await api("POST", "resolve", user="edu", body={**PATH, "notebook": merged})
    assert code == 200, body
    assert body == {"path": "analysis.ipynb", "staged": True, "conflicts": [], "live": True}
    on_disk = nbformat.read(str(repo / "analysis.ipynb"), 4)
    assert [c.source for c in on_disk.cells] == ["# Analysis", "x = 3  # other"]
    assert "<<<<<<<" not in (repo / "analysis.ipynb").read_text()
    assert [c["source"] for c in live.get()["cells"]] == ["# Analysis", "x = 3  # other"]
    # JupyterLab's checkpoints (untracked) aside, the notebook is staged and nothing conflicts
    assert git(repo, "status", "--porcelain", "-uno") == "M  analysis.ipynb\n"
    code, status = await api("GET", "status", params={"repo": "proj"})
    tracked = [f for f in status["files"] if f["index"] != "?"]
    assert tracked == [{"path": "analysis.ipynb", "index": "M", "worktree": " "}]
    assert status["merge_head"] == git(repo, "rev-parse", "other").strip()  # still merging
    await asyncio.sleep(1.5)  # past the room's save delay: nothing stale is written back
    assert nbformat.read(str(repo / "analysis.ipynb"), 4).cells[1].source == "x = 3  # other"

    # a second resolution of the same file: it has no conflict any more
    code, body = await api("POST", "resolve", body={**PATH, "notebook": merged})
    assert code == 409
    assert "no conflict" in body["message"]

    # committing what is staged concludes the merge: a commit with both branches as parents
    code, body = await api(
        "POST", "commit", user="edu", body={"repo": "proj", "paths": [], "message": "Merge other"}
    )
    assert code == 201, body
    parents = git(repo, "rev-list", "--parents", "-1", "HEAD").split()[1:]
    assert parents == [
        git(repo, "rev-parse", "HEAD^1").strip(),
        git(repo, "rev-parse", "other").strip(),
    ]
    assert git(repo, "log", "-1", "--format=%an").strip() == "Edu Silva"
    assert git(repo, "status", "--porcelain", "-uno") == ""
    assert not (repo / ".git" / "MERGE_HEAD").exists()
    code, status = await api("GET", "status", params={"repo": "proj"})
    assert status["merge_head"] is None


async def test_taking_the_local_side(api, diverged):
    conflicted = await merge(api, diverged)
    merged = await merged_as_widget_would(api, "local")
    code, body = await api("POST", "resolve", body={**PATH, "notebook": merged})
    assert code == 200, body
    assert body["live"] is False  # nobody has the notebook open
    assert nbformat.read(str(conflicted / "analysis.ipynb"), 4).cells[1].source == "x = 4  # main"
    assert unmerged(conflicted) == []


def valid() -> dict:
    return json.loads(nbformat.writes(notebook("x = 9")))


def with_cell(**cell) -> dict:
    nb = valid()
    nb["cells"][1].update(cell)
    return nb


BAD = [
    ({**PATH, "path": "../analysis.ipynb", "notebook": valid()}, 400, "`..`"),
    ({**PATH, "path": "/etc/analysis.ipynb", "notebook": valid()}, 400, "absolute"),
    ({**PATH, "path": "-x.ipynb", "notebook": valid()}, 400, "'-'"),
    ({**PATH, "path": ".git/config.ipynb", "notebook": valid()}, 400, ".git"),
    ({**PATH, "path": 7, "notebook": valid()}, 400, "`path`"),
    ({"repo": "../elsewhere", "path": "analysis.ipynb", "notebook": valid()}, 400, "`..`"),
    ({**PATH, "path": "notes.md", "notebook": valid()}, 400, "only notebooks"),
    ({**PATH, "path": "other.ipynb", "notebook": valid()}, 409, "no conflict"),
    ({**PATH}, 400, "`notebook`"),
    ({**PATH, "notebook": "{}"}, 400, "`notebook`"),
    ({**PATH, "notebook": [1, 2]}, 400, "`notebook`"),
    ({**PATH, "notebook": {**valid(), "nbformat": 3}}, 400, "nbformat 4"),
    ({**PATH, "notebook": {**valid(), "cells": "none"}}, 400, "not a valid notebook"),
    ({**PATH, "notebook": {"nbformat": 4, "nbformat_minor": 5}}, 400, "not a valid notebook"),
    ({**PATH, "notebook": with_cell(cell_type="script")}, 400, "not a valid notebook"),
    ({**PATH, "notebook": with_cell(source=42)}, 400, "not a valid notebook"),
]


@pytest.mark.parametrize(("body", "status", "says"), BAD)
async def test_bad_input_is_refused_and_changes_nothing(api, diverged, body, status, says):
    conflicted = await merge(api, diverged)
    (conflicted / "other.ipynb").write_text(nbformat.writes(notebook("y = 1")))
    before = (conflicted / "analysis.ipynb").read_bytes()
    code, answer = await api("POST", "resolve", body=body)
    assert code == status, answer
    assert says in answer["message"]
    assert (conflicted / "analysis.ipynb").read_bytes() == before
    assert unmerged(conflicted) == ["analysis.ipynb"]


async def raw(jp_fetch, data: bytes):
    try:
        r = await jp_fetch(
            "mutirao", "api", "git", "resolve",
            method="POST", headers={"Authorization": "token tok-olga"}, body=data,
        )  # fmt: skip
    except HTTPClientError as e:
        if e.response is None:
            raise
        r = e.response
    return r.code, json.loads(r.body)


@pytest.mark.parametrize("data", [b"{not json", b"[1, 2]", b'"text"', b"\xff\xfe"])
async def test_malformed_body_is_400(api, jp_fetch, diverged, data):
    conflicted = await merge(api, diverged)
    code, answer = await raw(jp_fetch, data)
    assert code == 400, answer
    assert unmerged(conflicted) == ["analysis.ipynb"]


async def test_a_notebook_over_the_size_limit_is_413(api, jp_fetch, diverged, jp_serverapp):
    conflicted = await merge(api, diverged)
    mutirao_app(jp_serverapp).max_diff_bytes = 2_000
    nb = valid()
    nb["cells"][1]["source"] = "x = 1\n" * 1_000
    code, answer = await raw(jp_fetch, json.dumps({**PATH, "notebook": nb}).encode())
    assert code == 413, answer
    assert "max_diff_bytes" in answer["message"]
    assert unmerged(conflicted) == ["analysis.ipynb"]
    # a resolution larger than the other requests' 1 MiB limit passes under the default
    mutirao_app(jp_serverapp).max_diff_bytes = 50_000_000
    nb["cells"][1]["source"] = "x = 1\n" * 300_000
    code, answer = await raw(jp_fetch, json.dumps({**PATH, "notebook": nb}).encode())
    assert code == 200, answer
    assert unmerged(conflicted) == []


async def test_without_a_merge_nothing_is_conflicted(api, repo):
    code, answer = await api("POST", "resolve", body={**PATH, "notebook": valid()})
    assert code == 409, answer
    assert git(repo, "status", "--porcelain") == ""


async def test_a_conflicted_link_is_refused(api, repo, tmp_path):
    """A conflicted path that is a symbolic link (both branches point it elsewhere) is never
    written through: the write would land outside the repository."""
    outside = tmp_path / "outside.ipynb"
    outside.write_text(nbformat.writes(notebook("secret")))
    git(repo, "checkout", "-q", "-b", "other")
    (repo / "link.ipynb").symlink_to(tmp_path / "elsewhere.ipynb")
    git(repo, "add", "link.ipynb")
    git(repo, "commit", "-q", "-m", "other link")
    git(repo, "checkout", "-q", "main")
    (repo / "link.ipynb").symlink_to(outside)
    git(repo, "add", "link.ipynb")
    git(repo, "commit", "-q", "-m", "main link")
    code, body = await api("POST", "merge", body={"repo": "proj", "branch": "other"})
    assert code == 409, body
    assert "link.ipynb" in unmerged(repo)
    before = outside.read_bytes()
    code, answer = await api(
        "POST", "resolve", body={"repo": "proj", "path": "link.ipynb", "notebook": valid()}
    )
    assert code == 400, answer
    assert "is a link" in answer["message"]
    assert outside.read_bytes() == before


ACTORS = ["anonymous", "sam", "vera", "cami", "olga"]


async def test_role_matrix(api, diverged):
    """Only editors and owners resolve; everyone else is refused and nothing changes (edu,
    the editor, resolves in the first test)."""
    conflicted = await merge(api, diverged)
    merged = await merged_as_widget_would(api, "remote")
    got = []
    for actor in ACTORS:
        user = None if actor == "anonymous" else actor
        code, _ = await api("POST", "resolve", user=user, body={**PATH, "notebook": merged})
        got.append(code)
        if code != 200:
            assert unmerged(conflicted) == ["analysis.ipynb"]
    assert got == [403, 403, 403, 403, 200]
    assert unmerged(conflicted) == []
