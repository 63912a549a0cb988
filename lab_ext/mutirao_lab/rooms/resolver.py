"""Comments (and versioning) follow room roles: a comments role resolver that reads them.

:class:`RoomRoleResolver` is ``MutiraoApp.role_resolver_class``'s default on a room's
server: a request's role is the one the Authorizer enforces (:func:`.roles.user_role`, from
the hub user's scopes), so comments, versions and the server agree on who is what.
"""

from __future__ import annotations

import os
from typing import Any

from traitlets import Unicode, default

from ..comments.roles import RoleResolver
from . import roles
from .authorizer import RoomAuthorizer


class RoomRoleResolver(RoleResolver):
    """Room roles from the request's JupyterHub scopes.

    The members that can be @mentioned are the people with a share of the room (as the
    server last read its shares from the hub) and those who used the server since it
    started; a role asked for without a request (by username only, as automatic snapshots
    do) is the role of that user's latest request.
    """

    room_user_prefix = Unicode(
        roles.DEFAULT_ROOM_PREFIX,
        help="""Hub users whose names start with this are rooms, as for
        ``RoomAuthorizer.room_user_prefix`` (which is used instead when the server's
        Authorizer is a ``RoomAuthorizer``). Default: ``room-``.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    server_user = Unicode(
        help="""The hub user whose server this is. Default: ``$JUPYTERHUB_USER``.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    @default("server_user")
    def _default_server_user(self) -> str:
        return os.environ.get("JUPYTERHUB_USER", "")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._seen: dict[str, str] = {}

    def role(self, user: Any, handler: Any) -> str | None:
        if user is None:
            return None
        hub_user = getattr(user, "hub_user", None)
        authorizer = getattr(handler, "authorizer", None)
        if isinstance(authorizer, RoomAuthorizer):
            role = authorizer.role(user)
        elif handler is None and hub_user is None:
            # asked by name only: what this user's latest request showed
            return self._seen.get(user.username)
        else:
            role = roles.user_role(
                user.username,
                hub_user,
                server_user=self.server_user,
                server_name=os.environ.get("JUPYTERHUB_SERVER_NAME", ""),
                room_prefix=self.room_user_prefix,
            )
        if role is None:
            self._seen.pop(user.username, None)
        elif user.username != self.server_user:
            self._seen[user.username] = role
        return role

    def members(self, handler: Any) -> list[str]:
        names = set(self._seen)
        # everyone with a share of their own (the rooms service gives one to each member of a
        # sharing team too), as the server last read its shares from the hub
        authorizer = getattr(handler, "authorizer", None)
        shares = getattr(authorizer, "shares", None)
        for kind, name in getattr(shares, "table", None) or {}:
            if kind == "user":
                names.add(name)
        if self.server_user and not roles.is_room(self.server_user, self.room_user_prefix):
            names.add(self.server_user)  # a personal server's owner
        user = getattr(handler, "current_user", None)
        if user is not None and self.role(user, handler) is not None:
            names.add(user.username)
        return sorted(names)
