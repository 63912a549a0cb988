"""Rooms: team-owned shared servers, managed by a JupyterHub service.

- :mod:`.policy`: pure decisions (names, room roles, scopes, who may do what)
- :mod:`.db`: the service's own tables
- :mod:`.rooms`: the actions, between the handlers and the hub's REST API
- :mod:`.identities`: people's hub ``user_info`` (display names) in member lists
- :mod:`.app`: the service (``mutirao-rooms``): REST API under ``api/`` and pages
- :mod:`.config`: :func:`~.config.rooms_service_config` for ``jupyterhub_config.py``
"""

from .policy import ROLES, SCOPE_PREFIX

__all__ = ["ROLES", "SCOPE_PREFIX"]
