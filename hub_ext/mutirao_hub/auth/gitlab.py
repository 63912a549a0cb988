"""GitLab groups and subgroups as JupyterHub groups (on oauthenticator's GitLabOAuthenticator).

A person's teams are the full paths (``acme/ml/vision``) of the groups and subgroups they are a
member of, at any access level, read with their own access token from ``/groups`` (every page,
following the ``Link`` header). GitLab lists a subgroup for members of its parent group too,
since they inherit membership. Works with gitlab.com and self-hosted GitLab (``gitlab_url``).

Hub group names cannot hold ``/``: a full path becomes a group name with ``:`` between the
levels (``acme:ml:vision``), unless ``team_groups`` names it otherwise.
"""

from __future__ import annotations

from oauthenticator.gitlab import GitLabOAuthenticator
from traitlets import default, observe

from .github import PAGE_SIZE
from .oauth import TeamOAuthenticatorMixin

#: Guest (10) and up: any member of the group.
MIN_ACCESS_LEVEL = 10


class GitLabTeamAuthenticator(TeamOAuthenticatorMixin, GitLabOAuthenticator):
    """Sign in with GitLab; groups and subgroups (by full path) become hub groups.

    ::

        c.JupyterHub.authenticator_class = "mutirao-gitlab"
        c.GitLabTeamAuthenticator.gitlab_url = "https://gitlab.example.org"
        c.GitLabTeamAuthenticator.allowed_teams = {"acme/ml-research", "acme/ml-research/vision"}

    oauthenticator's ``allowed_gitlab_groups`` (and its older name ``gitlab_group_whitelist``)
    is deprecated here: it warns and its values are added to ``allowed_teams``.
    ``allowed_project_ids`` keeps oauthenticator's meaning (developers of those projects may
    log in) and gives no groups.
    """

    @default("scope")
    def _default_scope(self):
        # read_api lists the groups; read_user alone does not
        return ["read_user", "read_api"]

    @observe("allowed_gitlab_groups")
    def _allowed_gitlab_groups_changed(self, change):
        self._adopt_legacy_allowed("allowed_gitlab_groups", change.new)

    def team_group_name(self, team: str) -> str:
        return team.strip("/").replace("/", ":")

    def profile(self, auth_model):
        user = auth_model["auth_state"].get(self.user_auth_state_key) or {}
        return user.get("name"), user.get("avatar_url"), user.get("email")

    def avatar_request_url(self, url):
        # GitLab's uploaded avatars take their width in pixels
        return url + ("&" if "?" in url else "?") + "width=96"

    async def fetch_teams(self, auth_model):
        token = auth_model["auth_state"]["token_response"]
        headers = self.build_userdata_request_headers(
            token["access_token"], token.get("token_type", "bearer")
        )
        groups = await self.fetch_pages(
            f"{self.gitlab_api}/groups?min_access_level={MIN_ACCESS_LEVEL}"
            f"&per_page={PAGE_SIZE}&order_by=id&sort=asc",
            headers,
            "groups",
        )
        paths = {g["full_path"] for g in groups if isinstance(g, dict) and g.get("full_path")}
        return sorted(paths)
