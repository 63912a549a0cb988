"""The identity keys the rooms service adds to people in a member list (pure part)."""

from __future__ import annotations

import pytest

from mutirao_hub.auth.identity import user_info
from mutirao_hub.rooms.identities import MAX_VALUE_LENGTH, identity


def test_identity_is_the_hubs_user_info():
    model = {"name": "ana", "user_info": user_info("ana", "Ana Souza", "/avatars/ana.png", "a@x")}
    assert identity(model) == {
        "display_name": "Ana Souza",
        "initials": "AS",
        "color": model["user_info"]["color"],
        "avatar_url": "/avatars/ana.png",
    }  # no e-mail: the list shows people, it does not hand out their addresses


@pytest.mark.parametrize(
    "model",
    [
        None,
        {"name": "ana"},
        {"name": "ana", "user_info": None},
        {"name": "ana", "user_info": "Ana"},
        {"name": "ana", "user_info": ["Ana"]},
        {"name": "ana", "user_info": {"display_name": ["<b>Ana</b>"], "initials": 7}},
        {"name": "ana", "user_info": {"display_name": "", "color": None}},
        {"name": "ana", "user_info": {"display_name": "A" * (MAX_VALUE_LENGTH + 1)}},
    ],
)
def test_identity_passes_on_only_plain_strings(model):
    assert identity(model) == {}


def test_identity_keeps_hostile_text_as_it_is():
    # the lab shows it as text; escaping here would show "&lt;" to people
    model = {"user_info": {"display_name": '<img src=x onerror="alert(1)">'}}
    assert identity(model) == {"display_name": '<img src=x onerror="alert(1)">'}
