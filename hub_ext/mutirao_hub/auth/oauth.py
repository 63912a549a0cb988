"""What the GitHub, GitLab and OpenID Connect team authenticators share on top of oauthenticator.

The OAuth flow, the token exchange and the token refresh are oauthenticator's. This mixin adds,
through oauthenticator's own hooks:

``update_auth_model``
    after the provider class's own update, asks the subclass for the person's teams
    (:meth:`TeamOAuthenticatorMixin.fetch_teams`), applies the team mapping and records the
    decision in ``auth_state["mutirao"]``; sets ``groups``, ``admin``, ``roles`` and ``user_info``.
``get_user_groups``
    the mapped groups, so oauthenticator's ``manage_groups`` mirrors the allowed teams.
``check_blocked_users``
    refuses reserved room names and people the provider could not vouch for (an unverified
    e-mail), whatever else allows them.
``check_allowed``
    the provider class first (``allowed_users``, ``admin_users``, ...), then the team decision,
    then an explicit deny.
``refresh_user``
    oauthenticator re-fetches the user with the stored access token (or its refresh token); the
    same checks are applied to the fresh model, and a person who lost every allowed team gets a
    403 on their next request or spawn, cookie or token (a new login is refused too). That is
    why ``enable_auth_state`` (and so ``JUPYTERHUB_CRYPT_KEY``) is needed for membership to
    follow the provider between logins.

Subclasses implement :meth:`fetch_teams` (and :meth:`profile`), and nothing else is required.
No token or secret is ever logged here: log lines name the user and the reason only.
"""

from __future__ import annotations

import base64
import binascii
import inspect
import json
import warnings
from typing import Any

from requests.utils import parse_header_links
from tornado import web
from traitlets import Bool, default

from .identity import inline_avatar, user_info
from .teams import TeamAuthenticatorMixin, TeamDecision

#: The key of ``auth_state`` where the team decision is kept.
STATE_KEY = "mutirao"


def next_link(link_header: str | None) -> str | None:
    """The ``rel="next"`` URL of a ``Link`` header, if any (GitHub and GitLab pagination)."""
    if not link_header:
        return None
    for link in parse_header_links(link_header):
        if link.get("rel") == "next":
            return link.get("url")
    return None


