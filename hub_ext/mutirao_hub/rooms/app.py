"""The rooms service: a JupyterHub-managed service with a REST API and pages.

Run by the hub (``c.JupyterHub.services``, see ``rooms_service_config`` in
:mod:`mutirao_hub.rooms.config`) as ``mutirao-rooms`` or ``python -m mutirao_hub.rooms.app``.
It reads the hub's service environment (``JUPYTERHUB_API_TOKEN``, ``JUPYTERHUB_SERVICE_URL``,
``JUPYTERHUB_SERVICE_PREFIX``, ...) and its own options from ``$MUTIRAO_ROOMS_CONFIG`` (JSON,
written by the helper) and an optional config file (``--config``).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from pathlib import Path
from urllib.parse import urlparse

from jupyterhub.services.auth import HubOAuthCallbackHandler, HubOAuthenticated, UserNotAllowed
from tornado import template, web
from tornado.escape import url_escape
from tornado.httpserver import HTTPServer
from traitlets import Dict, Enum, Float, Integer, List, Set, Unicode, default, validate
from traitlets.config import Application, Config

from .. import __version__
from ..jsonbody import DEFAULT_MAX_DEPTH, JSONBodyError, parse_json_body
from . import notifications, policy
from .db import make_session_factory
from .hubapi import HubAPI, HubAPIError
from .identities import with_identities
from .policy import ROLES, PolicyError
from .rooms import RoomsManager, Settings

HERE = Path(__file__).resolve().parent


class RoomsService(Application):
    """The rooms service: team-owned servers ("rooms") shared through JupyterHub's sharing API.

    Admins set these options through ``mutirao_hub.rooms.config.rooms_service_config``
    in ``jupyterhub_config.py``, or as ``c.RoomsService.<option>`` in a config file passed
    with ``--config``.
    """

    name = "mutirao-rooms"
    description = "Mutirão rooms: team-owned shared servers for JupyterHub"
    version = __version__

    config_file = Unicode("", help="A Python config file to load (``c.RoomsService....``).").tag(
        config=True
    )

    state_dir = Unicode(
        help="""
        Folder for the service's own files (its SQLite database). Default: the working
        directory the hub starts the service in.
        """,
    ).tag(config=True)

    @default("state_dir")
    def _default_state_dir(self):
        return os.getcwd()

    db_url = Unicode(
        help="""
        SQLAlchemy URL of the service's own tables (owning teams, profiles, archive state).
        Default: ``sqlite:///<state_dir>/mutirao_rooms.sqlite``. Any SQLAlchemy URL works,
        like ``JupyterHub.db_url``::

            c.RoomsService.db_url = "postgresql://rooms@db.example.org/mutirao_rooms"

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    @default("db_url")
    def _default_db_url(self):
        return f"sqlite:///{Path(self.state_dir) / 'mutirao_rooms.sqlite'}"

    room_user_prefix = Unicode(
        "room-",
        help="""
        Prefix of the hub users that are rooms. Must match the authenticators'
        ``room_user_prefix`` (which refuses logins under it). Default: ``room-``.
        """,
    ).tag(config=True)

    reserved_names = Set(
        Unicode(),
        default_value=set(policy.DEFAULT_RESERVED_NAMES),
        help="Names no room may take (path words of the hub and of this service).",
    ).tag(config=True)

    max_name_length = Integer(
        policy.DEFAULT_MAX_NAME_LENGTH,
        help="Longest room name, in characters. Default: 40.",
    ).tag(config=True)

    creator_roles = Set(
        Unicode(),
        default_value={"mutirao-room-creator"},
        help="""
        Hub roles whose members may create rooms. Give the role to teams with the
        authenticator's ``team_roles``::

            c.LocalTeamAuthenticator.team_roles = {"ml-research": ["mutirao-room-creator"]}

        Admins may always create rooms. Default: ``{"mutirao-room-creator"}``.
        """,
    ).tag(config=True)

    creator_groups = Set(
        Unicode(),
        help="""
        Hub groups (teams) whose members may create rooms, besides ``creator_roles``.
        Default: none.
        """,
    ).tag(config=True)

    profiles = List(
        Unicode(),
        help="""
        Profile names a room may be given: the spawner's profiles (the service runs apart
        from the spawner and cannot read them). The room's server is started with
        ``{"profile": <name>}`` as its user options. A room created without a profile gets
        the spawner's default. Empty (the default): no profile may be named.
        Example::

            c.RoomsService.profiles = ["cpu", "gpu"]

        .. versionchanged:: 0.2
           Empty no longer accepts any name.
        """,
    ).tag(config=True)

    team_profiles = Dict(
        value_trait=List(Unicode()),
        help="""
        Profiles only some teams may give a room, as the spawner's ``team_profiles``
        (``{team: [profile, ...]}``): a profile listed for any team may only be named by a
        creator in one of those teams (admins may name any). Default: none. Example::

            c.RoomsService.team_profiles = {"ml-research": ["gpu"]}

        .. versionadded:: 0.2
        """,
    ).tag(config=True)

    default_share_role = Enum(
        list(ROLES),
        "owner",
        help="""
        The lowest room role that may share a room (with users, teams and links), for rooms
        created without ``share_role``. Nobody can grant a role above their own.
        Default: ``owner``.
        """,
    ).tag(config=True)

    start_role = Enum(
        list(ROLES),
        "viewer",
        help="The lowest room role that may start the room's server. Default: ``viewer``.",
    ).tag(config=True)

    stop_role = Enum(
        list(ROLES),
        "editor",
        help="""
        The lowest room role that may stop the room's server (which stops it for every
        member). Default: ``editor``.
        """,
    ).tag(config=True)

    default_link_expiry = Integer(
        86400,
        help="""
        Seconds a share link is valid when the request does not say (60 to 31536000).
        Default: 86400 (one day).
        """,
    ).tag(config=True)

    seed_rooms: List[dict] = List(
        help="""
        Rooms created when the service starts, unless they exist: a list of
        ``{"name": ..., "teams": {team: role}, "display_name": ..., "profile": ...}``::

            c.RoomsService.seed_rooms = [
                {"name": "ml-research", "teams": {"ml-research": "editor"}},
            ]

        Missing teams are created as (empty) hub groups; the authenticator fills them at login.
        """,
    ).tag(config=True)

    sync_interval = Integer(
        30,
        help="""
        Seconds between two passes that bring the members of each sharing team in step with
        the team (JupyterHub 6 needs each member to hold a share of their own; see the
        admin guide). Someone removed from a team loses the room at the next pass after
        the authenticator's refresh. Default: 30.
        """,
    ).tag(config=True)

    max_request_bytes = Integer(
        1 << 20,
        help="""
        Largest JSON request body, in bytes, that the service's API accepts; a larger one
        answers ``413``. Default: ``1048576`` (1 MiB). Example::

            c.RoomsService.max_request_bytes = 65536

        .. versionadded:: 0.2
        """,
    ).tag(config=True)

    max_json_depth = Integer(
        DEFAULT_MAX_DEPTH,
        help="""
        Deepest nesting of arrays and objects that a JSON request body may have; a deeper
        one answers ``400``. Default: ``64``. Example::

            c.RoomsService.max_json_depth = 16

        .. versionadded:: 0.2
        """,
    ).tag(config=True)

    @validate("max_json_depth")
    def _check_depth(self, proposal):
        # Python's JSON parser recurses once per level: stay well inside its recursion limit
        if not 1 <= proposal["value"] <= 500:
            raise ValueError("max_json_depth must be between 1 and 500")
        return proposal["value"]

    room_files_template = Unicode(
        "",
        help="""
        Where a room's files are, on the machine the service runs on: a path with
        ``{username}`` for the room's hub user, like the spawner's home folder setting.
        When set, deleting a room moves its folder (its notebooks, and with them its comments
        and version history) to ``deleted_rooms_dir``; when empty (the default), deleting a
        room leaves its files where they are (a Docker volume or a Kubernetes PVC: remove
        them with the spawner's own means)::

            c.RoomsService.room_files_template = "/srv/homes/{username}"

        .. versionadded:: 0.2
        """,
    ).tag(config=True)

    deleted_rooms_dir = Unicode(
        help="""
        Folder that receives the folders of deleted rooms (see ``room_files_template``),
        each as ``room-<name>-<UTC time of deletion>``. Default:
        ``<state_dir>/deleted-rooms``. Example::

            c.RoomsService.deleted_rooms_dir = "/srv/trash/rooms"

        .. versionadded:: 0.2
        """,
    ).tag(config=True)

    @default("deleted_rooms_dir")
    def _default_deleted_rooms_dir(self):
        return str(Path(self.state_dir) / "deleted-rooms")

    deleted_rooms_keep_days = Integer(
        30,
        help="""
        Days a deleted room's folder stays in ``deleted_rooms_dir`` before the service
        removes it (an admin can bring it back meanwhile). 0 removes the folder at once,
        when the room is deleted. Default: 30. Example::

            c.RoomsService.deleted_rooms_keep_days = 7

        .. versionadded:: 0.2
        """,
    ).tag(config=True)

    smtp_host = Unicode(
        "",
        help="""
        SMTP server that e-mails notifications (mentions and shares, see ``email_kinds``).
        Empty (the default) sends no e-mail; notifications still reach the lab's bell.
        People's addresses come from the hub (the authenticator's ``user_info``)::

            c.RoomsService.smtp_host = "smtp.example.org"

        .. versionadded:: 0.2
        """,
    ).tag(config=True)

    smtp_port = Integer(
        587,
        help="""
        Port of ``smtp_host``. Default: 587 (submission with STARTTLS); 465 goes with
        ``smtp_security = "ssl"``, 25 with ``"none"`` on a trusted relay.

        .. versionadded:: 0.2
        """,
    ).tag(config=True)

    smtp_security = Enum(
        ["starttls", "ssl", "none"],
        "starttls",
        help="""
        How the connection to ``smtp_host`` is encrypted: ``"starttls"`` (the default),
        ``"ssl"`` (TLS from the start, port 465), or ``"none"`` (a relay on a trusted
        network; credentials then cross it in clear)::

            c.RoomsService.smtp_security = "ssl"

        .. versionadded:: 0.2
        """,
    ).tag(config=True)

    smtp_from = Unicode(
        "",
        help="""
        The ``From`` address of notification e-mail. Required with ``smtp_host``::

            c.RoomsService.smtp_from = "Mutirão <mutirao@example.org>"

        .. versionadded:: 0.2
        """,
    ).tag(config=True)

    smtp_username = Unicode(
        "",
        help="""
        User name to log in to ``smtp_host``; empty (the default) sends without logging in.

        .. versionadded:: 0.2
        """,
    ).tag(config=True)

    smtp_password = Unicode(
        "",
        help="""
        Password for ``smtp_username``. Default: the ``MUTIRAO_SMTP_PASSWORD`` environment
        variable of the service, so it need not be written in a config file.

        .. versionadded:: 0.2
        """,
    ).tag(config=True)

    @default("smtp_password")
    def _default_smtp_password(self):
        return os.environ.get("MUTIRAO_SMTP_PASSWORD", "")

    smtp_timeout = Float(
        20.0,
        help="""
        Seconds to wait for ``smtp_host`` before a message is given up (and logged).
        Default: 20.

        .. versionadded:: 0.2
        """,
    ).tag(config=True)

    email_kinds = Set(
        Unicode(),
        default_value={"mention", "share"},
        help="""
        Which notifications are also e-mailed when ``smtp_host`` is set: any of
        ``mention``, ``reply``, ``share``, ``restore``, ``checkout``.
        Default: ``{"mention", "share"}``::

            c.RoomsService.email_kinds = {"mention", "reply", "share"}

        .. versionadded:: 0.2
        """,
    ).tag(config=True)

    public_url = Unicode(
        "",
        help="""
        The hub's public URL (``https://hub.example.org``), put before the links in
        notification e-mail. Default: ``JUPYTERHUB_PUBLIC_URL`` if the hub sets it, else
        empty (e-mail then carries the links' paths only).

        .. versionadded:: 0.2
        """,
    ).tag(config=True)

    @default("public_url")
    def _default_public_url(self):
        return os.environ.get("JUPYTERHUB_PUBLIC_URL", "")

    aliases = {"config": "RoomsService.config_file"}  # noqa: RUF012 - traitlets reads it

    def initialize(self, argv=None):
        super().initialize(argv)
        env_config = os.environ.get("MUTIRAO_ROOMS_CONFIG")
        if env_config:
            self.update_config(Config(json.loads(env_config)))
        if self.config_file:
            self.load_config_file(self.config_file)

    def settings(self) -> Settings:
        return Settings(
            prefix=self.room_user_prefix,
            reserved_names=frozenset(self.reserved_names),
            max_name_length=self.max_name_length,
            creator_roles=set(self.creator_roles),
            creator_groups=set(self.creator_groups),
            profiles=list(self.profiles),
            team_profiles={t: list(p) for t, p in self.team_profiles.items()},
            default_share_role=self.default_share_role,
            start_role=self.start_role,
            stop_role=self.stop_role,
            default_link_expiry=self.default_link_expiry,
            base_url=os.environ.get("JUPYTERHUB_BASE_URL", "/"),
            room_files_template=self.room_files_template,
            deleted_rooms_dir=self.deleted_rooms_dir,
            deleted_rooms_keep_days=max(0, self.deleted_rooms_keep_days),
        )

    def mailer(self) -> notifications.Mailer | None:
        if not self.smtp_host:
            return None
        if not self.smtp_from:
            self.log.error("RoomsService.smtp_from is empty: notification e-mail is off")
            return None
        settings = notifications.SMTPSettings(
            host=self.smtp_host,
            port=self.smtp_port,
            sender=self.smtp_from,
            security=self.smtp_security,
            username=self.smtp_username,
            password=self.smtp_password,
            kinds=frozenset(self.email_kinds),
            timeout=self.smtp_timeout,
        )
        return notifications.Mailer(settings, self.public_url)

    def make_app(self) -> web.Application:
        prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/mutirao-rooms/")
        hub = HubAPI(
            os.environ.get("JUPYTERHUB_API_URL", "http://127.0.0.1:8081/hub/api"),
            os.environ.get("JUPYTERHUB_API_TOKEN", ""),
        )
        self.manager = RoomsManager(hub, make_session_factory(self.db_url), self.settings())
        self.notifications = notifications.Notifications(self.manager.db, self.mailer())
        p = re.escape(prefix)
        room = r"/([^/]+)"
        handlers = [
            (p + "oauth_callback", HubOAuthCallbackHandler),
            (p + "api/?", RootAPIHandler),
            (p + "api/me/?", MeAPIHandler),
            (p + "api/notifications/?", NotificationsAPIHandler),
            (p + "api/notifications/read/?", NotificationsReadAPIHandler),
            (p + "api/rooms/?", RoomsAPIHandler),
            (p + "api/invitations/?", InvitationsAPIHandler),
            (p + "api/rooms" + room + "/?", RoomAPIHandler),
            (p + "api/rooms" + room + "/shares/?", SharesAPIHandler),
            (p + "api/rooms" + room + "/shares/(users|teams|emails)/([^/]+)/?", ShareAPIHandler),
            (p + "api/rooms" + room + "/suggestions/?", SuggestionsAPIHandler),
            (p + "api/rooms" + room + "/links/?", LinksAPIHandler),
            (p + "api/rooms" + room + "/links/([^/]+)/?", LinkAPIHandler),
            (p + "api/rooms" + room + "/server/?", ServerAPIHandler),
            (p + "api/rooms" + room + "/(archive|unarchive)/?", ArchiveAPIHandler),
            (p + "api/.*", NotFoundAPIHandler),
            (p + "?", RoomsPage),
            (p + "rooms" + room + "/?", RoomPage),
            (p + "rooms" + room + "/delete/?", DeleteRoomPage),
            (p + "rooms" + room + "/(rename|start|stop|archive|unarchive)/?", RoomActionPage),
        ]
        return web.Application(
            handlers,
            manager=self.manager,
            notifications=self.notifications,
            prefix=prefix,
            hub_base_url=os.environ.get("JUPYTERHUB_BASE_URL", "/"),
            cookie_secret=os.urandom(32),
            max_request_bytes=self.max_request_bytes,
            max_json_depth=self.max_json_depth,
            template_loader=template.Loader(str(HERE / "templates"), autoescape="xhtml_escape"),
        )

    async def seed(self) -> None:
        """Create ``seed_rooms``, retrying while the hub's API is not up yet."""
        for spec in self.seed_rooms:
            for attempt in range(30):
                try:
                    if await self.manager.seed(spec):
                        self.log.info("Seeded room %s", spec.get("name"))
                    break
                except (HubAPIError, OSError) as e:
                    self.log.warning("Seeding %s failed (%s), retrying", spec.get("name"), e)
                    await asyncio.sleep(min(0.2 * 2**attempt, 5))
                except PolicyError as e:
                    self.log.error("Not seeding %s: %s", spec.get("name"), e.message)
                    break

    async def keep_in_step(self) -> None:
        await self.seed()
        while True:
            await self.manager.sync_all()
            try:
                await self.manager.purge_deleted()
            except OSError as e:
                self.log.warning("Could not purge %s: %s", self.deleted_rooms_dir, e)
            await asyncio.sleep(self.sync_interval)

    async def serve(self) -> None:
        url = urlparse(os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10101"))
        server = HTTPServer(self.make_app(), xheaders=True)
        server.listen(url.port or 80, url.hostname or "127.0.0.1")
        self.log.info("Rooms service listening on %s", url.geturl())
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            # the hub stops its managed services with SIGINT/SIGTERM: exit quietly
            loop.add_signal_handler(sig, stop.set)
        background = asyncio.ensure_future(self.keep_in_step())
        await stop.wait()
        background.cancel()
        server.stop()
        if self.notifications.mailer is not None:
            await self.notifications.mailer.drain()
        self.log.info("Rooms service stopped")

    def start(self):
        asyncio.run(self.serve())


# -- handlers ----------------------------------------------------------------------------------


class BaseHandler(HubOAuthenticated, web.RequestHandler):
    @property
    def manager(self) -> RoomsManager:
        return self.settings["manager"]

    @property
    def notifications(self) -> notifications.Notifications:
        return self.settings["notifications"]

    async def prepare(self):
        # the identity: a token in the Authorization header, or the service's login cookie
        # (with its XSRF check on requests that change something)
        model = await self.hub_auth.get_user(self, sync=False)
        user = None
        if model:
            try:
                user = self.check_hub_user(model)
            except UserNotAllowed:
                user = None
        if user is not None and user.get("kind", "user") != "user":
            user = None  # rooms act for people, not services
        self._hub_auth_user_cache = user

    async def person(self) -> dict:
        """The hub's current model of the requesting person (not the cached identity)."""
        return await self.manager.person(self.current_user["name"])


class APIHandler(BaseHandler):
    # A request signed in with the service's cookie is accepted only with the service's XSRF
    # token (HubOAuth calls check_xsrf_cookie, from HubAuthenticated, before it trusts the
    # cookie); a token in the Authorization header needs none.

    async def prepare(self):
        await super().prepare()
        if self.current_user is None:
            raise web.HTTPError(403, "Authentication required: a JupyterHub token, or log in.")

    def get_json_body(self):
        """The request's JSON body (``{}`` when empty): 413 over ``max_request_bytes``, 400 for
        text that is not JSON, nested deeper than ``max_json_depth``, or holding NUL
        characters or lone surrogates."""
        try:
            return parse_json_body(
                self.request.body,
                max_bytes=self.settings["max_request_bytes"],
                max_depth=self.settings["max_json_depth"],
            )
        except JSONBodyError as e:
            raise PolicyError(e.status, e.message) from None

    def write_json(self, model, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(model))

    def _handle_request_exception(self, e):
        if isinstance(e, PolicyError):
            self.send_error(e.status, reason=None, message=e.message)
        elif isinstance(e, HubAPIError) and 400 <= e.status < 500:
            self.send_error(e.status if e.status in (400, 404, 409) else 400, message=e.message)
        else:
            super()._handle_request_exception(e)

    def write_error(self, status_code, **kwargs):
        message = kwargs.get("message")
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if message is None and isinstance(exc, web.HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"status": status_code, "message": message or self._reason}))


