"""A room is born a git repository.

Where: on the room's server, when it starts and its folder is not a repository yet (the first
start of a new room, or of a room made before rooms were born as repositories). The files live
there on every spawner flavour (a local folder, a Docker volume, a Kubernetes volume), so the
server is the one place that can write them; the rooms service only creates the hub user.

Who: the first commit is authored by the room's creator, whom the rooms service names when it
starts the room (the spawn option ``room_creator``, given to the server as
``$MUTIRAO_ROOM_CREATOR``, ``Display Name <e-mail>``); a room started without it (seeded from
config, or started by an admin on the hub's pages) gets the room itself as the author. The
committer is always the room (``$JUPYTERHUB_USER``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from .gitcore import GitCore
from .repo import Person, init_repo

CREATOR_ENV = "MUTIRAO_ROOM_CREATOR"
_IDENT = re.compile(r"^\s*([^<>]+?)\s*<([^<>\s]+)>\s*$")


def creator(env: Mapping[str, str]) -> Person | None:
    """The room's creator from ``$MUTIRAO_ROOM_CREATOR`` (``Name <e-mail>``), or None."""
    m = _IDENT.match(env.get(CREATOR_ENV, "")[:512])
    return Person.of(m.group(1), m.group(2)) if m else None


def ensure_repository(
    core: GitCore, branch: str, env: Mapping[str, str] = os.environ
) -> dict[str, Any] | None:
    """Make the server's folder a repository (default ``.gitignore``, first commit) unless it
    is one already; what :func:`~.repo.init_repo` answers, or None when there was nothing to
    do."""
    if os.path.lexists(os.path.join(core.root_dir, ".git")):
        return None
    owner = Person.owner()
    return init_repo(core, "", creator(env) or owner, owner, branch)
