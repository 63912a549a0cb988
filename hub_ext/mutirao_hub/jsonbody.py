"""Reading a JSON request body that may be hostile. Pure, no IO.

:func:`parse_json_body` bounds a body's size (413 past it) and nesting depth (400: Python's
parser recurses, so a body of ten thousand ``[`` would otherwise end in a ``RecursionError``
and a 500), and refuses text that cannot be stored or handed to git: NUL characters and lone
UTF-16 surrogates (``"\\ud800"`` is valid JSON but no valid Unicode).

The room server has a copy of this module (``mutirao_lab.jsonbody``): the two packages
are installed apart and neither imports the other; a test checks that the copies agree.
"""

from __future__ import annotations

import json
import re
from typing import Any

#: Deepest nesting of arrays and objects a body may have, unless the caller says otherwise.
DEFAULT_MAX_DEPTH = 64

# a JSON string, escapes included (unrolled, so that long strings cost one linear scan)
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")
_INNERMOST = re.compile(rb"\[\]|\{\}")
# the escapes that can produce a NUL or a surrogate (raw NULs and controls are invalid JSON)
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")


class JSONBodyError(ValueError):
    """A body refused: ``status`` (400 or 413) and a ``message`` for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def nested_deeper_than(raw: bytes, max_depth: int) -> bool:
    """Does the JSON text ``raw`` nest arrays and objects more than ``max_depth`` deep?

    Linear scans in C (regular expressions), never a recursion: strings are dropped, then
    each pass removes the innermost empty pairs. Malformed text may answer either way; the
    parser refuses it next.
    """
    if raw.count(b"[") + raw.count(b"{") <= max_depth:
        return False
    brackets = _NOT_BRACKET.sub(b"", _STRING.sub(b"", raw))
    for _ in range(max_depth):
        if not brackets:
            return False
        brackets = _INNERMOST.sub(b"", brackets)
    return bool(brackets)


def check_text(value: str, what: str = "text") -> str:
    """``value``, or a 400 if it holds a NUL character or a lone surrogate."""
    if "\0" in value:
        raise JSONBodyError(400, f"{what} may not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise JSONBodyError(400, f"{what} is not valid Unicode (a lone surrogate)") from None
    return value


def _check_strings(model: Any) -> None:
    stack = [model]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            check_text(item, "a string in the request body")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def parse_json_body(raw: bytes, *, max_bytes: int, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """The parsed body (``{}`` for an empty one), or :class:`JSONBodyError`.

    413 over ``max_bytes``; 400 for text that is not JSON, nested deeper than ``max_depth``,
    or holding NUL characters or lone surrogates in any string (keys included).
    """
    if len(raw) > max_bytes:
        raise JSONBodyError(413, f"the request is larger than {max_bytes} bytes")
    if not raw.strip():
        return {}
    if nested_deeper_than(raw, max_depth):
        raise JSONBodyError(400, f"the request body is nested deeper than {max_depth} levels")
    try:
        model = json.loads(raw)
    except RecursionError:  # only if max_depth is set beyond what the parser can take
        raise JSONBodyError(400, "the request body is nested too deeply") from None
    except ValueError as e:
        raise JSONBodyError(400, f"the request body is not JSON: {e}") from None
    if _SUSPECT_ESCAPE.search(raw):
        _check_strings(model)
    return model