class RootAPIHandler(APIHandler):
    def get(self):
        self.write_json({"version": __version__, "roles": list(ROLES)})


class MeAPIHandler(APIHandler):
    async def get(self):
        self.write_json(await self.manager.me(await self.person()))


class NotFoundAPIHandler(APIHandler):
    def get(self):
        raise web.HTTPError(404, "Not found.")

    post = delete = patch = put = get


class NotificationsAPIHandler(APIHandler):
    """``GET``: the person's notifications (unread, or ``?all=1``; ``?after=<id>`` for newer
    ones only). ``POST``: a server's event for some of its people (see
    :func:`.notifications.server_event`)."""

    async def get(self):
        unread_only = self.get_query_argument("all", "0").lower() in ("0", "false", "")
        try:
            after = int(self.get_query_argument("after", "0"))
        except ValueError:
            after = -1
        if not 0 <= after < notifications.MAX_ID:
            raise web.HTTPError(400, "after must be a notification id.")
        self.write_json(self.notifications.feed(self.current_user["name"], unread_only, after))

    async def post(self):
        body = notifications.check_post(self.get_json_body())
        delivered = await notifications.server_event(
            self.manager, self.notifications, self.current_user["name"], body
        )
        self.write_json({"notified": delivered}, 201)


class NotificationsReadAPIHandler(APIHandler):
    """``POST {"ids": [...]}`` (or ``{}`` for all): mark the person's notifications read."""

    async def post(self):
        ids = notifications.check_read(self.get_json_body())
        self.write_json({"marked": self.notifications.mark_read(self.current_user["name"], ids)})


