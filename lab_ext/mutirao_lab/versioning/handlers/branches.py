"""Handlers of branches and merges: list, create, delete and switch branches, merge one
into the current branch, abort a merge, and the sides of a conflicted file."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from .. import merge as merging
from .. import repo as ops
from .base import GitHandler


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
        self.service.notify_replaced(
            "checkout",
            self.current_user.username,
            {path: self.service.live.people(path) for path in result["live"]},
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
