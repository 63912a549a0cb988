"""Git operations of the versioning API, one function per user action.

Each function is synchronous, takes a :class:`~.gitcore.Repository` and validated arguments,
and returns JSON-ready data; handlers run them in the git thread pool. Authors are the
requesting collaborator, committers the server's owner (the room), both passed in as
:class:`Person`. Remotes (clone, pull, push and their credentials) are in :mod:`.remotes`;
merging and conflicts in :mod:`.merge`.
"""

from __future__ import annotations

import base64
import os
import re
import sys
from dataclasses import dataclass
from typing import Any

from . import fastpath
from .diff import loads_notebook
from .gitcore import (
    GitCore,
    GitError,
    Repository,
    check_branch_name,
    check_path,
    check_paths,
    git_env,
    is_worktree_root,
)

#: Where nbdime's drivers are declared in a managed repository: in ``.git/info/attributes``,
#: so that the working tree (and its history) gets no extra ``.gitattributes`` change.
NBDIME_ATTRIBUTES = "*.ipynb\tdiff=jupyternotebook merge=jupyternotebook\n"

_SEP, _REC = "\x00", "\x1e"
LOG_FORMAT = "%x1e" + "%x00".join(["%H", "%P", "%an", "%ae", "%at", "%cn", "%ce", "%ct", "%s"])
MAX_LOG = 500


@dataclass(frozen=True)
class Person:
    """An author or committer: a display name and an e-mail, safe for a git ident."""

    name: str
    email: str

    @classmethod
    def of(cls, name: str, email: str) -> Person:
        def clean(s: str) -> str:
            return re.sub(r"[<>\x00-\x1f\x7f]", "", s).strip() or "unknown"

        return cls(clean(name), clean(email))

    @classmethod
    def from_user(cls, user: Any) -> Person:
        """The jupyter_server ``User`` of a request: display name, and the e-mail from the hub
        identity when there is one, else ``<username>@users.noreply.mutirao``."""
        username = getattr(user, "username", None) or "unknown"
        name = getattr(user, "display_name", None) or getattr(user, "name", None) or username
        email = None
        hub_user = getattr(user, "hub_user", None)
        sources = [getattr(user, "user_info", None), hub_user]
        if isinstance(hub_user, dict):
            # JupyterHub puts the authenticator's user_info (name, e-mail, avatar) here
            sources.insert(0, hub_user.get("user_info"))
        for source in sources:
            if isinstance(source, dict) and isinstance(source.get("email"), str):
                email = source["email"]
                break
        return cls.of(name, email or f"{username}@users.noreply.mutirao")

    @classmethod
    def owner(cls) -> Person:
        """The room (the server's owner, ``$JUPYTERHUB_USER``): every commit's committer."""
        owner = os.environ.get("JUPYTERHUB_USER") or os.environ.get("USER") or "jupyter"
        return cls.of(owner, f"{owner}@users.noreply.mutirao")

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "email": self.email}


def ident_env(author: Person, committer: Person) -> dict[str, str]:
    return git_env(
        {
            "GIT_AUTHOR_NAME": author.name,
            "GIT_AUTHOR_EMAIL": author.email,
            "GIT_COMMITTER_NAME": committer.name,
            "GIT_COMMITTER_EMAIL": committer.email,
        }
    )


# -- managed repositories ----------------------------------------------------------------------


def _driver(name: str) -> str:
    found = os.path.join(os.path.dirname(sys.executable), name)
    return found if os.access(found, os.X_OK) else name


