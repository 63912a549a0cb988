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
from tornado import web
from tornado.websocket import WebSocketHandler
from traitlets import Bool, Unicode, default

from . import roles, routes
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
    route = getattr(type(handler), routes.ROUTE_ATTR, None)
    if route is not None and route.resource is not None:
        return route.resource
    session = _session_handler()
    if session is not None and isinstance(handler, session):
        return "collaboration"
    return resource


class RoomAuthorizer(Authorizer):
    """Allow each request what the user's room role allows on this server.

    The room role comes from ``mutirao_lab.rooms.roles.user_role``: the server's own hub
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

    admins_act_as_owners = Bool(
        False,
        help="""Let JupyterHub admins into every room as owners, without a share.

        By default a hub admin who reaches a room's server without a share of the room
        (admins may reach every server) is refused everywhere in it, like any non-member:
        admins give themselves a share through the rooms service when they need one.
        Default: ``False``. Example::

            c.RoomAuthorizer.admins_act_as_owners = True

        .. versionadded:: 0.2
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
        if (
            role is None
            and self.admins_act_as_owners
            and isinstance(hub_user, dict)
            and hub_user.get("kind", "user") == "user"
            and hub_user.get("admin") is True
        ):
            role = "owner"
        return role

    def is_room(self) -> bool:
        """Is this server a room (its hub user's name starts with the room prefix)?"""
        return roles.is_room(self.server_user, self.room_user_prefix)

    async def judge_route(self, handler: Any, route: roles.Route | None) -> None:
        """The room boundary, for every request to a room's server (see :mod:`.routes`):
        refuse (403) a request its room role may not send to this route, keep nbdime's
        paths inside the room, and give lab settings and workspaces one copy per person."""
        method = handler.request.method or ""
        if route is not None and route.minimum(method) == roles.PUBLIC:
            return
        user = getattr(handler, "current_user", None)
        role = self.role(user)
        if not roles.may_reach(role, route, method):
            if user is None and not isinstance(handler, WebSocketHandler):
                # tornado's own answer to the anonymous: sign in first (GET and HEAD of a
                # page, as JupyterHub's OAuth needs), or 403
                web.authenticated(lambda _handler: None)(handler)
                if handler._finished:
                    return
            self.log.debug(
                "Room role %s of %s may not %s %s (%s)",
                role,
                getattr(user, "username", None),
                method,
                handler.request.path,
                route.family if route else "a route with no room role",
            )
            raise web.HTTPError(403)
        assert route is not None
        if route.confined:
            routes.check_nbdime_request(handler, handler.contents_manager.root_dir)
        if route.per_person and user is not None and user.username != self.server_user:
            routes.personalize(handler, user.username)

    def may_keep_socket(self, handler: Any, user: Any) -> bool:
        """Whether ``user`` may still hold ``handler``'s open websocket by the route table
        (:mod:`.sessions` asks at each reading of the shares, with the hub's latest answer)."""
        route = getattr(type(handler), routes.ROUTE_ATTR, None)
        return route is None or roles.may_reach(self.role(user), route, "GET")

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
