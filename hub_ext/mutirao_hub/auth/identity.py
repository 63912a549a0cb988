"""How a person is shown to collaborators: name, initials, colour (JupyterHub ``user_info``).

Pure functions, no IO. The single-user server's identity provider reads these keys from the hub's
user model, so cursors, presence lists, comments and commits show "Ana Souza" rather than "ana".
"""

from __future__ import annotations

import base64

# Colours with enough contrast on JupyterLab's light and dark themes (the lab's PALETTE in
# lab_ext/src/identity.ts is the same list).
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


def initials(display_name: str, fallback: str) -> str:
    """The first letters of the first and last words of a display name, upper-cased."""
    words = [w for w in display_name.split() if w[:1].isalnum()]
    if not words:
        return fallback[:1].upper() or "?"
    if len(words) == 1:
        return words[0][:1].upper()
    return (words[0][:1] + words[-1][:1]).upper()


def colour_for(username: str) -> str:
    """A colour that stays the same for a user across logins and servers.

    32-bit FNV-1a of the name's UTF-8 bytes, modulo the palette: the lab computes the same
    (``colourFor`` in lab_ext/src/identity.ts) where the hub's colour is not at hand, such as
    the authors of versions in History."""
    h = 0x811C9DC5
    for byte in username.encode("utf-8"):
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return PALETTE[h % len(PALETTE)]


def user_info(
    username: str,
    display_name: str | None = None,
    avatar_url: str | None = None,
    email: str | None = None,
) -> dict[str, str]:
    """The ``user_info`` model JupyterHub stores and passes to the single-user server."""
    name = (display_name or "").strip() or username
    info = {
        "name": username,
        "display_name": name,
        "initials": initials(name, username),
        "color": colour_for(username),
    }
    if avatar_url:
        info["avatar_url"] = avatar_url
    if email:
        info["email"] = email
    return info


#: The largest picture kept inline as an avatar (the room server's awareness drops larger ones:
#: mutirao_lab.rooms.awareness.MAX_INLINE_AVATAR).
MAX_INLINE_AVATAR = 64 * 1024

#: Raster formats an avatar may have, by their first bytes (never by a Content-Type header).
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
)


def inline_avatar(body: bytes) -> str | None:
    """A picture's bytes as an inline ``data:image/...;base64,`` URL, or ``None`` when it is
    not a PNG, JPEG, GIF or WebP image or its URL would be over :data:`MAX_INLINE_AVATAR`.

    Collaborators' labs show only inline avatars or pictures served by the hub itself (a URL
    elsewhere would tell that host who looks at whom, and one on the hub could act when
    loaded), so the OAuth authenticators fetch the provider's picture at sign-in and keep it
    inline."""
    kind = next((k for magic, k in _MAGIC if body.startswith(magic)), None)
    if kind is None and body[:4] == b"RIFF" and body[8:12] == b"WEBP":
        kind = "webp"
    if kind is None:
        return None
    url = f"data:image/{kind};base64," + base64.b64encode(body).decode("ascii")
    return url if len(url) <= MAX_INLINE_AVATAR else None
