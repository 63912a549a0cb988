"""Rooms in the browser: an editor and a viewer in one room, live, and a non-member.

A real hub with the demo config, its rooms service and the room ``ml-research`` it seeds
(team ml-research, editors). Through the rooms service's API the test makes the team
viewers and gives Ana (hub admin, ml-research) an editor share of her own, so in the room:
Ana is an editor, Bruno (ml-research) a viewer, and Carla (data-platform) not a member. (The
demo's Davi is in ml-research too, so Carla plays the non-member.)

Three Chromium contexts: Ana and Bruno open the same notebook in the room's lab and see each
other in the Rooms panel (hub display names, in which file) and on the cursor; Ana's edit
appears for Bruno; Bruno's lab is read-only (banner, cells not editable, run disabled); the
room's server should refuse his save and his kernel through its REST API (the second test, a
known failure for now). Carla gets from the rooms service exactly the answer for a room that
does not exist, and no lab at the room's URL (there JupyterHub itself answers 403 where a
missing room gets 404). Ana then shares the room through the share dialog (a link, then Carla as a
commenter), and Carla opens the room from the Rooms panel of her own lab and finds it in
read-only mode. Nothing is mocked.
"""

from __future__ import annotations

import json
import os
from urllib.parse import quote

import nbformat
import pytest
import requests
from nbformat.v4 import new_code_cell, new_notebook

from ..harness import REPO, HubProcess, wait_for

pytestmark = pytest.mark.e2e

ROOM = "ml-research"
ROOM_USER = "room-ml-research"
NOTEBOOK = "analysis.ipynb"
PANEL = "#mutirao-rooms"
SHOTS = REPO / "docs" / "_static" / "screenshots"
# The harness's own service replaces the demo's list of services: register the rooms service
# again, exactly as the demo config does.
ROOMS_SERVICE = """
import os
from mutirao_hub.rooms.config import rooms_service_config
rooms_service_config(
    c,
    url="http://127.0.0.1:" + os.environ["MUTIRAO_ROOMS_PORT"],
    state_dir=os.path.join(os.environ["MUTIRAO_STATE_DIR"], "rooms"),
    room_files_template=os.path.join(os.environ["MUTIRAO_STATE_DIR"], "homes", "{username}"),
    seed_rooms=[
        {"name": "ml-research", "display_name": "ML research", "teams": {"ml-research": "editor"}}
    ],
)
"""


def docs_screenshot(locator, name: str) -> None:
    """Refresh the user guide's screenshot when asked (MUTIRAO_UPDATE_SCREENSHOTS=1)."""
    if os.environ.get("MUTIRAO_UPDATE_SCREENSHOTS") == "1":
        locator.screenshot(path=str(SHOTS / name))


class RoomsAPI:
    def __init__(self, hub: HubProcess):
        self.hub = hub
        self.tokens: dict[str, str] = {}

    def token(self, who: str) -> str:
        if who not in self.tokens:
            self.tokens[who] = self.hub.user_token(who)
        return self.tokens[who]

    def call(self, who: str, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(
            method,
            f"{self.hub.url}services/mutirao-rooms/api/{path}",
            headers={"Authorization": f"token {self.token(who)}"},
            timeout=60,
            **kwargs,
        )

    def server(self, who: str, method: str, path: str, **kwargs) -> requests.Response:
        """A request to the room's own server (its jupyter-server REST API)."""
        return requests.request(
            method,
            self.hub.user_url(ROOM_USER, path),
            headers={"Authorization": f"token {self.token(who)}"},
            timeout=60,
            allow_redirects=False,
            **kwargs,
        )


def write_notebook(path) -> None:
    nb = new_notebook(
        cells=[
            new_code_cell("x = 1", id="cell-a"),
            new_code_cell("print('hello')", id="cell-b"),
        ],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))


