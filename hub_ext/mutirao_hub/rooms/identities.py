"""How the people in a room's member list look: their hub ``user_info``.

The hub's share models name a person only by user name. The share dialog shows people as
they appear everywhere else (display name, initials, colour, picture), so the member list
the service answers adds those keys, read from the hub's user model, which carries the
authenticator's ``user_info`` (see :mod:`mutirao_hub.auth.identity`).
"""

from __future__ import annotations

import asyncio
import logging

from .hubapi import HubAPI, HubAPIError

log = logging.getLogger("mutirao.rooms")

#: The ``user_info`` keys passed on, each a string when present.
IDENTITY_KEYS = ("display_name", "initials", "color", "avatar_url")
#: Longer values are not passed on (a display name, or a URL, has no business being longer).
MAX_VALUE_LENGTH = 2048
#: Hub requests in flight at once for one member list.
CONCURRENCY = 8


def identity(user_model: dict | None) -> dict[str, str]:
    """The identity keys of a hub user model's ``user_info`` that are non-empty strings."""
    info = (user_model or {}).get("user_info")
    if not isinstance(info, dict):
        return {}
    return {
        key: value
        for key in IDENTITY_KEYS
        if isinstance(value := info.get(key), str) and 0 < len(value) <= MAX_VALUE_LENGTH
    }


async def with_identities(hub: HubAPI, members: list[dict]) -> list[dict]:
    """``members`` (as :meth:`.rooms.RoomsManager.members` lists them), each person with
    their identity keys added. A person the hub cannot tell about is listed by name only."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def named(member: dict) -> dict:
        if member.get("kind") != "user":
            return dict(member)
        async with gate:
            try:
                model = await hub.get_user(member["name"])
            except HubAPIError as e:
                log.warning("No identity for %s: %s", member["name"], e)
                model = None
        return {**member, **identity(model)}

    return list(await asyncio.gather(*(named(m) for m in members)))
