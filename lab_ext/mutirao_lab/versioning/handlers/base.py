"""The base of the versioning handlers: JSON errors, request arguments, room roles and the
request's repository."""

from __future__ import annotations

from typing import Any

from ...comments.model import ROLES
from ...handlers import MutiraoHandler
from ...jsonbody import JSONBodyError, check_text
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
            try:
                self._body = self.json_object(limit)
            except JSONBodyError as e:
                raise GitError(e.status, too_large if e.status == 413 else e.message) from None
        return self._body

    def arg(self, name: str, default: Any = None) -> Any:
        """A parameter: from the query string on GET and DELETE, the JSON body otherwise.
        Text is refused (400) if it holds a NUL or a lone surrogate: git could take neither."""
        if self.request.method in ("GET", "DELETE"):
            value = self.get_query_argument(name, default)
        else:
            value = self.body().get(name, default)
        if isinstance(value, str):
            try:
                check_text(value, f"`{name}`")
            except JSONBodyError as e:
                raise GitError(e.status, e.message) from None
        return value

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

    def renames(self) -> dict[str, str]:
        """The renames seen by the server inside the request's repository (new -> old)."""
        return self.service.renames_in(self.repo_name())

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
