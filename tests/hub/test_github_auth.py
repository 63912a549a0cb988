"""GitHubTeamAuthenticator with recorded GitHub API answers (GitHub cannot be reached from tests).

The HTTP layer is replaced by :class:`tests.hub.recorded.RecordedHTTP`, which answers
oauthenticator's real requests with responses in the shapes GitHub's REST API documents
(``/user``, ``/user/orgs``, ``/user/teams`` paginated by 100 with ``Link`` headers, a child team
whose parent is fetched from ``/orgs/{org}/teams/{slug}``, a private organisation membership
visible with ``read:org``). The OAuth flow, the team mapping and JupyterHub's login checks are
the real code.
"""

from __future__ import annotations

import base64
import logging

import pytest
from tornado import web
from traitlets import TraitError

from mutirao_hub.auth.github import GitHubTeamAuthenticator

from .recorded import (
    ACCESS_TOKEN,
    CLIENT_SECRET,
    PNG_AVATAR,
    Answer,
    RecordedHTTP,
    StoredUser,
    login,
    refresh,
)

API = "https://api.github.com"
AVATAR = "https://avatars.githubusercontent.com/u/1"
TEAMS = f"{API}/user/teams?per_page=100"
TEAMS_2 = f"{API}/user/teams?per_page=100&page=2"


def github_routes(login_name: str = "ana", page_2: list | None = None) -> dict:
    filler = [
        {"slug": f"guild-{i}", "organization": {"login": "other-org"}, "parent": None}
        for i in range(100)
    ]
    if page_2 is None:
        page_2 = [
            # a child team: its parent (ml-research) and grandparent (research) are not listed
            {
                "slug": "ml-vision",
                "organization": {"login": "acme"},
                "parent": {"slug": "ml-research"},
            },
            {"slug": "gpu-pro", "organization": {"login": "acme"}, "parent": None},
        ]
    return {
        ("POST", "https://github.com/login/oauth/access_token"): Answer(
            {"access_token": ACCESS_TOKEN, "token_type": "bearer", "scope": "read:org read:user"}
        ),
        ("GET", f"{API}/user"): Answer(
            {
                "login": login_name,
                "id": 1,
                "name": "Ana Souza",
                "avatar_url": AVATAR,
                "email": "ana@example.org",
            }
        ),
        # acme-private is a private membership: listed because the token has read:org
        ("GET", f"{API}/user/orgs?per_page=100"): Answer(
            [{"login": "acme"}, {"login": "acme-private"}]
        ),
        ("GET", TEAMS): Answer(
            filler,
            headers={"Link": f'<{TEAMS_2}>; rel="next", <{TEAMS_2}>; rel="last"'},
        ),
        ("GET", TEAMS_2): Answer(
            page_2, headers={"Link": f'<{TEAMS}>; rel="first", <{TEAMS}>; rel="prev"'}
        ),
        ("GET", f"{API}/orgs/acme/teams/ml-research"): Answer(
            {"slug": "ml-research", "parent": {"slug": "research"}}
        ),
        ("GET", f"{API}/orgs/acme/teams/research"): Answer({"slug": "research", "parent": None}),
        ("GET", f"{AVATAR}?s=96"): Answer(PNG_AVATAR, headers={"Content-Type": "image/png"}),
    }


def make(routes=None, **config) -> GitHubTeamAuthenticator:
    auth = GitHubTeamAuthenticator(
        client_id="hub-client",
        client_secret=CLIENT_SECRET,
        oauth_callback_url="http://127.0.0.1:8000/hub/oauth_callback",
        **config,
    )
    auth.http_client = RecordedHTTP(routes or github_routes())
    auth.log = logging.getLogger("test-github-auth")
    return auth


def test_paginated_teams_and_parent_teams_become_groups_and_roles():
    auth = make(
        allowed_teams={"acme:research", "acme:gpu-pro"},
        team_groups={"acme:gpu-pro": "gpu-pro"},
        admin_teams={"acme:ml-research"},
        team_roles={"acme:gpu-pro": ["gpu-tier"]},
    )
    model = login(auth)
    assert model["name"] == "ana"
    assert model["groups"] == ["acme:research", "gpu-pro"]
    # a member of ml-vision is a member of its parent ml-research, an admin team
    assert model["admin"] is True
    assert model["roles"] == [{"name": "admin"}, {"name": "gpu-tier"}, {"name": "user"}]
    assert model["user_info"]["display_name"] == "Ana Souza"
    # the picture is kept inline: collaborators' labs load nothing from GitHub
    assert model["user_info"]["avatar_url"] == "data:image/png;base64," + base64.b64encode(
        PNG_AVATAR
    ).decode("ascii")
    assert TEAMS_2 in auth.http_client.urls()
    assert model["auth_state"]["mutirao"]["teams"][:3] == ["acme", "acme-private", "acme:gpu-pro"]