def configure_nbdime(repo: Repository) -> None:
    """``nbdime config-git --enable`` for this repository only: notebook diff and merge
    drivers in ``.git/config``, attributes in ``.git/info/attributes``."""
    if getattr(repo, "nbdime_configured", False):
        return
    with repo.gitpython() as r, r.config_writer() as cw:
        cw.set_value('diff "jupyternotebook"', "command", f"{_driver('git-nbdiffdriver')} diff")
        cw.set_value(
            'merge "jupyternotebook"',
            "driver",
            f"{_driver('git-nbmergedriver')} merge %O %A %B %L %P",
        )
        cw.set_value('merge "jupyternotebook"', "name", "jupyter notebook merge driver")
    info = os.path.join(repo.common_dir, "info")
    os.makedirs(info, exist_ok=True)
    attributes = os.path.join(info, "attributes")
    try:
        with open(attributes, encoding="utf-8") as f:
            current = f.read()
    except OSError:
        current = ""
    if "merge=jupyternotebook" not in current:
        with open(attributes, "a", encoding="utf-8") as f:
            f.write(("\n" if current and not current.endswith("\n") else "") + NBDIME_ATTRIBUTES)
    repo.nbdime_configured = True  # type: ignore[attr-defined]


def init_repo(core: GitCore, rel: str) -> dict[str, Any]:
    full = core.abspath(rel)
    if is_worktree_root(full):
        raise GitError(409, f"{rel or '/'} is already a git repository")
    os.makedirs(full, exist_ok=True)
    import git  # GitPython: imported on first use, it costs a tenth of a second at start-up

    git.Repo.init(full, initial_branch="main").close()
    repo = core.repo(rel)
    configure_nbdime(repo)
    return {"repo": rel, "branch": "main"}


# -- reading ----------------------------------------------------------------------------------


def head(repo: Repository) -> str | None:
    found = repo.cat.read("HEAD^{commit}")
    return found[0] if found else None


def current_branch(repo: Repository) -> str | None:
    out = repo.git("symbolic-ref", "--short", "-q", "HEAD", ok=(0, 1)).decode().strip()
    return out or None


def changed_paths(repo: Repository, a: str | None, b: str | None) -> list[str]:
    if a == b or a is None or b is None:
        return []
    out = repo.git("diff", "--no-ext-diff", "--name-only", "-z", a, b, "--")
    return [p for p in out.decode("utf-8", "replace").split("\0") if p]


def status(repo: Repository) -> dict[str, Any]:
    out = repo.git("status", "--porcelain=v1", "-z", "-b", "--untracked-files=all")
    entries = out.decode("utf-8", "replace").split("\0")
    branch_line, files = "", []
    i = 0
    while i < len(entries):
        e = entries[i]
        i += 1
        if not e:
            continue
        if e.startswith("## "):
            branch_line = e[3:]
            continue
        x, y, path = e[0], e[1], e[3:]
        item = {"path": path, "index": x, "worktree": y}
        if x in "RC":
            item["from"] = entries[i]
            i += 1
        files.append(item)
    branch, ahead, behind, upstream = branch_line, 0, 0, None
    m = re.match(r"^(?:No commits yet on )?(.+?)(?:\.\.\.(\S+))?(?: \[(.*)\])?$", branch_line)
    if m:
        branch, upstream = m.group(1), m.group(2)
        for part in (m.group(3) or "").split(", "):
            if part.startswith("ahead "):
                ahead = int(part[6:])
            elif part.startswith("behind "):
                behind = int(part[7:])
    return {
        "branch": None if branch.startswith("HEAD (no branch)") else branch,
        "upstream": upstream,
        "ahead": ahead,
        "behind": behind,
        "head": head(repo),
        "merge_head": merge_head(repo),
        "files": files,
    }


def merge_head(repo: Repository) -> str | None:
    """The commit being merged while a merge waits for its conflicts (``MERGE_HEAD``), else
    None."""
    try:
        with open(os.path.join(repo.git_dir, "MERGE_HEAD"), encoding="ascii") as f:
            first = f.readline().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return first if re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", first) else None


def _parse_log(out: bytes) -> list[dict[str, Any]]:
    commits = []
    for record in out.decode("utf-8", "replace").split(_REC):
        record = record.strip("\n")
        if not record:
            continue
        f = record.split(_SEP)
        if len(f) < 9:
            continue
        commits.append(
            {
                "id": f[0],
                "parents": f[1].split(),
                "author": {"name": f[2], "email": f[3]},
                "authored_at": int(f[4]),
                "committer": {"name": f[5], "email": f[6]},
                "committed_at": int(f[7]),
                "message": f[8],
                **({"edited_by": _edited_by(f[9])} if len(f) > 9 else {}),
            }
        )
    return commits


