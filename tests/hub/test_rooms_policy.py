"""The rooms service's pure decisions: names, room roles, scopes, who may grant what."""

from __future__ import annotations

import pytest

from mutirao_hub.rooms import policy
from mutirao_hub.rooms.policy import Actor, PolicyError


@pytest.mark.parametrize("name", ["ml-research", "vision2", "a1", "x-y-z"])
def test_good_room_names(name):
    assert policy.check_room_name(name) == name


@pytest.mark.parametrize(
    ("name", "status", "message"),
    [
        ("", 400, "needs a name"),
        (None, 400, "needs a name"),
        ("a/b", 400, "path or HTML"),
        ("../etc", 400, "path or HTML"),
        ("<script>", 400, "path or HTML"),
        ("a b", 400, "path or HTML"),
        ("a%2fb", 400, "path or HTML"),
        ('x"onload', 400, "path or HTML"),
        ("ML", 400, "lowercase"),
        ("-x", 400, "lowercase"),
        ("x--y", 400, "lowercase"),
        ("1abc", 400, "start with a letter"),
        ("x" * 41, 400, "at most 40"),
        ("hub", 400, "reserved"),
        ("api", 400, "reserved"),
        ("room-x", 400, "without the 'room-' prefix"),
        ("bruno", 409, "already the name of a user"),
    ],
)
def test_bad_room_names(name, status, message):
    with pytest.raises(PolicyError) as e:
        policy.check_room_name(name, user_names={"bruno"})
    assert e.value.status == status
    assert message in e.value.message


def test_name_length_is_configurable():
    assert policy.check_room_name("x" * 50, max_length=50)
    with pytest.raises(PolicyError):
        policy.check_room_name("x" * 11, max_length=10)


def test_role_ordering():
    assert policy.ROLES == ("viewer", "commenter", "editor", "owner")
    ranks = [policy.role_rank(r) for r in policy.ROLES]
    assert ranks == sorted(ranks) == [1, 2, 3, 4]
    assert policy.role_rank(None) == 0
    assert policy.at_least("editor", "commenter")
    assert not policy.at_least("viewer", "commenter")
    assert not policy.at_least(None, "viewer")
    assert policy.highest(["viewer", None, "editor", "commenter"]) == "editor"
    assert policy.highest([]) is None
    with pytest.raises(PolicyError) as e:
        policy.role_rank("superuser")
    assert e.value.status == 400


def test_custom_scopes_nest_and_are_valid_jupyterhub_names():
    from jupyterhub.scopes import _custom_scope_pattern

    scopes = policy.custom_scopes()
    assert list(scopes) == [
        "custom:mutirao-room-viewer",
        "custom:mutirao-room-commenter",
        "custom:mutirao-room-editor",
        "custom:mutirao-room-owner",
    ]
    assert all(_custom_scope_pattern.match(s) for s in scopes)
    assert all(spec["description"] for spec in scopes.values())
    assert "subscopes" not in scopes["custom:mutirao-room-viewer"]
    assert scopes["custom:mutirao-room-owner"]["subscopes"] == ["custom:mutirao-room-editor"]


def test_share_scopes_are_filtered_to_the_room_and_cumulative():
    assert policy.share_scopes("commenter", "room-x") == [
        "access:servers!server=room-x/",
        "custom:mutirao-room-viewer!server=room-x/",
        "custom:mutirao-room-commenter!server=room-x/",
    ]
    assert len(policy.share_scopes("owner", "room-x")) == 5


def test_role_from_scopes_reads_only_this_rooms_scopes():
    scopes = [
        "access:servers!server=room-x/",
        "custom:mutirao-room-viewer!server=room-x/",
        "custom:mutirao-room-owner!server=room-y/",  # another room
        "custom:mutirao-room-editor!server=room-x/other",  # another server of the room user
        "custom:mutirao-room-superuser!server=room-x/",  # unknown role
        "custom:other-project-editor",
    ]
    assert policy.role_from_scopes(scopes, "room-x") == "viewer"
    assert policy.role_from_scopes(scopes, "room-y") == "owner"
    assert policy.role_from_scopes(scopes, "room-z") is None
    assert policy.role_from_scopes(["custom:mutirao-room-editor!user=room-z"], "room-z") == "editor"
    # a share's own scopes: all filtered to one server already
    assert policy.role_from_scopes(policy.share_scopes("editor", "room-x")) == "editor"


def test_who_may_create_rooms():
    roles, groups = {"mutirao-room-creator"}, {"leads"}

    def may(model):
        return policy.may_create_rooms(model, creator_roles=roles, creator_groups=groups)

    assert may({"admin": True})
    assert may({"roles": ["user", "mutirao-room-creator"]})
    assert may({"groups": ["leads"]})
    assert not may({"roles": ["user"], "groups": ["ml-research"]})
    assert not may({})


