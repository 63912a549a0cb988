"""OpenID Connect groups as JupyterHub groups (on oauthenticator's GenericOAuthenticator).

Works with any certified provider (Keycloak, Authentik, Entra ID, Okta, Dex, ...). From
``oidc_issuer`` it reads the provider's discovery document; the authorization code flow uses
PKCE and oauthenticator's state cookie. The ID token is verified (signature against the
provider's published keys, issuer, audience, expiry) before anything in it is believed; claims
from the userinfo endpoint are added when the provider has one, and must be about the same
subject. The person's teams are the values of a groups claim, found by a dotted path
(``"groups"``, ``"realm_access.roles"``) or a callable.

A person is refused, with a log line and never a crash, when the ID token does not verify, when
the provider reports ``email_verified: false``, or when the groups claim is missing or is not a
list of names.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import jwt
from oauthenticator.generic import GenericOAuthenticator
from oauthenticator.oauth2 import OAuthLoginHandler
from tornado import web
from traitlets import Callable, Integer, List, Unicode, Union, default, observe

from .oauth import TeamOAuthenticatorMixin

#: Where verified ID token claims are kept in the token response (and so in auth_state).
CLAIMS_KEY = "id_token_claims"


class IDTokenError(ValueError):
    """An ID token that must not be believed; the message says why, never the token."""


def verify_id_token(
    id_token: str,
    keys: jwt.PyJWKSet,
    *,
    issuer: str,
    audience: str,
    algorithms: list[str],
    leeway: int = 30,
) -> dict:
    """The claims of an ID token whose signature, issuer, audience and expiry all check out.

    Pure (no IO): the caller fetches the provider's keys. Raises :class:`IDTokenError`.
    """
    try:
        header = jwt.get_unverified_header(id_token)
    except jwt.PyJWTError as e:
        raise IDTokenError(f"not a JWT: {e}") from None
    alg = header.get("alg")
    if alg not in algorithms:
        # never "none", never an HMAC keyed with something public
        raise IDTokenError(f"signing algorithm {alg!r} is not accepted")
    kid = header.get("kid")
    candidates = [k for k in keys.keys if kid is None or k.key_id == kid]
    if not candidates:
        raise IDTokenError(f"no published key with id {kid!r}")
    last: Exception | None = None
    for key in candidates:
        try:
            claims = jwt.decode(
                id_token,
                key=key.key,
                algorithms=[alg],
                audience=audience,
                issuer=issuer,
                leeway=leeway,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.InvalidSignatureError as e:
            last = e
            continue
        except jwt.PyJWTError as e:
            raise IDTokenError(str(e)) from None
        azp = claims.get("azp")
        if isinstance(claims.get("aud"), list) and len(claims["aud"]) > 1 and azp != audience:
            raise IDTokenError("the token was issued to another party (azp)")
        return claims
    raise IDTokenError(f"bad signature ({last})")


def claim_at(source: dict, path) -> object:
    """A claim by dotted path (``"realm_access.roles"``) or callable; ``None`` when absent."""
    if callable(path):
        return path(source)
    value: Any = source
    for key in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


class _DiscoveringLoginHandler(OAuthLoginHandler):
    """oauthenticator's login handler, after the provider's discovery document has been read."""

    async def get(self):
        await self.authenticator.discover()
        return super().get()


class OIDCTeamAuthenticator(TeamOAuthenticatorMixin, GenericOAuthenticator):
    """Sign in with an OpenID Connect provider; its groups claim becomes hub groups.

    ::

        c.JupyterHub.authenticator_class = "mutirao-oidc"
        c.OIDCTeamAuthenticator.oidc_issuer = "https://keycloak.example.org/realms/acme"
        c.OIDCTeamAuthenticator.client_id = "jupyterhub"
        c.OIDCTeamAuthenticator.client_secret = os.environ["OIDC_CLIENT_SECRET"]
        c.OIDCTeamAuthenticator.allowed_teams = {"ml-research"}

    Keycloak's full group paths (``/acme/ml-research``) become group names without the leading
    ``/`` and with ``:`` between levels (``acme:ml-research``) unless ``team_groups`` says
    otherwise. oauthenticator's ``auth_state_groups_key`` and ``claim_groups_key`` are
    deprecated here in favour of ``groups_claim``: they warn and are still honoured.
    """

    login_handler = _DiscoveringLoginHandler

    oidc_issuer = Unicode(
        "",
        help="""
        The provider's issuer URL, exactly as its ID tokens name it. Required. The
        authorization, token and userinfo endpoints and the signing keys are read from
        ``<issuer>/.well-known/openid-configuration`` unless set explicitly::

            c.OIDCTeamAuthenticator.oidc_issuer = "https://login.example.org/realms/acme"

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    groups_claim = Union(
        [Unicode(), Callable()],
        default_value="groups",
        help="""
        Where the person's teams are in the ID token and userinfo claims: a dotted path
        (``"groups"``, ``"realm_access.roles"``) or a callable taking the claims and returning
        the list. A missing claim, or one that is not a list of strings, refuses the login with
        a log line. Default: ``"groups"``.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    jwks_url = Unicode(
        "",
        help="""
        URL of the provider's signing keys (JWKS). Default: the ``jwks_uri`` of the discovery
        document.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    id_token_algorithms = List(
        Unicode(),
        default_value=["RS256", "PS256", "ES256"],
        help="""
        Signature algorithms accepted on ID tokens. ``none`` and HMAC algorithms are never
        needed with a provider that publishes its keys. Default: RS256, PS256, ES256.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    id_token_leeway = Integer(
        30,
        help="Seconds of clock difference tolerated on the ID token's times. Default: 30.",
    ).tag(config=True)

    @default("login_service")
    def _default_login_service(self):
        return "OpenID Connect"

    @default("scope")
    def _default_scope(self):
        return ["openid", "profile", "email"]

    @default("username_claim")
    def _default_username_claim(self):
        return "preferred_username"

    def __init__(self, **kwargs):
        self._legacy_groups_key = None
        super().__init__(**kwargs)
        if not self.oidc_issuer:
            raise ValueError("OIDCTeamAuthenticator.oidc_issuer must be set")
        self._discovered: asyncio.Future | None = None
        self._keys: jwt.PyJWKSet | None = None

    @observe("auth_state_groups_key")
    def _auth_state_groups_key_changed(self, change):
        # GenericOAuthenticator's claim_groups_key observer also lands here
        if change.new and change.new is not self._legacy_groups_key:
            self._deprecated_alias("auth_state_groups_key", "groups_claim")
            self._legacy_groups_key = change.new

    # -- discovery and keys ----------------------------------------------------------------
    async def discover(self) -> None:
        """Read the discovery document once; fill the endpoints not set in config."""
        if self._discovered is None:
            self._discovered = asyncio.ensure_future(self._discover())
        try:
            await asyncio.shield(self._discovered)
        except Exception:
            self._discovered = None  # try again at the next login
            raise

    async def _discover(self) -> None:
        url = self.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration"
        meta = await self.httpfetch(
            url,
            "fetching the discovery document",
            method="GET",
            headers={"Accept": "application/json"},
        )
        if meta.get("issuer") != self.oidc_issuer:
            raise ValueError(
                f"the discovery document names issuer {meta.get('issuer')!r}, "
                f"not {self.oidc_issuer!r}"
            )
        if not self.authorize_url:  # type: ignore[has-type]
            self.authorize_url = meta["authorization_endpoint"]
        if not self.token_url:  # type: ignore[has-type]
            self.token_url = meta["token_endpoint"]
        if not self.userdata_url and not self.userdata_from_id_token:  # type: ignore[has-type]
            self.userdata_url = meta.get("userinfo_endpoint", "")
        if not self.jwks_url:
            self.jwks_url = meta["jwks_uri"]

    async def _signing_keys(self, refresh: bool = False) -> jwt.PyJWKSet:
        if self._keys is None or refresh:
            resp = await self.httpfetch(
                self.jwks_url, "fetching signing keys", parse_json=False, method="GET"
            )
            self._keys = jwt.PyJWKSet.from_json(resp.body.decode("utf8"))
        return self._keys

    async def verified_claims(self, id_token: str) -> dict:
        """Verify an ID token against the provider's keys (fetched again once on a new key id)."""
        kwargs = {
            "issuer": self.oidc_issuer,
            "audience": self.client_id,
            "algorithms": list(self.id_token_algorithms),
            "leeway": self.id_token_leeway,
        }
        try:
            return verify_id_token(id_token, await self._signing_keys(), **kwargs)
        except IDTokenError as e:
            if "no published key" not in str(e):
                raise
        # the provider may have rotated its keys since they were fetched
        return verify_id_token(id_token, await self._signing_keys(refresh=True), **kwargs)

    # -- oauthenticator hooks --------------------------------------------------------------
    async def get_token_info(self, handler, params):
        await self.discover()
        token_info = await super().get_token_info(handler, params)
        id_token = token_info.get("id_token")
        if not id_token:
            if params.get("grant_type") == "refresh_token":
                return token_info  # a refresh need not repeat the ID token
            self.log.warning("Refusing a login: the provider returned no ID token")
            raise web.HTTPError(403, "The identity provider did not return an ID token.")
        try:
            token_info[CLAIMS_KEY] = await self.verified_claims(id_token)
        except IDTokenError as e:
            self.log.warning("Refusing a login: the ID token is not valid: %s", e)
            raise web.HTTPError(403, "The identity provider's ID token is not valid.") from None
        return token_info

    async def token_to_user(self, token_info):
        claims = dict(token_info.get(CLAIMS_KEY) or {})
        if not claims:
            raise web.HTTPError(403, "No verified ID token for this login.")
        if self.userdata_url and not self.userdata_from_id_token:
            await self.discover()
            userinfo = await super().token_to_user(token_info)
            if not isinstance(userinfo, dict) or userinfo.get("sub") != claims.get("sub"):
                self.log.warning("Refusing a login: userinfo is about another subject")
                raise web.HTTPError(403, "The identity provider's answers do not agree.")
            claims.update(userinfo)
        return claims

    def refusal(self, auth_model):
        claims = auth_model["auth_state"].get(self.user_auth_state_key) or {}
        verified = claims.get("email_verified")
        if verified is False or (isinstance(verified, str) and verified.lower() == "false"):
            return "the identity provider reports the e-mail address as unverified"
        return None

    def team_group_name(self, team: str) -> str:
        return team.strip("/").replace("/", ":")

    def profile(self, auth_model):
        claims = auth_model["auth_state"].get(self.user_auth_state_key) or {}
        return claims.get("name"), claims.get("picture"), claims.get("email")

    async def fetch_teams(self, auth_model):
        state = auth_model["auth_state"]
        if self._legacy_groups_key is not None:
            source, path, where = state, self._legacy_groups_key, "auth_state_groups_key"
        else:
            source = state.get(self.user_auth_state_key) or {}
            path, where = self.groups_claim, "groups_claim"
        value = claim_at(source, path)
        if inspect.isawaitable(value):
            value = await value
        if isinstance(value, (set, tuple)):
            value = list(value)
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            shown = "missing" if value is None else f"a {type(value).__name__}, not a list of names"
            self.log.warning(
                "Refusing %r: the groups claim (%s = %s) is %s",
                auth_model["name"],
                where,
                path if isinstance(path, str) else "<callable>",
                shown,
            )
            return None
        return value
