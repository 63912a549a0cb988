"""Pure decisions of the rooms service: names, room roles, scopes, who may do what.

Nothing here does IO; the service (:mod:`mutirao_hub.rooms.app`) moves data in and out and asks
these functions. They are tested without a hub (tests/hub/test_rooms_policy.py).

Room roles travel as JupyterHub custom scopes on the room's shares. The four scopes nest
(owner ⊃ editor ⊃ commenter ⊃ viewer, as JupyterHub ``subscopes``), so a member's expanded
scopes hold the scope of their role and of every role below it, each filtered to the room's
server: ``custom:mutirao-room-editor!server=room-ml-research/``.
"""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

#: Room roles, lowest first.
ROLES: tuple[str, ...] = ("viewer", "commenter", "editor", "owner")
#: The custom scope of a room role is this prefix plus the role's name.
SCOPE_PREFIX = "custom:mutirao-room-"

#: Names a room may not take: the service's own path segments, hub words, and names people
#: would confuse with the hub itself.
DEFAULT_RESERVED_NAMES = frozenset(
    {
        "admin",
        "api",
        "hub",
        "login",
        "logout",
        "mutirao",
        "new",
        "root",
        "rooms",
        "services",
        "shares",
        "static",
        "user",
        "users",
    }
)
DEFAULT_MAX_NAME_LENGTH = 40

_NAME_RE = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
# characters that change a URL path or HTML when they are not escaped
_PATH_OR_HTML = set("/\\?#%&<>\"'`;:=+@ \t\r\n")


class PolicyError(Exception):
    """A request the policy refuses; ``status`` is the HTTP status the API answers with."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def role_rank(role: str | None) -> int:
    """0 for no role, 1 for viewer ... 4 for owner; unknown names raise ``PolicyError(400)``."""
    if role is None:
        return 0
    if role not in ROLES:
        raise PolicyError(400, f"Unknown room role {role!r}; room roles are {', '.join(ROLES)}.")
    return ROLES.index(role) + 1


def at_least(role: str | None, minimum: str) -> bool:
    """True when ``role`` is ``minimum`` or above it."""
    return role_rank(role) >= role_rank(minimum)


def highest(roles: Iterable[str | None]) -> str | None:
    """The highest of some roles (``None`` when there are none)."""
    best = None
    for role in roles:
        if role_rank(role) > role_rank(best):
            best = role
    return best


# -- names -------------------------------------------------------------------------------------


def room_user_name(name: str, prefix: str) -> str:
    """The hub user that is the room: ``room-`` plus the room's name."""
    return f"{prefix}{name}"


def check_room_name(
    name: object,
    *,
    prefix: str = "room-",
    reserved: Iterable[str] = DEFAULT_RESERVED_NAMES,
    max_length: int = DEFAULT_MAX_NAME_LENGTH,
    user_names: Iterable[str] = (),
) -> str:
    """Check a new room's name; return it, or raise ``PolicyError`` (400, or 409 for a clash).

    A name is lowercase letters, digits and single hyphens, starts with a letter and is at most
    ``max_length`` characters: it appears in URLs (``/user/room-<name>/``), file paths and
    page titles, so nothing there needs escaping. It may not be a reserved word, start with the
    room prefix (``room-room-x`` is a mistake), or equal an existing person's user name
    (``user_names``), which people would confuse with that person's server.
    """
    if not isinstance(name, str) or not name:
        raise PolicyError(400, "A room needs a name.")
    if len(name) > max_length:
        raise PolicyError(400, f"Room names are at most {max_length} characters long.")
    bad = sorted(set(name) & _PATH_OR_HTML)
    if bad:
        raise PolicyError(
            400,
            "Room names may not contain path or HTML characters "
            f"({' '.join(repr(c) for c in bad)}); use lowercase letters, digits and hyphens.",
        )
    if not _NAME_RE.match(name):
        raise PolicyError(
            400,
            "Room names are lowercase letters, digits and single hyphens, and start with a letter.",
        )
    if name in {r.lower() for r in reserved}:
        raise PolicyError(400, f"{name!r} is a reserved name.")
    if prefix and name.startswith(prefix.lower()):
        raise PolicyError(400, f"Give the room's name without the {prefix!r} prefix.")
    if name in set(user_names):
        raise PolicyError(409, f"{name!r} is already the name of a user.")
    return name