class TeamOAuthenticatorMixin(TeamAuthenticatorMixin):
    """Team mapping for oauthenticator-based authenticators (mix in before the provider class)."""

    # provided by the Authenticator this is mixed into (declared for type checkers only)
    log: Any
    enable_auth_state: bool
    validate_server_cert: bool
    httpfetch: Any
    admin_users: set[str]
    allow_all: bool

    inline_avatars = Bool(
        True,
        help="""
        Fetch the person's picture from the provider at each sign-in and keep it inline in
        their ``user_info`` (``data:image/...``, at most 64 KiB), so collaborators' labs show
        it next to cursors, comments and versions. Labs never load avatars from other hosts
        (that would tell the host who looks at whom), so with ``False``, or when the picture
        cannot be fetched or is too large, initials are shown. Default: ``True``.

        .. versionadded:: 0.2
        """,
    ).tag(config=True)

    @default("allow_existing_users")
    def _default_allow_existing_users(self):
        # Existing users must not stay allowed by name once they leave every allowed team.
        return False

    def __init__(self, **kwargs):
        # filled by a provider's deprecated allow-list while the config loads (see below)
        self._legacy_allowed: set[str] = set()
        super().__init__(**kwargs)
        if not self.enable_auth_state:
            self.log.warning(
                "%s: enable_auth_state is off (it needs JUPYTERHUB_CRYPT_KEY), so team "
                "membership is only re-read at login, not before each spawn",
                type(self).__name__,
            )

    # -- what a provider implements --------------------------------------------------------
    async def fetch_teams(self, auth_model: dict) -> list[str] | None:
        """The person's teams as the provider names them; ``None`` when they cannot be known.

        Called at every login and refresh with oauthenticator's auth model (``auth_state``
        holds the token response and the provider's user model).
        """
        raise NotImplementedError

    def profile(self, auth_model: dict) -> tuple[str | None, str | None, str | None]:
        """(display name, avatar URL, e-mail) from the provider's user model."""
        return None, None, None

    def avatar_request_url(self, url: str) -> str:
        """Where to fetch the picture at ``url`` (a provider asks for a small size here)."""
        return url

    async def fetch_avatar(self, url: str | None) -> str | None:
        """The picture at ``url`` as an inline avatar (:func:`.identity.inline_avatar`), or
        ``None``: off (``inline_avatars``), not https, not reachable, not an image, too big."""
        if not self.inline_avatars or not isinstance(url, str):
            return None
        if url.startswith("data:"):
            return url if inline_avatar(_decode_data_url(url)) == url else None
        if not url.lower().startswith("https://"):
            return None
        try:
            response = await self.httpfetch(
                self.avatar_request_url(url),
                label="fetching the avatar",
                parse_json=False,
                raise_error=False,
                request_timeout=5,
                follow_redirects=True,
                max_redirects=3,
            )
        except Exception as e:  # a picture never fails a sign-in
            self.log.info("No avatar for this sign-in: %s", type(e).__name__)
            return None
        if response is None or response.code != 200 or not response.body:
            return None
        return inline_avatar(response.body)

    def refusal(self, auth_model: dict) -> str | None:
        """A reason to refuse this person whatever allows them (say, an unverified e-mail)."""
        return None

    # -- oauthenticator hooks --------------------------------------------------------------
    async def update_auth_model(self, auth_model):
        auth_model = await super().update_auth_model(auth_model)  # type: ignore[misc]
        name = auth_model["name"]
        state = auth_model["auth_state"]
        refused = self.refusal(auth_model)
        if refused:
            decision = TeamDecision(False, reason=refused)
            teams: list[str] = []
        else:
            try:
                found = await self.fetch_teams(auth_model)
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                # a malformed answer from the provider refuses the login; it does not crash it
                self.log.error("Could not read %r's teams: %s", name, type(e).__name__)
                found = None
            if found is None:
                teams = []
                decision = TeamDecision(False, reason="the provider did not say which teams")
            else:
                teams = sorted(set(found))
                decision = await self.decide_teams(teams)
        if not decision.allowed:
            self.log.warning("Refusing %r: %s", name, decision.reason)
        state[STATE_KEY] = {
            "teams": teams,
            "allowed": decision.allowed,
            "groups": decision.groups if decision.allowed else [],
            "refused": refused or "",
            "reason": decision.reason,
        }
        # explicit, so that leaving an admin team removes admin rights at the next refresh
        admin = bool(name in self.admin_users or (decision.allowed and decision.admin))
        auth_model["admin"] = admin
        roles = self.roles_model(decision, admin)
        if roles is not None:
            auth_model["roles"] = roles if decision.allowed else [{"name": "user"}]
        display, avatar, email = self.profile(auth_model)
        avatar = await self.fetch_avatar(avatar) if decision.allowed else None
        auth_model["user_info"] = user_info(name, display, avatar, email)
        return auth_model

    async def get_user_groups(self, auth_state):
        return set(auth_state.get(STATE_KEY, {}).get("groups", []))

    def check_blocked_users(self, username, authentication=None):
        if not super().check_blocked_users(username, authentication):  # type: ignore[misc]
            return False
        if self.is_reserved_name(username):
            self.log.warning("Refusing reserved user name %r", username)
            return False
        refused = ((authentication or {}).get("auth_state") or {}).get(STATE_KEY, {})
        if refused.get("refused"):
            self.log.warning("Refusing %r: %s", username, refused["refused"])
            return False
        return True

    async def check_allowed(self, username, auth_model):
        allowed = super().check_allowed(username, auth_model)  # type: ignore[misc]
        if inspect.isawaitable(allowed):
            allowed = await allowed
        if allowed:
            return True
        if ((auth_model or {}).get("auth_state") or {}).get(STATE_KEY, {}).get("allowed"):
            return True
        return False

    async def refresh_user(self, user, handler=None, **kwargs):
        model = await super().refresh_user(user, handler, **kwargs)  # type: ignore[misc]
        if not isinstance(model, dict):
            return model
        name = model["name"]
        allowed = self.check_blocked_users(name, model) and (
            self.allow_all or await self.check_allowed(name, model)
        )
        if not allowed:
            self.log.warning("User %r is no longer allowed; refusing their requests", name)
            # An error, not False: JupyterHub keeps stale auth for token-authenticated requests
            # and admin spawns when a refresh returns False (auth_refresh_strict is off by
            # default); a person who left every allowed team must lose access there too.
            raise web.HTTPError(403, "You are no longer a member of a team allowed on this hub.")
        return model

    # -- helpers for providers ------------------------------------------------------------
    async def fetch_pages(self, url: str, headers: dict, what: str) -> list:
        """Every item of a paginated JSON list, following the ``Link`` header's next page."""
        items: list = []
        next_url: str | None = url
        while next_url:
            resp = await self.httpfetch(
                next_url,
                f"fetching {what}",
                parse_json=False,
                method="GET",
                headers=headers,
                validate_cert=self.validate_server_cert,
            )
            page = json.loads(resp.body.decode("utf8", "replace"))
            if not isinstance(page, list):
                raise ValueError(f"expected a list of {what}")
            items += page
            next_url = next_link(resp.headers.get("Link"))
        return items

    # -- deprecated aliases ----------------------------------------------------------------
    def _adopt_legacy_allowed(self, old: str, values) -> None:
        """A provider's own allow-list (``old``) is deprecated in favour of ``allowed_teams``:
        warn, add its values to the allowed teams, and empty it so that the team mapping, not
        the provider class's membership calls, decides. Call it from an ``@observe(old)``."""
        if not values:
            return
        self._deprecated_alias(old, "allowed_teams")
        self._legacy_allowed |= set(values)
        setattr(self, old, set())

    def extra_allowed_teams(self) -> set[str]:
        return set(self._legacy_allowed)

    def _deprecated_alias(self, old: str, new: str) -> None:
        message = (
            f"{type(self).__name__}.{old} is deprecated in Mutirão: use "
            f"{type(self).__name__}.{new}. Its value is added to {new}."
        )
        self.log.warning(message)
        warnings.warn(message, DeprecationWarning, stacklevel=3)


def _decode_data_url(url: str) -> bytes:
    """The bytes of a ``data:...;base64,`` URL (empty when it is not one)."""
    head, _, data = url.partition(",")
    if not head.endswith(";base64"):
        return b""
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return b""
