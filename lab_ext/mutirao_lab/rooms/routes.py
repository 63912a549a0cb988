"""The room boundary: every route of a room's server is judged by :data:`.roles.ROUTES`.

jupyter-server asks its Authorizer only from handlers that call it (``@authorized``);
JupyterLab's settings and workspaces, nbdime and others never do. On a room's server,
:func:`install` therefore replaces the handler class of every registered route with a
subclass whose ``prepare`` (after jupyter-server has authenticated the request) asks the
Authorizer whether the request's room role may send this method to this route family,
and refuses with 403 when the family is unknown. Routes added later (by extensions that
load after Mutirão's) are guarded as they are added.

The same ``prepare`` keeps lab settings and workspaces per person (each member reads and
writes their own copy, under ``<lab settings dir>/../mutirao-people/<name>/``), and keeps
nbdime's file arguments inside the room's folder.
"""

from __future__ import annotations

import inspect
import json
import os
import re
from collections.abc import Callable, Iterator
from http.client import responses
from typing import Any
from urllib.parse import quote

from tornado import web
from tornado.routing import Rule

from ..handlers import refuse_deep_json
from . import roles

#: The attribute a guarded handler class carries: its :class:`.roles.Route` (or ``None``).
ROUTE_ATTR = "_mutirao_route"

#: How a handler's request is judged: ``(handler, route) -> allowed?``; may raise HTTPError.
Judge = Callable[[Any, "roles.Route | None"], Any]


class RoomBoundaryError(RuntimeError):
    """The room boundary could not be put in place: the room's server must not start."""


def rules(web_app: Any) -> Iterator[Rule]:
    """Every rule whose target is a handler class, in both of the application's routers."""

    def walk(router: Any) -> Iterator[Rule]:
        for rule in getattr(router, "rules", ()):
            if isinstance(rule.target, type):
                yield rule
            else:
                yield from walk(rule.target)

    yield from walk(web_app.default_router)
    yield from walk(web_app.wildcard_router)


def is_guarded(cls: type) -> bool:
    return ROUTE_ATTR in getattr(cls, "__dict__", {})


def unguarded(cls: type) -> type:
    """The handler class a guarded one wraps (itself when not guarded)."""
    return cls.__mro__[1] if is_guarded(cls) else cls


def _guarded_class(target: type, judge: Judge, cache: dict[type, type]) -> type:
    if is_guarded(target):
        return target
    if target in cache:
        return cache[target]
    route = roles.route_for(target)

    async def prepare(self: Any, *args: Any, **kwargs: Any) -> None:
        result = super(guarded, self).prepare(*args, **kwargs)  # type: ignore[arg-type]
        if result is not None:
            await result
        if self._finished:  # jupyter-server sent the anonymous to sign in
            return
        await judge(self, route)
        refuse_deep_json(self)

    def _handle_request_exception(self: Any, e: BaseException) -> None:
        super(guarded, self)._handle_request_exception(  # type: ignore[arg-type]
            as_client_error(self, e)
        )

    namespace: dict[str, Any] = {
        ROUTE_ATTR: route,
        "prepare": prepare,
        "_handle_request_exception": _handle_request_exception,
        "__module__": target.__module__,
    }
    if inspect.iscoroutinefunction(getattr(target, "finish", None)):
        # JupyterLab's licenses handler makes ``finish`` a coroutine with another signature,
        # so its errors (a 403 included) are never sent and the client waits forever
        namespace["write_error"] = _write_error_plainly
    guarded = type(target.__name__, (target,), namespace)
    guarded.__qualname__ = target.__qualname__
    cache[target] = guarded
    return guarded


#: What a handler raises when a request's body lacks what it expects (``{}`` where a model
#: was due, a kernel name that does not exist, a file gone): the client's doing.
_CLIENT_FAULTS = (KeyError, ValueError, TypeError, LookupError)
_BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def as_client_error(handler: Any, e: BaseException) -> BaseException:
    """On a room's server, a request with a body that a handler (another extension's, as a
    rule) could not take answers 4xx, not 500: a missing file (or one the server may not
    write) 404, anything else the body lacked 400; 403 stays the room boundary's answer. The
    error is logged with its traceback, so a real bug stays visible; nothing of it (no server
    path) reaches the client."""
    if handler.request.method not in _BODY_METHODS:
        return e
    cause: BaseException | None = e
    if isinstance(e, web.HTTPError):
        # a handler that turns whatever it caught into a 500 (JupyterLab's workspaces)
        cause = e.__cause__ if e.status_code == 500 else None
    chain: list[BaseException] = []
    while cause is not None and len(chain) < 8:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    if any(isinstance(c, FileNotFoundError) for c in chain):
        status, message = 404, "not found"
    elif chain and isinstance(chain[0], PermissionError):
        # jupyter-server's checkpoints say a missing file "is not writable"
        status, message = 404, "the file is missing or may not be written"
    elif chain and isinstance(chain[0], _CLIENT_FAULTS):
        status, message = 400, "the request is malformed, or names something that does not exist"
    else:
        return e
    handler.log.warning(
        "Mutirão: %s %s answered %d: the handler could not take the request",
        handler.request.method,
        handler.request.path,
        status,
        exc_info=e,
    )
    return web.HTTPError(status, message, reason=responses.get(status))


def _write_error_plainly(self: Any, status_code: int, **kwargs: Any) -> None:
    self.set_header("Content-Type", "application/json")
    message = responses.get(status_code, "Unknown HTTP Error")
    web.RequestHandler.finish(self, json.dumps({"message": message, "reason": None}))


