"""REST handlers of the versioning API, under ``<base_url>mutirao/api/git/``.

Described in ``openapi.yaml``. Every request is authenticated and authorized by the server
(resource ``mutirao``), then checked against the user's room role: members read history,
versions, snapshots and diffs; editors and owners change anything. Each user action is one
request (``POST commit {paths, message}`` stages and commits). Blocking git work runs in the
git thread pool, never on the event loop.

``repo`` names the repository's folder relative to the server's root (``""``, the default, is
the root itself); every ``path`` is relative to that repository.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.auth.identity import User
from tornado import web

from ..comments.model import ROLES
from ..handlers import MutiraoHandler
from . import merge as merging
from . import remotes
from . import repo as ops
from .diff import DiffTooLarge, diff_cache_key, diff_notebooks, diff_text, loads_notebook
from .gitcore import LRU, GitCore, GitError, Repository, check_path, check_rev
from .livedoc import LiveDocuments
from .snapshots import SnapshotService, promote, timeline

#: The version name of the working copy (the file on disk) in diffs.
WORKING = "WORKING"
MAX_REQUEST_BYTES = 1 << 20
EMPTY_NOTEBOOK = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
CONTENTS_EVENTS = "https://events.jupyter.org/jupyter_server/contents_service/v1"
AWARENESS_EVENTS = "https://schema.jupyter.org/jupyter_collaboration/awareness/v1"


def blob_id(data: bytes) -> str:
    """The id git gives ``data`` as a blob, computed without asking git."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


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


class GitHandler(MutiraoHandler):
    """Base of the versioning handlers: JSON errors, arguments, roles, repositories."""

    service: Versioning

    def initialize(  # type: ignore[override]
        self, service: Versioning, name: str | None = None
    ) -> None:
        super().initialize(name=name or "mutirao_lab")
        self.service = service
        self._body: dict[str, Any] | None = None

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None))[1]
        if isinstance(exc, GitError):
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps({"message": exc.message, "reason": None}))
            return
        super().write_error(status_code, **kwargs)

    @property
    def core(self) -> GitCore:
        return self.service.core

    def body(self) -> dict[str, Any]:
        if self._body is None:
            if len(self.request.body) > MAX_REQUEST_BYTES:
                raise GitError(413, f"the request is larger than {MAX_REQUEST_BYTES} bytes")
            try:
                model = json.loads(self.request.body or b"{}")
            except ValueError as e:
                raise GitError(400, f"the request body is not JSON: {e}") from None
            if not isinstance(model, dict):
                raise GitError(400, "the request body must be a JSON object")
            self._body = model
        return self._body

    def arg(self, name: str, default: Any = None) -> Any:
        """A parameter: from the query string on GET and DELETE, the JSON body otherwise."""
        if self.request.method in ("GET", "DELETE"):
            return self.get_query_argument(name, default)
        return self.body().get(name, default)

    def flag(self, name: str) -> bool:
        value = self.arg(name, False)
        if isinstance(value, str):
            return value.lower() in ("1", "true", "yes")
        return bool(value)

    async def allow(self, write: bool) -> str:
        role = await self.service.role(self.current_user, self)
        if role not in ROLES:
            raise GitError(403, "you are not a member of this room")
        if write and role not in ("editor", "owner"):
            raise GitError(403, f"a {role} may read the history but not change it")
        return role

    def repo_name(self) -> str:
        name = self.arg("repo", "")
        if not isinstance(name, str):
            raise GitError(400, "`repo` must be a string")
        return check_path(name, allow_empty=True)

    def repo(self) -> Repository:
        repository = self.core.repo(self.repo_name())
        ops.configure_nbdime(repository)
        return repository

    def root_path(self, path: str) -> str:
        """The root-relative path of a file of the request's repository."""
        name = self.repo_name()
        return f"{name}/{path}" if name else path

    def me(self) -> ops.Person:
        person = ops.Person.from_user(self.current_user)
        self.service.snapshots.remember(self.current_user.username, person)
        return person

    @property
    def allow_http(self) -> bool:
        return bool(self.service.app.allow_insecure_remotes)

    def page(self) -> tuple[int, int]:
        return ops.page(self.arg("skip", 0), self.arg("limit", 25))


