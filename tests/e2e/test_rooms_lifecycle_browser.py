"""A room's life through the UI only: made, renamed, started, stopped, archived and deleted.

A real hub with the demo config and its rooms service (which keeps deleted rooms' folders 30
days, ``room_files_template`` set to the demo's homes). Two people in Chromium act only by
clicking; the test reads the rooms API only to check what the clicks did.

- Ana (ml-research, which may create rooms) uses the Rooms panel of her own JupyterLab: "New
  room…" (a bad name is refused in the dialog, then "Vision lab" is made for ml-research),
  renames it, starts its server from the room's "⋯" menu and opens it. Inside, the room's
  display name heads the tab's title and the top bar, whose members button lists Ana (owner)
  and ml-research (editor) and leads to the share dialog, titled with the display name: she
  makes a link, copies it with "Copy" (the clipboard has it), and revokes it after a
  confirmation (a first "Cancel" keeps it). Back in her own lab she stops the room (confirmed),
  archives and unarchives it, archives it again and deletes it: the confirmation names the
  files (kept 30 days), the shares, and the address; the room's folder moves to the deleted
  rooms' folder.
- Bruno (ml-research) does the same on the rooms service's hub page: "New room" form, rename,
  start and stop the server, archive, and delete after the confirmation page.

No uncaught error reaches either browser's console. Nothing is mocked.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from ..harness import HubProcess, wait_for
from .test_rooms_browser import PANEL, ROOMS_SERVICE, RoomsAPI, docs_screenshot

pytestmark = pytest.mark.e2e

ROOM = "vision-lab"


def sign_in(browser, hub: HubProcess, username: str, path: str):
    """A browser of one's own (clipboard allowed), logged in, at ``path``."""
    context = browser.new_context(
        viewport={"width": 1400, "height": 900},
        permissions=["clipboard-read", "clipboard-write"],
    )
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda e: page.errors.append(str(e)))  # type: ignore[attr-defined]
    page.goto(hub.hub_url("login?next=" + quote(hub.base_url + path)))
    page.fill("#username_input", username)
    page.fill("#password_input", f"{username}-demo")
    page.click("#login_submit")
    return context, page


def rooms_panel(page):
    shell = page.locator(".jp-LabShell")
    launch = page.get_by_role("button", name="Launch Server")  # the hub's page
    shell.or_(launch).wait_for(timeout=120_000)
    if launch.is_visible():
        launch.click()
    shell.wait_for(timeout=120_000)
    page.locator(f'.jp-SideBar .lm-TabBar-tab[data-id="{PANEL[1:]}"]').click()
    panel = page.locator(PANEL)
    panel.locator(".mutirao-RoomItem").first.wait_for()
    return panel


def room_menu(page, panel, room: str, command: str) -> None:
    """Open a room's "⋯" menu in the Rooms panel and choose a command."""
    panel.locator(f'.mutirao-RoomItem[data-room="{room}"] .mutirao-RoomMenuButton').click()
    item = page.locator(f'.mutirao-RoomMenu .lm-Menu-item[data-command="mutirao-lab:{command}"]')
    item.wait_for()
    assert "lm-mod-disabled" not in (item.get_attribute("class") or ""), command
    item.click()


def dialog_button(page, label: str):
    return page.locator(".jp-Dialog .jp-Dialog-footer button", has_text=label)


