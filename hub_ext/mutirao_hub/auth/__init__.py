"""Authenticators that turn an identity provider's teams into JupyterHub groups and roles."""

from .local import LocalTeamAuthenticator
from .teams import TeamAuthenticatorMixin

__all__ = ["LocalTeamAuthenticator", "TeamAuthenticatorMixin"]