def open_lab(browser, hub: HubProcess, username: str, path: str):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.console_lines = []  # type: ignore[attr-defined]
    page.on("console", lambda m: page.console_lines.append(f"{m.type}: {m.text}"))  # type: ignore[attr-defined]
    page.goto(hub.hub_url("login?next=" + quote(hub.base_url + path)))
    page.fill("#username_input", username)
    page.fill("#password_input", f"{username}-demo")
    page.click("#login_submit")
    return context, page


def open_room_notebook(browser, hub: HubProcess, username: str):
    # straight into the room: no "Authorize access" page for a room's server
    context, page = open_lab(browser, hub, username, f"user/{ROOM_USER}/lab/tree/{NOTEBOOK}")
    cell = page.locator(".jp-Notebook .jp-Cell").nth(1)
    cell.wait_for(timeout=120_000)
    page.locator(f'.jp-SideBar .lm-TabBar-tab[data-id="{PANEL[1:]}"]').click()
    page.locator(f"{PANEL} .mutirao-RoomItem").first.wait_for()
    return context, page


def cell_text(page, i: int) -> str:
    return page.locator(".jp-Notebook .jp-Cell").nth(i).locator(".cm-content").inner_text()


def person(page, username: str):
    return page.locator(f'{PANEL} .mutirao-Person[data-username="{username}"]')


def answer(r: requests.Response) -> tuple[int, str]:
    return r.status_code, r.text


def start_room(hub_factory) -> tuple[HubProcess, RoomsAPI]:
    """The hub and the running room: the team ml-research views it, Ana edits it."""
    hub = hub_factory(extra_config=ROOMS_SERVICE)
    api = RoomsAPI(hub)
    # logging in mirrors each person's teams and admin flag onto the hub
    for name in ("ana", "bruno", "carla"):
        assert hub.login(name).login_response.status_code == 302
    wait_for(lambda: api.call("ana", "GET", f"rooms/{ROOM}").ok, 60, what="the seeded room")

    # -- roles: the team views, Ana edits
    r = api.call(
        "ana", "POST", f"rooms/{ROOM}/shares", json={"team": "ml-research", "role": "viewer"}
    )
    assert r.status_code == 200, r.text
    r = api.call("ana", "POST", f"rooms/{ROOM}/shares", json={"user": "ana", "role": "editor"})
    assert r.status_code == 200, r.text
    assert api.call("bruno", "GET", f"rooms/{ROOM}").json()["my_role"] == "viewer"

    write_notebook(hub.state_dir / "homes" / ROOM_USER / NOTEBOOK)
    r = api.call("ana", "POST", f"rooms/{ROOM}/server")
    assert r.status_code in (200, 202), r.text
    wait_for(
        lambda: api.call("ana", "GET", f"rooms/{ROOM}").json()["server"]["ready"],
        120,
        interval=0.5,
        what="the room's server",
    )

    return hub, api


