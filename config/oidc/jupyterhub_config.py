# Team sign-in with an OpenID Connect provider (Keycloak, Authentik, Entra ID, Okta, Dex, ...):
# the groups claim becomes JupyterHub groups.
#
# Register a confidential client with the authorization code flow, the callback URL below and a
# groups claim in its ID token or userinfo, then set the environment variables read here.
# Guide: docs/admin/oidc.md. Spawner, proxy and database settings are not repeated here.
import os

c.JupyterHub.authenticator_class = "mutirao-oidc"
# Endpoints and signing keys are read from <issuer>/.well-known/openid-configuration
c.OIDCTeamAuthenticator.oidc_issuer = os.environ.get(
    "OIDC_ISSUER", "https://keycloak.example.org/realms/acme"
)
c.OIDCTeamAuthenticator.client_id = os.environ["OIDC_CLIENT_ID"]
c.OIDCTeamAuthenticator.client_secret = os.environ["OIDC_CLIENT_SECRET"]
c.OIDCTeamAuthenticator.oauth_callback_url = "https://hub.example.org/hub/oauth_callback"
# Keycloak needs a "groups" client scope with a Group Membership mapper; other providers
# send the claim with "profile" or a scope of their own.
c.OIDCTeamAuthenticator.scope = ["openid", "profile", "email", "groups"]
# Where the teams are: a dotted path into the claims, or a callable taking the claims
c.OIDCTeamAuthenticator.groups_claim = "groups"
# c.OIDCTeamAuthenticator.groups_claim = "realm_access.roles"
c.OIDCTeamAuthenticator.username_claim = "preferred_username"

# Keycloak's full group paths: "/acme/ml-research" becomes the hub group "acme:ml-research"
# unless team_groups names it.
c.OIDCTeamAuthenticator.allowed_teams = {
    "/acme/ml-research",
    "/acme/data-platform",
    "/acme/gpu-pro",
}
c.OIDCTeamAuthenticator.team_groups = {"/acme/ml-research": "ml-research"}
c.OIDCTeamAuthenticator.admin_teams = {"/acme/hub-admins"}
c.OIDCTeamAuthenticator.team_roles = {"/acme/gpu-pro": ["gpu-pro"]}
c.JupyterHub.load_roles = [
    {"name": "gpu-pro", "description": "GPU tier", "scopes": ["self"]},
]

# Needed to re-read membership before every spawn; set JUPYTERHUB_CRYPT_KEY.
c.OIDCTeamAuthenticator.enable_auth_state = True
