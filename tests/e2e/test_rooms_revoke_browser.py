"""Revoking shares from the Lab's share dialog, and the person really losing access.

The same real hub, demo config, rooms service and seeded room ``ml-research`` as
test_rooms_browser.py (team ml-research views it, Ana, hub admin, edits it). Through the rooms
API, Ana also gives Carla (data-platform, not in the room's team) a commenter share and makes a
viewer share link. Carla reaches the room's server, with a token and in her own browser.

Ana opens the share dialog in the room's lab and sees the room's shares: Carla by her hub
display name at her role, Ana herself, the team, and the link with its expiry. She revokes
Carla's share from the dialog (confirming it in the line); the rooms service then answers Carla
as for a room that does not exist, the hub no longer lets a new token of hers into the room's
server, and her old token and her browser session are refused by the room's server too at its
next reading of the room's shares (``share_refresh_interval``), although the server caches who
a token is for five minutes (``HubAuth.cache_max_age``, left at its default here): a revoked
share makes it ask the hub again. The notebook she had open in the room is disconnected at that
reading and tells her she no longer has access. A link revoked behind the dialog's back gets
the service's 404 as a message in the dialog, not a crash. Nothing is mocked.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
import requests

from ..harness import wait_for
from .test_rooms_browser import (
    NOTEBOOK,
    PANEL,
    ROOM,
    ROOM_USER,
    answer,
    docs_screenshot,
    open_lab,
    open_room_notebook,
    start_room,
)

pytestmark = pytest.mark.e2e

CONTENTS = f"api/contents/{NOTEBOOK}"
# A team whose name is markup: names in the dialog are other people's input
HOSTILE_TEAM = "<img src=x onerror=window.__xss=1>"


# A request from the open lab page, made as the lab makes its own: with the server's XSRF token
# (JupyterHub refuses cookie-authenticated API requests without it).
LAB_FETCH = """async url => {
  const xsrf = (document.cookie.match(/(?:^|; )_xsrf=([^;]*)/) || [])[1];
  const headers = xsrf ? {"X-XSRFToken": decodeURIComponent(xsrf)} : {};
  return (await fetch(url, {headers, credentials: "same-origin"})).status;
}"""


def item(form, kind: str, **attrs):
    selector = f'.mutirao-ShareItem[data-kind="{kind}"]'
    for key, value in attrs.items():
        selector += f'[data-{key}="{value}"]'
    return form.locator(selector)


def confirm_revoke(line) -> None:
    """Press a share's "Revoke", then the "Revoke" of the confirmation that it opens."""
    line.locator(".mutirao-ShareRevoke").click()
    line.locator(".mutirao-ShareConfirmRevoke").click()