class InitHandler(GitHandler):
    """``POST /git/init {repo}``: make a folder a managed repository."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        await self.allow(write=True)
        result = await self.core.call(ops.init_repo, self.core, self.repo_name())
        self.write_json(result, status=201)


class CloneHandler(GitHandler):
    """``POST /git/clone {url, repo}``: clone an https remote into the folder ``repo``."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        await self.allow(write=True)
        url = remotes.check_remote_url(self.arg("url"), self.allow_http)
        name = self.repo_name()
        if not name:
            raise GitError(400, "`repo` must name the new folder to clone into")
        env = self.service.credentials.env(self.current_user.username, url, self.allow_http)
        result = await self.core.call(remotes.clone, self.core, url, name, env, self.allow_http)
        self.write_json(result, status=201)


class LocateHandler(GitHandler):
    """``GET /git/locate?path=``: the repository holding a file (a server-root-relative path)
    and the file's path inside it, looking up from the file's folder to the root. The lab asks
    this for the file in focus, then names ``repo`` and ``path`` in every other request."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.allow(write=False)
        path = check_path(self.arg("path"))
        self.write_json(await self.core.call(self._locate, path))

    def _locate(self, path: str) -> dict[str, str]:
        found = self.core.find_repo(path)
        if found is None:
            raise GitError(404, f"{path} is not in a git repository")
        repository, inner = found
        rel = os.path.relpath(repository.path, self.core.root_dir)
        return {"repo": "" if rel == "." else rel.replace(os.sep, "/"), "path": inner}


class StatusHandler(GitHandler):
    """``GET /git/status?repo=``: branch, upstream, ahead/behind and changed files."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.allow(write=False)
        self.write_json(await self.core.call(ops.status, self.repo()))


class StageHandler(GitHandler):
    """``POST /git/stage {repo, paths}`` and ``POST /git/unstage {repo, paths}``."""

    @web.authenticated
    @authorized
    async def post(self, verb: str) -> None:
        await self.allow(write=True)
        fn = ops.stage if verb == "stage" else ops.unstage
        self.write_json(await self.core.call(fn, self.repo(), self.arg("paths", [])))


class CommitHandler(GitHandler):
    """``POST /git/commit {repo, paths, message}``: stage the paths and commit them, authored
    by the requesting collaborator, committed by the room."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        await self.allow(write=True)
        result = await self.core.call(
            ops.commit,
            self.repo(),
            self.arg("paths", []),
            self.arg("message"),
            self.me(),
            ops.Person.owner(),
        )
        self.write_json(result, status=201)


class LogHandler(GitHandler):
    """``GET /git/log?repo=&rev=&path=&skip=&limit=``: a page of history, newest first."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.allow(write=False)
        skip, limit = self.page()
        rev = check_rev(self.arg("rev", "HEAD"))
        path = self.arg("path")
        self.write_json(await self.core.call(ops.log, self.repo(), rev, path, skip, limit))


class ShowHandler(GitHandler):
    """``GET /git/show?repo=&rev=&path=``: a file as it was at a version."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.allow(write=False)
        rev, path = self.arg("rev", "HEAD"), self.arg("path")
        self.write_json(await self.core.call(ops.show, self.repo(), rev, path))


class BranchesHandler(GitHandler):
    """``GET /git/branches``; ``POST /git/branches {name, start}`` creates one;
    ``DELETE /git/branches?name=&force=`` deletes one."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.allow(write=False)
        self.write_json(await self.core.call(ops.branches, self.repo()))

    @web.authenticated
    @authorized
    async def post(self) -> None:
        await self.allow(write=True)
        result = await self.core.call(
            ops.create_branch, self.repo(), self.arg("name"), self.arg("start")
        )
        self.write_json(result, status=201)

    @web.authenticated
    @authorized
    async def delete(self) -> None:
        await self.allow(write=True)
        result = await self.core.call(
            ops.delete_branch, self.repo(), self.arg("name"), self.flag("force")
        )
        self.write_json(result)