def test_private_organisation_membership_allows():
    auth = make(allowed_teams={"acme-private"})
    assert "read:org" in auth.scope  # without it GitHub hides private memberships
    assert login(auth)["groups"] == ["acme-private"]


def test_user_in_no_allowed_team_is_refused(caplog):
    auth = make(allowed_teams={"acme:secret-project"})
    with caplog.at_level(logging.WARNING):
        assert login(auth) is None
    assert "not a member of any allowed team" in caplog.text


def test_nothing_allowed_refuses_everyone():
    assert login(make()) is None


def test_reserved_room_name_is_refused_whatever_github_says():
    auth = make(github_routes(login_name="room-ml"), allowed_teams={"acme"})
    assert login(auth) is None
    auth = make(github_routes(login_name="Admin"), allowed_teams={"acme"})
    assert login(auth) is None


def test_team_removed_upstream_is_dropped_at_refresh():
    routes = github_routes()
    auth = make(routes, allowed_teams={"acme:research", "acme:gpu-pro"}, enable_auth_state=True)
    model = login(auth)
    assert model["groups"] == ["acme:gpu-pro", "acme:research"]
    user = StoredUser("ana", model["auth_state"])

    # removed from gpu-pro on GitHub: the next refresh (and so the next spawn) drops the group
    routes[("GET", TEAMS_2)] = Answer(github_routes()[("GET", TEAMS_2)].body[:1])
    assert refresh(auth, user)["groups"] == ["acme:research"]

    # removed from every allowed team: a new login is required, and it is refused
    routes[("GET", TEAMS_2)] = Answer([])
    with pytest.raises(web.HTTPError) as e:
        refresh(auth, user)
    assert e.value.status_code == 403
    assert login(auth) is None


def test_malformed_teams_answer_refuses_with_a_log_line(caplog):
    routes = github_routes()
    routes[("GET", TEAMS)] = Answer({"message": "Resource not accessible by integration"})
    auth = make(routes, allowed_teams={"acme"})
    with caplog.at_level(logging.WARNING):
        assert login(auth) is None
    assert "Could not read 'ana''s teams" in caplog.text


@pytest.mark.parametrize("option", ["allowed_organizations", "github_organization_whitelist"])
def test_deprecated_organisation_option_warns_and_never_fails_open(option):
    with pytest.warns(DeprecationWarning, match="allowed_teams"):
        auth = make(**{option: {"acme:research"}})
    assert login(auth)["groups"] == ["acme:research"]
    with pytest.warns(DeprecationWarning, match="allowed_teams"):
        auth = make(**{option: {"acme:secret-project"}})
    assert login(auth) is None


def test_no_token_or_secret_in_logs(caplog):
    with caplog.at_level(logging.DEBUG):
        login(make(allowed_teams={"acme"}))
        login(make(allowed_teams={"nobody"}))
    assert caplog.text
    assert ACCESS_TOKEN not in caplog.text
    assert CLIENT_SECRET not in caplog.text


@pytest.mark.parametrize(
    ("team_roles", "message"),
    [
        ({"acme:ops": ["admin"]}, "use admin_teams"),
        ({"acme:ops": ["user"]}, "managed by JupyterHub"),
        ({"acme:ops": ["Not A Role"]}, "not a valid role name"),
    ],
)
def test_team_roles_are_validated(team_roles, message):
    with pytest.raises(TraitError, match=message):
        make(team_roles=team_roles)


def test_team_roles_without_manage_roles_refuses_to_start():
    # roles that would be silently ignored are a configuration error, not a no-op
    with pytest.raises(TraitError, match="manage_roles"):
        make(team_roles={"acme:gpu-pro": ["gpu-tier"]}, manage_roles=False)
    assert make(team_roles={"acme:gpu-pro": ["gpu-tier"]}).manage_roles is True
    assert make().manage_roles is False


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (Answer(b"<svg onload=alert(1)>", headers={"Content-Type": "image/png"}), "not raster"),
        (Answer(PNG_AVATAR + b"\0" * 70_000, headers={"Content-Type": "image/png"}), "too big"),
        (Answer({"message": "Not Found"}, 404), "missing"),
    ],
)
def test_an_avatar_that_cannot_be_kept_inline_gives_initials(answer, why):
    routes = github_routes()
    routes[("GET", f"{AVATAR}?s=96")] = answer
    auth = make(routes, allowed_teams={"acme:ml-research"})
    model = login(auth)
    assert model["name"] == "ana", why  # a picture never fails a sign-in
    assert "avatar_url" not in model["user_info"], why
    assert model["user_info"]["initials"] == "AS"


def test_inline_avatars_off_fetches_nothing():
    auth = make(allowed_teams={"acme:ml-research"}, inline_avatars=False)
    model = login(auth)
    assert "avatar_url" not in model["user_info"]
    assert not [u for u in auth.http_client.urls() if "avatars." in u]
