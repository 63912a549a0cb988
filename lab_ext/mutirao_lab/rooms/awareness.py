"""Server-authoritative awareness: who a collaborator appears to be comes from the hub, not them.

Each collaboration websocket carries y-protocols awareness messages: a list of
``(client id, clock, JSON state)`` entries, where JupyterLab puts the person in the state's
``user`` field (``username``, ``name``, ``display_name``, ``initials``, ``color``,
``avatar_url``, as ``/api/me`` gives them) next to their cursors. jupyter-collaboration
forwards them as the client wrote them, so a member could appear as someone else, overwrite
another person's entry, or give an avatar URL that acts when rendered (``/hub/logout``).

:func:`rewrite` is what the room's collaboration websocket applies to each awareness message
before it reaches the room: an entry for a client id that another connection announced first
is dropped; the ``user`` of every other entry is replaced by the connection's own identity
(:func:`identity`, from the hub's user model of the authenticated request). Pure, no IO.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

#: y-protocols' awareness message type (the first byte of a websocket message).
AWARENESS = 1
#: A state larger than this (bytes of JSON) is dropped: cursors and selections are far smaller.
MAX_STATE_BYTES = 256 * 1024

# a colour value or a theme variable, as lab_ext/src/identity.ts accepts them
_CSS_COLOR = re.compile(
    r"^(#[0-9a-f]{3,8}|(rgb|rgba|hsl|hsla)\([0-9.,%\s]+\)|[a-z]{3,20}|var\(--[\w-]+\))$", re.I
)
_DATA_IMAGE = re.compile(r"^data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/]+={0,2}$")
_IMAGE_PATH = re.compile(r"^/[A-Za-z0-9._~%!$&'()*+,;=:@/-]*\.(png|jpe?g|gif|webp|svg)$", re.I)
#: An inline avatar larger than this is dropped (initials show instead).
MAX_INLINE_AVATAR = 64 * 1024


class Malformed(ValueError):
    """Not an awareness message this module can read."""


# -- the wire format (lib0 encoding) --------------------------------------------------------
def _read_uint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 49:
            raise Malformed("truncated or oversized number")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, pos


def _read_bytes(data: bytes, pos: int) -> tuple[bytes, int]:
    length, pos = _read_uint(data, pos)
    end = pos + length
    if end > len(data):
        raise Malformed("truncated message")
    return data[pos:end], end


def _uint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _string(text: str) -> bytes:
    raw = text.encode("utf-8")
    return _uint(len(raw)) + raw


def decode(message: bytes) -> list[tuple[int, int, str]]:
    """The ``(client id, clock, JSON state)`` entries of a websocket awareness message."""
    data = bytes(message)
    if not data or data[0] != AWARENESS:
        raise Malformed("not an awareness message")
    payload, end = _read_bytes(data, 1)
    if end != len(data):
        raise Malformed("trailing bytes")
    count, pos = _read_uint(payload, 0)
    entries = []
    for _ in range(count):
        client_id, pos = _read_uint(payload, pos)
        clock, pos = _read_uint(payload, pos)
        raw, pos = _read_bytes(payload, pos)
        try:
            state = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Malformed("state is not UTF-8") from None
        entries.append((client_id, clock, state))
    if pos != len(payload):
        raise Malformed("trailing bytes")
    return entries


def encode(entries: list[tuple[int, int, str]]) -> bytes:
    """A websocket awareness message of ``(client id, clock, JSON state)`` entries."""
    payload = _uint(len(entries)) + b"".join(
        _uint(client_id) + _uint(clock) + _string(state) for client_id, clock, state in entries
    )
    return bytes([AWARENESS]) + _uint(len(payload)) + payload


# -- who a connection is ----------------------------------------------------------------------
def initials_of(display_name: str, username: str) -> str:
    """As the lab computes them (lab_ext/src/identity.ts ``initialsOf``)."""
    words = (display_name or username).split()
    if len(words) >= 2:
        return (words[0][0] + words[-1][0]).upper()
    return (words[0] if words else "?")[:2].upper()


#: The colours people get: the same list as the hub's (mutirao_hub.auth.identity.PALETTE) and
#: the lab's (lab_ext/src/identity.ts PALETTE).
PALETTE = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#17becf",
    "#8c564b",
    "#e377c2",
    "#bcbd22",
    "#7f7f7f",
)


def colour_for(username: str) -> str:
    """A user name's colour, as the hub (``mutirao_hub.auth.identity.colour_for``) and the lab
    (``colourFor``) compute it: 32-bit FNV-1a of the UTF-8 bytes, modulo the palette. The
    packages run in different environments, so each has its copy; a test checks they agree."""
    h = 0x811C9DC5
    for byte in username.encode("utf-8"):
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return PALETTE[h % len(PALETTE)]


def color_of(color: str | None, username: str) -> str:
    """The hub's colour when it is a plain CSS colour, else the user name's colour
    (:func:`colour_for`, as lab_ext/src/identity.ts ``colorOf``), so one person has one
    colour."""
    color = (color or "").strip()
    if color and _CSS_COLOR.match(color):
        return color
    return colour_for(username)


def safe_avatar(url: object, hub_prefix: str = "/hub/") -> str | None:
    """``url`` when it is an avatar a browser may load without it doing anything: an inline
    raster image (``data:image/png;base64,...``), or an image file on the hub's own origin
    under its prefix (``/hub/.../picture.png``). ``None`` otherwise (initials are shown)."""
    if not isinstance(url, str) or not url:
        return None
    if url.startswith("data:"):
        return url if len(url) <= MAX_INLINE_AVATAR and _DATA_IMAGE.match(url) else None
    prefix = hub_prefix if hub_prefix.endswith("/") else hub_prefix + "/"
    if (
        url.startswith(prefix)
        and not url.startswith("//")
        and _IMAGE_PATH.match(url)
        and "/../" not in url
        and "/./" not in url
        and "%2e" not in url.lower()
    ):
        return url
    return None


def identity(model: Mapping[str, Any], hub_prefix: str = "/hub/") -> dict[str, Any]:
    """The awareness ``user`` of a connection, from the server's identity model of its user
    (``IdentityProvider.identity_model``: what ``/api/me`` answers), with what is missing
    filled as the lab fills it and the avatar checked by :func:`safe_avatar`."""
    username = str(model.get("username") or "")
    display_name = str(model.get("display_name") or model.get("name") or username)
    initials = model.get("initials")
    return {
        "username": username,
        "name": str(model.get("name") or username),
        "display_name": display_name,
        "initials": str(initials)[:3] if initials else initials_of(display_name, username),
        "color": color_of(model.get("color"), username),
        "avatar_url": safe_avatar(model.get("avatar_url"), hub_prefix),
    }


# -- rewriting ----------------------------------------------------------------------------------
def rewrite(
    message: bytes,
    user: Mapping[str, Any],
    may_use: Callable[[int], bool],
) -> bytes | None:
    """The awareness message to forward in place of ``message`` from one connection.

    ``user`` is the connection's awareness identity (:func:`identity`); ``may_use(client_id)``
    says whether this connection may speak for a client id (and claims it when nobody has).
    Entries for other connections' client ids are dropped, as are states that are not JSON
    objects (or too large); every remaining state's ``user`` becomes ``user``. ``None``: nothing
    is left to forward (or the message cannot be read).
    """
    try:
        entries = decode(message)
    except Malformed:
        return None
    kept = []
    for client_id, clock, raw in entries:
        if not may_use(client_id):
            continue
        if raw in ("", "null"):  # the client leaves
            kept.append((client_id, clock, "null"))
            continue
        if len(raw) > MAX_STATE_BYTES:
            continue
        try:
            state = json.loads(raw)
        except (ValueError, RecursionError):
            continue
        if not isinstance(state, dict):
            continue
        state["user"] = dict(user)
        kept.append((client_id, clock, json.dumps(state, separators=(",", ":"))))
    return encode(kept) if kept else None
