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

from . import fastpath, protected
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
    run_git,
)

#: Where nbdime's drivers are declared in a managed repository: in ``.git/info/attributes``,
#: so that the working tree (and its history) gets no extra ``.gitattributes`` change.
NBDIME_ATTRIBUTES = "*.ipynb\tdiff=jupyternotebook merge=jupyternotebook\n"

_SEP, _REC = "\x00", "\x1e"
LOG_FORMAT = "%x1e" + "%x00".join(["%H", "%P", "%an", "%ae", "%at", "%cn", "%ce", "%ct", "%s"])
MAX_LOG = 500
#: The first commit's message in a repository Mutirão initializes.
FIRST_MESSAGE = "Start versioning: ignore secrets and runtime files"


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


def init_repo(
    core: GitCore,
    rel: str,
    author: Person,
    committer: Person,
    branch: str = "main",
) -> dict[str, Any]:
    """Make the folder ``rel`` a managed repository: ``git init`` on ``branch``, the default
    ``.gitignore`` (or the patterns an existing one lacks), and a first commit of it alone,
    authored by ``author``. The other files stay untracked: the commit dialog offers them."""
    branch = check_branch_name(branch)
    full = core.abspath(rel)
    if is_worktree_root(full):
        raise GitError(409, f"{rel or 'this folder'} is already a git repository")
    ignore = os.path.join(full, ".gitignore")
    if os.path.islink(ignore) or (os.path.lexists(ignore) and not os.path.isfile(ignore)):
        raise GitError(409, ".gitignore is not a plain file; move it away first")
    os.makedirs(full, exist_ok=True)
    run_git(full, "init", "-q", "-b", branch)
    repo = core.repo(rel)
    configure_nbdime(repo)
    try:
        with open(ignore, encoding="utf-8") as f:
            current = f.read()
    except FileNotFoundError:
        current = ""
    except (OSError, UnicodeDecodeError):
        raise GitError(409, ".gitignore cannot be read as text; move it away first") from None
    text = protected.merged_gitignore(current) if current else protected.gitignore_text()
    if text != current:
        with open(ignore, "w", encoding="utf-8") as f:
            f.write(text)
    with repo.writing():
        repo.git("add", "--", ".gitignore")
        repo.git(
            "commit",
            "-q",
            "--no-verify",
            "-F",
            "-",
            input=FIRST_MESSAGE.encode("utf-8"),
            env=ident_env(author, committer),
        )
    return {"repo": rel, "branch": branch, "commit": head(repo), "author": author.to_json()}


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


def status(repo: Repository, renames: dict[str, str] | None = None) -> dict[str, Any]:
    """Branch, upstream, ahead/behind and the changed files, never a secret or runtime file
    (:mod:`.protected`). ``renames`` (new path -> old path, from the server's rename events)
    pairs a deleted file with the untracked file it became: one entry, ``worktree: "R"``."""
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
        if protected.denied(path) or protected.denied(item.get("from", "")):
            continue
        files.append(item)
    files = _pair_renames(files, renames or {})
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


def origin(renames: dict[str, str], path: str) -> str | None:
    """The name ``path`` had before the ``renames`` (new -> old, files or folders)."""
    if path in renames:
        return renames[path]
    parts = path.split("/")
    for i in range(len(parts) - 1, 0, -1):
        folder = "/".join(parts[:i])
        if folder in renames:
            return renames[folder] + "/" + "/".join(parts[i:])
    return None


def _pair_renames(files: list[dict[str, Any]], renames: dict[str, str]) -> list[dict[str, Any]]:
    if not renames:
        return files
    deleted = {f["path"] for f in files if "D" in (f["index"], f["worktree"])}
    paired: dict[str, str] = {}
    for f in files:
        old = origin(renames, f["path"])
        if f["index"] == "?" and old is not None and old in deleted:
            paired[f["path"]] = old
    if not paired:
        return files
    gone = set(paired.values())
    out = []
    for f in files:
        if f["path"] in gone and "D" in (f["index"], f["worktree"]):
            continue
        if f["path"] in paired:
            f = {"path": f["path"], "index": " ", "worktree": "R", "from": paired[f["path"]]}
        out.append(f)
    return out


def with_renamed(repo: Repository, paths: list[str], renames: dict[str, str] | None) -> list[str]:
    """``paths`` and, for each one renamed from a tracked file that is gone, that file: the
    commit then records the rename (the deletion and the addition together)."""
    out = list(paths)
    for path in paths:
        old = origin(renames or {}, path)
        if old is None or old in out or os.path.lexists(os.path.join(repo.path, old)):
            continue
        if repo.cat.read(f"HEAD:{old}") is not None:
            out.append(old)
    return out


