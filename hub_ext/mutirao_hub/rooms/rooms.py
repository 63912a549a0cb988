"""What the rooms service does, between its handlers and the hub: one method per API action.

Each action asks :mod:`.policy` whether it may happen, then changes the hub (through
:class:`.hubapi.HubAPI`) and the service's own tables (:mod:`.db`). The hub's shares are the
truth about who can reach a room's server; the service's tables hold the rest of the policy.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import time
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import and_, or_, select

from . import policy
from .db import PendingShare, Room, RoomLink, RoomPerson, RoomTeam, code_hash, utcnow
from .hubapi import HubAPI, HubAPIError
from .policy import ROLES, Actor, PolicyError

log = logging.getLogger("mutirao.rooms")

MAX_DISPLAY_NAME = 100

_FILES = "Its files (notebooks and data, and with them their comments and version history)"
#: What the "Delete" confirmations of the lab and the hub pages say happens to the files.
DELETION_MESSAGES = {
    "moved": lambda days: (
        f"{_FILES} are moved out of everyone's reach and removed for good after {days} days;"
        " until then an administrator can bring them back."
    ),
    "removed": lambda _days: f"{_FILES} are removed for good.",
    "kept": lambda _days: (
        f"{_FILES} stay on the server's storage, out of everyone's reach, until an"
        " administrator removes them."
    ),
}
MIN_LINK_EXPIRY = 60
MAX_LINK_EXPIRY = 365 * 24 * 3600
#: Seconds the hub's user and group lists are reused for suggestions and e-mail matching.
DIRECTORY_TTL = 15.0


@dataclass
class Settings:
    """The policy options of the service (see :class:`.app.RoomsService` for their help)."""

    prefix: str = "room-"
    reserved_names: frozenset = policy.DEFAULT_RESERVED_NAMES
    max_name_length: int = policy.DEFAULT_MAX_NAME_LENGTH
    creator_roles: set = field(default_factory=lambda: {"mutirao-room-creator"})
    creator_groups: set = field(default_factory=set)
    profiles: list = field(default_factory=list)
    team_profiles: dict = field(default_factory=dict)
    default_share_role: str = "owner"
    start_role: str = "viewer"
    stop_role: str = "editor"
    default_link_expiry: int = 86400
    base_url: str = "/"
    room_files_template: str = ""
    deleted_rooms_dir: str = ""
    deleted_rooms_keep_days: int = 30


def check_body(
    body: object, allowed: AbstractSet[str], required: AbstractSet[str] = frozenset()
) -> dict:
    """Refuse bodies that are not objects, miss a field or carry one the API does not know.

    Unknown fields are refused rather than ignored, so that a client sending ``scopes``
    (trying to choose its own scopes) learns that only ``role`` is accepted.
    """
    if not isinstance(body, dict):
        raise PolicyError(400, "The request body must be a JSON object.")
    unknown = sorted(set(body) - allowed)
    if unknown:
        hint = " Room access is given with 'role', never with scopes." if "scopes" in body else ""
        raise PolicyError(400, f"Unknown fields: {', '.join(unknown)}.{hint}")
    missing = sorted(required - set(body))
    if missing:
        raise PolicyError(400, f"Missing fields: {', '.join(missing)}.")
    return body


def _str(body: Mapping, key: str, default: str = "") -> str:
    value = body.get(key, default)
    if not isinstance(value, str):
        raise PolicyError(400, f"{key} must be a string.")
    return value


class RoomsManager:
    """The rooms service's actions."""

    def __init__(self, hub: HubAPI, sessions, settings: Settings):
        self.hub = hub
        self.sessions = sessions
        self.settings = settings
        self.db = sessions()
        # one change at a time: the periodic sync and the API both rewrite shares
        self.lock = asyncio.Lock()
        self._directory: tuple[float, list[dict], list[str]] | None = None

    # -- lookups ---------------------------------------------------------------------------
    def room_user(self, room: Room | str) -> str:
        name = room.name if isinstance(room, Room) else room
        return policy.room_user_name(name, self.settings.prefix)

    def room_url(self, room: Room) -> str:
        return f"{self.settings.base_url}user/{quote(self.room_user(room), safe='')}/"

    def find(self, name: str) -> Room | None:
        return self.db.scalars(select(Room).where(Room.name == name)).one_or_none()

    async def person(self, name: str) -> dict:
        """The hub's current model of a person (groups and roles as the authenticator last set).

        Shares that waited for this person (see :meth:`apply_pending`) are granted first, so
        someone invited before their first sign-in finds the room on their first visit.
        """
        model = await self.hub.get_user(name)
        if model is None:
            raise PolicyError(403, "Unknown user.")
        await self.apply_pending(model)
        return model

    async def directory(self) -> tuple[list[dict], list[str]]:
        """The hub's users and group names, read at most every :data:`DIRECTORY_TTL` seconds."""
        now = time.monotonic()
        if self._directory is None or now - self._directory[0] > DIRECTORY_TTL:
            users = await self.hub.list_users()
            groups = [g["name"] for g in await self.hub.list_groups()]
            self._directory = (now, users, groups)
        return self._directory[1], self._directory[2]

    async def actor(self, person: dict, room: Room | None) -> Actor:
        """``person``'s room role in ``room`` (``None`` when not a member or no such room)."""
        admin = bool(person.get("admin"))
        if room is None:
            return Actor(person["name"], None, False)
        if room.archived:
            groups = set(person.get("groups") or [])
            roles = [
                s["role"]
                for s in room.saved_shares
                if (s["kind"] == "user" and s["name"] == person["name"])
                or (s["kind"] == "group" and s["name"] in groups)
            ]
            return Actor(person["name"], policy.highest(roles), admin)
        effective = await self._effective_roles(person["name"], [room])
        return Actor(person["name"], effective.get(room.name), admin)

    async def catch_up(self, user: str) -> None:
        """Give ``user`` their own copy of each team share they are due (see
        :meth:`_effective_roles`), as at a sign-in that may have put them in a team."""
        rooms = list(self.db.scalars(select(Room).where(Room.archived.is_(False))))
        await self._effective_roles(user, rooms)

    async def _effective_roles(self, user: str, rooms: list[Room]) -> dict[str, str | None]:
        """``user``'s role in each of ``rooms`` (not archived) that opens the room's server.

        The hub lets a person's browser into a room's server only through a share of their
        own: an OAuth token's scopes are checked against the owner's *own* shares, not their
        teams' (see :meth:`sync`). A team's share counts here only once the person's own copy
        exists, so a room is never listed, or opened, before the hub would let them in. When a
        team's share is ahead of the person's own (the room was just created, or they just
        joined the team), the room is synced first, under the lock, so a fresh team member is
        in at once rather than at the next periodic sync.
        """
        by_user = {self.room_user(r): r for r in rooms if not r.archived}
        if not by_user:
            return {}

        async def read() -> tuple[dict[str, list], dict[str, list]]:
            own: dict[str, list] = {}
            team: dict[str, list] = {}
            for s in await self.hub.shared_with_user(user):
                room = by_user.get(s["server"]["user"]["name"])
                if room is None or s["server"]["name"] != "":
                    continue
                into = own if s.get("kind", "user") == "user" else team
                into.setdefault(room.name, []).append(policy.role_from_scopes(s["scopes"]))
            return own, team

        own, team = await read()
        behind = [
            r
            for r in by_user.values()
            if policy.role_rank(policy.highest(team.get(r.name, [])))
            > policy.role_rank(policy.highest(own.get(r.name, [])))
        ]
        if behind:
            async with self.lock:
                for room in behind:
                    self.db.refresh(room)
                    if room.archived:
                        continue
                    try:
                        await self.sync(room)
                    except HubAPIError as e:
                        log.warning("Could not sync room %s: %s", room.name, e)
            own, team = await read()
        return {name: policy.highest(roles) for name, roles in own.items()}

    async def room_for(self, person: dict, name: str) -> tuple[Room, Actor]:
        """The room and the person's role in it; non-members get the missing-room answer."""
        room = self.find(name)
        actor = await self.actor(person, room)
        if room is None:
            raise PolicyError(404, policy.NOT_FOUND)
        policy.require_member(actor)
        return room, actor

    # -- models ----------------------------------------------------------------------------
    def room_model(self, room: Room, actor: Actor) -> dict:
        return {
            "name": room.name,
            "display_name": room.display_name or room.name,
            "user": self.room_user(room),
            "url": self.room_url(room),
            "teams": room.team_roles,
            "profile": room.profile,
            "share_role": room.share_role,
            "archived": room.archived,
            "created_by": room.created_by,
            "created_at": room.created_at.isoformat() + "Z",
            "my_role": actor.role,
            "admin": actor.admin,
        }

    async def _hub_shares(self, room: Room) -> tuple[dict[str, str | None], dict[str, str | None]]:
        """The room's shares on the hub: ``({team: role}, {user: role})``."""
        teams: dict[str, str | None] = {}
        users: dict[str, str | None] = {}
        for s in await self.hub.server_shares(self.room_user(room)):
            if s["server"]["name"] != "":
                continue
            role = policy.role_from_scopes(s["scopes"])
            if s["kind"] == "group":
                teams[s["group"]["name"]] = role
            else:
                users[s["user"]["name"]] = role
        return teams, users

    async def members(self, room: Room) -> list[dict]:
        """Teams and people with a share, people's own shares only (not their teams' copies)."""
        if room.archived:
            return sorted(room.saved_shares, key=lambda s: (s["kind"], s["name"]))
        teams, users = await self._hub_shares(room)
        people = {p.user: p for p in room.people}
        members = [{"kind": "group", "name": t, "role": r} for t, r in teams.items()]
        for user, role in users.items():
            p = people.get(user)
            if p is not None and p.direct_role is None and p.team_role is not None:
                continue  # only there because of a team, which is listed
            members.append({"kind": "user", "name": user, "role": role})
        return sorted(members, key=lambda m: (m["kind"], m["name"]))

    async def server_model(self, room: Room) -> dict:
        model = await self.hub.get_user(self.room_user(room)) or {}
        server = (model.get("servers") or {}).get("")
        return _server_state(server, model.get("pending"))

    def may_share(self, room: Room, actor: Actor) -> bool:
        return policy.at_least(actor.effective_role, room.share_role)

    async def detail(self, room: Room, actor: Actor) -> dict:
        model = self.room_model(room, actor)
        model["members"] = await self.members(room)
        # who is invited (names, addresses) is for those who may invite
        model["pending"] = self.pending_members(room) if self.may_share(room, actor) else []
        model["server"] = await self.server_model(room)
        return model

    # -- shares ----------------------------------------------------------------------------
    async def _set_role(self, room: Room, role: str | None, **target) -> None:
        """Make one share (``user=`` or ``group=``) exactly ``role``; ``None`` removes it.

        The new scopes are granted before the higher ones are taken away, so access never
        lapses in between.
        """
        room_user = self.room_user(room)
        if role is None:
            await self.hub.revoke(room_user, None, **target)
            return
        await self.hub.grant(room_user, policy.share_scopes(role, room_user), **target)
        above = ROLES[policy.role_rank(role) :]
        if above:
            f = policy.server_filter(room_user)
            await self.hub.revoke(room_user, [policy.role_scope(r) + f for r in above], **target)

    def _person(self, room: Room, user: str) -> RoomPerson:
        for p in room.people:
            if p.user == user:
                return p
        p = RoomPerson(user=user)
        room.people.append(p)
        return p

    async def sync(self, room: Room) -> None:
        """Give each member of a sharing team a share of their own at the team's role, and
        take it back from those who left the team (see :class:`.db.RoomPerson`)."""
        if room.archived:
            return
        teams, users = await self._hub_shares(room)
        want: dict[str, str | None] = {}
        for team, role in teams.items():
            group = await self.hub.get_group(team)
            for user in (group or {}).get("users", []):
                want[user] = policy.highest([want.get(user), role])
        for p in list(room.people):
            if p.user not in users:
                # gone from the hub (revoked there, or the person was deleted)
                p.direct_role = None
        for user in set(want) | {p.user for p in room.people}:
            p = self._person(room, user)
            have = users.get(user)
            if policy.role_rank(have) > policy.role_rank(
                policy.highest([p.team_role, p.direct_role])
            ):
                # more than we gave: a share link the person accepted is theirs to keep
                p.direct_role = have
            p.team_role = want.get(user)
            role = policy.highest([p.team_role, p.direct_role])
            if role != have:
                await self._set_role(room, role, user=user)
            if role is None:
                room.people.remove(p)
        self.db.commit()

    async def sync_all(self) -> None:
        for room in self.db.scalars(select(Room).where(Room.archived.is_(False))):
            async with self.lock:
                try:
                    await self.sync(room)
                except HubAPIError as e:
                    log.warning("Could not sync room %s: %s", room.name, e)
        try:
            await self.apply_all_pending()
        except HubAPIError as e:
            log.warning("Could not apply waiting shares: %s", e)

    # -- actions ---------------------------------------------------------------------------
    async def list_rooms(self, person: dict) -> list[dict]:
        """The rooms ``person`` is a member of (every room, for admins)."""
        rooms = list(self.db.scalars(select(Room).order_by(Room.name)))
        roles = await self._effective_roles(person["name"], rooms)
        admin = bool(person.get("admin"))
        models = []
        for room in rooms:
            if room.archived:
                actor = await self.actor(person, room)
            else:
                actor = Actor(person["name"], roles.get(room.name), admin)
            if actor.member:
                models.append(self.room_model(room, actor))
        if models:
            active = await self.hub.active_servers()
            for model in models:
                model["server"] = _server_state(active.get(model["user"]))
        return models

    async def me(self, person: dict) -> dict:
        """What the "New room" forms offer ``person``, and what deleting a room does."""
        s = self.settings
        return {
            "name": person["name"],
            "may_create": policy.may_create_rooms(
                person, creator_roles=s.creator_roles, creator_groups=s.creator_groups
            ),
            "teams": sorted(person.get("groups") or []),
            "profiles": self.usable_profiles(person),
            # Room templates are not there yet: the forms show a template choice once this
            # list has entries (see the admin guide, "New room").
            "templates": [],
            "roles": list(ROLES),
            "default_share_role": s.default_share_role,
            "start_role": s.start_role,
            "stop_role": s.stop_role,
            "deletion": self.deletion_policy(),
        }

    def usable_profiles(self, person: dict) -> list[str]:
        """The profile names ``person`` may give a new room (empty: the spawner's default):
        those :func:`.policy.check_profile` lets them create a room with."""
        s = self.settings
        usable = []
        for name in s.profiles:
            try:
                policy.check_profile(
                    name,
                    profiles=s.profiles,
                    team_profiles=s.team_profiles,
                    creator_groups=person.get("groups") or [],
                    admin=bool(person.get("admin")),
                )
            except PolicyError:
                continue
            usable.append(name)
        return usable

    def deletion_policy(self) -> dict:
        """What deleting a room does with its files: ``{"files": "kept" | "moved" |
        "removed", "keep_days": N}`` (see :meth:`dispose_files`)."""
        s = self.settings
        if not s.room_files_template:
            files, days = "kept", 0
        elif s.deleted_rooms_keep_days > 0 and s.deleted_rooms_dir:
            files, days = "moved", s.deleted_rooms_keep_days
        else:
            files, days = "removed", 0
        return {"files": files, "keep_days": days, "message": DELETION_MESSAGES[files](days)}

    async def create(self, person: dict, body: object) -> dict:
        s = self.settings
        body = check_body(
            body, {"name", "teams", "display_name", "profile", "share_role"}, {"name", "teams"}
        )
        if not policy.may_create_rooms(
            person, creator_roles=s.creator_roles, creator_groups=s.creator_groups
        ):
            raise PolicyError(403, "You may not create rooms.")
        name = policy.check_room_name(
            body["name"],
            prefix=s.prefix,
            reserved=s.reserved_names,
            max_length=s.max_name_length,
        )
        display_name = _display_name(body)
        profile = policy.check_profile(
            _str(body, "profile"),
            profiles=s.profiles,
            team_profiles=s.team_profiles,
            creator_groups=person.get("groups") or [],
            admin=bool(person.get("admin")),
        )
        share_role = _str(body, "share_role", s.default_share_role)
        policy.role_rank(share_role)
        teams = body["teams"]
        existing = []
        if isinstance(teams, Mapping):
            for team in teams:
                if isinstance(team, str) and team and await self.hub.get_group(team):
                    existing.append(team)
        teams = policy.check_teams(
            teams,
            creator_groups=person.get("groups") or [],
            admin=bool(person.get("admin")),
            existing_groups=existing,
        )
        if await self.hub.get_user(name) is not None:
            raise PolicyError(409, f"{name!r} is already the name of a user.")
        if self.find(name) is not None:
            raise PolicyError(409, f"There is already a room named {name!r}.")
        if await self.hub.get_user(self.room_user(name)) is not None:
            raise PolicyError(409, f"The hub already has a user named {self.room_user(name)!r}.")
        room = Room(
            name=name,
            display_name=display_name,
            profile=profile,
            share_role=share_role,
            created_by=person["name"],
            created_at=utcnow(),
        )
        room.teams = [RoomTeam(team=t, role=r) for t, r in teams.items()]
        room.people = [RoomPerson(user=person["name"], direct_role="owner")]
        async with self.lock:
            await self._create_on_hub(room, owner=person["name"])
            self.db.add(room)
            self.db.commit()
            await self.sync(room)
        log.info("Room %s created by %s for %s", name, person["name"], teams)
        return self.room_model(room, Actor(person["name"], "owner", bool(person.get("admin"))))

    async def _create_on_hub(self, room: Room, owner: str | None) -> None:
        room_user = self.room_user(room)
        await self.hub.create_user(room_user)
        try:
            for t in room.teams:
                await self.hub.grant(
                    room_user, policy.share_scopes(t.role, room_user), group=t.team
                )
            if owner:
                await self.hub.grant(room_user, policy.share_scopes("owner", room_user), user=owner)
        except Exception:
            # leave nothing half made: the room user goes, with its shares
            await self.hub.delete_user(room_user)
            raise

    async def seed(self, spec: Mapping) -> bool:
        """Create a room from config (``RoomsService.seed_rooms``) unless it exists already."""
        s = self.settings
        name = policy.check_room_name(
            spec["name"], prefix=s.prefix, reserved=s.reserved_names, max_length=s.max_name_length
        )
        if self.find(name) is not None:
            return False
        teams = dict(spec.get("teams") or {})
        for role in teams.values():
            policy.role_rank(role)
        for team in teams:
            await self.hub.ensure_group(team)
        room = Room(
            name=name,
            display_name=str(spec.get("display_name", "")),
            profile=str(spec.get("profile", "")),
            share_role=str(spec.get("share_role", s.default_share_role)),
            created_by="",
            created_at=utcnow(),
        )
        room.teams = [RoomTeam(team=t, role=r) for t, r in teams.items()]
        await self._seed_on_hub(room)
        return True

    async def _seed_on_hub(self, room: Room) -> None:
        name = room.name
        if await self.hub.get_user(self.room_user(name)) is None:
            await self._create_on_hub(room, owner=None)
        else:  # the hub kept the room user (say the service's database was reset): re-share
            for t in room.teams:
                room_user = self.room_user(room)
                await self.hub.grant(
                    room_user, policy.share_scopes(t.role, room_user), group=t.team
                )
        async with self.lock:
            self.db.add(room)
            self.db.commit()
            await self.sync(room)
        log.info("Seeded room %s for %s", name, room.team_roles)

    def _not_archived(self, room: Room) -> None:
        if room.archived:
            raise PolicyError(409, "The room is archived; unarchive it first.")

    async def _target(self, body: Mapping) -> tuple[str, str]:
        """``(kind, who)``: ``("user", name)`` or ``("team", name)`` for someone the hub has,
        else ``("pending-user", name)``, ``("pending-email", address)`` or
        ``("pending-team", name)`` for an invitation."""
        if ("user" in body) == ("team" in body):
            raise PolicyError(400, "Give exactly one of 'user' or 'team'.")
        kind = "user" if "user" in body else "team"
        who = _str(body, kind)
        if kind == "team":
            if who and await self.hub.get_group(who) is not None:
                return kind, who
            # no member has signed in yet: the share waits for the first one
            return "pending-team", policy.team_invitee(who)
        if who.startswith(self.settings.prefix):
            raise PolicyError(400, f"No such user: {who!r}.")
        if who and await self.hub.get_user(who) is not None:
            return kind, who
        wait_kind, target = policy.invitee(
            who, prefix=self.settings.prefix, reserved=self.settings.reserved_names
        )
        if wait_kind == "email":
            # someone who signed in already, known by their e-mail address
            users, _groups = await self.directory()
            for user in users:
                if policy.waits_for("email", target, user) and not user["name"].startswith(
                    self.settings.prefix
                ):
                    return "user", user["name"]
        elif await self.hub.get_user(target) is not None:
            return "user", target  # typed with capitals
        return f"pending-{wait_kind}", target

    def _keeps_an_owner(
        self, room: Room, teams: dict, users: dict, kind: str, who: str, role: str | None
    ) -> None:
        """Refuse a change of ``who``'s own share to ``role`` that leaves the room no owner."""
        own = {**users, **{p.user: p.direct_role for p in room.people}}
        before = (teams if kind == "team" else own).get(who)
        (teams if kind == "team" else own)[who] = role
        policy.check_keeps_an_owner(before, teams, own)

    async def share(self, person: dict, name: str, body: object) -> dict:
        room, actor = await self.room_for(person, name)
        body = check_body(body, {"user", "team", "role"}, {"role"})
        role = _str(body, "role")
        policy.check_grant(actor, role, share_role=room.share_role)
        self._not_archived(room)
        kind, who = await self._target(body)
        if kind.startswith("pending-"):
            return await self._invite(room, actor, kind.removeprefix("pending-"), who, role)
        async with self.lock:
            teams, users = await self._hub_shares(room)
            current = (teams if kind == "team" else users).get(who)
            if policy.role_rank(current) > policy.role_rank(actor.effective_role):
                raise PolicyError(
                    403, f"You cannot change the role of a member above your own ({current})."
                )
            self._keeps_an_owner(room, dict(teams), dict(users), kind, who, role)
            if kind == "team":
                await self._set_role(room, role, group=who)
                for t in room.teams:
                    if t.team == who:
                        t.role = role
            else:
                p = self._person(room, who)
                p.direct_role = role
                await self._set_role(room, policy.highest([role, p.team_role]), user=who)
            self.db.commit()
            await self.sync(room)
        return {"kind": "group" if kind == "team" else "user", "name": who, "role": role}

    # -- invitations -----------------------------------------------------------------------
    def _pending(self, room: Room, kind: str, target: str) -> PendingShare | None:
        for p in room.pending:
            if p.kind == kind and p.target == target:
                return p
        return None

    async def _invite(self, room: Room, actor: Actor, kind: str, target: str, role: str) -> dict:
        """Keep a share for someone who has not signed in yet (applied by :meth:`apply_pending`)."""
        async with self.lock:
            p = self._pending(room, kind, target)
            if p is not None and policy.role_rank(p.role) > policy.role_rank(actor.effective_role):
                raise PolicyError(
                    403, f"You cannot change the role of a member above your own ({p.role})."
                )
            if p is None:
                p = PendingShare(kind=kind, target=target, created_at=utcnow())
                room.pending.append(p)
            p.role = role
            p.invited_by = actor.name
            self.db.commit()
        log.info("Room %s: %s %s invited as %s by %s", room.name, kind, target, role, actor.name)
        return self.pending_model(p)

    @staticmethod
    def pending_model(p: PendingShare) -> dict:
        return {
            # a team is a "group" member, as its share will be
            "kind": "group" if p.kind == "team" else p.kind,
            "name": p.target,
            "role": p.role,
            "pending": True,
            "invited_by": p.invited_by,
            "invited_at": p.created_at.isoformat() + "Z",
        }

    def pending_members(self, room: Room) -> list[dict]:
        """The room's shares that wait for someone's first sign-in."""
        return [
            self.pending_model(p) for p in sorted(room.pending, key=lambda p: (p.kind, p.target))
        ]

    async def apply_pending(self, person: Mapping) -> int:
        """Grant the shares that wait for ``person`` (a hub user model), by user name or by the
        e-mail address in their ``user_info``; return how many were granted.

        Called for every person the service sees (each API request and page) and, for the
        others, by the periodic pass (:meth:`sync_all`). A share waiting in an archived room
        waits until it is unarchived.
        """
        name = str(person.get("name") or "")
        if not name or name.startswith(self.settings.prefix):
            return 0
        info = person.get("user_info")
        email = info.get("email") if isinstance(info, Mapping) else None
        targets = [name.lower()] + ([email.strip().lower()] if isinstance(email, str) else [])
        candidates = self.db.scalars(
            select(PendingShare).where(
                or_(
                    and_(PendingShare.kind == "user", PendingShare.target == name.lower()),
                    and_(PendingShare.kind == "email", PendingShare.target.in_(targets)),
                    and_(
                        PendingShare.kind == "team",
                        PendingShare.target.in_([str(g) for g in person.get("groups") or []]),
                    ),
                )
            )
        ).all()
        waiting = [p for p in candidates if policy.waits_for(p.kind, p.target, person)]
        if not waiting:
            return 0
        applied = 0
        async with self.lock:
            for p in waiting:
                room = p.room
                if room.archived or p not in room.pending:
                    continue
                if p.kind == "team":
                    # the team's hub group exists now: the team's share, then each member's
                    # own copy of it (sync), this person's included
                    await self._set_role(room, p.role, group=p.target)
                    team = next((t for t in room.teams if t.team == p.target), None)
                    if team is None:
                        room.teams.append(RoomTeam(team=p.target, role=p.role))
                    else:
                        team.role = p.role
                    room.pending.remove(p)
                    self.db.commit()
                    await self.sync(room)
                    applied += 1
                    log.info(
                        "Room %s: the share with team %s (%s, by %s) is granted now that %s"
                        " signed in",
                        room.name,
                        p.target,
                        p.role,
                        p.invited_by,
                        name,
                    )
                    continue
                member = self._person(room, name)
                member.direct_role = policy.highest([member.direct_role, p.role])
                await self._set_role(
                    room, policy.highest([member.direct_role, member.team_role]), user=name
                )
                room.pending.remove(p)
                self.db.commit()
                applied += 1
                log.info(
                    "Room %s: the share %s %s (%s, by %s) is now %s's",
                    room.name,
                    p.kind,
                    p.target,
                    p.role,
                    p.invited_by,
                    name,
                )
        return applied

    async def apply_all_pending(self) -> None:
        """Grant waiting shares to people who signed in since (the periodic pass)."""
        pending = self.db.scalars(select(PendingShare)).all()
        if not pending:
            return
        self._directory = None  # new people are what this pass looks for
        users, _groups = await self.directory()
        for user in users:
            if any(policy.waits_for(p.kind, p.target, user) for p in pending):
                try:
                    await self.apply_pending(user)
                except HubAPIError as e:
                    log.warning("Could not apply the shares waiting for %s: %s", user["name"], e)

    async def suggest(self, person: dict, name: str, query: str) -> list[dict]:
        """People and teams to share ``name`` with, for the share dialog's completion."""
        room, actor = await self.room_for(person, name)
        policy.require_role(actor, room.share_role, "sharing")
        if len(query) > policy.MAX_INVITEE_LENGTH:
            raise PolicyError(400, "The query is too long.")
        users, groups = await self.directory()
        pending = self.db.scalars(
            select(PendingShare.target).where(PendingShare.kind == "user")
        ).all()
        return policy.suggestions(
            query, users, groups, prefix=self.settings.prefix, pending=set(pending)
        )

    async def revoke(self, person: dict, name: str, kind: str, who: str) -> None:
        room, actor = await self.room_for(person, name)
        self._not_archived(room)
        leaving = kind == "user" and who == person["name"]
        if not leaving:
            policy.require_role(actor, room.share_role, "sharing")
        if kind in ("user", "email"):
            waiting = self._pending(room, kind, who.lower())
        else:
            waiting = self._pending(room, "team", who)
        if waiting is not None and not leaving:
            if policy.role_rank(waiting.role) > policy.role_rank(actor.effective_role):
                raise PolicyError(
                    403, f"You cannot remove a member above your own role ({waiting.role})."
                )
            async with self.lock:
                room.pending.remove(waiting)
                self.db.commit()
            return
        if kind == "email":
            raise PolicyError(404, "No such share.")
        async with self.lock:
            teams, users = await self._hub_shares(room)
            people = {p.user: p for p in room.people}
            if kind == "team":
                current = teams.get(who)
            else:
                p = people.get(who)
                own = p is None or p.direct_role is not None
                current = users.get(who) if own else None
            if current is None:
                raise PolicyError(404, "No such share.")
            if not leaving and policy.role_rank(current) > policy.role_rank(actor.effective_role):
                raise PolicyError(
                    403, f"You cannot remove a member above your own role ({current})."
                )
            self._keeps_an_owner(room, dict(teams), dict(users), kind, who, None)
            if kind == "team":
                await self._set_role(room, None, group=who)
                room.teams = [t for t in room.teams if t.team != who]
            else:
                p = self._person(room, who)
                p.direct_role = None
                # what their teams give them stays
                await self._set_role(room, p.team_role, user=who)
                if p.team_role is None:
                    room.people.remove(p)
            self.db.commit()
            await self.sync(room)

    async def links(self, person: dict, name: str) -> list[dict]:
        room, actor = await self.room_for(person, name)
        policy.require_role(actor, room.share_role, "sharing")
        if room.archived:
            return []
        return [self._link_model(c) for c in await self.hub.share_codes(self.room_user(room))]

    def _link_model(self, code: dict) -> dict:
        model = {
            "id": code["id"],
            "role": policy.role_from_scopes(code["scopes"]),
            "created_at": code["created_at"],
            "expires_at": code["expires_at"],
            "exchange_count": code.get("exchange_count", 0),
        }
        for key in ("code", "accept_url", "full_accept_url"):
            if key in code:
                model[key] = code[key]
        return model

    async def new_link(self, person: dict, name: str, body: object) -> dict:
        room, actor = await self.room_for(person, name)
        body = check_body(body, {"role", "expires_in"}, {"role"})
        role = _str(body, "role")
        policy.check_grant(actor, role, share_role=room.share_role)
        self._not_archived(room)
        expires_in = body.get("expires_in", self.settings.default_link_expiry)
        if (
            not isinstance(expires_in, int)
            or isinstance(expires_in, bool)
            or not MIN_LINK_EXPIRY <= expires_in <= MAX_LINK_EXPIRY
        ):
            raise PolicyError(
                400, f"expires_in is seconds, from {MIN_LINK_EXPIRY} to {MAX_LINK_EXPIRY}."
            )
        room_user = self.room_user(room)
        code = await self.hub.new_share_code(
            room_user, policy.share_scopes(role, room_user), expires_in
        )
        if isinstance(code.get("code"), str):
            # so that the page accepting the link names who invites (see .linkpage)
            info = person.get("user_info")
            shown = info.get("display_name") if isinstance(info, Mapping) else None
            self.db.add(
                RoomLink(
                    room=room,
                    code_hash=code_hash(code["code"]),
                    link_id=str(code.get("id", "")),
                    role=role,
                    created_by=person["name"],
                    created_by_name=shown if isinstance(shown, str) else "",
                    created_at=utcnow(),
                )
            )
            self.db.commit()
        return self._link_model(code)

    async def delete_link(self, person: dict, name: str, link_id: str) -> None:
        room, actor = await self.room_for(person, name)
        policy.require_role(actor, room.share_role, "sharing")
        self._not_archived(room)
        try:
            await self.hub.delete_share_codes(self.room_user(room), link_id)
        except HubAPIError as e:
            if e.status == 404:
                raise PolicyError(404, "No such link.") from None
            raise

    async def start(self, person: dict, name: str) -> dict:
        room, actor = await self.room_for(person, name)
        policy.require_role(actor, self.settings.start_role, "starting the room's server")
        self._not_archived(room)
        options = {"profile": room.profile} if room.profile else {}
        if room.created_by:
            # the author of the room's first commit (see mutirao_lab.versioning.birth)
            options["room_creator"] = await self.creator_ident(room.created_by)
        status = await self.hub.start_server(self.room_user(room), options)
        return {"status": status, "server": await self.server_model(room)}

    async def creator_ident(self, username: str) -> str:
        """``Display Name <e-mail>`` of a room's creator, as a git author: the hub's
        ``user_info``, else the user name and ``<name>@users.noreply.mutirao`` (what the room's
        server uses for a person whose e-mail it does not know)."""
        try:
            model = await self.hub.get_user(username)
        except HubAPIError:
            model = None
        info = (model or {}).get("user_info") or {}
        name = info.get("display_name") if isinstance(info.get("display_name"), str) else None
        email = info.get("email") if isinstance(info.get("email"), str) else None

        def clean(text: str) -> str:
            return "".join(c for c in text if c not in "<>" and c.isprintable()).strip()[:200]

        email = clean(email or "").replace(" ", "") or f"{clean(username)}@users.noreply.mutirao"
        return f"{clean(name or '') or clean(username)} <{email}>"

    async def stop(self, person: dict, name: str) -> None:
        room, actor = await self.room_for(person, name)
        policy.require_role(actor, self.settings.stop_role, "stopping the room's server")
        await self._stop(room)

    async def _stop(self, room: Room) -> None:
        try:
            await self.hub.stop_server(self.room_user(room))
        except HubAPIError as e:
            if e.status not in (400, 404):  # not running
                raise

    async def archive(self, person: dict, name: str) -> dict:
        room, actor = await self.room_for(person, name)
        policy.require_role(actor, "owner", "archiving")
        self._not_archived(room)
        async with self.lock:
            saved = await self.members(room)
            room_user = self.room_user(room)
            await self._stop(room)
            await self.hub.delete_share_codes(room_user)
            await self.hub.revoke_all(room_user)
            room.archived_shares = json.dumps(saved)
            room.archived = True
            room.people = []
            self.db.commit()
        return self.room_model(room, actor)

    async def unarchive(self, person: dict, name: str) -> dict:
        room, actor = await self.room_for(person, name)
        policy.require_role(actor, "owner", "unarchiving")
        if not room.archived:
            raise PolicyError(409, "The room is not archived.")
        async with self.lock:
            for s in room.saved_shares:
                target = {"user": s["name"]} if s["kind"] == "user" else {"group": s["name"]}
                try:
                    await self._set_role(room, s["role"], **target)
                except HubAPIError as e:
                    # people and teams that went away since the room was archived stay away
                    if e.status != 400:
                        raise
                    log.info("Not restoring %s in room %s: %s", s, room.name, e.message)
                    continue
                if s["kind"] == "user":
                    self._person(room, s["name"]).direct_role = s["role"]
            room.archived = False
            room.archived_shares = "[]"
            self.db.commit()
            await self.sync(room)
        return self.room_model(room, actor)

    async def delete(self, person: dict, name: str) -> None:
        room, actor = await self.room_for(person, name)
        policy.require_role(actor, "owner", "deleting")
        if not room.archived:
            raise PolicyError(409, "Archive the room before deleting it.")
        await self._stop(room)
        try:
            await self.hub.delete_user(self.room_user(room))
        except HubAPIError as e:
            if e.status != 404:
                raise
        self.db.delete(room)
        self.db.commit()
        log.info("Room %s deleted by %s", name, person["name"])
        await self.dispose_files(room)

    async def rename(self, person: dict, name: str, body: object) -> dict:
        """Change a room's display name (owner); its name and address stay."""
        room, actor = await self.room_for(person, name)
        policy.require_role(actor, "owner", "renaming")
        body = check_body(body, {"display_name"}, {"display_name"})
        room.display_name = _display_name(body)
        self.db.commit()
        log.info("Room %s renamed %r by %s", name, room.display_name, person["name"])
        return self.room_model(room, actor)

    # -- the files of deleted rooms --------------------------------------------------------
    def room_folder(self, room: Room | str) -> Path | None:
        """The room's folder on this machine (``room_files_template``), if configured."""
        template = self.settings.room_files_template
        if not template:
            return None
        return Path(template.format(username=self.room_user(room)))

    async def dispose_files(self, room: Room | str) -> None:
        """Move a deleted room's folder to ``deleted_rooms_dir`` (or remove it at once when
        nothing is kept); without ``room_files_template`` the files are left alone.

        Runs in a thread (a large folder takes a while to remove). A failure is logged: the
        room is gone already, and its files stay where they were for an admin to remove.
        """
        folder = self.room_folder(room)
        if folder is None:
            return
        policy_ = self.deletion_policy()
        trash = Path(self.settings.deleted_rooms_dir) if policy_["files"] == "moved" else None
        name = self.room_user(room)
        try:
            await asyncio.to_thread(_dispose_folder, folder, trash, name, time.time())
        except OSError as e:
            log.error("Could not dispose of the files of deleted room %s: %s", name, e)

    async def purge_deleted(self, now: float | None = None) -> list[str]:
        """Remove the deleted rooms' folders kept longer than ``deleted_rooms_keep_days``."""
        s = self.settings
        if not s.deleted_rooms_dir or s.deleted_rooms_keep_days <= 0:
            return []
        return await asyncio.to_thread(
            _purge_folder,
            Path(s.deleted_rooms_dir),
            time.time() if now is None else now,
            s.deleted_rooms_keep_days,
        )


