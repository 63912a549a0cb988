"""REST handlers of the server extension, described in ``openapi.yaml`` beside this file."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from http.client import responses
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web

from .jsonbody import DEFAULT_MAX_DEPTH, JSONBodyError, nested_deeper_than, parse_json_body

#: Deepest JSON body that any other handler of a room's server (jupyter-server's contents,
#: sessions and kernels, jupyter-collaboration, JupyterLab, nbdime) is given: a notebook
#: saved through the contents API nests a few levels, never a hundred.
MAX_OTHER_BODY_DEPTH = 100


def refuse_deep_json(handler: web.RequestHandler) -> None:
    """400 for a request body nested deeper than :data:`MAX_OTHER_BODY_DEPTH`, before a
    handler's own parser recurses into it (some answer a ``RecursionError`` with a 500)."""
    body = handler.request.body
    json_like = body and body.lstrip()[:1] in (b"[", b"{")
    if json_like and nested_deeper_than(body, MAX_OTHER_BODY_DEPTH):
        raise web.HTTPError(
            400, f"the request body is nested deeper than {MAX_OTHER_BODY_DEPTH} levels"
        )


#: The jupyter-server authorization resource for Mutirão's own endpoints; an Authorizer sees
#: ``(user, action, "mutirao")`` for each request.
AUTH_RESOURCE = "mutirao"


def hide_server_paths(text: str, root_dir: str) -> str:
    """``text`` without the server's file system layout: paths under the server's root become
    root-relative (as the contents API names files), and the home, temporary and Python
    folders become ``…``. Error messages (git's among them) pass through here."""
    pairs: list[tuple[str, str]] = []
    for root in {root_dir, os.path.abspath(root_dir), os.path.realpath(root_dir)}:
        pairs += [(root.rstrip(os.sep) + os.sep, ""), (root.rstrip(os.sep), ".")]
    for other in {os.path.expanduser("~"), tempfile.gettempdir(), sys.prefix, sys.base_prefix}:
        for variant in {other, os.path.realpath(other)}:
            pairs.append((variant.rstrip(os.sep), "…"))
    for prefix, replacement in sorted(pairs, key=lambda p: -len(p[0])):
        if len(prefix) > 1:
            text = text.replace(prefix, replacement)
    return text


class MutiraoHandler(ExtensionHandlerMixin, APIHandler):
    """Base for Mutirão's handlers: JSON in and out, authorized on the ``mutirao`` resource."""

    auth_resource = AUTH_RESOURCE

    def write_json(self, model, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(model))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Errors as JSON ``{"message", "reason"}``, like jupyter-server's, never naming server
        paths. A :class:`~tornado.web.HTTPError` with a ``message`` attribute (the APIs' own
        errors) is shown as written, without the %-escaping that tornado's log needs."""
        exc = kwargs.get("exc_info", (None, None))[1]
        reason = None
        if isinstance(exc, web.HTTPError):
            message = getattr(exc, "message", None)
            if not isinstance(message, str):
                message = exc.log_message % exc.args if exc.log_message and exc.args else None
                message = message or exc.log_message or responses.get(status_code, "Error")
            reason = exc.reason
        elif exc is not None:
            message = "Unhandled error"
        else:
            message = responses.get(status_code, "Error")
        root = self.settings.get("server_root_dir") or os.getcwd()
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": hide_server_paths(message, root), "reason": reason}))

    def json_object(self, max_bytes: int) -> dict[str, Any]:
        """The request's body, a JSON object (``{}`` when empty), checked as
        :func:`.jsonbody.parse_json_body` does (depth from ``MutiraoApp.max_json_depth``);
        raises :class:`.jsonbody.JSONBodyError`, which each API answers in its own way."""
        max_depth = getattr(self.settings.get(self.name), "max_json_depth", DEFAULT_MAX_DEPTH)
        model = parse_json_body(self.request.body, max_bytes=max_bytes, max_depth=max_depth)
        if not isinstance(model, dict):
            raise JSONBodyError(400, "the request body must be a JSON object")
        return model


class VersionHandler(MutiraoHandler):
    """``GET /mutirao/api/version``: the server extension's version."""

    def initialize(self, name: str = "mutirao_lab", *args, version: str = "", **kwargs) -> None:
        super().initialize(name, *args, **kwargs)
        self.version = version

    @web.authenticated
    @authorized
    def get(self) -> None:
        self.write_json({"version": self.version})
