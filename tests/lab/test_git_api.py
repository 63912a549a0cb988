"""The versioning REST API (``/mutirao/api/git/...``) in a pytest-jupyter server (no hub).

Users: a test identity provider maps the token ``tok-<name>`` to the user ``<name>``; the
shipped ``StaticRoleResolver`` gives each name its room role (``ROLES``). ``sam`` is
authenticated but not a member. The server's owner (the committer) is ``$JUPYTERHUB_USER``,
set to ``room-ml`` here. The helpers at the top are shared by the other ``test_git_*`` files.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import nbdime
import nbformat
import pytest
from jupyter_server.auth.identity import IdentityProvider, User
from nbdime.diff_utils import to_diffentry_dicts
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from tornado.httpclient import HTTPClientError

from mutirao_lab.comments.roles import StaticRoleResolver

ROLES = {"vera": "viewer", "cami": "commenter", "edu": "editor", "olga": "owner"}
OWNER = "ml-room"
EMAILS = {"olga": "olga@example.org"}


class TokenIdentityProvider(IdentityProvider):
    """``Authorization: token tok-<name>`` is the user ``<name>``; olga's hub identity carries
    an e-mail, as the hub's would when the authenticator knows it."""

    async def get_user(self, handler):
        scheme, _, token = handler.request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "token" and token.startswith("tok-"):
            name = token[4:]
            handler._token_authenticated = True
            user = User(username=name, display_name=f"{name.title()} Silva")
            if name in EMAILS:
                user.hub_user = {"name": name, "email": EMAILS[name]}  # type: ignore[attr-defined]
            return user
        return await super().get_user(handler)


def server_config(tmp_path_factory, **mutirao):
    return {
        "ServerApp": {
            "jpserver_extensions": {
                "mutirao_lab": True,
                "jupyter_server_fileid": True,
                "jupyter_server_ydoc": True,
            },
            "identity_provider_class": TokenIdentityProvider,
        },
        "MutiraoApp": {
            "role_resolver_class": StaticRoleResolver,
            "snapshot_interval": 0.0,
            "credentials_dir": str(tmp_path_factory.mktemp("credentials")),
            **mutirao,
        },
        "StaticRoleResolver": {"roles": ROLES},
    }


@pytest.fixture
def jp_server_config(tmp_path_factory):
    return server_config(tmp_path_factory)


@pytest.fixture(autouse=True)
def _owner(monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_USER", OWNER)


def git(cwd, *args, check=True):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_AUTHOR_NAME="Setup",
        GIT_AUTHOR_EMAIL="setup@example.org",
        GIT_COMMITTER_NAME="Setup",
        GIT_COMMITTER_EMAIL="setup@example.org",
    )
    r = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, env=env, check=False
    )
    if check and r.returncode:
        raise AssertionError(f"git {args}: {r.stderr}")
    return r.stdout


def notebook(*sources, ids=True):
    cells = [new_markdown_cell("# Analysis", id="title")]
    cells += [new_code_cell(src, id=f"c{i}" if ids else None) for i, src in enumerate(sources)]
    nb = new_notebook(cells=cells)
    if not ids:
        nb.nbformat_minor = 4
        for c in nb.cells:
            c.pop("id", None)
    return nb


def write_nb(path: Path, *sources):
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook(*sources), str(path))


