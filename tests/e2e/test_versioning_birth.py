"""Repositories from birth, in the browser: a real hub (demo config and its rooms service), real
single-user servers, real git and Chromium. Nothing is mocked.

A room Ana creates is a git repository when its server first starts, its first commit
authored by her (the room is created and started through the rooms service's API here; the
Rooms panel's buttons for that are tested with the rooms). Bruno's own server is not a
repository: the History panel's empty state offers "Initialize repository" and "Clone…";
he initializes, commits a notebook (History shows him), renames it from the File menu (History
keeps its versions, and the commit records the rename). Every kind of secret and runtime file
planted in his folder, with the default ``.gitignore`` and without one, is offered neither by
the status API nor in the commit dialog.
"""

from __future__ import annotations

import subprocess
from urllib.parse import quote

import pytest
import requests

from ..harness import HubProcess, wait_for
from ..lab.test_git_birth import PLANTED
from .test_rooms_browser import ROOMS_SERVICE, RoomsAPI, docs_screenshot, write_notebook

pytestmark = pytest.mark.e2e

HISTORY = "#mutirao-history"


#: Servers get JUPYTER_PATH too, so a checkout whose lab extension is built elsewhere than the
#: installed one (a second working tree) runs its own build.
KEEP_JUPYTER_PATH = """
c.Spawner.env_keep.append("JUPYTER_PATH")
"""


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    config = ROOMS_SERVICE + KEEP_JUPYTER_PATH
    hub = HubProcess(tmp_path_factory.mktemp("hub"), extra_config=config).start()
    yield hub
    leaks = hub.stop()
    assert "JupyterServerAuthWarning" not in hub.log()
    assert not leaks, leaks


def git(cwd, *args) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout


def plant(root) -> None:
    for rel in PLANTED:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("secret\n")


def entries(page, kind: str):
    return page.locator(f'{HISTORY} .mutirao-HistoryEntry[data-kind="{kind}"]')


def open_lab(browser, hub: HubProcess, username: str, path: str):
    r = requests.put(
        hub.user_url(username, "lab/api/settings/@jupyterlab/apputils-extension:notification"),
        json={"raw": '{"fetchNews": "false"}'},
        headers={"Authorization": f"token {hub.user_token(username)}"},
        timeout=30,
    )
    assert r.status_code == 204, r.text
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.console_lines = []  # type: ignore[attr-defined]
    page.on("console", lambda m: page.console_lines.append(f"{m.type}: {m.text}"))  # type: ignore[attr-defined]
    # a fresh workspace: no tab of an earlier test is restored
    target = f"{hub.base_url}user/{username}/lab/tree/{path}?reset"
    page.goto(hub.hub_url("login?next=" + quote(target)))
    page.fill("#username_input", username)
    page.fill("#password_input", f"{username}-demo")
    page.click("#login_submit")
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=120_000)
    page.locator('.jp-SideBar .lm-TabBar-tab[data-id="mutirao-history"]').click()
    return context, page, errors


def offered(page) -> list[str]:
    """The paths the commit dialog lists, then the dialog closed."""
    panel = page.locator(HISTORY)
    panel.locator('.mutirao-HistoryAction[data-action="commit"]').click()
    dialog = page.locator(".jp-Dialog")
    dialog.locator(".mutirao-CommitFile").first.wait_for()
    paths = [
        box.get_attribute("data-path") or "" for box in dialog.locator(".mutirao-CommitFile").all()
    ]
    dialog.locator(".jp-mod-reject").click()
    dialog.wait_for(state="detached")
    return paths


def running(hub: HubProcess, username: str) -> None:
    """``username`` exists and their server runs (started here unless it does)."""
    assert hub.api("POST", f"users/{username}").status_code in (201, 409)
    model = hub.api("GET", f"users/{username}").json()
    if not (model.get("servers", {}).get("") or {}).get("ready"):
        hub.spawn(username)