class RoomsAPIHandler(APIHandler):
    async def get(self):
        self.write_json(await self.manager.list_rooms(await self.person()))

    async def post(self):
        model = await self.manager.create(await self.person(), self.get_json_body())
        self.write_json(model, 201)


class RoomAPIHandler(APIHandler):
    async def get(self, name):
        room, actor = await self.manager.room_for(await self.person(), name)
        self.write_json(await self.manager.detail(room, actor))

    async def patch(self, name):
        self.write_json(await self.manager.rename(await self.person(), name, self.get_json_body()))

    async def delete(self, name):
        await self.manager.delete(await self.person(), name)
        self.set_status(204)
        self.finish()


class SharesAPIHandler(APIHandler):
    async def get(self, name):
        room, actor = await self.manager.room_for(await self.person(), name)
        members = await with_identities(self.manager.hub, await self.manager.members(room))
        if self.manager.may_share(room, actor):
            members += self.manager.pending_members(room)
        self.write_json(members)

    async def post(self, name):
        person = await self.person()
        model = await self.manager.share(person, name, self.get_json_body())
        await notifications.share_event(self.manager, self.notifications, person, name, model)
        # an invitation waits for its person's first sign-in: accepted, not yet applied
        self.write_json(model, 202 if model.get("pending") else 200)