# -- scopes ------------------------------------------------------------------------------------


def role_scope(role: str) -> str:
    """The custom scope of a room role, unfiltered: ``custom:mutirao-room-editor``."""
    role_rank(role)
    return f"{SCOPE_PREFIX}{role}"


def custom_scopes() -> dict[str, dict]:
    """``c.JupyterHub.custom_scopes`` for the room roles (each includes the roles below it)."""
    descriptions = {
        "viewer": "Room viewer: read files and see live edits; no writes, kernels or terminals.",
        "commenter": "Room commenter: viewer, and write comments.",
        "editor": "Room editor: read, write and run code in the room.",
        "owner": "Room owner: editor, and share the room.",
    }
    scopes = {}
    for i, role in enumerate(ROLES):
        spec: dict = {"description": descriptions[role]}
        if i:
            spec["subscopes"] = [role_scope(ROLES[i - 1])]
        scopes[role_scope(role)] = spec
    return scopes


def server_filter(room_user: str, server_name: str = "") -> str:
    return f"!server={room_user}/{server_name}"


def share_scopes(role: str, room_user: str, server_name: str = "") -> list[str]:
    """The scopes of a share at ``role``: access to the room's server, and the scope of
    ``role`` and of every role below it.

    The lower roles are listed although the scopes nest: JupyterHub does not expand the
    subscopes of shared scopes in tokens, and the server checks "at least editor" as
    "has the editor scope".
    """
    f = server_filter(room_user, server_name)
    return [f"access:servers{f}"] + [f"{role_scope(r)}{f}" for r in ROLES[: role_rank(role)]]


def role_from_scopes(
    scopes: Iterable[str], room_user: str | None = None, server_name: str = ""
) -> str | None:
    """The highest room role in a list of scopes, for one room's server.

    With ``room_user``, only scopes for that room count: filtered to its server
    (``!server=room-x/``), to the room user (``!user=room-x``), or unfiltered. Without it (a
    share's own scopes, all filtered to one server), every room-role scope counts.
    Scopes for other rooms and unknown custom scopes are ignored.
    """
    found = []
    for scope in scopes:
        base, _, filt = scope.partition("!")
        if not base.startswith(SCOPE_PREFIX):
            continue
        role = base[len(SCOPE_PREFIX) :]
        if role not in ROLES:
            continue
        if room_user is not None and filt not in (
            "",
            f"server={room_user}/{server_name}",
            f"user={room_user}",
        ):
            continue
        found.append(role)
    return highest(found)


# -- who may do what ---------------------------------------------------------------------------


def may_create_rooms(
    user_model: Mapping,
    *,
    creator_roles: Iterable[str],
    creator_groups: Iterable[str],
) -> bool:
    """Admins, members of a creator role, and members of a creator group may create rooms."""
    if user_model.get("admin"):
        return True
    roles = set(user_model.get("roles") or [])
    groups = set(user_model.get("groups") or [])
    if roles & set(creator_roles) or groups & set(creator_groups):
        return True
    return False


@dataclass(frozen=True)
class Actor:
    """Who asks, as far as one room is concerned: their room role and whether they are admin."""

    name: str
    role: str | None
    admin: bool = False

    @property
    def member(self) -> bool:
        return self.admin or self.role is not None

    @property
    def effective_role(self) -> str | None:
        """Admins act as owners of every room."""
        return "owner" if self.admin else self.role


NOT_FOUND = "No such room."


def require_member(actor: Actor) -> None:
    """Non-members get exactly the answer a missing room gets, so names do not leak."""
    if not actor.member:
        raise PolicyError(404, NOT_FOUND)


def require_role(actor: Actor, minimum: str, action: str) -> None:
    """Refuse an action below ``minimum``; non-members get the missing-room answer."""
    require_member(actor)
    if not at_least(actor.effective_role, minimum):
        raise PolicyError(
            403, f"You are {actor.role} in this room; {action} needs the {minimum} role."
        )