def _edited_by(trailers: str) -> list[dict[str, str]]:
    people = []
    for value in trailers.split("\x1f"):
        m = re.match(r"^\s*(.*?)\s*<([^>]*)>\s*$", value)
        if m:
            people.append({"name": m.group(1), "email": m.group(2)})
    return people


def page(skip: Any, limit: Any) -> tuple[int, int]:
    try:
        skip_i, limit_i = int(skip or 0), int(limit or 25)
    except (TypeError, ValueError):
        raise GitError(400, "`skip` and `limit` must be integers") from None
    if skip_i < 0 or not 1 <= limit_i <= MAX_LOG:
        raise GitError(400, f"`skip` must be >= 0 and `limit` between 1 and {MAX_LOG}")
    return skip_i, limit_i


def log(
    repo: Repository,
    rev: str = "HEAD",
    path: str | None = None,
    skip: int = 0,
    limit: int = 25,
    trailers: bool = False,
) -> dict[str, Any]:
    """One page of the history of ``rev`` (or of one file in it), newest first.

    Cached by the commit id ``rev`` resolves to, so paging through an unchanged branch costs
    one ``git log`` per page ever."""
    if path is not None:
        path = check_path(path)
    try:
        tip = repo.resolve(rev)
    except GitError as e:
        if e.status == 404 and rev == "HEAD":
            return {"commits": [], "head": None, "skip": skip, "limit": limit, "more": False}
        raise

    def run() -> list[dict[str, Any]]:
        if not trailers:
            derived = fastpath.derived_page(repo, tip, path, skip, limit)
            if derived is not None:
                return derived
        fmt = LOG_FORMAT + (
            "%x00%(trailers:key=Edited-by,valueonly,separator=%x1f)" if trailers else ""
        )
        args = ["log", f"--format={fmt}", f"--skip={skip}", f"-n{limit + 1}", tip, "--"]
        return _parse_log(repo.git(*args, *([path] if path else [])))

    commits = repo.cache.get_or(("log", tip, path, skip, limit, trailers), run)
    return {
        "commits": commits[:limit],
        "head": tip,
        "skip": skip,
        "limit": limit,
        "more": len(commits) > limit,
    }