class InvitationsAPIHandler(APIHandler):
    """``POST api/invitations``: grant the shares waiting for the requester and their own
    copies of their teams' shares (the authenticator calls it at each sign-in, as the
    person)."""

    async def post(self):
        model = await self.manager.hub.get_user(self.current_user["name"])
        if model is None:
            raise web.HTTPError(403, "Unknown user.")
        applied = await self.manager.apply_pending(model)
        await self.manager.catch_up(model["name"])
        self.write_json({"applied": applied})


class SuggestionsAPIHandler(APIHandler):
    async def get(self, name):
        query = self.get_argument("q", "")
        self.write_json(await self.manager.suggest(await self.person(), name, query))


class ShareAPIHandler(APIHandler):
    async def delete(self, name, kind, who):
        await self.manager.revoke(await self.person(), name, kind.rstrip("s"), who)
        self.set_status(204)
        self.finish()


class LinksAPIHandler(APIHandler):
    async def get(self, name):
        self.write_json(await self.manager.links(await self.person(), name))

    async def post(self, name):
        model = await self.manager.new_link(await self.person(), name, self.get_json_body())
        self.write_json(model, 201)


class LinkAPIHandler(APIHandler):
    async def delete(self, name, link_id):
        await self.manager.delete_link(await self.person(), name, link_id)
        self.set_status(204)
        self.finish()


