"""The rooms service through a real hub, proxy and room server (one hub for the module).

People (a copy of the demo's users file, so a test can edit it):

- ana: admin (and in ml-research); ada: admin in data-platform, so in no room;
  alice: team ``leads`` (which may create rooms) and ml-research
- bruno, erin: ml-research; bob, cris, carol, davi, carla: data-platform

The room ``matrix`` is alice's (owner); ml-research are its editors, cris a commenter, bob a
viewer, carol nobody. The room ``ml-research`` is seeded by the service's config.
"""

from __future__ import annotations

import html
import re
import time
from pathlib import Path

import pytest
import requests

import mutirao_hub.rooms
from mutirao_hub.auth.local import hash_password

from ..harness import HubProcess, wait_for
from ..openapi_fuzz import fuzz

TEAMS = {
    "ana": ["ml-research"],
    "ada": ["data-platform"],
    "alice": ["leads", "ml-research"],
    "bruno": ["ml-research"],
    "erin": ["ml-research"],
    "bob": ["data-platform"],
    "cris": ["data-platform"],
    "carol": ["data-platform"],
    "davi": ["data-platform"],
    "carla": ["data-platform"],
}
ADMINS = {"ana", "ada"}
PASSWORD = "rooms-test-pass"
LINK_EXPIRY = 60  # the shortest a JupyterHub share code lives


def users_toml(teams: dict[str, list[str]], hashes: dict[str, str]) -> str:
    out = []
    for name, team_list in teams.items():
        out += [
            f"[users.{name}]",
            f'display_name = "{name.title()}"',
            f"teams = {team_list!r}".replace("'", '"'),
            f'password_hash = "{hashes[name]}"',
        ]
        if name in ADMINS:
            out.append("admin = true")
        out.append("")
    return "\n".join(out)


class Rooms:
    """The hub, the people's tokens and a small client of the rooms API."""

    def __init__(self, hub: HubProcess, users_file: Path, hashes: dict[str, str]):
        self.hub = hub
        self.users_file = users_file
        self.hashes = hashes
        self.tokens: dict[str, str] = {}
        self.api_url = hub.url + "services/mutirao-rooms/api/"

    def login(self, name: str) -> requests.Session:
        s = self.hub.login(name, PASSWORD)
        assert s.login_response.status_code == 302, s.login_response.text
        return s

    def token(self, name: str) -> str:
        if name not in self.tokens:
            self.tokens[name] = self.hub.user_token(name)
        return self.tokens[name]

    def call(self, who: str | None, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"token {self.token(who)}"} if who else {}
        return requests.request(method, self.api_url + path, headers=headers, timeout=60, **kwargs)

    def hub_scopes(self, who: str, token: str | None = None) -> list[str]:
        r = requests.get(
            self.hub.api_url("user"),
            headers={"Authorization": f"token {token or self.token(who)}"},
            timeout=30,
        )
        return r.json()["scopes"]

    def shares(self, room: str) -> list:
        """The room's shares as the hub has them (read as an admin)."""
        r = requests.get(
            self.hub.api_url(f"shares/room-{room}/"),
            headers={"Authorization": f"token {self.token('ana')}"},
            timeout=30,
        )
        assert r.status_code == 200, r.text
        items = r.json()
        items = items["items"] if isinstance(items, dict) else items  # paginated or not
        return sorted((s["kind"], s[s["kind"]]["name"], sorted(s["scopes"])) for s in items)


@pytest.fixture(scope="module")
def rooms(tmp_path_factory):
    state = tmp_path_factory.mktemp("rooms-hub")
    one_hash = hash_password(PASSWORD)  # argon2 is slow on purpose: hash once for everyone
    hashes = dict.fromkeys(TEAMS, one_hash)
    users_file = state / "users.toml"
    users_file.write_text(users_toml(TEAMS, hashes))
    extra = f"""
        from mutirao_hub.rooms.config import rooms_service_config
        c.LocalTeamAuthenticator.users_file = {str(users_file)!r}
        c.LocalTeamAuthenticator.allowed_teams = {{"ml-research", "data-platform", "leads"}}
        c.LocalTeamAuthenticator.team_roles = {{"leads": ["mutirao-room-creator"]}}
        rooms_service_config(
            c,
            state_dir={str(state / "rooms")!r},
            room_files_template={str(state / "hub" / "homes" / "{username}")!r},
            sync_interval=1,
            profiles=["cpu", "gpu"],
            team_profiles={{"data-platform": ["gpu"]}},
            seed_rooms=[{{"name": "ml-research", "teams": {{"ml-research": "editor"}}}}],
        )
        """
    hub = HubProcess(state / "hub", extra_config=extra).start()
    r = Rooms(hub, users_file, hashes)
    try:
        for name in TEAMS:
            r.login(name)
        wait_for(lambda: r.call("bruno", "GET", "rooms").json(), 30, what="the seeded room")
        created = r.call(
            "alice",
            "POST",
            "rooms",
            json={"name": "matrix", "teams": {"ml-research": "editor"}, "display_name": "Matrix"},
        )
        assert created.status_code == 201, created.text
        for who, role in (("bob", "viewer"), ("cris", "commenter")):
            shared = r.call(
                "alice", "POST", "rooms/matrix/shares", json={"user": who, "role": role}
            )
            assert shared.status_code == 200, shared.text
        # a link made now expires before the module's last test
        link = r.call(
            "alice",
            "POST",
            "rooms/matrix/links",
            json={"role": "viewer", "expires_in": LINK_EXPIRY},
        )
        assert link.status_code == 201, link.text
        r.link = link.json()
        r.link_made_at = time.monotonic()
        # davi accepts it while it is valid; the module's last test checks what happens later
        r.accepted = accept_link(r, "davi", r.link)
        yield r
    finally:
        leaks = hub.stop()
        (Path(__file__).resolve().parents[2] / "test-artifacts").mkdir(exist_ok=True)
        (
            Path(__file__).resolve().parents[2] / "test-artifacts" / "rooms-jupyterhub.log"
        ).write_text(hub.log())
        assert "JupyterServerAuthWarning" not in hub.log()
        assert not leaks, leaks