def _server_state(server: dict | None, pending: str | None = None) -> dict:
    return {
        "running": bool(server),
        "ready": bool(server and server.get("ready")),
        "pending": (server or {}).get("pending") or pending,
    }


def _display_name(body: Mapping) -> str:
    name = _str(body, "display_name").strip()
    if len(name) > MAX_DISPLAY_NAME:
        raise PolicyError(400, f"display_name is at most {MAX_DISPLAY_NAME} characters.")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise PolicyError(400, "display_name may not contain control characters.")
    return name


def _dispose_folder(folder: Path, trash: Path | None, room_user: str, now: float) -> None:
    if not folder.exists():
        return
    if trash is None:
        shutil.rmtree(folder)
        log.info("Removed the files of deleted room %s", room_user)
        return
    trash.mkdir(parents=True, exist_ok=True, mode=0o700)
    target = trash / policy.deleted_folder_name(room_user, now)
    shutil.move(str(folder), str(target))
    log.info("Moved the files of deleted room %s to %s", room_user, target)


def _purge_folder(trash: Path, now: float, keep_days: int) -> list[str]:
    if not trash.is_dir():
        return []
    removed = []
    for entry in sorted(trash.iterdir()):
        if entry.is_dir() and policy.deleted_folder_expired(entry.name, now, keep_days):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
            log.info("Removed %s: kept %d days after its room was deleted", entry, keep_days)
    return removed