class ServerAPIHandler(APIHandler):
    async def post(self, name):
        model = await self.manager.start(await self.person(), name)
        self.write_json(model, model.pop("status"))

    async def delete(self, name):
        await self.manager.stop(await self.person(), name)
        self.write_json({"status": "stopping"}, 202)


class ArchiveAPIHandler(APIHandler):
    async def post(self, name, action):
        person = await self.person()
        if action == "archive":
            model = await self.manager.archive(person, name)
        else:
            model = await self.manager.unarchive(person, name)
        self.write_json(model)


# -- pages -------------------------------------------------------------------------------------


class PageHandler(BaseHandler):
    def render_page(self, name: str, status: int = 200, **ns) -> None:
        self.set_status(status)
        room = ns.get("room")
        if room is not None:
            path = url_escape(room["name"], plus=False)
            ns["room_url"] = f"{self.settings['prefix']}rooms/{path}"
        self.render(
            name,
            hub_base_url=self.settings["hub_base_url"],
            prefix=self.settings["prefix"],
            user=self.current_user,
            roles=ROLES,
            max_name_length=self.manager.settings.max_name_length,
            **ns,
        )

    def write_error(self, status_code, **kwargs):
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = getattr(exc, "message", None) or getattr(exc, "log_message", None)
        self.render_page(
            "error.html",
            status=status_code,
            status_code=status_code,
            message=message or self._reason,
        )

    def _handle_request_exception(self, e):
        if isinstance(e, PolicyError):
            self.send_error(e.status, exc_info=(type(e), e, None))
        else:
            super()._handle_request_exception(e)


