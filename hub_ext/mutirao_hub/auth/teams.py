"""The team mapping shared by every Mutirão authenticator.

Admins say once, in config, which teams may log in, what hub group each team becomes and which
teams are admins; each authenticator only has to find out which teams a person belongs to. The
decisions are pure functions (:func:`resolve`) so they are tested without a hub.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from traitlets import Bool, Callable, Dict, HasTraits, Set, Unicode, Union, validate

#: A hub group name: what JupyterHub itself accepts in URLs and the REST API, kept conservative.
GROUP_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@+-]{0,254}$")


@dataclass(frozen=True)
class TeamDecision:
    """What the mapping decided for one person at one login."""

    allowed: bool
    groups: list[str] = field(default_factory=list)
    admin: bool = False
    reason: str = ""


def resolve(
    teams: Iterable[str],
    *,
    allowed_teams: set[str],
    team_groups: dict[str, str],
    admin_teams: set[str],
    allow_all_teams: bool = False,
) -> TeamDecision:
    """Map a person's teams (as the identity provider names them) to a login decision.

    A person may log in when they belong to at least one allowed team (or ``allow_all_teams``).
    Every team they belong to that is allowed becomes a hub group, renamed by ``team_groups``;
    teams that are not allowed are not mirrored, so a hub never grows groups nobody configured.
    """
    own = sorted(set(teams))
    permitted = own if allow_all_teams else [t for t in own if t in allowed_teams]
    if not permitted:
        return TeamDecision(False, reason="not a member of any allowed team")
    groups = sorted({team_groups.get(t, t) for t in permitted})
    bad = [g for g in groups if not GROUP_NAME_RE.match(g)]
    if bad:
        return TeamDecision(False, reason=f"team names that cannot be hub groups: {bad!r}")
    admin = any(t in admin_teams for t in own)
    return TeamDecision(True, groups=groups, admin=admin)


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

    @validate("room_user_prefix")
    def _validate_prefix(self, proposal):
        # an empty prefix would reserve every name or none, depending on how it is read: refuse it
        if not proposal["value"]:
            raise ValueError("room_user_prefix must not be empty")
        return proposal["value"]

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

    async def decide_teams(self, teams: Iterable[str]) -> TeamDecision:
        """Apply the configured mapping to a person's teams."""
        return resolve(
            teams,
            allowed_teams=set(await self._resolve_option(self.allowed_teams)),
            team_groups=dict(await self._resolve_option(self.team_groups)),
            admin_teams=set(await self._resolve_option(self.admin_teams)),
            allow_all_teams=self.allow_all_teams,
        )
