"""One colour per person: the hub's ``colour_for`` (presence and comments, through the hub's
``user_info``), the room server's awareness fallback and the lab's ``colourFor`` (History, and
anyone the hub's colour does not reach) give every user name the same colour. The lab's
compiled module runs in Node."""

from __future__ import annotations

import json
import subprocess

from mutirao_hub.auth.identity import PALETTE, colour_for
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


def test_hub_and_lab_give_each_person_the_same_colour():
    module = REPO / "lab_ext" / "lib" / "identity.js"
    script = (
        f"import {{ colourFor, PALETTE }} from {json.dumps(module.as_uri())};"
        f"console.log(JSON.stringify({{palette: PALETTE, colours: {json.dumps(NAMES)}"
        ".map(colourFor)}));"
    )
    out = subprocess.run(
        ["node", "--no-warnings", "--input-type=module", "-e", script],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    lab = json.loads(out.stdout)
    assert lab["palette"] == list(PALETTE)
    assert lab["colours"] == [colour_for(name) for name in NAMES]
    # the room server's awareness (cursors, presence) when the hub gives no colour
    assert list(awareness.PALETTE) == list(PALETTE)
    assert [awareness.color_of(None, name) for name in NAMES] == lab["colours"]
    # the names spread over the palette rather than sharing one colour
    assert len({colour_for(n) for n in NAMES}) >= 5
