"""Git operations of the versioning API, one function per user action.

Each function is synchronous, takes a :class:`~.gitcore.Repository` and validated arguments,
and returns JSON-ready data; handlers run them in the git thread pool. Authors are the
requesting collaborator, committers the server's owner (the room), both passed in as
:class:`Person`. Credentials for remotes come from a :class:`CredentialStore` outside the
repository and reach git through ``GIT_ASKPASS`` and the environment, never argv or
``.git/config``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import shutil
import stat
import sys
import tempfile
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from . import fastpath
from .diff import loads_notebook
from .gitcore import (
    NETWORK_TIMEOUT_S,
    GitCore,
    GitError,
    Repository,
    check_branch_name,
    check_path,
    check_paths,
    check_rev,
    git_env,
    run_git,
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


# -- remotes and credentials --------------------------------------------------------------------


def check_remote_url(url: Any, allow_http: bool = False) -> str:
    """An ``https://`` URL git may fetch from; everything else is refused: ``ext::`` and other
    transport helpers, ``file://``, ssh (whose URLs can carry options), option-looking
    strings (GitPython CVE-2022-24439), URLs with credentials in them."""
    if not isinstance(url, str) or not url:
        raise GitError(400, "`url` must be a non-empty string")
    if url.startswith("-") or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise GitError(400, "the remote URL is refused: it looks like an option or has spaces")
    if "::" in url:
        raise GitError(400, "the remote URL is refused: transport helpers (ext::) are not allowed")
    parts = urlsplit(url)
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme.lower() not in schemes:
        raise GitError(400, f"only {' and '.join(s + '://' for s in schemes)} remotes are allowed")
    if not parts.hostname or parts.hostname.startswith("-"):
        raise GitError(400, "the remote URL has no valid host")
    if parts.username is not None or parts.password is not None:
        raise GitError(
            400, "put credentials in the credential store, not in the URL (it would be saved)"
        )
    return url


def remote_host(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


class CredentialStore:
    """Per-user credentials for remotes, by host, in files outside every repository.

    One JSON file per user (named by a hash of the username), mode 0600, in a folder of mode
    0700. The ``askpass`` script in the same folder answers git's prompts from two environment
    variables set only on the git process that needs them.
    """

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        os.makedirs(folder, mode=0o700, exist_ok=True)
        with contextlib.suppress(OSError):
            os.chmod(folder, 0o700)
        self.askpass = os.path.join(folder, "askpass.sh")
        script = (
            "#!/bin/sh\n"
            "# written by mutirao_lab: answers git's credential prompts from the environment\n"
            'case "$1" in\n'
            '  Username*) printf "%s\\n" "$MUTIRAO_GIT_USERNAME" ;;\n'
            '  *) printf "%s\\n" "$MUTIRAO_GIT_PASSWORD" ;;\n'
            "esac\n"
        )
        tmp = self.askpass + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(script)
        os.chmod(tmp, stat.S_IRWXU)
        os.replace(tmp, self.askpass)

    def _file(self, username: str) -> str:
        return os.path.join(
            self.folder, hashlib.sha256(username.encode()).hexdigest()[:32] + ".json"
        )

    def _load(self, username: str) -> dict[str, dict[str, str]]:
        try:
            with open(self._file(username), encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _save(self, username: str, data: dict[str, Any]) -> None:
        path = self._file(username)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".cred-")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)

    def hosts(self, username: str) -> list[dict[str, str]]:
        return [
            {"host": h, "username": v.get("username", "")}
            for h, v in sorted(self._load(username).items())
        ]

    def set(self, username: str, host: str, login: str, password: str) -> None:
        with self._lock:
            data = self._load(username)
            data[host] = {"username": login, "password": password}
            self._save(username, data)

    def delete(self, username: str, host: str) -> bool:
        with self._lock:
            data = self._load(username)
            found = data.pop(host, None) is not None
            self._save(username, data)
            return found

    def env(self, username: str, url: str, allow_http: bool) -> dict[str, str]:
        """The environment of a network git process for ``username`` talking to ``url``."""
        cred = self._load(username).get(remote_host(url), {})
        protocols = "https:http" if allow_http else "https"
        return {
            "GIT_ASKPASS": self.askpass,
            "SSH_ASKPASS": self.askpass,
            "GIT_ALLOW_PROTOCOL": protocols,
            "MUTIRAO_GIT_USERNAME": cred.get("username", ""),
            "MUTIRAO_GIT_PASSWORD": cred.get("password", ""),
        }


def network_args(allow_http: bool) -> list[str]:
    args = [
        "-c",
        "credential.helper=",  # never store the credentials in a helper of the user's
        "-c",
        "protocol.allow=never",
        "-c",
        "protocol.https.allow=always",
        "-c",
        "core.sshCommand=false",
    ]
    if allow_http:
        args += ["-c", "protocol.http.allow=always"]
    return args


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
    info = os.path.join(repo.path, ".git", "info")
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
    if os.path.isdir(os.path.join(full, ".git")):
        raise GitError(409, f"{rel or '/'} is already a git repository")
    os.makedirs(full, exist_ok=True)
    import git  # GitPython: imported on first use, it costs a tenth of a second at start-up

    git.Repo.init(full, initial_branch="main").close()
    repo = core.repo(rel)
    configure_nbdime(repo)
    return {"repo": rel, "branch": "main"}


def clone(
    core: GitCore, url: str, rel: str, env: dict[str, str], allow_http: bool
) -> dict[str, Any]:
    check_remote_url(url, allow_http)
    full = core.abspath(rel)
    if os.path.exists(full) and os.listdir(full):
        raise GitError(409, f"{rel} exists and is not empty")
    try:
        run_git(
            core.root_dir,
            *network_args(allow_http),
            "clone",
            "--no-recurse-submodules",
            "--",
            url,
            full,
            env=git_env(env),
            timeout=NETWORK_TIMEOUT_S,
        )
    except GitError:
        if os.path.isdir(full) and not os.listdir(full):
            os.rmdir(full)
        elif os.path.isdir(os.path.join(full, ".git")):
            shutil.rmtree(full, ignore_errors=True)
        raise
    repo = core.repo(rel)
    configure_nbdime(repo)
    return {"repo": rel, "url": url, "branch": current_branch(repo)}


def remote_url(repo: Repository, remote: str) -> str:
    check_branch_name(remote)
    out = repo.git("config", "--get", f"remote.{remote}.url", ok=(0, 1)).decode().strip()
    if not out:
        raise GitError(404, f"no remote named {remote!r}")
    return out


def pull(
    repo: Repository,
    remote: str,
    branch: str | None,
    env: dict[str, str],
    allow_http: bool,
    author: Person,
    committer: Person,
) -> dict[str, Any]:
    check_remote_url(remote_url(repo, remote), allow_http)
    args = [
        *network_args(allow_http),
        "pull",
        "--no-rebase",
        "--no-edit",
        "--no-recurse-submodules",
    ]
    args += ["--", remote] + ([check_branch_name(branch)] if branch else [])
    full_env = {**ident_env(author, committer), **env}
    with repo.writing():
        before = head(repo)
        try:
            repo.git(*args, env=full_env, timeout=NETWORK_TIMEOUT_S)
        except GitError as e:
            conflicts = conflicted(repo)
            if conflicts:
                raise GitError(409, "the pull has conflicts: " + ", ".join(conflicts)) from e
            raise
        after = head(repo)
    return {"before": before, "after": after, "changed": changed_paths(repo, before, after)}


def push(
    repo: Repository, remote: str, branch: str | None, env: dict[str, str], allow_http: bool
) -> dict[str, Any]:
    check_remote_url(remote_url(repo, remote), allow_http)
    branch = check_branch_name(branch) if branch else current_branch(repo)
    if not branch:
        raise GitError(400, "no branch to push: HEAD is detached")
    repo.git(
        *network_args(allow_http),
        "push",
        "--no-recurse-submodules",
        "--",
        remote,
        f"refs/heads/{branch}:refs/heads/{branch}",
        env=git_env(env),
        timeout=NETWORK_TIMEOUT_S,
    )
    return {"remote": remote, "branch": branch}


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
        "files": files,
    }


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
            if paths and os.path.exists(os.path.join(repo.path, ".git", "MERGE_HEAD")):
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


def conflicted(repo: Repository) -> list[str]:
    out = repo.git("diff", "--name-only", "--diff-filter=U", "-z", "--")
    return [p for p in out.decode("utf-8", "replace").split("\0") if p]


def merge(repo: Repository, branch: str, author: Person, committer: Person) -> dict[str, Any]:
    """Merge ``branch`` into the current branch; notebooks go through nbdime's merge driver.
    Conflicts answer 409 with the conflicted files (see :func:`conflict`)."""
    check_rev(branch)
    configure_nbdime(repo)
    with repo.writing():
        before = head(repo)
        try:
            repo.git(
                "merge", "--no-edit", "--no-ff", branch, "--", env=ident_env(author, committer)
            )
        except GitError as e:
            files = conflicted(repo)
            if files:
                raise GitError(
                    409, "the merge has conflicts in: " + ", ".join(files) + " (resolve or abort)"
                ) from e
            raise
        after = head(repo)
    return {"before": before, "after": after, "changed": changed_paths(repo, before, after)}


def merge_abort(repo: Repository) -> dict[str, Any]:
    with repo.writing():
        out = repo.git("diff", "--no-ext-diff", "--name-only", "-z", "HEAD", "--")
        repo.git("merge", "--abort")
    changed = [p for p in out.decode("utf-8", "replace").split("\0") if p]
    return {"changed": changed, "head": head(repo)}


def conflict(repo: Repository, path: str) -> dict[str, Any]:
    """The three sides of a conflicted file (base, ours, theirs) for a notebook-aware merge
    view, from index stages 1-3."""
    path = check_path(path)
    sides: dict[str, Any] = {}
    for stage_no, side in ((1, "base"), (2, "local"), (3, "remote")):
        found = repo.cat.read(f":{stage_no}:{path}")
        sides[side] = None if found is None else decode_content(path, found[2])["content"]
    if sides["local"] is None and sides["remote"] is None:
        raise GitError(404, f"{path} has no conflict")
    if path.endswith(".ipynb") and sides["local"] is not None and sides["remote"] is not None:
        sides["decisions"] = merge_decisions(sides["base"], sides["local"], sides["remote"])
    return {"path": path, **sides}


def merge_decisions(base: Any, local: Any, remote: Any) -> list[dict[str, Any]]:
    """nbdime's merge decisions for three notebooks, as its own merge tool computes them (its
    ``mergetool`` strategy: every conflict left for the user), for nbdime's merge widget. A file
    added on both sides merges against an empty notebook."""
    from nbdime.merging.notebooks import decide_notebook_merge
    from nbdime.nbmergeapp import _build_arg_parser

    args = _build_arg_parser().parse_args(["", "", ""])
    args.merge_strategy = "mergetool"
    if base is None:
        base = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    return list(decide_notebook_merge(base, local, remote, args=args))
