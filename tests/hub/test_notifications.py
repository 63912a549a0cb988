"""Notifications through a real hub, its rooms service, a room's server and a real SMTP server.

The demo config with its seeded room "ML research" (team ml-research: ana, bruno, davi). The
SMTP server is aiosmtpd, listening on a local port, with the service's e-mail on (mentions and
shares, STARTTLS off: a local relay). A mention in the room reaches the person's feed and
mailbox; a share does too; a server may notify only its own people; a person marks their
notices read; hostile bodies get a 4xx.
"""

from __future__ import annotations

from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

import pytest
import requests
from aiosmtpd.controller import Controller

from ..harness import REPO, HubProcess, free_port, wait_for

ROOM_USER = "room-ml-research"
ARTIFACTS = REPO / "test-artifacts"


class Mailbox:
    """aiosmtpd's handler: keeps every message it is given."""

    def __init__(self):
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd calls it by this name
        self.messages.append(envelope)
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [
            message_from_bytes(m.content, policy=default)  # type: ignore[misc]
            for m in self.messages
            if address in m.rcpt_tos
        ]


@pytest.fixture(scope="module")
def smtp():
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    box.port = controller.port
    yield box
    controller.stop()


@pytest.fixture(scope="module")
def hub(tmp_path_factory, smtp):
    extra = f"""
    import os
    from mutirao_hub.rooms.config import rooms_service_config
    rooms_service_config(
        c,
        url="http://127.0.0.1:" + os.environ["MUTIRAO_ROOMS_PORT"],
        state_dir=os.path.join(os.environ["MUTIRAO_STATE_DIR"], "rooms"),
        seed_rooms=[{{"name": "ml-research", "display_name": "ML research",
                      "teams": {{"ml-research": "editor"}}}}],
        smtp_host="127.0.0.1",
        smtp_port={smtp.port},
        smtp_security="none",
        smtp_from="Mutirão <mutirao@example.org>",
        public_url="https://hub.example.org",
        sync_interval=1,
    )
    """
    hub = HubProcess(tmp_path_factory.mktemp("notify-hub"), extra_config=extra).start()
    try:
        for name in ("ana", "bruno", "carla"):
            assert hub.login(name).login_response.status_code == 302
        yield hub
    finally:
        leaks = hub.stop()
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "notifications-jupyterhub.log").write_text(hub.log())
        assert "JupyterServerAuthWarning" not in hub.log()
        assert not leaks, leaks