def status_paths(hub: HubProcess, server: str, who: str) -> list[str]:
    r = requests.get(
        hub.user_url(server, "mutirao/api/git/status"),
        headers={"Authorization": f"token {hub.user_token(who)}"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return [f["path"] for f in r.json()["files"]]


def test_a_room_is_born_a_repository_by_its_creator(hub):
    api = RoomsAPI(hub)
    assert hub.login("ana").login_response.status_code == 302
    r = api.call("ana", "POST", "rooms", json={"name": "birth", "teams": {"ml-research": "editor"}})
    assert r.status_code == 201, r.text
    write_notebook(hub.state_dir / "homes" / "room-birth" / "analysis.ipynb")
    r = api.call("ana", "POST", "rooms/birth/server")
    assert r.status_code in (200, 202), r.text
    wait_for(
        lambda: api.call("ana", "GET", "rooms/birth").json()["server"]["ready"],
        120,
        interval=0.5,
        what="the room's server",
    )
    home = hub.state_dir / "homes" / "room-birth"
    assert git(home, "log", "--format=%an|%cn").splitlines() == ["Ana Souza|room-birth"]
    assert git(home, "ls-tree", "--name-only", "HEAD").split() == [".gitignore"]
    assert git(home, "symbolic-ref", "--short", "HEAD").strip() == "main"
    # the runtime files the running server wrote are kept out, the notebook is offered
    assert status_paths(hub, "room-birth", "ana") == ["analysis.ipynb"]
    api.call("ana", "DELETE", "rooms/birth/server")


def test_initialize_commit_and_rename_from_the_history_panel(hub, browser, artifacts_dir):
    home = hub.state_dir / "homes" / "bruno"
    write_notebook(home / "analysis.ipynb")
    running(hub, "bruno")
    context, page, errors = open_lab(browser, hub, "bruno", "analysis.ipynb")
    try:
        panel = page.locator(HISTORY)
        empty = panel.locator(".mutirao-HistoryEmpty")
        empty.wait_for()
        assert "not in a git repository" in empty.inner_text()
        assert empty.locator(".mutirao-HistoryClone").is_visible()
        docs_screenshot(panel, "versioning-empty-state.png")

        # Clone… asks for an https URL and refuses anything else with the server's reason
        empty.locator(".mutirao-HistoryClone").click()
        dialog = page.locator(".jp-Dialog")
        dialog.locator(".mutirao-CloneUrl").fill("file:///etc/passwd-repo.git")
        assert dialog.locator(".mutirao-CloneFolder").input_value() == "passwd-repo"
        dialog.locator(".jp-mod-accept").click()
        status = panel.locator(".mutirao-HistoryStatus")
        wait_for(lambda: "Clone failed" in status.inner_text(), 30, what="the refused clone")
        assert "https://" in status.inner_text()

        # Initialize: a first commit by Bruno, the notebook waits for his commit
        empty.locator(".mutirao-HistoryInit").click()
        page.locator(".jp-Dialog .jp-mod-accept").click()
        wait_for(lambda: "first commit by Bruno Lima" in status.inner_text(), 30, what="init")
        assert empty.is_hidden()
        assert git(home, "log", "--format=%an|%s").splitlines() == [
            "Bruno Lima|Start versioning: ignore secrets and runtime files"
        ]
        panel.locator('.mutirao-HistoryAction[data-action="commit"]').click()
        dialog = page.locator(".jp-Dialog")
        dialog.locator(".mutirao-CommitMessage").fill("Add the analysis")
        dialog.locator(".jp-mod-accept").click()
        entries(page, "commit").first.wait_for()
        mine = entries(page, "commit").first
        assert mine.locator(".mutirao-HistoryAuthor").inner_text() == "Bruno Lima"
        assert mine.locator(".mutirao-HistoryMessage").inner_text() == "Add the analysis"

        # Rename from the File menu: History keeps the notebook's versions
        page.locator('.lm-MenuBar-item:has-text("File")').click()
        page.locator('.lm-Menu-item:has-text("Rename Notebook")').click()
        page.locator(".jp-Dialog input").fill("sales.ipynb")
        page.locator(".jp-Dialog .jp-mod-accept").click()
        wait_for(
            lambda: panel.locator(".mutirao-HistoryFile").inner_text() == "sales.ipynb",
            30,
            what="the panel following the rename",
        )
        entries(page, "commit").first.wait_for()
        assert "Add the analysis" in entries(page, "commit").first.inner_text()
        # the commit dialog says renamed, and the commit records it
        panel.locator('.mutirao-HistoryAction[data-action="commit"]').click()
        dialog = page.locator(".jp-Dialog")
        row = dialog.locator('.mutirao-CommitFile[data-path="sales.ipynb"]').locator("..")
        assert "renamed" in row.inner_text()
        dialog.locator(".mutirao-CommitMessage").fill("Rename to sales")
        dialog.locator(".jp-mod-accept").click()
        wait_for(lambda: entries(page, "commit").count() == 2, 30, what="the rename commit")
        assert git(home, "ls-tree", "--name-only", "HEAD").split() == [".gitignore", "sales.ipynb"]
        page.screenshot(path=str(artifacts_dir / "history-after-rename.png"))
        assert "not in a git repository" not in panel.inner_text()
        assert not errors, errors
    finally:
        page.screenshot(path=str(artifacts_dir / "last.png"))
        (artifacts_dir / "console.txt").write_text("\n".join(page.console_lines))
        context.close()


def test_no_secret_or_runtime_file_is_offered_for_commit(hub, browser):
    """Bruno's folder is a repository (previous test, or made here); every kind of secret and
    runtime file is planted, with the default .gitignore and then without one."""
    home = hub.state_dir / "homes" / "bruno"
    running(hub, "bruno")
    if not (home / ".git").exists():
        r = requests.post(
            hub.user_url("bruno", "mutirao/api/git/init"),
            json={"repo": ""},
            headers={"Authorization": f"token {hub.user_token('bruno')}"},
            timeout=30,
        )
        assert r.status_code == 201, r.text
    write_notebook(home / "report.ipynb")
    plant(home)
    context, page, errors = open_lab(browser, hub, "bruno", "report.ipynb")
    try:
        for gitignore in (True, False):
            if not gitignore:
                (home / ".gitignore").unlink()
            api_paths = status_paths(hub, "bruno", "bruno")
            ui_paths = offered(page)
            for paths in (api_paths, ui_paths):
                leaked = [p for p in paths if any(p.endswith(rel) for rel in PLANTED)]
                assert not leaked, (gitignore, leaked)
            assert "report.ipynb" in ui_paths
        assert not errors, errors
    finally:
        context.close()