#: What the pages say after an action (the query's ``done``); fixed texts, never echoed input.
DONE = {
    "created": "The room is ready. Open it, or share it from its JupyterLab.",
    "renamed": "The room's display name is changed.",
    "started": "The room's server is starting.",
    "stopped": "The room's server is stopping.",
    "archived": "The room is archived: its server is stopped and nobody can reach it.",
    "unarchived": "The room is back, with the shares it had.",
    "deleted": "The room is deleted.",
}


class RoomsPage(PageHandler):
    """My rooms, and the "New room" form for those who may create rooms."""

    @web.authenticated
    async def get(self):
        await self.show(done=DONE.get(self.get_argument("done", "")))

    async def show(self, status: int = 200, form: dict | None = None, **ns) -> None:
        person = await self.person()
        rooms = await self.manager.list_rooms(person)
        self.render_page(
            "rooms.html",
            status=status,
            rooms=rooms,
            me=await self.manager.me(person),
            form=form or {},
            error=ns.pop("error", None),
            done=ns.pop("done", None),
        )

    @web.authenticated
    async def post(self):
        form = {
            "name": self.get_body_argument("name", "").strip(),
            "display_name": self.get_body_argument("display_name", ""),
            "profile": self.get_body_argument("profile", ""),
            "teams": {
                team: self.get_body_argument(f"role:{team}", "editor")
                for team in self.get_body_arguments("team")
            },
        }
        body = {k: v for k, v in form.items() if v or k in ("name", "teams")}
        try:
            room = await self.manager.create(await self.person(), body)
        except (PolicyError, HubAPIError) as e:
            status = e.status if 400 <= e.status < 500 else 400
            await self.show(status=status, form=form, error=e.message)
            return
        self.redirect(self.room_page(room["name"], "created"))

    def room_page(self, name: str, done: str = "") -> str:
        url = f"{self.settings['prefix']}rooms/{url_escape(name, plus=False)}"
        return url + (f"?done={done}" if done else "")


