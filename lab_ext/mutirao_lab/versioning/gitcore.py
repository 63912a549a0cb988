"""Low-level git access for the versioning API: validated arguments, one persistent
``git cat-file --batch`` per repository, and short-lived GitPython ``Repo`` objects, all used
off the event loop.

Everything here is synchronous and meant to run in :attr:`GitCore.pool`; handlers call
``await core.call(fn, ...)``. Nothing user-supplied reaches git's command line without going
through :func:`check_path`, :func:`check_rev` or :func:`check_branch_name`, and paths always
follow a ``--``.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

from tornado.web import HTTPError

if TYPE_CHECKING:
    import git

T = TypeVar("T")

#: How long one git command may run before the request fails (clone, push and pull get more).
GIT_TIMEOUT_S = 60.0
NETWORK_TIMEOUT_S = 600.0
#: What the API says when another git process holds a lock it needs.
BUSY = "another git operation is in progress in this repository; retry in a moment"

_HEX = re.compile(r"^[0-9a-f]{4,64}$")
# characters git forbids in ref names, plus ones we never want to pass along
_BAD_REF = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//|/\.|\.lock(/|$)|^/|/$|\.$|^@$")


class GitError(HTTPError):
    """A git operation failed; ``status`` is the HTTP status the API answers with and
    ``message`` what it says (as JSON ``{"message"}``)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(status, message.replace("%", "%%"))
        self.status = status
        self.message = message


def check_path(path: Any, *, allow_empty: bool = False) -> str:
    """A repository-relative path the API may hand to git: no absolute paths, no ``..``, nothing
    that starts with ``-``, nothing inside ``.git``, no control characters."""
    if not isinstance(path, str) or (not path and not allow_empty):
        raise GitError(400, "`path` must be a non-empty string")
    if any(ord(c) < 32 or ord(c) == 127 for c in path):
        raise GitError(400, "a path may not contain control characters")
    if path.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", path) or path.startswith("~"):
        raise GitError(400, f"absolute paths are refused: {path!r}")
    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
    for part in parts:
        if part == "..":
            raise GitError(400, f"`..` is refused in paths: {path!r}")
        if part.startswith("-"):
            raise GitError(400, f"a path component may not start with '-': {path!r}")
        if part.lower() == ".git":
            raise GitError(400, "paths inside .git are refused")
    return "/".join(parts)


def check_paths(paths: Any) -> list[str]:
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise GitError(400, "`paths` must be a list of strings")
    return [check_path(p) for p in paths]


@lru_cache(maxsize=1024)
def _git_check_ref_format(name: str) -> bool:
    r = subprocess.run(
        ["git", "check-ref-format", "--branch", name],
        capture_output=True,
        timeout=GIT_TIMEOUT_S,
        check=False,
        env=git_env(),
    )
    return r.returncode == 0


def check_branch_name(name: Any) -> str:
    """A branch name accepted by ``git check-ref-format --branch`` and not option-like."""
    if not isinstance(name, str) or not name:
        raise GitError(400, "a branch name must be a non-empty string")
    if name.startswith("-") or _BAD_REF.search(name) or name == "HEAD" or len(name) > 250:
        raise GitError(400, f"not a valid branch name: {name!r}")
    if not _git_check_ref_format(name):
        raise GitError(400, f"not a valid branch name: {name!r}")
    return name


def check_rev(rev: Any) -> str:
    """A revision the API accepts: ``HEAD``, a commit id (abbreviated or not) or a branch
    name, optionally followed by ``~N`` (``HEAD~1``). No ranges, no reflog syntax, no options."""
    if not isinstance(rev, str) or not rev:
        raise GitError(400, "a version must be a non-empty string")
    base, _, back = rev.partition("~")
    if back and not back.isdigit():
        raise GitError(400, f"not a valid version: {rev!r}")
    if base == "HEAD" or _HEX.match(base):
        return rev
    check_branch_name(base)
    return rev


def git_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of every git process: no prompts, no inherited repository overrides."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("GIT_") or k in ("GIT_EXEC_PATH", "GIT_SSL_CAINFO", "GIT_SSL_CAPATH")
    }
    env.update(
        GIT_TERMINAL_PROMPT="0",
        GIT_OPTIONAL_LOCKS="0",
        GIT_PROTOCOL_FROM_USER="0",
        LC_ALL="C",
        LANG="C",
    )
    if extra:
        env.update(extra)
    return env


