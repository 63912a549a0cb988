"""Git's object and index formats, read and written in-process.

Objects are read through the repository's persistent ``git cat-file --batch`` and written as
loose objects through gitdb (GitPython's object database), so building a tree or a commit
costs no process. The index (``.git/index``, versions 2 and 3) is parsed and rewritten here
for the one thing the fast commit needs: replacing or removing a few stage-0 entries under
``index.lock``, keeping the cache tree (invalidated above the changed paths) and resolve-undo
extensions. Anything this module does not understand (index version 4, any other extension,
sha256 repositories) raises :class:`Unsupported`, and the caller falls back to the git CLI.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO

from gitdb import LooseObjectDB
from gitdb.base import IStream

from .gitcore import Repository


class Unsupported(Exception):
    """The repository uses a feature the in-process path does not handle: use the git CLI."""


# -- objects ------------------------------------------------------------------------------------


def object_db(repo: Repository) -> LooseObjectDB:
    odb = getattr(repo, "_loose_odb", None)
    if odb is None:
        odb = LooseObjectDB(os.path.join(repo.common_dir, "objects"))
        repo._loose_odb = odb  # type: ignore[attr-defined]
    return odb


def write_object(repo: Repository, kind: bytes, data: bytes) -> str:
    """Store ``data`` as a loose object of ``kind`` (unless git already has it); its id."""
    oid = hashlib.sha1(b"%s %d\0" % (kind, len(data)) + data, usedforsecurity=False).hexdigest()
    odb = object_db(repo)
    if not odb.has_object(bytes.fromhex(oid)):  # a loose copy of a packed object is harmless
        istream = odb.store(IStream(kind, len(data), BytesIO(data)))
        if istream.hexsha.decode() != oid:
            raise RuntimeError("the object database stored a different object")
    return oid


TreeEntry = tuple[bytes, bytes, bytes]  # mode, name, 20-byte id


def parse_tree(data: bytes) -> list[TreeEntry]:
    entries, i = [], 0
    while i < len(data):
        space = data.index(b" ", i)
        nul = data.index(b"\0", space)
        entries.append((data[i:space], data[space + 1 : nul], data[nul + 1 : nul + 21]))
        i = nul + 21
    return entries


def format_tree(entries: list[TreeEntry]) -> bytes:
    # git's order: names compared as bytes, a tree's name as if it ended with "/"
    def key(e: TreeEntry) -> bytes:
        return e[1] + (b"/" if e[0] == b"40000" else b"")

    return b"".join(m + b" " + n + b"\0" + oid for m, n, oid in sorted(entries, key=key))


def read_tree(repo: Repository, oid: str) -> list[TreeEntry]:
    def load() -> list[TreeEntry]:
        found = repo.cat.read(oid)
        if found is None or found[1] != "tree":
            raise Unsupported(f"tree {oid} is missing")
        return parse_tree(found[2])

    return repo.cache.get_or(("tree", oid), load)


def entry_at(repo: Repository, tree: str, path: str) -> tuple[bytes, str] | None:
    """``(mode, id)`` of ``path`` in ``tree`` (a blob or a subtree), or None."""
    oid = tree
    mode = b"40000"
    for name in path.encode("utf-8").split(b"/"):
        if mode != b"40000":
            return None
        for m, n, child in read_tree(repo, oid):
            if n == name:
                mode, oid = m, child.hex()
                break
        else:
            return None
    return mode, oid


def tree_with(
    repo: Repository, tree: str | None, changes: dict[str, tuple[bytes, str] | None]
) -> str:
    """The id of ``tree`` with each path of ``changes`` set to ``(mode, blob id)``, or removed
    (None); new trees are written, empty ones dropped."""
    entries = {e[1]: e for e in (read_tree(repo, tree) if tree else [])}
    here: dict[bytes, tuple[bytes, str] | None] = {}
    below: dict[bytes, dict[str, tuple[bytes, str] | None]] = {}
    for path, change in changes.items():
        head, _, rest = path.encode("utf-8").partition(b"/")
        if rest:
            below.setdefault(head, {})[rest.decode("utf-8")] = change
        else:
            here[head] = change
    for name, change in here.items():
        if change is None:
            entries.pop(name, None)
        else:
            entries[name] = (change[0], name, bytes.fromhex(change[1]))
    for name, sub in below.items():
        current = entries.get(name)
        subtree = current[2].hex() if current is not None and current[0] == b"40000" else None
        if current is not None and subtree is None:
            raise Unsupported(f"{name!r} is a file, not a folder")
        new = tree_with(repo, subtree, sub)
        if new == EMPTY_TREE:
            entries.pop(name, None)
        else:
            entries[name] = (b"40000", name, bytes.fromhex(new))
    data = format_tree(list(entries.values()))
    oid = write_object(repo, b"tree", data)
    repo.cache.put(("tree", oid), parse_tree(data))  # the next commit and log start from it
    return oid


EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


@dataclass(frozen=True)
class Commit:
    """The fields of a commit object that a log entry shows."""

    id: str
    tree: str
    parents: tuple[str, ...]
    author: tuple[str, str, int]
    committer: tuple[str, str, int]
    subject: str

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "parents": list(self.parents),
            "author": {"name": self.author[0], "email": self.author[1]},
            "authored_at": self.author[2],
            "committer": {"name": self.committer[0], "email": self.committer[1]},
            "committed_at": self.committer[2],
            "message": self.subject,
        }


def _ident(value: bytes) -> tuple[str, str, int]:
    lt, gt = value.index(b"<"), value.rindex(b">")
    when = value[gt + 1 :].split()
    return (
        value[:lt].strip().decode("utf-8", "replace"),
        value[lt + 1 : gt].decode("utf-8", "replace"),
        int(when[0]) if when else 0,
    )


_WS = b" \t\n\r\v\f"


def subject(message: bytes) -> str:
    """``%s`` of ``git log``: the first paragraph, its lines right-trimmed and joined by
    spaces, after any leading blank lines."""
    lines = message.split(b"\n")
    while lines and not lines[0].strip(_WS):
        lines.pop(0)
    out = []
    for line in lines:
        line = line.rstrip(_WS)
        if not line:
            break
        out.append(line)
    return b" ".join(out).decode("utf-8", "replace")


def parse_commit(oid: str, data: bytes) -> Commit:
    header, _, message = data.partition(b"\n\n")
    tree, parents, author, committer = "", [], None, None
    for line in header.split(b"\n"):
        key, _, value = line.partition(b" ")
        if key == b"tree":
            tree = value.decode()
        elif key == b"parent":
            parents.append(value.decode())
        elif key == b"author":
            author = _ident(value)
        elif key == b"committer":
            committer = _ident(value)
        elif key == b"encoding" and value.strip().lower() not in (b"utf-8", b"utf8"):
            raise Unsupported("a commit message in another encoding")
    if author is None or committer is None or not tree:
        raise Unsupported(f"commit {oid} lacks a header")
    return Commit(oid, tree, tuple(parents), author, committer, subject(message))


def remember_commit(repo: Repository, oid: str, data: bytes) -> Commit:
    commit = parse_commit(oid, data)
    repo.cache.put(("commit", oid), commit)
    return commit


def read_commit(repo: Repository, oid: str) -> Commit:
    def load() -> Commit:
        found = repo.cat.read(oid)
        if found is None or found[1] != "commit":
            raise Unsupported(f"commit {oid} is missing")
        return parse_commit(found[0], found[2])

    return repo.cache.get_or(("commit", oid), load)


# -- the index ----------------------------------------------------------------------------------


@dataclass
class IndexEntry:
    stat: bytes  # ctime, mtime, dev, ino, mode, uid, gid, size: 40 bytes as stored
    oid: bytes
    flags: int
    extended: int | None
    name: bytes

    @property
    def stage(self) -> int:
        return (self.flags >> 12) & 3

    @property
    def mode(self) -> int:
        return struct.unpack(">I", self.stat[24:28])[0]


#: Index extensions the in-process commit keeps: the cache tree (its entries above a changed
#: path are invalidated, as ``git commit`` does) and the resolve-undo records (untouched). Any
#: other extension (untracked cache, fsmonitor, offset tables, split or sparse index) is one
#: only git should rewrite: :func:`read_index` refuses it and git does the commit.
KEPT_EXTENSIONS = (b"TREE", b"REUC")


def read_index(data: bytes) -> tuple[int, list[IndexEntry], list[tuple[bytes, bytes]]]:
    """The version, entries and extensions (``(signature, data)``, in order) of an index file
    (versions 2 and 3). An extension not in :data:`KEPT_EXTENSIONS` raises ``Unsupported``."""
    try:
        return _read_index(data)
    except (struct.error, ValueError, IndexError):
        raise Unsupported("an index this module cannot read") from None


def _read_index(data: bytes) -> tuple[int, list[IndexEntry], list[tuple[bytes, bytes]]]:
    if len(data) < 32 or data[:4] != b"DIRC":
        raise Unsupported("not an index file")
    if hashlib.sha1(data[:-20], usedforsecurity=False).digest() != data[-20:]:
        raise Unsupported("the index checksum does not match")
    version, count = struct.unpack(">II", data[4:12])
    if version not in (2, 3):
        raise Unsupported(f"index version {version}")
    entries, i = [], 12
    for _ in range(count):
        stat, oid = data[i : i + 40], data[i + 40 : i + 60]
        (flags,) = struct.unpack(">H", data[i + 60 : i + 62])
        j = i + 62
        extended = None
        if flags & 0x4000:
            if version < 3:
                raise Unsupported("extended flags in a version 2 index")
            (extended,) = struct.unpack(">H", data[j : j + 2])
            j += 2
        nul = data.index(b"\0", j)
        name = data[j:nul]
        entries.append(IndexEntry(stat, oid, flags, extended, name))
        i += (j - i + len(name) + 8) & ~7
    end = len(data) - 20
    extensions = []
    while i < end:
        signature, size = data[i : i + 4], struct.unpack(">I", data[i + 4 : i + 8])[0]
        if signature not in KEPT_EXTENSIONS:
            raise Unsupported(f"index extension {signature!r}")
        if i + 8 + size > end:
            raise Unsupported("a truncated index extension")
        extensions.append((signature, data[i + 8 : i + 8 + size]))
        i += 8 + size
    return version, entries, extensions


def write_index(
    version: int, entries: list[IndexEntry], extensions: Sequence[tuple[bytes, bytes]] = ()
) -> bytes:
    out = [b"DIRC", struct.pack(">II", version, len(entries))]
    for e in entries:
        head = e.stat + e.oid + struct.pack(">H", e.flags)
        if e.extended is not None:
            head += struct.pack(">H", e.extended)
        size = len(head) + len(e.name)
        out.append(head + e.name + b"\0" * (8 - size % 8))
    for signature, payload in extensions:
        out.append(signature + struct.pack(">I", len(payload)) + payload)
    body = b"".join(out)
    return body + hashlib.sha1(body, usedforsecurity=False).digest()


def invalidate_cache_tree(payload: bytes, paths: list[bytes]) -> bytes:
    """The cache tree extension (``TREE``) with every folder that holds one of ``paths``
    marked invalid (entry count -1, no tree id), as git's ``cache_tree_invalidate_path`` does;
    the rest is kept, so ``git status`` and the next ``git commit`` reuse it."""
    nodes: list[list] = []  # [name, entry count, subtree count, tree id or None]
    pos = 0
    try:
        while pos < len(payload):
            nul = payload.index(b"\0", pos)
            name = payload[pos:nul]
            space = payload.index(b" ", nul + 1)
            count = int(payload[nul + 1 : space])
            newline = payload.index(b"\n", space + 1)
            subtrees = int(payload[space + 1 : newline])
            pos = newline + 1
            oid = None
            if count >= 0:
                oid = payload[pos : pos + 20]
                if len(oid) != 20:
                    raise ValueError("short tree id")
                pos += 20
            nodes.append([name, count, subtrees, oid])
    except ValueError:
        raise Unsupported("a cache tree this module cannot read") from None
    stale = {b""}
    for path in paths:
        parts = path.split(b"/")[:-1]
        stale.update(b"/".join(parts[: k + 1]) for k in range(len(parts)))
    # the nodes are in pre-order: each folder, then its subtrees; their full paths from a stack
    stack: list[tuple[bytes, int]] = []  # (folder path, subtrees still to come)
    for node in nodes:
        while stack and stack[-1][1] == 0:
            stack.pop()
        if stack:
            parent, left = stack.pop()
            stack.append((parent, left - 1))
            full = parent + b"/" + node[0] if parent else node[0]
        else:
            full = node[0]
        if full in stale:
            node[1], node[3] = -1, None
        stack.append((full, node[2]))
    out = []
    for name, count, subtrees, oid in nodes:
        out.append(name + b"\0" + str(count).encode() + b" " + str(subtrees).encode() + b"\n")
        if oid is not None:
            out.append(oid)
    return b"".join(out)


def stat_entry(st: os.stat_result, mode: int) -> bytes:
    """The 40 stat bytes git keeps for a file, as ``git update-index`` writes them."""
    m = 0xFFFFFFFF
    return struct.pack(
        ">10I",
        int(st.st_ctime) & m,
        st.st_ctime_ns % 1_000_000_000,
        int(st.st_mtime) & m,
        st.st_mtime_ns % 1_000_000_000,
        st.st_dev & m,
        st.st_ino & m,
        mode,
        st.st_uid & m,
        st.st_gid & m,
        st.st_size & m,
    )
