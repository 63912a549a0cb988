"""REST handlers of the server extension, described in ``openapi.yaml`` beside this file."""

from __future__ import annotations

import json

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web

#: The jupyter-server authorization resource for Mutirão's own endpoints; an Authorizer sees
#: ``(user, action, "mutirao")`` for each request.
AUTH_RESOURCE = "mutirao"


class MutiraoHandler(ExtensionHandlerMixin, APIHandler):
    """Base for Mutirão's handlers: JSON in and out, authorized on the ``mutirao`` resource."""

    auth_resource = AUTH_RESOURCE

    def write_json(self, model, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(model))


class VersionHandler(MutiraoHandler):
    """``GET /mutirao/api/version``: the server extension's version."""

    def initialize(self, name: str = "mutirao_lab", *args, version: str = "", **kwargs) -> None:
        super().initialize(name, *args, **kwargs)
        self.version = version

    @web.authenticated
    @authorized
    def get(self) -> None:
        self.write_json({"version": self.version})
