"""Secret and runtime files: the deny list, and the default ``.gitignore`` made from it.

A server's folder holds files that must never reach a repository: the server's own secrets
(``jupyter_cookie_secret``, ``notebook_secret``), kernel connection files (their HMAC keys),
the git askpass helper and credentials, Mutirão's state (``.mutirao/``: the comments database)
and caches. A repository initialized by Mutirão gets a ``.gitignore`` naming them; the deny
list holds the same patterns and is applied by the server whatever ``.gitignore`` says (one
can be deleted or edited): ``git status`` never lists a matching file, a commit or stage
request naming one is refused, a folder committed as a whole leaves them out, and no snapshot
is taken of one.

Patterns use ``.gitignore`` syntax, matched against every component of a path: ``name/``
matches a folder of that name anywhere (and everything in it), other patterns match a file
name anywhere (``*`` and ``?`` wildcards).
"""

from __future__ import annotations

from fnmatch import fnmatchcase

#: Secrets and runtime state, never committed (folders end with ``/``).
DENIED: tuple[str, ...] = (
    # Mutirão's own state: the comments database, the askpass helper's folder
    ".mutirao/",
    # JupyterLab, Jupyter and IPython state, caches, real-time collaboration's store
    ".ipynb_checkpoints/",
    ".local/",
    ".cache/",
    ".ipython/",
    ".jupyter/",
    ".jupyter_ystore.db",
    ".virtual_documents/",
    ".npm/",
    # the server's secrets and kernels' connection files (their signing keys)
    "jupyter_cookie_secret",
    "notebook_secret",
    "kernel-*.json",
    "askpass.sh",
    # credentials
    ".git-credentials",
    ".netrc",
    ".pgpass",
    ".ssh/",
    ".aws/",
    ".docker/",
    ".env",
    ".env.*",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "id_rsa",
    "id_ecdsa",
    "id_ed25519",
    # shells' and interpreters' histories
    ".bash_history",
    ".python_history",
)

#: What a repository initialized by Mutirão ignores besides the deny list.
EXTRA_IGNORED: tuple[str, ...] = ("__pycache__/",)

_DIRS = frozenset(p[:-1] for p in DENIED if p.endswith("/"))
_FILES = tuple(p for p in DENIED if not p.endswith("/"))


def denied(path: str) -> bool:
    """Whether the repository-relative ``path`` (a file or folder) is a secret or runtime file
    or lies in a denied folder."""
    parts = [p for p in path.replace("\\", "/").split("/") if p]
    if any(part in _DIRS for part in parts):
        return True
    return bool(parts) and any(fnmatchcase(parts[-1], pattern) for pattern in _FILES)


def exclude_pathspecs() -> list[str]:
    """Git pathspecs that leave the denied files out of ``git add`` and ``git commit`` of a
    folder."""
    specs = [f":(exclude,glob)**/{name}/**" for name in sorted(_DIRS)]
    return specs + [f":(exclude,glob)**/{pattern}" for pattern in _FILES]


def gitignore_text() -> str:
    """The default ``.gitignore`` of a repository Mutirão initializes."""
    lines = [
        "# Secrets and runtime state: never committed (the server refuses them whatever this",
        "# file says; see the versioning guide).",
        *DENIED,
        "",
        "# Generated files",
        *EXTRA_IGNORED,
    ]
    return "\n".join(lines) + "\n"


def merged_gitignore(current: str) -> str:
    """``current`` (an existing ``.gitignore``) with the patterns it lacks appended."""
    have = {line.strip() for line in current.splitlines()}
    missing = [p for p in (*DENIED, *EXTRA_IGNORED) if p not in have]
    if not missing:
        return current
    head = current if not current or current.endswith("\n") else current + "\n"
    block = "\n# Secrets and runtime state (added by Mutirão)\n" + "\n".join(missing) + "\n"
    return head + block
