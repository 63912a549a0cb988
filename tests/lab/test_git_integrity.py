"""Git semantics through the versioning API: what ``git`` itself would do, it does.

The in-process commit (``fastpath``) is only a shortcut: where git would run a hook, take a
lock, follow a ``.git`` file or keep an index extension, the API must end where ``git commit``
ends. Each test sets up the repository with the real git CLI, commits through the API, and
checks the result with the CLI (``fsck --strict``, ``status``, the hooks' verdicts).
"""

from __future__ import annotations

import hashlib
import shutil
import stat

from mutirao_lab.versioning import fastpath

from . import test_git_api as base
from .test_git_api import git, mutirao_app, write_nb

api, repo, jp_server_config, _owner = base.api, base.repo, base.jp_server_config, base._owner

REFUSING_HOOK = "#!/bin/sh\necho 'secret scanner: AWS key found' >&2\nexit 1\n"


async def commit(api, paths, message, repo_name="proj"):
    body = {"repo": repo_name, "paths": paths, "message": message}
    return await api("POST", "commit", user="edu", body=body)


def install_hook(folder, name="pre-commit", script=REFUSING_HOOK):
    folder.mkdir(parents=True, exist_ok=True)
    hook = folder / name
    hook.write_text(script)
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR)
    return hook


async def refused_like_git(api, repo):
    """An API commit and a ``git commit`` of the same change are both refused by the hook."""
    head = git(repo, "rev-parse", "HEAD")
    write_nb(repo / "analysis.ipynb", "key = 'AKIA...'")
    code, body = await commit(api, ["analysis.ipynb"], "add the key")
    assert code >= 400, body
    assert "secret scanner" in body["message"]
    assert git(repo, "rev-parse", "HEAD") == head
    cli = git(repo, "commit", "-am", "add the key", check=False)
    assert git(repo, "rev-parse", "HEAD") == head, cli
    git(repo, "fsck", "--strict", "--no-progress")


