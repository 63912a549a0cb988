"""Server-authoritative awareness (mutirao_lab.rooms.awareness): the rewrite of one message.

Messages are made with pycrdt's own awareness encoder, as a client sends them; the end-to-end
path (two people's Y clients through a real hub and room server) is in
tests/hub/test_rooms_collab.py.
"""

from __future__ import annotations

import json

from pycrdt import Awareness, Doc, create_awareness_message

from mutirao_lab.rooms import awareness

ANA = awareness.identity(
    {
        "username": "ana",
        "name": "ana",
        "display_name": "Ana Souza",
        "initials": "AS",
        "color": "#1f77b4",
        "avatar_url": "https://evil.example/a.png",
    },
    "/base/hub/",
)


def message(states: dict[int, object], clock: int = 1) -> bytes:
    """What pycrdt (and y-protocols) put on the wire for these client ids and states."""
    doc = Doc()
    aw = Awareness(doc)
    for client_id, state in states.items():
        aw._states[client_id] = state
        aw._meta[client_id] = {"clock": clock, "lastUpdated": 0}
    return create_awareness_message(aw.encode_awareness_update(list(states)))


def states(msg: bytes | None) -> dict[int, object]:
    assert msg is not None
    return {c: json.loads(s) for c, _, s in awareness.decode(msg)}


def test_the_user_is_the_connections_hub_identity():
    spoof = {
        "user": {
            "username": "bruno",
            "name": "bruno",
            "display_name": "Bruno Lima",
            "color": "red",
            "avatar_url": "/base/hub/logout",
        },
        "cursors": [{"anchor": 1}],
    }
    out = states(awareness.rewrite(message({7: spoof}), ANA, lambda c: True))
    assert out[7]["user"] == {
        "username": "ana",
        "name": "ana",
        "display_name": "Ana Souza",
        "initials": "AS",
        "color": "#1f77b4",
        "avatar_url": None,
    }
    assert out[7]["cursors"] == [{"anchor": 1}]


def test_another_connections_client_ids_are_dropped():
    mine = {"user": {"name": "ana"}}
    out = awareness.rewrite(message({7: mine, 9: mine}), ANA, lambda c: c == 7)
    assert list(states(out)) == [7]
    assert awareness.rewrite(message({9: mine}), ANA, lambda c: c == 7) is None
    assert awareness.rewrite(message({9: None}), ANA, lambda c: c == 7) is None


def test_leaving_is_forwarded_and_garbage_is_not():
    out = awareness.rewrite(message({7: None}), ANA, lambda c: True)
    assert states(out) == {7: None}
    assert awareness.rewrite(message({7: [1, 2]}), ANA, lambda c: True) is None
    assert awareness.rewrite(b"\x01\x05\x01", ANA, lambda c: True) is None
    deep = "[" * 100_000 + "]" * 100_000
    bad = awareness.encode([(7, 1, deep), (8, 1, "{not json")])
    assert awareness.rewrite(bad, ANA, lambda c: True) is None


def test_avatars_are_inline_images_or_the_hubs_own_pictures():
    ok = ["data:image/png;base64,iVBORw0KGgo=", "/base/hub/static/avatars/ana.png"]
    for url in ok:
        assert awareness.safe_avatar(url, "/base/hub/") == url
    refused = [
        "/base/hub/logout",
        "/base/hub/logout?x.png",
        "/base/hub/../hub/logout.png",
        "/base/hub/%2e%2e/user/ana/api/shutdown.png",
        "//evil.example/a.png",
        "https://evil.example/a.png",
        "javascript:alert(1)",
        "data:image/svg+xml;base64,PHN2Zz4=",
        "data:text/html;base64,PGgxPg==",
        "/elsewhere/a.png",
        42,
    ]
    for url in refused:
        assert awareness.safe_avatar(url, "/base/hub/") is None, url


def test_missing_fields_are_filled_as_the_lab_fills_them():
    who = awareness.identity({"username": "carla"})
    assert who["display_name"] == "carla"
    assert who["initials"] == "CA"
    # lab_ext/src/identity.ts colorOf("carla"), the same colour for the same person
    assert who["color"] == awareness.color_of(None, "carla")
    assert who["color"] in awareness.PALETTE
    assert awareness.identity({"username": "c", "display_name": "Carla M. Mendes"})["initials"] == (
        "CM"
    )