def accept_link(rooms: Rooms, who: str, link: dict) -> tuple[int, int]:
    """Open a share link and accept it, as a logged-in browser does; (GET, POST) statuses."""
    url = rooms.hub.url.rstrip("/") + link["accept_url"][len(rooms.hub.base_url) - 1 :]
    session = rooms.login(who)
    page = session.get(url, timeout=30)
    posted = session.post(
        url,
        data={"code": link["code"], "_xsrf": session.cookies.get("_xsrf", "")},
        allow_redirects=False,
        timeout=30,
    )
    return page.status_code, posted.status_code


def room_names(resp) -> dict[str, str | None]:
    assert resp.status_code == 200, resp.text
    return {room["name"]: room["my_role"] for room in resp.json()}


def test_create_room_as_permitted_user_and_refused_otherwise(rooms):
    r = rooms.call("alice", "POST", "rooms", json={"name": "vision", "teams": {"leads": "editor"}})
    assert r.status_code == 201, r.text
    model = r.json()
    assert model["user"] == "room-vision"
    assert model["my_role"] == "owner"
    assert model["url"] == rooms.hub.base_url + "user/room-vision/"
    assert rooms.hub.api("GET", "users/room-vision").status_code == 200
    # the room user cannot log in: the authenticator refuses the room prefix
    assert rooms.hub.login("room-vision", PASSWORD).login_response.status_code == 403

    refused = rooms.call(
        "carol", "POST", "rooms", json={"name": "carols", "teams": {"data-platform": "editor"}}
    )
    assert refused.status_code == 403
    assert refused.json()["message"] == "You may not create rooms."
    assert rooms.hub.api("GET", "users/room-carols").status_code == 404
    # a creator may not give a room to a team they are not in
    other = rooms.call(
        "alice", "POST", "rooms", json={"name": "theirs", "teams": {"data-platform": "editor"}}
    )
    assert other.status_code == 403
    assert rooms.hub.api("GET", "users/room-theirs").status_code == 404


def test_list_my_rooms(rooms):
    assert room_names(rooms.call("bob", "GET", "rooms")) == {"matrix": "viewer"}
    assert room_names(rooms.call("cris", "GET", "rooms")) == {"matrix": "commenter"}
    bruno = room_names(rooms.call("bruno", "GET", "rooms"))
    assert bruno["matrix"] == "editor"
    assert bruno["ml-research"] == "editor"
    assert room_names(rooms.call("carol", "GET", "rooms")) == {}
    links = rooms.call("alice", "GET", "rooms/matrix/links").json()
    assert [x["id"] for x in links] == [rooms.link["id"]]
    assert "code" not in links[0]  # the code itself is shown once, when the link is made
    # admins see every room
    assert {"matrix", "ml-research"} <= set(room_names(rooms.call("ana", "GET", "rooms")))


def test_a_room_is_listed_only_once_the_hub_lets_the_member_in(rooms):
    """The hub checks a browser's OAuth token against the person's own shares, not their
    team's; a team member whose own copy of the share is missing (the room was just made,
    or they just joined the team) gets it before the room is listed to them, not at the next
    periodic sync. Here bruno's copy is taken away on the hub as an admin, and his next
    listing must find it made again."""
    revoked = requests.patch(
        rooms.hub.api_url("shares/room-ml-research/"),
        json={"user": "bruno"},
        headers={"Authorization": f"token {rooms.token('ana')}"},  # ana is an admin
        timeout=30,
    )
    assert revoked.status_code == 200, revoked.text
    listed = room_names(rooms.call("bruno", "GET", "rooms"))
    own = [s for s in rooms.shares("ml-research") if s[:2] == ("user", "bruno")]
    assert listed["ml-research"] == "editor"
    assert own, "bruno has no share of his own"
    assert "access:servers!server=room-ml-research/" in own[0][2]


def test_room_roles_reach_the_user_model_as_scopes(rooms):
    bob = rooms.hub_scopes("bob")
    assert "access:servers!server=room-matrix/" in bob
    assert "custom:mutirao-room-viewer!server=room-matrix/" in bob
    assert not [s for s in bob if s.startswith("custom:mutirao-room-commenter")]
    # a team's members hold the team's role in their own tokens too
    bruno = rooms.hub_scopes("bruno")
    assert "custom:mutirao-room-editor!server=room-matrix/" in bruno
    assert "custom:mutirao-room-editor!server=room-ml-research/" in bruno
    assert not [s for s in bruno if s.startswith("custom:mutirao-room-owner")]
    assert not [s for s in rooms.hub_scopes("carol") if "custom:mutirao-room" in s]