def test_editor_viewer_and_non_member(hub_factory, browser, artifacts_dir):
    hub, api = start_room(hub_factory)

    ana_ctx, ana = open_room_notebook(browser, hub, "ana")
    bruno_ctx, bruno = open_room_notebook(browser, hub, "bruno")
    carla_ctx = None
    try:
        # -- presence: each sees the other, by the hub's display name, in the notebook
        for page, other, name in ((ana, "bruno", "Bruno Lima"), (bruno, "ana", "Ana Souza")):
            who = person(page, other)
            who.wait_for()
            wait_for(lambda w=who: NOTEBOOK in w.inner_text(), 30, what=f"{other} in the file")
            assert name in who.inner_text()
            assert who.locator(".mutirao-AvatarInitials").inner_text() == (
                "BL" if other == "bruno" else "AS"
            )
        # -- role badges
        assert (
            ana.locator(f"{PANEL} .mutirao-ThisRoomRole .mutirao-RoleBadge").get_attribute(
                "data-role"
            )
            == "editor"
        )
        assert (
            bruno.locator(f"{PANEL} .mutirao-ThisRoomRole .mutirao-RoleBadge").get_attribute(
                "data-role"
            )
            == "viewer"
        )
        assert ana.locator(".mutirao-ReadOnlyBadge").count() == 0
        banner = bruno.locator(".mutirao-ReadOnlyBadge.mutirao-mod-top")
        assert banner.inner_text() == "Viewer — read only"
        bruno.locator(".jp-NotebookPanel-toolbar .mutirao-ReadOnlyBadge").wait_for()
        # nothing offers to create: no "+" for a new launcher beside the tabs
        assert ana.locator(".lm-DockPanel-tabBar .lm-TabBar-addButton").first.is_visible()
        assert not bruno.locator(".lm-DockPanel-tabBar .lm-TabBar-addButton").first.is_visible()

        # -- Ana's edit appears for Bruno, with her name on the cursor
        ana.locator(".jp-Notebook .jp-Cell").nth(0).locator(".cm-content").click()
        ana.keyboard.press("End")
        ana.keyboard.type("  # by Ana")
        wait_for(lambda: "# by Ana" in cell_text(bruno, 0), 30, what="Ana's edit at Bruno's")
        bruno.locator(".jp-remote-userFlag-name", has_text="Ana Souza").first.wait_for(
            state="attached"
        )
        docs_screenshot(ana.locator(PANEL), "rooms-panel.png")
        ana.screenshot(path=str(artifacts_dir / "ana-editor.png"))

        # -- Bruno cannot type...
        bruno.locator(".jp-Notebook .jp-Cell").nth(0).locator(".cm-content").click()
        bruno.keyboard.press("End")
        bruno.keyboard.type("zzz")
        assert "zzz" not in cell_text(bruno, 0)
        # ...nor run a cell: the run button is disabled and Shift+Enter does nothing
        run = bruno.locator(
            '.jp-NotebookPanel-toolbar [data-command="notebook:run-cell-and-select-next"] button'
        )
        assert run.is_disabled()
        bruno.locator(".jp-Notebook .jp-Cell").nth(1).locator(".cm-content").click()
        bruno.keyboard.press("Shift+Enter")
        # a later edit of Ana's reaches Bruno: had his typing or run gone anywhere, it would too
        ana.keyboard.type(" and again")
        wait_for(lambda: "and again" in cell_text(bruno, 0), 30, what="Ana's second edit")
        for page in (ana, bruno):
            assert "zzz" not in cell_text(page, 0)
            assert (
                page.locator(".jp-Notebook .jp-Cell")
                .nth(1)
                .locator(".jp-OutputArea-output")
                .count()
                == 0
            )
        bruno.screenshot(path=str(artifacts_dir / "bruno-viewer.png"))
        docs_screenshot(bruno, "rooms-read-only.png")

        # -- Carla: the room answers her as a room that does not exist
        room = api.call("carla", "GET", f"rooms/{ROOM}")
        missing = api.call("carla", "GET", "rooms/no-such-room")
        assert (
            answer(room)
            == answer(missing)
            == (404, json.dumps({"status": 404, "message": "No such room."}))
        )
        assert ROOM not in [r["name"] for r in api.call("carla", "GET", "rooms").json()]
        carla_ctx, carla = open_lab(browser, hub, "carla", f"user/{ROOM_USER}/lab")
        carla.wait_for_load_state()
        seen_room = carla.locator("body").inner_text()
        assert carla.locator(".jp-LabShell").count() == 0
        carla.screenshot(path=str(artifacts_dir / "carla-room.png"))
        response = carla.goto(hub.url + "user/room-no-such-room/lab")
        assert response is not None
        carla.wait_for_load_state()
        seen_missing = carla.locator("body").inner_text()
        carla.screenshot(path=str(artifacts_dir / "carla-missing.png"))
        # neither opens a lab; JupyterHub itself words the two refusals (see the report below)
        assert carla.locator(".jp-LabShell").count() == 0
        print(f"carla at the room: {seen_room[:200]!r}; at a missing room: {seen_missing[:200]!r}")

        # -- Ana shares the room from the lab: a link, then Carla as a commenter
        ana.locator(f"{PANEL} .mutirao-ShareButton").click()
        form = ana.locator(".jp-Dialog .mutirao-ShareForm")
        form.wait_for()
        roles = form.locator(".mutirao-ShareRole option").all_inner_texts()
        assert roles == ["viewer", "commenter", "editor", "owner"]  # an admin may give any
        form.locator(".mutirao-ShareKind").select_option("link")
        form.locator(".mutirao-ShareRole").select_option("viewer")
        form.locator(".mutirao-ShareSubmit").click()
        link = form.locator(".mutirao-ShareLink")
        link.wait_for()
        assert "/hub/accept-share" in link.input_value()
        docs_screenshot(ana.locator(".jp-Dialog-content"), "rooms-share-dialog.png")
        form.locator(".mutirao-ShareKind").select_option("user")
        form.locator(".mutirao-ShareName").fill("carla")
        form.locator(".mutirao-ShareRole").select_option("commenter")
        form.locator(".mutirao-ShareSubmit").click()
        form.locator(".mutirao-ShareResult", has_text="carla is now commenter").wait_for()
        assert api.call("carla", "GET", f"rooms/{ROOM}").json()["my_role"] == "commenter"
        # a name that is no one is refused with the service's message
        form.locator(".mutirao-ShareName").fill("<nobody>")
        form.locator(".mutirao-ShareSubmit").click()
        form.locator(".mutirao-ShareResult.mutirao-error").wait_for()
        assert "HTTP 4" in form.locator(".mutirao-ShareResult").inner_text()
        ana.locator(".jp-Dialog .jp-mod-reject").click()

        # -- Carla, now a commenter, opens the room from the Rooms panel of her own lab
        hub.spawn("carla")
        carla.goto(hub.url + "user/carla/lab")
        carla.locator(".jp-LabShell").wait_for(timeout=120_000)
        carla.locator(f'.jp-SideBar .lm-TabBar-tab[data-id="{PANEL[1:]}"]').click()
        item = carla.locator(f'{PANEL} .mutirao-RoomItem[data-room="{ROOM}"]')
        assert item.locator(".mutirao-RoleBadge").get_attribute("data-role") == "commenter"
        assert "Personal server" in carla.locator(f"{PANEL} .mutirao-ThisRoomName").inner_text()
        item.locator(".mutirao-RoomOpen").click()
        shell = carla.locator(".jp-LabShell")
        carla.wait_for_url(f"**/user/{ROOM_USER}/lab**", timeout=120_000)
        shell.wait_for(timeout=120_000)
        badge = carla.locator(".mutirao-ReadOnlyBadge.mutirao-mod-top")
        badge.wait_for()
        assert badge.inner_text() == "Commenter — read only"
    finally:
        for name, ctx in (("ana", ana_ctx), ("bruno", bruno_ctx), ("carla", carla_ctx)):
            if ctx is not None:
                for page in ctx.pages:
                    page.screenshot(path=str(artifacts_dir / f"{name}-last.png"))
                    (artifacts_dir / f"{name}-console.txt").write_text(
                        "\n".join(getattr(page, "console_lines", []))
                    )
                ctx.close()