def decode_content(path: str, data: bytes) -> dict[str, Any]:
    """A blob as the contents API would give it: a notebook as JSON, text, or base64."""
    if path.endswith(".ipynb"):
        try:
            return {"format": "json", "type": "notebook", "content": loads_notebook(data)}
        except ValueError as e:
            raise GitError(422, f"{path} is not a valid notebook at this version: {e}") from None
    try:
        return {"format": "text", "type": "file", "content": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {
            "format": "base64",
            "type": "file",
            "content": base64.b64encode(data).decode("ascii"),
        }


def show(repo: Repository, rev: str, path: str) -> dict[str, Any]:
    path = check_path(path)
    commit = repo.resolve(rev)
    found = repo.blob(commit, path)
    if found is None:
        raise GitError(404, f"{path} is not in version {rev}")
    blob, data = found
    return {
        "path": path,
        "rev": commit,
        "blob": blob,
        "size": len(data),
        **decode_content(path, data),
    }


def read_version(repo: Repository, rev: str, path: str) -> tuple[str, bytes]:
    commit = repo.resolve(rev)
    found = repo.blob(commit, path)
    if found is None:
        raise GitError(404, f"{path} is not in version {rev}")
    return found


# -- writing ----------------------------------------------------------------------------------


def stage(repo: Repository, paths: list[str]) -> dict[str, Any]:
    paths = check_paths(paths)
    if not paths:
        raise GitError(400, "`paths` is empty")
    with repo.writing():
        repo.git("add", "-A", "--", *paths)
    return status(repo)


def unstage(repo: Repository, paths: list[str]) -> dict[str, Any]:
    paths = check_paths(paths)
    if not paths:
        raise GitError(400, "`paths` is empty")
    with repo.writing():
        if head(repo) is None:
            repo.git("rm", "-q", "--cached", "-r", "--", *paths)
        else:
            repo.git("reset", "-q", "HEAD", "--", *paths)
    return status(repo)


def commit(
    repo: Repository, paths: list[str], message: str, author: Person, committer: Person
) -> dict[str, Any]:
    """Stage ``paths`` (all their changes, additions and deletions) and commit exactly them;
    with no paths, commit what is staged. One user action, one request."""
    paths = check_paths(paths)
    if not isinstance(message, str) or not message.strip():
        raise GitError(400, "a commit needs a message")
    try:
        message.encode("utf-8")
    except UnicodeEncodeError:
        raise GitError(400, "the commit message is not valid text") from None
    env = ident_env(author, committer)
    args = ["commit", "-q", "--no-edit", "--cleanup=strip", "-F", "-"]
    data = message.encode("utf-8")
    with repo.writing():
        new = fastpath.commit(repo, paths, message, author, committer)
        if new is not None:
            return {
                "id": new,
                "author": author.to_json(),
                "committer": committer.to_json(),
                "message": message.strip(),
            }
        try:
            if paths and os.path.exists(os.path.join(repo.git_dir, "MERGE_HEAD")):
                # concluding a merge: git refuses a partial commit, and the merge commit takes
                # the whole index (the cleanly merged files too) once the resolved files are in
                repo.git("add", "-A", "--", *paths)
                repo.git(*args, input=data, env=env)
            elif paths and head(repo) is not None:
                # one git process for the usual case (tracked files): `--only` takes their
                # changes and deletions from the working tree and leaves the rest of the index
                try:
                    repo.git(*args, "--only", "--", *paths, input=data, env=env)
                except GitError as e:
                    if "did not match any file" not in e.message:
                        raise
                    repo.git("add", "-A", "--", *paths)  # new files: known to git first
                    repo.git(*args, "--only", "--", *paths, input=data, env=env)
            else:
                if paths:
                    repo.git("add", "-A", "--", *paths)
                repo.git(*args, input=data, env=env)
        except GitError as e:
            if e.status == 422 and ("nothing" in e.message or "no changes" in e.message):
                raise GitError(400, "nothing to commit: the files have no changes") from None
            raise
        sha = head(repo)
    return {
        "id": sha,
        "author": author.to_json(),
        "committer": committer.to_json(),
        "message": message.strip(),
    }


def branches(repo: Repository) -> dict[str, Any]:
    with repo.gitpython() as r:
        current = None if r.head.is_detached or not r.head.is_valid() else r.active_branch.name
        heads = []
        for h in r.heads:
            tracking = h.tracking_branch()
            heads.append(
                {
                    "name": h.name,
                    "commit": h.commit.hexsha,
                    "upstream": tracking.name if tracking is not None else None,
                    "current": h.name == current,
                }
            )
    return {"current": current, "branches": heads}


def create_branch(repo: Repository, name: str, start: str | None) -> dict[str, Any]:
    name = check_branch_name(name)
    start_commit = repo.resolve(start or "HEAD")
    with repo.writing():
        repo.git("branch", "--no-track", "--", name, start_commit)
    return {"name": name, "commit": start_commit}


def switch_branch(repo: Repository, name: str) -> dict[str, Any]:
    name = check_branch_name(name)
    with repo.writing():
        before = head(repo)
        repo.git("checkout", "-q", name, "--")
        after = head(repo)
    return {"current": name, "changed": changed_paths(repo, before, after)}


def delete_branch(repo: Repository, name: str, force: bool = False) -> dict[str, Any]:
    name = check_branch_name(name)
    if name == current_branch(repo):
        raise GitError(409, f"{name} is the current branch; switch to another one first")
    with repo.writing():
        repo.git("branch", "-D" if force else "-d", "--", name)
    return {"deleted": name}
