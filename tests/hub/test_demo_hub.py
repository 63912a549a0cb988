"""The embedded default through a real JupyterHub, npm proxy and local single-user servers.

The hub runs the demo config (config/demo) under a base URL that breaks naive escaping.
"""

from __future__ import annotations

import re

import pytest
import requests

from mutirao_lab import __version__ as lab_version

from ..harness import DEMO_PASSWORDS


def test_login_form_reaches_the_hub_and_mirrors_teams(shared_hub):
    session = shared_hub.login("davi")
    r = session.login_response
    assert r.status_code == 302, r.text
    model = shared_hub.api("GET", "users/davi").json()
    assert sorted(model["groups"]) == ["data-platform", "ml-research"]
    assert model["admin"] is False
    assert model["user_info"]["display_name"] == "Davi Rocha"
    assert model["user_info"]["initials"] == "DR"
    assert shared_hub.api("GET", "users/ana").status_code == 404  # not created before login
    shared_hub.login("ana")
    assert shared_hub.api("GET", "users/ana").json()["admin"] is True


@pytest.mark.parametrize(("username", "password"), [("bruno", "wrong-pass"), ("nobody", "x-demo")])
def test_bad_credentials_get_the_login_page_message(shared_hub, username, password):
    session = shared_hub.login(username, password)
    r = session.login_response
    assert r.status_code == 403
    assert "Invalid username or password" in r.text
    assert password not in shared_hub.log()


def test_reserved_room_name_cannot_log_in(shared_hub):
    r = shared_hub.login("room-ml", "anything").login_response
    assert r.status_code == 403
    assert shared_hub.api("GET", "users/room-ml").status_code == 404


def test_server_extension_answers_authorized_requests_only(shared_hub):
    shared_hub.login("bruno")
    shared_hub.spawn("bruno")
    url = shared_hub.user_url("bruno", "mutirao/api/version")
    token = shared_hub.user_token("bruno")

    r = requests.get(url, headers={"Authorization": f"token {token}"}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json() == {"version": lab_version}

    anonymous = requests.get(url, allow_redirects=False, timeout=30)
    assert anonymous.status_code == 403
    assert anonymous.json()["message"]

    forged = requests.get(url, headers={"Authorization": "token not-a-token"}, timeout=30)
    assert forged.status_code == 403

    # another user's token does not open bruno's server
    shared_hub.login("carla")
    carla = shared_hub.user_token("carla")
    other = requests.get(url, headers={"Authorization": f"token {carla}"}, timeout=30)
    assert other.status_code == 403

    # the browser path: the login cookie, through the hub's OAuth, reaches the same endpoint
    session = shared_hub.login("bruno")
    lab = session.get(shared_hub.user_url("bruno", "lab"), timeout=30)
    assert lab.status_code == 200
    assert "JupyterLab" in lab.text
    r = session.get(url, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["version"] == lab_version


def test_no_secret_reaches_the_logs(shared_hub):
    for user in ("ana", "bruno"):
        shared_hub.login(user)
    log = shared_hub.log()
    for password in DEMO_PASSWORDS.values():
        assert password not in log
    assert shared_hub.token not in log
    # argon2 hashes are secrets too
    assert not re.search(r"\$argon2id\$v=19\$m=\d+", log)
