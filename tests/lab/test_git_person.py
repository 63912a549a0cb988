"""Who a commit names: the collaborator's identity as JupyterHub gives it to the server."""

from __future__ import annotations

from types import SimpleNamespace

from mutirao_lab.versioning.repo import Person


def test_author_email_comes_from_the_hubs_user_info():
    # the hub user model as jupyterhub-singleuser sees it for a person signed in with an
    # authenticator that sets user_info (the demo's users.toml, GitHub, GitLab, OIDC)
    user = SimpleNamespace(
        username="bruno",
        display_name="Bruno Lima",
        hub_user={"name": "bruno", "user_info": {"email": "bruno@example.org"}},
    )
    assert Person.from_user(user).to_json() == {"name": "Bruno Lima", "email": "bruno@example.org"}


def test_without_an_email_the_author_gets_a_noreply_address():
    user = SimpleNamespace(username="davi", display_name="", hub_user={"name": "davi"})
    assert Person.from_user(user).to_json() == {
        "name": "davi",
        "email": "davi@users.noreply.mutirao",
    }
