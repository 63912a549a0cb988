"""Snapshots: automatic versions taken on save, kept off the working branch.

A snapshot is an ordinary commit object on the hidden ref ``refs/mutirao/snapshots/<branch>``:
its parent is the previous snapshot, its tree is the previous snapshot's tree with the saved
file replaced, and its message carries ``Edited-by:`` trailers for everyone who edited the file
since the previous snapshot: the authenticated writers of its collaborative document (see
:mod:`.writers`) and those who saved or restored it through the API. It is written
in-process like a commit (see ``fastpath``; ``git hash-object``, ``git commit-tree`` and a
temporary index where that cannot be done), so the branch, the user's index and the working
tree are never touched, and ``git log <branch>`` never shows a snapshot (``git log --all`` does).

Saves of one file are throttled: the first save is snapshotted at once, later ones at most
once per ``snapshot_interval``, the last save of a burst always included.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from . import fastpath, protected
from .gitcore import GitCore, GitError, Repository, check_path, git_env
from .objects import Unsupported, entry_at, read_commit, tree_with
from .repo import Person, current_branch, head, ident_env, log

SNAPSHOT_REFS = "refs/mutirao/snapshots/"
#: How long a save waits before its snapshot, so the request that saved has finished and its
#: user is known.
SETTLE_S = 0.3
ZERO = "0" * 40


def snapshot_ref(branch: str | None) -> str:
    return SNAPSHOT_REFS + (branch or "detached")


def _mode(full: str) -> str:
    return "100755" if os.access(full, os.X_OK) else "100644"


def _tree_of(repo: Repository, commit: str | None) -> str | None:
    if commit is None:
        return None
    found = repo.cat.read(f"{commit}^{{tree}}")
    return found[0] if found else None


def _with_index(
    repo: Repository, base_tree: str | None, path: str, entry: str, remove: str | None = None
) -> str:
    """The tree of ``base_tree`` with ``path`` set to ``entry`` (``mode,blob``) and ``remove``
    removed, written through a temporary index that nobody else sees."""
    fd, index = tempfile.mkstemp(prefix="mutirao-index-", dir=repo.git_dir)
    os.close(fd)
    os.unlink(index)  # git wants to create it
    env = git_env({"GIT_INDEX_FILE": index})
    try:
        if base_tree:
            repo.git("read-tree", base_tree, env=env)
        else:
            repo.git("read-tree", "--empty", env=env)
        repo.git("update-index", "--add", "--cacheinfo", f"{entry},{path}", env=env)
        if remove:
            repo.git("update-index", "--force-remove", "--", remove, env=env)
        return repo.git("write-tree", env=env).decode().strip()
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(index)


def _ignored(repo: Repository, path: str) -> bool:
    try:
        repo.git("check-ignore", "-q", "--", path)
    except GitError:
        return False  # exit 1: not ignored
    return True


def take(
    repo: Repository,
    path: str,
    editors: list[Person],
    committer: Person,
    renamed_from: str | None = None,
) -> str | None:
    """Snapshot ``path`` (repository-relative) now; the new snapshot's id, or None when the
    file is unchanged since the previous snapshot, ignored by git, a secret or runtime file,
    or gone. ``renamed_from``: the file's previous path, dropped from the snapshot's tree when
    it is gone from the disk, so the timeline follows the rename."""
    path = check_path(path)
    full = os.path.join(repo.path, path)
    if not os.path.isfile(full):
        return None
    if protected.denied(path) or _ignored(repo, path):
        return None
    if renamed_from is not None:
        renamed_from = check_path(renamed_from)
        if renamed_from == path or os.path.lexists(os.path.join(repo.path, renamed_from)):
            renamed_from = None
    with repo.snapshot_lock:
        branch = current_branch(repo)
        ref = snapshot_ref(branch)
        found = repo.cat.read(f"{ref}^{{commit}}")
        parent = found[0] if found else None
        base = head(repo)
        trailers = "".join(f"Edited-by: {p.name} <{p.email}>\n" for p in editors)
        message = f"Snapshot of {path}\n\n{trailers}" + (f"Base-commit: {base}\n" if base else "")
        author = editors[0] if editors else committer
        try:
            return _take_in_process(
                repo, path, ref, parent, base, message, author, committer, renamed_from
            )
        except Unsupported:
            pass  # the git CLI below
        blob = repo.git("hash-object", "-w", "--", path).decode().strip()
        if parent is not None:
            before = repo.cat.read(f"{parent}:{path}")
            if before is not None and before[0] == blob:
                return None
        tree = _with_index(
            repo, _tree_of(repo, parent or base), path, f"{_mode(full)},{blob}", renamed_from
        )
        args = ["commit-tree", tree] + (["-p", parent] if parent else []) + ["-F", "-"]
        new = repo.git(*args, input=message.encode("utf-8"), env=ident_env(author, committer))
        new_id = new.decode().strip()
        repo.git("update-ref", "-m", "mutirao snapshot", ref, new_id, parent or ZERO)
        return new_id


def _take_in_process(
    repo: Repository,
    path: str,
    ref: str,
    parent: str | None,
    base: str | None,
    message: str,
    author: Person,
    committer: Person,
    renamed_from: str | None = None,
) -> str | None:
    """The snapshot written without a git process per step (see ``fastpath``): the blob, the
    trees and the commit in-process, the ref in a ``git update-ref`` transaction."""
    cfg = fastpath.config(repo)
    if cfg.get("extensions.objectformat", "sha1") != "sha1":
        raise Unsupported("a sha256 repository")
    full = os.path.join(repo.path, path)
    if os.path.realpath(full) != os.path.join(os.path.realpath(repo.path), path):
        raise Unsupported(f"{path} is beyond a symbolic link")
    blob = fastpath.store_file(repo, cfg, path, os.stat(full).st_size)
    if parent is not None:
        before = entry_at(repo, read_commit(repo, parent).tree, path)
        if before is not None and before[1] == blob:
            return None
    start = parent or base
    base_tree = read_commit(repo, start).tree if start else None
    changes: dict[str, tuple[bytes, str] | None] = {path: (_mode(full).encode(), blob)}
    if renamed_from is not None:
        changes[renamed_from] = None
    tree = tree_with(repo, base_tree, changes)
    parents = [parent] if parent else []
    new = fastpath.write_commit(repo, tree, parents, author, committer, message)
    fastpath.move_ref(repo, ref, new, parent, committer, "mutirao snapshot")
    fastpath.maybe_gc(repo)
    return new


def timeline(
    repo: Repository,
    path: str | None,
    branch: str | None,
    skip: int,
    limit: int,
    renames: dict[str, str] | None = None,
) -> dict[str, Any]:
    branch = branch or current_branch(repo)
    ref = snapshot_ref(branch)
    if repo.cat.read(f"{ref}^{{commit}}") is None:
        return {"branch": branch, "snapshots": [], "skip": skip, "limit": limit, "more": False}
    page = log(repo, ref, path, skip, limit, trailers=True, renames=renames)
    return {
        "branch": branch,
        "snapshots": page["commits"],
        "skip": skip,
        "limit": limit,
        "more": page["more"],
    }


def promote(
    repo: Repository, snapshot: str, path: str, message: str, author: Person, committer: Person
) -> dict[str, Any]:
    """Commit the file as it was in ``snapshot`` on the current branch. The working tree is
    left alone (restore the snapshot too to get it back there); the index entry follows the
    new commit, so ``git status`` shows the working copy's difference from it."""
    path = check_path(path)
    if not isinstance(message, str) or not message.strip():
        raise GitError(400, "a commit needs a message")
    commit = repo.resolve(snapshot)
    found = repo.cat.read(f"{commit}:{path}")
    if found is None or found[1] != "blob":
        raise GitError(404, f"{path} is not in snapshot {snapshot}")
    branch = current_branch(repo)
    if branch is None:
        raise GitError(409, "HEAD is detached: switch to a branch to promote a snapshot")
    entry = f"100644,{found[0]}"
    with repo.writing():
        parent = head(repo)
        tree = _with_index(repo, _tree_of(repo, parent), path, entry)
        args = ["commit-tree", tree] + (["-p", parent] if parent else []) + ["-F", "-"]
        new = repo.git(
            *args, input=message.strip().encode() + b"\n", env=ident_env(author, committer)
        )
        new_id = new.decode().strip()
        repo.git(
            "update-ref", "-m", "mutirao promote", f"refs/heads/{branch}", new_id, parent or ZERO
        )
        repo.git("update-index", "--add", "--cacheinfo", f"{entry},{path}")
    return {
        "id": new_id,
        "snapshot": commit,
        "author": author.to_json(),
        "committer": committer.to_json(),
        "message": message.strip(),
    }


