"""Commits and history pages answered without a git process per request (``fastpath``).

A commit of changed tracked files is written in-process (blobs through a persistent ``git
hash-object``, trees and the commit as loose objects, the branch through a ``git update-ref
--stdin`` transaction, the index rewritten under ``index.lock``); a history page after new
commits is the new commits in front of a cached page. What a user would notice is checked with
the real git CLI: who authored and committed, a clean ``git status``, a clean ``git fsck``,
``git log``'s own pages, and what happens when another git process moves the branch meanwhile.
"""

from __future__ import annotations

import asyncio
import os
import subprocess

from . import test_git_api as base
from .test_git_api import git, write_nb

# the shared fixtures, by name
api, repo, jp_server_config, _owner = base.api, base.repo, base.jp_server_config, base._owner


async def commit(api, paths, message, user="edu"):
    body = {"repo": "proj", "paths": paths, "message": message}
    return await api("POST", "commit", user=user, body=body)


async def test_in_process_commit_is_ordinary_git(api, repo):
    (repo / "sub").mkdir()
    (repo / "sub" / "deep.txt").write_text("one\n")
    (repo / "gone.txt").write_text("bye\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "third")
    # a change staged by someone at the command line, not part of the commit below
    (repo / "notes.md").write_text("staged elsewhere\n")
    git(repo, "add", "notes.md")

    write_nb(repo / "analysis.ipynb", "x = 3")
    (repo / "sub" / "deep.txt").write_text("two\n")
    (repo / "gone.txt").unlink()
    (repo / "run.sh").write_text("#!/bin/sh\n")
    paths = ["analysis.ipynb", "sub/deep.txt", "gone.txt"]
    code, body = await commit(api, paths, "# a comment line\nedu's change  \n\n\n\nwhy\n")
    assert code == 201, body
    assert body["id"] == git(repo, "rev-parse", "HEAD").strip()

    fmt = "%an|%ae|%cn|%ce|%B"
    assert git(repo, "log", "-1", f"--format={fmt}") == (
        "Edu Silva|edu@users.noreply.mutirao|ml-room|ml-room@users.noreply.mutirao|"
        "edu's change\n\nwhy\n\n"
    )
    assert git(repo, "diff", "--name-status", "HEAD~1", "HEAD").splitlines() == [
        "M\tanalysis.ipynb",
        "D\tgone.txt",
        "M\tsub/deep.txt",
    ]
    # the branch's and HEAD's reflogs record it like any commit, by the committer
    for ref in ("main", "HEAD"):
        assert git(repo, "reflog", "-1", "--format=%H|%gn|%gs", ref) == (
            f"{body['id']}|ml-room|commit (mutirao): edu's change\n"
        )
    # the index follows: only the change staged elsewhere and the new file remain
    assert git(repo, "status", "--porcelain").splitlines() == ["M  notes.md", "?? run.sh"]
    assert git(repo, "diff", "--cached", "--name-only").split() == ["notes.md"]
    git(repo, "fsck", "--strict", "--no-progress")
    # the command line carries on from it
    git(repo, "commit", "-q", "-m", "notes from the terminal")
    assert git(repo, "status", "--porcelain") == "?? run.sh\n"
    git(repo, "fsck", "--strict", "--no-progress")

    # the same files unchanged: nothing to commit, and nothing written
    head = git(repo, "rev-parse", "HEAD")
    code, body = await commit(api, ["analysis.ipynb"], "again")
    assert code == 400
    assert "nothing to commit" in body["message"]
    assert git(repo, "rev-parse", "HEAD") == head
    assert not (repo / ".git" / "index.lock").exists()


async def test_concurrent_in_process_commits_all_land(api, repo):
    names = [f"f{i}.txt" for i in range(6)]
    for name in names:
        (repo / name).write_text("0\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "files")
    for name in names:
        (repo / name).write_text(f"{name} changed\n")
    results = await asyncio.gather(
        *(commit(api, [name], f"change {name}", user=("edu", "olga")[i % 2]) for i, name in
          enumerate(names))
    )  # fmt: skip
    landed = [body for code, body in results if code == 201]
    for code, body in results:
        assert code in (201, 409), body
        if code == 409:
            assert "retry" in body["message"]
    assert len(landed) == len(names)  # one server: its commits queue, none is lost
    assert int(git(repo, "rev-list", "--count", "HEAD")) == 3 + len(names)
    assert git(repo, "status", "--porcelain") == ""
    git(repo, "fsck", "--strict", "--no-progress")


async def test_branch_moved_by_another_git_process_asks_to_retry(api, repo):
    """A clean filter (run by git while the server hashes the file) moves the branch from
    another git process, as a commit at the terminal would: the server's transaction sees the
    branch is not where it was and answers 409; nothing is lost and the retry lands."""
    git(repo, "config", "user.name", "Terminal")
    git(repo, "config", "user.email", "terminal@example.org")
    git(repo, "config", "filter.race.clean", "sh .git/race.sh")
    (repo / ".git" / "race.sh").write_text(
        "if [ ! -e .git/raced ]; then touch .git/raced; "
        'git update-ref refs/heads/main "$(git commit-tree -p HEAD -m external HEAD^{tree})"; fi\n'
        "cat\n"
    )
    attributes = repo / ".git" / "info" / "attributes"
    attributes.parent.mkdir(exist_ok=True)
    attributes.write_text(
        (attributes.read_text() if attributes.exists() else "") + "notes.md filter=race\n"
    )
    (repo / "notes.md").write_text("racing\n")
    code, body = await commit(api, ["notes.md"], "mine")
    assert code == 409, body
    assert "retry" in body["message"]
    assert git(repo, "log", "-1", "--format=%s") == "external\n"
    assert not (repo / ".git" / "index.lock").exists()
    git(repo, "fsck", "--strict", "--no-progress")
    code, body = await commit(api, ["notes.md"], "mine")
    assert code == 201, body
    assert git(repo, "log", "-3", "--format=%s").split("\n")[:3] == ["mine", "external", "second"]
    assert git(repo, "status", "--porcelain") == ""
    git(repo, "fsck", "--strict", "--no-progress")


async def test_history_pages_follow_new_commits(api, repo):
    async def page(path, skip, limit):
        params = {"repo": "proj", "skip": str(skip), "limit": str(limit)}
        if path:
            params["path"] = path
        code, body = await api("GET", "log", params=params)
        assert code == 200, body
        return [c["id"] for c in body["commits"]], body["more"]

    def git_page(path, skip, limit):
        out = git(repo, "log", "--format=%H", f"--skip={skip}", f"-n{limit + 1}", "--",
                  *([path] if path else []))  # fmt: skip
        ids = out.split()
        return ids[:limit], len(ids) > limit

    cases = [
        (p, s, n) for p in (None, "analysis.ipynb", "notes.md") for s in (0, 1, 3) for n in (1, 2)
    ]
    for case in cases:  # cached pages of the current tip
        assert await page(*case) == git_page(*case)
    for i in range(4):
        if i % 2:  # commits from the terminal, including a merge
            git(repo, "checkout", "-q", "-b", f"side{i}")
            (repo / "notes.md").write_text(f"side {i}\n")
            git(repo, "commit", "-q", "-am", f"side {i}")
            git(repo, "checkout", "-q", "main")
            git(repo, "merge", "-q", "--no-ff", "-m", f"merge {i}", f"side{i}")
            git(repo, "commit", "-q", "--allow-empty", "-m", f"empty {i}")
        else:  # and from the server
            write_nb(repo / "analysis.ipynb", f"x = {i}")
            assert (await commit(api, ["analysis.ipynb"], f"nb {i}"))[0] == 201
        for case in cases:
            got, want = await page(*case), git_page(*case)
            assert got == want, (i, case)
    _, body = await api("GET", "log", params={"repo": "proj", "limit": "1"})
    assert body["commits"][0]["message"] == "empty 3"
    assert body["commits"][0]["author"] == {"name": "Setup", "email": "setup@example.org"}


async def test_line_endings_follow_the_repositorys_attributes(api, repo):
    """Where an attribute converts files on the way in, the commit stores what ``git add``
    would: here CRLF line endings normalized to LF, and the file still clean."""
    (repo / ".gitattributes").write_text("*.txt text\n")
    (repo / "dos.txt").write_text("a\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "attributes")
    (repo / "dos.txt").write_bytes(b"one\r\ntwo\r\n")
    (repo / "notes.md").write_bytes(b"kept\r\nas is\r\n")  # no attribute: stored byte for byte
    code, body = await commit(api, ["dos.txt", "notes.md"], "line endings")
    assert code == 201, body
    assert "commit (mutirao)" in git(repo, "reflog", "-1", "--format=%gs", "main")
    assert git(repo, "cat-file", "blob", "HEAD:dos.txt") == "one\ntwo\n"
    # the blob of the bytes as they are, CRs included
    assert git(repo, "rev-parse", "HEAD:notes.md") == git(
        repo, "hash-object", "--no-filters", "notes.md"
    )
    assert git(repo, "status", "--porcelain") == ""
    git(repo, "fsck", "--strict", "--no-progress")


async def test_hostile_commit_messages(api, repo):
    """The message is data after the commit's headers: lines that look like headers stay in
    the message; text git would refuse (NUL, lone surrogates, only comments) is a 4xx and
    nothing is written."""
    (repo / "notes.md").write_text("changed\n")
    head = git(repo, "rev-parse", "HEAD")
    for message in ("a\x00b", "bad \ud800 text", "# only a comment\n", "   \n"):
        code, body = await commit(api, ["notes.md"], message)
        assert 400 <= code < 500, (message, code, body)
        assert git(repo, "rev-parse", "HEAD") == head
        assert not (repo / ".git" / "index.lock").exists()
    forged = "subject\n\ntree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor Evil <e@x> 0 +0000"
    code, body = await commit(api, ["notes.md"], forged)
    assert code == 201, body
    assert git(repo, "log", "-1", "--format=%an|%s|%T") == (
        f"Edu Silva|subject|{git(repo, 'rev-parse', 'HEAD^{tree}').strip()}\n"
    )
    assert "author Evil" in git(repo, "log", "-1", "--format=%b")
    git(repo, "fsck", "--strict", "--no-progress")


async def test_commits_beside_a_terminal_committing_in_a_loop(api, repo):
    """Someone commits from a terminal in a loop while the API commits: every API commit
    either lands (and stays in the history) or asks to retry; the terminal's git sees a
    lock when it should; the repository stays valid and ends clean."""
    (repo / "t.txt").write_text("t\n")
    git(repo, "add", "t.txt")
    git(repo, "commit", "-q", "-m", "t")

    def terminal() -> int:
        landed = 0
        for i in range(25):
            (repo / "t.txt").write_text(f"terminal {i}\n")
            r = subprocess.run(
                ["git", "commit", "-q", "-m", f"terminal {i}", "--", "t.txt"],
                cwd=repo, capture_output=True, text=True, check=False,
                env={**os.environ, "GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@x",
                     "GIT_COMMITTER_NAME": "T", "GIT_COMMITTER_EMAIL": "t@x"},
            )  # fmt: skip
            if r.returncode == 0:
                landed += 1
            else:
                assert "lock" in r.stderr, r.stderr
        return landed

    loop = asyncio.get_running_loop()
    terminal_done = loop.run_in_executor(None, terminal)
    landed = []
    for i in range(25):
        (repo / "notes.md").write_text(f"api {i}\n")
        code, body = await commit(api, ["notes.md"], f"api {i}")
        assert code in (201, 409), body
        if code == 201:
            landed.append(body["id"])
        else:
            assert "retry" in body["message"]
    terminal_landed = await terminal_done
    assert landed
    assert terminal_landed
    for sha in landed:  # nothing the API reported as committed was lost
        git(repo, "merge-base", "--is-ancestor", sha, "HEAD")
    git(repo, "fsck", "--strict", "--no-progress")
    for _ in range(5):
        code, body = await commit(api, ["notes.md", "t.txt"], "the rest")
        if code != 409:
            break
    assert code in (201, 400), body
    assert git(repo, "status", "--porcelain") == ""


async def test_branch_locked_by_another_git_process_asks_to_retry(api, repo):
    """A git process at the terminal holds the branch's lock (``refs/heads/main.lock``) while
    the server commits: the server answers 409 "retry", leaves that process's lock alone and
    its own index change undone; once the lock is gone the retry lands."""
    (repo / "notes.md").write_text("locked out\n")
    head = git(repo, "rev-parse", "HEAD")
    held = repo / ".git" / "refs" / "heads" / "main.lock"
    held.write_text(head)
    code, body = await commit(api, ["notes.md"], "mine")
    assert code == 409, body
    assert "retry" in body["message"]
    assert held.read_text() == head
    assert git(repo, "rev-parse", "HEAD") == head
    assert not (repo / ".git" / "index.lock").exists()
    assert git(repo, "status", "--porcelain") == " M notes.md\n"
    held.unlink()
    code, body = await commit(api, ["notes.md"], "mine")
    assert code == 201, body
    assert git(repo, "log", "-1", "--format=%s") == "mine\n"
    assert git(repo, "status", "--porcelain") == ""
    git(repo, "fsck", "--strict", "--no-progress")


async def test_hooks_and_unusual_indexes_still_get_gits_own_commit(api, repo):
    """Where the repository asks for what only ``git commit`` does (a commit hook, an index
    in version 4), the commit goes through git: the hook runs, the index stays readable."""
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text("#!/bin/sh\necho 'no commits on Fridays' >&2\nexit 1\n")
    hook.chmod(0o755)
    (repo / "notes.md").write_text("hooked\n")
    head = git(repo, "rev-parse", "HEAD")
    code, body = await commit(api, ["notes.md"], "blocked")
    assert 400 <= code < 500, body
    assert "no commits on Fridays" in body["message"]
    assert git(repo, "rev-parse", "HEAD") == head
    hook.unlink()

    # a reference-transaction hook sees the branch move (git moves it)
    watcher = repo / ".git" / "hooks" / "reference-transaction"
    watcher.write_text('#!/bin/sh\ncat >> "$(git rev-parse --git-dir)/moves.log"\n')
    watcher.chmod(0o755)
    code, body = await commit(api, ["notes.md"], "watched")
    assert code == 201, body
    moves = (repo / ".git" / "moves.log").read_text()
    assert f"{body['id']} refs/heads/main" in moves
    assert git(repo, "status", "--porcelain") == ""
    watcher.unlink()

    (repo / "notes.md").write_text("index v4\n")
    git(repo, "update-index", "--index-version", "4")
    code, body = await commit(api, ["notes.md"], "index v4")
    assert code == 201, body
    assert git(repo, "reflog", "-1", "--format=%gs", "main").startswith("commit: index v4")
    assert git(repo, "status", "--porcelain") == ""
    git(repo, "fsck", "--strict", "--no-progress")