def check_grant(actor: Actor, role: str, *, share_role: str) -> None:
    """May ``actor`` give someone ``role`` in this room?

    Sharing needs the room's ``share_role`` (owner unless the room says otherwise), and
    nobody may grant a role above their own.
    """
    role_rank(role)
    require_role(actor, share_role, "sharing")
    if role_rank(role) > role_rank(actor.effective_role):
        raise PolicyError(
            403, f"You are {actor.role} in this room and cannot grant the {role} role."
        )


def check_profile(
    profile: str,
    *,
    profiles: Iterable[str],
    team_profiles: Mapping[str, Iterable[str]],
    creator_groups: Iterable[str],
    admin: bool,
) -> str:
    """The profile a new room may be given: ``""`` (the spawner's default), or one of
    ``profiles`` that the creator may use. As the spawner's ``team_profiles``, a profile
    listed for some teams is for their members only; admins may name any listed profile."""
    if not profile:
        return ""
    if profile not in set(profiles):
        raise PolicyError(400, f"Unknown profile {profile!r}.")
    teams = {t for t, names in team_profiles.items() if profile in set(names)}
    if teams and not admin and not teams & set(creator_groups):
        raise PolicyError(400, f"The profile {profile!r} is not available to you.")
    return profile


LAST_OWNER = "The room's last owner cannot leave or be demoted: make someone else owner first."


def check_keeps_an_owner(
    before: str | None, team_roles: Mapping[str, str | None], user_roles: Mapping[str, str | None]
) -> None:
    """A room that has an owner keeps one. ``before`` is the changed share's role before the
    change; the maps are the room's shares after it (``{team: role}``, ``{user: own role}``).
    Refuses (409) taking the owner role from the last share that holds it, the owner's own
    included; a room without owners (seeded for teams, say) is not held to it."""
    if before != "owner":
        return
    if "owner" not in team_roles.values() and "owner" not in user_roles.values():
        raise PolicyError(409, LAST_OWNER)


def check_teams(
    teams: object, *, creator_groups: Iterable[str], admin: bool, existing_groups: Iterable[str]
) -> dict[str, str]:
    """Check a new room's owning teams ``{team: role}``.

    Teams are hub groups (as the authenticator mirrors them). A creator may only give a room
    to teams they belong to; admins to any existing team.
    """
    if not isinstance(teams, Mapping) or not teams:
        raise PolicyError(400, "A room needs at least one owning team: {team: role}.")
    mine = set(creator_groups)
    known = set(existing_groups)
    checked = {}
    for team, role in teams.items():
        if not isinstance(team, str) or not isinstance(role, str):
            raise PolicyError(400, "teams maps team names to room roles.")
        role_rank(role)
        if team not in known:
            raise PolicyError(400, f"No such team: {team!r}.")
        if not admin and team not in mine:
            raise PolicyError(403, f"You are not a member of the team {team!r}.")
        checked[team] = role
    return checked


# -- invitations -----------------------------------------------------------------------------
#: Longest user name or e-mail address a share may wait for.
MAX_INVITEE_LENGTH = 254
_NOT_IN_ADDRESS = r"\s<>()\[\]\\,;:\"'`/?#%&="
_EMAIL_RE = re.compile(rf"^[^@{_NOT_IN_ADDRESS}]+@[^@{_NOT_IN_ADDRESS}]+\.[^@.{_NOT_IN_ADDRESS}]+$")
_INVITEE_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._+-]*$")
#: A team (hub group) name, as the authenticators make them (mutirao_hub.auth.teams).
TEAM_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@+-]{0,254}$")


def is_email(value: str) -> bool:
    """Whether ``value`` reads as an e-mail address (the identity provider's claim decides)."""
    return len(value) <= MAX_INVITEE_LENGTH and bool(_EMAIL_RE.match(value))


def invitee(value: str, *, prefix: str, reserved: Iterable[str] = ()) -> tuple[str, str]:
    """What a share with someone the hub has no user for waits for: ``("email", address)``
    or ``("user", name)``, lower-cased as authenticators normalise names.

    Names that rooms or the suite use, and anything that is neither a plain user name nor an
    e-mail address, are refused with the same answer as an unknown person was before
    invitations existed.
    """
    name = value.strip().lower()
    if is_email(name):
        return "email", name
    if (
        not name
        or len(name) > MAX_INVITEE_LENGTH
        or not _INVITEE_NAME_RE.match(name)
        or name.startswith(prefix.lower())
        or name in {r.lower() for r in reserved}
    ):
        raise PolicyError(400, f"No such user: {value!r}, and not a name or e-mail to invite.")
    return "user", name


