"""Authenticators that turn an identity provider's teams into JupyterHub groups and roles."""

from .local import LocalTeamAuthenticator
from .teams import TeamAuthenticatorMixin

__all__ = [
    "GitHubTeamAuthenticator",
    "GitLabTeamAuthenticator",
    "LocalTeamAuthenticator",
    "OIDCTeamAuthenticator",
    "TeamAuthenticatorMixin",
]


def __getattr__(name):
    # the OAuth authenticators import oauthenticator; load them only when asked for
    if name == "GitHubTeamAuthenticator":
        from .github import GitHubTeamAuthenticator

        return GitHubTeamAuthenticator
    if name == "GitLabTeamAuthenticator":
        from .gitlab import GitLabTeamAuthenticator

        return GitLabTeamAuthenticator
    if name == "OIDCTeamAuthenticator":
        from .oidc import OIDCTeamAuthenticator

        return OIDCTeamAuthenticator
    raise AttributeError(name)
