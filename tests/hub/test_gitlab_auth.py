"""GitLabTeamAuthenticator with recorded GitLab API answers (GitLab cannot be reached from tests).

The HTTP layer is replaced by :class:`tests.hub.recorded.RecordedHTTP`, which answers
oauthenticator's real requests with responses in the shapes GitLab's REST API v4 documents
(``/user``, ``/groups?min_access_level=10`` paginated by 100 with ``Link`` headers, subgroups by
full path), for a self-hosted GitLab at its own URL. The OAuth flow, the team mapping and
JupyterHub's login checks are the real code.
"""

from __future__ import annotations

import logging

import pytest
from tornado import web

from mutirao_hub.auth.gitlab import GitLabTeamAuthenticator

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

GITLAB = "https://gitlab.example.org"
API = f"{GITLAB}/api/v4"
AVATAR = f"{GITLAB}/uploads/-/system/user/avatar/7/avatar.png"
GROUPS = f"{API}/groups?min_access_level=10&per_page=100&order_by=id&sort=asc"
GROUPS_2 = f"{GROUPS}&page=2"


def group(full_path: str, gid: int) -> dict:
    return {"id": gid, "full_path": full_path, "path": full_path.rsplit("/", 1)[-1]}


def gitlab_routes(username: str = "bruno", page_2: list | None = None) -> dict:
    filler = [group(f"community/club-{i}", 1000 + i) for i in range(100)]
    if page_2 is None:
        page_2 = [
            group("acme", 1),
            group("acme/ml-research", 2),
            group("acme/ml-research/vision", 3),
        ]
    return {
        ("POST", f"{GITLAB}/oauth/token"): Answer(
            {"access_token": ACCESS_TOKEN, "token_type": "Bearer", "scope": "read_user read_api"}
        ),
        ("GET", f"{API}/user"): Answer(
            {
                "id": 7,
                "username": username,
                "name": "Bruno Lima",
                "avatar_url": AVATAR,
                "email": "bruno@example.org",
                "state": "active",
            }
        ),
        ("GET", GROUPS): Answer(filler, headers={"Link": f'<{GROUPS_2}>; rel="next"'}),
        ("GET", GROUPS_2): Answer(page_2, headers={"Link": f'<{GROUPS}>; rel="first"'}),
        ("GET", f"{AVATAR}?width=96"): Answer(PNG_AVATAR, headers={"Content-Type": "image/png"}),
    }


def make(routes=None, **config) -> GitLabTeamAuthenticator:
    auth = GitLabTeamAuthenticator(
        gitlab_url=GITLAB,
        client_id="hub-client",
        client_secret=CLIENT_SECRET,
        oauth_callback_url="http://127.0.0.1:8000/hub/oauth_callback",
        **config,
    )
    auth.http_client = RecordedHTTP(routes or gitlab_routes())
    auth.log = logging.getLogger("test-gitlab-auth")
    return auth


def test_self_hosted_subgroups_become_groups_and_roles():
    auth = make(
        allowed_teams={"acme/ml-research", "acme/ml-research/vision"},
        admin_teams={"acme/ml-research/vision"},
        team_roles={"acme/ml-research/vision": ["gpu-tier"]},
    )
    model = login(auth)
    assert model["name"] == "bruno"
    # hub group names cannot hold "/": levels are joined by ":"
    assert model["groups"] == ["acme:ml-research", "acme:ml-research:vision"]
    assert model["admin"] is True
    assert {"name": "gpu-tier"} in model["roles"]
    assert model["user_info"]["display_name"] == "Bruno Lima"
    assert model["user_info"]["avatar_url"].startswith("data:image/png;base64,")
    assert GROUPS_2 in auth.http_client.urls()
    assert all(url.startswith(GITLAB) for url in auth.http_client.urls())


def test_team_groups_renames_a_subgroup():
    auth = make(allowed_teams={"acme/ml-research"}, team_groups={"acme/ml-research": "ml"})
    assert login(auth)["groups"] == ["ml"]


def test_user_in_no_allowed_group_is_refused():
    assert login(make(allowed_teams={"acme/finance"})) is None


def test_reserved_room_name_is_refused():
    assert login(make(gitlab_routes(username="room-vision"), allowed_teams={"acme"})) is None


def test_group_removed_upstream_is_dropped_at_refresh():
    routes = gitlab_routes()
    auth = make(routes, allowed_teams={"acme", "acme/ml-research"}, enable_auth_state=True)
    model = login(auth)
    assert model["groups"] == ["acme", "acme:ml-research"]
    user = StoredUser("bruno", model["auth_state"])
    routes[("GET", GROUPS_2)] = Answer([group("acme", 1)])
    assert refresh(auth, user)["groups"] == ["acme"]
    routes[("GET", GROUPS_2)] = Answer([])
    with pytest.raises(web.HTTPError) as e:
        refresh(auth, user)
    assert e.value.status_code == 403


def test_expired_token_at_refresh_needs_a_new_login():
    routes = gitlab_routes()
    auth = make(routes, allowed_teams={"acme"}, enable_auth_state=True)
    user = StoredUser("bruno", login(auth)["auth_state"])
    routes[("GET", f"{API}/user")] = Answer({"message": "401 Unauthorized"}, 401)
    assert refresh(auth, user) is False


@pytest.mark.parametrize("option", ["allowed_gitlab_groups", "gitlab_group_whitelist"])
def test_deprecated_group_option_warns_and_never_fails_open(option):
    with pytest.warns(DeprecationWarning, match="allowed_teams"):
        auth = make(**{option: {"acme/ml-research"}})
    assert login(auth)["groups"] == ["acme:ml-research"]
    with pytest.warns(DeprecationWarning, match="allowed_teams"):
        auth = make(**{option: {"acme/finance"}})
    assert login(auth) is None


def test_no_token_or_secret_in_logs(caplog):
    with caplog.at_level(logging.DEBUG):
        login(make(allowed_teams={"acme"}))
        login(make(allowed_teams={"nobody"}))
    assert ACCESS_TOKEN not in caplog.text
    assert CLIENT_SECRET not in caplog.text
