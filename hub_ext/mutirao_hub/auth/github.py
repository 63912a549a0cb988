"""GitHub organisations and teams as JupyterHub groups (on oauthenticator's GitHubOAuthenticator).

A person's teams are their organisations (``acme``) and their teams (``acme:ml-research``, the
team's slug as in its URL), read with their own access token from ``/user/orgs`` and
``/user/teams``, every page (GitHub pages by 100 and says where the next page is in the ``Link``
header). A member of a child team is also counted a member of its parent teams, as GitHub does
for team mentions and access. The ``read:org`` scope is needed to see private memberships.
"""

from __future__ import annotations

from urllib.parse import quote

from oauthenticator.github import GitHubOAuthenticator
from traitlets import default, observe

from .oauth import TeamOAuthenticatorMixin

#: GitHub caps ``per_page`` at 100; more pages are followed through the Link header.
PAGE_SIZE = 100
#: A team hierarchy deeper than this is a loop or an error, not an organisation.
MAX_TEAM_DEPTH = 20


class GitHubTeamAuthenticator(TeamOAuthenticatorMixin, GitHubOAuthenticator):
    """Sign in with GitHub; organisations and ``org:team`` teams become hub groups.

    ``allowed_teams`` takes organisation logins (``"acme"``) and team slugs
    (``"acme:ml-research"``)::

        c.JupyterHub.authenticator_class = "mutirao-github"
        c.GitHubTeamAuthenticator.allowed_teams = {"acme:ml-research", "acme:data-platform"}
        c.GitHubTeamAuthenticator.admin_teams = {"acme:ml-leads"}

    oauthenticator's ``allowed_organizations`` (and its older name
    ``github_organization_whitelist``) is deprecated here: it warns and its values are added
    to ``allowed_teams``, so such a config keeps refusing everyone else.
    """

    @default("scope")
    def _default_scope(self):
        return ["read:user", "user:email", "read:org"]

    @observe("allowed_organizations")
    def _allowed_organizations_changed(self, change):
        self._adopt_legacy_allowed("allowed_organizations", change.new)

    def profile(self, auth_model):
        user = auth_model["auth_state"].get(self.user_auth_state_key) or {}
        return user.get("name"), user.get("avatar_url"), user.get("email")

    def avatar_request_url(self, url):
        # GitHub's avatars take their size in pixels as ``s``
        return url + ("&" if "?" in url else "?") + "s=96"

    async def fetch_teams(self, auth_model):
        token = auth_model["auth_state"]["token_response"]
        headers = self.build_userdata_request_headers(
            token["access_token"], token.get("token_type", "bearer")
        )
        api = self.github_api
        orgs = await self.fetch_pages(f"{api}/user/orgs?per_page={PAGE_SIZE}", headers, "orgs")
        teams = await self.fetch_pages(f"{api}/user/teams?per_page={PAGE_SIZE}", headers, "teams")
        names = {o["login"] for o in orgs if isinstance(o, dict) and o.get("login")}
        by_slug = {}
        for team in teams:
            org = (team.get("organization") or {}).get("login")
            if org and team.get("slug"):
                by_slug[(org, team["slug"])] = team
                names.add(org)
        for (org, slug), team in list(by_slug.items()):
            names.add(f"{org}:{slug}")
            parent = team.get("parent")
            depth = 0
            while parent and parent.get("slug") and depth < MAX_TEAM_DEPTH:
                depth += 1
                key = (org, parent["slug"])
                names.add(f"{org}:{parent['slug']}")
                if key not in by_slug:
                    # the list gives only the direct parent; ask for the parent's own parent
                    by_slug[key] = await self.httpfetch(
                        f"{self.github_api}/orgs/{quote(org)}/teams/{quote(parent['slug'])}",
                        "fetching a parent team",
                        method="GET",
                        headers=headers,
                        validate_cert=self.validate_server_cert,
                    )
                parent = by_slug[key].get("parent")
        return sorted(names)
