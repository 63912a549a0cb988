"""The GPU admin page (``/hub/mutirao/gpus``) and its REST endpoint (``/hub/api/mutirao/gpus``).

Both run inside the hub process, because the GPU ledger lives there; they are registered with
:func:`gpu_admin_config`, in the lists the hub's own pages and API register into. Access:
JupyterHub admins, and anyone holding the custom scope ``custom:mutirao-gpus:read`` (grant it
to a team with a role). Everyone else gets the same 404 as for a page that does not exist, so
the page's existence does not leak.
"""

from __future__ import annotations

import json
import time
from typing import Any

from jupyterhub import apihandlers as hub_api_handlers
from jupyterhub import handlers as hub_handlers
from jupyterhub.apihandlers import APIHandler
from jupyterhub.handlers import BaseHandler
from tornado import web

from . import looplag
from .service import GPUService

__all__ = ["SCOPE", "GPUAdminAPIHandler", "GPUAdminPageHandler", "gpu_admin_config"]

SCOPE = "custom:mutirao-gpus:read"
ROLE = "mutirao-gpu-readers"

EMPTY = {"gpus": [], "queue": [], "reports": [], "decisions": {"count": 0}}


def _may_read(handler: BaseHandler) -> bool:
    user = handler.current_user
    if user is None:
        return False
    return SCOPE in handler.expanded_scopes or bool(getattr(user, "admin", False))


def snapshot() -> dict[str, Any]:
    service = GPUService.current()
    if service is None:
        # no server has been loaded yet: start the service from the hub's spawner config
        from jupyterhub.app import JupyterHub

        from .mixin import GPUSpawnerMixin

        app = JupyterHub.instance() if JupyterHub.initialized() else None
        spawner_class = getattr(app, "spawner_class", None)
        if (
            app is not None
            and isinstance(spawner_class, type)
            and issubclass(spawner_class, GPUSpawnerMixin)
        ):
            service = GPUService.for_spawner(spawner_class(config=app.config, log=app.log))
    return service.snapshot() if service is not None else dict(EMPTY)


class GPUAdminAPIHandler(APIHandler):
    """``GET /hub/api/mutirao/gpus``: every GPU, its holder, since when, utilisation; the queue."""

    def get(self) -> None:
        if self.current_user is None:
            raise web.HTTPError(403)
        if not _may_read(self):
            raise web.HTTPError(404)  # exactly what a missing API path answers
        self.set_header("Content-Type", "application/json")
        self.write(json.dumps(snapshot()))


def _when(epoch: float | None) -> str:
    if not epoch:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


PAGE = """{% extends "page.html" %}
{% block main %}
<div class="container">
  <h1>GPUs</h1>
  <table class="table table-striped" id="mutirao-gpus">
    <thead><tr><th>GPU</th><th>Model</th><th>Holder</th><th>Team</th><th>Since</th>
    <th>Stops at (max runtime)</th><th>Utilisation</th><th>State</th></tr></thead>
    <tbody>
    {% for g in snap.gpus if g.allocatable %}
      <tr>
        <td><code>{{ g.uuid }}</code></td><td>{{ g.model or "" }}
          {% if g.mig_profile %}MIG {{ g.mig_profile }}{% endif %}</td>
        <td>{{ g.holder or "free" }}</td><td>{{ g.team or "" }}</td>
        <td>{{ when(g.since) }}</td><td>{{ when(g.stop_at) }}</td>
        <td>{% if g.utilization is not none %}{{ "%.0f" % g.utilization }}%{% endif %}</td>
        <td>{% if not g.present %}vanished{% elif g.idle %}idle{% endif %}</td>
      </tr>
    {% else %}
      <tr><td colspan="8">No GPUs in the inventory.</td></tr>
    {% endfor %}
    </tbody>
  </table>
  <h2>Queue</h2>
  <table class="table" id="mutirao-queue">
    <thead><tr><th>#</th><th>Server</th><th>Team</th><th>Profile</th><th>GPUs</th></tr></thead>
    <tbody>
    {% for q in snap.queue %}
      <tr><td>{{ q.position }}</td><td>{{ q.server_id }}</td><td>{{ q.team or "" }}</td>
      <td>{{ q.profile }}</td><td>{{ q.count }}{% if q.model %} {{ q.model }}{% endif %}</td></tr>
    {% else %}
      <tr><td colspan="5">Nobody is waiting.</td></tr>
    {% endfor %}
    </tbody>
  </table>
  <h2>Reports</h2>
  <ul id="mutirao-reports">
  {% for r in snap.reports|reverse %}
    <li>{{ when(r.time) }}: {{ r.kind }}: {{ r.message }}{% if r.count > 1 %}
      (seen {{ r.count }} times, last at {{ when(r.last_time) }}){% endif %}</li>
  {% else %}
    <li>Nothing to report.</li>
  {% endfor %}
  </ul>
</div>
{% endblock %}
"""


class GPUAdminPageHandler(BaseHandler):
    """``/hub/mutirao/gpus``: the same data as the API, as a page."""

    @web.authenticated
    async def get(self) -> None:
        if not _may_read(self):
            raise web.HTTPError(404)
        template = self.settings["jinja2_env"].from_string(PAGE)
        ns = dict(self.template_namespace, xsrf_token=self.xsrf_token.decode("ascii"))
        html = await template.render_async(**ns, snap=snapshot(), when=_when)
        self.write(html)


def gpu_admin_config(c: Any, groups: list[str] | tuple[str, ...] = ()) -> None:
    """Register the GPU admin page, its API and the ``custom:mutirao-gpus:read`` scope.

    In ``jupyterhub_config.py``::

        from mutirao_spawner.admin import gpu_admin_config
        gpu_admin_config(c, groups=["platform-team"])

    Admins may always read; ``groups`` are teams that get the scope too (through a role
    named ``mutirao-gpu-readers``).

    The handlers join the lists JupyterHub builds its own pages and REST API from
    (``jupyterhub.handlers.default_handlers``, ``jupyterhub.apihandlers.default_handlers``),
    under the hub's prefix as before. Not ``JupyterHub.extra_handlers``: JupyterHub deprecated
    it (and warns at every start) in favour of services, and a service, a process of its own,
    cannot read the ledger, which lives in the hub process.
    """
    # the hub loads its config on its running event loop: the loop-lag probe starts now
    looplag.start_hub_probe()
    _register(hub_handlers.default_handlers, (r"/mutirao/gpus/?", GPUAdminPageHandler))
    _register(hub_api_handlers.default_handlers, (r"/api/mutirao/gpus/?", GPUAdminAPIHandler))
    hub = c.JupyterHub
    # plain values (never traitlets LazyConfigValues), so later config can read and extend them
    scopes = dict(hub.custom_scopes) if "custom_scopes" in hub else {}
    scopes[SCOPE] = {"description": "Read the GPU inventory, holders and queue (Mutirão)"}
    hub.custom_scopes = scopes
    roles = [r for r in (hub.load_roles if "load_roles" in hub else []) if r["name"] != ROLE]
    hub.load_roles = [*roles, {"name": ROLE, "scopes": [SCOPE], "groups": list(groups)}]


def _register(handlers: list, route: tuple[str, type]) -> None:
    """Add ``route`` once (a config file may be loaded twice)."""
    if not any(tuple(h[:2]) == route for h in handlers):
        handlers.append(route)
