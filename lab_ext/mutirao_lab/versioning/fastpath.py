"""The two hot paths of the versioning API without a process per request.

Commit (:func:`commit`): committing changed tracked files, as ``git commit --only -- paths``
would, in-process. Under ``index.lock`` (taken the way git takes it, so a git command running
beside the server gets a clean "retry" and never a damaged index), the files are hashed (in
Python when no attribute or ``core.autocrlf`` can convert them, else by the repository's
persistent ``git hash-object -w --stdin-paths``, which applies git's own filters and line
endings), new trees and the commit object are written as loose objects, the branch moves
under its own lock after a check of the expected old commit (:mod:`.refs`; ``git update-ref
--stdin`` where that cannot be done; two commits racing: one lands, the other answers 409
"retry"), and the index entries of the paths take the
new blobs and the files' stat data so ``git status`` stays clean. Whatever this path does not
handle returns None and the caller uses the git CLI: new or untracked paths, folders, symlinks,
a merge or rebase in progress, an unborn or detached HEAD, hooks, signing, a comment character
or commit encoding of the user's, an index git must rewrite itself (version 4, split, sparse).

Log (:func:`derived_page`): a page of history for a tip whose ancestors' pages are cached. A
commit with one parent is shown by ``git log [--follow -- path]`` right before its parent's
history, when it changes the path; so after a commit (from here or from the command line) the
new page is the new commits, read through ``git cat-file``, in front of the cached one. A
commit that adds the path (a new file, or a rename) goes to ``git log --follow``.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import subprocess
import time
from typing import Any

from . import refs
from .gitcore import (
    GIT_TIMEOUT_S,
    GitError,
    Repository,
    check_branch_name,
    git_env,
    has_hook,
)
from .objects import (
    Commit,
    IndexEntry,
    Unsupported,
    entry_at,
    invalidate_cache_tree,
    read_commit,
    read_index,
    remember_commit,
    stat_entry,
    tree_with,
    write_index,
    write_object,
)

#: Hooks ``git commit`` runs; with any of them installed, commits go through the git CLI.
COMMIT_HOOKS = (
    "pre-commit",
    "pre-merge-commit",
    "prepare-commit-msg",
    "commit-msg",
    "post-commit",
    "post-index-change",
    "reference-transaction",
    "post-rewrite",
)
#: Repository states in which ``git commit --only`` behaves differently (or refuses).
BUSY_STATES = ("MERGE_HEAD", "CHERRY_PICK_HEAD", "REVERT_HEAD", "rebase-merge", "rebase-apply")
#: How many commits ``derived_page`` reads back before it asks ``git log`` instead.
MAX_DERIVED = 64
#: ``git gc --auto`` after this many in-process commits and snapshots (``git commit`` runs it
#: after every commit; it only checks a count, but that is a process).
GC_EVERY = 100
_GLOB = set("*?[]\\")
#: Files up to this size are hashed in-process when no attribute can convert them.
MAX_PLAIN_BYTES = 64 << 20
_CHECKIN_ATTRIBUTES = re.compile(rb"text|eol|crlf|filter|ident|working-tree-encoding")


def _config_files(repo: Repository) -> list[str]:
    """The files git reads configuration from here, whether or not they exist yet."""
    home = os.path.expanduser("~")
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    return [
        os.path.join(repo.common_dir, "config"),
        os.path.join(repo.git_dir, "config.worktree"),
        os.path.join(home, ".gitconfig"),
        os.path.join(xdg, "git", "config"),
        "/etc/gitconfig",
    ]


def _stamp(files: list[str]) -> list[tuple[int, int, int] | None]:
    stamp: list[tuple[int, int, int] | None] = []
    for f in files:
        try:
            st = os.stat(f)
            stamp.append((st.st_mtime_ns, st.st_size, st.st_ino))
        except OSError:
            stamp.append(None)
    return stamp


def config(repo: Repository) -> dict[str, str]:
    """The repository's effective git configuration (keys lowercased as git prints them, with
    ``include.path`` and ``includeIf`` applied by git itself), read again only when one of the
    files it came from, or could come from, changes."""
    cached = getattr(repo, "_config", None)
    if cached is not None and _stamp(cached[0]) == cached[1]:
        return cached[2]
    files = _config_files(repo)
    out = repo.git("config", "-z", "--list", "--show-origin", ok=(0, 1))
    values: dict[str, str] = {}
    fields = out.decode("utf-8", "replace").split("\0")
    for origin, item in zip(fields[0::2], fields[1::2], strict=False):
        if origin.startswith("file:"):
            source = os.path.join(repo.path, origin[5:])
            if source not in files:
                files.append(source)  # an included file
        key, _, value = item.partition("\n")
        if not key:
            continue
        values[key.lower()] = value
        if key.lower() == "include.path" or (
            key.lower().startswith("includeif.") and key.lower().endswith(".path")
        ):
            # an include that does not exist yet: watch for it to appear
            base = os.path.dirname(os.path.join(repo.path, origin[5:]))
            files.append(os.path.join(base, os.path.expanduser(value)))
    stamp = _stamp(files)
    repo._config = (files, stamp, values)  # type: ignore[attr-defined]
    return values


def _read_small(repo: Repository, path: str) -> bytes:
    """A small configuration file's content (b"" when absent), read again when it changes."""
    try:
        st = os.stat(path)
    except OSError:
        return b""

    def read() -> bytes:
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError:
            return b""

    return repo.cache.get_or(("file", path, st.st_mtime_ns, st.st_size, st.st_ino), read)


