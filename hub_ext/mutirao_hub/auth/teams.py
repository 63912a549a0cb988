"""The team mapping shared by every Mutirão authenticator.

Admins say once, in config, which teams may log in, what hub group each team becomes and which
teams are admins; each authenticator only has to find out which teams a person belongs to. The
decisions are pure functions (:func:`resolve`) so they are tested without a hub.
"""

from __future__ import annotations

import inspect
import re
from collections import OrderedDict
from collections.abc import Callable as CallableType
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from traitlets import (
    Bool,
    Callable,
    Dict,
    HasTraits,
    List,
    Set,
    TraitError,
    Unicode,
    Union,
    default,
    validate,
)

#: A hub group name: what JupyterHub itself accepts in URLs and the REST API, kept conservative.
GROUP_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@+-]{0,254}$")
#: A JupyterHub role name (jupyterhub.roles._validate_role_name).
ROLE_NAME_RE = re.compile(r"^[a-z][a-z0-9\-_~\.]{1,253}[a-z0-9]$")
#: Roles JupyterHub manages itself: admin follows ``admin_teams``, every user has ``user``.
BUILTIN_ROLES = frozenset({"admin", "user", "server", "token"})


@dataclass(frozen=True)
class TeamDecision:
    """What the mapping decided for one person at one login."""

    allowed: bool
    groups: list[str] = field(default_factory=list)
    admin: bool = False
    reason: str = ""
    roles: list[str] = field(default_factory=list)


def resolve(
    teams: Iterable[str],
    *,
    allowed_teams: set[str],
    team_groups: dict[str, str],
    admin_teams: set[str],
    allow_all_teams: bool = False,
    team_roles: Mapping[str, Iterable[str]] | None = None,
    group_name: CallableType[[str], str] | None = None,
) -> TeamDecision:
    """Map a person's teams (as the identity provider names them) to a login decision.

    A person may log in when they belong to at least one allowed team (or ``allow_all_teams``).
    Every team they belong to that is allowed becomes a hub group, renamed by ``team_groups``
    (or, for teams not listed there, by ``group_name``: providers whose team names hold a ``/``
    turn it into ``:``); teams that are not allowed are not mirrored, so a hub never grows groups
    nobody configured. Roles come from ``team_roles`` for the permitted teams only.
    """
    own = sorted(set(teams))
    permitted = own if allow_all_teams else [t for t in own if t in allowed_teams]
    if not permitted:
        return TeamDecision(False, reason="not a member of any allowed team")
    rename = group_name or (lambda t: t)
    groups = sorted({team_groups[t] if t in team_groups else rename(t) for t in permitted})
    bad = [g for g in groups if not GROUP_NAME_RE.match(g)]
    if bad:
        return TeamDecision(False, reason=f"team names that cannot be hub groups: {bad!r}")
    admin = any(t in admin_teams for t in own)
    roles = sorted({r for t in permitted for r in (team_roles or {}).get(t, ())})
    return TeamDecision(True, groups=groups, admin=admin, roles=roles)


def check_team_roles(value: Mapping) -> dict[str, list[str]]:
    """Validate a ``team_roles`` mapping, refusing what JupyterHub would refuse or misread."""
    if not isinstance(value, Mapping):
        raise TraitError(f"team_roles must map team names to lists of role names, not {value!r}")
    checked: dict[str, list[str]] = {}
    for team, names in value.items():
        if not isinstance(team, str) or not team:
            raise TraitError(f"team_roles: team names must be non-empty strings, not {team!r}")
        if isinstance(names, str) or not all(isinstance(n, str) for n in names):
            # a bare string would be read letter by letter
            raise TraitError(f"team_roles[{team!r}] must be a list of role names, not {names!r}")
        for name in names:
            if name in BUILTIN_ROLES:
                raise TraitError(
                    f"team_roles[{team!r}]: {name!r} is managed by JupyterHub itself"
                    + (" (use admin_teams)" if name == "admin" else "")
                )
            if not ROLE_NAME_RE.match(name):
                raise TraitError(f"team_roles[{team!r}]: {name!r} is not a valid role name")
        checked[team] = list(names)
    return checked