@pytest.fixture
def repo(jp_root_dir):
    """``proj/``: a repository with two commits of ``analysis.ipynb`` and one of ``notes.md``."""
    root = jp_root_dir / "proj"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    write_nb(root / "analysis.ipynb", "x = 1")
    (root / "notes.md").write_text("first\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "first")
    write_nb(root / "analysis.ipynb", "x = 2", "print(x)")
    git(root, "commit", "-q", "-am", "second")
    return root


@pytest.fixture
def api(jp_fetch):
    """``await api(method, "log", user=, body=, params=)`` → ``(status, json)``."""

    async def call(method, *parts, user="olga", body=None, params=None):
        headers = {"Authorization": f"token tok-{user}" if user else ""}
        kwargs = {}
        if body is not None:
            kwargs["body"] = json.dumps(body)
        elif method in ("POST", "PUT", "PATCH"):
            kwargs["body"] = "{}"
        try:
            r = await jp_fetch(
                "mutirao", "api", "git", *parts,
                method=method, headers=headers, params=params, **kwargs,
            )  # fmt: skip
        except HTTPClientError as e:
            if e.response is None:
                raise
            r = e.response
        if r.code != 204:
            assert r.headers["Content-Type"].startswith("application/json"), r.headers
        return r.code, (json.loads(r.body) if r.body else None)

    return call


def patch(body):
    """nbdime's own patch of a diff answered as JSON."""
    return nbdime.patch(body["base"], to_diffentry_dicts(body["diff"]))


def mutirao_app(serverapp):
    (app,) = serverapp.extension_manager.extension_apps["mutirao_lab"]
    return app


# -- init, status, commit ----------------------------------------------------------------------


async def test_init_configures_nbdime_drivers(api, jp_root_dir):
    code, body = await api("POST", "init", body={"repo": "fresh"})
    assert code == 201, body
    folder = jp_root_dir / "fresh"
    assert (
        git(folder, "config", "diff.jupyternotebook.command")
        .strip()
        .endswith("git-nbdiffdriver diff")
    )
    assert "git-nbmergedriver merge %O %A %B %L %P" in git(
        folder, "config", "merge.jupyternotebook.driver"
    )
    attrs = git(folder, "check-attr", "diff", "merge", "--", "a.ipynb")
    assert "diff: jupyternotebook" in attrs
    assert "merge: jupyternotebook" in attrs
    assert not (folder / ".gitattributes").exists()  # the working tree stays clean
    code, body = await api("POST", "init", body={"repo": "fresh"})
    assert code == 409


async def test_commit_is_authored_by_the_requesting_user(api, repo):
    write_nb(repo / "analysis.ipynb", "x = 3")
    (repo / "new.py").write_text("print('hi')\n")
    paths = ["analysis.ipynb", "new.py"]
    body = {"repo": "proj", "paths": paths, "message": "edu's change"}
    code, body = await api("POST", "commit", user="edu", body=body)
    assert code == 201, body
    assert body["author"] == {"name": "Edu Silva", "email": "edu@users.noreply.mutirao"}
    (repo / "notes.md").write_text("second\n")
    body = {"repo": "proj", "paths": ["notes.md"], "message": "olga's"}
    code, body = await api("POST", "commit", user="olga", body=body)
    assert code == 201, body
    out = git(repo, "log", "-2", "--format=%an|%ae|%cn|%ce|%s")
    assert out.splitlines() == [
        f"Olga Silva|olga@example.org|{OWNER}|{OWNER}@users.noreply.mutirao|olga's",
        f"Edu Silva|edu@users.noreply.mutirao|{OWNER}|{OWNER}@users.noreply.mutirao|edu's change",
    ]
    assert git(repo, "status", "--porcelain") == ""
    code, body = await api(
        "POST", "commit", body={"repo": "proj", "paths": ["notes.md"], "message": "x"}
    )
    assert code == 400
    assert "nothing to commit" in body["message"]


async def test_status_stage_unstage(api, repo):
    (repo / "notes.md").write_text("changed\n")
    (repo / "extra.txt").write_text("new\n")
    code, st = await api("GET", "status", params={"repo": "proj"})
    assert code == 200
    assert st["branch"] == "main"
    assert {f["path"]: f["index"] + f["worktree"] for f in st["files"]} == {
        "notes.md": " M",
        "extra.txt": "??",
    }
    code, st = await api("POST", "stage", body={"repo": "proj", "paths": ["extra.txt"]})
    assert code == 200
    assert {f["path"]: f["index"] for f in st["files"]}["extra.txt"] == "A"
    code, st = await api("POST", "unstage", body={"repo": "proj", "paths": ["extra.txt"]})
    assert {f["path"]: f["index"] for f in st["files"]}["extra.txt"] == "?"
    code, _body = await api("POST", "commit", body={"repo": "proj", "message": "nothing staged"})
    assert code == 400


# -- history, versions, restore, branches -------------------------------------------------------


async def test_log_and_file_history_are_paginated(api, repo):
    for i in range(12):
        (repo / "notes.md").write_text(f"v{i}\n")
        git(repo, "commit", "-q", "-am", f"notes {i}")
    code, page = await api("GET", "log", params={"repo": "proj", "limit": "5"})
    assert code == 200
    assert [c["message"] for c in page["commits"]] == [f"notes {i}" for i in (11, 10, 9, 8, 7)]
    assert page["more"] is True
    first = page["commits"][0]
    assert first["author"] == {"name": "Setup", "email": "setup@example.org"}
    assert len(first["id"]) == 40
    assert first["parents"] == [page["commits"][1]["id"]]
    code, last = await api("GET", "log", params={"repo": "proj", "limit": "5", "skip": "12"})
    assert [c["message"] for c in last["commits"]] == ["second", "first"]
    assert last["more"] is False
    code, hist = await api("GET", "log", params={"repo": "proj", "path": "analysis.ipynb"})
    assert [c["message"] for c in hist["commits"]] == ["second", "first"]
    code, _body = await api("GET", "log", params={"repo": "proj", "limit": "501"})
    assert code == 400


async def test_show_and_restore_a_file(api, repo):
    code, body = await api(
        "GET", "show", params={"repo": "proj", "rev": "HEAD~1", "path": "analysis.ipynb"}
    )
    assert code == 200, body
    assert body["type"] == "notebook"
    assert body["content"]["cells"][1]["source"] == "x = 1"
    code, body = await api(
        "GET", "show", params={"repo": "proj", "rev": "HEAD", "path": "notes.md"}
    )
    assert body["content"] == "first\n"
    assert body["format"] == "text"
    code, body = await api("GET", "show", params={"repo": "proj", "rev": "HEAD", "path": "nope.md"})
    assert code == 404
    first = git(repo, "rev-list", "--max-parents=0", "HEAD").strip()
    code, body = await api(
        "POST", "restore", user="edu", body={"repo": "proj", "path": "analysis.ipynb", "rev": first}
    )
    assert code == 200, body
    assert body["live"] is False
    nb = nbformat.read(str(repo / "analysis.ipynb"), 4)
    assert [c.source for c in nb.cells] == ["# Analysis", "x = 1"]
    code, body = await api(
        "POST",
        "restore",
        user="vera",
        body={"repo": "proj", "path": "analysis.ipynb", "rev": first},
    )
    assert code == 403


async def test_branches_create_switch_delete(api, repo):
    code, body = await api("POST", "branches", body={"repo": "proj", "name": "feature/x"})
    assert code == 201, body
    code, body = await api("POST", "checkout", body={"repo": "proj", "branch": "feature/x"})
    assert code == 200, body
    (repo / "notes.md").write_text("on feature\n")
    await api("POST", "commit", body={"repo": "proj", "paths": ["notes.md"], "message": "feat"})
    code, body = await api("POST", "checkout", body={"repo": "proj", "branch": "main"})
    assert body["changed"] == ["notes.md"]
    assert (repo / "notes.md").read_text() == "first\n"
    code, body = await api("GET", "branches", params={"repo": "proj"})
    assert body["current"] == "main"
    assert sorted(b["name"] for b in body["branches"]) == ["feature/x", "main"]
    code, body = await api("DELETE", "branches", params={"repo": "proj", "name": "main"})
    assert code == 409
    code, body = await api("DELETE", "branches", params={"repo": "proj", "name": "feature/x"})
    assert code == 422  # not merged: git's own message
    assert "not fully merged" in body["message"]
    code, body = await api(
        "DELETE", "branches", params={"repo": "proj", "name": "feature/x", "force": "1"}
    )
    assert code == 200, body
    assert git(repo, "branch", "--list").split() == ["*", "main"]


async def test_merge_uses_nbdime_and_reports_conflicts(api, repo):
    git(repo, "branch", "other")
    write_nb(repo / "analysis.ipynb", "x = 2  # main", "print(x)")
    git(repo, "commit", "-q", "-am", "main edits the first cell")
    git(repo, "checkout", "-q", "other")
    write_nb(repo / "analysis.ipynb", "x = 2", "print(x)  # other")
    git(repo, "commit", "-q", "-am", "other edits the second cell")
    git(repo, "checkout", "-q", "main")
    code, body = await api("POST", "merge", user="edu", body={"repo": "proj", "branch": "other"})
    assert code == 200, body
    nb = nbformat.read(str(repo / "analysis.ipynb"), 4)
    assert [c.source for c in nb.cells] == ["# Analysis", "x = 2  # main", "print(x)  # other"]
    assert git(repo, "log", "-1", "--format=%an|%cn").strip() == f"Edu Silva|{OWNER}"
    # both sides change the same line of a text file: a conflict, shown and aborted
    git(repo, "checkout", "-q", "other")
    (repo / "notes.md").write_text("other\n")
    git(repo, "commit", "-q", "-am", "other notes")
    git(repo, "checkout", "-q", "main")
    (repo / "notes.md").write_text("main\n")
    git(repo, "commit", "-q", "-am", "main notes")
    code, body = await api("POST", "merge", body={"repo": "proj", "branch": "other"})
    assert code == 409
    assert "notes.md" in body["message"]
    code, sides = await api("GET", "conflict", params={"repo": "proj", "path": "notes.md"})
    assert code == 200
    assert (sides["base"], sides["local"], sides["remote"]) == ("first\n", "main\n", "other\n")
    code, body = await api("POST", "merge", "abort", body={"repo": "proj"})
    assert code == 200, body
    assert (repo / "notes.md").read_text() == "main\n"
    assert git(repo, "status", "--porcelain") == ""


async def test_notebook_conflict_comes_with_nbdime_merge_decisions(api, repo):
    """Both branches change the same cell: the merge answers 409 naming the notebook, and its
    conflict carries nbdime's merge decisions (what nbdime's merge widget is built from)."""
    git(repo, "checkout", "-q", "-b", "other")
    write_nb(repo / "analysis.ipynb", "x = 3  # other")
    git(repo, "commit", "-q", "-am", "other edits the cell")
    git(repo, "checkout", "-q", "main")
    write_nb(repo / "analysis.ipynb", "x = 4  # main")
    git(repo, "commit", "-q", "-am", "main edits the cell")
    before = git(repo, "rev-parse", "HEAD").strip()
    code, body = await api("POST", "merge", body={"repo": "proj", "branch": "other"})
    assert code == 409, body
    assert "analysis.ipynb" in body["message"]
    params = {"repo": "proj", "path": "analysis.ipynb"}
    code, sides = await api("GET", "conflict", params=params)
    assert code == 200, sides
    assert sides["local"]["cells"][1]["source"] == "x = 4  # main"
    assert sides["remote"]["cells"][1]["source"] == "x = 3  # other"
    conflicts = [d for d in sides["decisions"] if d["conflict"]]
    assert conflicts, sides["decisions"]
    text = json.dumps(conflicts)
    assert "x = 4  # main" in text
    assert "x = 3  # other" in text
    code, sides = await api("GET", "conflict", params={"repo": "proj", "path": "notes.md"})
    assert code == 404
    code, body = await api("POST", "merge", "abort", body={"repo": "proj"})
    assert code == 200, body
    assert git(repo, "rev-parse", "HEAD").strip() == before
    # merge again, resolve by writing the notebook, and commit it: the commit concludes the merge
    code, body = await api("POST", "merge", body={"repo": "proj", "branch": "other"})
    assert code == 409, body
    write_nb(repo / "analysis.ipynb", "x = 7  # both")
    code, body = await api(
        "POST",
        "commit",
        user="edu",
        body={"repo": "proj", "paths": ["analysis.ipynb"], "message": "Merge other"},
    )
    assert code == 201, body
    assert git(repo, "rev-list", "--parents", "-1", "HEAD").split()[1:] == [
        before,
        git(repo, "rev-parse", "other").strip(),
    ]
    assert git(repo, "status", "--porcelain") == ""


# -- diffs -------------------------------------------------------------------------------------


async def test_notebook_diffs_between_versions_and_working_copy(api, repo):
    params = {"repo": "proj", "path": "analysis.ipynb", "from": "HEAD~1", "to": "HEAD"}
    code, body = await api("GET", "diff", params=params)
    assert code == 200, body
    assert body["kind"] == "notebook"
    new = json.loads(git(repo, "show", "HEAD:analysis.ipynb"))
    assert patch(body) == nbformat.reads(json.dumps(new), 4)
    code, again = await api("GET", "diff", params=params)
    assert again == body
    write_nb(repo / "analysis.ipynb", "x = 5", "print(x)")
    code, body = await api("GET", "diff", params={"repo": "proj", "path": "analysis.ipynb"})
    assert code == 200, body
    assert body["from"]["rev"] == "HEAD"
    assert body["to"]["rev"] == "WORKING"
    patched = patch(body)
    assert patched["cells"][1]["source"] == "x = 5"
    (repo / "notes.md").write_text("first\nsecond\n")
    code, body = await api("GET", "diff", params={"repo": "proj", "path": "notes.md"})
    assert body["kind"] == "text"
    assert "+second" in body["unified"]


async def test_diff_size_limit_answers_413(api, repo, jp_serverapp):
    app = mutirao_app(jp_serverapp)
    app.max_diff_bytes = 100
    params = {"repo": "proj", "path": "analysis.ipynb", "from": "HEAD~1", "to": "HEAD"}
    code, body = await api("GET", "diff", params=params)
    assert code == 413
    assert "max_diff_bytes" in body["message"]


# -- who may do what ---------------------------------------------------------------------------

ACTORS = ["anonymous", "sam", "vera", "cami", "edu", "olga"]
READ = [403, 403, 200, 200, 200, 200]
WRITE = [403, 403, 403, 403, "ok", "ok"]


@pytest.mark.parametrize(
    ("method", "parts", "body", "params", "expected"),
    [
        ("GET", ("status",), None, {"repo": "proj"}, READ),
        ("GET", ("log",), None, {"repo": "proj"}, READ),
        ("GET", ("branches",), None, {"repo": "proj"}, READ),
        ("GET", ("snapshots",), None, {"repo": "proj"}, READ),
        ("GET", ("diff",), None, {"repo": "proj", "path": "notes.md"}, READ),
        ("POST", ("stage",), {"repo": "proj", "paths": ["notes.md"]}, None, WRITE),
        ("POST", ("branches",), {"repo": "proj", "name": "b"}, None, WRITE),
        ("POST", ("restore",), {"repo": "proj", "path": "notes.md", "rev": "HEAD"}, None, WRITE),
    ],
)
async def test_role_matrix(api, repo, method, parts, body, params, expected):
    got = []
    for actor in ACTORS:
        user = None if actor == "anonymous" else actor
        code, _ = await api(method, *parts, user=user, body=body, params=params)
        got.append(
            "ok" if code in (200, 201) and actor in ("edu", "olga") and expected is WRITE else code
        )
        if actor == "edu" and expected is WRITE and method == "POST" and parts == ("branches",):
            git(repo, "branch", "-D", "b")
    assert got == expected
