"""The jupyter-server Authorizer that enforces room roles.

Enabled by mutirao_lab's server config (``c.ServerApp.authorizer_class``). On a personal
server it allows everything to everyone the hub lets in, as JupyterHub does; in a room it
allows what :func:`.roles.allowed` allows the request's room role (from the hub user's
scopes). It follows JupyterHub's ``jupyter-server-granular-scopes`` example.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from jupyter_server.auth import Authorizer
from traitlets import Unicode, default

from . import roles
from .sessions import OpenSockets, is_websocket
from .shares import HubShares


@functools.cache
def _session_handler() -> type | None:
    try:
        from jupyter_server_ydoc.handlers import DocSessionHandler
    except ImportError:  # no jupyter-collaboration: nothing to open
        return None
    return DocSessionHandler


def auth_resource(handler: Any, resource: str) -> str:
    """The resource the room roles judge a request on.

    jupyter-collaboration opens a document with ``PUT api/collaboration/session/<path>``,
    authorized as a ``write`` on ``contents`` though it only looks the file up: it is judged
    as the ``collaboration`` resource, which viewers may write.
    """
    session = _session_handler()
    if session is not None and isinstance(handler, session):
        return "collaboration"
    return resource


class RoomAuthorizer(Authorizer):
    """Allow each request what the user's room role allows on this server.

    The room role comes from :func:`mutirao_lab.rooms.roles.user_role`: the server's own hub
    user is owner; members have the role of their ``custom:mutirao-room-<role>`` scopes for
    this server; others have no access in a room, and full access on a personal server.
    """

    server_user = Unicode(
        help="""The hub user whose server this is. Default: ``$JUPYTERHUB_USER``.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    @default("server_user")
    def _default_server_user(self) -> str:
        return os.environ.get("JUPYTERHUB_USER", "")

    server_name = Unicode(
        help="""The name of this server (``""`` for the default server).
        Default: ``$JUPYTERHUB_SERVER_NAME``.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    @default("server_name")
    def _default_server_name(self) -> str:
        return os.environ.get("JUPYTERHUB_SERVER_NAME", "")

    room_user_prefix = Unicode(
        roles.DEFAULT_ROOM_PREFIX,
        help="""Hub users whose names start with this are rooms: users without a room role
        get no access to their servers. Keep it equal to the rooms service's
        ``room_user_prefix``. Default: ``room-``. Example::

            c.RoomAuthorizer.room_user_prefix = "space-"

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    #: The room's shares as the hub last listed them (set by the server extension on a room's
    #: server under JupyterHub): a browser's OAuth token carries no share scopes, so a member
    #: signed in through the browser gets their role from here.
    shares: HubShares | None = None
    #: The websockets it let open and as whom (set with :attr:`shares`), so that a role
    #: changed on the hub reaches them (:mod:`.sessions`).
    sockets: OpenSockets | None = None

    def role(self, user: Any) -> str | None:
        """The room role of a request's user (``None``: no access)."""
        if user is None:
            return None
        hub_user = getattr(user, "hub_user", None)
        role = roles.user_role(
            user.username,
            hub_user,
            server_user=self.server_user,
            server_name=self.server_name,
            room_prefix=self.room_user_prefix,
        )
        if (
            self.shares is not None
            and hub_user is not None
            and role != "owner"
            and roles.is_room(self.server_user, self.room_user_prefix)
        ):
            groups = hub_user.get("groups") or ()
            role = roles.highest([role, self.shares.role_for(user.username, groups)])
        return role

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        role = self.role(user)
        resource = auth_resource(handler, resource)
        ok = roles.allowed(role, action, resource)
        if ok and self.sockets is not None and is_websocket(handler):
            self.sockets.track(handler, user, action, resource)
        if not ok:
            self.log.debug(
                "Room role %s of %s may not %s on %s",
                role,
                getattr(user, "username", None),
                action,
                resource,
            )
        return ok
