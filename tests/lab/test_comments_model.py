"""The pure decisions of comments: permissions, mentions, anchors, outdated threads."""

from __future__ import annotations

import struct

import pytest

from mutirao_lab.comments.model import (
    ACTIONS,
    MAX_BODY_BYTES,
    ROLES,
    AnchorChange,
    AnchorState,
    CommentError,
    can,
    check_anchor_in_cell,
    check_body,
    follow_range,
    parse_anchor_options,
    parse_mentions,
    reconcile,
)
from mutirao_lab.comments.service import text_frame

# role → action → (as author, not as author)
PERMISSIONS = {
    None: dict.fromkeys(ACTIONS, (False, False)),
    "viewer": {
        "read": (True, True),
        "write": (False, False),
        "edit": (False, False),
        "delete": (False, False),
        "resolve": (False, False),
        "export_copy": (False, False),
    },
    "commenter": {
        "read": (True, True),
        "write": (True, True),
        "edit": (True, False),
        "delete": (True, False),
        "resolve": (True, False),
        "export_copy": (False, False),
    },
    "editor": dict.fromkeys(ACTIONS, (True, True)),
    "owner": dict.fromkeys(ACTIONS, (True, True)),
}


def test_permission_table():
    got = {
        role: {a: (can(role, a, True), can(role, a, False)) for a in ACTIONS}
        for role in (None, *ROLES)
    }
    assert got == PERMISSIONS


def test_unknown_roles_have_no_rights_and_unknown_actions_are_errors():
    assert not can("admin", "read")
    assert not can("", "read")
    with pytest.raises(ValueError, match="unknown action"):
        can("owner", "launch")


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        ("hi @ana", ["ana"]),
        ("@ana and @bruno, @ana again", ["ana", "bruno"]),
        ("@ANA", ["ana"]),
        ("thanks @ana.", ["ana"]),
        ("(@ana)", ["ana"]),
        ("@ana.maria knows", ["ana.maria"]),
        ("@anatole is not a member", []),
        ("mail ana@example.org", []),
        ("@@ana", []),
        ("`@ana` in code", []),
        ("```\n@ana\n```\n@bruno", ["bruno"]),
        ("@nobody", []),
        ("@", []),
        ("<b>@ana</b>", ["ana"]),
        ("@ana-", ["ana"]),
    ],
)
def test_parse_mentions(body, mentions):
    assert parse_mentions(body, ["ana", "bruno", "ana.maria", "Zoe"]) == mentions


def test_mentions_keep_the_members_spelling_and_need_members():
    assert parse_mentions("@zoe", ["Zoe"]) == ["Zoe"]
    assert parse_mentions("@ana", []) == []


def test_body_checks():
    assert check_body("<script>x</script>") == "<script>x</script>"
    assert check_body("x" * MAX_BODY_BYTES)
    for bad, status in [(None, 400), (3, 400), (["x"], 400), ("  \n", 400)]:
        with pytest.raises(CommentError) as e:
            check_body(bad)
        assert e.value.status == status
    with pytest.raises(CommentError) as e:
        check_body("€" * (MAX_BODY_BYTES // 3 + 1))  # 3 bytes each in UTF-8
    assert e.value.status == 413


def test_anchor_options():
    assert parse_anchor_options(None, None) == (None, None)
    assert parse_anchor_options(2, None) == (2, None)
    assert parse_anchor_options(None, {"start": 1, "end": 4}) == (None, (1, 4))
    for output_index, text_range in [
        (True, None),
        (-1, None),
        (1.5, None),
        (0, {"start": 0, "end": 1}),
        (None, {"start": 2, "end": 1}),
        (None, {"start": "0", "end": 1}),
        (None, (0, 1)),
    ]:
        with pytest.raises(CommentError) as e:
            parse_anchor_options(output_index, text_range)
        assert e.value.status == 400


def test_anchor_must_exist_in_the_cell_now():
    cell = {"id": "c", "source": ["ab", "cd"], "outputs": [{}]}
    check_anchor_in_cell(cell, 0, None)
    check_anchor_in_cell(cell, None, (0, 4))
    with pytest.raises(CommentError) as e:
        check_anchor_in_cell(cell, 1, None)
    assert e.value.status == 404
    with pytest.raises(CommentError) as e:
        check_anchor_in_cell({"id": "m", "source": "md"}, 0, None)
    assert e.value.status == 404
    with pytest.raises(CommentError) as e:
        check_anchor_in_cell(cell, None, (0, 5))
    assert e.value.status == 400


def test_reconcile_marks_deleted_cells_outdated_with_the_last_source():
    threads = [
        AnchorState("t1", "a", False, "old a"),
        AnchorState("t2", "b", False, "b"),
        AnchorState("t3", "gone", False, "last seen"),
        AnchorState("t4", "gone", True, "last seen"),
        AnchorState("t5", "back", True, "was"),
    ]
    cells = [
        {"id": "b", "source": "b"},
        {"id": "back", "source": ["is ", "back"]},
        {"id": "a", "source": "new a"},  # moved and edited
        {"source": "a cell without an id"},
    ]
    assert reconcile(threads, cells) == [
        AnchorChange("t1", False, "new a"),
        AnchorChange("t3", True, "last seen"),
        AnchorChange("t5", False, "is back"),
    ]


def test_reconcile_of_an_empty_notebook_outdates_everything_once():
    threads = [AnchorState("t", "a", False, "src")]
    changes = reconcile(threads, [])
    assert changes == [AnchorChange("t", True, "src")]
    assert reconcile([AnchorState("t", "a", True, "src")], []) == []


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 200_000])
def test_text_frame_is_what_rfc_6455_says(size):
    """A final, unmasked text frame with the shortest length encoding for ``size``."""
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    frame = text_frame(payload)
    assert frame[0] == 0x81  # FIN + text
    assert frame[1] & 0x80 == 0  # not masked
    n = frame[1] & 0x7F
    if size < 126:
        assert n == size
        start = 2
    elif size <= 0xFFFF:
        assert n == 126
        assert struct.unpack("!H", frame[2:4])[0] == size
        start = 4
    else:
        assert n == 127
        assert struct.unpack("!Q", frame[2:10])[0] == size
        start = 10
    assert frame[start:] == payload