def _plain(repo: Repository, cfg: dict[str, str], path: str) -> bool:
    """Whether git stores ``path`` byte for byte: no ``core.autocrlf`` and no attribute file
    that could convert it (``text``, ``eol``, ``crlf``, ``filter``, ``ident``,
    ``working-tree-encoding``). Otherwise ``git hash-object`` applies git's own rules."""
    if cfg.get("core.autocrlf", "false").lower() not in ("false", "no", "off", "0"):
        return False
    home = os.path.expanduser("~")
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    sources = [
        os.path.expanduser(cfg.get("core.attributesfile", ""))
        or os.path.join(xdg, "git", "attributes"),
        "/etc/gitattributes",
        os.path.join(repo.common_dir, "info", "attributes"),
    ]
    folder = repo.path
    for part in ["", *path.split("/")[:-1]]:
        folder = os.path.join(folder, part) if part else folder
        sources.append(os.path.join(folder, ".gitattributes"))
    return not any(_CHECKIN_ATTRIBUTES.search(_read_small(repo, s)) for s in sources)


def _true(value: str | None) -> bool:
    return value is not None and value.lower() in ("", "true", "yes", "on", "1")


def _supported(repo: Repository, message: str) -> dict[str, str] | None:
    cfg = config(repo)
    if (
        _true(cfg.get("commit.gpgsign"))
        or cfg.get("i18n.commitencoding", "utf-8").lower() not in ("utf-8", "utf8")
        or "core.commentchar" in cfg
        or "core.commentstring" in cfg
        or cfg.get("extensions.objectformat", "sha1") != "sha1"
        or cfg.get("extensions.refstorage", "files") != "files"
        or _true(cfg.get("core.splitindex"))
        or "\0" in message
    ):
        return None
    if repo.git_dir != repo.common_dir:
        return None  # a linked worktree: its refs and logs are split between two folders
    if any(has_hook(repo.path, repo.common_dir, cfg, name) for name in COMMIT_HOOKS):
        return None  # git runs them: `git commit` does the commit
    if any(os.path.exists(os.path.join(repo.git_dir, s)) for s in BUSY_STATES):
        return None
    return cfg


def cleanup(message: str) -> str:
    """``git commit --cleanup=strip``: comment lines and trailing spaces dropped, runs of blank
    lines collapsed, none at either end, a final newline."""
    out: list[str] = []
    for line in message.split("\n"):
        if line.startswith("#"):
            continue
        line = line.rstrip(" \t\n\r\v\f")
        if line or (out and out[-1]):
            out.append(line)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out) + "\n" if out else ""


def _tz(ts: int) -> str:
    off = time.localtime(ts).tm_gmtoff // 60
    sign = "-" if off < 0 else "+"
    return f"{sign}{abs(off) // 60:02d}{abs(off) % 60:02d}"


