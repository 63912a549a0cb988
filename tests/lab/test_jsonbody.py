"""The hostile-body parser shared (as two copies) by the room server and the rooms service."""

from __future__ import annotations

import inspect

import pytest

import mutirao_hub.jsonbody as hub_copy
import mutirao_lab.jsonbody as lab_copy
from mutirao_lab.jsonbody import JSONBodyError, nested_deeper_than, parse_json_body


def test_the_two_copies_agree():
    def code(module):
        source = inspect.getsource(module)
        return source[source.index('"""', 3) :]  # all but the module docstring

    assert code(hub_copy) == code(lab_copy)


@pytest.mark.parametrize(
    ("raw", "depth", "deeper"),
    [
        (b"[]", 1, False),
        (b"[[]]", 1, True),
        (b'{"a": [1, {"b": "[[[[[["}]}', 3, False),
        (b'{"a": [1, {"b": "]]]\\"[[[["}]}', 2, True),
        (b"[" * 65 + b"]" * 65, 64, True),
        (b"[" * 64 + b"]" * 64, 64, False),
        (b"[[], [], [[]]]", 3, False),
        (b"{[]}", 1, True),
    ],
)
def test_nesting_depth(raw, depth, deeper):
    assert nested_deeper_than(raw, depth) is deeper


@pytest.mark.parametrize(
    ("raw", "status", "words"),
    [
        (b"[" * 100_000, 400, "nested deeper"),
        (b"{" * 10, 400, "not JSON"),
        (b'"' + b"x" * 300_000 + b'"', 413, "larger than 200000 bytes"),
        (b'{"a": "\\u0000"}', 400, "NUL"),
        (b'{"\\udfff": 1}', 400, "surrogate"),
        (b'["\\ud800x"]', 400, "surrogate"),
        (b"\xff\xfe{}", 400, "not JSON"),
    ],
)
def test_refused_bodies(raw, status, words):
    with pytest.raises(JSONBodyError) as e:
        parse_json_body(raw, max_bytes=200_000, max_depth=64)
    assert e.value.status == status
    assert words in e.value.message


def test_accepted_bodies():
    assert parse_json_body(b"", max_bytes=10) == {}
    assert parse_json_body(b'{"a": "\\ud83d\\ude00 \\\\u0000"}', max_bytes=100) == {
        "a": "\U0001f600 \\u0000"
    }
