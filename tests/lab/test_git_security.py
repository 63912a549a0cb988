"""Security and robustness of the versioning API: hostile paths, refs, options and remote URLs,
a hostile file name, a corrupt notebook in history, no leaked processes or file handles, and
concurrent commits that never corrupt the repository."""

from __future__ import annotations

import asyncio
import os

import nbformat
import psutil

from . import test_git_api as base
from .test_git_api import git, write_nb

# the shared fixtures, by name
api, repo, jp_server_config, _owner = base.api, base.repo, base.jp_server_config, base._owner

XSS = "<img src=x onerror=alert(1)>.ipynb"


HOSTILE_PATHS = [
    "../outside.txt",
    "sub/../../outside.txt",
    "/etc/passwd",
    "~/x",
    ".git/config",
    "a/.git/HEAD",
    "-rf",
    "sub/--output=x",
    "a\nb",
    "",
]
PATH_FIELDS = [
    ("GET", "show", "path"),
    ("GET", "diff", "path"),
    ("GET", "log", "path"),
    ("POST", "restore", "path"),
    ("POST", "stage", "paths"),
    ("POST", "commit", "paths"),
    ("POST", "snapshots", "path"),
    ("GET", "status", "repo"),
    ("POST", "init", "repo"),
    ("POST", "clone", "repo"),
]


async def test_hostile_paths_are_refused(api, repo):
    for path in HOSTILE_PATHS:
        for method, endpoint, field in PATH_FIELDS:
            if field == "repo" and path == "" and endpoint != "clone":
                continue  # the empty repo is the root folder, a valid one
            value = [path] if field == "paths" else path
            args = {"repo": "proj", "rev": "HEAD", "message": "m", field: value}
            args.setdefault("url", "https://example.org/r.git")
            if method == "GET":
                code, body = await api(method, endpoint, params=args)
            else:
                code, body = await api(method, endpoint, body=args)
            assert code == 400, (path, endpoint, body)
            assert body["message"]
    assert not (repo.parent / "outside.txt").exists()


HOSTILE_REVS = [
    "--output=/tmp/mutirao-pwned",
    "-p",
    "HEAD@{0}",
    "main..other",
    "HEAD:../x",
    "HEAD~x",
    "a b",
    "main^{tree}",
]


def _rev_calls(rev):
    return [
        ("GET", "log", {"repo": "proj", "rev": rev}),
        ("GET", "show", {"repo": "proj", "rev": rev, "path": "notes.md"}),
        ("GET", "diff", {"repo": "proj", "from": rev, "path": "notes.md"}),
        ("POST", "restore", {"repo": "proj", "rev": rev, "path": "notes.md"}),
        ("POST", "branches", {"repo": "proj", "name": rev}),
        ("POST", "branches", {"repo": "proj", "name": "ok", "start": rev}),
        ("POST", "checkout", {"repo": "proj", "branch": rev}),
        ("POST", "merge", {"repo": "proj", "branch": rev}),
        ("POST", "snapshots/promote", {"repo": "proj", "id": rev, "path": "n", "message": "m"}),
    ]


async def test_hostile_refs_are_refused(api, repo):
    for rev in HOSTILE_REVS:
        for method, endpoint, args in _rev_calls(rev):
            if method == "GET":
                code, body = await api(method, *endpoint.split("/"), params=args)
            else:
                code, body = await api(method, *endpoint.split("/"), body=args)
            assert code == 400, (endpoint, rev, body)
    assert not os.path.exists("/tmp/mutirao-pwned")  # noqa: ASYNC240
    assert git(repo, "branch", "--list").split() == ["*", "main"]