def test_share_with_user_and_team_then_revoke(rooms):
    r = rooms.call("alice", "POST", "rooms", json={"name": "sharing", "teams": {"leads": "owner"}})
    assert r.status_code == 201, r.text
    r = rooms.call(
        "alice", "POST", "rooms/sharing/shares", json={"user": "carla", "role": "viewer"}
    )
    assert r.json() == {"kind": "user", "name": "carla", "role": "viewer"}
    assert room_names(rooms.call("carla", "GET", "rooms")) == {"sharing": "viewer"}
    assert "custom:mutirao-room-viewer!server=room-sharing/" in rooms.hub_scopes("carla")
    # people are listed with how the hub shows them (their user_info), teams by name
    members = {m["name"]: m for m in rooms.call("alice", "GET", "rooms/sharing/shares").json()}
    assert {k: members["carla"].get(k) for k in ("display_name", "initials")} == {
        "display_name": "Carla",
        "initials": "C",
    }
    assert re.fullmatch(r"#[0-9a-f]{6}", members["carla"]["color"])
    assert members["alice"]["display_name"] == "Alice"
    assert members["leads"] == {"kind": "group", "name": "leads", "role": "owner"}

    r = rooms.call(
        "alice", "POST", "rooms/sharing/shares", json={"team": "data-platform", "role": "commenter"}
    )
    assert r.status_code == 200, r.text
    # the team's role is higher than carla's own: she has the higher one
    assert room_names(rooms.call("carla", "GET", "rooms")) == {"sharing": "commenter"}
    assert room_names(rooms.call("davi", "GET", "rooms"))["sharing"] == "commenter"
    members = {
        (m["kind"], m["name"], m["role"])
        for m in rooms.call("alice", "GET", "rooms/sharing/shares").json()
    }
    assert ("group", "data-platform", "commenter") in members
    assert ("user", "carla", "viewer") not in members  # raised by team

    assert (
        rooms.call("alice", "DELETE", "rooms/sharing/shares/teams/data-platform").status_code == 204
    )
    assert "sharing" not in room_names(rooms.call("davi", "GET", "rooms"))
    assert room_names(rooms.call("carla", "GET", "rooms")) == {"sharing": "viewer"}
    assert rooms.call("alice", "DELETE", "rooms/sharing/shares/users/carla").status_code == 204
    assert room_names(rooms.call("carla", "GET", "rooms")) == {}
    assert not [s for s in rooms.hub_scopes("carla") if "room-sharing" in s]
    again = rooms.call("alice", "DELETE", "rooms/sharing/shares/users/carla")
    assert again.status_code == 404


def test_pages_escape_what_people_typed(rooms):
    evil = '<script>alert("x")</script>'
    r = rooms.call(
        "alice",
        "POST",
        "rooms",
        json={"name": "escaped", "teams": {"leads": "editor"}, "display_name": evil},
    )
    assert r.status_code == 201, r.text
    session = rooms.login("alice")
    page = session.get(rooms.hub.url + "services/mutirao-rooms/rooms/escaped", timeout=30)
    assert page.status_code == 200, page.text
    assert "<script>" not in page.text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page.text
    listing = session.get(rooms.hub.url + "services/mutirao-rooms/", timeout=30)
    assert "<script>" not in listing.text
    assert "style.min.css" in listing.text


def test_a_non_member_gets_the_same_404_as_for_a_missing_room(rooms):
    real = rooms.call("carol", "GET", "rooms/matrix")
    missing = rooms.call("carol", "GET", "rooms/no-such-room")
    assert real.status_code == missing.status_code == 404
    assert real.json() == missing.json() == {"status": 404, "message": "No such room."}
    for path in ("shares", "links", "server"):
        method = "POST" if path == "server" else "GET"
        a = rooms.call("carol", method, f"rooms/matrix/{path}")
        b = rooms.call("carol", method, f"rooms/no-such-room/{path}")
        assert (a.status_code, a.json()) == (b.status_code, b.json()) == (404, real.json())
    session = rooms.login("carol")
    pages = [
        session.get(rooms.hub.url + f"services/mutirao-rooms/rooms/{n}", timeout=30)
        for n in ("matrix", "no-such-room")
    ]
    assert pages[0].status_code == pages[1].status_code == 404
    assert pages[0].text == pages[1].text


# -- the role matrix -------------------------------------------------------------------------
# who: anonymous, non-member (carol), viewer (bob), commenter (cris), editor (bruno, by team),
# owner (alice), admin (ana, also an editor by team), admin without a share (ada). In the
# rooms service admins manage every room as its owners would (the hub's admin view of rooms);
# entering a room's server is another matter (docs/admin/room-roles.md: refused without a
# share unless RoomAuthorizer.admins_act_as_owners). Requests that would change the room are
# made invalid after the authorization check (unknown user, bad expiry, not archived...), so
# the matrix changes nothing; the allowed actions themselves are exercised by the tests
# around it.
WHO = ["anonymous", "carol", "bob", "cris", "bruno", "alice", "ana", "ada"]
# no such person, and not a name anyone could sign in with (a valid name would be an invitation)
NOBODY = {"user": "no such person", "role": "viewer"}
MATRIX = [
    # method, path, body, expected statuses in WHO order
    ("GET", "", None, [403, 200, 200, 200, 200, 200, 200, 200]),
    ("GET", "rooms", None, [403, 200, 200, 200, 200, 200, 200, 200]),
    ("GET", "me", None, [403, 200, 200, 200, 200, 200, 200, 200]),
    ("POST", "rooms", {"name": "Bad Name", "teams": {}}, [403, 403, 403, 403, 403, 400, 400, 400]),
    ("GET", "rooms/matrix", None, [403, 404, 200, 200, 200, 200, 200, 200]),
    ("DELETE", "rooms/matrix", None, [403, 404, 403, 403, 403, 409, 409, 409]),
    ("PATCH", "rooms/matrix", {"display_name": 7}, [403, 404, 403, 403, 403, 400, 400, 400]),
    ("GET", "rooms/matrix/shares", None, [403, 404, 200, 200, 200, 200, 200, 200]),
    ("POST", "rooms/matrix/shares", NOBODY, [403, 404, 403, 403, 403, 400, 400, 400]),
    ("DELETE", "rooms/matrix/shares/users/nobody", None, [403, 404, 403, 403, 403, 404, 404, 404]),
    ("DELETE", "rooms/matrix/shares/teams/nobody", None, [403, 404, 403, 403, 403, 404, 404, 404]),
    ("GET", "rooms/matrix/links", None, [403, 404, 403, 403, 403, 200, 200, 200]),
    (
        "POST",
        "rooms/matrix/links",
        {"role": "viewer", "expires_in": 1},
        [403, 404, 403, 403, 403, 400, 400, 400],
    ),
    ("DELETE", "rooms/matrix/links/sc_99999", None, [403, 404, 403, 403, 403, 404, 404, 404]),
    # stopping a stopped server changes nothing
    ("DELETE", "rooms/matrix/server", None, [403, 404, 403, 403, 202, 202, 202, 202]),
    ("POST", "rooms/matrix/unarchive", None, [403, 404, 403, 403, 403, 409, 409, 409]),
    # archive and start: refusals here; the allowed cases in their own tests
    ("POST", "rooms/matrix/archive", None, [403, 404, 403, 403, 403, None, None, None]),
    ("POST", "rooms/matrix/server", None, [403, 404, None, None, None, None, None, None]),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    MATRIX,
    ids=[f"{m} {p or '/'}" for m, p, _b, _e in MATRIX],
)
def test_role_matrix(rooms, method, path, body, expected):
    before = rooms.shares("matrix")
    got = []
    for who, want in zip(WHO, expected, strict=True):
        if want is None:
            got.append(None)
            continue
        r = rooms.call(None if who == "anonymous" else who, method, path, json=body)
        got.append(r.status_code)
        if r.status_code >= 400:
            assert r.headers["Content-Type"].startswith("application/json")
            assert r.json()["message"]
    assert dict(zip(WHO, got, strict=True)) == dict(zip(WHO, expected, strict=True))
    assert rooms.shares("matrix") == before