def team_invitee(value: str) -> str:
    """The hub group name a share with a team that has no hub group yet waits for (the group
    appears when the team's first member signs in); anything JupyterHub would not accept as a
    group name is refused."""
    name = value.strip()
    if not name or not TEAM_NAME_RE.match(name):
        raise PolicyError(400, f"No such team: {value!r}, and not a team name to invite.")
    return name


def waits_for(kind: str, target: str, person: Mapping) -> bool:
    """Whether a pending share (``kind``, ``target``) is for the hub user ``person``: by name,
    by the e-mail address the authenticator recorded in their ``user_info``, or (``team``)
    because they are in the hub group of that name."""
    name = str(person.get("name") or "").lower()
    if kind == "user":
        return name == target
    if kind == "team":
        return target in (person.get("groups") or [])
    if kind == "email":
        info = person.get("user_info")
        email = info.get("email") if isinstance(info, Mapping) else None
        return target in (name, email.strip().lower() if isinstance(email, str) else None)
    return False


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


#: Identity keys a suggestion carries (as the hub's ``user_info`` has them).
SUGGESTION_KEYS = ("display_name", "initials", "color", "avatar_url")


def suggestions(
    query: str,
    users: Iterable[Mapping],
    groups: Iterable[str],
    *,
    prefix: str,
    pending: Iterable[str] = (),
    limit: int = 20,
) -> list[dict]:
    """People and teams whose name (or display name) contains ``query``: at most ``limit``
    of each, people first.

    Room users are left out; e-mail addresses are matched only whole and never returned, so
    the list does not hand out addresses. ``pending`` are user names shares wait for.
    """
    q = query.strip().lower()
    out: list[dict] = []
    seen: set[str] = set()
    for user in users:
        name = user.get("name")
        if (
            not isinstance(name, str)
            or name.startswith(prefix)
            or user.get("kind", "user") != "user"
        ):
            continue
        raw = user.get("user_info")
        info: Mapping = raw if isinstance(raw, Mapping) else {}
        display = _text(info.get("display_name"))
        email = _text(info.get("email"))
        if q and q not in name.lower() and q not in display.lower() and q != email.lower():
            continue
        model: dict = {"kind": "user", "name": name}
        for key in SUGGESTION_KEYS:
            value = info.get(key)
            if isinstance(value, str) and 0 < len(value) <= 2048:
                model[key] = value
        out.append(model)
        seen.add(name)
    for name in sorted(set(pending) - seen):
        if not q or q in name:
            out.append({"kind": "user", "name": name, "pending": True})
    people = sorted(out, key=lambda m: (m.get("display_name") or m["name"]).lower())[:limit]
    teams = [{"kind": "group", "name": g} for g in sorted(groups) if not q or q in g.lower()]
    return people + teams[:limit]


# -- the files of deleted rooms ----------------------------------------------------------------
_DELETED_STAMP = "%Y%m%dT%H%M%SZ"
_DELETED_RE = re.compile(r"^(?P<user>.+)-(?P<stamp>\d{8}T\d{6}Z)$")


def deleted_folder_name(room_user: str, now: float) -> str:
    """Where a deleted room's folder goes in ``deleted_rooms_dir``:
    ``room-x-20261204T155000Z`` (the room's hub user and the UTC time of deletion)."""
    return f"{room_user}-{time.strftime(_DELETED_STAMP, time.gmtime(now))}"


def deleted_folder_expired(folder_name: str, now: float, keep_days: int) -> bool:
    """Has a folder named by :func:`deleted_folder_name` been kept ``keep_days`` days?

    Folders with other names (an admin's own) are never expired.
    """
    match = _DELETED_RE.match(folder_name)
    if not match:
        return False
    try:
        deleted = calendar.timegm(time.strptime(match["stamp"], _DELETED_STAMP))
    except ValueError:
        return False
    return now - deleted >= keep_days * 86400
