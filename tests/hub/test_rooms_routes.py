"""The rooms service's own boundary: every route it registers is in the role matrix.

``test_rooms_service.MATRIX`` sends each route's methods as anonymous, a non-member, viewer,
commenter, editor (by team), owner, admin and an admin without a share through a real hub.
This test reads the routes from the service's tornado application (``RoomsService.make_app``),
as it is built, and fails for a route or method with no row in that matrix and no test of its
own named here: a new route needs its expected statuses before it lands.
"""

from __future__ import annotations

import re

from tornado.web import RequestHandler

from mutirao_hub.rooms.app import RoomsService

from .test_rooms_service import MATRIX

PREFIX = "/services/mutirao-rooms/"

#: (route pattern without the prefix, method) -> the test that checks who may call it
ELSEWHERE = {
    ("oauth_callback", "GET"): "JupyterHub's own OAuth callback: signs in, reveals nothing",
    **{
        ("api/.*", m): "the catch-all: 404 to everyone, before any room is looked up"
        for m in ("GET", "POST", "PUT", "PATCH", "DELETE")
    },
    ("?", "GET"): "test_list_my_rooms (the rooms page lists only one's own rooms)",
    ("rooms/([^/]+)/?", "GET"): "test_a_non_member_gets_the_same_404_as_for_a_missing_room",
    # the hub pages' forms call the same RoomsManager methods as the API rows of MATRIX, so
    # the same policy decides; test_the_hub_pages_create_rename_archive_and_delete uses them
    ("?", "POST"): "as POST api/rooms",
    ("rooms/([^/]+)/?", "POST"): "as the API's room calls",
    ("rooms/([^/]+)/delete/?", "GET"): "owner only, as DELETE api/rooms/<name>",
    ("rooms/([^/]+)/delete/?", "POST"): "as DELETE api/rooms/<name>",
    ("rooms/([^/]+)/(rename|start|stop|archive|unarchive)/?", "GET"): "the room page",
    ("rooms/([^/]+)/(rename|start|stop|archive|unarchive)/?", "POST"): (
        "as the API's server, archive and unarchive calls"
    ),
    # one's own notifications: test_notifications.py (a person may notify only themselves)
    ("api/notifications/?", "GET"): "test_a_mention_in_a_room_reaches_the_feed_and_the_mailbox",
    ("api/notifications/?", "POST"): "test_a_person_may_notify_only_themselves",
    ("api/notifications/read/?", "POST"): "test_a_person_marks_notices_read_for_all_their_labs",
    ("api/invitations/?", "POST"): "test_invite_people_before_their_first_sign_in",
    ("api/rooms/([^/]+)/suggestions/?", "GET"): (
        "test_suggestions_name_people_and_teams_for_those_who_share"
    ),
}


def implemented(cls: type) -> list[str]:
    return [
        m
        for m in cls.SUPPORTED_METHODS
        if getattr(cls, m.lower(), None) is not getattr(RequestHandler, m.lower(), None)
    ]


def test_every_route_of_the_rooms_service_has_expected_statuses(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", PREFIX)
    app = RoomsService(db_url=f"sqlite:///{tmp_path / 'rooms.sqlite'}").make_app()
    rules = [r for host in app.default_router.rules for r in host.target.rules]
    assert len(rules) > 10
    missing = []
    for rule in rules:
        pattern = rule.matcher.regex.pattern.removesuffix("$")
        relative = pattern.removeprefix(re.escape(PREFIX))
        assert relative != pattern, pattern
        for method in implemented(rule.target) or ["GET"]:
            covered = any(
                m == method and re.fullmatch(pattern, PREFIX + "api/" + path)
                for m, path, _body, _expected in MATRIX
            )
            if not covered and (relative, method) not in ELSEWHERE:
                missing.append(f"{method} {relative} ({rule.target.__name__})")
    assert missing == [], "\n".join(missing)