class CheckoutHandler(GitHandler):
    """``POST /git/checkout {repo, branch}``: switch branches; open documents follow."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        await self.allow(write=True)
        result = await self.core.call(ops.switch_branch, self.repo(), self.arg("branch"))
        result["live"] = await self.service.live.reload(
            [self.root_path(p) for p in result["changed"]]
        )
        self.write_json(result)


class RestoreHandler(GitHandler):
    """``POST /git/restore {repo, path, rev}``: put a file back as it was at a version or
    snapshot, on disk and in its live document (every connected client sees it)."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        await self.allow(write=True)
        path = check_path(self.arg("path"))
        rev = check_rev(self.arg("rev"))
        blob, data = await self.core.call(ops.read_version, self.repo(), rev, path)
        if path.endswith(".ipynb"):
            try:
                loads_notebook(data)
            except ValueError as e:
                raise GitError(422, f"{path} at {rev} is not a valid notebook: {e}") from None
        root_path = self.root_path(path)
        live = await self.service.live.replace(root_path, data)
        self.service.snapshots.note_editor(root_path, self.current_user.username, self.me())
        self.write_json({"path": path, "rev": rev, "blob": blob, **live})


class RemoteHandler(GitHandler):
    """``POST /git/pull {repo, remote, branch}`` and ``POST /git/push {repo, remote,
    branch}``, with the requesting user's stored credentials for the remote's host."""

    @web.authenticated
    @authorized
    async def post(self, verb: str) -> None:
        await self.allow(write=True)
        repository = self.repo()
        remote = self.arg("remote", "origin")
        branch = self.arg("branch")
        url = await self.core.call(remotes.remote_url, repository, remote)
        remotes.check_remote_url(url, self.allow_http)
        env = self.service.credentials.env(self.current_user.username, url, self.allow_http)
        if verb == "push":
            result = await self.core.call(
                remotes.push, repository, remote, branch, env, self.allow_http
            )
        else:
            result = await self.core.call(
                remotes.pull,
                repository,
                remote,
                branch,
                env,
                self.allow_http,
                self.me(),
                ops.Person.owner(),
            )
            result["live"] = await self.service.live.reload(
                [self.root_path(p) for p in result["changed"]]
            )
        self.write_json(result)


class MergeHandler(GitHandler):
    """``POST /git/merge {repo, branch}`` (nbdime's merge driver for notebooks; 409 with the
    conflicted files) and ``POST /git/merge/abort {repo}``."""

    @web.authenticated
    @authorized
    async def post(self, abort: str | None = None) -> None:
        await self.allow(write=True)
        repository = self.repo()
        if abort:
            result = await self.core.call(merging.merge_abort, repository)
        else:
            result = await self.core.call(
                merging.merge, repository, self.arg("branch"), self.me(), ops.Person.owner()
            )
        result["live"] = await self.service.live.reload(
            [self.root_path(p) for p in result["changed"]]
        )
        self.write_json(result)


