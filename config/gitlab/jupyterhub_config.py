# Team sign-in with GitLab (gitlab.com or self-hosted): groups and subgroups become JupyterHub
# groups.
#
# Create an application (group or instance level: Settings > Applications) with the scopes
# read_user and read_api and the callback URL below, then set the environment variables read
# here. Guide: docs/admin/gitlab.md. Spawner, proxy and database settings are not repeated here.
import os

c.JupyterHub.authenticator_class = "mutirao-gitlab"
c.GitLabTeamAuthenticator.gitlab_url = os.environ.get("GITLAB_URL", "https://gitlab.example.org")
c.GitLabTeamAuthenticator.client_id = os.environ["GITLAB_CLIENT_ID"]
c.GitLabTeamAuthenticator.client_secret = os.environ["GITLAB_CLIENT_SECRET"]
c.GitLabTeamAuthenticator.oauth_callback_url = "https://hub.example.org/hub/oauth_callback"

# Who may log in: groups by full path. Hub group names use ":" between levels
# ("acme/ml-research/vision" becomes "acme:ml-research:vision") unless team_groups says otherwise.
c.GitLabTeamAuthenticator.allowed_teams = {"acme/ml-research", "acme/ml-research/vision"}
c.GitLabTeamAuthenticator.team_groups = {"acme/ml-research": "ml-research"}
c.GitLabTeamAuthenticator.admin_teams = {"acme/platform-admins"}
c.GitLabTeamAuthenticator.team_roles = {"acme/ml-research/vision": ["gpu-pro"]}
c.JupyterHub.load_roles = [
    {"name": "gpu-pro", "description": "GPU tier", "scopes": ["self"]},
]

# Needed to re-read membership before every spawn; set JUPYTERHUB_CRYPT_KEY.
c.GitLabTeamAuthenticator.enable_auth_state = True