def test_room_server_refuses_a_viewer(hub_factory):
    """The viewer's save and kernel, tried through the room server's REST API with his own
    JupyterHub token (which carries his room role), are refused; the editor's are not."""
    _hub, api = start_room(hub_factory)
    model = api.server("ana", "GET", f"api/contents/{NOTEBOOK}").json()
    assert api.server("bruno", "GET", f"api/contents/{NOTEBOOK}").status_code == 200
    save = {"type": "notebook", "format": "json", "content": model["content"]}
    assert api.server("bruno", "PUT", f"api/contents/{NOTEBOOK}", json=save).status_code == 403
    session = {"path": NOTEBOOK, "type": "notebook", "name": "", "kernel": {"name": "python3"}}
    assert api.server("bruno", "POST", "api/sessions", json=session).status_code == 403
    assert api.server("bruno", "POST", "api/kernels", json={"name": "python3"}).status_code == 403
    # the same requests are allowed to the editor (the refusals are about the role)
    assert (
        api.server(
            "ana",
            "PUT",
            "api/contents/by-ana.txt",
            json={"type": "file", "format": "text", "content": "hi"},
        ).status_code
        == 201
    )


def test_invite_before_first_sign_in(hub_factory, browser, artifacts_dir):
    """Ana invites Carla, who has never signed in, as a viewer through the share dialog;
    Carla signs in for the first time at the room's address and is in the room at once: no
    consent page, no reload, no refused request; typing shows a read-only notice and the
    file browser offers no write action."""
    hub = hub_factory(extra_config=ROOMS_SERVICE)
    api = RoomsAPI(hub)
    for name in ("ana", "bruno"):  # not Carla: she has never signed in
        assert hub.login(name).login_response.status_code == 302
    wait_for(lambda: api.call("ana", "GET", f"rooms/{ROOM}").ok, 60, what="the seeded room")
    write_notebook(hub.state_dir / "homes" / ROOM_USER / NOTEBOOK)
    assert api.call("ana", "POST", f"rooms/{ROOM}/server").status_code in (200, 202)
    wait_for(
        lambda: api.call("ana", "GET", f"rooms/{ROOM}").json()["server"]["ready"],
        120,
        interval=0.5,
        what="the room's server",
    )
    assert hub.api("GET", "users/carla").status_code == 404

    ana_ctx, ana = open_room_notebook(browser, hub, "ana")
    carla_ctx = None
    try:
        # -- Ana: the share dialog suggests people as she types, with their names and faces
        ana.locator(f"{PANEL} .mutirao-ShareButton").click()
        form = ana.locator(".jp-Dialog .mutirao-ShareForm")
        form.wait_for()
        name = form.locator(".mutirao-ShareName")
        name.fill("bru")
        suggestions = form.get_by_test_id("mutirao-share-suggestions")
        bruno = suggestions.locator('.mutirao-Suggestion[data-name="bruno"]')
        bruno.wait_for()
        assert "Bruno Lima" in bruno.inner_text()
        assert bruno.locator(".mutirao-AvatarInitials").inner_text() == "BL"
        docs_screenshot(ana.locator(".jp-Dialog-content"), "rooms-share-suggestions.png")
        name.fill("ml-res")
        team = suggestions.locator(
            '.mutirao-Suggestion[data-kind="group"][data-name="ml-research"]'
        )
        team.wait_for()
        team.click()
        assert form.locator(".mutirao-ShareKind").input_value() == "team"
        assert name.input_value() == "ml-research"
        # -- Carla is no one on the hub yet: the share waits for her first sign-in
        form.locator(".mutirao-ShareKind").select_option("user")
        name.fill("carla")
        form.locator(".mutirao-ShareRole").select_option("viewer")
        form.locator(".mutirao-ShareSubmit").click()
        form.locator(".mutirao-ShareResult", has_text="waits for their first sign-in").wait_for()
        waiting = form.locator('.mutirao-ShareItem[data-pending="true"][data-name="carla"]')
        waiting.wait_for()
        assert "waiting for first sign-in" in waiting.inner_text()
        assert "invited by ana" in waiting.inner_text()
        docs_screenshot(ana.locator(".jp-Dialog-content"), "rooms-invite.png")
        # -- a team nobody of which has signed in yet: the share waits for its first member
        form.locator(".mutirao-ShareKind").select_option("team")
        name.fill("vision-lab")
        form.locator(".mutirao-ShareSubmit").click()
        form.locator(".mutirao-ShareResult", has_text="waits for its first member").wait_for()
        team_waiting = form.locator(
            '.mutirao-ShareItem[data-pending="true"][data-name="vision-lab"]'
        )
        team_waiting.wait_for()
        assert "waiting for its first member" in team_waiting.inner_text()
        ana.locator(".jp-Dialog .jp-mod-reject").click()

        # -- Carla signs in for the first time, at the room's address
        carla_ctx = browser.new_context(viewport={"width": 1400, "height": 900})
        carla = carla_ctx.new_page()
        carla.set_default_timeout(60_000)
        refused: list[str] = []
        console_errors: list[str] = []
        uncaught: list[str] = []
        carla.on("response", lambda r: refused.append(r.url) if r.status == 403 else None)
        failing: list[str] = []
        carla.on(
            "response",
            lambda r: failing.append(f"{r.status} {r.url}") if r.status >= 400 else None,
        )
        carla.on(
            "console",
            lambda m: console_errors.append(m.text) if m.type == "error" else None,
        )
        carla.on("pageerror", lambda e: uncaught.append(f"{e.name}: {e.message} {e.stack}"[:500]))
        # documents loaded (a history change inside the lab is no load; a reload is)
        loads: list[str] = []
        carla.on("load", lambda p: loads.append(p.url))
        room_url = f"user/{ROOM_USER}/lab/tree/{NOTEBOOK}"
        carla.goto(hub.hub_url("login?next=" + quote(hub.base_url + room_url)))
        carla.fill("#username_input", "carla")
        carla.fill("#password_input", "carla-demo")
        carla.click("#login_submit")
        cell = carla.locator(".jp-Notebook .jp-Cell").nth(0)
        cell.wait_for(timeout=120_000)
        banner = carla.locator(".mutirao-ReadOnlyBadge.mutirao-mod-top")
        banner.wait_for()
        assert banner.inner_text() == "Viewer — read only"
        labs = [u for u in loads if u.startswith(hub.user_url(ROOM_USER, "lab"))]
        assert len(labs) == 1, loads  # one load of the lab: no reload

        # -- she types: nothing changes, and a notice says why
        cell.locator(".cm-content").click()
        carla.keyboard.type("x")
        notice = carla.locator(
            ".jp-Notification-Toast-warning, .Toastify__toast", has_text="read only"
        )
        notice.first.wait_for()
        assert "you can follow this notebook but not change it" in notice.first.inner_text()
        assert cell.locator(".cm-content").inner_text() == "x = 1"

        # -- the file browser: no upload, no new folder, no rename
        tab = carla.locator('.jp-SideBar .lm-TabBar-tab[data-id="filebrowser"]')
        if tab.get_attribute("aria-selected") != "true":  # the lab may show it already
            tab.click()
        toolbar = carla.locator(".jp-FileBrowser-toolbar")
        toolbar.wait_for()
        new_folder = toolbar.locator('[data-command="filebrowser:create-new-directory"]')
        assert (
            new_folder.get_attribute("aria-disabled") == "true"
            or new_folder.locator("button").is_disabled()
        )
        upload = toolbar.locator('[data-jp-item-name="uploader"]')
        assert upload.evaluate("n => getComputedStyle(n).pointerEvents") == "none"
        item = carla.locator(f'.jp-DirListing-item[title*="{NOTEBOOK}"]').first
        item.click(button="right")
        rename = carla.locator('.lm-Menu-item[data-command="filebrowser:rename"]')
        rename.wait_for()
        assert "lm-mod-disabled" in (rename.get_attribute("class") or "")
        carla.keyboard.press("Escape")
        carla.screenshot(path=str(artifacts_dir / "carla-invited.png"))
        docs_screenshot(carla, "rooms-viewer-first-visit.png")

        # not one request refused (no 403 storm while the room's server learns the share)
        assert refused == []
        assert not [e for e in console_errors if "403" in e], console_errors
        # nbdime's "is this in git?" request, refused by the room server's path check
        # ("`path` must be a path inside the room"), rejects with a bare Response that nothing
        # catches; that is nbdime's client, for every member. Anything else fails the test.
        nbdime_refused = any("/nbdime/api/isgit" in f for f in failing)
        others = [e for e in uncaught if not (nbdime_refused and e.startswith(": Response"))]
        assert others == [], (others, failing)
    finally:
        for who, ctx in (("ana", ana_ctx), ("carla", carla_ctx)):
            if ctx is not None:
                for page in ctx.pages:
                    page.screenshot(path=str(artifacts_dir / f"invite-{who}-last.png"))
                ctx.close()