class Client:
    def __init__(self, hub: HubProcess):
        self.hub = hub
        self.tokens: dict[str, str] = {}

    def token(self, who: str) -> str:
        if who not in self.tokens:
            self.tokens[who] = self.hub.user_token(who)
        return self.tokens[who]

    def rooms(self, who: str, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(
            method,
            f"{self.hub.url}services/mutirao-rooms/api/{path}",
            headers={"Authorization": f"token {self.token(who)}"},
            timeout=60,
            **kwargs,
        )

    def feed(self, who: str) -> dict:
        r = self.rooms(who, "GET", "notifications")
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture(scope="module")
def client(hub):
    return Client(hub)


def test_a_mention_in_a_room_reaches_the_feed_and_the_mailbox(hub, client, smtp):
    wait_for(lambda: client.rooms("ana", "GET", "rooms/ml-research").ok, 60, what="the room")
    r = client.rooms("ana", "POST", "rooms/ml-research/server")
    assert r.status_code in (200, 202), r.text
    wait_for(
        lambda: client.rooms("ana", "GET", "rooms/ml-research").json()["server"]["ready"],
        120,
        interval=0.5,
        what="the room's server",
    )
    # bruno answers the seeded thread in the room, and mentions ana
    room_api = hub.user_url(ROOM_USER, "mutirao/api/comments/")
    bruno = {"Authorization": f"token {client.token('bruno')}"}
    # (the service gives each team member a share of their own at its next pass)
    threads = wait_for(
        lambda: (
            (
                r := requests.get(
                    room_api + "threads",
                    params={"path": "example.ipynb"},
                    headers=bruno,
                    timeout=60,
                )
            ).ok
            and r
        ),
        30,
        what="bruno's access to the room",
    )
    thread = threads.json()["threads"][0]
    r = requests.post(
        room_api + f"threads/{thread['id']}/comments",
        json={"body": "@ana the growth is in the next cell"},
        headers=bruno,
        timeout=60,
    )
    assert r.status_code == 201, r.text

    mention = "Bruno Lima mentioned you in example.ipynb (ML research)"
    feed = wait_for(
        lambda: (f := client.feed("ana"))["notifications"] and f, 30, what="ana's notice"
    )
    notice = feed["notifications"][0]
    assert notice["message"] == mention
    assert notice["kind"] == "mention"
    assert notice["excerpt"] == "@ana the growth is in the next cell"
    assert notice["url"] == f"{hub.base_url}user/{ROOM_USER}/lab/tree/example.ipynb"
    assert feed["unread"] == 1
    # nobody is told of their own comment
    assert client.feed("bruno")["notifications"] == []

    mail = wait_for(lambda: smtp.to("ana@example.org"), 30, what="ana's e-mail")[0]
    assert mail["Subject"] == mention
    assert mail["From"] == "Mutirão <mutirao@example.org>"
    body = mail.get_content()
    assert "@ana the growth is in the next cell" in body
    assert f"Open it: https://hub.example.org{notice['url']}" in body


def test_a_share_reaches_the_feed_and_the_mailbox(client, smtp):
    r = client.rooms(
        "ana", "POST", "rooms/ml-research/shares", json={"user": "carla", "role": "viewer"}
    )
    assert r.status_code == 200, r.text
    feed = client.feed("carla")
    assert [n["message"] for n in feed["notifications"]] == [
        "Ana Souza shared ML research with you"
    ]
    mail = wait_for(lambda: smtp.to("carla@example.org"), 30, what="carla's e-mail")[0]
    assert mail["Subject"] == "Ana Souza shared ML research with you"
    # bruno and davi, whose team shares the room, were not e-mailed about carla's share
    assert smtp.to("bruno@example.org") == []


def test_a_person_marks_notices_read_for_all_their_labs(client):
    feed = client.feed("carla")
    assert feed["unread"] == 1
    r = client.rooms(
        "carla", "POST", "notifications/read", json={"ids": [feed["notifications"][0]["id"]]}
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"marked": 1}
    assert client.feed("carla") == {"unread": 0, "notifications": []}
    everything = client.rooms("carla", "GET", "notifications", params={"all": "1"}).json()
    assert [n["read"] for n in everything["notifications"]] == [True]
    # someone else's ids mark nothing
    ana_ids = [n["id"] for n in client.feed("ana")["notifications"]]
    r = client.rooms("carla", "POST", "notifications/read", json={"ids": ana_ids})
    assert r.json() == {"marked": 0}
    assert client.feed("ana")["unread"] == len(ana_ids)


def test_a_person_may_notify_only_themselves(client):
    r = client.rooms(
        "carla", "POST", "notifications", json={"to": ["ana", "carla"], "kind": "mention"}
    )
    assert r.status_code == 201, r.text
    assert r.json() == {"notified": ["carla"]}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "notifications", {"to": "ana", "kind": "mention"}),
        ("POST", "notifications", {"to": ["ana"], "kind": "share"}),
        ("POST", "notifications", {"to": ["ana"], "kind": "mention", "url": "http://evil"}),
        ("POST", "notifications", {"to": [], "kind": "mention"}),
        ("POST", "notifications", {"to": ["x" * 300], "kind": "mention"}),
        ("POST", "notifications", [1, 2]),
        ("POST", "notifications/read", {"ids": ["1"]}),
        ("POST", "notifications/read", {"ids": [True]}),
        ("POST", "notifications/read", {"all": True}),
        ("GET", "notifications?after=x", None),
    ],
)
def test_hostile_bodies_get_a_clear_400(client, method, path, body):
    r = client.rooms("bruno", method, path, json=body)
    assert r.status_code == 400, r.text
    assert r.json()["message"]


def test_anonymous_requests_are_refused(hub):
    r = requests.get(f"{hub.url}services/mutirao-rooms/api/notifications", timeout=30)
    assert r.status_code == 403
