# Team sign-in with GitHub: organisations and `org:team` teams become JupyterHub groups.
#
# Register an OAuth app at https://github.com/organizations/<org>/settings/applications/new
# with the callback URL below, then set the environment variables read here. Guide:
# docs/admin/github.md. Load this file from your own jupyterhub_config.py (load_subconfig) or
# copy the lines you need; spawner, proxy and database settings are not repeated here.
import os

c.JupyterHub.authenticator_class = "mutirao-github"
c.GitHubTeamAuthenticator.client_id = os.environ["GITHUB_CLIENT_ID"]
c.GitHubTeamAuthenticator.client_secret = os.environ["GITHUB_CLIENT_SECRET"]
c.GitHubTeamAuthenticator.oauth_callback_url = "https://hub.example.org/hub/oauth_callback"
# GitHub Enterprise Server:
# c.GitHubTeamAuthenticator.github_url = "https://github.example.org"

# Who may log in: organisations ("acme") and teams by slug ("acme:ml-research"). Members of a
# child team count as members of its parent teams. Everyone else is refused.
c.GitHubTeamAuthenticator.allowed_teams = {"acme:ml-research", "acme:data-platform", "acme:gpu-pro"}
# Hub group names, where they should differ from the team's own name
c.GitHubTeamAuthenticator.team_groups = {
    "acme:ml-research": "ml-research",
    "acme:data-platform": "data-platform",
}
# JupyterHub admins
c.GitHubTeamAuthenticator.admin_teams = {"acme:ml-leads"}
# JupyterHub roles per team (applied with manage_roles: leaving the team removes them).
# Define each role's scopes in load_roles, without assigning it to users or groups.
c.GitHubTeamAuthenticator.team_roles = {"acme:gpu-pro": ["gpu-pro"]}
c.JupyterHub.load_roles = [
    {"name": "gpu-pro", "description": "GPU tier", "scopes": ["self"]},
]

# Membership is re-read at every login and before every spawn with the token kept in
# auth_state, which is encrypted with JUPYTERHUB_CRYPT_KEY (`openssl rand -hex 32`).
c.GitHubTeamAuthenticator.enable_auth_state = True
