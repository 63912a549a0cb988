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

TEAMS = {
    "ana": ["ml-research"],
    "bruno": ["ml-research"],
    "carla": ["data-platform"],
    "vera": ["vision"],  # nobody of team vision signs in before the last test
}
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
        c.LocalTeamAuthenticator.allowed_teams = {{"ml-research", "data-platform", "vision"}}
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


def shares(hub: HubProcess, room: str) -> list[dict]:
    """The shares of ``room``'s server, as the hub has them (read as an admin)."""
    r = requests.get(
        hub.api_url(f"shares/room-{room}/"),
        headers={"Authorization": f"token {hub.admin_token}"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    items = r.json()
    return items["items"] if isinstance(items, dict) else items


def own_share(hub: HubProcess, user: str, room: str = "ml-research") -> list[str]:
    """``user``'s own share of the room's server (its scopes; empty when there is none)."""
    return next(
        (
            s["scopes"]
            for s in shares(hub, room)
            if s["kind"] == "user" and s["user"]["name"] == user
        ),
        [],
    )


def rooms_api(hub: HubProcess, who_token: str, method: str, path: str, **kwargs):
    return requests.request(
        method,
        hub.url + "services/mutirao-rooms/api/" + path,
        headers={"Authorization": f"token {who_token}"},
        timeout=30,
        **kwargs,
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


def test_a_team_nobody_of_which_signed_in_yet_is_invited(hub):
    """Sharing with a team the hub has no group for yet (none of its members has signed in)
    keeps an invitation; the first member's sign-in grants the team's share, and that member
    is in at once."""
    made = rooms_api(
        hub,
        hub.admin_token,
        "POST",
        "rooms",
        json={"name": "lab", "teams": {"ml-research": "editor"}},
    )
    assert made.status_code == 201, made.text
    invited = rooms_api(
        hub, hub.admin_token, "POST", "rooms/lab/shares", json={"team": "vision", "role": "viewer"}
    )
    assert invited.status_code == 202, invited.text
    assert (invited.json()["kind"], invited.json()["name"], invited.json()["pending"]) == (
        "group",
        "vision",
        True,
    )
    assert not [
        s for s in shares(hub, "lab") if s["kind"] == "group" and s["group"]["name"] == "vision"
    ]
    bad = rooms_api(
        hub,
        hub.admin_token,
        "POST",
        "rooms/lab/shares",
        json={"team": "no/such team", "role": "viewer"},
    )
    assert bad.status_code == 400, bad.text

    assert hub.login("vera", PASSWORD).login_response.status_code == 302
    team = [s for s in shares(hub, "lab") if s["kind"] == "group"]
    assert {s["group"]["name"] for s in team} == {"ml-research", "vision"}
    assert "access:servers!server=room-lab/" in own_share(hub, "vera", "lab")
    members = rooms_api(hub, hub.admin_token, "GET", "rooms/lab/shares").json()
    assert not [m for m in members if m.get("pending")]
    assert {"kind": "group", "name": "vision", "role": "viewer"} in members
