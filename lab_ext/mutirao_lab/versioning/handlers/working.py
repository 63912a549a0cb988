"""Handlers of a repository and its working copy: init, locate, status, stage, commit."""

from __future__ import annotations

import os

from jupyter_server.auth.decorator import authorized
from tornado import web

from .. import repo as ops
from ..gitcore import GitError, check_path
from .base import GitHandler


class InitHandler(GitHandler):
    """``POST /git/init {repo}``: make a folder a managed repository, with the default
    ``.gitignore`` and a first commit authored by the requesting collaborator."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        await self.allow(write=True)
        result = await self.core.call(
            ops.init_repo,
            self.core,
            self.repo_name(),
            self.me(),
            ops.Person.owner(),
            self.service.app.default_branch,
        )
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
        self.write_json(await self.core.call(ops.status, self.repo(), self.renames()))


class StageHandler(GitHandler):
    """``POST /git/stage {repo, paths}`` and ``POST /git/unstage {repo, paths}``."""

    @web.authenticated
    @authorized
    async def post(self, verb: str) -> None:
        await self.allow(write=True)
        paths = self.arg("paths", [])
        if verb == "stage":
            result = await self.core.call(ops.stage, self.repo(), paths, self.renames())
        else:
            result = await self.core.call(ops.unstage, self.repo(), paths)
        self.write_json(result)


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
            self.renames(),
        )
        self.write_json(result, status=201)