def run_git(
    cwd: str,
    *args: str,
    input: bytes | None = None,
    env: dict[str, str] | None = None,
    timeout: float = GIT_TIMEOUT_S,
    ok: tuple[int, ...] = (0,),
) -> bytes:
    """Run ``git -C cwd args...``; raise :class:`GitError` with git's own message on failure."""
    cmd = ["git", "-c", "core.quotepath=off", "-c", "color.ui=false", *args]
    try:
        r = subprocess.run(
            cmd,
            cwd=cwd,
            input=input,
            capture_output=True,
            timeout=timeout,
            check=False,
            env=env or git_env(),
            stdin=None if input is not None else subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise GitError(504, f"git {args[0]} took longer than {timeout:.0f} s") from None
    if r.returncode not in ok:
        # some failures ("nothing to commit") are told on stdout
        raise GitError(*classify((r.stderr or r.stdout).decode("utf-8", "replace")))
    return r.stdout


def classify(stderr: str) -> tuple[int, str]:
    """The HTTP status and a readable message for a failed git command."""
    msg = "\n".join(line for line in stderr.strip().splitlines() if line.strip())[-2000:]
    msg = msg or "git failed"
    low = msg.lower()
    if "index.lock" in low or "cannot lock ref" in low or ".lock': file exists" in low:
        return 409, BUSY
    if "authentication failed" in low or "could not read username" in low:
        return 401, "the remote refused the credentials: " + msg
    if "conflict" in low:
        return 409, msg
    if (
        "unknown revision" in low
        or "not a valid object" in low
        or "does not exist" in low
        or "not found" in low
        or "bad revision" in low
        or "invalid object name" in low
    ):
        return 404, msg
    return 422, msg


class CatFile:
    """A persistent ``git cat-file --batch`` for one repository.

    Reading a blob through it costs a pipe round trip instead of a process start; it is used
    from several pool threads, so each request/answer pair runs under a lock.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None

    def _start(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(
                ["git", "cat-file", "--batch"],
                cwd=self.path,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=git_env(),
            )
        return self._proc

    def read(self, spec: str) -> tuple[str, str, bytes] | None:
        """``(object id, type, content)`` of ``spec`` (``<rev>``, ``<rev>:<path>``), or None."""
        if "\n" in spec or "\r" in spec:
            raise GitError(400, "a version may not contain line breaks")
        with self._lock:
            for attempt in (0, 1):
                proc = self._start()
                assert proc.stdin is not None
                assert proc.stdout is not None
                try:
                    proc.stdin.write(spec.encode("utf-8") + b"\n")
                    proc.stdin.flush()
                    header = proc.stdout.readline()
                    if not header:
                        raise BrokenPipeError
                    # "<spec> missing": the spec may hold spaces, so only its end is certain
                    if header.rstrip(b"\n").endswith((b" missing", b" ambiguous")):
                        return None
                    fields = header.split()
                    oid, kind, size = fields[0].decode(), fields[1].decode(), int(fields[2])
                    data = proc.stdout.read(size)
                    proc.stdout.read(1)  # the newline after the content
                    return oid, kind, data
                except (BrokenPipeError, OSError, ValueError, IndexError):
                    self._kill()
                    if attempt:
                        raise GitError(500, "git cat-file stopped answering") from None
        return None

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        stop_process(proc)

    def close(self) -> None:
        with self._lock:
            self._kill()


class LinePipe:
    """A persistent git process that answers each request with one line on stdout
    (``git hash-object -w --stdin-paths``, ``git update-ref --stdin``).

    A request that makes the process fail (it exits with ``fatal:``) raises
    :class:`GitError` with git's message; the next request starts a fresh process.
    """

    def __init__(self, path: str, *args: str) -> None:
        self.path = path
        self.args = args
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: Any = None

    def ask(self, lines: list[bytes], answers: int) -> list[bytes]:
        """Write ``lines`` and read ``answers`` lines back (without their newlines)."""
        if any(b"\n" in line for line in lines):
            raise GitError(400, "a request to git may not contain line breaks")
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._kill()
                # stderr goes to a file: warnings can never fill a pipe and block git
                self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in _kill)
                self._proc = subprocess.Popen(
                    ["git", *self.args],
                    cwd=self.path,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=self._stderr,
                    env=git_env(),
                )
            proc = self._proc
            assert proc.stdin is not None
            assert proc.stdout is not None
            out = []
            try:
                proc.stdin.write(b"".join(line + b"\n" for line in lines))
                proc.stdin.flush()
                for _ in range(answers):
                    line = proc.stdout.readline()
                    if not line:
                        raise BrokenPipeError
                    out.append(line.rstrip(b"\n"))
            except (BrokenPipeError, OSError):
                stderr = b""
                try:
                    proc.wait(timeout=GIT_TIMEOUT_S)
                    self._stderr.seek(0)
                    stderr = self._stderr.read()[-4000:]
                except (subprocess.TimeoutExpired, OSError):
                    pass
                self._kill()
                raise GitError(*classify(stderr.decode("utf-8", "replace"))) from None
            return out

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        if proc is None:
            return
        stop_process(proc)

    def close(self) -> None:
        with self._lock:
            self._kill()


def stop_process(proc: subprocess.Popen) -> None:
    """Close a persistent git process's pipes and reap it (killed if it lingers)."""
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            stream.close()
    try:
        proc.wait(timeout=2)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class LRU(OrderedDict):
    """A small bounded cache; values keyed by object ids never go stale."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size
        self.lock = threading.Lock()

    def get_or(self, key: Any, make: Callable[[], T]) -> T:
        with self.lock:
            if key in self:
                self.move_to_end(key)
                return self[key]
        value = make()
        self.put(key, value)
        return value

    def put(self, key: Any, value: Any) -> None:
        with self.lock:
            self[key] = value
            while len(self) > self.size:
                self.popitem(last=False)


def git_dirs(worktree: str) -> tuple[str, str] | None:
    """``(git dir, common dir)`` of the working tree at ``worktree``, as git finds them, or
    None when it has no ``.git``.

    ``.git`` is the git dir itself, or a file ``gitdir: <path>`` (a linked worktree made by
    ``git worktree add``, a submodule); a git dir with a ``commondir`` file shares its objects,
    refs, config and hooks with the main repository's (``git rev-parse --git-common-dir``).
    HEAD, the index, and merge state are the git dir's own.
    """
    dot_git = os.path.join(worktree, ".git")
    if os.path.isdir(dot_git):
        git_dir = dot_git
    elif os.path.isfile(dot_git):
        try:
            with open(dot_git, encoding="utf-8") as f:
                line = f.readline().strip()
        except (OSError, UnicodeDecodeError):
            return None
        if not line.startswith("gitdir:"):
            return None
        git_dir = os.path.join(worktree, line[len("gitdir:") :].strip())
        if not os.path.isdir(git_dir):
            return None
    else:
        return None
    git_dir = os.path.normpath(git_dir)
    common = git_dir
    try:
        with open(os.path.join(git_dir, "commondir"), encoding="utf-8") as f:
            common = os.path.normpath(os.path.join(git_dir, f.read().strip()))
    except FileNotFoundError:
        pass
    except (OSError, UnicodeDecodeError):
        return None
    return git_dir, common


def folder_identity(folder: str) -> tuple[int, int] | None:
    """``(device, inode)`` of a folder: a repository deleted and made again at the same path
    (``rm -rf proj && git clone ... proj`` in a terminal) is another repository."""
    try:
        st = os.stat(folder)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def is_worktree_root(folder: str) -> bool:
    """Is ``folder`` the top of a git working tree (``.git`` folder or ``gitdir:`` file)?"""
    return git_dirs(folder) is not None


def hooks_dir(worktree: str, common_dir: str, cfg: dict[str, str]) -> str:
    """The folder git runs hooks from: ``core.hooksPath`` (``~`` expanded; a relative path is
    taken from the top of the working tree, where git runs hooks), else ``<common dir>/hooks``.
    ``cfg`` is the effective configuration (includes applied, keys lowercased)."""
    configured = cfg.get("core.hookspath")
    if not configured:
        return os.path.join(common_dir, "hooks")
    return os.path.join(worktree, os.path.expanduser(configured))


def has_hook(worktree: str, common_dir: str, cfg: dict[str, str], name: str) -> bool:
    """Would git run hook ``name`` here (an executable file of that name in the hooks dir)?"""
    path = os.path.join(hooks_dir(worktree, common_dir, cfg), name)
    return os.path.isfile(path) and os.access(path, os.X_OK)


class Repository:
    """One repository under the server's root: its cat-file reader, its write lock, caches.

    ``path`` is the top of the working tree; ``git_dir`` and ``common_dir`` are where git keeps
    its state for it (see :func:`git_dirs`: the same folder, ``<path>/.git``, unless the working
    tree is a linked worktree or a submodule).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        dirs = git_dirs(path)
        if dirs is None:
            raise GitError(404, "no git repository here")
        self.git_dir, self.common_dir = dirs
        # held open, so that the folder's inode cannot be given to a repository made again at
        # the same path while this object lives (see :meth:`GitCore.repo`)
        self._pin = os.open(self.common_dir, os.O_RDONLY | os.O_DIRECTORY)
        st = os.fstat(self._pin)
        self.identity: tuple[int, int] | None = (st.st_dev, st.st_ino)
        self.cat = CatFile(path)
        # writes (index, refs, working tree) in one repository go one at a time; reads, and
        # other repositories, are never blocked by them
        self.write_lock = threading.Lock()
        self.snapshot_lock = threading.Lock()
        self.cache = LRU(2048)
        # used by the in-process commit (see ``fastpath``) where it cannot do the work itself:
        # blobs that git's filters convert, refs it cannot move in files
        self.hasher = LinePipe(path, "hash-object", "-w", "--stdin-paths")
        self.refs = LinePipe(path, "update-ref", "-m", "commit (mutirao)", "--stdin")

    @contextmanager
    def gitpython(self) -> Iterator[git.Repo]:
        """A short-lived GitPython ``Repo``, closed (with its helper processes) after use."""
        import git  # GitPython: imported on first use, it costs a tenth of a second at start-up

        repo = git.Repo(self.path)
        try:
            yield repo
        finally:
            repo.close()

    def git(self, *args: str, **kwargs: Any) -> bytes:
        return run_git(self.path, *args, **kwargs)

    @contextmanager
    def writing(self, timeout: float = 30.0) -> Iterator[None]:
        if not self.write_lock.acquire(timeout=timeout):
            raise GitError(409, "the repository is busy with another change; retry in a moment")
        try:
            yield
        finally:
            self.write_lock.release()

    def resolve(self, rev: str) -> str:
        """The commit id of ``rev`` (validated), through the persistent reader."""
        check_rev(rev)
        if _HEX.match(rev) and len(rev) == 40:
            return rev
        found = self.cat.read(f"{rev}^{{commit}}")
        if found is None:
            raise GitError(404, f"no version {rev!r} in this repository")
        return found[0]

    def blob(self, rev: str, path: str) -> tuple[str, bytes] | None:
        """``(blob id, content)`` of ``path`` at commit ``rev``, or None if it is not there."""
        found = self.cat.read(f"{rev}:{path}")
        if found is None or found[1] != "blob":
            return None
        return found[0], found[2]

    def close(self) -> None:
        self.cat.close()
        self.hasher.close()
        self.refs.close()
        if self._pin >= 0:
            os.close(self._pin)
            self._pin = -1


class GitCore:
    """The repositories of one server and the thread pool their blocking work runs in."""

    def __init__(self, root_dir: str, workers: int = 4) -> None:
        self.root_dir = os.path.realpath(root_dir)
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mutirao-git")
        self._repos: dict[str, Repository] = {}
        self._lock = threading.Lock()

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, lambda: fn(*args, **kwargs))

    def abspath(self, rel: str) -> str:
        rel = check_path(rel, allow_empty=True)
        full = os.path.realpath(os.path.join(self.root_dir, rel))
        if full != self.root_dir and not full.startswith(self.root_dir + os.sep):
            raise GitError(400, "the path leaves the server's folder")
        return full

    def repo(self, rel: str) -> Repository:
        """The repository at folder ``rel`` under the root (``""`` is the root itself)."""
        full = self.abspath(rel)
        with self._lock:
            found = self._repos.get(full)
        dirs = git_dirs(full)
        if dirs is None:
            raise GitError(404, f"no git repository at {rel or '/'!r}")
        if found is not None:
            if folder_identity(dirs[1]) == found.identity:
                return found
            # the repository was replaced: its persistent git processes and caches are stale
            self.forget(full)
        with self._lock:
            found = self._repos.get(full)
            if found is None:
                found = self._repos[full] = Repository(full)
            return found

    def find_repo(self, file_path: str) -> tuple[Repository, str] | None:
        """The repository holding the file at root-relative ``file_path`` and the file's path
        inside it, looking up from the file's folder to the root (never above it)."""
        try:
            rel = check_path(file_path)
        except GitError:
            return None
        parts = rel.split("/")
        for i in range(len(parts) - 1, -1, -1):
            folder = "/".join(parts[:i])
            if is_worktree_root(os.path.join(self.root_dir, folder)):
                return self.repo(folder), "/".join(parts[i:])
        return None

    def forget(self, full: str) -> None:
        with self._lock:
            repo = self._repos.pop(full, None)
        if repo is not None:
            repo.close()

    def close(self) -> None:
        with self._lock:
            repos, self._repos = list(self._repos.values()), {}
        for repo in repos:
            repo.close()
        self.pool.shutdown(wait=False, cancel_futures=True)
