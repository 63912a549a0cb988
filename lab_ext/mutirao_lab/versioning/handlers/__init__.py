"""REST handlers of the versioning API, under ``<base_url>mutirao/api/git/``.

Described in ``openapi.yaml``. Every request is authenticated and authorized by the server
(resource ``mutirao``), then checked against the user's room role: members read history,
versions, snapshots and diffs; editors and owners change anything. Each user action is one
request (``POST commit {paths, message}`` stages and commits). Blocking git work runs in the
git thread pool, never on the event loop.

``repo`` names the repository's folder relative to the server's root (``""``, the default, is
the root itself); every ``path`` is relative to that repository.

The handlers are grouped by concern: the repository and its working copy (:mod:`.working`),
history and diffs (:mod:`.history`), branches and merges (:mod:`.branches`), remotes and
credentials (:mod:`.remotes`), resolving a conflicted notebook (:mod:`.resolve`), on the
shared base in :mod:`.base`. The route table is here.
"""

from __future__ import annotations

from typing import Any

from ..service import Versioning
from .branches import BranchesHandler, CheckoutHandler, ConflictHandler, MergeHandler
from .history import (
    DiffHandler,
    LogHandler,
    PromoteHandler,
    RestoreHandler,
    ShowHandler,
    SnapshotsHandler,
)
from .remotes import CloneHandler, CredentialsHandler, RemoteHandler
from .resolve import ResolveHandler
from .working import CommitHandler, InitHandler, LocateHandler, StageHandler, StatusHandler


def handlers(service: Versioning) -> list[tuple[str, Any, dict[str, Any]]]:
    """The routes, relative to the server's base URL."""
    api = "/mutirao/api/git"
    kw = {"service": service}
    return [
        (rf"{api}/init", InitHandler, kw),
        (rf"{api}/clone", CloneHandler, kw),
        (rf"{api}/status", StatusHandler, kw),
        (rf"{api}/locate", LocateHandler, kw),
        (rf"{api}/(stage|unstage)", StageHandler, kw),
        (rf"{api}/commit", CommitHandler, kw),
        (rf"{api}/log", LogHandler, kw),
        (rf"{api}/show", ShowHandler, kw),
        (rf"{api}/branches", BranchesHandler, kw),
        (rf"{api}/checkout", CheckoutHandler, kw),
        (rf"{api}/restore", RestoreHandler, kw),
        (rf"{api}/(pull|push)", RemoteHandler, kw),
        (rf"{api}/merge(/abort)?", MergeHandler, kw),
        (rf"{api}/conflict", ConflictHandler, kw),
        (rf"{api}/resolve", ResolveHandler, kw),
        (rf"{api}/credentials", CredentialsHandler, kw),
        (rf"{api}/snapshots", SnapshotsHandler, kw),
        (rf"{api}/snapshots/promote", PromoteHandler, kw),
        (rf"{api}/diff", DiffHandler, kw),
    ]