# -- bad input -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("bruno", 409),  # a person's name
        ("hub", 400),
        ("services", 400),
        ("a/b", 400),
        ("..", 400),
        ("<img src=x onerror=alert(1)>", 400),
        ("x" * 300, 400),
        ("room-x", 400),
        ("matrix", 409),  # exists
        (42, 400),
    ],
)
def test_bad_room_names_are_refused_and_nothing_is_created(rooms, name, status):
    users_before = {u["name"] for u in rooms.hub.api("GET", "users").json()}
    r = rooms.call("alice", "POST", "rooms", json={"name": name, "teams": {"leads": "editor"}})
    assert r.status_code == status, r.text
    assert r.json()["message"]
    assert {u["name"] for u in rooms.hub.api("GET", "users").json()} == users_before


@pytest.mark.parametrize(
    ("who", "body", "status", "message"),
    [
        # sharing a room one does not own
        ("bruno", {"user": "carol", "role": "viewer"}, 403, "needs the owner role"),
        ("bob", {"user": "carol", "role": "viewer"}, 403, "needs the owner role"),
        # forged scopes: only a role can be asked for
        (
            "alice",
            {
                "user": "carol",
                "role": "viewer",
                "scopes": ["admin:users", "custom:mutirao-room-owner!server=room-matrix/"],
            },
            400,
            "never with scopes",
        ),
        ("alice", {"user": "carol", "role": "superuser"}, 400, "Unknown room role"),
        ("alice", {"user": "carol", "team": "leads", "role": "viewer"}, 400, "exactly one"),
        ("alice", {"user": "room-ml-research", "role": "viewer"}, 400, "No such user"),
        # a team with no hub group yet is an invitation (test_rooms_signin); not a team name:
        ("alice", {"team": "no such/team", "role": "viewer"}, 400, "No such team"),
        ("alice", ["not", "an", "object"], 400, "JSON object"),
    ],
)
def test_bad_shares_are_refused_and_nothing_changes(rooms, who, body, status, message):
    before = rooms.shares("matrix")
    r = rooms.call(who, "POST", "rooms/matrix/shares", json=body)
    assert r.status_code == status, r.text
    assert message in r.json()["message"]
    assert rooms.shares("matrix") == before


def test_nobody_grants_a_role_above_their_own(rooms):
    # a room where editors may share
    r = rooms.call(
        "alice",
        "POST",
        "rooms",
        json={"name": "editors-share", "teams": {"ml-research": "editor"}, "share_role": "editor"},
    )
    assert r.status_code == 201, r.text
    before = rooms.shares("editors-share")
    up = rooms.call(
        "bruno", "POST", "rooms/editors-share/shares", json={"user": "carol", "role": "owner"}
    )
    assert up.status_code == 403
    assert "cannot grant the owner role" in up.json()["message"]
    link = rooms.call("bruno", "POST", "rooms/editors-share/links", json={"role": "owner"})
    assert link.status_code == 403
    assert rooms.shares("editors-share") == before
    # an editor cannot demote or remove the owner either
    demote = rooms.call(
        "bruno", "POST", "rooms/editors-share/shares", json={"user": "alice", "role": "viewer"}
    )
    assert demote.status_code == 403
    assert (
        rooms.call("bruno", "DELETE", "rooms/editors-share/shares/users/alice").status_code == 403
    )
    assert rooms.shares("editors-share") == before
    ok = rooms.call(
        "bruno", "POST", "rooms/editors-share/shares", json={"user": "carol", "role": "editor"}
    )
    assert ok.status_code == 200, ok.text


def test_a_cross_site_post_with_the_service_cookie_changes_nothing(rooms):
    """A browser signed in to the rooms service (its OAuth cookie) must send the service's
    XSRF token with a request that changes something; a page on another site cannot."""
    session = rooms.login("alice")
    page = session.get(rooms.hub.url + "services/mutirao-rooms/", timeout=60)
    assert page.status_code == 200, page.text  # signed in to the service through the hub
    body = {"name": "csrf", "teams": {"leads": "editor"}}
    forged = session.post(rooms.api_url + "rooms", json=body, timeout=60)
    assert forged.status_code == 403, forged.text
    assert rooms.hub.api("GET", "users/room-csrf").status_code == 404
    xsrf = session.cookies.get("_xsrf", path="/@/space%20word/services/mutirao-rooms/")
    xsrf = xsrf or session.cookies.get("_xsrf")
    ok = session.post(rooms.api_url + "rooms", json=body, headers={"X-XSRFToken": xsrf}, timeout=60)
    assert ok.status_code == 201, ok.text
    # tidy up for the module's other tests: a room is archived before it can be deleted
    assert rooms.call("alice", "POST", "rooms/csrf/archive").status_code == 200
    assert rooms.call("alice", "DELETE", "rooms/csrf").status_code in (200, 204)


