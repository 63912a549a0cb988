"""What a room's lab page offers follows the person's room role.

The page config carries ``mutiraoRoomRole``, the role the server gives the person loading
the page, so the lab is read-only from its first moment for viewers and commenters (before
it opens a notebook, and so before it would connect to a kernel the server refuses them).

JupyterLab's terminal plugin and its terminal manager look at the page config's
``terminalsAvailable``: when it is false the lab shows no terminal in the launcher or menus
and never polls ``api/terminals``. A room member whose role may not even list terminals (see
:data:`.roles.RULES`) gets a page that says so, instead of a lab that asks every few seconds
and is refused each time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import roles
from .authorizer import RoomAuthorizer

PageConfigHook = Callable[[Any, dict], dict]


def role_page_config(authorizer: RoomAuthorizer, previous: PageConfigHook | None) -> PageConfigHook:
    """A ``page_config_hook`` that runs ``previous`` (JupyterHub's), then adds the room role
    and hides terminals from those whose room role may not read them."""

    def hook(handler: Any, page_config: dict) -> dict:
        if previous is not None:
            page_config = previous(handler, page_config)
        role = authorizer.role(handler.current_user)
        # a copy: the page config jupyterlab_server passes in is shared by every request
        page_config = {**page_config, "mutiraoRoomRole": role or ""}
        if not roles.allowed(role, "read", "terminals"):
            page_config["terminalsAvailable"] = False
        return page_config

    return hook


def install(web_app: Any, authorizer: RoomAuthorizer) -> None:
    """Chain :func:`role_page_config` onto the server's ``page_config_hook``."""
    settings = web_app.settings
    settings["page_config_hook"] = role_page_config(authorizer, settings.get("page_config_hook"))
