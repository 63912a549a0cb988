"""The hub's page for accepting a share link names the room and who invites.

JupyterHub's own page (``/hub/accept-share?code=...``) names the server's owner, which for a
room is its hub user (``room-ml-research``), and lists scopes. :func:`rooms_service_config`
puts Mutirão's ``accept-share.html`` first in ``JupyterHub.template_paths`` and this module's
:class:`LinkInfo` in ``JupyterHub.template_vars``: for a link the rooms service made, the page
says "Ana Souza invites you to ML research as viewer"; for any other share code it is the hub's
own page.

The hub reads the rooms service's tables (the room's display name, and the link's row kept
when it was made, found by the SHA-256 of the code) with one small query per page view.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import create_engine, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from .db import Room, RoomLink, code_hash

log = logging.getLogger("mutirao.rooms")


class LinkInfo:
    """``JupyterHub.template_vars`` value: called with the page's user, it returns
    ``lookup(owner_name, code)``, a dict ``{display_name, inviter, role}`` or ``None``."""

    def __init__(self, db_url: str, room_user_prefix: str = "room-"):
        self.db_url = db_url
        self.prefix = room_user_prefix
        self._engine: Any = None

    def __call__(self, _user: Any) -> Callable[[str, str], dict | None]:
        return self.lookup

    def lookup(self, owner: str, code: str) -> dict | None:
        if not (isinstance(owner, str) and owner.startswith(self.prefix) and code):
            return None
        name = owner[len(self.prefix) :]
        try:
            if self._engine is None:
                self._engine = create_engine(self.db_url)
            with Session(self._engine) as db:
                room = db.scalars(select(Room).where(Room.name == name)).one_or_none()
                if room is None:
                    return None
                link = db.scalars(
                    select(RoomLink).where(
                        RoomLink.code_hash == code_hash(code), RoomLink.room_id == room.id
                    )
                ).one_or_none()
                return {
                    "room": room.name,
                    "display_name": room.display_name or room.name,
                    "inviter": (link.created_by_name or link.created_by) if link else "",
                    "role": link.role if link else "",
                }
        except SQLAlchemyError as e:  # the hub's own page is shown instead
            log.warning("Could not read the rooms service's tables: %s", e)
            return None