async def test_a_hook_in_home_hookspath_refuses_the_commit(api, repo, tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    install_hook(home / ".githooks")
    git(repo, "config", "core.hooksPath", "~/.githooks")
    await refused_like_git(api, repo)


async def test_a_hook_set_through_an_included_config_refuses_the_commit(api, repo, tmp_path):
    hooks = tmp_path / "team-hooks"
    install_hook(hooks, "commit-msg")
    # the include appears after the server has read the configuration once
    code, _ = await api("GET", "status", params={"repo": "proj"})
    assert code == 200
    included = tmp_path / "team.gitconfig"
    included.write_text(f"[core]\n\thooksPath = {hooks}\n")
    git(repo, "config", "include.path", str(included))
    await refused_like_git(api, repo)


async def test_a_hook_in_the_repository_refuses_the_commit(api, repo):
    install_hook(repo / ".git" / "hooks")
    await refused_like_git(api, repo)


async def test_a_passing_hook_runs_and_the_commit_lands(api, repo, tmp_path):
    witness = tmp_path / "ran"
    install_hook(repo / ".git" / "hooks", "post-commit", f"#!/bin/sh\ntouch {witness}\n")
    write_nb(repo / "analysis.ipynb", "y = 1")
    code, body = await commit(api, ["analysis.ipynb"], "checked")
    assert code == 201, body
    assert witness.exists()
    assert git(repo, "rev-parse", "HEAD").strip() == body["id"]


async def test_head_locked_by_another_git_process_is_a_retry(api, repo):
    head = git(repo, "rev-parse", "HEAD")
    (repo / ".git" / "HEAD.lock").write_text("ref: refs/heads/other\n")
    write_nb(repo / "analysis.ipynb", "z = 1")
    code, body = await commit(api, ["analysis.ipynb"], "while HEAD is locked")
    assert code == 409, body
    assert "retry" in body["message"]
    assert git(repo, "rev-parse", "HEAD") == head
    # the lock is the other process's: left as it was; the index is unchanged
    assert (repo / ".git" / "HEAD.lock").exists()
    assert not (repo / ".git" / "index.lock").exists()
    (repo / ".git" / "HEAD.lock").unlink()
    code, body = await commit(api, ["analysis.ipynb"], "after the lock")
    assert code == 201, body
    git(repo, "fsck", "--strict", "--no-progress")
    assert git(repo, "status", "--porcelain") == ""


async def test_a_linked_worktree_is_a_repository(api, repo, jp_root_dir):
    git(repo, "worktree", "add", "-q", "-b", "experiment", str(jp_root_dir / "wt"))
    tree = jp_root_dir / "wt"
    assert (tree / ".git").is_file()
    write_nb(tree / "analysis.ipynb", "w = 1")
    code, body = await commit(api, ["analysis.ipynb"], "in the worktree", repo_name="wt")
    assert code == 201, body
    assert git(repo, "rev-parse", "experiment").strip() == body["id"]
    assert git(repo, "rev-parse", "HEAD") != body["id"]  # the main worktree did not move
    assert git(tree, "status", "--porcelain") == ""
    code, log = await api("GET", "log", params={"repo": "wt"})
    assert code == 200, log
    assert log["commits"][0]["id"] == body["id"]
    git(repo, "fsck", "--strict", "--no-progress")


async def test_a_submodule_is_a_repository(api, repo, jp_root_dir, tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    git(lib, "init", "-q", "-b", "main")
    (lib / "util.py").write_text("x = 1\n")
    git(lib, "add", "-A")
    git(lib, "commit", "-q", "-m", "lib")
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(lib), "lib")
    git(repo, "commit", "-q", "-m", "add lib")
    sub = repo / "lib"
    assert (sub / ".git").is_file()
    (sub / "util.py").write_text("x = 2\n")
    code, body = await commit(api, ["util.py"], "in the submodule", repo_name="proj/lib")
    assert code == 201, body
    assert git(sub, "rev-parse", "HEAD").strip() == body["id"]
    assert git(sub, "status", "--porcelain") == ""
    git(sub, "fsck", "--strict", "--no-progress")


async def test_the_cache_tree_is_kept_and_other_extensions_make_git_commit(api, repo):
    (repo / "sub").mkdir()
    (repo / "sub" / "a.txt").write_text("a\n")
    (repo / "other").mkdir()
    (repo / "other" / "b.txt").write_text("b\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "folders")
    git(repo, "read-tree", "HEAD")  # a full cache tree in the index
    assert b"TREE" in (repo / ".git" / "index").read_bytes()

    (repo / "sub" / "a.txt").write_text("a2\n")
    code, body = await commit(api, ["sub/a.txt"], "change a")
    assert code == 201, body
    index = (repo / ".git" / "index").read_bytes()
    assert b"TREE" in index  # kept, with sub/ and the root invalidated
    # git agrees with what the cache tree says: the tree git writes from the index is HEAD's
    assert git(repo, "write-tree").strip() == git(repo, "rev-parse", "HEAD^{tree}").strip()
    assert git(repo, "status", "--porcelain") == ""
    git(repo, "fsck", "--strict", "--no-progress")

    # an untracked cache in the index: git makes the commit and keeps its extension
    git(repo, "config", "core.untrackedCache", "true")
    git(repo, "update-index", "--untracked-cache")
    git(repo, "status", "--porcelain")
    assert b"UNTR" in (repo / ".git" / "index").read_bytes()
    (repo / "other" / "b.txt").write_text("b2\n")
    code, body = await commit(api, ["other/b.txt"], "change b")
    assert code == 201, body
    assert b"UNTR" in (repo / ".git" / "index").read_bytes()
    assert git(repo, "status", "--porcelain") == ""
    git(repo, "fsck", "--strict", "--no-progress")


def blobs_in_folder_17(n: int) -> list[bytes]:
    found = []
    i = 0
    while len(found) < n:
        content = f"padding {i}\n".encode()
        header = f"blob {len(content)}\0".encode()
        if hashlib.sha1(header + content, usedforsecurity=False).hexdigest().startswith("17"):
            found.append(content)
        i += 1
    return found


async def test_saves_and_commits_keep_the_object_store_packed(
    api, repo, jp_fetch, jp_serverapp, monkeypatch
):
    """Every in-process write counts towards ``git gc --auto``; git packs past ``gc.auto``."""
    monkeypatch.setattr(fastpath, "GC_EVERY", 5)
    git(repo, "config", "gc.auto", "1")
    git(repo, "config", "gc.autoDetach", "false")
    # git estimates the loose objects from one folder (objects/17); two there are "too many"
    # for gc.auto=1, whatever ids the test's own writes get
    for content in blobs_in_folder_17(2):
        (repo / "crafted").write_bytes(content)
        git(repo, "hash-object", "-w", "crafted")
    (repo / "crafted").unlink()
    assert len(list((repo / ".git" / "objects" / "17").iterdir())) >= 2
    snapshots = mutirao_app(jp_serverapp).versioning.snapshots
    for i in range(12):
        write_nb(repo / "analysis.ipynb", f"step = {i}")
        snapshots.on_save("proj/analysis.ipynb")
        await snapshots.flush()
        (repo / "notes.md").write_text(f"note {i}\n")
        code, body = await commit(api, ["notes.md"], f"note {i}")
        assert code == 201, body
    counts = dict(
        line.split(": ") for line in git(repo, "count-objects", "-v").splitlines() if ": " in line
    )
    assert int(counts["packs"]) >= 1
    # 12 snapshots and 12 commits wrote about seventy objects: git packed them as they came,
    # and what stays loose is what came after the last check (and the unreachable blobs)
    assert int(counts["in-pack"]) >= 50, counts
    assert int(counts["count"]) <= 2 + 6 * fastpath.GC_EVERY, counts
    git(repo, "fsck", "--strict", "--no-progress")


async def test_a_repository_made_again_at_the_same_path_is_a_new_one(api, repo):
    code, before = await api("GET", "log", params={"repo": "proj"})
    assert code == 200
    assert len(before["commits"]) == 2
    # someone at a terminal: rm -rf proj && git init proj && a first commit
    shutil.rmtree(repo)
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "fresh.txt").write_text("new start\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a new start")
    code, after = await api("GET", "log", params={"repo": "proj"})
    assert code == 200, after
    assert [c["message"] for c in after["commits"]] == ["a new start"]
    (repo / "fresh.txt").write_text("edited\n")
    code, body = await commit(api, ["fresh.txt"], "edit")
    assert code == 201, body
    assert git(repo, "rev-parse", "HEAD").strip() == body["id"]
    assert git(repo, "status", "--porcelain") == ""
    git(repo, "fsck", "--strict", "--no-progress")