def test_owner_revokes_a_share_from_the_lab(hub_factory, browser, artifacts_dir):
    hub, api = start_room(hub_factory)
    r = api.call("ana", "POST", f"rooms/{ROOM}/shares", json={"user": "carla", "role": "commenter"})
    assert r.status_code == 200, r.text
    r = api.call("ana", "POST", f"rooms/{ROOM}/links", json={"role": "viewer", "expires_in": 86400})
    assert r.status_code == 201, r.text
    link = r.json()
    r = hub.api("POST", f"groups/{quote(HOSTILE_TEAM, safe='')}")
    assert r.status_code == 201, r.text

    # -- Carla is in: her token and her browser reach the room's server
    assert api.server("carla", "GET", CONTENTS).status_code == 200
    carla_ctx, carla = open_lab(browser, hub, "carla", f"user/{ROOM_USER}/lab/tree/{NOTEBOOK}")
    ana_ctx = None
    try:
        authorize = carla.get_by_role("button", name="Authorize")
        shell = carla.locator(".jp-LabShell")
        shell.or_(authorize).wait_for(timeout=120_000)
        if authorize.is_visible():
            authorize.click()
        shell.wait_for(timeout=120_000)
        # she has the room's notebook open, live
        carla.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=120_000)
        room_contents = hub.user_url(ROOM_USER, CONTENTS)
        # the room's server reads its shares every few seconds: hers may be newer than that
        wait_for(
            lambda: carla.evaluate(LAB_FETCH, room_contents) == 200,
            60,
            interval=1,
            what="the room's server to let Carla's browser in",
        )

        # -- Ana's share dialog lists the room's shares
        ana_ctx, ana = open_room_notebook(browser, hub, "ana")
        ana.locator(f"{PANEL} .mutirao-ShareButton").click()
        form = ana.locator(".jp-Dialog .mutirao-ShareForm")
        form.wait_for()
        carla_item = item(form, "user", name="carla")
        carla_item.wait_for()
        assert carla_item.locator(".mutirao-ShareItemName").inner_text() == "Carla Mendes"
        assert carla_item.locator(".mutirao-ShareItemDetail").inner_text() == "carla"
        assert carla_item.locator(".mutirao-ShareItemRole").inner_text() == "commenter"
        # her avatar is the lab's shared one, with the hub's initials and colour
        assert carla_item.locator(".mutirao-Avatar .mutirao-AvatarInitials").inner_text() == "CM"
        assert carla_item.locator(".mutirao-Avatar").evaluate("n => n.style.backgroundColor")
        ana_item = item(form, "user", name="ana")
        assert ana_item.locator(".mutirao-ShareItemName").inner_text() == "Ana Souza"
        assert ana_item.locator(".mutirao-ShareItemDetail").inner_text() == "ana (you)"
        assert ana_item.locator(".mutirao-ShareItemRole").inner_text() == "editor"
        team = item(form, "team", name="ml-research")
        assert team.locator(".mutirao-ShareItemRole").inner_text() == "viewer"
        link_item = item(form, "link", id=link["id"])
        assert link_item.locator(".mutirao-ShareItemRole").inner_text() == "viewer"
        detail = link_item.locator(".mutirao-ShareItemDetail").inner_text()
        assert detail.startswith("until ")
        assert detail.endswith(" · accepted 0 times")
        assert form.locator(".mutirao-ShareItem").count() == 4
        docs_screenshot(ana.locator(".jp-Dialog-content"), "rooms-share-revoke.png")
        # meanwhile the room is shared with a team whose name is markup (shown once the
        # dialog reads the list again)
        r = api.call(
            "ana", "POST", f"rooms/{ROOM}/shares", json={"team": HOSTILE_TEAM, "role": "viewer"}
        )
        assert r.status_code == 200, r.text

        # -- she revokes Carla's share: the dialog says so and the list no longer has her
        confirm_revoke(carla_item)
        status = form.locator(".mutirao-ShareListStatus")
        form.locator(".mutirao-ShareListStatus[data-state='done']").wait_for()
        assert status.inner_text() == "Revoked the share of Carla Mendes (carla)."
        carla_item.wait_for(state="detached")
        hostile = form.locator('.mutirao-ShareItem[data-kind="team"]').filter(has_text="onerror")
        assert hostile.locator(".mutirao-ShareItemName").inner_text() == HOSTILE_TEAM
        assert form.locator("img[src='x']").count() == 0
        assert form.locator(".mutirao-ShareItem").count() == 4
        ana.screenshot(path=str(artifacts_dir / "ana-revoked.png"))

        # -- Carla has lost the room: the rooms service answers as for a missing room...
        missing = api.call("carla", "GET", "rooms/no-such-room")
        assert (
            answer(api.call("carla", "GET", f"rooms/{ROOM}"))
            == answer(missing)
            == (404, json.dumps({"status": 404, "message": "No such room."}))
        )
        assert ROOM not in [r["name"] for r in api.call("carla", "GET", "rooms").json()]
        # ...the hub lets no new token of hers into the room's server...
        fresh = hub.user_token("carla")
        refused = requests.get(
            room_contents, headers={"Authorization": f"token {fresh}"}, timeout=60
        )
        assert refused.status_code == 403, refused.text
        # ...and the room's server refuses her old token and her browser at its next reading
        # of the shares (every 10 s), well before its five-minute token cache would end
        wait_for(
            lambda: api.server("carla", "GET", CONTENTS).status_code == 403,
            120,
            interval=1,
            what="the room's server to refuse Carla's old token",
        )
        wait_for(
            lambda: carla.evaluate(LAB_FETCH, room_contents) == 403,
            120,
            interval=1,
            what="the room's server to refuse Carla's browser",
        )
        # her open notebook was disconnected at the same reading, and says why
        dialog = carla.locator(".jp-Dialog").filter(
            has_text="You no longer have access to this room."
        )
        dialog.wait_for(timeout=120_000)
        carla.screenshot(path=str(artifacts_dir / "carla-disconnected.png"))
        carla.reload()
        carla.wait_for_load_state()
        assert carla.locator(".jp-LabShell").count() == 0
        carla.screenshot(path=str(artifacts_dir / "carla-after-revoke.png"))

        # -- the team with the hostile name is revoked like any other, and stays text
        confirm_revoke(hostile)
        hostile.wait_for(state="detached")
        assert status.inner_text() == (
            f"Revoked the share of team {HOSTILE_TEAM}: its members keep only what else gives"
            " them access."
        )
        assert HOSTILE_TEAM not in [
            m["name"] for m in api.call("ana", "GET", f"rooms/{ROOM}/shares").json()
        ]
        assert ana.evaluate("window.__xss") is None

        # -- a link revoked elsewhere meanwhile: the dialog shows the service's 404, then
        # drops it from the list
        r = api.call("ana", "DELETE", f"rooms/{ROOM}/links/{link['id']}")
        assert r.status_code == 204, r.text
        confirm_revoke(link_item)
        form.locator(".mutirao-ShareListStatus[data-state='error']").wait_for()
        assert status.inner_text() == ("Could not revoke the viewer link: No such link. (HTTP 404)")
        link_item.wait_for(state="detached")
        # the team and Ana are untouched: Bruno still views the room
        assert api.call("bruno", "GET", f"rooms/{ROOM}").json()["my_role"] == "viewer"
        assert form.locator(".mutirao-ShareItem").count() == 2
        ana.screenshot(path=str(artifacts_dir / "ana-link-404.png"))
    finally:
        for name, ctx in (("carla", carla_ctx), ("ana", ana_ctx)):
            if ctx is not None:
                for page in ctx.pages:
                    page.screenshot(path=str(artifacts_dir / f"{name}-last.png"))
                    (artifacts_dir / f"{name}-console.txt").write_text(
                        "\n".join(getattr(page, "console_lines", []))
                    )
                ctx.close()