def refuse_denied(paths: list[str]) -> None:
    """A request naming a secret or runtime file is refused (400), whatever ``.gitignore``
    says."""
    bad = [p for p in paths if protected.denied(p)]
    if bad:
        raise GitError(
            400,
            f"{bad[0]} is a secret or runtime file; Mutirão never commits it "
            "(see the deny list in the versioning guide)",
        )


def _missing_path_message(message: str, root: str, paths: list[str]) -> str | None:
    """Git's "pathspec did not match" in words: a path gone since the status was read, or a
    folder with nothing to commit (git names the deny list's exclusions then)."""
    m = re.search(r"pathspec '(.+?)' did not match", message)
    if m is None:
        return None
    name = m.group(1)
    if name.startswith(":(") or os.path.lexists(os.path.join(root, name)):
        shown = name if not name.startswith(":(") else ", ".join(paths)
        return f"nothing to commit in {shown}: only files git ignores, or secret and runtime files"
    return (
        f"{m.group(1)} is no longer there: it was renamed or deleted since the list was "
        "read. Close the dialog and open it again."
    )


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
    renames: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One page of the history of ``rev`` (or of one file in it, across its renames),
    newest first. A file renamed since ``rev`` (``renames``, new -> old) shows the history
    of its old name.

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
    if path is not None and renames and repo.blob(tip, path) is None:
        path = origin(renames, path) or path

    def run() -> list[dict[str, Any]]:
        if not trailers:
            derived = fastpath.derived_page(repo, tip, path, skip, limit)
            if derived is not None:
                return derived
        fmt = LOG_FORMAT + (
            "%x00%(trailers:key=Edited-by,valueonly,separator=%x1f)" if trailers else ""
        )
        if path is None:
            args = ["log", f"--format={fmt}", f"--skip={skip}", f"-n{limit + 1}", tip, "--"]
            return _parse_log(repo.git(*args))
        # a file's history goes on under the names it had before a rename; git counts
        # --skip before it follows, so the page is cut here
        args = ["log", f"--format={fmt}", "--follow", f"-n{skip + limit + 1}", tip, "--", path]
        return _parse_log(repo.git(*args))[skip:]

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


def stage(
    repo: Repository, paths: list[str], renames: dict[str, str] | None = None
) -> dict[str, Any]:
    paths = [p or "." for p in check_paths(paths)]
    if not paths:
        raise GitError(400, "`paths` is empty")
    refuse_denied(paths)
    paths = with_renamed(repo, paths, renames)
    with repo.writing():
        try:
            repo.git("add", "-A", "--", *paths, *protected.exclude_pathspecs())
        except GitError as e:
            missing = _missing_path_message(e.message, repo.path, paths)
            raise GitError(400, missing or e.message) from None
    return status(repo, renames)


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
    repo: Repository,
    paths: list[str],
    message: str,
    author: Person,
    committer: Person,
    renames: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Stage ``paths`` (all their changes, additions and deletions) and commit exactly them;
    with no paths, commit what is staged. One user action, one request.

    Secret and runtime files (:mod:`.protected`) are refused by name and left out of folders;
    a path renamed from a tracked file (``renames``, new -> old) takes the old path's deletion
    along, so the commit records the rename."""
    paths = [p or "." for p in check_paths(paths)]  # "." (the whole folder) checks as ""
    refuse_denied(paths)
    paths = with_renamed(repo, paths, renames)
    excludes = protected.exclude_pathspecs()
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
        if not paths:
            staged = repo.git("diff", "--cached", "--name-only", "-z", ok=(0, 1))
            refuse_denied([p for p in staged.decode("utf-8", "replace").split("\0") if p])
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
                repo.git("add", "-A", "--", *paths, *excludes)
                repo.git(*args, input=data, env=env)
            elif paths and head(repo) is not None:
                # one git process for the usual case (tracked files): `--only` takes their
                # changes and deletions from the working tree and leaves the rest of the index
                only = ["--only", "--", *paths, *excludes]
                if any(os.path.isdir(os.path.join(repo.path, p)) for p in paths):
                    # a folder's new files: known to git first
                    repo.git("add", "-A", "--", *paths, *excludes)
                try:
                    repo.git(*args, *only, input=data, env=env)
                except GitError as e:
                    if "did not match any file" not in e.message:
                        raise
                    # new files: known to git first
                    repo.git("add", "-A", "--", *paths, *excludes)
                    repo.git(*args, *only, input=data, env=env)
            else:
                if paths:
                    repo.git("add", "-A", "--", *paths, *excludes)
                repo.git(*args, input=data, env=env)
        except GitError as e:
            if e.status == 422 and ("nothing" in e.message or "no changes" in e.message):
                raise GitError(400, "nothing to commit: the files have no changes") from None
            missing = _missing_path_message(e.message, repo.path, paths)
            if missing is not None:
                raise GitError(400, missing) from None
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
