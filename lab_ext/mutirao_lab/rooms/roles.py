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
from dataclasses import dataclass, field

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
    "mutirao-personal": {"read": "viewer", "write": "viewer", "execute": "editor"},
    "nbconvert": {"read": "viewer", "write": "editor", "execute": "editor"},
    "server": {"read": "viewer", "write": "editor", "execute": "editor"},
    "sessions": {"read": "viewer", "write": "editor", "execute": "editor"},
    "terminals": {"read": "editor", "write": "editor", "execute": "editor"},
}
#: Resources of other extensions: every member reads, editors do the rest.
DEFAULT_RULE: dict[str, str | None] = {"read": "viewer", "write": "editor", "execute": "editor"}


#: Who may reach a :data:`ROUTES` entry without any room role: anyone, signed in or not.
PUBLIC = "public"
#: How a request's HTTP method is judged when a route does not name the method itself.
METHOD_ACTIONS: dict[str, str] = {
    "GET": "read",
    "HEAD": "read",
    "OPTIONS": "read",
    "POST": "write",
    "PUT": "write",
    "PATCH": "write",
    "DELETE": "write",
}


@dataclass(frozen=True)
class Route:
    """One route family of a room's server, and the lowest room role that may reach it.

    ``handlers`` are the fully qualified names of the tornado handler classes the family's
    routes are registered with (a subclass of one is judged by it, unless listed itself);
    ``read`` is the role for GET, HEAD and OPTIONS, ``write`` for POST, PUT, PATCH and
    DELETE, and ``methods`` overrides either for one method. A role is :data:`PUBLIC`
    (anyone), a room role (that role or higher) or ``None`` (nobody). ``per_person``
    routes keep one copy of their data per person (lab settings and workspaces);
    ``confined`` routes take file paths that must stay inside the room (nbdime).
    ``resource``, when set, is what the handler's own Authorizer checks are judged as
    (:data:`RULES`), for the few handlers whose jupyter-server resource says too much.
    """

    family: str
    path: str
    handlers: tuple[str, ...]
    read: str | None = "viewer"
    write: str | None = "editor"
    methods: Mapping[str, str | None] = field(default_factory=dict)
    per_person: bool = False
    confined: bool = False
    resource: str | None = None
    note: str = ""

    def minimum(self, method: str) -> str | None:
        """The lowest role that may send ``method`` here (``None``: nobody)."""
        method = method.upper()
        if method in self.methods:
            return self.methods[method]
        action = METHOD_ACTIONS.get(method)
        if action == "read":
            return self.read
        if action == "write":
            return self.write
        return None


_JS = "jupyter_server"
_LAB = "jupyterlab_server"
_YDOC = "jupyter_server_ydoc.handlers"
_NBDIME = "nbdime.webapp.nb_server_extension"
_HUB = "jupyterhub.singleuser.extension"
_C = "mutirao_lab.comments.handlers"
_V = "mutirao_lab.versioning.handlers"