def commit(
    repo: Repository, paths: list[str], message: str, author: Any, committer: Any
) -> str | None:
    """Commit ``paths`` (validated, tracked files) in-process; the new commit's id, or None
    when the git CLI must do it. Call with ``repo.writing()`` held."""
    if not paths:
        return None
    cfg = _supported(repo, message)
    text = cleanup(message)
    if cfg is None or not text:
        return None
    git_dir = repo.git_dir
    index_path = os.path.join(git_dir, "index")
    with refs.LockFile(index_path) as index_lock:
        # HEAD and the parent are read under the lock: a `git commit` or `git checkout`
        # beside us has finished or waits (both take index.lock)
        head_ref = refs.read_head(git_dir)
        if head_ref is None:
            return None  # detached, or a HEAD git must read itself
        try:
            check_branch_name(head_ref[11:])
        except GitError:
            return None  # a HEAD git would not have written: git can say what is wrong
        try:
            tip = refs.read_ref(git_dir, head_ref)
            if tip is None:
                return None  # unborn branch
            parent = read_commit(repo, tip)
            new = _commit_locked(
                repo, cfg, index_lock.fd, index_path, paths, text, parent, author, committer
            )
        except Unsupported:
            return None
        if new is None:
            return None
        subject = text.split("\n", 1)[0]
        message = f"commit (mutirao): {subject}"
        move_ref(repo, head_ref, new, parent.id, committer, message, log_head=True)
        index_lock.commit()
    maybe_gc(repo)
    return new


def _commit_locked(
    repo: Repository,
    cfg: dict[str, str],
    fd: int,
    index_path: str,
    paths: list[str],
    text: str,
    parent: Commit,
    author: Any,
    committer: Any,
) -> str | None:
    try:
        with open(index_path, "rb") as f:
            version, entries, extensions = read_index(f.read())
    except FileNotFoundError:
        raise Unsupported("no index") from None
    position = {e.name: i for i, e in enumerate(entries) if e.stage == 0}
    staged = {e.name for e in entries if e.stage}
    filemode = _true(cfg.get("core.filemode", "true"))
    changes: dict[str, tuple[bytes, str] | None] = {}
    replaced: dict[bytes, IndexEntry | None] = {}
    for path in dict.fromkeys(paths):
        name = path.encode("utf-8")
        before = entry_at(repo, parent.tree, path)
        i = position.get(name)
        if before is None or before[0] not in (b"100644", b"100755") or i is None:
            raise Unsupported(f"{path} is not a tracked file")
        old = entries[i]
        if name in staged or old.flags & 0xC000 or old.extended:
            raise Unsupported(f"{path} is conflicted, assumed unchanged or sparse")
        full = os.path.join(repo.path, path)
        if os.path.realpath(full) != os.path.join(os.path.realpath(repo.path), path):
            raise Unsupported(f"{path} is beyond a symbolic link")  # git refuses it, say why
        try:
            st = os.lstat(full)
        except FileNotFoundError:
            changes[path] = None
            replaced[name] = None
            continue
        if not stat.S_ISREG(st.st_mode):
            raise Unsupported(f"{path} is not a regular file")
        executable = bool(st.st_mode & 0o100) if filemode else old.mode == 0o100755
        mode = 0o100755 if executable else 0o100644
        # stat first: a change after this point makes the entry look modified, never clean
        oid = store_file(repo, cfg, path, st.st_size)
        changes[path] = (b"100755" if executable else b"100644", oid)
        replaced[name] = IndexEntry(
            stat_entry(st, mode), bytes.fromhex(oid), min(len(name), 0xFFF), None, name
        )
    tree = tree_with(repo, parent.tree, changes)
    if tree == parent.tree:
        raise GitError(400, "nothing to commit: the files have no changes")
    new = write_commit(repo, tree, [parent.id], author, committer, text)
    kept = [replaced.get(e.name, e) if e.stage == 0 else e for e in entries]
    changed = [p.encode("utf-8") for p in changes]
    extensions = [
        (sig, invalidate_cache_tree(data, changed) if sig == b"TREE" else data)
        for sig, data in extensions
    ]
    os.write(fd, write_index(version, [e for e in kept if e is not None], extensions))
    return new


