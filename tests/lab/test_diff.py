"""The notebook-aware diff: nbdime's format, ``nbdime.patch(a, diff) == b``, small and fast."""

from __future__ import annotations

import base64
import copy
import difflib
import json
import random
import zlib

import nbdime
import nbformat
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nbdime.diff_format import validate_diff

from mutirao_lab.versioning import textdiff
from mutirao_lab.versioning.diff import (
    DiffTooLarge,
    align_cells,
    diff_cache_key,
    diff_notebooks,
    diff_text,
    json_size,
    loads_notebook,
)

HYPOTHESIS = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

PNG_A = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4).decode()
PNG_B = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(range(255, -1, -1)) * 4).decode()


# -- building notebooks


def nb(*cells: dict, ids: bool = True, metadata: dict | None = None) -> dict:
    cells_ = [copy.deepcopy(c) for c in cells]
    if not ids:
        for c in cells_:
            c.pop("id", None)
    return {
        "nbformat": 4,
        "nbformat_minor": 5 if ids else 4,
        "metadata": metadata if metadata is not None else {"kernelspec": {"name": "python3"}},
        "cells": cells_,
    }


def code(source: str, *outputs: dict, id: str | None = None, count: int | None = None) -> dict:
    return {
        "cell_type": "code",
        "id": id or f"c{zlib.crc32(source.encode())}",
        "execution_count": count,
        "metadata": {},
        "source": source,
        "outputs": list(outputs),
    }


def md(source: str, id: str | None = None) -> dict:
    return {
        "cell_type": "markdown",
        "id": id or f"m{zlib.crc32(source.encode())}",
        "metadata": {},
        "source": source,
    }


def stream(text: str, name: str = "stdout") -> dict:
    return {"output_type": "stream", "name": name, "text": text}


def result(text: str, count: int | None = 1) -> dict:
    return {
        "output_type": "execute_result",
        "execution_count": count,
        "data": {"text/plain": text},
        "metadata": {},
    }


def image(png: str, text: str = "<Figure>") -> dict:
    return {
        "output_type": "display_data",
        "data": {"image/png": png, "text/plain": text},
        "metadata": {},
    }


# -- checking diffs


def check(a: dict, b: dict, **options) -> list:
    """Diff a to b, check the diff's form and that it patches a into b, return it."""
    d = diff_notebooks(a, b, **options)
    validate_diff(d, deep=True)
    json.dumps(d)  # the REST layer sends it as it is
    if not options:
        assert nbdime.patch(a, d) == b
    return d


def cell_ops(d: list) -> list:
    """The entries of a diff's ``cells`` patch."""
    return next((e["diff"] for e in d if e["key"] == "cells"), [])


def walk(d: list, path: tuple = ()):
    """Every (path, entry) in a diff, depth first."""
    for e in d:
        yield (*path, e["key"]), e
        if e["op"] == "patch":
            yield from walk(e["diff"], (*path, e["key"]))


def strip(notebook: dict, outputs: bool = False, metadata: bool = False) -> dict:
    """A notebook without what a diff was told to ignore."""
    notebook = json.loads(json.dumps(notebook))
    if metadata:
        notebook.pop("metadata", None)
    for cell in notebook["cells"]:
        if outputs:
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
        if metadata:
            cell.pop("metadata", None)
            for out in cell.get("outputs", []):
                out.pop("metadata", None)
    return notebook


A = nb(
    md("# Title\n\nSome *text*.", id="t"),
    code("import numpy as np\nx = np.arange(10)", id="imp", count=1),
    code("x.sum()", result("45"), id="sum", count=2),
    code("for i in range(3):\n    print(i)", stream("0\n1\n2\n"), id="loop", count=3),
    code("plot(x)", image(PNG_A), id="plot", count=4),
    md("## End", id="end"),
)


def rerun(b: dict) -> None:
    for c in b["cells"]:
        if c["cell_type"] == "code":
            c["execution_count"] += 10
            for out in c["outputs"]:
                if "execution_count" in out:
                    out["execution_count"] += 10


def edited(base: dict, fn) -> dict:
    b = copy.deepcopy(base)
    fn(b)
    return b


# -- hand-written cases: each pair must round-trip through nbdime.patch