class TeamAuthenticatorMixin(HasTraits):
    """Team → group and role mapping, and names reserved for rooms.

    Mix into an ``Authenticator``. Subclasses find the person's teams and call
    :meth:`apply_team_mapping` on the auth model they are about to return.
    """

    allowed_teams = Union(
        [Set(Unicode()), Callable()],
        default_value=set(),
        help="""
        Teams whose members may log in, as the identity provider names them
        (``org:team`` on GitHub, the group's full path on GitLab, the ``groups`` claim's values
        for OpenID Connect, the team names of the users file for the local authenticator).

        A person in none of these teams is refused. Default: empty, which refuses everyone
        (deny by default) unless ``allow_all_teams`` is set.

        May be a callable (sync or async) taking the authenticator and returning the set,
        so the list can come from elsewhere::

            c.LocalTeamAuthenticator.allowed_teams = {"ml-research", "data-platform"}
        """,
    ).tag(config=True)

    allow_all_teams = Bool(
        False,
        help="""
        Let anyone the identity provider authenticates log in, whatever their teams,
        and mirror all their teams as groups. Default: False.
        """,
    ).tag(config=True)

    team_groups = Union(
        [Dict(value_trait=Unicode()), Callable()],
        default_value={},
        help="""
        Hub group name for a team, where it should differ from the team's own name::

            c.LocalTeamAuthenticator.team_groups = {"acme:ml-research": "ml-research"}

        Teams not listed keep their name. A value or a callable (sync or async).
        """,
    ).tag(config=True)

    admin_teams = Union(
        [Set(Unicode()), Callable()],
        default_value=set(),
        help="""
        Teams whose members are JupyterHub admins. Membership is re-read at every login, so
        leaving the team removes admin rights at the next login. A value or a callable.
        """,
    ).tag(config=True)

    team_roles = Union(
        [Dict(value_trait=List(Unicode())), Callable()],
        default_value={},
        help="""
        JupyterHub roles for the members of a team, by team (as the identity provider names
        it)::

            c.GitHubTeamAuthenticator.team_roles = {
                "acme:ml-leads": ["room-creator"],
                "acme:gpu-pro": ["gpu-pro"],
            }

        Roles are applied with JupyterHub's ``manage_roles`` semantics: at every login and
        refresh a user gets exactly the roles of their current allowed teams (plus ``user``, and
        ``admin`` through ``admin_teams``), so leaving a team takes its roles away. Setting
        ``team_roles`` turns ``manage_roles`` on. Define the roles' scopes in
        ``JupyterHub.load_roles`` (without ``users`` or ``groups``: the authenticator assigns
        them). ``admin``, ``user``, ``server`` and ``token`` are refused here; admins come from
        ``admin_teams``. A value or a callable (sync or async) returning the mapping.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    room_user_prefix = Unicode(
        "room-",
        help="""
        Hub users whose names start with this prefix are rooms (team-owned servers that nobody
        logs in as). Every Mutirão authenticator refuses such a name, whatever the identity
        provider says. Default: ``room-``.
        """,
    ).tag(config=True)

    reserved_names = Set(
        Unicode(),
        default_value={"admin", "hub", "root", "mutirao", "rooms", "services", "api"},
        help="""
        Further user names that nobody may log in as, whatever the identity provider says.
        """,
    ).tag(config=True)

    rooms_service = Unicode(
        "mutirao-rooms",
        help="""
        Name of the rooms service (``c.JupyterHub.services``) asked, at each sign-in, to
        grant the room shares that waited for the person (invitations by user name or e-mail
        address) and their own copy of their teams' shares, so that they can enter a room
        right after logging in, even one shared with a team they joined a moment ago. Empty:
        do not ask (the rooms service's periodic pass still grants them, a little later).
        Default: ``mutirao-rooms``. Example::

            c.LocalTeamAuthenticator.rooms_service = ""

        .. versionadded:: 0.2
        """,
    ).tag(config=True)

    @validate("team_roles")
    def _validate_team_roles(self, proposal):
        value = proposal["value"]
        return value if callable(value) else check_team_roles(value)

    @default("manage_roles")
    def _default_manage_roles(self):
        # roles named in team_roles must be applied, never silently ignored
        return bool(self.team_roles)

    @validate("manage_roles")
    def _validate_manage_roles(self, proposal):
        if not proposal["value"] and self.team_roles:
            raise TraitError("team_roles needs manage_roles = True (its default when set)")
        return proposal["value"]

    # Every Mutirão authenticator mirrors teams as hub groups and re-reads them before each
    # spawn and every five minutes, so leaving a team takes effect without a new login.
    @default("manage_groups")
    def _default_manage_groups(self):
        return True

    @default("refresh_pre_spawn")
    def _default_refresh_pre_spawn(self):
        return True

    @default("auth_refresh_age")
    def _default_auth_refresh_age(self):
        return 300

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # user_info of people who have just signed in, until add_user (a first sign-in) runs
        self._signing_in: OrderedDict[str, tuple[dict | None, list[str] | None]] = OrderedDict()
        # config is loaded in no particular order, so check the pair once it is all in
        if self.team_roles and not getattr(self, "manage_roles", True):
            raise TraitError("team_roles needs manage_roles = True (its default when set)")

    @validate("room_user_prefix")
    def _validate_prefix(self, proposal):
        # an empty prefix would reserve every name or none, depending on how it is read: refuse it
        if not proposal["value"]:
            raise ValueError("room_user_prefix must not be empty")
        return proposal["value"]

    async def run_post_auth_hook(self, handler, auth_model):
        """At every sign-in, once the person is known, ask the rooms service to bring their
        rooms up to date (:mod:`mutirao_hub.auth.invitations`) before the hub redirects them,
        often straight to a room. A person signing in for the first time is asked for in
        :meth:`add_user`, once the hub has created them."""
        auth_model = await super().run_post_auth_hook(handler, auth_model)  # type: ignore[misc]
        if not (isinstance(auth_model, dict) and auth_model.get("name")):
            return auth_model
        name = auth_model["name"]
        info = auth_model.get("user_info")
        info = info if isinstance(info, dict) else None
        groups = auth_model.get("groups")
        groups = list(groups) if isinstance(groups, list | tuple | set) else None
        find_user = getattr(handler, "find_user", None)
        user = find_user(name) if callable(find_user) else None
        if user is None:
            self._signing_in[name] = (info, groups)
            while len(self._signing_in) > 1000:
                self._signing_in.popitem(last=False)
        elif self.rooms_service:
            await self._welcome(user, info, groups)
        return auth_model

    async def add_user(self, user):
        """After the hub's own work, a first sign-in asks the rooms service for invitations
        and team rooms (:mod:`mutirao_hub.auth.invitations`); users added at hub start-up or
        through the REST API are not signing in, and are left to the service's periodic pass."""
        added = super().add_user(user)  # type: ignore[misc]
        if inspect.isawaitable(added):
            await added
        signing_in = user.name in self._signing_in
        info, groups = self._signing_in.pop(user.name, (None, None))
        if signing_in and self.rooms_service:
            await self._welcome(user, info, groups)

    async def _welcome(self, user, info: dict | None, groups: list[str] | None) -> None:
        from .invitations import welcome

        if groups is not None and getattr(self, "manage_groups", False):
            # what the hub does right after this hook, done first so that the service sees
            # the teams this sign-in brings (the hub's own call then changes nothing)
            user.sync_groups(groups)
        await welcome(getattr(self, "parent", None), user, info, self.rooms_service)

    def is_reserved_name(self, username: str) -> bool:
        """True for names that belong to rooms or the suite itself."""
        name = username.lower()
        return name.startswith(self.room_user_prefix.lower()) or name in {
            n.lower() for n in self.reserved_names
        }

    async def _resolve_option(self, value):
        if callable(value):
            value = value(self)
            if inspect.isawaitable(value):
                value = await value
        return value

    def team_group_name(self, team: str) -> str:
        """The hub group name of a team not listed in ``team_groups``; providers may override."""
        return team

    def extra_allowed_teams(self) -> set[str]:
        """Teams allowed through a deprecated option that maps onto ``allowed_teams``."""
        return set()

    async def decide_teams(self, teams: Iterable[str]) -> TeamDecision:
        """Apply the configured mapping to a person's teams."""
        team_roles = await self._resolve_option(self.team_roles)
        return resolve(
            teams,
            allowed_teams=set(await self._resolve_option(self.allowed_teams))
            | self.extra_allowed_teams(),
            team_groups=dict(await self._resolve_option(self.team_groups)),
            admin_teams=set(await self._resolve_option(self.admin_teams)),
            allow_all_teams=self.allow_all_teams,
            team_roles=check_team_roles(team_roles),
            group_name=self.team_group_name,
        )

    def roles_model(self, decision: TeamDecision, admin: bool) -> list[dict] | None:
        """The ``roles`` of an auth model (``None`` when roles are not managed).

        JupyterHub's ``sync_roles`` strips every role not listed, so the built-in ``user`` role
        (and ``admin`` for admins) are listed too.
        """
        if not getattr(self, "manage_roles", False):
            return None
        names = {"user", *decision.roles} | ({"admin"} if admin else set())
        return [{"name": n} for n in sorted(names)]
