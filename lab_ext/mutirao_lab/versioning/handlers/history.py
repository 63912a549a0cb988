"""Handlers of history and diffs: log, show, restore, snapshots (timeline, take, promote)
and the diff of a file between two versions."""

from __future__ import annotations

import hashlib
import os

from jupyter_server.auth.decorator import authorized
from tornado import web

from .. import repo as ops
from ..diff import DiffTooLarge, diff_cache_key, loads_notebook
from ..gitcore import GitError, Repository, check_path, check_rev
from ..snapshots import promote, timeline
from .base import GitHandler

#: The version name of the working copy (the file on disk) in diffs.
WORKING = "WORKING"


def blob_id(data: bytes) -> str:
    """The id git gives ``data`` as a blob, computed without asking git."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


class LogHandler(GitHandler):
    """``GET /git/log?repo=&rev=&path=&skip=&limit=``: a page of history, newest first."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.allow(write=False)
        skip, limit = self.page()
        rev = check_rev(self.arg("rev", "HEAD"))
        path = self.arg("path")
        renames = self.renames()
        self.write_json(
            await self.core.call(ops.log, self.repo(), rev, path, skip, limit, False, renames)
        )


class ShowHandler(GitHandler):
    """``GET /git/show?repo=&rev=&path=``: a file as it was at a version."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.allow(write=False)
        rev, path = self.arg("rev", "HEAD"), self.arg("path")
        self.write_json(await self.core.call(ops.show, self.repo(), rev, path))


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
            try:  # parsing megabytes of JSON: in the pool, not on the event loop
                await self.core.call(loads_notebook, data)
            except ValueError as e:
                raise GitError(422, f"{path} at {rev} is not a valid notebook: {e}") from None
        root_path = self.root_path(path)
        people = self.service.live.people(root_path)
        live = await self.service.live.replace(root_path, data)
        if live["live"]:
            me = self.current_user.username
            self.service.notify_replaced("restore", me, {root_path: people})
        self.service.snapshots.note_editor(root_path, self.current_user.username, self.me())
        self.write_json({"path": path, "rev": rev, "blob": blob, **live})


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
        self.write_json(
            await self.core.call(timeline, self.repo(), path, branch, skip, limit, self.renames())
        )

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

    def compute_etag(self) -> None:
        # a hash of megabytes on the event loop, for a response that is never revalidated
        return None

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
    ) -> bytes:
        (blob_a, a), (blob_b, b) = (self._side(repository, r, path) for r in revs)
        if a is None and b is None:
            raise GitError(404, f"{path} is in neither version")
        limits = self.service.app
        notebook = path.endswith(".ipynb")
        key = diff_cache_key(blob_a, blob_b, {**options, "notebook": notebook})

        def run() -> bytes:
            sides = {
                "from": {"rev": revs[0], "blob": blob_a},
                "to": {"rev": revs[1], "blob": blob_b},
            }
            # in the worker process: see diffproc
            return self.service.diff_worker.run(
                path, revs, sides, a, b, options, int(limits.max_diff_bytes),
                float(limits.diff_timeout_s),
            )  # fmt: skip

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
