"""The jupyter-server extension: wires Mutirão's REST handlers into the single-user server."""

from __future__ import annotations

import gc
import os
from collections.abc import Callable
from typing import Any

from jupyter_core.paths import jupyter_data_dir
from jupyter_server.extension.application import ExtensionApp
from tornado.ioloop import IOLoop, PeriodicCallback
from traitlets import Bool, Float, Int, Type, Unicode, default, validate
from traitlets.utils.importstring import import_item

from . import __version__
from .comments.handlers import (
    CommentEventsHandler,
    CommentHandler,
    ExportHandler,
    MembersHandler,
    MentionsHandler,
    MentionsReadHandler,
    RepliesHandler,
    ResolveHandler,
    ThreadHandler,
    ThreadsHandler,
)
from .comments.roles import OwnerRoleResolver, RoleResolver
from .comments.service import CONTENTS_EVENTS, CommentsService
from .comments.store import CommentStore
from .handlers import VersionHandler
from .jsonbody import DEFAULT_MAX_DEPTH
from .looplag import LoopLagProbe
from .notify import Notifier
from .rooms import newcomers, pageconfig, roles, routes, save_on_stop, timeline, ydoc_filter
from .rooms.authorizer import RoomAuthorizer
from .rooms.contents import room_contents_class
from .rooms.resolver import RoomRoleResolver
from .rooms.roles import DEFAULT_ROOM_PREFIX, is_room
from .rooms.sessions import OpenSockets
from .rooms.shares import HubShares
from .runtime import RuntimeHandler
from .versioning.birth import ensure_repository
from .versioning.gitcore import GitError, check_branch_name
from .versioning.handlers import handlers as versioning_handlers
from .versioning.service import Versioning

# ids are matched loosely so that a malformed one gets the API's JSON 404, not a page
_ID = r"([^/]+)"


def _is_room_authorizer(configured: object) -> bool:
    cls = import_item(configured) if isinstance(configured, str) else configured
    return isinstance(cls, type) and issubclass(cls, RoomAuthorizer)