def test_forged_tokens_are_refused(rooms):
    r = requests.get(rooms.api_url + "rooms", headers={"Authorization": "token forged"}, timeout=30)
    assert r.status_code == 403
    # the hub refuses a share carrying the room-role scope of a room one has no part in
    forged = requests.post(
        rooms.hub.api_url("shares/room-matrix/"),
        headers={"Authorization": f"token {rooms.token('carol')}"},
        json={"user": "carol", "scopes": ["custom:mutirao-room-owner!server=room-matrix/"]},
        timeout=30,
    )
    assert 400 <= forged.status_code < 500, forged.text
    assert "matrix" not in room_names(rooms.call("carol", "GET", "rooms"))


# -- the room's server -----------------------------------------------------------------------
def test_start_the_room_and_reach_it_through_the_proxy(rooms):
    r = rooms.call("bruno", "POST", "rooms/ml-research/server")
    assert r.status_code in (200, 202), r.text

    def ready():
        return rooms.call("bruno", "GET", "rooms/ml-research").json()["server"]["ready"]

    wait_for(ready, 120, interval=0.5, what="the room's server")
    # a member, in the browser: the hub's OAuth lets them in, without asking them to
    # "Authorize access" to the room's server
    session = rooms.login("bruno")
    lab = session.get(rooms.hub.user_url("room-ml-research", "lab"), timeout=60)
    assert lab.status_code == 200, (lab.url, lab.text[:2000])
    assert 'name="scopes"' not in lab.text
    assert "JupyterLab" in lab.text
    contents = session.get(rooms.hub.user_url("room-ml-research", "api/contents"), timeout=30)
    assert contents.status_code == 200, contents.text
    # and with a token
    url = rooms.hub.user_url("room-ml-research", "api/contents")
    ok = requests.get(url, headers={"Authorization": f"token {rooms.token('bruno')}"}, timeout=30)
    assert ok.status_code == 200
    # not a member: the server refuses
    no = requests.get(url, headers={"Authorization": f"token {rooms.token('carol')}"}, timeout=30)
    assert no.status_code in (403, 404)
    # a viewer of matrix may start matrix but not stop it; an editor may stop
    assert rooms.call("bruno", "DELETE", "rooms/ml-research/server").status_code == 202


def test_hostile_json_bodies_get_clear_4xx(rooms):
    deep = b"[" * 100_000 + b"]" * 100_000
    for path in ("rooms", "rooms/matrix/shares", "rooms/matrix/links"):
        r = rooms.call("alice", "POST", path, data=deep)
        assert r.status_code == 400, r.text
        assert "nested deeper than 64 levels" in r.json()["message"]
        r = rooms.call("alice", "POST", path, data=b'{"role": "' + b"x" * 2_000_000 + b'"}')
        assert r.status_code == 413, r.text
        for text in (b'"\\ud800"', b'"a\\u0000"'):
            r = rooms.call("alice", "POST", path, data=b'{"name": ' + text + b', "role": "x"}')
            assert r.status_code == 400, r.text
    assert rooms.hub.api("GET", "users/room-x").status_code == 404


def test_a_room_profile_is_one_its_creator_may_use(rooms):
    def create(who, name, profile):
        body = {"name": name, "teams": {"ml-research": "viewer"}, "profile": profile}
        return rooms.call(who, "POST", "rooms", json=body)

    r = create("alice", "prof-nope", "nope")
    assert r.status_code == 400
    assert r.json()["message"] == "Unknown profile 'nope'."
    # gpu is data-platform's (team_profiles); alice is not in it, an admin may give it
    r = create("alice", "prof-gpu", "gpu")
    assert r.status_code == 400
    assert r.json()["message"] == "The profile 'gpu' is not available to you."
    assert rooms.hub.api("GET", "users/room-prof-gpu").status_code == 404
    r = create("alice", "prof-cpu", "cpu")
    assert r.status_code == 201, r.text
    assert r.json()["profile"] == "cpu"
    r = create("ana", "prof-gpu", "gpu")
    assert r.status_code == 201, r.text


def test_the_last_owner_cannot_leave_or_be_demoted(rooms):
    r = rooms.call("alice", "POST", "rooms", json={"name": "lone", "teams": {"leads": "viewer"}})
    assert r.status_code == 201, r.text
    demote = {"user": "alice", "role": "editor"}
    for method, path, body in [
        ("POST", "rooms/lone/shares", demote),
        ("DELETE", "rooms/lone/shares/users/alice", None),
    ]:
        r = rooms.call("alice", method, path, json=body)
        assert r.status_code == 409, r.text
        assert "last owner" in r.json()["message"]
        # an admin acting as owner cannot either
        assert rooms.call("ana", method, path, json=body).status_code == 409
    assert room_names(rooms.call("alice", "GET", "rooms"))["lone"] == "owner"
    # with a second owner, alice may step down
    r = rooms.call("alice", "POST", "rooms/lone/shares", json={"user": "bruno", "role": "owner"})
    assert r.status_code == 200, r.text
    r = rooms.call("alice", "POST", "rooms/lone/shares", json=demote)
    assert r.status_code == 200, r.text
    assert room_names(rooms.call("alice", "GET", "rooms"))["lone"] == "editor"
    # and now bruno is the last one
    r = rooms.call("bruno", "DELETE", "rooms/lone/shares/users/bruno")
    assert r.status_code == 409, r.text


