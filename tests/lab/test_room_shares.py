"""A room server's reading of its JupyterHub shares (mutirao_lab.rooms.shares).

The hub answer is the share model of JupyterHub 6's ``GET /hub/api/shares/<user>/<server>``
(pagination envelope included); the end-to-end path, a browser member's role coming from the
room's shares, is exercised with a real hub in tests/e2e/test_rooms_browser.py.
"""

from __future__ import annotations

import pytest

from mutirao_lab.rooms.shares import HubShares

SERVER = "custom:mutirao-room-{}!server=room-ml/"


def share(role: str, *, user: str | None = None, group: str | None = None) -> dict:
    roles = ["viewer", "commenter", "editor", "owner"]
    return {
        "server": {"name": "", "user": {"name": "room-ml"}},
        "scopes": ["access:servers!server=room-ml/"]
        + [SERVER.format(r) for r in roles[: roles.index(role) + 1]],
        "user": {"name": user} if user else None,
        "group": {"name": group} if group else None,
        "kind": "group" if group else "user",
    }


@pytest.fixture
def shares() -> HubShares:
    s = HubShares("http://127.0.0.1:1/hub/api", "token", "room-ml")
    s._set(
        [
            share("viewer", group="ml-research"),
            share("editor", group="data-platform"),
            share("commenter", user="carla"),
            share("viewer", user="bruno"),
            {"scopes": ["access:servers!server=room-ml/"], "user": {"name": "x"}, "group": None},
            "not a share",
        ]
    )
    return s


def test_the_highest_of_own_and_team_shares_wins(shares):
    assert shares.role_for("bruno", ["ml-research"]) == "viewer"
    assert shares.role_for("bruno", ["ml-research", "data-platform"]) == "editor"
    assert shares.role_for("carla", ["ml-research"]) == "commenter"


def test_no_share_no_role(shares):
    assert shares.role_for("davi", ["other-team"]) is None
    assert shares.role_for("x") is None  # access only, no room role


def test_nothing_is_granted_before_the_first_reading():
    assert HubShares("http://127.0.0.1:1/hub/api", "t", "room-ml").role_for("bruno") is None


def test_the_url_is_the_servers_own_shares_and_only_http():
    s = HubShares("http://hub:8081/hub/api/", "t", "room-a b", "dev")
    assert s.url == "http://hub:8081/hub/api/shares/room-a%20b/dev"
    with pytest.raises(ValueError, match="must be http"):
        HubShares("file:///etc/passwd", "t", "room-ml")


def test_every_change_is_announced(shares):
    """The room's server asks the hub again who its users are when a share is added, raised,
    lowered or revoked (``on_change``): a removed member must lose the room, and a member added
    back must not stay refused by a cached answer from while they were out."""
    calls: list[int] = []
    shares.on_change = lambda: calls.append(1)
    before = [
        share("viewer", group="ml-research"),
        share("editor", group="data-platform"),
        share("commenter", user="carla"),
        share("viewer", user="bruno"),
    ]
    assert shares._set(before) is False  # the same shares: nothing to do
    assert calls == []
    assert shares._set([*before, share("viewer", user="erin")]) is True  # added
    assert shares._set([*before[:3], share("editor", user="bruno"), share("viewer", user="erin")])
    assert shares._set([*before[:3], share("editor", user="bruno")])  # erin's share revoked
    assert shares._set(
        [before[0], before[1], share("viewer", user="carla"), share("editor", user="bruno")]
    )  # carla lowered
    assert calls == [1, 1, 1, 1]
    assert shares.role_for("carla") == "viewer"


def test_the_first_reading_announces_nothing():
    s = HubShares("http://127.0.0.1:1/hub/api", "t", "room-ml")
    s.on_change = lambda: pytest.fail("nothing changed")
    assert s._set([share("viewer", user="bruno")]) is False
    assert s.role_for("bruno") == "viewer"


def test_a_cached_identity_with_more_than_the_shares_give_is_behind(shares):
    """A share given and taken back between two readings of the shares leaves no change in
    them; the hub's answer the server cached for that person's token still has the role's
    scopes, and is asked again."""

    def model(name: str, *roles: str, groups: tuple[str, ...] = (), **extra) -> dict:
        scopes = [SERVER.format(r) for r in roles]
        return {"kind": "user", "name": name, "groups": list(groups), "scopes": scopes, **extra}

    assert shares.behind(model("erin", "viewer"))  # no share left for erin
    assert shares.behind(model("bruno", "viewer", "commenter"))  # bruno's is viewer
    assert not shares.behind(model("bruno", "viewer"))
    assert not shares.behind(model("ivo", "viewer", "editor", groups=("data-platform",)))
    assert not shares.behind(model("ivo"))  # no role: nothing to take back
    assert not shares.behind(model("room-ml", "owner"))  # the room's own token
    other_room = model("erin")
    other_room["scopes"] = ["custom:mutirao-room-editor!server=room-other/"]
    assert not shares.behind(other_room)
    assert not shares.behind(None)
    assert not HubShares("http://127.0.0.1:1/hub/api", "t", "room-ml").behind(model("x", "owner"))