async def test_option_injection_through_other_fields(api, repo):
    (repo / "notes.md").write_text("changed\n")
    # a message that looks like options is only a message (it goes through stdin)
    body = {"repo": "proj", "paths": ["notes.md"], "message": "--amend --author=evil <e@x>"}
    code, out = await api("POST", "commit", body=body)
    assert code == 201, out
    assert (
        git(repo, "log", "-1", "--format=%s|%an").strip()
        == "--amend --author=evil <e@x>|Olga Silva"
    )
    assert git(repo, "rev-list", "--count", "HEAD").strip() == "3"
    # option-like remote names, credentials hosts, skip and limit
    code, out = await api("POST", "pull", body={"repo": "proj", "remote": "--upload-pack=touch x"})
    assert code == 400
    code, out = await api("POST", "push", body={"repo": "proj", "remote": "origin", "branch": "-f"})
    assert code in (400, 404)
    body = {"host": "--config=x", "username": "u", "password": "p"}
    code, out = await api("PUT", "credentials", body=body)
    assert code == 400
    code, out = await api("GET", "log", params={"repo": "proj", "skip": "-1"})
    assert code == 400
    code, out = await api("GET", "log", params={"repo": "proj", "limit": "--all"})
    assert code == 400
    assert not (repo / "x").exists()


HOSTILE_URLS = [
    "ext::sh -c touch% /tmp/mutirao-pwned",
    "ext::sh",
    "file:///etc",
    "file::/etc",
    "/srv/repos/x.git",
    "--upload-pack=touch /tmp/mutirao-pwned",
    "-u touch /tmp/mutirao-pwned",
    "ssh://-oProxyCommand=touch%20/tmp/mutirao-pwned/x",
    "git@github.com:org/repo.git",
    "ssh://host/repo",
    "git://host/repo",
    "https://user:secret@example.org/r.git",
    "https://-oevil/r.git",
    "https://example.org/r.git --upload-pack=x",
    "http://example.org/r.git",  # http only with MutiraoApp.allow_insecure_remotes
    "fd::17",
]


async def test_remote_url_injection_is_refused(api, repo, jp_root_dir):
    for url in HOSTILE_URLS:
        await _refused(api, repo, jp_root_dir, url)


async def _refused(api, repo, jp_root_dir, url):
    code, body = await api("POST", "clone", body={"url": url, "repo": "cloned"})
    assert code == 400, body
    assert not (jp_root_dir / "cloned").exists()
    # a hostile URL put into .git/config by other means is refused at pull and push time too
    if not url.startswith("-"):
        git(repo, "remote", "remove", "origin", check=False)
        git(repo, "remote", "add", "origin", "--", url)
        for verb in ("pull", "push"):
            code, body = await api("POST", verb, body={"repo": "proj", "remote": "origin"})
            assert code == 400, (verb, body)
    assert not os.path.exists("/tmp/mutirao-pwned")  # noqa: ASYNC240


async def test_hostile_file_name_comes_back_as_json_data(api, repo, jp_fetch):
    write_nb(repo / XSS, "x = 1")
    code, out = await api("POST", "commit", body={"repo": "proj", "paths": [XSS], "message": XSS})
    assert code == 201, out
    code, st = await api("GET", "log", params={"repo": "proj", "path": XSS})
    assert st["commits"][0]["message"] == XSS
    write_nb(repo / XSS, "x = 2")
    code, st = await api("GET", "status", params={"repo": "proj"})
    assert [f["path"] for f in st["files"]] == [XSS]
    code, diff = await api("GET", "diff", params={"repo": "proj", "path": XSS})
    assert code == 200
    assert diff["path"] == XSS
    r = await jp_fetch(
        "mutirao", "api", "git", "status",
        params={"repo": "proj"}, headers={"Authorization": "token tok-olga"},
    )  # fmt: skip
    assert r.headers["Content-Type"].startswith("application/json")
    assert b"<img" in r.body  # as a JSON string, for the UI to render as text