def test_archive_unarchive_and_delete(rooms):
    r = rooms.call(
        "alice", "POST", "rooms", json={"name": "old", "teams": {"ml-research": "editor"}}
    )
    assert r.status_code == 201, r.text
    assert rooms.call("bruno", "GET", "rooms/old").status_code == 200
    assert rooms.call("alice", "DELETE", "rooms/old").status_code == 409  # archive first

    archived = rooms.call("alice", "POST", "rooms/old/archive")
    assert archived.status_code == 200, archived.text
    assert archived.json()["archived"] is True
    assert rooms.shares("old") == [], rooms.shares("old")
    assert not [s for s in rooms.hub_scopes("bruno") if "room-old" in s]
    assert rooms.call("bruno", "POST", "rooms/old/server").status_code == 409
    # members stay members of the archived room (and see it), without access to its server
    assert rooms.call("bruno", "GET", "rooms/old").json()["archived"] is True

    back = rooms.call("alice", "POST", "rooms/old/unarchive")
    assert back.status_code == 200, back.text
    assert "custom:mutirao-room-editor!server=room-old/" in rooms.hub_scopes("bruno")
    assert rooms.call("alice", "POST", "rooms/old/archive").status_code == 200

    # the room's files, as its server would have left them
    home = rooms.hub.state_dir / "homes" / "room-old"
    (home / ".mutirao").mkdir(parents=True)
    (home / "analysis.ipynb").write_text("{}")
    (home / ".mutirao" / "comments.sqlite").write_text("threads")
    assert rooms.call("alice", "GET", "me").json()["deletion"]["files"] == "moved"
    assert rooms.call("alice", "DELETE", "rooms/old").status_code == 204
    assert rooms.hub.api("GET", "users/room-old").status_code == 404
    assert rooms.call("alice", "GET", "rooms/old").status_code == 404
    # the files are out of reach, kept in the deleted rooms' folder (30 days by default)
    assert not home.exists()
    trash = rooms.hub.state_dir.parent / "rooms" / "deleted-rooms"
    kept = [p.name for p in trash.iterdir()]
    assert len(kept) == 1, kept
    assert re.fullmatch(r"room-old-\d{8}T\d{6}Z", kept[0]), kept
    assert (trash / kept[0] / ".mutirao" / "comments.sqlite").read_text() == "threads"
    # a new room of the same name starts empty
    again = rooms.call(
        "alice", "POST", "rooms", json={"name": "old", "teams": {"ml-research": "editor"}}
    )
    assert again.status_code == 201, again.text
    assert not (home / "analysis.ipynb").exists()


def test_rename_a_room(rooms):
    r = rooms.call("alice", "PATCH", "rooms/matrix", json={"display_name": "  Matrix lab  "})
    assert r.status_code == 200, r.text
    assert r.json()["display_name"] == "Matrix lab"
    assert r.json()["name"] == "matrix"
    assert r.json()["url"].endswith("/user/room-matrix/")
    assert rooms.call("bob", "GET", "rooms/matrix").json()["display_name"] == "Matrix lab"
    # an editor may not; bad bodies are refused and change nothing
    editor = rooms.call("bruno", "PATCH", "rooms/matrix", json={"display_name": "x"})
    assert editor.status_code == 403
    for body, message in (
        ({"display_name": "x" * 101}, "at most 100"),
        ({"display_name": "a\nb"}, "control characters"),
        ({"display_name": "x", "name": "other"}, "Unknown fields: name"),
        ({}, "Missing fields: display_name"),
        (["x"], "JSON object"),
    ):
        bad = rooms.call("alice", "PATCH", "rooms/matrix", json=body)
        assert bad.status_code == 400, bad.text
        assert message in bad.json()["message"]
    # an empty display name shows the room's name
    r = rooms.call("alice", "PATCH", "rooms/matrix", json={"display_name": ""})
    assert r.json()["display_name"] == "matrix"
    r = rooms.call("alice", "PATCH", "rooms/matrix", json={"display_name": "Matrix"})
    assert r.json()["display_name"] == "Matrix"


def test_what_the_new_room_forms_offer(rooms):
    alice = rooms.call("alice", "GET", "me").json()
    assert alice["may_create"] is True
    assert alice["teams"] == ["leads", "ml-research"]
    assert alice["roles"] == ["viewer", "commenter", "editor", "owner"]
    assert alice["templates"] == []
    assert "removed for good after 30 days" in alice["deletion"]["message"]
    assert rooms.call("carol", "GET", "me").json()["may_create"] is False
    # the list says whether each room's server runs
    listed = {r["name"]: r for r in rooms.call("bob", "GET", "rooms").json()}
    assert listed["matrix"]["server"] == {"running": False, "ready": False, "pending": None}


def page_form(session: requests.Session, url: str) -> tuple[requests.Response, str]:
    """GET a service page as a browser; the page and the XSRF token of its forms."""
    page = session.get(url, timeout=60)
    assert page.status_code == 200, page.text
    return page, re.search(r'name="_xsrf" value="([^"]*)"', page.text).group(1)