CASES = {
    "identical": lambda b: None,
    "empty to empty": lambda b: b["cells"].clear(),
    "add first": lambda b: b["cells"].insert(0, code("new()", id="n")),
    "add last": lambda b: b["cells"].append(md("appendix", id="n")),
    "remove first": lambda b: b["cells"].pop(0),
    "remove all": lambda b: b["cells"].clear(),
    "remove middle two": lambda b: b["cells"].__delitem__(slice(2, 4)),
    "move down": lambda b: b["cells"].insert(4, b["cells"].pop(1)),
    "move up": lambda b: b["cells"].insert(0, b["cells"].pop(4)),
    "swap": lambda b: b["cells"].__setitem__(slice(1, 3), b["cells"][2:0:-1]),
    "reverse": lambda b: b["cells"].reverse(),
    "edit source line": lambda b: b["cells"][1].update(source="import numpy as np\nx = 1"),
    "source to empty": lambda b: b["cells"][1].update(source=""),
    "source trailing newline": lambda b: b["cells"][2].update(source="x.sum()\n"),
    "changed stream": lambda b: b["cells"][3]["outputs"][0].update(text="0\n1\n2\n3\n"),
    "changed result": lambda b: b["cells"][2]["outputs"][0]["data"].update({"text/plain": "46"}),
    "changed image": lambda b: b["cells"][4]["outputs"][0]["data"].update({"image/png": PNG_B}),
    "output added": lambda b: b["cells"][1]["outputs"].append(stream("hello\n", "stderr")),
    "outputs cleared": lambda b: [
        c.update(outputs=[], execution_count=None) for c in b["cells"] if c["cell_type"] == "code"
    ],
    "output type changed": lambda b: b["cells"][2].update(outputs=[stream("45\n")]),
    "re-executed": lambda b: rerun(b),
    "notebook metadata": lambda b: b["metadata"].update(language_info={"name": "python"}),
    "notebook metadata removed": lambda b: b["metadata"].clear(),
    "cell metadata": lambda b: b["cells"][1]["metadata"].update(tags=["parameters"]),
    "output metadata": lambda b: b["cells"][4]["outputs"][0]["metadata"].update(
        {"image/png": {"width": 100}}
    ),
    "cell type changed, same id": lambda b: b["cells"].__setitem__(
        2, {**md("x.sum()"), "id": b["cells"][2].get("id")}
    ),
    "ids regenerated": lambda b: [c.update(id=f"new{n}") for n, c in enumerate(b["cells"])],
    "ids regenerated and sources edited": lambda b: [
        c.update(id=f"new{n}", source=c["source"] + "  # edited") for n, c in enumerate(b["cells"])
    ],
    "unicode": lambda b: b["cells"][0].update(source="# Título 🚀\n\nçà é ü — שלום\n"),
    "crlf": lambda b: b["cells"][3].update(source="for i in range(3):\r\n    print(i)\r\n"),
    "odd line breaks": lambda b: b["cells"][3].update(source="a\rb\x0bc\x0cd\x1ce\x85f\u2028g"),
    "attachment added": lambda b: b["cells"][0].update(
        attachments={"a.png": {"image/png": PNG_A}}, source="![a](attachment:a.png)"
    ),
    "nbformat upgraded": lambda b: b.update(nbformat_minor=6),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_hand_written_pairs_round_trip(name):
    b = edited(A, CASES[name])
    check(A, b)
    check(b, A)


@pytest.mark.parametrize("name", sorted(CASES))
def test_hand_written_pairs_without_ids_round_trip(name):
    a = nb(*A["cells"], ids=False)
    b = edited(a, CASES[name])
    check(a, b)
    check(b, a)


def test_empty_notebooks():
    empty = nb()
    assert check(empty, empty) == []
    assert check({}, {}) == []
    check(empty, A)
    check(A, empty)
    check({}, A)


def test_identical_notebooks_give_an_empty_diff():
    assert check(A, copy.deepcopy(A)) == []


def test_one_changed_cell_gives_one_entry_for_that_cell():
    b = edited(A, lambda b: b["cells"][3].update(source="for i in range(4):\n    print(i)"))
    d = check(A, b)
    assert len(d) == 1
    ops = cell_ops(d)
    assert [(e["op"], e["key"]) for e in ops] == [("patch", 3)]
    assert [(e["op"], e["key"]) for e in ops[0]["diff"]] == [("patch", "source")]
    # the unchanged second line is not in the diff
    assert ops[0]["diff"][0]["diff"] == [
        {"op": "addrange", "key": 0, "valuelist": ["for i in range(4):\n"]},
        {"op": "removerange", "key": 0, "length": 1},
    ]


def test_a_move_is_a_remove_and_an_add():
    b = edited(A, CASES["move down"])
    ops = cell_ops(check(A, b))
    assert sorted(e["op"] for e in ops) == ["addrange", "removerange"]
    assert ops[1]["valuelist"] == [A["cells"][1]]


def test_an_inserted_cell_is_one_addrange():
    b = edited(A, lambda b: b["cells"].insert(2, code("inserted()", id="ins")))
    assert cell_ops(check(A, b)) == [{"op": "addrange", "key": 2, "valuelist": [b["cells"][2]]}]


def test_images_are_replaced_not_text_diffed():
    b = edited(A, CASES["changed image"])
    (path, entry), *_ = [(p, e) for p, e in walk(check(A, b)) if p[-1] == "image/png"]
    assert entry["op"] == "replace"
    assert path == ("cells", 4, "outputs", 0, "data", "image/png")


def test_a_rerun_output_is_patched_not_replaced():
    b = edited(A, CASES["changed stream"])
    paths = [p for p, e in walk(check(A, b)) if e["op"] != "patch"]
    assert paths == [("cells", 3, "outputs", 0, "text", 3)]


@pytest.mark.parametrize("with_edits", [False, True])
def test_regenerated_ids_are_not_remove_all_add_all(with_edits):
    name = "ids regenerated and sources edited" if with_edits else "ids regenerated"
    b = edited(A, CASES[name])
    ops = cell_ops(check(A, b))
    assert {e["op"] for e in ops} == {"patch"}
    assert len(ops) == len(A["cells"])
    for e in ops:
        assert {"op": "replace", "key": "id", "value": b["cells"][e["key"]]["id"]} in e["diff"]


def test_ids_added_by_an_nbformat_upgrade_keep_cells_matched():
    a = nb(*A["cells"], ids=False)
    ops = cell_ops(check(a, A))
    assert {e["op"] for e in ops} == {"patch"}
    assert all(e["diff"][0]["op"] == "add" and e["diff"][0]["key"] == "id" for e in ops)


def test_duplicated_sources_align_in_order():
    a = nb(*(code("", id=f"e{n}") for n in range(6)), code("x", id="x"), ids=False)
    b = edited(a, lambda b: b["cells"].insert(3, md("note")))
    assert cell_ops(check(a, b)) == [{"op": "addrange", "key": 3, "valuelist": [md("note")]}]


def test_cells_matched_by_id_before_source():
    a = nb(code("same", id="one"), code("same", id="two"))
    b = nb(code("same", id="two"), code("same", id="one"))
    # the ids say the cells swapped: one of them moves, nothing is patched
    ops = cell_ops(check(a, b))
    assert sorted(e["op"] for e in ops) == ["addrange", "removerange"]


def test_align_cells_pairs_similar_cells_in_a_gap():
    a = [code(f"value = {n}\nprint(value * {n})", id=f"a{n}") for n in range(5)]
    b = [code(f"value = {n}\nprint(value * {n + 1})", id=f"b{n}") for n in range(5)]
    assert align_cells(a, b) == [(n, n) for n in range(5)]
    # different cell types never pair
    assert align_cells([md("text")], [code("text")]) == []


def test_source_as_list_of_lines():
    a = nb(code("x = 1\ny = 2\n", id="a"))
    a["cells"][0]["source"] = ["x = 1\n", "y = 2\n"]
    b = copy.deepcopy(a)
    b["cells"][0]["source"] = ["x = 1\n", "y = 3\n"]
    assert cell_ops(check(a, b))[0]["diff"] == [
        {
            "op": "patch",
            "key": "source",
            "diff": [
                {"op": "addrange", "key": 1, "valuelist": ["y = 3\n"]},
                {"op": "removerange", "key": 1, "length": 1},
            ],
        }
    ]
    # a list on one side and a string on the other is a replace, and still round-trips
    c = copy.deepcopy(a)
    c["cells"][0]["source"] = "x = 1\ny = 2\n"
    assert cell_ops(check(a, c))[0]["diff"] == [
        {"op": "replace", "key": "source", "value": "x = 1\ny = 2\n"}
    ]


def test_loads_notebook_normalises_what_nbformat_writes():
    on_disk = nbformat.writes(nbformat.from_dict(A))
    assert '"source": [' in on_disk  # nbformat writes multiline strings as lists of lines
    loaded = loads_notebook(on_disk)
    assert loaded == A
    b = edited(A, CASES["edit source line"])
    check(loads_notebook(on_disk), loads_notebook(nbformat.writes(nbformat.from_dict(b))))
    assert loads_notebook(on_disk.encode()) == A


@pytest.mark.parametrize("text", ["", "not json", "[1, 2]", '{"nbformat": 4}', '{"nbformat": 99}'])
def test_loads_notebook_refuses_what_is_not_a_notebook(text):
    with pytest.raises(ValueError, match="Not a readable notebook"):
        loads_notebook(text)


# -- ignoring outputs and metadata


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize(("outputs", "metadata"), [(True, False), (False, True), (True, True)])
def test_ignored_parts(name, outputs, metadata):
    b = edited(A, CASES[name])
    d = check(A, b, ignore_outputs=outputs, ignore_metadata=metadata)
    patched = nbdime.patch(A, d)
    assert strip(patched, outputs, metadata) == strip(b, outputs, metadata)
    for path, e in walk(d):
        if outputs and len(path) == 3 and path[0] == "cells":
            # outputs of a cell on both sides are never diffed (a cell whose type changes
            # loses them, so that the patched cell stays well formed)
            assert path[2] not in ("outputs", "execution_count") or e["op"] == "remove"
        if metadata:
            assert "metadata" not in path


def test_ignore_outputs_gives_no_diff_for_a_rerun():
    b = edited(A, CASES["re-executed"])
    b = edited(b, CASES["changed image"])
    assert diff_notebooks(A, b, ignore_outputs=True) == []
    assert diff_notebooks(A, b) != []


# -- limits


def test_max_bytes_refuses_with_a_clear_message():
    with pytest.raises(DiffTooLarge, match="larger than the diff size limit of 1,000 bytes") as e:
        diff_notebooks(A, A, max_bytes=1000)
    assert "notebook" in e.value.message
    assert diff_notebooks(A, A, max_bytes=json_size(A) + 1) == []
    with pytest.raises(DiffTooLarge, match="file is larger"):
        diff_text("a" * 100, "b", max_bytes=10)


def test_json_size_is_close_to_the_json_length():
    assert 0.9 < json_size(A) / len(json.dumps(A)) < 1.2


def test_deadline_stops_a_long_diff():
    big = nb(*(code(f"x = {n}\n" * 50, stream(f"{n}\n" * 100), id=f"c{n}") for n in range(300)))
    b = edited(
        big,
        lambda b: [
            c.update(id=f"r{n}", source=c["source"] + "y\n") for n, c in enumerate(b["cells"])
        ],
    )
    with pytest.raises(DiffTooLarge, match=r"longer than its limit of 1e-06 s"):
        diff_notebooks(big, b, deadline_s=1e-6)
    with pytest.raises(DiffTooLarge):
        diff_text("a\n" * 10_000, "b\n" * 10_000, deadline_s=1e-9)


# -- cache keys


def test_diff_cache_key():
    key = diff_cache_key("a" * 40, "b" * 40, {"ignore_outputs": True})
    assert len(key) == 64
    assert int(key, 16) >= 0
    assert key == diff_cache_key("a" * 40, "b" * 40, {"ignore_outputs": True, "max_bytes": 5})
    assert key != diff_cache_key("b" * 40, "a" * 40, {"ignore_outputs": True})
    assert key != diff_cache_key("a" * 40, "b" * 40, {"ignore_metadata": True})
    assert diff_cache_key("a", "b", {"ignore_outputs": False, "deadline_s": 3}) == diff_cache_key(
        "a", "b"
    )


# -- plain text


def apply_unified(a: str, lines: list[str]) -> str:
    """A small ``patch``: apply diff_text's unified diff to a."""
    old = textdiff.split_text_lines(a)
    out: list[str] = []
    pos = 0
    body = lines[2:]
    k = 0
    while k < len(body):
        start, _, length = body[k].split(" ")[1][1:].partition(",")
        # a hunk that removes nothing names the line before it
        start_at = int(start) if length == "0" else int(start) - 1
        out += old[pos:start_at]
        pos = start_at
        k += 1
        while k < len(body) and not body[k].startswith("@@"):
            line = body[k]
            no_eol = k + 1 < len(body) and body[k + 1] == "\\ No newline at end of file"
            text = line[1:] + ("" if no_eol else "\n")
            if line[0] in " +":
                out.append(text)
            if line[0] in " -":
                assert old[pos] == text
                pos += 1
            k += 2 if no_eol else 1
    return "".join(out + old[pos:])


def test_diff_text_matches_difflib_where_the_diff_is_unambiguous():
    a = "".join(f"line {n}\n" for n in range(40))
    b = (
        a.replace("line 3\n", "line three\n")
        .replace("line 30\n", "")
        .replace("line 20\n", "line 20\nextra\n")
    )
    ours = diff_text(a, b, fromfile="a/f.txt", tofile="b/f.txt")
    theirs = list(
        difflib.unified_diff(
            a.splitlines(True), b.splitlines(True), "a/f.txt", "b/f.txt", lineterm=""
        )
    )
    assert ours == [line.rstrip("\n") for line in theirs]
    assert apply_unified(a, ours) == b
    assert diff_text(a, a) == []


def test_diff_text_edge_cases():
    for a, b in [
        ("", "x"),
        ("x", ""),
        ("x", "x\n"),
        ("a\r\nb\r\n", "a\r\nc\r\n"),
        ("one\ntwo", "one\nthree"),
        ("é\n🚀\n", "é\n🚀 ok\n"),
    ]:
        lines = diff_text(a, b)
        assert apply_unified(a, lines) == b, (a, b, lines)
    assert diff_text("a", "b") == [
        "--- a",
        "+++ b",
        "@@ -1 +1 @@",
        "-a",
        "\\ No newline at end of file",
        "+b",
        "\\ No newline at end of file",
    ]


def test_diff_text_is_fast_on_a_log_with_repeated_lines():
    rng = random.Random(3)
    lines = [
        rng.choice(["Validating...\n", "ok\n", "step\n", f"loss {rng.random():.3f}\n"])
        for _ in range(3000)
    ]
    a = "".join(lines)
    b = "".join(lines[:1000] + lines[1200:2500] + ["new\n"] * 50 + lines[2500:])
    out = diff_text(a, b)
    assert apply_unified(a, out) == b
    repeated = "x\n" * 3000
    assert diff_text(repeated, repeated + "y\n")[2:] == [
        "@@ -2998,3 +2998,4 @@",
        " x",
        " x",
        " x",
        "+y",
    ]


@HYPOTHESIS
@given(
    st.lists(st.sampled_from(["a\n", "b\n", "c\n", "d", "\r\n", "x" * 3 + "\n"]), max_size=40),
    st.lists(st.sampled_from(["a\n", "b\n", "c\n", "d", "\r\n", "x" * 3 + "\n"]), max_size=40),
)
def test_diff_text_round_trips(a, b):
    a, b = "".join(a), "".join(b)
    assert apply_unified(a, diff_text(a, b)) == b


def apply_hunks(a: list, b: list, hunks: list) -> list:
    out, pos = [], 0
    for i1, i2, j1, j2 in hunks:
        assert i1 >= pos
        assert i1 < i2 or j1 < j2
        assert a[pos:i1] == b[len(out) : len(out) + i1 - pos]
        out += a[pos:i1] + b[j1:j2]
        pos = i2
    return out + a[pos:]


@HYPOTHESIS
@given(
    st.lists(st.integers(0, 5), max_size=60),
    st.lists(st.integers(0, 5), max_size=60),
    st.integers(0, 80),
)
def test_diff_lines_round_trips(a, b, repeats):
    # a long run of one line makes every common line too frequent to anchor on: Myers' turn
    a, b = ["r"] * repeats + a, b + ["r"] * repeats
    assert apply_hunks(a, b, textdiff.diff_lines(a, b)) == b


def test_myers_fallback_is_bounded_and_correct():
    a = ["x"] * 200 + ["y"] * 200
    b = ["y"] * 200 + ["x"] * 200
    hunks = textdiff.diff_lines(a, b)
    assert apply_hunks(a, b, hunks) == b


# -- generated notebooks and edit sequences

sources = st.lists(
    st.sampled_from(
        ["x = 1", "print(x)", "", "# é 🚀", "y = x\r", "for i in r:", "    pass", "x = 1"]
    ),
    max_size=6,
).map("\n".join) | st.text(alphabet="ab\n\r é", max_size=12)

outputs = st.one_of(
    st.builds(stream, st.text(alphabet="01\n", max_size=10), st.sampled_from(["stdout", "stderr"])),
    st.builds(result, st.sampled_from(["1", "2", "(1, 2)"]), st.integers(1, 9)),
    st.builds(image, st.sampled_from([PNG_A, PNG_B])),
)


@st.composite
def cells(draw):
    if draw(st.booleans()):
        return md(draw(sources), id="tmp")
    return code(
        draw(sources),
        *draw(st.lists(outputs, max_size=3)),
        id="tmp",
        count=draw(st.none() | st.integers(1, 50)),
    )


@st.composite
def notebooks(draw):
    with_ids = draw(st.booleans())
    notebook = nb(*draw(st.lists(cells(), max_size=10)), ids=with_ids)
    if with_ids:
        for n, c in enumerate(notebook["cells"]):
            c["id"] = f"c{n}"
    return notebook


EDITS = ["insert", "delete", "move", "edit", "rerun", "clear", "new_id", "metadata", "type"]


@st.composite
def edit_sequences(draw, notebook):
    b = copy.deepcopy(notebook)
    cs = b["cells"]
    with_ids = b["nbformat_minor"] >= 5
    for k in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(EDITS))
        if kind == "insert" or not cs:
            c = draw(cells())
            c["id"] = f"new{k}"
            if not with_ids:
                c.pop("id")
            cs.insert(draw(st.integers(0, len(cs))), c)
            continue
        n = draw(st.integers(0, len(cs) - 1))
        c = cs[n]
        if kind == "delete":
            del cs[n]
        elif kind == "move":
            cs.insert(draw(st.integers(0, len(cs) - 1)), cs.pop(n))
        elif kind == "edit":
            lines = c["source"].splitlines(True) or [""]
            lines[draw(st.integers(0, len(lines) - 1))] = draw(sources) + "\n"
            c["source"] = "".join(lines)
        elif kind == "rerun" and c["cell_type"] == "code":
            c["execution_count"] = (c["execution_count"] or 0) + 1
            c["outputs"] = draw(st.lists(outputs, max_size=3))
        elif kind == "clear" and c["cell_type"] == "code":
            c["outputs"], c["execution_count"] = [], None
        elif kind == "new_id" and with_ids:
            c["id"] = f"regen{k}"
        elif kind == "metadata":
            c["metadata"]["tags"] = draw(st.lists(st.sampled_from(["a", "b"]), max_size=2))
            b["metadata"][f"k{k}"] = k
        elif kind == "type":
            kept = {"id": c["id"]} if with_ids else {}
            swapped = md(c["source"]) if c["cell_type"] == "code" else code(c["source"])
            swapped.pop("id")
            cs[n] = {**kept, **swapped}
    return b


