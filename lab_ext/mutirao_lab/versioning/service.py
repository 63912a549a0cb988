"""The versioning service: what the versioning handlers share, made once by ``MutiraoApp``.

It holds the repositories (:class:`~.gitcore.GitCore`), remote credentials, live documents,
room roles, snapshots and the diff cache, and listens to the server: saves and renames
(contents events), who wrote to each collaborative document (:mod:`.writers`, fed by the
collaboration websocket) and who sent each request (the request log).
"""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import threading
from typing import Any

from jupyter_server.auth.identity import User

from . import remotes
from . import repo as ops
from .diffproc import DiffWorker
from .gitcore import LRU, GitCore
from .livedoc import LiveDocuments
from .snapshots import SnapshotService
from .writers import SETTINGS_KEY, Writers

CONTENTS_EVENTS = "https://events.jupyter.org/jupyter_server/contents_service/v1"
#: Renames remembered per server (new path -> original path), oldest forgotten first.
MAX_RENAMES = 10_000
#: Where they are kept across restarts, under the server's root (never committed: .mutirao/).
RENAMES_FILE = os.path.join(".mutirao", "renames.json")


def load_renames(path: str) -> dict[str, str]:
    """The renames saved at ``path`` (new -> old); empty when missing or not readable."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    found = {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}
    return dict(list(found.items())[-MAX_RENAMES:])


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
        self.writers = Writers()
        self.settings[SETTINGS_KEY] = self.writers
        #: root-relative paths: the new name of each renamed file or folder -> its first name
        #: since the server started (what its last commit may still call it)
        self._renames_path = os.path.join(self.core.root_dir, RENAMES_FILE)
        self.renames: dict[str, str] = load_renames(self._renames_path)
        self._renames_lock = threading.Lock()
        self._renames_seq = self._renames_saved = 0
        self.snapshots = SnapshotService(
            self.core,
            lambda: float(app.snapshot_interval),
            app.log,
            self.may_edit,
            self.writers_of,
            self.renamed_from,
        )
        self.diffs = LRU(128)
        self.diff_worker = DiffWorker()
        self._log_function: Any = None

    # -- who ---------------------------------------------------------------------------------

    def notify_replaced(self, kind: str, actor: str, people: dict[str, list[str]]) -> None:
        """Tell those who had a file open that ``actor``'s restore or checkout replaced it
        (``people``: path -> user names); at most a few files per event, the first ones."""
        notifier = getattr(self.app, "notifier", None)
        if notifier is None:
            return
        for path, users in list(people.items())[:5]:
            notifier.send(users, kind, actor, path)

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

    def writers_of(self, path: str) -> dict:
        """The authenticated writers of ``path``'s collaborative document since its last
        snapshot (forgotten once read)."""
        fim = self.settings.get("file_id_manager")
        if fim is None:
            return {}
        try:
            file_id = fim.get_id(path)
        except Exception:
            self.log.debug("Mutirão: no file id for %s", path, exc_info=True)
            return {}
        return self.writers.take(file_id)

    # -- renames -----------------------------------------------------------------------------

    def renamed_from(self, path: str) -> str | None:
        """The name ``path`` (root-relative) had before the renames seen since the server
        started, itself or through a renamed folder; None when it was not renamed."""
        return ops.origin(self.renames, path.strip("/"))

    def renames_in(self, repo_name: str) -> dict[str, str]:
        """The renames inside the repository at folder ``repo_name``, repository-relative."""
        if not repo_name:
            return dict(self.renames)
        prefix = repo_name + "/"
        return {
            new[len(prefix) :]: old[len(prefix) :]
            for new, old in self.renames.items()
            if new.startswith(prefix) and old.startswith(prefix)
        }

    def on_rename(self, old: str, new: str) -> None:
        old, new = old.strip("/"), new.strip("/")
        first = self.renamed_from(old) or old
        # entries under the old name (a file in a renamed folder) move along
        for key in [k for k in self.renames if k == old or k.startswith(old + "/")]:
            self.renames[new + key[len(old) :]] = self.renames.pop(key)
        if first == new:
            self.renames.pop(new, None)  # renamed back
        else:
            self.renames[new] = first
        while len(self.renames) > MAX_RENAMES:
            self.renames.pop(next(iter(self.renames)))
        self._renames_seq += 1
        self.core.pool.submit(self._save_renames, self._renames_seq, dict(self.renames))

    def _save_renames(self, seq: int, renames: dict[str, str]) -> None:
        """Write the renames (in the git pool; a later call's copy wins over an earlier)."""
        with self._renames_lock:
            if seq <= self._renames_saved:
                return
            tmp = self._renames_path + ".tmp"
            try:
                os.makedirs(os.path.dirname(self._renames_path), exist_ok=True)
                with open(tmp, "w", encoding="utf-8") as f:
                    json.dump(renames, f)
                os.replace(tmp, self._renames_path)
                self._renames_saved = seq
            except OSError as e:
                self.log.warning("Mutirão: could not keep the renames: %s", e)
                with contextlib.suppress(OSError):
                    os.unlink(tmp)

    # -- hooks into the server ---------------------------------------------------------------

    def attach(self, serverapp: Any) -> None:
        """Listen to saves and renames (contents events) and to who sent each request (the
        server's request log)."""
        events = serverapp.event_logger
        events.add_listener(schema_id=CONTENTS_EVENTS, listener=self.on_contents_event)
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
        try:
            events.remove_listener(listener=self.on_contents_event)
        except Exception:
            self.log.debug("Mutirão: listener already gone", exc_info=True)
        if self._log_function is not None:
            web_app, original = self._log_function
            web_app.log_request = original
        self.snapshots.close()
        self.core.close()
        self.diff_worker.close()

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
        action, path = data.get("action"), data.get("path")
        if not isinstance(path, str):
            return
        if action == "save":
            self.snapshots.on_save(path)
        elif action == "rename" and isinstance(data.get("source_path"), str):
            self.on_rename(data["source_path"], path)