def test_the_hub_pages_create_rename_archive_and_delete(rooms):
    service = rooms.hub.url + "services/mutirao-rooms/"
    session = rooms.login("alice")
    page, xsrf = page_form(session, service)
    assert 'id="new-room-form"' in page.text
    form = {
        "_xsrf": xsrf,
        "name": "from-page",
        "display_name": "From the page",
        "team": ["leads", "ml-research"],
        "role:leads": "owner",
        "role:ml-research": "viewer",
    }
    # a bad name comes back with the service's reason and what was typed
    refused = session.post(service, data={**form, "name": "Bad Name"}, timeout=60)
    assert refused.status_code == 400
    assert "lowercase letters" in refused.text
    assert 'value="From the page"' in refused.text
    assert rooms.hub.api("GET", "users/room-Bad%20Name").status_code == 404
    # without the form's XSRF token (another site's form) nothing happens
    forged = session.post(service, data={k: v for k, v in form.items() if k != "_xsrf"})
    assert forged.status_code == 403
    assert rooms.call("alice", "GET", "rooms/from-page").status_code == 404

    created = session.post(service, data=form, timeout=60)
    assert created.status_code == 200, created.text
    assert created.url.endswith("/rooms/from-page?done=created")
    assert "The room is ready" in created.text
    model = rooms.call("alice", "GET", "rooms/from-page").json()
    assert model["display_name"] == "From the page"
    assert model["teams"] == {"leads": "owner", "ml-research": "viewer"}
    assert model["my_role"] == "owner"
    assert room_names(rooms.call("bruno", "GET", "rooms"))["from-page"] == "viewer"

    room_url = service + "rooms/from-page"
    _page, xsrf = page_form(session, room_url)
    r = session.post(room_url + "/rename", data={"_xsrf": xsrf, "display_name": "Renamed"})
    assert "display name is changed" in r.text
    assert 'id="room-title">Renamed' in r.text
    # a viewer's page has no owner's buttons, and a forged post is refused with the reason
    bruno = rooms.login("bruno")
    bruno_page, bruno_xsrf = page_form(bruno, room_url)
    assert 'id="room-rename"' not in bruno_page.text
    assert 'id="room-archive"' not in bruno_page.text
    r = bruno.post(room_url + "/archive", data={"_xsrf": bruno_xsrf})
    assert r.status_code == 403
    assert "needs the owner role" in r.text
    assert rooms.call("alice", "GET", "rooms/from-page").json()["archived"] is False

    r = session.post(room_url + "/archive", data={"_xsrf": xsrf})
    assert "The room is archived" in r.text
    assert 'id="room-delete"' in r.text
    confirm = session.get(room_url + "/delete", timeout=60)
    assert "cannot be undone" in confirm.text
    assert "team ml-research (viewer)" in confirm.text  # the shares that are lost
    assert "removed for good after 30 days" in confirm.text
    r = session.post(room_url + "/unarchive", data={"_xsrf": xsrf})
    assert "back, with the shares" in r.text
    assert room_names(rooms.call("bruno", "GET", "rooms"))["from-page"] == "viewer"
    # an active room is archived before it is deleted
    assert "Archive the room before" in session.get(room_url + "/delete", timeout=60).text
    r = session.post(room_url + "/delete", data={"_xsrf": xsrf})
    assert r.status_code == 409
    assert "Archive the room before deleting it" in r.text
    session.post(room_url + "/archive", data={"_xsrf": xsrf})
    r = session.post(room_url + "/delete", data={"_xsrf": xsrf})
    assert r.status_code == 200
    assert r.url.endswith("?done=deleted")
    assert "The room is deleted" in r.text
    assert rooms.call("alice", "GET", "rooms/from-page").status_code == 404
    # a non-member's delete page answers as for a missing room
    assert session.get(service + "rooms/matrix/delete").status_code == 200
    assert rooms.login("carol").get(service + "rooms/matrix/delete").status_code == 404


def test_leaving_the_team_removes_access(rooms):
    assert room_names(rooms.call("erin", "GET", "rooms"))["ml-research"] == "editor"
    assert "access:servers!server=room-ml-research/" in rooms.hub_scopes("erin")

    teams = dict(TEAMS, erin=["data-platform"])
    rooms.users_file.write_text(users_toml(teams, rooms.hashes))
    try:
        rooms.login("erin")  # the authenticator's refresh: groups follow the users file
        assert rooms.hub.api("GET", "users/erin").json()["groups"] == ["data-platform"]
        fresh = rooms.hub.user_token("erin")

        def gone():
            return not [s for s in rooms.hub_scopes("erin", fresh) if "room-ml-research" in s]

        wait_for(gone, 15, what="erin's share to follow the team")
        assert "ml-research" not in room_names(rooms.call("erin", "GET", "rooms"))
        assert rooms.call("erin", "GET", "rooms/ml-research").status_code == 404
    finally:
        rooms.users_file.write_text(users_toml(TEAMS, rooms.hashes))


def test_the_api_answers_as_its_openapi_file_says(rooms):
    """Schemathesis over the rooms service's OpenAPI file (see tests/openapi_fuzz.py), as
    alice, who may create rooms and owns one: no 5xx, statuses and bodies as documented.
    Generated room names name no existing room, so the module's rooms stay as they are."""
    spec = Path(mutirao_hub.rooms.__file__).parent / "openapi.yaml"
    headers = {"Authorization": f"token {rooms.token('alice')}"}
    sent = fuzz(spec, rooms.hub.url + "services/mutirao-rooms/api", headers)
    assert sent > 50


def test_share_links_work_until_they_expire(rooms):
    link = rooms.link
    assert link["role"] == "viewer"
    # davi accepted it while it was valid (in the module's setup)
    assert rooms.accepted == (200, 302)
    assert room_names(rooms.call("davi", "GET", "rooms"))["matrix"] == "viewer"

    # after it expires, nobody else gets in with it
    time.sleep(max(0.0, rooms.link_made_at + LINK_EXPIRY + 1 - time.monotonic()))
    assert accept_link(rooms, "carla", link) == (404, 400)
    assert "matrix" not in room_names(rooms.call("carla", "GET", "rooms"))
    assert rooms.call("alice", "GET", "rooms/matrix/links").json() == []
    # what the link gave davi stays: a link expires, the access it granted does not
    assert room_names(rooms.call("davi", "GET", "rooms"))["matrix"] == "viewer"


# -- invitations before a first sign-in -------------------------------------------------------
def newcomer(name: str, hash_: str, email: str = "") -> str:
    """A users-file entry for someone who has never signed in."""
    lines = [
        f"[users.{name}]",
        f'display_name = "{name.title()} Nova"',
        'teams = ["data-platform"]',
    ]
    if email:
        lines.append(f'email = "{email}"')
    return "\n".join([*lines, f'password_hash = "{hash_}"', ""])


