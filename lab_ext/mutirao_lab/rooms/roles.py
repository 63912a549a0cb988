"""Room roles inside the server: who is what, and what each role may do. Pure, no IO.

A room is a hub user ``room-<name>`` whose server is shared with its members. The hub gives
each member's token the custom scopes of their room role and of every role below it, filtered
to the room's server (``custom:mutirao-room-editor!server=room-ml-research/``); the server
reads them from the hub's user model of the request (``user.hub_user["scopes"]``, fetched by
JupyterHub's single-user extension). :func:`role_from_scopes` matches
``mutirao_hub.rooms.policy.role_from_scopes`` (this package runs where the hub's is not
installed, so it has its own copy; a test checks they agree).

:func:`user_role` decides a request's room role; :func:`allowed` decides what a role may do,
in jupyter-server's terms (an action, ``read``, ``write`` or ``execute``, on a resource,
``contents``, ``kernels``, ...).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

#: Room roles, lowest first (ARCHITECTURE.md: room role).
ROLES: tuple[str, ...] = ("viewer", "commenter", "editor", "owner")
#: The custom scope of a room role is this prefix plus the role's name.
SCOPE_PREFIX = "custom:mutirao-room-"
#: Hub users whose names start with this are rooms (the hub side's ``room_user_prefix``).
DEFAULT_ROOM_PREFIX = "room-"

ACTIONS: tuple[str, ...] = ("read", "write", "execute")

#: The lowest role allowed each action on a resource; ``None``: nobody (not even owners).
#: A resource not listed gets :data:`DEFAULT_RULE`.
#:
#: - ``mutirao`` (Mutirão's own API): commenters may write, so they can comment; each
#:   Mutirão API then checks its finer rule with the same role (comments: a commenter edits
#:   only their own; versioning: commits, restores and remotes need editor).
#: - ``collaboration``: opening a document for live co-editing
#:   (``PUT api/collaboration/session/<path>``), which jupyter-collaboration authorizes as a
#:   ``write`` on ``contents`` although it changes nothing; the Authorizer asks this resource
#:   instead, so viewers can watch live edits. Their own edits are dropped on the websocket
#:   (:mod:`.ydoc_filter`).
#: - ``events``: subscribing to the server's event bus is ``execute``; it only reads.
#: - ``terminals``: nothing below editor, not even listing them.
#: - ``server``: shutting the server down, like the rooms service's default ``stop_role``.
RULES: dict[str, dict[str, str | None]] = {
    "api": {"read": "viewer", "write": "editor", "execute": "editor"},
    "collaboration": {"read": "viewer", "write": "viewer", "execute": "editor"},
    "config": {"read": "viewer", "write": "editor", "execute": "editor"},
    "contents": {"read": "viewer", "write": "editor", "execute": "editor"},
    "csp": {"read": "viewer", "write": "viewer", "execute": "editor"},
    "events": {"read": "viewer", "write": "editor", "execute": "viewer"},
    "files": {"read": "viewer", "write": "editor", "execute": "editor"},
    "kernels": {"read": "viewer", "write": "editor", "execute": "editor"},
    "kernelspecs": {"read": "viewer", "write": "editor", "execute": "editor"},
    "lab": {"read": "viewer", "write": "editor", "execute": "editor"},
    "lsp": {"read": "viewer", "write": "editor", "execute": "editor"},
    "mutirao": {"read": "viewer", "write": "commenter", "execute": "editor"},
    "nbconvert": {"read": "viewer", "write": "editor", "execute": "editor"},
    "server": {"read": "viewer", "write": "editor", "execute": "editor"},
    "sessions": {"read": "viewer", "write": "editor", "execute": "editor"},
    "terminals": {"read": "editor", "write": "editor", "execute": "editor"},
}
#: Resources of other extensions: every member reads, editors do the rest.
DEFAULT_RULE: dict[str, str | None] = {"read": "viewer", "write": "editor", "execute": "editor"}


def role_rank(role: str | None) -> int:
    """0 for no role (not a member), 1 for viewer ... 4 for owner; unknown names are 0."""
    return ROLES.index(role) + 1 if role in ROLES else 0


def highest(roles: Iterable[str | None]) -> str | None:
    """The highest of some roles (``None`` when there are none)."""
    best = None
    for role in roles:
        if role_rank(role) > role_rank(best):
            best = role
    return best


def allowed(role: str | None, action: str, resource: str) -> bool:
    """May a member with ``role`` do ``action`` (read, write, execute) on ``resource``?

    Not a member (``None``) may do nothing; owners may do everything; others as :data:`RULES`
    says. An unknown action is refused.
    """
    if role_rank(role) == 0 or action not in ACTIONS:
        return False
    if role == "owner":
        return True
    minimum = RULES.get(resource, DEFAULT_RULE).get(action)
    if minimum is None:
        return False
    return role_rank(role) >= role_rank(minimum)


def room_filters(server_user: str, server_name: str = "") -> set[str]:
    """The scope filters that name this server: unfiltered, the server, or its hub user."""
    return {"", f"server={server_user}/{server_name}", f"user={server_user}"}


def role_from_scopes(
    scopes: Iterable[str], server_user: str | None = None, server_name: str = ""
) -> str | None:
    """The highest room role in a list of scopes, for one server.

    With ``server_user``, only scopes for that server count (unfiltered, ``!server=<user>/
    <server name>`` or ``!user=<user>``); without it, every room-role scope counts. Other
    servers' scopes and unknown custom scopes are ignored.
    """
    filters = room_filters(server_user, server_name) if server_user is not None else None
    found = []
    for scope in scopes:
        base, _, filt = scope.partition("!")
        if not base.startswith(SCOPE_PREFIX):
            continue
        role = base[len(SCOPE_PREFIX) :]
        if role not in ROLES:
            continue
        if filters is not None and filt not in filters:
            continue
        found.append(role)
    return highest(found)


def is_room(server_user: str, prefix: str = DEFAULT_ROOM_PREFIX) -> bool:
    """Is the server with hub user ``server_user`` a room?"""
    return bool(prefix) and server_user.startswith(prefix)


def user_role(
    username: str,
    hub_user: Mapping | None,
    *,
    server_user: str,
    server_name: str = "",
    room_prefix: str = DEFAULT_ROOM_PREFIX,
) -> str | None:
    """The room role of the request's user on this server (``$JUPYTERHUB_USER`` /
    ``$JUPYTERHUB_SERVER_NAME``), or ``None`` for someone with no access.

    ``hub_user`` is the hub's user model of the request (with ``scopes``), ``None`` when the
    server does not run under JupyterHub.

    1. The server's own hub user (a personal server's owner; for a room, the room's own
       token, which nobody logs in with) is ``owner``.
    2. Otherwise the highest room-role scope for this server decides.
    3. Without one: on a room, no access. On a personal server (or outside JupyterHub),
       ``owner``: whoever the hub let in keeps JupyterHub's all-or-nothing access, so the
       Authorizer changes nothing there unless a share carries a room role.

    Hub admins get no role from being admins (their tokens for a server never carry
    ``admin:servers``); like anyone, they need a share of the room, which the rooms service
    lets them give themselves.
    """
    if hub_user is None:
        # no hub: the server's own token or password; only a room can say no
        return None if is_room(server_user, room_prefix) else "owner"
    kind = hub_user.get("kind", "user")
    if kind == "user" and hub_user.get("name", username) == server_user:
        return "owner"
    role = role_from_scopes(hub_user.get("scopes") or (), server_user, server_name)
    if role is not None:
        return role
    return None if is_room(server_user, room_prefix) else "owner"
