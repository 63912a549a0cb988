"""The base of the versioning handlers: JSON errors, request arguments, room roles and the
request's repository."""

from __future__ import annotations

import json
from typing import Any

from ...comments.model import ROLES
from ...handlers import MutiraoHandler
from .. import repo as ops
from ..gitcore import GitCore, GitError, Repository, check_path
from ..service import Versioning

MAX_REQUEST_BYTES = 1 << 20

#: Request bodies larger than this are parsed in the thread pool, not on the event loop
#: (a merged notebook for ``/git/resolve`` can weigh megabytes).
LARGE_BODY_BYTES = 64 * 1024


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

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        if self.current_user is not None and len(self.request.body) > LARGE_BODY_BYTES:
            await self.core.call(self.body)

    @property
    def core(self) -> GitCore:
        return self.service.core

    def body_limit(self) -> tuple[int, str]:
        """The most a request body may weigh, and the 413 message past it."""
        return MAX_REQUEST_BYTES, f"the request is larger than {MAX_REQUEST_BYTES} bytes"

    def body(self) -> dict[str, Any]:
        if self._body is None:
            limit, too_large = self.body_limit()
            if len(self.request.body) > limit:
                raise GitError(413, too_large)
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
