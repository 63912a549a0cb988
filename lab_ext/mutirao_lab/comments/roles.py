"""Who is who in the comments API: the pluggable room-role resolver.

The comments API asks a :class:`RoleResolver` for the requesting user's room role and for the
members that can be @mentioned. Rooms (hub_ext) will plug in a resolver that reads the role
from the user's JupyterHub scopes; until then a personal server uses :class:`OwnerRoleResolver`.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable
from typing import Any

from traitlets import Dict, Unicode, validate
from traitlets.config import LoggingConfigurable

from .model import ROLES


class RoleResolver(LoggingConfigurable):
    """Base class: maps a request's user to a room role.

    Subclasses override both methods; either may be a coroutine.

    - ``role(user, handler)`` returns ``"viewer"``, ``"commenter"``, ``"editor"``, ``"owner"``,
      or ``None`` for someone who is not a member (the API answers 403).
    - ``members(handler)`` returns the usernames that can be @mentioned.

    ``user`` is the ``jupyter_server.auth.User`` of the request; ``handler`` is the request's
    handler, for resolvers that need its settings or headers.
    """

    def role(self, user: Any, handler: Any) -> str | Awaitable[str | None] | None:
        raise NotImplementedError

    def members(self, handler: Any) -> list[str] | Awaitable[list[str]]:
        raise NotImplementedError


class OwnerRoleResolver(RoleResolver):
    """A personal server: whoever the server lets in is its owner, with every right.

    On a JupyterHub single-user server the hub only lets in the server's owner (and those the
    owner shared the server with, who then act with the owner's rights, as everywhere else in
    the server). The only member that can be mentioned is the owner, ``$JUPYTERHUB_USER``.
    """

    def role(self, user: Any, handler: Any) -> str | None:
        return "owner"

    def members(self, handler: Any) -> list[str]:
        owner = os.environ.get("JUPYTERHUB_USER")
        if owner:
            return [owner]
        user = getattr(handler, "current_user", None)
        return [user.username] if user is not None else []


class StaticRoleResolver(RoleResolver):
    """Room roles from configuration: a fixed ``{username: role}`` table.

    For a shared server whose members are known in advance, or for tests; users not in the
    table are not members. Example::

        c.MutiraoApp.role_resolver_class = "mutirao_lab.comments.roles.StaticRoleResolver"
        c.StaticRoleResolver.roles = {"ana": "owner", "bruno": "editor", "carla": "viewer"}
    """

    roles = Dict(
        key_trait=Unicode(),
        value_trait=Unicode(),
        help="""Room role of each member, by username: viewer, commenter, editor or owner.

        Users not listed are not members: the comments API refuses them (403).
        Default: ``{}``. Example::

            c.StaticRoleResolver.roles = {"ana": "owner", "bruno": "commenter"}

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    @validate("roles")
    def _check_roles(self, proposal):
        bad = {u: r for u, r in proposal["value"].items() if r not in ROLES}
        if bad:
            raise ValueError(f"unknown room roles {bad}; roles are {', '.join(ROLES)}")
        return proposal["value"]

    def role(self, user: Any, handler: Any) -> str | None:
        return self.roles.get(user.username)

    def members(self, handler: Any) -> list[str]:
        return sorted(self.roles)
