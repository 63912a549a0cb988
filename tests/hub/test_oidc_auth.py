"""OIDCTeamAuthenticator: ID token verification without a hub, then real logins through a real
OpenID Connect provider (npm oidc-provider on 127.0.0.1), a real JupyterHub and its npm proxy.

The provider (tests/hub/oidc_provider/server.mjs) signs people in automatically (the account is
the ``login_hint``); everything else is the real authorization code flow with PKCE and state,
the token exchange, a signed ID token, the userinfo endpoint and a ``groups`` claim.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from mutirao_hub.auth.oidc import IDTokenError, OIDCTeamAuthenticator, claim_at, verify_id_token

from ..conftest import ARTIFACTS
from ..harness import HubProcess, wait_for
from .oidc import CLIENT_ID, OIDCProvider, oidc_login

ISSUER = "https://login.example.org/realms/acme"


# -- ID token verification (locally generated keys) ----------------------------------------------
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def key_set(private_key, kid="k1") -> jwt.PyJWKSet:
    public = jwt.algorithms.RSAAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
    return jwt.PyJWKSet.from_dict({"keys": [{**public, "kid": kid, "use": "sig", "alg": "RS256"}]})


SIGNER = rsa_key()
HMAC_SECRET = "a-public-secret-known-to-every-client"
KEYS = key_set(SIGNER)


def id_token(key=SIGNER, kid="k1", alg="RS256", **overrides) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": "hub", "sub": "u1", "iat": now, "exp": now + 300, **overrides}
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})


def verify(token: str) -> dict:
    return verify_id_token(
        token, KEYS, issuer=ISSUER, audience="hub", algorithms=["RS256"], leeway=5
    )


def test_valid_id_token_is_believed():
    assert verify(id_token())["sub"] == "u1"


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (lambda: id_token(key=rsa_key()), "signature"),
        (lambda: id_token(aud="another-client"), "audience"),
        (lambda: id_token(exp=int(time.time()) - 60), "expired"),
        (lambda: id_token(iss="https://evil.example.org"), "issuer"),
        (lambda: id_token(kid="unknown"), "no published key"),
        (
            lambda: id_token(key="a-public-secret-known-to-every-client", alg="HS256"),
            "not accepted",
        ),
        (lambda: jwt.encode({"sub": "u1"}, None, algorithm="none"), "not accepted"),
        (lambda: "not.a.jwt", "not a JWT"),
    ],
    ids=[
        "bad-signature",
        "wrong-audience",
        "expired",
        "wrong-issuer",
        "unknown-key",
        "hmac",
        "alg-none",
        "garbage",
    ],
)
def test_bad_id_tokens_are_refused(token, reason):
    with pytest.raises(IDTokenError, match=re.compile(reason, re.IGNORECASE)):
        verify(token())


def test_groups_claim_by_dotted_path_or_callable():
    claims = {"realm_access": {"roles": ["ml"]}, "groups": ["a"]}
    assert claim_at(claims, "realm_access.roles") == ["ml"]
    assert claim_at(claims, "realm_access.missing.deeper") is None
    assert claim_at(claims, lambda c: c["groups"] + ["b"]) == ["a", "b"]


def oidc_auth(**config) -> OIDCTeamAuthenticator:
    auth = OIDCTeamAuthenticator(oidc_issuer=ISSUER, client_id="hub", **config)
    auth.log = logging.getLogger("test-oidc-auth")
    return auth


def teams_of(auth, claims):
    model = {"name": "ana", "auth_state": {auth.user_auth_state_key: claims}}
    return asyncio.run(auth.fetch_teams(model))


@pytest.mark.parametrize(
    "claims", [{}, {"groups": "ml-research"}, {"groups": [1, 2]}, {"groups": {"a": 1}}]
)
def test_missing_or_malformed_groups_claim_gives_no_teams_and_a_log_line(claims, caplog):
    with caplog.at_level(logging.WARNING):
        assert teams_of(oidc_auth(), claims) is None
    assert "groups claim" in caplog.text


def test_callable_groups_claim():
    auth = oidc_auth(groups_claim=lambda claims: claims["ext"]["teams"])
    assert teams_of(auth, {"ext": {"teams": ["a", "b"]}}) == ["a", "b"]


def test_deprecated_groups_key_warns_and_is_honoured():
    with pytest.warns(DeprecationWarning, match="groups_claim"):
        auth = oidc_auth(auth_state_groups_key="oauth_user.roles")
    assert teams_of(auth, {"roles": ["ml"], "groups": ["other"]}) == ["ml"]


def test_issuer_is_required():
    with pytest.raises(ValueError, match="oidc_issuer"):
        OIDCTeamAuthenticator(client_id="hub")


# -- real logins through a real provider ---------------------------------------------------------
def account(name, groups=None, verified=True, display=None, **extra):
    claims = {
        "preferred_username": name,
        "name": display or name.title(),
        "email": f"{name}@example.org",
        "email_verified": verified,
        **extra,
    }
    if groups is not None:
        claims["groups"] = groups
    return claims


ACCOUNTS = {
    "ana": account("ana", ["ml-research", "ops"], display="Ana Souza"),
    "bruno": account("bruno", ["ml-research", "/acme/data-platform", "gpu-pro"]),
    "carla": account("carla", ["finance"]),
    "davi": account("davi", ["ml-research"], verified=False),
    "eva": account("eva"),
    "fabio": account("fabio", "ml-research"),
    "gil": account("gil", ["ml-research", "/acme/data-platform"]),
    "hana": account("hana", ["/acme/data-platform"], display="Hana Sato"),
    "room-ml": account("room-ml", ["ml-research"]),
}


@pytest.fixture(scope="module")
def oidc(tmp_path_factory):
    """One provider and one hub using it, for the module (each starts in seconds)."""
    state = tmp_path_factory.mktemp("oidc")
    provider = OIDCProvider(state, redirect_uri="", accounts=ACCOUNTS)
    crypt_key = secrets.token_hex(32)
    hub = HubProcess(
        state / "hub",
        extra_config=f"""