@pytest.mark.parametrize(
    ("actor", "role", "share_role", "status"),
    [
        (Actor("o", "owner"), "owner", "owner", None),
        (Actor("o", "owner"), "viewer", "owner", None),
        (Actor("e", "editor"), "viewer", "owner", 403),  # sharing needs owner here
        (Actor("e", "editor"), "editor", "editor", None),
        (Actor("e", "editor"), "owner", "editor", 403),  # above one's own role
        (Actor("v", "viewer"), "viewer", "editor", 403),
        (Actor("n", None), "viewer", "owner", 404),  # not a member: like a missing room
        (Actor("a", None, admin=True), "owner", "owner", None),
        (Actor("o", "owner"), "superuser", "owner", 400),
    ],
)
def test_grant_checks(actor, role, share_role, status):
    if status is None:
        policy.check_grant(actor, role, share_role=share_role)
    else:
        with pytest.raises(PolicyError) as e:
            policy.check_grant(actor, role, share_role=share_role)
        assert e.value.status == status


def test_non_members_get_the_missing_room_answer():
    with pytest.raises(PolicyError) as e:
        policy.require_role(Actor("carol", None), "viewer", "reading")
    assert (e.value.status, e.value.message) == (404, policy.NOT_FOUND)


def test_owning_teams():
    check = policy.check_teams
    got = check({"ml": "editor"}, creator_groups=["ml"], admin=False, existing_groups=["ml"])
    assert got == {"ml": "editor"}
    cases = [
        ({}, ["ml"], False, 400),
        ({"ml": "boss"}, ["ml"], False, 400),
        ({"nope": "editor"}, ["ml"], False, 400),
        ({"ml": "editor"}, [], False, 403),  # not one's own team
    ]
    for teams, mine, admin, status in cases:
        with pytest.raises(PolicyError) as e:
            check(teams, creator_groups=mine, admin=admin, existing_groups=["ml"])
        assert e.value.status == status
    assert check({"ml": "viewer"}, creator_groups=[], admin=True, existing_groups=["ml"])


# -- invitations ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("carla", ("user", "carla")),
        ("  Carla ", ("user", "carla")),
        ("c.lima+ml", ("user", "c.lima+ml")),
        ("Carla@Example.ORG", ("email", "carla@example.org")),
    ],
)
def test_invitee_is_a_name_or_an_address(typed, expected):
    assert policy.invitee(typed, prefix="room-", reserved={"admin"}) == expected


@pytest.mark.parametrize(
    "typed", ["", "two words", "room-x", "Admin", "a/b", "<b>", "x" * 300, "a@b", "@x.org"]
)
def test_invitee_refuses_what_nobody_signs_in_as(typed):
    with pytest.raises(policy.PolicyError) as e:
        policy.invitee(typed, prefix="room-", reserved={"admin"})
    assert e.value.status == 400


def test_waits_for_matches_name_or_recorded_address():
    carla = {"name": "carla", "user_info": {"email": "Carla@Example.org"}}
    assert policy.waits_for("user", "carla", carla)
    assert policy.waits_for("email", "carla@example.org", carla)
    assert not policy.waits_for("email", "other@example.org", carla)
    assert not policy.waits_for("email", "carla@example.org", {"name": "carla"})
    assert policy.waits_for("email", "c@x.org", {"name": "c@x.org"})


def test_suggestions_people_then_teams_without_rooms_or_addresses():
    users = [
        {"name": "carla", "user_info": {"display_name": "Carla Lima", "email": "c@x.org"}},
        {"name": "bruno", "user_info": {"display_name": "Bruno Carvalho"}},
        {"name": "room-cards", "user_info": {}},
        {"name": "ana", "user_info": None},
    ]
    found = policy.suggestions(
        "car", users, ["cartography", "ml"], prefix="room-", pending=["cara"]
    )
    assert [(m["kind"], m["name"]) for m in found] == [
        ("user", "bruno"),  # by display name
        ("user", "cara"),
        ("user", "carla"),
        ("group", "cartography"),
    ]
    assert next(m for m in found if m["name"] == "cara")["pending"] is True
    assert not [m for m in found if "email" in m]
    by_address = policy.suggestions("c@x.org", users, [], prefix="room-")
    assert [m["name"] for m in by_address] == ["carla"]
    assert policy.suggestions("c@x", users, [], prefix="room-") == []


def test_deleted_room_folders_expire_after_the_days_kept():
    deleted_at = 1_800_000_000.0  # 2027-01-15 08:00 UTC
    name = policy.deleted_folder_name("room-old", deleted_at)
    assert name == "room-old-20270115T080000Z"
    day = 86400
    assert not policy.deleted_folder_expired(name, deleted_at + 30 * day - 1, 30)
    assert policy.deleted_folder_expired(name, deleted_at + 30 * day, 30)
    # an admin's own folders there are never removed
    for other in ("backup", "room-old", "room-old-2027", "room-old-20271399T999999Z"):
        assert not policy.deleted_folder_expired(other, deleted_at + 1000 * day, 30)
