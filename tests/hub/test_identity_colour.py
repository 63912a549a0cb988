"""One colour per person: the hub's ``colour_for`` (presence and comments, through the hub's
``user_info``), the room server's awareness fallback and the lab's ``colourFor`` (History, and
anyone the hub's colour does not reach) give every user name the same colour. One avatar
rule: what the room server lets through awareness is what the lab shows anywhere else, and
what the OAuth authenticators keep inline passes both. The lab's compiled module runs in
Node."""

from __future__ import annotations

import json
import subprocess

from mutirao_hub.auth.identity import PALETTE, colour_for, inline_avatar
from mutirao_lab.rooms import awareness

from ..harness import REPO

NAMES = [
    "ana",
    "bruno",
    "carla",
    "davi",
    "ana.maria",
    "room-ml-research",
    "joão",
    "李雷",
    "🙂x",
    "",
]


def run_lab(expression: str):
    module = REPO / "lab_ext" / "lib" / "identity.js"
    script = (
        f"import * as identity from {json.dumps(module.as_uri())};"
        f"console.log(JSON.stringify({expression}));"
    )
    out = subprocess.run(
        ["node", "--no-warnings", "--input-type=module", "-e", script],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(out.stdout)


def test_hub_and_lab_give_each_person_the_same_colour():
    lab = run_lab(
        f"{{palette: identity.PALETTE, colours: {json.dumps(NAMES)}.map(identity.colourFor)}}"
    )
    assert lab["palette"] == list(PALETTE)
    assert lab["colours"] == [colour_for(name) for name in NAMES]
    # the room server's awareness (cursors, presence) when the hub gives no colour
    assert list(awareness.PALETTE) == list(PALETTE)
    assert [awareness.color_of(None, name) for name in NAMES] == lab["colours"]
    # the names spread over the palette rather than sharing one colour
    assert len({colour_for(n) for n in NAMES}) >= 5


PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001")
AVATARS = [
    "/hub/static/images/ana.png",
    "/hub/avatars/ana.JPG",
    "/prefix/hub/avatars/ana.png",
    "/hub/logout",
    "/hub/../hub/logout.png",
    "/hub/%2e%2e/x.png",
    "/hub/./x.png",
    "//evil.example/hub/x.png",
    "https://avatars.githubusercontent.com/u/1",
    "http://127.0.0.1/hub/x.png",
    "javascript:alert(1)//x.png",
    "data:image/svg+xml;base64,PHN2Zz4=",
    "data:text/html;base64,PGI+",
    "data:image/png;base64,iVBORw0KGgo=",
    "data:image/png;base64,iVBOR w0KGgo=",
    "data:image/png;base64," + "A" * 70_000,
    inline_avatar(PNG),
    "",
]


def test_the_lab_and_the_room_server_let_the_same_avatars_through():
    lab = run_lab(f"{json.dumps(AVATARS)}.map(u => identity.safeAvatar(u, '/hub/'))")
    server = [awareness.safe_avatar(u, "/hub/") for u in AVATARS]
    assert lab == server
    # the hub's own pictures and inline raster images (as the authenticators keep them);
    # nothing that acts when loaded or goes to another host
    kept = [u for u in server if u]
    assert kept == [AVATARS[0], AVATARS[1], "data:image/png;base64,iVBORw0KGgo=", AVATARS[-2]]
    assert run_lab("identity.MAX_INLINE_AVATAR") == awareness.MAX_INLINE_AVATAR
