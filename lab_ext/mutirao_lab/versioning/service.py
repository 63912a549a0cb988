"""The versioning service: what the versioning handlers share, made once by ``MutiraoApp``.

It holds the repositories (:class:`~.gitcore.GitCore`), remote credentials, live documents,
room roles, snapshots and the diff cache, and listens to the server: saves (contents events),
who opens documents (collaboration awareness) and who sent each request (the request log).
"""

from __future__ import annotations

import inspect
import os
from typing import Any

from jupyter_server.auth.identity import User

from . import remotes
from . import repo as ops
from .gitcore import LRU, GitCore
from .livedoc import LiveDocuments
from .snapshots import SnapshotService

CONTENTS_EVENTS = "https://events.jupyter.org/jupyter_server/contents_service/v1"
AWARENESS_EVENTS = "https://schema.jupyter.org/jupyter_collaboration/awareness/v1"


class Versioning:
    """What the versioning handlers share; made by ``MutiraoApp``."""

    def __init__(self, app: Any, roles: Any) -> None:
        serverapp = app.serverapp
        self.app = app
        self.log = app.log
        self.settings = serverapp.web_app.settings
        self.core = GitCore(serverapp.root_dir)
        self.credentials = remotes.CredentialStore(os.path.expanduser(app.credentials_dir))
        self.live = LiveDocuments(self.settings, app.log)
        self.roles = roles
        self.snapshots = SnapshotService(
            self.core, lambda: float(app.snapshot_interval), app.log, self.may_edit
        )
        self.diffs = LRU(128)
        self._log_function: Any = None

    # -- who ---------------------------------------------------------------------------------

    async def role(self, user: Any, handler: Any) -> str | None:
        role = self.roles.role(user, handler)
        return await role if inspect.isawaitable(role) else role

    async def may_edit(self, username: str) -> bool:
        try:
            role = await self.role(User(username=username), None)
        except Exception:
            return True  # a resolver that needs a request: keep the name, do not drop an editor
        return role in ("editor", "owner")

    # -- hooks into the server ---------------------------------------------------------------

    def attach(self, serverapp: Any) -> None:
        """Listen to saves (contents events), to who opens documents (collaboration
        awareness events), and to who sent each request (the server's request log)."""
        events = serverapp.event_logger
        events.add_listener(schema_id=CONTENTS_EVENTS, listener=self.on_contents_event)
        try:
            events.add_listener(schema_id=AWARENESS_EVENTS, listener=self.on_awareness_event)
        except Exception:  # jupyter-collaboration absent: saves through the API still count
            self.log.debug("Mutirão: no collaboration awareness events", exc_info=True)
        # the request log sees every finished request with its user: wrap this application's
        # own log_request (jupyter_server may replace its settings' log_function later)
        web_app = serverapp.web_app
        original = web_app.log_request

        def log_request(handler: Any) -> None:
            self.on_request(handler)
            original(handler)

        web_app.log_request = log_request
        self._log_function = (web_app, original)

    def detach(self, serverapp: Any) -> None:
        events = serverapp.event_logger
        for listener in (self.on_contents_event, self.on_awareness_event):
            try:
                events.remove_listener(listener=listener)
            except Exception:
                self.log.debug("Mutirão: listener already gone", exc_info=True)
        if self._log_function is not None:
            web_app, original = self._log_function
            web_app.log_request = original
        self.snapshots.close()
        self.core.close()

    def on_request(self, handler: Any) -> None:
        """Remember who saved a file through the contents API (for ``Edited-by``), and every
        user's display name and e-mail."""
        try:
            user = handler.current_user
        except Exception:
            return
        if user is None or not getattr(user, "username", None):
            return
        self.snapshots.remember(user.username, ops.Person.from_user(user))
        request = handler.request
        if (
            request.method in ("PUT", "PATCH")
            and handler.get_status() < 300
            and request.path.startswith(self.settings.get("base_url", "/") + "api/contents/")
        ):
            path = (getattr(handler, "path_kwargs", None) or {}).get("path")
            if isinstance(path, str):
                self.snapshots.note_editor(path, user.username)

    async def on_contents_event(self, logger: Any, schema_id: str, data: dict) -> None:
        if data.get("action") == "save" and isinstance(data.get("path"), str):
            self.snapshots.on_save(data["path"])

    async def on_awareness_event(self, logger: Any, schema_id: str, data: dict) -> None:
        room, username = data.get("roomid"), data.get("username")
        fim = self.settings.get("file_id_manager")
        if not isinstance(room, str) or not isinstance(username, str) or fim is None:
            return
        path = fim.get_path(room.rpartition(":")[2])
        if path is None:
            return
        if data.get("action") == "join":
            self.snapshots.joined(path, username)
        elif data.get("action") == "leave":
            self.snapshots.left(path, username)