SOURCE = "x = 1\ny = compute(x)\nprint(y)"
WORDS = (SOURCE.index("compute"), SOURCE.index("compute") + len("compute(x)"))


@pytest.mark.parametrize(
    ("after", "covered"),
    [
        ("import m\n" + SOURCE, "compute(x)"),  # text added before: the range moves
        (SOURCE.replace("x = 1", "xx = 10"), "compute(x)"),  # changed before it
        (SOURCE + "\nmore", "compute(x)"),  # added after it
        (SOURCE.replace("compute(x)", "compute(x, 2)"), "compute(x, 2)"),  # typed inside
        (SOURCE.replace("compute(x)", "compute(x) + 1"), "compute(x)"),  # typed at its end
        (SOURCE.replace("y = compute", "y = 2 * compute"), "compute(x)"),  # typed at its start
        (SOURCE.replace("compute(x)", "other(z)"), "other(z)"),  # replaced: what replaced it
        (SOURCE.replace("compute(x)", ""), ""),  # deleted: empty, where it was
        ("", ""),
    ],
)
def test_a_text_range_follows_the_edit(after, covered):
    start, end = follow_range(SOURCE, after, WORDS)
    assert 0 <= start <= end <= len(after)
    assert after[start:end] == covered


def test_reconcile_moves_text_ranges_with_the_source():
    threads = [
        AnchorState("t1", "a", False, SOURCE, WORDS),
        AnchorState("t2", "a", False, SOURCE),  # on the cell, no range
    ]
    after = "import m\n" + SOURCE
    changes = reconcile(threads, [{"id": "a", "source": after}])
    moved = (WORDS[0] + 9, WORDS[1] + 9)
    assert changes == [
        AnchorChange("t1", False, after, moved),
        AnchorChange("t2", False, after, None),
    ]


def test_a_text_range_follows_edits_far_apart_in_a_large_cell():
    """Edits at both ends of a 50 kB cell and inside the range, between two saves."""
    lines = [f"x{i} = compute(x{i - 1}, {i})\n" for i in range(2000)]
    before = "".join(lines)
    start = before.index("compute(x999, 1000)")
    text_range = (start, start + len("compute(x999, 1000)"))
    edited = list(lines)
    edited[3] = "print('changed')\n"
    edited[1000] = edited[1000].replace("1000)", "1000, extra=2)")
    edited[1990] = "# the end changed too\n"
    del edited[10:20]
    after = "".join(edited)
    new_start, new_end = follow_range(before, after, text_range)
    assert after[new_start:new_end] == "compute(x999, 1000, extra=2)"
    # the whole cell replaced but the range's line: it is found again
    other = "".join(f"y{i} = other({i})\n" for i in range(1500)) + lines[1000] + "tail\n" * 900
    new_start, new_end = follow_range(before, other, text_range)
    assert other[new_start:new_end] == "compute(x999, 1000)"
