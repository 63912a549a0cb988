"""Remotes of a managed repository: clone, pull and push over https, with per-user credentials.

Each function is synchronous and runs in the git thread pool, like those of :mod:`.repo`.
Credentials for remotes come from a :class:`CredentialStore` outside the repository and reach
git through ``GIT_ASKPASS`` and the environment, never argv or ``.git/config``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import stat
import tempfile
import threading
from typing import Any
from urllib.parse import urlsplit

from .gitcore import (
    NETWORK_TIMEOUT_S,
    GitCore,
    GitError,
    Repository,
    check_branch_name,
    git_env,
    is_worktree_root,
    run_git,
)
from .merge import conflicted
from .repo import Person, changed_paths, configure_nbdime, current_branch, head, ident_env


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
        elif is_worktree_root(full):
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