#: Every route family a room's server registers, with who may reach it: the room boundary.
#: A request to a route whose handler is in no entry is refused (403), whatever its
#: handler would have done. Handlers that ask the Authorizer themselves are also judged
#: by :data:`RULES`: both must allow. The access-matrix test walks the routes a room's
#: server really registers and fails on any route missing here.
ROUTES: tuple[Route, ...] = (
    # -- jupyter-server: pages, static files and sign-in ----------------------------------
    Route(
        "static",
        "static/…, lab/extensions/…, static/lab/…, favicon.ico, robots.txt",
        (f"{_JS}.base.handlers.FileFindHandler", f"{_JS}.base.handlers.PublicStaticFileHandler"),
        read=PUBLIC,
        write=None,
        note="the lab's and the extensions' own files (no room data)",
    ),
    Route(
        "sign-in",
        "login, logout, oauth_callback",
        (
            f"{_JS}.auth.login.LoginFormHandler",
            f"{_JS}.auth.logout.LogoutHandler",
            f"{_HUB}.JupyterHubLogoutHandler",
            f"{_HUB}.JupyterHubOAuthCallbackHandler",
        ),
        read=PUBLIC,
        write=PUBLIC,
        note="signing in through the hub and out",
    ),
    Route(
        "redirects",
        "…/ (trailing slash), unknown paths (404 page)",
        (f"{_JS}.base.handlers.TrailingSlashHandler", f"{_JS}.base.handlers.Template404"),
        read=PUBLIC,
        write=PUBLIC,
        note="a redirect to the same path without its slash, and the 404 page",
    ),
    Route("home", "/ (to the default page)", (f"{_JS}.base.handlers.MainHandler",)),
    Route(
        "server-info",
        "api, api/spec.yaml, api/status, api/me, api/resolvePath",
        (
            f"{_JS}.base.handlers.APIVersionHandler",
            f"{_JS}.services.api.handlers.APISpecHandler",
            f"{_JS}.services.api.handlers.APIStatusHandler",
            f"{_JS}.services.api.handlers.IdentityHandler",
            f"{_JS}.services.api.handlers.PathResolverHandler",
        ),
        methods={"PATCH": "viewer"},
        note="who am I (PATCH /api/me changes only one's own name and colour)",
    ),
    Route("metrics", "metrics", (f"{_JS}.base.handlers.PrometheusMetricsHandler",), read="editor"),
    Route(
        "config",
        "api/config/<section>",
        (f"{_JS}.services.config.handlers.ConfigHandler",),
        note="the server's frontend config sections, shared by the room",
    ),
    Route(
        "contents",
        "api/contents/…, its checkpoints and trust, api/notebooks/…",
        (
            f"{_JS}.services.contents.handlers.ContentsHandler",
            f"{_JS}.services.contents.handlers.CheckpointsHandler",
            f"{_JS}.services.contents.handlers.ModifyCheckpointsHandler",
            f"{_JS}.services.contents.handlers.TrustNotebooksHandler",
            f"{_JS}.services.contents.handlers.NotebooksRedirectHandler",
        ),
    ),
    Route(
        "files",
        "files/…, view/…",
        (f"{_JS}.base.handlers.AuthenticatedFileHandler", f"{_JS}.view.handlers.ViewHandler"),
    ),
    Route(
        "kernels",
        "api/kernels, api/kernels/<id>, …/restart, …/interrupt",
        (
            f"{_JS}.services.kernels.handlers.MainKernelHandler",
            f"{_JS}.services.kernels.handlers.KernelHandler",
            f"{_JS}.services.kernels.handlers.KernelActionHandler",
        ),
    ),
    Route(
        "kernel-channels",
        "api/kernels/<id>/channels (websocket)",
        (f"{_JS}.services.kernels.websocket.KernelWebsocketHandler",),
        read="editor",
        note="running code",
    ),
    Route(
        "kernelspecs",
        "api/kernelspecs, api/kernelspecs/<name>, kernelspecs/<name>/…",
        (
            f"{_JS}.services.kernelspecs.handlers.MainKernelSpecHandler",
            f"{_JS}.services.kernelspecs.handlers.KernelSpecHandler",
            f"{_JS}.kernelspecs.handlers.KernelSpecResourceHandler",
        ),
        write=None,
    ),
    Route(
        "sessions",
        "api/sessions, api/sessions/<id>",
        (
            f"{_JS}.services.sessions.handlers.SessionRootHandler",
            f"{_JS}.services.sessions.handlers.SessionHandler",
        ),
    ),
    Route(
        "nbconvert",
        "nbconvert/<format>/<path>, api/nbconvert; POST nbconvert/<format>",
        (
            f"{_JS}.nbconvert.handlers.NbconvertFileHandler",
            f"{_JS}.nbconvert.handlers.NbconvertPostHandler",
            f"{_JS}.services.nbconvert.handlers.NbconvertRootHandler",
        ),
    ),
    Route(
        "csp-reports",
        "api/security/csp-report",
        (f"{_JS}.services.security.handlers.CSPReportHandler",),
        write="viewer",
        note="the browser's content-security reports",
    ),
    Route(
        "shutdown",
        "api/shutdown",
        (f"{_JS}.services.shutdown.ShutdownHandler",),
        read=None,
        note="stops the room's server for everyone",
    ),
    Route(
        "events",
        "api/events (emit), api/events/subscribe (websocket)",
        (
            f"{_JS}.services.events.handlers.EventHandler",
            f"{_JS}.services.events.handlers.SubscribeWebsocket",
        ),
    ),
    # -- jupyter-server-terminals, jupyter-lsp, jupyter-server-fileid ---------------------
    Route(
        "terminals",
        "api/terminals, api/terminals/<name>, terminals/websocket/<name>",
        (
            "jupyter_server_terminals.api_handlers.TerminalRootHandler",
            "jupyter_server_terminals.api_handlers.TerminalHandler",
            "jupyter_server_terminals.handlers.TermSocket",
        ),
        read="editor",
        note="a shell as the room's account",
    ),
    Route(
        "lsp-status",
        "lsp/status",
        ("jupyter_lsp.handlers.LanguageServersHandler",),
        write=None,
    ),
    Route(
        "lsp",
        "lsp/ws/<language server> (websocket)",
        ("jupyter_lsp.handlers.LanguageServerWebSocketHandler",),
        read="editor",
        note="language servers can change files and run code",
    ),
    Route(
        "file-ids",
        "api/fileid/id, api/fileid/path",
        (
            "jupyter_server_fileid.handler.FileIDHandler",
            "jupyter_server_fileid.handler.FilePathHandler",
        ),
        write=None,
    ),
    # -- jupyter-collaboration ------------------------------------------------------------
    Route(
        "collaboration-session",
        "api/collaboration/session/<path>",
        (f"{_YDOC}.DocSessionHandler",),
        write="viewer",
        resource="collaboration",
        note="opens a document for live co-editing; changes nothing",
    ),
    Route(
        "collaboration-room",
        "api/collaboration/room/<room> (websocket)",
        (f"{_YDOC}.YDocWebSocketHandler",),
        note="viewers and commenters receive edits; their own are dropped",
    ),
    Route(
        "collaboration-history",
        "api/collaboration/timeline/…, fork/…, undo_redo/…",
        (f"{_YDOC}.TimelineHandler", f"{_YDOC}.DocForkHandler", f"{_YDOC}.UndoRedoHandler"),
        read="editor",
        note="the document's history and forks of it",
    ),
    # -- JupyterLab -----------------------------------------------------------------------
    Route(
        "lab",
        "lab, lab/tree/…, lab/workspaces/…, doc/…",
        (f"{_LAB}.handlers.LabHandler", f"{_LAB}.handlers.NotFoundHandler"),
        write=None,
    ),
    Route(
        "lab-settings",
        "lab/api/settings, lab/api/settings/<plugin>",
        (f"{_LAB}.settings_handler.SettingsHandler",),
        write="viewer",
        per_person=True,
        note="each person's own settings (theme, shortcuts, ...)",
    ),
    Route(
        "lab-workspaces",
        "lab/api/workspaces, lab/api/workspaces/<name>",
        (f"{_LAB}.workspaces_handler.WorkspacesHandler",),
        write="viewer",
        per_person=True,
        note="each person's own layout of open tabs",
    ),
    Route(
        "lab-translations",
        "lab/api/translations, lab/api/translations/<locale>",
        (f"{_LAB}.translations_handler.TranslationsHandler",),
        write=None,
        per_person=True,
        note="in the person's own language setting",
    ),
    Route(
        "lab-listings",
        "lab/api/listings/…, lab/api/themes/…, lab/api/licenses/…, lab/api/news, lab/api/update",
        (
            f"{_LAB}.listings_handler.ListingsHandler",
            f"{_LAB}.themes_handler.ThemesHandler",
            f"{_LAB}.licenses_handler.LicensesHandler",
            "jupyterlab.handlers.announcements.NewsHandler",
            "jupyterlab.handlers.announcements.CheckForUpdateHandler",
        ),
        write=None,
    ),
    Route(
        "lab-extensions",
        "lab/api/build, lab/api/extensions, lab/api/plugins",
        (
            "jupyterlab.handlers.build_handler.BuildHandler",
            "jupyterlab.handlers.extension_manager_handler.ExtensionHandler",
            "jupyterlab.handlers.plugin_manager_handler.PluginHandler",
        ),
        note="installing, building and turning on extensions changes the lab for everyone",
    ),
    # -- nbdime ---------------------------------------------------------------------------
    Route(
        "nbdime-pages",
        "nbdime/difftool, nbdime/checkpoint-difftool, nbdime/git-difftool",
        (
            f"{_NBDIME}.AuthMainDifftoolHandler",
            f"{_NBDIME}.CheckpointDifftoolHandler",
            f"{_NBDIME}.GitDifftoolHandler",
        ),
        write=None,
    ),
    Route(
        "nbdime-api",
        "nbdime/api/diff, nbdime/api/gitdiff, nbdime/api/isgit",
        (
            f"{_NBDIME}.ExtensionApiDiffHandler",
            f"{_NBDIME}.GitDiffHandler",
            f"{_NBDIME}.IsGitHandler",
        ),
        methods={"POST": "viewer"},
        write=None,
        confined=True,
        note="diffs files inside the room only; never fetches a URL",
    ),
    # -- Mutirão --------------------------------------------------------------------------
    Route(
        "mutirao-info",
        "mutirao/api/version, mutirao/api/runtime",
        ("mutirao_lab.handlers.VersionHandler", "mutirao_lab.runtime.RuntimeHandler"),
        write=None,
    ),
    Route(
        "comments",
        "mutirao/api/comments/threads/…, …/export, …/events",
        (
            f"{_C}.ThreadsHandler",
            f"{_C}.ThreadHandler",
            f"{_C}.ResolveHandler",
            f"{_C}.RepliesHandler",
            f"{_C}.CommentHandler",
            f"{_C}.CommentEventsHandler",
        ),
        write="commenter",
        note="the comments API then applies its own finer rule: a commenter edits and "
        "deletes only their own comments",
    ),
    Route(
        "comments-export",
        "mutirao/api/comments/export",
        (f"{_C}.ExportHandler",),
        note="GET downloads a notebook's threads; POST writes a new notebook file",
    ),
    Route(
        "comments-personal",
        "mutirao/api/comments/mentions, …/mentions/read, …/members",
        (f"{_C}.MentionsHandler", f"{_C}.MentionsReadHandler", f"{_C}.MembersHandler"),
        write="viewer",
        resource="mutirao-personal",
        note="one's own mentions; marking them read changes nothing others see",
    ),
    Route(
        "versioning",
        "mutirao/api/git/…",
        (
            f"{_V}.working.InitHandler",
            f"{_V}.working.StatusHandler",
            f"{_V}.working.LocateHandler",
            f"{_V}.working.StageHandler",
            f"{_V}.working.CommitHandler",
            f"{_V}.history.LogHandler",
            f"{_V}.history.ShowHandler",
            f"{_V}.history.RestoreHandler",
            f"{_V}.history.SnapshotsHandler",
            f"{_V}.history.PromoteHandler",
            f"{_V}.history.DiffHandler",
            f"{_V}.branches.BranchesHandler",
            f"{_V}.branches.CheckoutHandler",
            f"{_V}.branches.MergeHandler",
            f"{_V}.branches.ConflictHandler",
            f"{_V}.remotes.CloneHandler",
            f"{_V}.remotes.RemoteHandler",
            f"{_V}.resolve.ResolveHandler",
        ),
    ),
    Route(
        "git-credentials",
        "mutirao/api/git/credentials",
        (f"{_V}.remotes.CredentialsHandler",),
        read="editor",
        note="one's own credentials for pushing and pulling, which only editors do",
    ),
)