class ConflictHandler(GitHandler):
    """``GET /git/conflict?repo=&path=``: base, local and remote sides of a conflicted file,
    for nbdime's merge view."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.allow(write=False)
        self.write_json(await self.core.call(merging.conflict, self.repo(), self.arg("path")))


class CredentialsHandler(GitHandler):
    """The requesting user's own remote credentials: ``GET`` lists hosts (never passwords),
    ``PUT {host, username, password}`` stores, ``DELETE ?host=`` forgets."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.allow(write=False)
        self.write_json({"hosts": self.service.credentials.hosts(self.current_user.username)})

    @web.authenticated
    @authorized
    async def put(self) -> None:
        await self.allow(write=False)
        host, login, password = self.arg("host"), self.arg("username"), self.arg("password")
        if not all(isinstance(v, str) and v for v in (host, login, password)):
            raise GitError(400, "`host`, `username` and `password` must be non-empty strings")
        if host.startswith("-") or any(c in host for c in "/@ \t\n\r\0"):
            raise GitError(400, "`host` is a host name, optionally with :port")
        if any(c in login + password for c in "\n\r\0"):
            raise GitError(400, "credentials may not contain line breaks")
        await self.core.call(
            self.service.credentials.set, self.current_user.username, host, login, password
        )
        self.write_json({"host": host, "username": login})

    @web.authenticated
    @authorized
    async def delete(self) -> None:
        await self.allow(write=False)
        host = self.arg("host")
        if not isinstance(host, str) or not host:
            raise GitError(400, "`host` is required")
        found = await self.core.call(
            self.service.credentials.delete, self.current_user.username, host
        )
        if not found:
            raise GitError(404, f"no credentials for {host}")
        self.set_status(204)
        self.finish()


class SnapshotsHandler(GitHandler):
    """``GET /git/snapshots?repo=&path=&branch=&skip=&limit=``: the timeline of snapshots;
    ``POST /git/snapshots {repo, path}``: take one now."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.allow(write=False)
        skip, limit = self.page()
        path = self.arg("path")
        if path is not None:
            path = check_path(path)
        branch = self.arg("branch")
        if branch is not None:
            ops.check_branch_name(branch)
        self.write_json(await self.core.call(timeline, self.repo(), path, branch, skip, limit))

    @web.authenticated
    @authorized
    async def post(self) -> None:
        await self.allow(write=True)
        self.repo()
        root_path = self.root_path(check_path(self.arg("path")))
        snapshot = await self.service.snapshots.snapshot(root_path, [self.me()])
        self.write_json({"id": snapshot, "path": root_path}, status=201 if snapshot else 200)


class PromoteHandler(GitHandler):
    """``POST /git/snapshots/promote {repo, id, path, message}``: commit a file as it was in
    a snapshot on the current branch, authored by the requesting collaborator."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        await self.allow(write=True)
        snapshot = check_rev(self.arg("id"))
        result = await self.core.call(
            promote,
            self.repo(),
            snapshot,
            self.arg("path"),
            self.arg("message"),
            self.me(),
            ops.Person.owner(),
        )
        self.write_json(result, status=201)


