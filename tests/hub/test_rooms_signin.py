"""A sign-in lets a team's member into the team's rooms at once, not at the next sync.

JupyterHub checks a browser's OAuth token for a room's server against the person's own
shares, not their team's, so the rooms service gives each team member a copy of the team's
share (docs/admin/rooms.md, "Access follows team membership"). Its periodic pass is set to an
hour here, so only the sign-in itself can have made the copy: a real hub and rooms service,
the local authenticator with a users file the test edits, nothing mocked.
"""

from __future__ import annotations

import pytest
import requests

from mutirao_hub.auth.local import hash_password

from ..harness import HubProcess, wait_for
from .test_rooms_service import PASSWORD, users_toml

TEAMS = {"ana": ["ml-research"], "bruno": ["ml-research"], "carla": ["data-platform"]}
ACCESS = "access:servers!server=room-ml-research/"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    state = tmp_path_factory.mktemp("signin-hub")
    hashes = dict.fromkeys(TEAMS, hash_password(PASSWORD))
    users_file = state / "users.toml"
    users_file.write_text(users_toml(TEAMS, hashes))
    extra = f"""
        from mutirao_hub.rooms.config import rooms_service_config
        c.LocalTeamAuthenticator.users_file = {str(users_file)!r}
        c.LocalTeamAuthenticator.allowed_teams = {{"ml-research", "data-platform"}}
        rooms_service_config(
            c,
            state_dir={str(state / "rooms")!r},
            sync_interval=3600,
            seed_rooms=[{{"name": "ml-research", "teams": {{"ml-research": "editor"}}}}],
        )
        """
    hub = HubProcess(state / "hub", extra_config=extra).start()
    hub.users_file = users_file
    hub.hashes = hashes
    try:
        assert hub.login("ana", PASSWORD).login_response.status_code == 302
        hub.admin_token = hub.user_token("ana")  # ana is the users file's admin
        wait_for(
            lambda: (
                requests.get(
                    hub.url + "services/mutirao-rooms/api/rooms",
                    headers={"Authorization": f"token {hub.admin_token}"},
                    timeout=30,
                ).ok
            ),
            60,
            what="the rooms service",
        )
        yield hub
    finally:
        assert not hub.stop()


def own_share(hub: HubProcess, user: str) -> list[str]:
    """``user``'s own share of the room's server, as the hub has it (read as an admin)."""
    r = requests.get(
        hub.api_url("shares/room-ml-research/"),
        headers={"Authorization": f"token {hub.admin_token}"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    items = r.json()
    items = items["items"] if isinstance(items, dict) else items
    return next(
        (s["scopes"] for s in items if s["kind"] == "user" and s["user"]["name"] == user), []
    )


def test_a_first_sign_in_finds_the_teams_room_open(hub):
    assert own_share(hub, "bruno") == []  # he has never signed in: no hub user, no share
    assert hub.login("bruno", PASSWORD).login_response.status_code == 302
    assert ACCESS in own_share(hub, "bruno")


def test_joining_a_team_opens_its_room_at_the_next_sign_in(hub):
    assert hub.login("carla", PASSWORD).login_response.status_code == 302
    assert own_share(hub, "carla") == []  # data-platform has no share of the room
    hub.users_file.write_text(
        users_toml(dict(TEAMS, carla=["data-platform", "ml-research"]), hub.hashes)
    )
    assert hub.login("carla", PASSWORD).login_response.status_code == 302
    assert ACCESS in own_share(hub, "carla")
