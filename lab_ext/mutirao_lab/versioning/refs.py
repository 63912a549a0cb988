"""Refs of git's files backend read and moved in-process, with git's own locking protocol.

Moving a ref takes ``<ref>.lock`` exclusively (as every git command does, so a git process
beside the server waits for us or we answer 409 "retry"), checks that the ref still points at
the expected commit, writes the new id, appends the reflog entries git would (the ref's, and
HEAD's when HEAD points at it), and renames the lock over the ref. Anything unusual (a
symbolic ref, a reftable repository, a ``reference-transaction`` hook, a linked worktree, a
name clash with a folder) raises :class:`~.objects.Unsupported`, and the caller asks
``git update-ref``.

:class:`LockFile` is that protocol on its own; the in-process commit takes ``index.lock`` with it.
"""

from __future__ import annotations

import contextlib
import os
import re
from typing import Any

from .gitcore import BUSY, GitError, Repository, has_hook
from .objects import Unsupported

ZERO = "0" * 40
_SHA = re.compile(r"^[0-9a-f]{40}$")
_LOGGED = ("refs/heads/", "refs/remotes/", "refs/notes/")


class LockFile:
    """``<path>.lock``, taken and released as git does it.

    Made exclusively on construction: a lock already there (a git process beside the server
    holds it) answers 409 "retry"; any other ``OSError`` is raised as it is, for the caller to
    judge. Written through :attr:`fd`; :meth:`commit` closes it and renames it over ``path``.
    Leaving the ``with`` block without committing closes and removes it, so the file is left
    as it was.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.lock = path + ".lock"
        try:
            self.fd = os.open(self.lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            raise GitError(409, BUSY) from None
        self.done = False

    def __enter__(self) -> LockFile:
        return self

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def commit(self) -> None:
        """Close the lock and put it in place of ``path``."""
        self.close()
        os.rename(self.lock, self.path)
        self.done = True

    def __exit__(self, *exc: Any) -> None:
        self.close()
        if not self.done:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.lock)


def read_ref(git_dir: str, ref: str) -> str | None:
    """The commit id ``ref`` points at (loose first, then ``packed-refs``), None if absent."""
    try:
        with open(os.path.join(git_dir, ref), encoding="ascii") as f:
            value = f.read().strip()
    except FileNotFoundError:
        value = None
    except (OSError, UnicodeDecodeError):
        raise Unsupported(f"{ref} cannot be read as a loose ref") from None
    if value is not None:
        if _SHA.match(value):
            return value
        raise Unsupported(f"{ref} is a symbolic ref")
    try:
        with open(os.path.join(git_dir, "packed-refs"), "rb") as f:
            packed = f.read()
    except FileNotFoundError:
        return None
    name = ref.encode()
    for line in packed.split(b"\n"):
        if not line or line[:1] in (b"#", b"^"):
            continue
        sha, _, found = line.partition(b" ")
        if found == name:
            return sha.decode("ascii")
    return None


def _should_log(cfg: dict[str, str], git_dir: str, ref: str) -> bool:
    setting = cfg.get("core.logallrefupdates", "true").lower()
    if setting == "always":
        return True
    if setting in ("", "true", "yes", "on", "1") and (ref == "HEAD" or ref.startswith(_LOGGED)):
        return True
    return os.path.exists(os.path.join(git_dir, "logs", ref))


def _append_log(git_dir: str, ref: str, entry: bytes) -> None:
    path = os.path.join(git_dir, "logs", ref)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "ab") as f:
        f.write(entry)


def read_head(git_dir: str) -> str | None:
    """The branch HEAD points at (``refs/heads/<name>``), or None when HEAD is detached or is
    something only git should read (a reftable stub, an unreadable file)."""
    try:
        with open(os.path.join(git_dir, "HEAD"), encoding="utf-8") as f:
            value = f.read().strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not value.startswith("ref: refs/heads/"):
        return None
    return value[5:]


def move(
    repo: Repository,
    cfg: dict[str, str],
    ref: str,
    new: str,
    old: str | None,
    ident: str,
    message: str,
    log_head: bool,
) -> None:
    """Point ``ref`` at ``new`` if it points at ``old`` (None: absent); 409 if it moved.
    ``ident`` is the reflog's ``Name <email> time zone``.

    ``log_head``: HEAD points at ``ref`` and its reflog gets the entry too. Then HEAD is locked
    as well (``HEAD.lock``, as git's files backend locks it when a commit moves the branch
    through it), and checked to still point at ``ref`` under the lock: a ``git checkout`` that
    switched branches meanwhile gets the move refused (409 "retry") instead of a reflog that
    lies."""
    if cfg.get("extensions.refstorage", "files") != "files":
        raise Unsupported("refs are not in files")
    if repo.git_dir != repo.common_dir:
        raise Unsupported("a linked worktree")
    if has_hook(repo.path, repo.common_dir, cfg, "reference-transaction"):
        raise Unsupported("a reference-transaction hook")
    git_dir = repo.git_dir
    path = os.path.join(git_dir, ref)
    with contextlib.ExitStack() as stack:
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            lock = stack.enter_context(LockFile(path))
            head_lock = (
                stack.enter_context(LockFile(os.path.join(git_dir, "HEAD"))) if log_head else None
            )
        except GitError:
            raise
        except OSError:
            raise Unsupported(f"{ref} cannot be locked here") from None
        if head_lock is not None and read_head(git_dir) != ref:
            raise GitError(409, "the branch was switched while this change was being made; retry")
        current = read_ref(git_dir, ref)
        if current != old:
            raise GitError(409, f"{ref} moved while this change was being made; retry in a moment")
        os.write(lock.fd, (new + "\n").encode("ascii"))
        lock.close()
        entry = f"{old or ZERO} {new} {ident}\t{message}\n".encode()
        if _should_log(cfg, git_dir, ref):
            _append_log(git_dir, ref, entry)
        if log_head and _should_log(cfg, git_dir, "HEAD"):
            _append_log(git_dir, "HEAD", entry)
        lock.commit()
        # HEAD itself is unchanged: its lock is removed, not renamed over it