class MutiraoApp(ExtensionApp):
    """Mutirão's server extension; every handler lives under ``<base_url>mutirao/api/``."""

    name = "mutirao_lab"
    # the lab extension is served by JupyterLab itself; this app only adds REST handlers
    load_other_extensions = True

    comments_db_path = Unicode(
        help="""Where the comments database (SQLite) is.

        Default: ``<root_dir>/.mutirao/comments.sqlite``, inside the folder the server serves,
        so a room's comments move, are backed up and are deleted with the room's files. A
        relative path is taken from the server's ``root_dir``. The folder is created if needed.
        It must be on a local file system (SQLite's WAL mode needs shared memory, which
        network file systems such as NFS do not give reliably). Example::

            c.MutiraoApp.comments_db_path = "/home/jovyan/.mutirao/comments.sqlite"

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    share_refresh_interval = Float(
        10.0,
        help="""Seconds between two readings of a room's shares from the hub.

        On a room's server, members who open the room in the browser get their room role from
        the room's JupyterHub shares (to them, to one of their teams, or from an accepted
        share link), read with the server's own token and re-read this often: a new share or
        a revoked one takes effect within this time, on REST calls and on open websockets
        (documents, kernels, terminals, events) alike: a socket the new role no longer allows
        is closed. Default: ``10``. Example::

            c.MutiraoApp.share_refresh_interval = 30

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    @default("comments_db_path")
    def _default_comments_db_path(self):
        return os.path.join(".mutirao", "comments.sqlite")

    role_resolver_class = Type(
        default_value=OwnerRoleResolver,
        klass=RoleResolver,
        help="""How the comments API learns a user's room role (viewer, commenter, editor,
        owner) and who can be @mentioned.

        Default: on a room's server (``$JUPYTERHUB_USER`` starts with the room prefix),
        ``mutirao_lab.rooms.resolver.RoomRoleResolver``: the room role the server enforces,
        from the user's JupyterHub scopes. Elsewhere
        ``mutirao_lab.comments.roles.OwnerRoleResolver``, for a personal server: every user
        the server lets in is its owner, and the only member is the server's owner
        (``$JUPYTERHUB_USER``). For a fixed table of roles, use ``StaticRoleResolver``.
        Example::

            c.MutiraoApp.role_resolver_class = "mutirao_lab.comments.roles.StaticRoleResolver"
            c.StaticRoleResolver.roles = {"ana": "owner", "bruno": "commenter"}

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    @default("role_resolver_class")
    def _default_role_resolver_class(self):
        authorizer = getattr(self.serverapp, "authorizer", None)
        prefix = (
            authorizer.room_user_prefix
            if isinstance(authorizer, RoomAuthorizer)
            else DEFAULT_ROOM_PREFIX
        )
        if is_room(os.environ.get("JUPYTERHUB_USER", ""), prefix):
            return RoomRoleResolver
        return OwnerRoleResolver

    snapshot_interval = Float(
        60.0,
        help="""Shortest time, in seconds, between two automatic snapshots of one file.

        Every save of a file in a git repository under the server's folder is recorded as a
        snapshot on the hidden ref ``refs/mutirao/snapshots/<branch>``: the first save at once,
        later saves of the same file at most once per interval (the last save of a burst is
        always kept). ``0`` snapshots every save. Default: ``60``. Example::

            c.MutiraoApp.snapshot_interval = 300  # five minutes

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    @validate("snapshot_interval", "diff_timeout_s")
    def _check_non_negative(self, proposal):
        if proposal["value"] < 0:
            raise ValueError(f"{proposal['trait'].name} must be >= 0")
        return proposal["value"]

    max_diff_bytes = Int(
        50_000_000,
        help="""Largest file, in bytes, that the diff API compares.

        A diff of a larger file (either side) answers ``413`` with a message naming this
        limit instead of using the server's memory and time. It is also the largest merged
        notebook a conflict resolution (``POST /git/resolve``) may send. Default:
        ``50000000`` (50 MB). Example::

            c.MutiraoApp.max_diff_bytes = 200_000_000

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    diff_timeout_s = Float(
        20.0,
        help="""Longest time, in seconds, one diff may compute before it is abandoned.

        A diff that takes longer answers ``413`` with a message saying so, instead of
        holding the request. Finished diffs are cached by the two files' git blob ids, so
        asking again is immediate. Default: ``20``. Example::

            c.MutiraoApp.diff_timeout_s = 60

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    credentials_dir = Unicode(
        help="""Folder where each user's credentials for git remotes (pull, push, clone) are
        kept, one file per user (mode 0600, folder mode 0700).

        Credentials are never written into a repository's ``.git/config`` or its remote URL;
        git gets them through a ``GIT_ASKPASS`` helper in this folder, from its environment.
        Keep the folder outside the server's root folder, so the contents API never serves
        it. Default: ``<jupyter data dir>/mutirao/git-credentials`` (usually
        ``~/.local/share/jupyter/mutirao/git-credentials``). Example::

            c.MutiraoApp.credentials_dir = "/srv/mutirao/credentials"

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    @default("credentials_dir")
    def _default_credentials_dir(self):
        return os.path.join(jupyter_data_dir(), "mutirao", "git-credentials")

    max_json_depth = Int(
        DEFAULT_MAX_DEPTH,
        help="""Deepest nesting of arrays and objects that a JSON request body of Mutirão's
        APIs (comments, versioning) may have; a deeper body answers ``400``.

        Each API also bounds a body's size (``413`` past it): comments 6 × 64 KiB plus 64 KiB,
        versioning 1 MiB, and a conflict resolution ``max_diff_bytes``. Default: ``64``.
        Example::

            c.MutiraoApp.max_json_depth = 128

        .. versionadded:: 0.2
        """,
    ).tag(config=True)

    @validate("max_json_depth")
    def _check_depth(self, proposal):
        # Python's JSON parser recurses once per level: stay well inside its recursion limit
        if not 1 <= proposal["value"] <= 500:
            raise ValueError("max_json_depth must be between 1 and 500")
        return proposal["value"]

    max_timeline_forks = Int(
        timeline.DEFAULT_MAX_FORKS,
        help="""Most document timelines (jupyter-collaboration's ``GET
        api/collaboration/timeline``, the history slider) the server keeps at once.

        Each timeline is a copy of the document's whole history; asked again for a document
        that has not changed, the copy already made is given. Past this many, the least
        recently asked for is released (a client still stepping through it is told the fork
        is gone). Each may weigh tens of megabytes on a large notebook. Default: ``2``.
        Example::

            c.MutiraoApp.max_timeline_forks = 8

        .. versionadded:: 0.2
        """,
    ).tag(config=True)

    allow_insecure_remotes = Bool(
        False,
        help="""Also accept ``http://`` git remotes (clone, pull, push), for a git server on a
        trusted network without TLS. Credentials then cross the network unencrypted.

        ``https://`` is always accepted; ``ssh``, ``file://``, ``ext::`` and other transports
        are always refused. Default: ``False``. Example::

            c.MutiraoApp.allow_insecure_remotes = True

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    default_branch = Unicode(
        "main",
        help="""The branch of a repository Mutirão initializes: a room's at its birth, and
        any folder's through "Initialize repository" in the History panel
        (``POST /git/init``). Default: ``main``. Example::

            c.MutiraoApp.default_branch = "trunk"

        .. versionadded:: 0.2
        """,
    ).tag(config=True)

    @validate("default_branch")
    def _check_default_branch(self, proposal):
        try:
            return check_branch_name(proposal["value"])
        except GitError as e:
            raise ValueError(e.message) from None

    init_room_repository = Bool(
        True,
        help="""Make a room's folder a git repository when the room's server starts and the
        folder is not one yet: ``git init`` on ``default_branch``, a ``.gitignore`` that keeps
        out secrets and runtime files, and a first commit of it, authored by the room's
        creator (named by the rooms service at start) or else by the room. Only on a room's
        server (``$JUPYTERHUB_USER`` starts with the room prefix); personal servers offer
        "Initialize repository" in the History panel instead. Default: ``True``. Example::

            c.MutiraoApp.init_room_repository = False

        .. versionadded:: 0.2
        """,
    ).tag(config=True)

    notifications_url = Unicode(
        "",
        help="""Where the server posts its people's notifications (mentions, replies in their
        threads, restores of notebooks they have open): the rooms service's
        ``api/notifications`` URL, reached with the server's JupyterHub token.

        Default: empty, which means the rooms service's own address that
        ``rooms_service_config`` gives servers (``$MUTIRAO_ROOMS_URL``); outside JupyterHub,
        or without the rooms service, nothing is posted. Set it when servers reach the hub's
        services by another address, say in Docker or Kubernetes. Example::

            c.MutiraoApp.notifications_url = (
                "http://hub:8000/services/mutirao-rooms/api/notifications"
            )

        .. versionadded:: 0.2
        """,
    ).tag(config=True)

    def initialize_settings(self):
        assert self.serverapp is not None
        assert self.serverapp.event_logger is not None
        path = os.path.join(self.serverapp.root_dir, os.path.expanduser(self.comments_db_path))
        store = CommentStore(path)
        store.wait_open()  # a database that cannot be opened should stop the server, loudly
        self.comments = CommentsService(
            store,
            self.role_resolver_class(parent=self),
            # the live settings: jupyter_server_fileid may add its manager after this runs
            self.serverapp.web_app.settings,
            self.log,
        )
        self.notifier = Notifier.from_env(self.log, self.notifications_url)
        self.comments.notifier = self.notifier
        if self.notifier is not None:
            self.log.info("Mutirão notifications go to %s", self.notifier.url)
        self.serverapp.event_logger.add_listener(
            schema_id=CONTENTS_EVENTS, listener=self.comments.on_contents_event
        )
        self.log.info("Mutirão comments database: %s", path)
        self.versioning = Versioning(self, self.comments.roles)
        self.versioning.attach(self.serverapp)
        self._birth()
        self._watch_shares()

    def _link_jupyter_server_extension(self, serverapp):
        super()._link_jupyter_server_extension(serverapp)
        # Room roles are enforced by RoomAuthorizer. Config in jupyter_server_config.d files
        # is read for jpserver_extensions only, so the extension installs the Authorizer
        # itself while linking (before the server builds its configurables), unless the
        # admin chose another one.
        self._keep_contents_in_the_room(serverapp)
        configured = serverapp.config.ServerApp.get("authorizer_class")
        prefix = serverapp.config.RoomAuthorizer.get("room_user_prefix", DEFAULT_ROOM_PREFIX)
        room = is_room(os.environ.get("JUPYTERHUB_USER", ""), prefix)
        if room:
            # a room's server must not run with part of its boundary missing: an extension
            # that fails to link or load (Mutirão's own included) stops it
            serverapp.reraise_server_extension_failures = True
        if configured is None:
            serverapp.authorizer_class = RoomAuthorizer
        elif room and not _is_room_authorizer(configured):
            raise routes.RoomBoundaryError(
                f"ServerApp.authorizer_class is {configured}: a room's server needs "
                "mutirao_lab.rooms.authorizer.RoomAuthorizer (or a subclass) to enforce "
                "room roles, and does not start without it"
            )
        else:
            self.log.warning(
                "ServerApp.authorizer_class is set to %s: Mutirão's room roles are enforced "
                "only if it is (a subclass of) mutirao_lab.rooms.authorizer.RoomAuthorizer",
                configured,
            )

    def _keep_contents_in_the_room(self, serverapp) -> None:
        """On a room's server, the contents manager follows no symlink out of the room's
        folder (:mod:`.rooms.contents`)."""
        prefix = serverapp.config.RoomAuthorizer.get("room_user_prefix", DEFAULT_ROOM_PREFIX)
        if not is_room(os.environ.get("JUPYTERHUB_USER", ""), prefix):
            return
        configured = serverapp.contents_manager_class
        room_class = room_contents_class(configured)
        if room_class is None:
            self.log.warning(
                "ServerApp.contents_manager_class is %s, not a file contents manager: Mutirão "
                "does not check where its paths lead",
                configured,
            )
            return
        serverapp.contents_manager_class = room_class

    def _birth(self) -> None:
        """A room's folder becomes a repository at its server's first start (before the
        server answers any request)."""
        authorizer = getattr(self.serverapp, "authorizer", None)
        prefix = (
            authorizer.room_user_prefix
            if isinstance(authorizer, RoomAuthorizer)
            else DEFAULT_ROOM_PREFIX
        )
        if not self.init_room_repository or not is_room(
            os.environ.get("JUPYTERHUB_USER", ""), prefix
        ):
            return
        try:
            made = ensure_repository(self.versioning.core, self.default_branch)
        except Exception as e:  # the room still opens; History offers "Initialize repository"
            self.log.warning("Mutirão: could not make the room's folder a repository: %s", e)
            return
        if made is not None:
            self.log.info(
                "Mutirão: the room's folder is a git repository (branch %s, first commit by %s)",
                made["branch"],
                made["author"]["name"],
            )

    def _watch_shares(self) -> None:
        """On a room's server under JupyterHub, keep the room's shares in the Authorizer, and
        make a change to them reach REST calls and open websockets (:mod:`.rooms.sessions`)."""
        assert self.serverapp is not None
        authorizer = self.serverapp.authorizer
        api_url = os.environ.get("JUPYTERHUB_API_URL")
        token = os.environ.get("JUPYTERHUB_API_TOKEN")
        self._shares_callback = None
        if not (isinstance(authorizer, RoomAuthorizer) and api_url and token):
            return
        if not is_room(authorizer.server_user, authorizer.room_user_prefix):
            return
        shares = HubShares(api_url, token, authorizer.server_user, authorizer.server_name, self.log)
        try:
            shares.load()
        except Exception as e:  # the periodic refresh retries; members wait until then
            self.log.warning("Could not read this room's shares from the hub yet: %s", e)
        authorizer.shares = shares
        authorizer.sockets = OpenSockets(self.log)
        self._revalidate_sockets = False
        self._refreshing = False
        # someone who was just given the room is let in at their first request
        newcomers.install(
            self.serverapp.identity_provider,
            newcomers.NewcomerRefresh(self._refresh_shares, authorizer),
        )
        # once every extension has set its own hook (JupyterHub's sets one as it initializes)
        web_app = self.serverapp.web_app
        IOLoop.current().add_callback(pageconfig.install, web_app, authorizer)
        self._shares_callback = PeriodicCallback(
            self._refresh_shares, self.share_refresh_interval * 1000, jitter=0.1
        )
        self._shares_callback.start()

    async def _refresh_shares(self) -> None:
        """Read the room's shares again and apply a change to everyone, connected or not."""
        if self._refreshing:  # the hub is slow: the next tick tries again
            return
        self._refreshing = True
        try:
            assert self.serverapp is not None
            authorizer = self.serverapp.authorizer
            assert isinstance(authorizer, RoomAuthorizer)
            shares, sockets = authorizer.shares, authorizer.sockets
            assert shares is not None
            assert sockets is not None
            hub_auth = getattr(self.serverapp.identity_provider, "hub_auth", None)
            if await shares.refresh():
                self._forget_cached_identities()
                self._revalidate_sockets = True
            if hub_auth is not None:
                # a share given and taken back between two readings leaves no trace in the
                # shares, only in the hub's older answers: ask again about those
                self._forget_cached_identities(only=shares.behind)
                only = None if self._revalidate_sockets else shares.behind
                # a failure (the hub did not answer) is retried at the next reading
                ok = await sockets.revalidate(hub_auth, only=only)
                self._revalidate_sockets = self._revalidate_sockets and not ok
            await sockets.recheck(authorizer)
        except Exception:
            self.log.exception("Applying this room's shares failed")
        finally:
            self._refreshing = False

    def _forget_cached_identities(self, only: Callable[[Any], bool] | None = None) -> None:
        """A share of this room was added, revoked, raised or lowered: forget the hub's answers
        about tokens (``only``: those for which ``only(hub user model)`` holds).

        JupyterHub's single-user auth caches who a token is, with its scopes, for up to
        ``HubAuth.cache_max_age`` (five minutes). A revoked member's token would keep its share
        scopes, and their room role, that long; a member added back would stay refused that
        long (the cached answer has no access to this server). Asking the hub again at their
        next request applies the change within ``share_refresh_interval`` instead.
        """
        assert self.serverapp is not None
        hub_auth = getattr(self.serverapp.identity_provider, "hub_auth", None)
        cache = getattr(hub_auth, "cache", None)
        if hub_auth is None or cache is None:
            return
        if only is None:
            # a fresh cache of the same kind and age (JupyterHub's own expiring dict)
            hub_auth.cache = type(cache)(hub_auth.cache_max_age)
            self.log.info("This room's shares changed: tokens are checked with the hub again")
            return
        # JupyterHub's expiring dict keeps its entries in ``values`` (a plain dict)
        entries = getattr(cache, "values", None)
        if not isinstance(entries, dict):
            return
        for key, model in list(entries.items()):
            if only(model):
                cache.pop(key, None)

    def initialize_handlers(self):
        comments = {"service": self.comments}
        api = "/mutirao/api/comments"
        self.handlers.extend(
            [
                (r"/mutirao/api/version", VersionHandler, {"version": __version__}),
                (r"/mutirao/api/runtime", RuntimeHandler),
                (rf"{api}/threads", ThreadsHandler, comments),
                (rf"{api}/threads/{_ID}", ThreadHandler, comments),
                (rf"{api}/threads/{_ID}/(resolve|reopen)", ResolveHandler, comments),
                (rf"{api}/threads/{_ID}/comments", RepliesHandler, comments),
                (rf"{api}/threads/{_ID}/comments/{_ID}", CommentHandler, comments),
                (rf"{api}/mentions", MentionsHandler, comments),
                (rf"{api}/mentions/read", MentionsReadHandler, comments),
                (rf"{api}/members", MembersHandler, comments),
                (rf"{api}/export", ExportHandler, comments),
                (rf"{api}/events", CommentEventsHandler, comments),
                *versioning_handlers(self.versioning),
            ]
        )
        # jupyter_server_ydoc (loaded before mutirao_lab: extensions load in name order)
        # has registered its websocket by now
        assert self.serverapp is not None
        if not timeline.install(self.serverapp.web_app):
            self.log.info("Mutirão: no collaboration timeline to bound")
        if not ydoc_filter.install(self.serverapp.web_app):
            self.log.info("Mutirão: no collaboration websocket to make read-only for viewers")
        self._guard_room()
        # Once the server is up, move everything start-up allocated (hundreds of thousands of
        # objects: modules, schemas, the lab's settings) out of the collector's reach: full
        # collections then scan only what requests allocate, and stop pausing a busy room's
        # event loop for a sixth of a second at a time.
        IOLoop.current().add_callback(gc.freeze)
        # mutirao_event_loop_lag_seconds in the server's /metrics (see looplag)
        self.loop_lag = LoopLagProbe()
        IOLoop.current().add_callback(self.loop_lag.start)
        # so that a stop from the hub saves open documents (see save_on_stop)
        IOLoop.current().add_callback(save_on_stop.stop_cleanly_on_sigint, self.serverapp)
        self.log.info("Mutirão server extension %s loaded", __version__)

    def _guard_room(self) -> None:
        """On a room's server, put the room boundary on every route, or refuse to start."""
        assert self.serverapp is not None
        authorizer = self.serverapp.authorizer
        if not isinstance(authorizer, RoomAuthorizer):
            if is_room(os.environ.get("JUPYTERHUB_USER", ""), DEFAULT_ROOM_PREFIX):
                raise routes.RoomBoundaryError(
                    f"the server's Authorizer is {type(authorizer).__name__}, not a "
                    "RoomAuthorizer: a room's server does not start without room roles"
                )
            return
        if not authorizer.is_room():
            return
        web_app = self.serverapp.web_app
        filtering = ydoc_filter.FilteringHandler
        for rule in routes.rules(web_app):
            route = roles.route_for(rule.target)
            if (
                route is not None
                and route.family == "collaboration-room"
                and (filtering is None or not issubclass(rule.target, filtering))
            ):
                raise routes.RoomBoundaryError(
                    f"the collaboration websocket's handler is {rule.target}, which "
                    "Mutirão cannot make read-only for viewers (has jupyter-collaboration "
                    "changed?): a room's server does not start without it"
                )
        routes.install(web_app, authorizer.judge_route)
        self.log.info("Mutirão: every route of this room's server is judged by room roles")

    async def _start_jupyter_server_extension(self, serverapp):
        # routes put in the routers without add_handlers, after every extension loaded
        authorizer = serverapp.authorizer
        if isinstance(authorizer, RoomAuthorizer) and authorizer.is_room():
            routes.install(serverapp.web_app, authorizer.judge_route)

    async def stop_extension(self):
        assert self.serverapp is not None
        if not hasattr(self, "loop_lag"):  # stopped before it was loaded (a refused start)
            return
        # read before anything awaits: jupyter-collaboration's own stop, started alongside,
        # drops its rooms without saving them
        documents = save_on_stop.unsaved_documents(self.serverapp)
        self.loop_lag.stop()
        await save_on_stop.save(documents, self.log)
        callback = getattr(self, "_shares_callback", None)
        if callback is not None:
            callback.stop()
        assert self.serverapp.event_logger is not None
        # the saves above are contents events: let the comments finish with them before
        # their database closes
        await self.serverapp.event_logger.gather_listeners()
        self.serverapp.event_logger.remove_listener(listener=self.comments.on_contents_event)
        self.comments.close()
        self.versioning.detach(self.serverapp)