@st.composite
def notebook_pairs(draw):
    a = draw(notebooks())
    return a, draw(edit_sequences(a))


@HYPOTHESIS
@given(notebook_pairs())
def test_generated_edits_round_trip(pair):
    a, b = pair
    check(a, b)
    check(b, a)


@HYPOTHESIS
@given(notebooks(), notebooks())
def test_unrelated_notebooks_round_trip(a, b):
    check(a, b)


@HYPOTHESIS
@given(notebook_pairs(), st.booleans(), st.booleans())
def test_generated_edits_with_ignored_parts(pair, outputs, metadata):
    a, b = pair
    d = check(a, b, ignore_outputs=outputs, ignore_metadata=metadata)
    assert strip(nbdime.patch(a, d), outputs, metadata) == strip(b, outputs, metadata)


def test_small_edits_of_a_large_notebook_give_small_diffs():
    rng = random.Random(7)
    cells_ = []
    for n in range(400):
        source = "\n".join(f"v{n}_{k} = {rng.random():.4f}" for k in range(rng.randrange(1, 9)))
        cells_.append(code(source, stream(f"{n}\n" * 20), result(str(n), n), id=f"c{n}", count=n))
    a = nb(*cells_)
    for ids in (True, False):
        base = a if ids else nb(*a["cells"], ids=False)
        b = edited(base, lambda b: b["cells"][123]["outputs"][0].update(text="changed\n"))
        ops = cell_ops(check(base, b))
        assert [(e["op"], e["key"]) for e in ops] == [("patch", 123)]
        b = edited(base, lambda b: b["cells"].insert(200, b["cells"].pop(100)))
        assert sorted(e["op"] for e in cell_ops(check(base, b))) == ["addrange", "removerange"]