@dataclass
class _Pending:
    editors: dict[str, Person] = field(default_factory=dict)
    # when the last snapshot was taken (time.monotonic); never: the first save is taken at
    # once, however long the interval and however recently the machine booted
    last: float = float("-inf")
    task: asyncio.Task | None = None


class SnapshotService:
    """Takes snapshots on save, throttled per file, and remembers who edited each file.

    Editors come from the requests that saved or restored a file (:meth:`note_editor`) and
    from the authenticated writers of its collaborative document (``writers_of(path)``, see
    :mod:`.writers`); ``may_edit(username)`` filters out those whose room role cannot edit.
    ``renamed_from(path)`` names the file's previous path after a rename.
    """

    def __init__(
        self,
        core: GitCore,
        interval: Callable[[], float],
        log: Any,
        may_edit: Callable[[str], Awaitable[bool]] | None = None,
        writers_of: Callable[[str], dict[str, Person]] | None = None,
        renamed_from: Callable[[str], str | None] | None = None,
    ) -> None:
        self.core = core
        self.interval = interval
        self.log = log
        self.may_edit = may_edit
        self.writers_of = writers_of
        self.renamed_from = renamed_from
        self.people: dict[str, Person] = {}
        self._pending: dict[str, _Pending] = {}
        self._tasks: set[asyncio.Task] = set()

    def remember(self, username: str, person: Person) -> None:
        self.people[username] = person

    def person(self, username: str) -> Person:
        return self.people.get(username) or Person.of(username, f"{username}@users.noreply.mutirao")

    def note_editor(self, path: str, username: str, person: Person | None = None) -> None:
        if person is not None:
            self.remember(username, person)
        self._pending.setdefault(path.strip("/"), _Pending()).editors[username] = self.person(
            username
        )

    def on_save(self, path: str) -> None:
        """A file was saved: schedule its snapshot (at once, or when the interval is over)."""
        path = path.strip("/")
        if self.core.find_repo(path) is None:
            return
        pending = self._pending.setdefault(path, _Pending())
        if pending.task is not None and not pending.task.done():
            return  # the scheduled snapshot will include this save
        delay = max(SETTLE_S, pending.last + self.interval() - time.monotonic())
        pending.task = asyncio.ensure_future(self._later(path, delay))
        self._tasks.add(pending.task)
        pending.task.add_done_callback(self._tasks.discard)

    async def _later(self, path: str, delay: float) -> None:
        await asyncio.sleep(delay)
        pending = self._pending[path]
        pending.last = time.monotonic()
        names = dict(pending.editors)
        pending.editors = {}
        if self.writers_of is not None:
            for username, person in self.writers_of(path).items():
                self.remember(username, person)
                names.setdefault(username, person)
        editors = []
        for username, person in sorted(names.items()):
            if self.may_edit is None or await self.may_edit(username):
                editors.append(person)
        await self.snapshot(path, editors)

    async def snapshot(self, path: str, editors: list[Person]) -> str | None:
        found = self.core.find_repo(path)
        if found is None:
            return None
        repo, inner = found
        old = self.renamed_from(path) if self.renamed_from is not None else None
        prefix = path[: len(path) - len(inner)]
        old_inner = old[len(prefix) :] if old and old.startswith(prefix) else None
        try:
            return await self.core.call(take, repo, inner, editors, Person.owner(), old_inner)
        except GitError as e:
            self.log.warning("Mutirão: no snapshot of %s: %s", path, e.message)
        except Exception:
            self.log.exception("Mutirão: no snapshot of %s", path)
        return None

    async def flush(self) -> None:
        """Wait for every scheduled snapshot (tests, and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
