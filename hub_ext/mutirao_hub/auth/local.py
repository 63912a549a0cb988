"""A local authenticator for the embedded default and small labs without an identity provider.

Users and their teams live in a TOML file that admins edit; passwords are stored as argon2id
hashes (argon2-cffi). Checking a password costs the same whether or not the user exists, and
repeated failures for a name lock that name out for a growing time.

The users file::

    [users.ana]
    display_name = "Ana Souza"
    email = "ana@example.org"
    teams = ["ml-research"]
    admin = true                      # optional; admin_teams works too
    password_hash = "$argon2id$v=19$m=65536,t=3,p=4$..."

Make a hash with ``mutirao-hash-password`` (reads the password from the terminal, or from
standard input when it is not a terminal).
"""

from __future__ import annotations

import asyncio
import getpass
import inspect
import os
import sys
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from jupyterhub.auth import Authenticator
from tornado import web
from traitlets import Float, Integer, Unicode

from .identity import user_info
from .teams import TeamAuthenticatorMixin

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on Python 3.10
    import tomli as tomllib

_hasher = PasswordHasher()
# Verified instead of a real hash when the user does not exist, so that the response time does not
# say whether a name exists.
_DUMMY_HASH = _hasher.hash("mutirao-no-such-user")


@dataclass
class LocalUser:
    """One entry of the users file."""

    name: str
    password_hash: str
    display_name: str = ""
    email: str = ""
    avatar_url: str = ""
    teams: list[str] = field(default_factory=list)
    admin: bool = False


class UsersFileError(ValueError):
    """The users file cannot be used; the message says where and why."""