def store_file(repo: Repository, cfg: dict[str, str], path: str, size: int) -> str:
    """Store the working-tree file ``path`` as a blob, as ``git add`` would; its id."""
    if size <= MAX_PLAIN_BYTES and _plain(repo, cfg, path):
        with open(os.path.join(repo.path, path), "rb") as f:
            return write_object(repo, b"blob", f.read())
    # git's filters and line endings apply: git hashes it
    (blob,) = repo.hasher.ask([path.encode("utf-8")], 1)
    oid = blob.decode()
    if len(oid) != 40:
        raise GitError(500, f"git hash-object answered {blob!r}")
    return oid


def write_commit(
    repo: Repository, tree: str, parents: list[str], author: Any, committer: Any, text: str
) -> str:
    """Write a commit object (``text`` already cleaned up, ending with a newline); its id."""
    now = int(time.time())
    stamp = f"{now} {_tz(now)}"
    raw = (
        f"tree {tree}\n"
        + "".join(f"parent {p}\n" for p in parents)
        + f"author {author.name} <{author.email}> {stamp}\n"
        + f"committer {committer.name} <{committer.email}> {stamp}\n\n{text}"
    ).encode()
    new = write_object(repo, b"commit", raw)
    remember_commit(repo, new, raw)  # the history panel asks for it next
    return new


def move_ref(
    repo: Repository,
    ref: str,
    new: str,
    old: str | None,
    committer: Any,
    message: str,
    log_head: bool = False,
) -> None:
    """Point ``ref`` at ``new`` if it still points at ``old`` (None: if it does not exist);
    409 "retry" otherwise. In-process (see ``refs``), or in one ``git update-ref``
    transaction where that cannot be done. ``log_head``: HEAD points at ``ref``."""
    now = int(time.time())
    ident = f"{committer.name} <{committer.email}> {now} {_tz(now)}"
    try:
        refs.move(repo, config(repo), ref, new, old, ident, message, log_head)
        return
    except Unsupported:
        pass
    expected = old or "0" * 40
    repo.refs.ask([b"start", f"update {ref} {new} {expected}".encode(), b"prepare", b"commit"], 3)


def maybe_gc(repo: Repository) -> None:
    """Every :data:`GC_EVERY` objects-writing changes made in-process (commits, snapshots),
    ``git gc --auto``: git packs loose objects when there are enough of them (``gc.auto``),
    so a room that saves all day keeps a bounded object store."""
    count = getattr(repo, "_fast_commits", 0) + 1
    repo._fast_commits = count  # type: ignore[attr-defined]
    if count % GC_EVERY == 0:
        # detaches when there is work to do, like the one `git commit` starts; the commit has
        # landed whatever happens here
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(
                ["git", "gc", "--auto", "--quiet"],
                cwd=repo.path,
                env=git_env(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
                timeout=GIT_TIMEOUT_S,
            )


# -- log ----------------------------------------------------------------------------------------


def _touches(repo: Repository, c: Commit, path: str | None) -> bool:
    if path is None:
        return True
    parent = read_commit(repo, c.parents[0])
    return entry_at(repo, c.tree, path) != entry_at(repo, parent.tree, path)


def _born(repo: Repository, c: Commit, path: str) -> bool:
    return entry_at(repo, read_commit(repo, c.parents[0]).tree, path) is None


def derived_page(
    repo: Repository, tip: str, path: str | None, skip: int, limit: int
) -> list[dict[str, Any]] | None:
    """``limit + 1`` log entries of ``tip`` from ``skip`` on (as ``git log`` gives them), from
    a cached page of an ancestor and the commits in between; None if there is none near."""
    if path is not None and (_GLOB & set(path) or path.startswith(":")):
        return None  # a pathspec with magic: git log knows best
    ahead: list[dict[str, Any]] = []
    current = tip
    try:
        for _ in range(MAX_DERIVED):
            c = read_commit(repo, current)
            if len(c.parents) != 1:
                return None
            if _touches(repo, c, path):
                if path is not None and _born(repo, c, path):
                    return None  # added or renamed here: `git log --follow` finds its past
                ahead.append(c.to_json())
            current = c.parents[0]
            if len(ahead) > skip + limit:
                return ahead[skip : skip + limit + 1]
            base_skip = max(0, skip - len(ahead))
            with repo.cache.lock:
                base = repo.cache.get(("log", current, path, base_skip, limit, False))
            if base is not None:
                combined = ahead[skip:] if skip < len(ahead) else []
                return (combined + base)[: limit + 1]
    except Unsupported:
        return None
    return None