def test_a_room_from_birth_to_deletion_in_the_lab_and_on_the_hub_page(
    hub_factory, browser, artifacts_dir
):
    hub = hub_factory(extra_config=ROOMS_SERVICE)
    api = RoomsAPI(hub)
    ana_ctx, ana = sign_in(browser, hub, "ana", "user/ana/lab")
    bruno_ctx = None
    try:
        panel = rooms_panel(ana)

        # -- New room, from the panel: a bad name is refused in the dialog, then it is made
        news = ana.locator(".jp-toast-button", has_text="No")  # JupyterLab's news prompt
        if news.is_visible():
            news.click()
        panel.locator(".mutirao-NewRoom").click()
        form = ana.locator(".jp-Dialog .mutirao-NewRoomForm")
        form.locator(".mutirao-NewRoomDisplayName").fill("Vision lab")
        assert form.locator(".mutirao-NewRoomName").input_value() == ROOM  # suggested
        assert dialog_button(ana, "Create").is_enabled()  # the suggestion is enough
        team = form.locator('.mutirao-NewRoomTeam[data-team="ml-research"]')
        assert team.locator("input[type=checkbox]").is_checked()  # her only team
        assert team.locator("select").input_value() == "editor"
        form.locator(".mutirao-NewRoomName").fill("Vision Lab!")
        error = form.locator(".mutirao-NewRoomError")
        error.wait_for()
        assert "lowercase letters" in error.inner_text()
        assert dialog_button(ana, "Create").is_disabled()
        form.locator(".mutirao-NewRoomName").fill(ROOM)
        error.wait_for(state="hidden")
        docs_screenshot(ana.locator(".jp-Dialog-content"), "rooms-new-room.png")
        dialog_button(ana, "Create").click()
        item = panel.locator(f'.mutirao-RoomItem[data-room="{ROOM}"]')
        item.wait_for()
        assert item.locator(".mutirao-RoomItemName").inner_text() == "Vision lab"
        model = api.call("ana", "GET", f"rooms/{ROOM}").json()
        assert model["teams"] == {"ml-research": "editor"}
        assert model["my_role"] == "owner"

        # -- Rename
        room_menu(ana, panel, ROOM, "room-rename")
        ana.locator(".jp-Dialog input").fill("Vision")
        dialog_button(ana, "Rename").click()
        wait_for(
            lambda: item.locator(".mutirao-RoomItemName").inner_text() == "Vision",
            30,
            what="the new display name in the panel",
        )
        assert api.call("ana", "GET", f"rooms/{ROOM}").json()["display_name"] == "Vision"

        # -- Start its server from the menu, then open it
        assert item.locator(".mutirao-RoomServer").get_attribute("data-state") == "stopped"
        room_menu(ana, panel, ROOM, "room-start")
        wait_for(
            lambda: api.call("ana", "GET", f"rooms/{ROOM}").json()["server"]["ready"],
            120,
            interval=0.5,
            what="the room's server",
        )
        panel.locator(".mutirao-RoomsRefresh").click()
        item.locator('.mutirao-RoomServer[data-state="running"]').wait_for()
        docs_screenshot(panel, "rooms-panel-lifecycle.png")
        item.locator(".mutirao-RoomOpen").click()
        # the hub may ask her once to let the room's server identify her (its OAuth consent)
        ana.wait_for_url(re.compile(f"oauth2/authorize|/user/room-{ROOM}/lab"), timeout=120_000)
        authorize = ana.get_by_role("button", name="Authorize")
        shell = ana.locator(".jp-LabShell")
        shell.or_(authorize).wait_for(timeout=120_000)
        if authorize.is_visible():
            authorize.click()
        ana.wait_for_url(f"**/user/room-{ROOM}/lab**", timeout=120_000)

        # -- Inside: the display name in the tab's title and the top bar, members one click away
        top = ana.locator(".mutirao-RoomTopBar")
        top.locator(".mutirao-RoomTopBarName", has_text="Vision").wait_for(timeout=120_000)
        wait_for(lambda: ana.title().startswith("Vision · "), 30, what="the tab's title")
        top.locator(".mutirao-RoomTopBarMembers").click()
        members = ana.locator(".jp-Dialog .mutirao-MembersList")
        me = members.locator('.mutirao-Member[data-name="ana"]')
        me.wait_for()
        assert me.locator(".mutirao-ShareItemName").inner_text() == "Ana Souza"
        assert me.locator(".mutirao-ShareItemRole").inner_text() == "owner"
        team_member = members.locator('.mutirao-Member[data-kind="team"][data-name="ml-research"]')
        assert team_member.locator(".mutirao-ShareItemRole").inner_text() == "editor"
        assert "Members of Vision" in ana.locator(".jp-Dialog-header").inner_text()
        docs_screenshot(ana, "rooms-members.png")

        # -- the share dialog is titled with the display name; a link is copied with "Copy"
        dialog_button(ana, "Share…").click()
        share = ana.locator(".jp-Dialog .mutirao-ShareForm")
        share.wait_for()
        assert ana.locator(".jp-Dialog-header").inner_text().strip() == "Share Vision"
        share.locator(".mutirao-ShareKind").select_option("link")
        share.locator(".mutirao-ShareSubmit").click()
        link = share.locator(".mutirao-ShareLink")
        link.wait_for()
        share.locator(".mutirao-ShareCopy").click()
        share.locator('.mutirao-ShareCopy[data-state="copied"]').wait_for()
        assert ana.evaluate("navigator.clipboard.readText()") == link.input_value()
        ana.locator(".jp-toast-message", has_text="Link copied").wait_for()
        docs_screenshot(ana.locator(".jp-Dialog-content"), "rooms-share-copy.png")

        # -- revoking asks first: "Cancel" keeps the link, "Revoke" takes it back
        links = api.call("ana", "GET", f"rooms/{ROOM}/links").json()
        assert len(links) == 1
        line = share.locator(f'.mutirao-ShareItem[data-kind="link"][data-id="{links[0]["id"]}"]')
        line.locator(".mutirao-ShareRevoke").click()
        confirm = line.locator(".mutirao-ShareConfirm")
        assert "Nobody can join with it any more" in confirm.inner_text()
        confirm.locator(".mutirao-ShareConfirmCancel").click()
        confirm.wait_for(state="detached")
        assert len(api.call("ana", "GET", f"rooms/{ROOM}/links").json()) == 1
        line.locator(".mutirao-ShareRevoke").click()
        docs_screenshot(ana.locator(".jp-Dialog-content"), "rooms-revoke-confirm.png")
        confirm.locator(".mutirao-ShareConfirmRevoke").click()
        line.wait_for(state="detached")
        assert api.call("ana", "GET", f"rooms/{ROOM}/links").json() == []
        dialog_button(ana, "Close").click()

        # -- back in her own lab: stop (asked first), archive, unarchive, archive, delete
        ana.goto(hub.user_url("ana", "lab"))
        panel = rooms_panel(ana)
        item = panel.locator(f'.mutirao-RoomItem[data-room="{ROOM}"]')
        room_menu(ana, panel, ROOM, "room-stop")
        assert "running kernels and terminals end" in ana.locator(".jp-Dialog-body").inner_text()
        dialog_button(ana, "Stop").click()
        wait_for(
            lambda: not api.call("ana", "GET", f"rooms/{ROOM}").json()["server"]["running"],
            60,
            what="the room's server to stop",
        )
        room_menu(ana, panel, ROOM, "room-archive")
        dialog_button(ana, "Archive").click()
        item.locator('.mutirao-RoomServer[data-state="archived"]').wait_for()
        assert item.locator(".mutirao-RoomOpen").count() == 0
        assert api.call("ana", "GET", f"rooms/{ROOM}").json()["archived"] is True
        room_menu(ana, panel, ROOM, "room-unarchive")
        item.locator(".mutirao-RoomOpen").wait_for()
        shares = api.call("ana", "GET", f"rooms/{ROOM}/shares").json()
        assert {"kind": "group", "name": "ml-research", "role": "editor"} in shares
        room_menu(ana, panel, ROOM, "room-archive")
        dialog_button(ana, "Archive").click()
        item.locator('.mutirao-RoomServer[data-state="archived"]').wait_for()
        room_menu(ana, panel, ROOM, "room-delete")
        lost = ana.locator(".jp-Dialog .mutirao-DeleteLost")
        lost.wait_for()
        text = lost.inner_text()
        assert f"/user/room-{ROOM}/" in text
        assert "comments and version history" in text
        assert "removed for good after 30 days" in text
        assert "ml-research (team, editor)" in text
        assert "Ana Souza (owner)" in text
        docs_screenshot(ana.locator(".jp-Dialog-content"), "rooms-delete.png")
        home = hub.state_dir / "homes" / f"room-{ROOM}"
        assert home.is_dir()
        dialog_button(ana, "Delete").click()
        item.wait_for(state="detached")
        assert api.call("ana", "GET", f"rooms/{ROOM}").status_code == 404
        assert not home.exists()
        kept = list((hub.state_dir / "rooms" / "deleted-rooms").iterdir())
        assert [re.sub(r"\d{8}T\d{6}Z$", "…", p.name) for p in kept] == [f"room-{ROOM}-…"]

        # -- Bruno, on the rooms service's hub page
        bruno_ctx, bruno = sign_in(browser, hub, "bruno", "services/mutirao-rooms/")
        bruno.locator("#new-room-form").wait_for()
        bruno.fill("#room-name", "notes")
        bruno.fill("#room-display-name", "Bruno's notes")
        assert bruno.locator('.room-team[data-team="ml-research"] input').is_checked()
        bruno.locator('.room-team[data-team="ml-research"] select').select_option("viewer")
        docs_screenshot(bruno.locator("main"), "rooms-hub-new-room.png")
        bruno.click("#new-room-submit")
        bruno.locator("#room-done", has_text="The room is ready").wait_for()
        assert bruno.locator("#room-title").inner_text().strip() == "Bruno's notes"
        model = api.call("bruno", "GET", "rooms/notes").json()
        assert model["teams"] == {"ml-research": "viewer"}
        assert model["my_role"] == "owner"
        bruno.fill("#room-display-name", "Notes")
        bruno.click("#room-rename-submit")
        bruno.locator("#room-done", has_text="display name is changed").wait_for()
        assert bruno.locator("#room-title").inner_text().strip() == "Notes"
        bruno.click("#room-start")
        # the page follows the start (it reloads itself while the server is pending)
        bruno.locator("#room-server", has_text="running").wait_for(timeout=120_000)
        bruno.click("#room-stop")
        bruno.locator("#room-start").wait_for(timeout=60_000)
        bruno.click("#room-archive")
        bruno.locator("#room-done", has_text="archived").wait_for()
        bruno.click("#room-delete")
        lost = bruno.locator("#delete-lost")
        assert "removed for good after 30 days" in lost.inner_text()
        assert "ml-research (viewer)" in lost.inner_text()
        docs_screenshot(bruno.locator("main"), "rooms-hub-delete.png")
        bruno.click("#delete-confirm")
        bruno.locator("#rooms-done", has_text="The room is deleted").wait_for()
        assert api.call("bruno", "GET", "rooms/notes").status_code == 404

        assert ana.errors == []  # type: ignore[attr-defined]
        assert bruno.errors == []  # type: ignore[attr-defined]
    finally:
        for name, ctx in (("ana", ana_ctx), ("bruno", bruno_ctx)):
            if ctx is not None:
                for page in ctx.pages:
                    page.screenshot(path=str(artifacts_dir / f"{name}-last.png"))
                ctx.close()
