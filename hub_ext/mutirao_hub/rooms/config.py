"""One call in ``jupyterhub_config.py`` registers the rooms service::

    from mutirao_hub.rooms.config import rooms_service_config

    rooms_service_config(
        c,
        seed_rooms=[{"name": "ml-research", "teams": {"ml-research": "editor"}}],
    )

It adds the service to ``c.JupyterHub.services``, its role to ``c.JupyterHub.load_roles``, the
room-role scopes to ``c.JupyterHub.custom_scopes``, lets every user reach the service
(``c.JupyterHub.extra_user_scopes``), and lets a room's server receive its members' room-role
scopes in their OAuth tokens (``c.Spawner.oauth_client_allowed_scopes``) and list its own shares
(``read:shares!server`` in ``c.Spawner.server_token_scopes``), and lets members into rooms'
servers without JupyterHub's "Authorize access" page (:class:`NoConfirmClients`), makes the
page accepting a share link name the room and who invites (:mod:`.linkpage`), and lets
servers post their people's notifications to the service (``MUTIRAO_ROOMS_URL`` in
``c.Spawner.environment``, the service's access scope in their token). Calling it again
replaces what the previous call set.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from contextlib import closing
from pathlib import Path
from urllib.parse import quote

from traitlets.config import LazyConfigValue

from . import policy

#: Scopes the service's token needs: create room users and groups, start and stop their
#: servers, read people's groups and roles, and share room servers with any room-role scope.
SERVICE_SCOPES = [
    "admin:users",
    "admin:servers",
    "admin:groups",
    "read:users",
    "read:users:groups",
    "read:roles:users",
    "read:users:shares",
    "read:groups",
    "read:users:name",
    "read:groups:name",
    "list:users",
    "list:groups",
    "shares",
    "access:servers",
    *policy.custom_scopes(),
]


#: Mutirão's hub page templates (the share link's accept page).
TEMPLATES = str(Path(__file__).resolve().parent.parent / "templates")

#: JupyterHub's ``server`` role: what a server's own token holds when nothing else is set.
DEFAULT_SERVER_TOKEN_SCOPES = ["users:activity!user", "access:servers!server"]
#: Lets a server list its own shares (users hold ``read:shares`` on their own servers).
SERVER_SHARES_SCOPE = "read:shares!server"


def _current(section, key: str, empty):
    """What a config file set so far for ``key`` (``empty`` if nothing), lazy values applied."""
    if key not in section:
        return empty
    value = section[key]
    if isinstance(value, LazyConfigValue):
        # c.JupyterHub.load_roles.append(...) and friends, not yet applied to a value
        value = value.get_value(empty)
    return value


class NoConfirmClients:
    """The OAuth clients JupyterHub lets through without its "Authorize access" page.

    JupyterHub asks a person to authorize any server that is not their own before it gets
    their identity, and a room's server is nobody's own: each member would be asked once per
    room (and again whenever their scopes change). Rooms are the organisation's servers, shared
    through the rooms service, so their OAuth clients are treated like the services an admin
    marks ``oauth_no_confirm``: this object stands in for the hub's ``oauth_no_confirm_list``
    setting and holds every room server's client and, as before, those services.
    """

    def __init__(self, room_user_prefix: str):
        # Spawner.oauth_client_id of a room's default server
        self.room_client_prefix = "jupyterhub-user-" + quote(room_user_prefix)

    def __contains__(self, client_id: object) -> bool:
        if not isinstance(client_id, str):
            return False
        if client_id.startswith(self.room_client_prefix):
            return True
        from jupyterhub.app import JupyterHub

        if not JupyterHub.initialized():
            return False
        services = getattr(JupyterHub.instance(), "_service_map", {}).values()
        return any(s.oauth_no_confirm and s.oauth_client_id == client_id for s in services)


def _free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rooms_service_config(
    c,
    *,
    name: str = "mutirao-rooms",
    url: str | None = None,
    state_dir: str | Path | None = None,
    command: list[str] | None = None,
    **options,
) -> dict:
    """Register the rooms service in a JupyterHub config ``c``; return the service entry.

    ``options`` are :class:`mutirao_hub.rooms.app.RoomsService` options (``db_url``,
    ``creator_roles``, ``creator_groups``, ``seed_rooms``, ``profiles``, ...). ``url`` is where
    the service listens (default: a free port on 127.0.0.1); ``state_dir`` its working folder,
    where the SQLite database goes (default: the hub's working directory).
    """
    from .app import RoomsService  # config files should not pay for tornado imports twice

    unknown = sorted(set(options) - set(RoomsService.class_trait_names(config=True)))
    if unknown:
        # a misspelt option must not silently do nothing
        raise ValueError(f"rooms_service_config: unknown RoomsService options {unknown}")
    if state_dir is not None:
        options.setdefault("state_dir", str(state_dir))
    for key, value in options.items():
        if isinstance(value, (set, frozenset)):
            options[key] = sorted(value)
    service = {
        "name": name,
        "url": url or f"http://127.0.0.1:{_free_port()}",
        "command": command or [sys.executable, "-m", "mutirao_hub.rooms.app"],
        "environment": {"MUTIRAO_ROOMS_CONFIG": json.dumps({"RoomsService": options})},
        "oauth_no_confirm": True,
        "display": True,
    }
    if state_dir is not None:
        Path(state_dir).mkdir(parents=True, exist_ok=True)
        service["cwd"] = str(state_dir)

    hub = c.JupyterHub
    services = [s for s in _current(hub, "services", []) if s.get("name") != name]
    hub.services = [*services, service]

    role_name = f"{name}-service"
    roles = [r for r in _current(hub, "load_roles", []) if r["name"] != role_name]
    hub.load_roles = [
        *roles,
        {
            "name": role_name,
            "description": "What the Mutirão rooms service does on the hub",
            "scopes": list(SERVICE_SCOPES),
            "services": [name],
        },
    ]

    # the page that accepts a share link names the room and who invites (see .linkpage)
    from .linkpage import LinkInfo

    db_url = options.get("db_url") or (
        f"sqlite:///{Path(options.get('state_dir') or os.getcwd()) / 'mutirao_rooms.sqlite'}"
    )
    template_vars = dict(_current(hub, "template_vars", {}))
    template_vars["mutirao_link"] = LinkInfo(db_url, options.get("room_user_prefix", "room-"))
    hub.template_vars = template_vars
    paths = [p for p in _current(hub, "template_paths", []) if p != TEMPLATES]
    hub.template_paths = [TEMPLATES, *paths]

    # members enter a room without JupyterHub's "Authorize access" page (see NoConfirmClients)
    tornado_settings = dict(_current(hub, "tornado_settings", {}))
    tornado_settings["oauth_no_confirm_list"] = NoConfirmClients(
        options.get("room_user_prefix", "room-")
    )
    hub.tornado_settings = tornado_settings

    custom = dict(_current(hub, "custom_scopes", {}))
    custom.update(policy.custom_scopes())
    hub.custom_scopes = custom

    access = f"access:services!service={name}"
    extra = list(_current(hub, "extra_user_scopes", []))
    if access not in extra:
        hub.extra_user_scopes = [*extra, access]

    # A person's OAuth token for a room's server then carries their room-role scopes for it
    # (JupyterHub intersects the client's allowed scopes with the person's own, keeping the
    # !server filter), so the room's server reads them from /hub/api/user.
    role_scopes = [policy.role_scope(r) for r in policy.ROLES]
    spawner = c.Spawner
    allowed = _current(spawner, "oauth_client_allowed_scopes", [])
    if callable(allowed):
        # JupyterHub also writes this option into the server's environment as JSON, so it
        # cannot be extended here; say so instead of silently dropping the room scopes
        raise ValueError(
            "rooms_service_config: Spawner.oauth_client_allowed_scopes is a callable; add "
            f"{role_scopes} to what it returns and call rooms_service_config before setting it"
        )
    spawner.oauth_client_allowed_scopes = [
        *allowed,
        *(s for s in role_scopes if s not in allowed),
    ]

    # A browser's OAuth token carries the person's role scopes but not their shares, so a
    # room's server also reads its own shares (mutirao_lab.rooms.shares); its token needs
    # read:shares on itself, on top of JupyterHub's default server scopes.
    server_scopes = _current(spawner, "server_token_scopes", None)
    if callable(server_scopes):
        raise ValueError(
            "rooms_service_config: Spawner.server_token_scopes is a callable; add "
            f"{SERVER_SHARES_SCOPE!r} to what it returns"
        )
    server_scopes = list(server_scopes or DEFAULT_SERVER_TOKEN_SCOPES)
    # ... and posts its notifications (mentions, replies, restores) to the service
    for scope in (SERVER_SHARES_SCOPE, access):
        if scope not in server_scopes:
            server_scopes.append(scope)
    spawner.server_token_scopes = server_scopes

    # Where servers reach the service without the proxy (mutirao_lab.notify); the service's
    # own URL, which a Docker or Kubernetes deployment sets to an address its servers reach.
    environment = _current(spawner, "environment", {})
    if not callable(environment):
        spawner.environment = {
            **environment,
            "MUTIRAO_ROOMS_URL": service["url"],
            "MUTIRAO_ROOMS_SERVICE": name,
        }
    return service