class RoomPage(RoomsPage):
    """A room: its address, server, teams and members, and what one may do with it."""

    @web.authenticated
    async def get(self, name):
        await self.show_room(name, done=DONE.get(self.get_argument("done", "")))

    async def show_room(self, name: str, status: int = 200, **ns) -> None:
        person = await self.person()
        room, actor = await self.manager.room_for(person, name)
        settings = self.manager.settings
        role = actor.effective_role
        may = {
            "rename": policy.at_least(role, "owner"),
            "archive": policy.at_least(role, "owner"),
            "start": policy.at_least(role, settings.start_role) and not room.archived,
            "stop": policy.at_least(role, settings.stop_role),
        }
        self.render_page(
            "room.html",
            status=status,
            room=await self.manager.detail(room, actor),
            may=may,
            error=ns.get("error"),
            done=ns.get("done"),
        )


class RoomActionPage(RoomPage):
    """The room page's buttons: rename, start, stop, archive, unarchive (forms, POST)."""

    @web.authenticated
    async def post(self, name, action):
        person = await self.person()
        m = self.manager
        try:
            if action == "rename":
                body = {"display_name": self.get_body_argument("display_name", "")}
                await m.rename(person, name, body)
                done = "renamed"
            elif action == "start":
                await m.start(person, name)
                done = "started"
            elif action == "stop":
                await m.stop(person, name)
                done = "stopped"
            elif action == "archive":
                await m.archive(person, name)
                done = "archived"
            else:
                await m.unarchive(person, name)
                done = "unarchived"
        except (PolicyError, HubAPIError) as e:
            if e.status == 404:
                raise
            status = e.status if 400 <= e.status < 500 else 400
            await self.show_room(name, status=status, error=e.message)
            return
        self.redirect(self.room_page(name, done))


class DeleteRoomPage(RoomPage):
    """Deleting a room: a page that says what is lost, and its button."""

    @web.authenticated
    async def get(self, name):
        person = await self.person()
        room, actor = await self.manager.room_for(person, name)
        policy.require_role(actor, "owner", "deleting")
        self.render_page(
            "delete.html",
            room=await self.manager.detail(room, actor),
            deletion=self.manager.deletion_policy(),
            error=None,
        )

    @web.authenticated
    async def post(self, name):
        person = await self.person()
        try:
            await self.manager.delete(person, name)
        except PolicyError as e:
            if e.status == 404:
                raise
            await self.show_room(name, status=e.status, error=e.message)
            return
        self.redirect(f"{self.settings['prefix']}?done=deleted")


def main(argv=None) -> None:
    """``mutirao-rooms``: run the rooms service (the hub starts it)."""
    app = RoomsService.instance()
    app.initialize(argv if argv is not None else sys.argv[1:])
    app.start()


if __name__ == "__main__":
    main()