class DiffHandler(GitHandler):
    """``GET /git/diff?repo=&path=&from=&to=&ignore_outputs=&ignore_metadata=``: the diff of
    a file between two versions (commit ids, branches, snapshot ids, or ``WORKING`` for the
    file on disk). Notebooks answer nbdime's format (``base`` + ``diff``), other files a
    unified diff. Cached by the two blobs' ids."""

    def _side(self, repository: Repository, rev: str, path: str) -> tuple[str, bytes | None]:
        if rev == WORKING:
            full = os.path.join(repository.path, path)
            try:
                with open(full, "rb") as f:
                    data = f.read()
            except FileNotFoundError:
                return "0" * 40, None
            except OSError as e:
                raise GitError(422, f"cannot read {path}: {e.strerror}") from None
            return blob_id(data), data
        commit = repository.resolve(rev)
        found = repository.blob(commit, path)
        return found if found is not None else ("0" * 40, None)

    def _compute(
        self,
        repository: Repository,
        path: str,
        revs: tuple[str, str],
        options: dict[str, bool],
    ) -> str:
        (blob_a, a), (blob_b, b) = (self._side(repository, r, path) for r in revs)
        if a is None and b is None:
            raise GitError(404, f"{path} is in neither version")
        limits = self.service.app
        notebook = path.endswith(".ipynb")
        key = diff_cache_key(blob_a, blob_b, {**options, "notebook": notebook})

        def run() -> str:
            max_bytes = int(limits.max_diff_bytes)
            for data in (a, b):
                if data is not None and len(data) > max_bytes:
                    raise DiffTooLarge(
                        f"{path} is larger than the diff size limit of {max_bytes:,} bytes "
                        "(MutiraoApp.max_diff_bytes), so no diff was computed."
                    )
            sides = {
                "from": {"rev": revs[0], "blob": blob_a},
                "to": {"rev": revs[1], "blob": blob_b},
            }
            if notebook:
                nbs = []
                for rev, data in zip(revs, (a, b), strict=True):
                    if data is None:
                        nbs.append(dict(EMPTY_NOTEBOOK))
                        continue
                    try:
                        nbs.append(loads_notebook(data))
                    except ValueError as e:
                        raise GitError(
                            422,
                            f"{path} at {rev} is not a valid notebook, so it cannot be diffed: {e}",
                        ) from None
                diff = diff_notebooks(
                    nbs[0],
                    nbs[1],
                    ignore_outputs=options["ignore_outputs"],
                    ignore_metadata=options["ignore_metadata"],
                    deadline_s=float(limits.diff_timeout_s),
                    max_bytes=max_bytes,
                )
                return json.dumps(
                    {"path": path, "kind": "notebook", **sides, "base": nbs[0], "diff": diff}
                )
            texts = ["" if d is None else d.decode("utf-8", "replace") for d in (a, b)]
            lines = diff_text(
                texts[0],
                texts[1],
                fromfile=f"a/{path}",
                tofile=f"b/{path}",
                deadline_s=float(limits.diff_timeout_s),
                max_bytes=max_bytes,
            )
            return json.dumps({"path": path, "kind": "text", **sides, "unified": lines})

        try:
            return self.service.diffs.get_or(key, run)
        except DiffTooLarge as e:
            raise GitError(413, str(e)) from None

    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.allow(write=False)
        path = check_path(self.arg("path"))
        revs = (self.arg("from", "HEAD"), self.arg("to", WORKING))
        for rev in revs:
            if rev != WORKING:
                check_rev(rev)
        options = {
            "ignore_outputs": self.flag("ignore_outputs"),
            "ignore_metadata": self.flag("ignore_metadata"),
        }
        repository = self.repo()
        body = await self.core.call(self._compute, repository, path, revs, options)
        self.set_header("Content-Type", "application/json")
        self.finish(body)


def handlers(service: Versioning) -> list[tuple[str, Any, dict[str, Any]]]:
    """The routes, relative to the server's base URL."""
    api = "/mutirao/api/git"
    kw = {"service": service}
    return [
        (rf"{api}/init", InitHandler, kw),
        (rf"{api}/clone", CloneHandler, kw),
        (rf"{api}/status", StatusHandler, kw),
        (rf"{api}/locate", LocateHandler, kw),
        (rf"{api}/(stage|unstage)", StageHandler, kw),
        (rf"{api}/commit", CommitHandler, kw),
        (rf"{api}/log", LogHandler, kw),
        (rf"{api}/show", ShowHandler, kw),
        (rf"{api}/branches", BranchesHandler, kw),
        (rf"{api}/checkout", CheckoutHandler, kw),
        (rf"{api}/restore", RestoreHandler, kw),
        (rf"{api}/(pull|push)", RemoteHandler, kw),
        (rf"{api}/merge(/abort)?", MergeHandler, kw),
        (rf"{api}/conflict", ConflictHandler, kw),
        (rf"{api}/credentials", CredentialsHandler, kw),
        (rf"{api}/snapshots", SnapshotsHandler, kw),
        (rf"{api}/snapshots/promote", PromoteHandler, kw),
        (rf"{api}/diff", DiffHandler, kw),
    ]