_BY_HANDLER: dict[str, Route] = {name: route for route in ROUTES for name in route.handlers}


def class_name(cls: type) -> str:
    """A handler class's fully qualified name, as :data:`ROUTES` spells it."""
    return f"{cls.__module__}.{cls.__name__}"


def route_for(handler_class: type) -> Route | None:
    """The :data:`ROUTES` entry of a handler class (or of its nearest listed base class);
    ``None``: not in the table, so nobody may reach it."""
    for cls in getattr(handler_class, "__mro__", ()):
        route = _BY_HANDLER.get(class_name(cls))
        if route is not None:
            return route
    return None


def may_reach(role: str | None, route: Route | None, method: str) -> bool:
    """May someone with room role ``role`` (``None``: no role, or not signed in) send
    ``method`` to ``route``? Unknown routes and methods are refused; owners may do all the
    rest."""
    if route is None:
        return False
    minimum = route.minimum(method)
    if minimum is None:
        return False
    if minimum == PUBLIC:
        return True
    return role_rank(role) >= role_rank(minimum) > 0


def _who(role: str | None) -> str:
    if role is None:
        return "nobody"
    if role == PUBLIC:
        return "anyone"
    return role if role == "owner" else f"{role}+"


def route_table_markdown() -> str:
    """:data:`ROUTES` as the Markdown table of the admin guide (docs/admin/room-roles.md)."""
    lines = [
        "| route family | paths (under the server's base URL) | GET, HEAD, OPTIONS "
        "| POST, PUT, PATCH, DELETE | notes |",
        "|---|---|---|---|---|",
    ]
    for route in ROUTES:
        read, write = _who(route.read), _who(route.write)
        for method, role in route.methods.items():
            if METHOD_ACTIONS.get(method) == "write":
                write = f"{method}: {_who(role)}" + ("" if write == "nobody" else f"; {write}")
            else:
                read = f"{method}: {_who(role)}; {read}"
        notes = route.note
        if route.per_person:
            notes = (notes + "; " if notes else "") + "one copy per person"
        if route.confined:
            notes = (notes + "; " if notes else "") + "paths checked"
        path = route.path.replace("<", "&lt;").replace(">", "&gt;")
        lines.append(f"| `{route.family}` | {path} | {read} | {write} | {notes} |")
    return "\n".join(lines) + "\n"


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