def install(web_app: Any, judge: Judge) -> int:
    """Guard every route registered now and every route added later; returns how many
    routes were guarded now. Installing twice guards nothing twice."""
    cache: dict[type, type] = getattr(web_app, "_mutirao_guard_cache", {})
    web_app._mutirao_guard_cache = cache

    def guard_all() -> int:
        count = 0
        for rule in rules(web_app):
            if not is_guarded(rule.target):
                rule.target = _guarded_class(rule.target, judge, cache)
                count += 1
        return count

    if not getattr(web_app, "_mutirao_guarded", False):
        add_handlers = web_app.add_handlers

        def guarded_add_handlers(host_pattern: str, host_handlers: list) -> None:
            add_handlers(host_pattern, host_handlers)
            guard_all()

        web_app.add_handlers = guarded_add_handlers
        web_app._mutirao_guarded = True
    return guard_all()


def unguarded_routes(web_app: Any) -> list[str]:
    """Routes whose handler is not guarded (empty once :func:`install` has run)."""
    return [pattern(rule) for rule in rules(web_app) if not is_guarded(rule.target)]


def pattern(rule: Rule) -> str:
    """The path pattern of a route (its matcher's ``repr`` for other matchers)."""
    regex = getattr(rule.matcher, "regex", None)
    return regex.pattern if regex is not None else repr(rule.matcher)


# -- per-person lab settings and workspaces ---------------------------------------------------


def person_key(username: str) -> str:
    """A folder name for a person: never ``.``, ``..``, or a path."""
    return "u-" + quote(username, safe="")


def person_dir(shared_dir: str, username: str, kind: str) -> str:
    """Where ``username``'s own copy of ``kind`` (``user-settings``, ``workspaces``) lives,
    beside the room's shared one."""
    base = os.path.dirname(os.path.abspath(shared_dir.rstrip(os.sep) or os.sep))
    return os.path.join(base, "mutirao-people", person_key(username), kind)


def personalize(handler: Any, username: str) -> None:
    """Point a lab settings, translations or workspaces handler at the person's own copy."""
    if hasattr(handler, "settings_dir") and isinstance(handler.settings_dir, str):
        handler.settings_dir = person_dir(handler.settings_dir, username, "user-settings")
    manager: Any = getattr(handler, "manager", None)
    workspaces_dir = getattr(manager, "workspaces_dir", None)
    if workspaces_dir is not None:
        own = type(manager)(person_dir(str(workspaces_dir), username, "workspaces"))
        handler.manager = own


# -- nbdime inside the room ------------------------------------------------------------------

#: A git ref as nbdime passes it to git: no options, no ranges of other repositories.
_GIT_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/~^@{}+-]*")


def _refuse(message: str) -> web.HTTPError:
    return web.HTTPError(400, message, reason=message)


def check_room_path(root: str, path: Any, what: str) -> None:
    """Refuse (400) a path that is not a relative path to something inside ``root``:
    absolute paths, ``..``, URLs, NUL bytes, and symbolic links that lead out."""
    if not isinstance(path, str) or not path:
        raise _refuse(f"`{what}` must be a path inside the room")
    if "\0" in path or "://" in path or path.startswith(("/", "\\", "~")):
        raise _refuse(f"`{what}` must be a path inside the room")
    parts = re.split(r"[/\\]", path)
    if ".." in parts or re.match(r"^[A-Za-z]:", path):
        raise _refuse(f"`{what}` must be a path inside the room")
    real_root = os.path.realpath(root)
    real = os.path.realpath(os.path.join(real_root, path))
    if real != real_root and not real.startswith(real_root + os.sep):
        raise _refuse(f"`{what}` must be a path inside the room")


def _check_git_ref(ref: Any, what: str) -> None:
    if ref is None:
        return
    if isinstance(ref, dict):
        if "special" in ref and isinstance(ref["special"], str) and len(ref) == 1:
            return
        ref = ref.get("git")
    if not isinstance(ref, str) or (ref and not _GIT_REF.fullmatch(ref)):
        raise _refuse(f"`{what}` must be a git reference")


def check_nbdime_request(handler: Any, root: str) -> None:
    """Keep nbdime's API to files inside the room (``root``): its ``base``, ``remote``,
    ``path`` and ``file_path`` arguments are room paths (``git:`` and ``checkpoint:``
    prefixes allowed on ``base``), never URLs, absolute paths or ``..``."""
    if handler.request.method != "POST":
        return
    try:
        body = json.loads(handler.request.body or b"null")
    except ValueError:
        raise _refuse("the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise _refuse("the body must be a JSON object")
    endpoint = handler.request.path.rstrip("/").rsplit("/", 1)[-1]
    if endpoint == "diff":
        base = body.get("base")
        if isinstance(base, str):
            for prefix in ("git:", "checkpoint:"):
                if base.startswith(prefix):
                    base = base[len(prefix) :]
                    break
        check_room_path(root, base, "base")
        if "remote" in body:
            check_room_path(root, body["remote"], "remote")
    elif endpoint == "gitdiff":
        check_room_path(root, body.get("file_path"), "file_path")
        _check_git_ref(body.get("ref_local"), "ref_local")
        _check_git_ref(body.get("ref_remote"), "ref_remote")
    elif endpoint == "isgit":
        # nbdime asks about a notebook's folder: "" for one at the room's top
        path = body.get("path")
        check_room_path(root, "." if path == "" else path, "path")
    else:
        raise _refuse("unknown nbdime API")