def parse_users(text: str, source: str = "users file") -> dict[str, LocalUser]:
    """Parse the TOML users file into :class:`LocalUser` entries, refusing anything malformed."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UsersFileError(f"{source}: not valid TOML: {e}") from None
    users = data.get("users", {})
    if not isinstance(users, dict):
        raise UsersFileError(f"{source}: [users] must be a table")
    parsed = {}
    for name, entry in users.items():
        if not isinstance(entry, dict):
            raise UsersFileError(f"{source}: users.{name} must be a table")
        unknown = set(entry) - {
            "password_hash",
            "display_name",
            "email",
            "avatar_url",
            "teams",
            "admin",
        }
        if unknown:
            # a misspelled key (say "admn") must not silently do nothing
            raise UsersFileError(f"{source}: users.{name}: unknown keys {sorted(unknown)}")
        pw = entry.get("password_hash", "")
        if not isinstance(pw, str) or not pw.startswith("$argon2"):
            raise UsersFileError(f"{source}: users.{name}: password_hash must be an argon2 hash")
        teams = entry.get("teams", [])
        if not isinstance(teams, list) or not all(isinstance(t, str) for t in teams):
            raise UsersFileError(f"{source}: users.{name}: teams must be a list of names")
        parsed[name] = LocalUser(
            name=name,
            password_hash=pw,
            display_name=str(entry.get("display_name", "")),
            email=str(entry.get("email", "")),
            avatar_url=str(entry.get("avatar_url", "")),
            teams=list(teams),
            admin=bool(entry.get("admin", False)),
        )
    return parsed


class _Failures:
    """Failed logins per name, for the lockout; bounded so unknown names cannot fill memory."""

    def __init__(self, max_entries: int = 10_000):
        self._entries: OrderedDict[str, tuple[int, float]] = OrderedDict()
        self._max = max_entries

    def get(self, name: str) -> tuple[int, float]:
        return self._entries.get(name, (0, 0.0))

    def record(self, name: str, now: float) -> int:
        count, _ = self._entries.pop(name, (0, 0.0))
        self._entries[name] = (count + 1, now)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
        return count + 1

    def clear(self, name: str) -> None:
        self._entries.pop(name, None)


def lockout_remaining(
    failures: int, last_failure: float, now: float, *, allowed: int, base: float, cap: float
) -> float:
    """Seconds a name stays locked after ``failures`` failed logins (0 when not locked).

    The first ``allowed`` failures cost nothing; each further one doubles the wait, up to ``cap``.
    """
    if failures < allowed:
        return 0.0
    wait = min(cap, base * (2 ** (failures - allowed)))
    return max(0.0, last_failure + wait - now)


class LocalTeamAuthenticator(TeamAuthenticatorMixin, Authenticator):
    """Users, teams and argon2 password hashes from a TOML file.

    Teams from the file go through the shared team mapping (``allowed_teams``, ``team_groups``,
    ``admin_teams``) exactly as a provider's teams do, and become hub groups (``manage_groups``).
    The file is re-read when it changes and before every spawn, so removing someone from a
    team takes effect at their next login or spawn.
    """

    users_file = Unicode(
        "",
        help="""
        Path of the TOML file with the users, their teams and their argon2 password hashes.
        Required. Relative paths are relative to the hub's working directory::

            c.LocalTeamAuthenticator.users_file = "/etc/jupyterhub/users.toml"
        """,
    ).tag(config=True)

    max_failed_logins = Integer(
        5,
        help="""
        Failed logins allowed for a user name before it is locked out. Each further failure
        doubles the lockout, starting at ``lockout_seconds`` and capped at
        ``max_lockout_seconds``. A successful login resets the count. Default: 5.
        """,
    ).tag(config=True)

    lockout_seconds = Float(
        30.0, help="First lockout, in seconds, once max_failed_logins is reached. Default: 30."
    ).tag(config=True)

    max_lockout_seconds = Float(
        900.0, help="Longest lockout, in seconds. Default: 900 (15 minutes)."
    ).tag(config=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._failures = _Failures()
        self._users: dict[str, LocalUser] = {}
        self._users_mtime: float | None = None
        if not self.users_file:
            raise ValueError("LocalTeamAuthenticator.users_file must be set")
        self._load_users()

    def _load_users(self) -> dict[str, LocalUser]:
        path = Path(self.users_file)
        try:
            mtime = path.stat().st_mtime
        except OSError as e:
            raise UsersFileError(f"cannot read users file {path}: {e.strerror}") from None
        if mtime != self._users_mtime:
            self._users = parse_users(path.read_text(encoding="utf-8"), str(path))
            self._users_mtime = mtime
            self.log.info("Loaded %d users from %s", len(self._users), path)
        return self._users

    def check_blocked_users(self, username, authentication=None):
        if not super().check_blocked_users(username, authentication):
            return False
        if self.is_reserved_name(username):
            self.log.warning("Refusing reserved user name %r", username)
            return False
        return True

    async def check_allowed(self, username, authentication=None):
        allowed = super().check_allowed(username, authentication)
        if inspect.isawaitable(allowed):
            allowed = await allowed
        if allowed:
            return True
        if authentication is not None and authentication.get("mutirao_allowed"):
            return True
        return False

    async def _auth_model(self, user: LocalUser) -> dict | None:
        decision = await self.decide_teams(user.teams)
        if not decision.allowed:
            self.log.warning("Refusing %r: %s", user.name, decision.reason)
            return None
        admin = bool(user.admin or decision.admin or user.name in self.admin_users)
        model = {
            "name": user.name,
            # explicit False, so that leaving an admin team removes admin rights at next login
            "admin": admin,
            "groups": decision.groups,
            "user_info": user_info(
                user.name, user.display_name, user.avatar_url or None, user.email or None
            ),
            "mutirao_allowed": True,
        }
        roles = self.roles_model(decision, admin)
        if roles is not None:
            model["roles"] = roles
        return model

    async def authenticate(self, handler, data):
        username = self.normalize_username((data or {}).get("username", "") or "")
        password = (data or {}).get("password", "") or ""
        now = time.monotonic()
        count, last = self._failures.get(username)
        wait = lockout_remaining(
            count,
            last,
            now,
            allowed=self.max_failed_logins,
            base=self.lockout_seconds,
            cap=self.max_lockout_seconds,
        )
        if wait > 0:
            self.log.warning("Login for %r refused: locked out for %.0f s", username, wait)
            raise web.HTTPError(
                429,
                f"Too many failed logins for this user. Try again in {int(wait) + 1} seconds.",
            )
        user = self._load_users().get(username)
        ok = await asyncio.get_running_loop().run_in_executor(
            None, _verify, user.password_hash if user else _DUMMY_HASH, password
        )
        if not (ok and user):
            n = self._failures.record(username, now)
            self.log.warning("Failed login for %r (%d in a row)", username, n)
            return None
        self._failures.clear(username)
        return await self._auth_model(user)

    async def refresh_user(self, user, handler=None, **kwargs):
        if self.is_reserved_name(user.name):
            # a room's account: nobody signs in as it and it is not in the users file (the
            # rooms service keeps it); its server's token keeps working, with nothing to refresh
            return True
        entry = self._load_users().get(user.name)
        if entry is None:
            self.log.warning("User %r is no longer in the users file", user.name)
            return False
        model = await self._auth_model(entry)
        return model if model is not None else False


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def hash_password(password: str) -> str:
    """An argon2id hash for the users file."""
    return _hasher.hash(password)


def main(argv: list[str] | None = None) -> int:
    """``mutirao-hash-password``: print an argon2id hash for the users file."""
    argv = sys.argv[1:] if argv is None else argv
    if argv:
        print(
            "usage: mutirao-hash-password  (reads the password, prints its hash)", file=sys.stderr
        )
        return 2
    if os.isatty(0):
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            print("The passwords differ.", file=sys.stderr)
            return 1
    else:
        password = sys.stdin.readline().rstrip("\n")
    if not password:
        print("An empty password is not allowed.", file=sys.stderr)
        return 1
    print(hash_password(password))
    return 0
