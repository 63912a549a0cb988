"""Handlers of remotes: clone, pull and push, and each user's own remote credentials."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from .. import remotes
from .. import repo as ops
from ..gitcore import GitError
from .base import GitHandler


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


class CredentialsHandler(GitHandler):
    """The requesting user's own remote credentials: ``GET`` lists hosts (never passwords),
    ``PUT {host, username, password}`` stores, ``DELETE ?host=`` forgets. Editors and owners
    only: credentials serve pull and push, which need the editor role."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.allow(write=True)
        self.write_json({"hosts": self.service.credentials.hosts(self.current_user.username)})

    @web.authenticated
    @authorized
    async def put(self) -> None:
        await self.allow(write=True)
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
        await self.allow(write=True)
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
