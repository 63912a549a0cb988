"""The jupyter-server extension: wires Mutirão's REST handlers into the single-user server."""

from __future__ import annotations

import os

from jupyter_server.extension.application import ExtensionApp
from traitlets import Type, Unicode, default

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

# ids are matched loosely so that a malformed one gets the API's JSON 404, not a page
_ID = r"([^/]+)"


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

    @default("comments_db_path")
    def _default_comments_db_path(self):
        return os.path.join(".mutirao", "comments.sqlite")

    role_resolver_class = Type(
        default_value=OwnerRoleResolver,
        klass=RoleResolver,
        help="""How the comments API learns a user's room role (viewer, commenter, editor,
        owner) and who can be @mentioned.

        Default: ``mutirao_lab.comments.roles.OwnerRoleResolver``, for a personal server:
        every user the server lets in is its owner, and the only member is the server's owner
        (``$JUPYTERHUB_USER``). Rooms plug in their own resolver. For a fixed table of roles,
        use ``StaticRoleResolver``. Example::

            c.MutiraoApp.role_resolver_class = "mutirao_lab.comments.roles.StaticRoleResolver"
            c.StaticRoleResolver.roles = {"ana": "owner", "bruno": "commenter"}

        .. versionadded:: 0.1
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
        self.serverapp.event_logger.add_listener(
            schema_id=CONTENTS_EVENTS, listener=self.comments.on_contents_event
        )
        self.log.info("Mutirão comments database: %s", path)

    def initialize_handlers(self):
        comments = {"service": self.comments}
        api = "/mutirao/api/comments"
        self.handlers.extend(
            [
                (r"/mutirao/api/version", VersionHandler, {"version": __version__}),
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
            ]
        )
        self.log.info("Mutirão server extension %s loaded", __version__)

    async def stop_extension(self):
        assert self.serverapp is not None
        assert self.serverapp.event_logger is not None
        self.serverapp.event_logger.remove_listener(listener=self.comments.on_contents_event)
        self.comments.close()
