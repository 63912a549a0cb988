"""At each sign-in, the authenticator asks the rooms service to bring the person's rooms up to date.

Two things can wait for a sign-in. A room can be shared with someone who has never signed in
(the rooms service keeps the share until then, see :mod:`mutirao_hub.rooms.rooms`). And a
room shared with a team lets a member's browser in only once the member holds a copy of the
share of their own (the hub checks OAuth tokens against the person's own shares), which the
service makes when it sees the person in the team, the first time just after a sign-in
that put them there.

The hub signs the person in, creating their user the first time, after the authenticator
has vouched for them and before it redirects them on, often straight to a room. The
authenticator's hooks run in between (``add_user`` the first time, its post-auth hook
afterwards): they update the person's hub groups as the hub is about to, then ask the rooms
service, as the person (a token for the service alone, deleted at once), to grant what waits
for them, so the redirect finds the room shared. The user's ``user_info`` (with the e-mail
address the identity provider vouched for) is saved first, so invitations by address match
too. If the service cannot be reached the login goes on; its periodic pass grants the shares
a little later.
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
    """Ask the rooms service to grant the shares waiting for ``user`` (a hub ``User`` signing
    in) and their copies of their teams' shares; the number of invitations granted, or
    ``None`` when the service could not say."""
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
        note="Mutirão: rooms at sign-in",
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
