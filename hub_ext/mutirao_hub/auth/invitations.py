"""At a person's first sign-in, the authenticator asks the rooms service for their invitations.

A room can be shared with someone who has never signed in (the rooms service keeps the share
until then, see :mod:`mutirao_hub.rooms.rooms`). The hub creates that person's user during
their first login, after the authenticator has vouched for them and before it redirects them
on, often straight to the room. The authenticator's ``add_user`` hook runs in between: it asks
the rooms service, as the new user (a token for the service alone, deleted at once), to grant
what waits for them, so the redirect finds the room shared. The user's ``user_info`` (with the
e-mail address the identity provider vouched for) is saved first, so invitations by address
match too. If the service cannot be reached the login goes on; its periodic pass grants the
shares a little later.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from jupyterhub import orm
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

log = logging.getLogger("mutirao.auth")

#: Seconds the hub waits for the rooms service during a login.
TIMEOUT = 10.0


def rooms_service(app: Any, name: str) -> Any:
    """The hub's ``Service`` called ``name``, if it runs at a URL the hub knows."""
    services = getattr(app, "_service_map", None) or {}
    service = services.get(name)
    return service if service is not None and service.url else None


async def welcome(app: Any, user: Any, user_info: dict | None, service_name: str) -> int | None:
    """Ask the rooms service to grant the shares waiting for ``user`` (a hub ``User`` just
    created by a login); the number granted, or ``None`` when the service could not say."""
    service = rooms_service(app, service_name)
    if service is None:
        return None
    if user_info is not None:
        # what the login would save just after this hook: the service matches addresses on it
        user.user_info = user_info
        user.db.commit()
    token = user.new_api_token(
        scopes=[f"access:services!service={service_name}"],
        expires_in=120,
        note="Mutirão: invitations at first sign-in",
    )
    url = service.url.rstrip("/") + service.prefix + "api/invitations"
    try:
        response = await AsyncHTTPClient().fetch(
            HTTPRequest(
                url,
                method="POST",
                body="{}",
                headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
                request_timeout=TIMEOUT,
            )
        )
        return int(json.loads(response.body).get("applied", 0))
    except Exception as e:  # the login must not fail for this; the periodic pass catches up
        log.warning("Could not ask the rooms service for %s's invitations: %s", user.name, e)
        return None
    finally:
        found = orm.APIToken.find(user.db, token)
        if found is not None:
            user.db.delete(found)
            user.db.commit()