def test_invite_people_before_their_first_sign_in(rooms):
    r = rooms.call("alice", "POST", "rooms", json={"name": "invites", "teams": {"leads": "owner"}})
    assert r.status_code == 201, r.text
    assert rooms.hub.api("GET", "users/nina").status_code == 404
    by_name = rooms.call(
        "alice", "POST", "rooms/invites/shares", json={"user": "nina", "role": "viewer"}
    )
    assert by_name.status_code == 202, by_name.text
    assert by_name.json() | {"invited_at": None} == {
        "kind": "user",
        "name": "nina",
        "role": "viewer",
        "pending": True,
        "invited_by": "alice",
        "invited_at": None,
    }
    by_email = rooms.call(
        "alice", "POST", "rooms/invites/shares", json={"user": "Otto@Example.org", "role": "editor"}
    )
    assert by_email.status_code == 202, by_email.text
    assert (by_email.json()["kind"], by_email.json()["name"]) == ("email", "otto@example.org")
    # an invitation waits in the share list and can be taken back before it is used
    waiting = [
        m for m in rooms.call("alice", "GET", "rooms/invites/shares").json() if m.get("pending")
    ]
    assert [(m["kind"], m["name"], m["role"]) for m in waiting] == [
        ("email", "otto@example.org", "editor"),
        ("user", "nina", "viewer"),
    ]
    gone = rooms.call("alice", "DELETE", "rooms/invites/shares/emails/otto@example.org")
    assert gone.status_code == 204, gone.text
    again = rooms.call("alice", "DELETE", "rooms/invites/shares/emails/otto@example.org")
    assert again.status_code == 404
    assert (
        rooms.call(
            "alice",
            "POST",
            "rooms/invites/shares",
            json={"user": "otto@example.org", "role": "editor"},
        ).status_code
        == 202
    )
    # nobody else is told who is invited, and the hub has no share yet
    assert {n for k, n, _s in rooms.shares("invites") if k == "user"} == {"alice"}

    hash_ = rooms.hashes["alice"]
    rooms.users_file.write_text(
        users_toml(TEAMS, rooms.hashes)
        + "\n"
        + newcomer("nina", hash_)
        + newcomer("otto", hash_, email="otto@example.org")
    )
    try:
        # nina signs in for the first time: the room is hers before the hub redirects her
        nina = rooms.login("nina")
        assert ("user", "nina") in {(k, n) for k, n, _s in rooms.shares("invites")}
        assert room_names(rooms.call("nina", "GET", "rooms")) == {"invites": "viewer"}
        assert "custom:mutirao-room-viewer!server=room-invites/" in rooms.hub_scopes("nina")
        page = nina.get(rooms.hub.url + "services/mutirao-rooms/", timeout=30)
        assert "invites" in page.text
        # otto too, found by the e-mail address the users file gives him
        rooms.login("otto")
        assert ("user", "otto") in {(k, n) for k, n, _s in rooms.shares("invites")}
        assert room_names(rooms.call("otto", "GET", "rooms")) == {"invites": "editor"}
        members = rooms.call("alice", "GET", "rooms/invites/shares").json()
        assert not [m for m in members if m.get("pending")]
        roles = {m["name"]: m["role"] for m in members if m["kind"] == "user"}
        assert (roles["nina"], roles["otto"]) == ("viewer", "editor")
    finally:
        rooms.users_file.write_text(users_toml(TEAMS, rooms.hashes))


@pytest.mark.parametrize(
    "who",
    ["Some One", "room-nope", "admin", "<b>x</b>@evil.org", "x" * 300, "", "a/b", "ü@x"],
)
def test_what_is_neither_a_name_nor_an_address_is_not_invited(rooms, who):
    before = rooms.call("alice", "GET", "rooms/matrix/shares").json()
    r = rooms.call("alice", "POST", "rooms/matrix/shares", json={"user": who, "role": "viewer"})
    assert r.status_code == 400, r.text
    assert "No such user" in r.json()["message"]
    assert rooms.call("alice", "GET", "rooms/matrix/shares").json() == before


def test_suggestions_name_people_and_teams_for_those_who_share(rooms):
    r = rooms.call("alice", "GET", "rooms/matrix/suggestions", params={"q": "CAR"})
    assert r.status_code == 200, r.text
    found = r.json()
    people = [m for m in found if m["kind"] == "user"]
    assert [m["name"] for m in people] == ["carla", "carol"]
    assert people[0]["display_name"] == "Carla"
    assert re.fullmatch(r"#[0-9a-f]{6}", people[0]["color"])
    assert not [m for m in found if "email" in m]
    teams = rooms.call("alice", "GET", "rooms/matrix/suggestions", params={"q": "data"}).json()
    assert {"kind": "group", "name": "data-platform"} in teams
    # rooms are not people
    assert not [
        m
        for m in rooms.call("alice", "GET", "rooms/matrix/suggestions", params={"q": "room"}).json()
        if m["name"].startswith("room-")
    ]
    # only those who may share are told who else is on the hub
    assert (
        rooms.call("bob", "GET", "rooms/matrix/suggestions", params={"q": "a"}).status_code == 403
    )
    assert rooms.call("carol", "GET", "rooms/matrix/suggestions").status_code == 404
    long = rooms.call("alice", "GET", "rooms/matrix/suggestions", params={"q": "x" * 300})
    assert long.status_code == 400


def test_the_link_page_names_the_room_and_who_invites(rooms):
    made = rooms.call(
        "alice", "POST", "rooms/matrix/links", json={"role": "commenter", "expires_in": 3600}
    )
    assert made.status_code == 201, made.text
    link = made.json()
    url = rooms.hub.url.rstrip("/") + link["accept_url"][len(rooms.hub.base_url) - 1 :]
    try:
        page = rooms.login("carol").get(url, timeout=30)
        assert page.status_code == 200, page.text
        text = " ".join(html.unescape(re.sub(r"<[^>]+>", "", page.text)).split())
        assert "Join Matrix" in text
        assert "Alice invites you (carol) to the room Matrix as commenter." in text
        assert 'name="code"' in page.text  # the hub's own form, so accepting works as before
    finally:
        rooms.call("alice", "DELETE", f"rooms/matrix/links/{link['id']}")
