"""The local authenticator and the team mapping without a hub: pure decisions, the auth model."""

from __future__ import annotations

import asyncio
import logging

import pytest
from tornado import web

from mutirao_hub.auth import identity
from mutirao_hub.auth.local import (
    LocalTeamAuthenticator,
    UsersFileError,
    hash_password,
    lockout_remaining,
    parse_users,
)
from mutirao_hub.auth.teams import resolve

from ..harness import REPO

DEMO_USERS = REPO / "config" / "demo" / "users.toml"


def test_resolve_denies_by_default():
    decision = resolve(["ml-research"], allowed_teams=set(), team_groups={}, admin_teams=set())
    assert not decision.allowed
    assert "allowed team" in decision.reason


def test_resolve_maps_only_allowed_teams_to_groups():
    decision = resolve(
        ["acme:ml", "acme:secret", "acme:ops"],
        allowed_teams={"acme:ml", "acme:ops"},
        team_groups={"acme:ml": "ml-research"},
        admin_teams={"acme:ops"},
    )
    assert decision.allowed
    assert decision.groups == ["acme:ops", "ml-research"]
    assert decision.admin


def test_resolve_refuses_team_names_that_cannot_be_groups():
    decision = resolve(
        ["<script>"], allowed_teams=set(), team_groups={}, admin_teams=set(), allow_all_teams=True
    )
    assert not decision.allowed


@pytest.mark.parametrize(
    ("failures", "elapsed", "expected"),
    [(0, 0, 0), (4, 0, 0), (5, 0, 30), (5, 10, 20), (6, 0, 60), (20, 0, 900), (5, 31, 0)],
)
def test_lockout_grows_and_is_capped(failures, elapsed, expected):
    assert (
        lockout_remaining(failures, 100.0, 100.0 + elapsed, allowed=5, base=30, cap=900) == expected
    )


def test_identity_user_info():
    info = identity.user_info("ana", "Ana Souza")
    assert info["display_name"] == "Ana Souza"
    assert info["initials"] == "AS"
    assert info["color"] == identity.colour_for("ana")
    assert identity.user_info("x7", "")["display_name"] == "x7"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("users = 3", "must be a table"),
        ('[users.a]\npassword_hash = "plain"', "argon2"),
        ('[users.a]\npassword_hash = "$argon2id$x"\nadmn = true', "unknown keys"),
        ('[users.a]\npassword_hash = "$argon2id$x"\nteams = "ml"', "list"),
        ("[users.a", "not valid TOML"),
    ],
)
def test_users_file_errors_are_clear(text, message):
    with pytest.raises(UsersFileError, match=message):
        parse_users(text)


@pytest.fixture
def authenticator(tmp_path):
    users = tmp_path / "users.toml"
    users.write_text(DEMO_USERS.read_text())
    auth = LocalTeamAuthenticator(
        users_file=str(users),
        allowed_teams={"ml-research", "data-platform"},
        lockout_seconds=60,
        max_failed_logins=3,
    )
    auth.log = logging.getLogger("test-local-auth")
    return auth


def login(auth, username, password):
    return asyncio.run(
        auth.get_authenticated_user(None, {"username": username, "password": password})
    )


def test_good_password_gives_groups_and_identity(authenticator):
    model = login(authenticator, "davi", "davi-demo")
    assert model["name"] == "davi"
    assert model["groups"] == ["data-platform", "ml-research"]
    assert model["admin"] is False
    assert model["user_info"]["display_name"] == "Davi Rocha"
    assert login(authenticator, "ana", "ana-demo")["admin"] is True


def test_wrong_password_and_unknown_user_are_refused(authenticator):
    assert login(authenticator, "ana", "wrong") is None
    assert login(authenticator, "nobody", "ana-demo") is None


def test_lockout_after_repeated_failures(authenticator):
    for _ in range(3):
        assert login(authenticator, "bruno", "wrong") is None
    with pytest.raises(web.HTTPError) as e:
        login(authenticator, "bruno", "bruno-demo")
    assert e.value.status_code == 429
    # other users are not affected
    assert login(authenticator, "carla", "carla-demo")["name"] == "carla"


def test_user_outside_allowed_teams_is_refused(authenticator):
    authenticator.allowed_teams = {"data-platform"}
    assert login(authenticator, "bruno", "bruno-demo") is None
    assert login(authenticator, "carla", "carla-demo")["groups"] == ["data-platform"]


def test_callable_mapping_options(authenticator):
    async def teams(auth):
        return {"ml-research"}

    authenticator.allowed_teams = teams
    authenticator.team_groups = lambda auth: {"ml-research": "ml"}
    assert login(authenticator, "bruno", "bruno-demo")["groups"] == ["ml"]


def test_reserved_names_are_refused_even_with_a_good_password(tmp_path):
    users = tmp_path / "users.toml"
    hashed = hash_password("secret-pass")
    users.write_text(
        f'[users.room-ml]\nteams = ["t"]\npassword_hash = "{hashed}"\n'
        f'[users.admin]\nteams = ["t"]\npassword_hash = "{hashed}"\n'
    )
    auth = LocalTeamAuthenticator(users_file=str(users), allowed_teams={"t"})
    assert login(auth, "room-ml", "secret-pass") is None
    assert login(auth, "admin", "secret-pass") is None


def test_team_removed_from_file_is_dropped_at_refresh(authenticator, tmp_path):
    class User:
        name = "davi"

    path = tmp_path / "users.toml"
    path.write_text(path.read_text().replace('["data-platform", "ml-research"]', '["ml-research"]'))
    model = asyncio.run(authenticator.refresh_user(User()))
    assert model["groups"] == ["ml-research"]
    path.write_text(path.read_text().replace("[users.davi]", "[users.davi-gone]"))
    assert asyncio.run(authenticator.refresh_user(User())) is False


def test_users_file_is_required():
    with pytest.raises(ValueError, match="users_file"):
        LocalTeamAuthenticator()


def test_empty_room_prefix_is_refused():
    with pytest.raises(Exception, match="room_user_prefix"):
        LocalTeamAuthenticator(users_file=str(DEMO_USERS), room_user_prefix="")