import os
os.environ["JUPYTERHUB_CRYPT_KEY"] = {crypt_key!r}
c.JupyterHub.authenticator_class = "mutirao-oidc"
c.OIDCTeamAuthenticator.oidc_issuer = {provider.issuer!r}
c.OIDCTeamAuthenticator.client_id = {CLIENT_ID!r}
c.OIDCTeamAuthenticator.client_secret = {provider.client_secret!r}
c.OIDCTeamAuthenticator.scope = ["openid", "profile", "email", "groups"]
c.OIDCTeamAuthenticator.allowed_teams = {{"ml-research", "/acme/data-platform", "ops", "gpu-pro"}}
c.OIDCTeamAuthenticator.admin_teams = {{"ops"}}
c.OIDCTeamAuthenticator.team_roles = {{"gpu-pro": ["gpu-pro"]}}
c.OIDCTeamAuthenticator.enable_auth_state = True
c.OIDCTeamAuthenticator.auth_refresh_age = 1
c.JupyterHub.load_roles.append({{"name": "gpu-pro", "scopes": ["read:users:name"]}})
from mutirao_hub.rooms.config import rooms_service_config
rooms_service_config(
    c,
    state_dir={str(state / "rooms")!r},
    sync_interval=1,
    seed_rooms=[{{"name": "ops-room", "teams": {{"ops": "owner"}}}}],
)
""",
    )
    callback = hub.hub_url("oauth_callback")
    hub.config_path.write_text(
        hub.config_path.read_text() + f"c.OIDCTeamAuthenticator.oauth_callback_url = {callback!r}\n"
    )
    provider.redirect_uri = callback
    provider.start()
    try:
        hub.start()
        yield hub, provider, crypt_key
    finally:
        leaks = hub.stop()
        provider.stop()
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "oidc-jupyterhub.log").write_text(hub.log())
        (ARTIFACTS / "oidc-provider.log").write_text(provider.log())
    assert not leaks, leaks


def user_model(hub, name):
    return hub.api("GET", f"users/{name}").json()


def test_login_mirrors_groups_admin_and_identity(oidc):
    hub, _, _ = oidc
    r = oidc_login(hub, "ana").login_response
    assert r.status_code == 302, r.text
    model = user_model(hub, "ana")
    assert sorted(model["groups"]) == ["ml-research", "ops"]
    assert model["admin"] is True
    assert model["user_info"]["display_name"] == "Ana Souza"
    assert model["user_info"]["initials"] == "AS"


def test_keycloak_paths_become_group_names_and_teams_give_roles(oidc):
    hub, _, _ = oidc
    assert oidc_login(hub, "bruno").login_response.status_code == 302
    model = user_model(hub, "bruno")
    assert sorted(model["groups"]) == ["acme:data-platform", "gpu-pro", "ml-research"]
    assert model["admin"] is False
    assert sorted(model["roles"]) == ["gpu-pro", "user"]


@pytest.mark.parametrize(
    ("name", "log_line"),
    [
        ("carla", "Refusing 'carla': not a member of any allowed team"),
        ("davi", "Refusing 'davi': the identity provider reports the e-mail address as unverified"),
        ("eva", "Refusing 'eva': the groups claim (groups_claim = groups) is missing"),
        ("fabio", "Refusing 'fabio': the groups claim (groups_claim = groups) is a str"),
        ("room-ml", "Refusing reserved user name 'room-ml'"),
    ],
    ids=["no-allowed-team", "unverified-email", "missing-groups", "malformed-groups", "reserved"],
)
def test_refused_logins(oidc, name, log_line):
    hub, _, _ = oidc
    r = oidc_login(hub, name).login_response
    assert r.status_code == 403, r.text
    assert hub.api("GET", f"users/{name}").status_code == 404
    assert log_line in hub.log()


def test_state_mismatch_on_callback_is_refused(oidc):
    hub, _, _ = oidc
    r = oidc_login(hub, "ana", tamper_state=True).login_response
    assert r.status_code == 400
    assert "OAuth state mismatch" in r.text


def test_team_removed_upstream_is_dropped_at_refresh_and_login(oidc):
    hub, provider, _ = oidc
    session = oidc_login(hub, "gil")
    assert session.login_response.status_code == 302
    assert sorted(user_model(hub, "gil")["groups"]) == ["acme:data-platform", "ml-research"]

    # removed from data-platform upstream: the hub's next refresh (auth_refresh_age) drops it
    provider.set_accounts({**ACCOUNTS, "gil": account("gil", ["ml-research"])})
    time.sleep(1.2)
    assert session.get(hub.hub_url("home"), timeout=30).status_code == 200
    assert sorted(user_model(hub, "gil")["groups"]) == ["ml-research"]

    # removed from every allowed team: no spawn, even by an admin (refresh_pre_spawn), no page,
    # and no new login
    provider.set_accounts({**ACCOUNTS, "gil": account("gil", ["finance"])})
    r = hub.api("POST", "users/gil/server")
    assert r.status_code == 403, r.text
    assert "no longer a member" in r.text
    time.sleep(1.2)
    r = session.get(hub.hub_url("home"), allow_redirects=False, timeout=30)
    assert r.status_code == 403 or "login" in r.headers.get("Location", ""), r.status_code
    assert oidc_login(hub, "gil").login_response.status_code == 403
    provider.set_accounts(ACCOUNTS)


def test_an_invitation_by_email_waits_for_the_first_oidc_sign_in(oidc):
    """ana invites hana (never signed in) by the address her provider vouches for; hana's
    first sign-in through the provider gives her the room."""
    hub, _, _ = oidc
    assert oidc_login(hub, "ana").login_response.status_code == 302
    assert hub.api("GET", "users/hana").status_code == 404
    rooms_api = hub.url + "services/mutirao-rooms/api/"

    def call(who, method, path, **kwargs):
        headers = {"Authorization": f"token {hub.user_token(who)}"}
        return requests.request(method, rooms_api + path, headers=headers, timeout=30, **kwargs)

    wait_for(lambda: call("ana", "GET", "rooms").json(), 30, what="the seeded room")
    invited = call(
        "ana", "POST", "rooms/ops-room/shares", json={"user": "hana@example.org", "role": "editor"}
    )
    assert invited.status_code == 202, invited.text
    assert invited.json()["kind"] == "email"

    assert oidc_login(hub, "hana").login_response.status_code == 302
    assert user_model(hub, "hana")["user_info"]["email"] == "hana@example.org"
    rooms = call("hana", "GET", "rooms").json()
    assert [(r["name"], r["my_role"]) for r in rooms] == [("ops-room", "editor")]
    members = call("ana", "GET", "rooms/ops-room/shares").json()
    assert {"kind": "user", "name": "hana", "role": "editor"}.items() <= next(
        m for m in members if m["name"] == "hana"
    ).items()
    assert not [m for m in members if m.get("pending")]


def test_no_token_or_secret_in_logs(oidc):
    hub, provider, crypt_key = oidc
    oidc_login(hub, "ana")
    log = hub.log()
    assert provider.client_secret not in log
    assert crypt_key not in log
    # no JWT (ID tokens, signed access tokens) anywhere in the hub's log
    assert not re.search(r"eyJ[\w-]{10,}\.[\w-]{10,}\.", log)