async def test_corrupt_notebook_in_history_fails_only_that_diff(api, repo):
    (repo / "analysis.ipynb").write_text('{"cells": [ this is not json')
    git(repo, "commit", "-q", "-am", "corrupt")
    write_nb(repo / "analysis.ipynb", "x = 9")
    git(repo, "commit", "-q", "-am", "fixed")
    code, body = await api(
        "GET",
        "diff",
        params={"repo": "proj", "path": "analysis.ipynb", "from": "HEAD~1", "to": "HEAD"},
    )
    assert code == 422
    assert "HEAD~1" in body["message"]
    assert "not a valid notebook" in body["message"]
    code, body = await api(
        "GET",
        "diff",
        params={"repo": "proj", "path": "analysis.ipynb", "from": "HEAD~2", "to": "HEAD"},
    )
    assert code == 200, body
    code, body = await api(
        "GET", "show", params={"repo": "proj", "rev": "HEAD~1", "path": "analysis.ipynb"}
    )
    assert code == 422
    code, body = await api(
        "POST", "restore", body={"repo": "proj", "rev": "HEAD~1", "path": "analysis.ipynb"}
    )
    assert code == 422
    assert nbformat.read(str(repo / "analysis.ipynb"), 4).cells[1].source == "x = 9"


def _children() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True) if p.status() != "zombie"}


async def test_no_process_or_file_handle_leaks_after_1000_operations(api, repo):
    ops = [
        ("GET", "log", {"repo": "proj", "limit": "3"}),
        ("GET", "show", {"repo": "proj", "rev": "HEAD", "path": "notes.md"}),
        ("GET", "branches", {"repo": "proj"}),
        ("GET", "status", {"repo": "proj"}),
        ("GET", "diff", {"repo": "proj", "path": "analysis.ipynb", "from": "HEAD~1", "to": "HEAD"}),
    ]
    for method, endpoint, params in ops:  # warm up: the cat-file reader, the thread pool
        assert (await api(method, endpoint, params=params))[0] == 200
    # and the repository's persistent writers (hash-object, update-ref): started once, kept
    (repo / "notes.md").write_text("warm-up\n")
    body = {"repo": "proj", "paths": ["notes.md"], "message": "warm-up"}
    assert (await api("POST", "commit", body=body))[0] == 201
    fds = len(os.listdir("/proc/self/fd"))
    children = _children()
    for i in range(1000):
        method, endpoint, params = ops[i % len(ops)]
        if i % 100 == 99:
            (repo / "notes.md").write_text(f"v{i}\n")
            code, _ = await api(
                "POST", "commit", body={"repo": "proj", "paths": ["notes.md"], "message": str(i)}
            )
            assert code == 201
            continue
        code, body = await api(method, endpoint, params=params)
        assert code == 200, body
    await asyncio.sleep(0.2)
    assert _children() == children
    assert len(os.listdir("/proc/self/fd")) <= fds + 2  # the HTTP client may keep a connection


async def test_concurrent_commits_land_or_ask_to_retry(api, repo):
    for name in ("a", "b", "c", "d"):
        (repo / f"{name}.txt").write_text(name)

    async def commit(user, name):
        body = {"repo": "proj", "paths": [f"{name}.txt"], "message": f"{user} adds {name}"}
        return await api("POST", "commit", user=user, body=body)

    results = await asyncio.gather(
        commit("edu", "a"), commit("olga", "b"), commit("edu", "c"), commit("olga", "d")
    )
    landed = 0
    for code, body in results:
        if code == 409:
            assert "retry" in body["message"]
        else:
            assert code == 201, body
            landed += 1
    assert landed >= 1
    assert int(git(repo, "rev-list", "--count", "HEAD")) == 2 + landed
    git(repo, "fsck", "--strict", "--no-progress")
    # a git process outside the server holding the index: a clear 409 to retry, no damage
    (repo / ".git" / "index.lock").write_text("")
    (repo / "e.txt").write_text("e")
    code, body = await commit("edu", "e")
    assert code == 409
    assert "retry" in body["message"]
    (repo / ".git" / "index.lock").unlink()
    code, body = await commit("edu", "e")
    assert code == 201
    git(repo, "fsck", "--strict", "--no-progress")
