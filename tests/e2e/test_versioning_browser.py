"""Versioning in the browser: history, notebook diffs, commit, restore and branches, through a
real hub (demo config), a real user server, real git and Chromium.

Bruno opens a notebook of a git repository in his home, edits it (real-time collaboration
saves it), commits through
the commit dialog, sees his own display name in the History panel, compares two versions
(nbdime's widgets, side by side and unified), and restores the old version: the open editor
shows it. A notebook named ``<img src=x onerror=alert(1)>.ipynb`` is committed twice, then
shown in the History panel and the diff viewer: its name renders as text and no dialog
fires. The branch picker creates and switches branches; a push to a remote that refuses the
connection shows git's own message. Nothing is mocked.
"""

from __future__ import annotations

import os
import subprocess
from urllib.parse import quote

import nbformat
import pytest
import requests
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from ..harness import REPO, wait_for

pytestmark = pytest.mark.e2e

HISTORY = "#mutirao-history"
XSS_NAME = "<img src=x onerror=alert(1)>.ipynb"
SHOTS = REPO / "docs" / "_static" / "screenshots"


def docs_screenshot(target, name: str) -> None:
    """Refresh the user guide's screenshot when asked (MUTIRAO_UPDATE_SCREENSHOTS=1)."""
    if os.environ.get("MUTIRAO_UPDATE_SCREENSHOTS") == "1":
        target.screenshot(path=str(SHOTS / name))


def git(cwd, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_AUTHOR_NAME="Setup Script",
        GIT_AUTHOR_EMAIL="setup@example.org",
        GIT_COMMITTER_NAME="Setup Script",
        GIT_COMMITTER_EMAIL="setup@example.org",
    )
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def write_notebook(path, source: str) -> None:
    nb = new_notebook(
        cells=[
            new_markdown_cell("# Sales", id="title"),
            new_code_cell(source, id="cell-load"),
            new_code_cell("print(total)", id="cell-print"),
        ],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    nbformat.write(nb, str(path))


def make_repo(home):
    proj = home / "proj"
    proj.mkdir(parents=True)
    git(proj, "init", "-q", "-b", "main")
    write_notebook(proj / "analysis.ipynb", "total = 1 + 1")
    write_notebook(proj / XSS_NAME, "a = 1")
    git(proj, "add", "-A")
    git(proj, "commit", "-q", "-m", "Load the sales")
    write_notebook(proj / XSS_NAME, "a = 2")
    git(proj, "commit", "-q", "-am", "Change <b>a</b>")
    # a remote that refuses connections, so a push fails with git's own message
    git(proj, "remote", "add", "origin", "https://127.0.0.1:9/team/proj.git")
    return proj


def entries(page, kind: str):
    return page.locator(f'{HISTORY} .mutirao-HistoryEntry[data-kind="{kind}"]')


def pane_boxes(page):
    """The old and new editors of the changed cell's source, as nbdime lays them out."""
    merge = page.locator(".mutirao-DiffView .jp-Cell-diff .cm-merge-2pane").first
    merge.wait_for()
    editors = merge.locator(":scope > .cm-merge-pane")
    wait_for(lambda: editors.count() >= 2, 10, what="the two editors of the changed cell")
    return editors.nth(0).bounding_box(), editors.nth(editors.count() - 1).bounding_box()


def open_lab(browser, hub, path: str):
    """Bruno logs in through the form and lands on ``path`` in JupyterLab."""
    # no "get notified about Jupyter news?" toast over the panels and screenshots
    r = requests.put(
        hub.user_url("bruno", "lab/api/settings/@jupyterlab/apputils-extension:notification"),
        json={"raw": '{"fetchNews": "false"}'},
        headers={"Authorization": f"token {hub.user_token('bruno')}"},
        timeout=30,
    )
    assert r.status_code == 204, r.text
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(hub.hub_url("login?next=" + quote(hub.base_url + "user/bruno/lab/tree/" + path)))
    page.fill("#username_input", "bruno")
    page.fill("#password_input", "bruno-demo")
    page.click("#login_submit")
    return context, page, dialogs


def test_history_diff_commit_restore(hub_factory, browser, artifacts_dir):
    hub = hub_factory()
    assert hub.api("POST", "users/bruno").status_code == 201
    proj = make_repo(hub.state_dir / "homes" / "bruno")
    hub.spawn("bruno")

    context, page, dialogs = open_lab(browser, hub, "proj/analysis.ipynb")
    try:
        cells = page.locator(".jp-Notebook .jp-Cell")
        cells.nth(2).wait_for(timeout=120_000)

        # -- edit and save
        editor = cells.nth(1).locator(".cm-content")
        editor.click()
        page.keyboard.press("Control+a")
        page.keyboard.type("total = 2 + 2")
        # real-time collaboration saves the shared document itself, a moment after the edit
        wait_for(
            lambda: "2 + 2" in (proj / "analysis.ipynb").read_text(),
            30,
            what="the saved notebook on disk",
        )
        # a second edit: the first save was snapshotted at once, later ones wait for the
        # snapshot interval, so the snapshot promoted below differs from what gets committed
        page.keyboard.type("  # doubled")
        wait_for(
            lambda: "# doubled" in (proj / "analysis.ipynb").read_text(),
            30,
            what="the second save on disk",
        )

        # -- the History panel follows the notebook
        page.locator('.jp-SideBar .lm-TabBar-tab[data-id="mutirao-history"]').click()
        panel = page.locator(HISTORY)
        assert panel.locator(".mutirao-HistoryFile").inner_text() == "analysis.ipynb"
        entries(page, "commit").first.wait_for()
        assert entries(page, "commit").count() == 1
        assert "Load the sales" in entries(page, "commit").first.inner_text()
        assert "Branch: main" in panel.inner_text()

        # -- commit through the dialog
        panel.locator('.mutirao-HistoryAction[data-action="commit"]').click()
        dialog = page.locator(".jp-Dialog")
        dialog.locator(".mutirao-CommitMessage").fill("Double the total")
        checked = dialog.locator(".mutirao-CommitFile:checked")
        assert checked.count() == 1
        assert checked.get_attribute("data-path") == "analysis.ipynb"
        docs_screenshot(dialog.locator(".jp-Dialog-content"), "versioning-commit-dialog.png")
        dialog.locator(".jp-mod-accept").click()
        wait_for(lambda: entries(page, "commit").count() == 2, 20, what="the new commit")
        mine = entries(page, "commit").first
        assert mine.locator(".mutirao-HistoryAuthor").inner_text() == "Bruno Lima"
        assert mine.locator(".mutirao-VersionAvatar").inner_text() == "BL"
        assert mine.locator(".mutirao-HistoryMessage").inner_text() == "Double the total"
        author = subprocess.run(
            ["git", "log", "-1", "--format=%an"], cwd=proj, capture_output=True, text=True
        ).stdout.strip()
        assert author == "Bruno Lima"
        page.screenshot(path=str(artifacts_dir / "history.png"))
        docs_screenshot(panel, "versioning-history.png")

        # -- the save was snapshotted; promote the snapshot to a commit of its own
        snapshot = entries(page, "snapshot").first
        snapshot.wait_for()
        assert "Edited by Bruno Lima" in snapshot.inner_text()
        snapshot.locator(".mutirao-HistoryPromote").click()
        page.locator(".jp-Dialog input").fill("Keep the snapshot")
        page.locator(".jp-Dialog .jp-mod-accept").click()
        wait_for(lambda: entries(page, "commit").count() == 3, 20, what="the promoted commit")
        promoted = entries(page, "commit").first
        assert promoted.locator(".mutirao-HistoryMessage").inner_text() == "Keep the snapshot"
        assert promoted.locator(".mutirao-HistoryAuthor").inner_text() == "Bruno Lima"

        # -- compare the two commits: nbdime's notebook diff, side by side then unified
        for i in (1, 2):
            entries(page, "commit").nth(i).locator(".mutirao-HistorySelect").check()
        panel.locator(".mutirao-HistoryCompare").click()
        view = page.locator('.mutirao-DiffView[data-state="loaded"]')
        view.wait_for()
        assert view.locator(".jp-Notebook-diff").count() == 1  # nbdime's NotebookDiffWidget
        changed = view.locator(".jp-Cell-diff:not(.jp-Diff-unchanged)")
        wait_for(lambda: changed.count() >= 1, 10, what="the changed cell")
        text = changed.first.inner_text()
        assert "1 + 1" in text
        assert "2 + 2" in text
        old, new = pane_boxes(page)
        assert new["x"] > old["x"] + old["width"] / 2  # side by side
        docs_screenshot(page, "versioning-diff-side-by-side.png")
        view.locator('.mutirao-DiffMode[data-mode="unified"]').click()
        old, new = pane_boxes(page)
        assert abs(new["x"] - old["x"]) < 2
        assert new["y"] >= old["y"] + old["height"] - 1
        docs_screenshot(page, "versioning-diff-unified.png")
        view.locator('.mutirao-DiffMode[data-mode="side-by-side"]').click()
        page.screenshot(path=str(artifacts_dir / "diff.png"))

        # -- restore the old version: the open editor shows it
        page.locator(".jp-DirListing, .jp-MainAreaWidget .jp-Notebook").first.wait_for()
        page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab[title*="analysis.ipynb"]').first.click()
        entries(page, "commit").nth(2).locator(".mutirao-HistoryRestore").click()
        page.locator(".jp-Dialog .jp-mod-accept").click()
        panel.locator('.mutirao-HistoryStatus[data-state="info"]', has_text="Restored").wait_for()
        wait_for(
            lambda: "1 + 1" in cells.nth(1).inner_text(),
            20,
            what="the editor to show the restored version",
        )
        wait_for(
            lambda: "1 + 1" in (proj / "analysis.ipynb").read_text(),
            20,
            what="the restored notebook on disk",
        )

        # -- branches: create and switch, then back
        panel.locator('.mutirao-HistoryAction[data-action="branches"]').click()
        picker = page.locator(".jp-Dialog .mutirao-BranchPicker")
        picker.locator(".mutirao-BranchName").fill("experiment")
        picker.locator(".mutirao-BranchName").press("Enter")  # creates; the dialog stays
        picker.locator('.mutirao-Branch.mutirao-mod-current[data-name="experiment"]').wait_for()
        docs_screenshot(page.locator(".jp-Dialog-content"), "versioning-branches.png")
        picker.locator('.mutirao-Branch[data-name="main"] .mutirao-BranchSwitch').click()
        picker.locator('.mutirao-Branch.mutirao-mod-current[data-name="main"]').wait_for()
        picker.locator('.mutirao-Branch[data-name="experiment"] .mutirao-BranchDelete').click()
        picker.locator('.mutirao-BranchStatus[data-state="info"]', has_text="Deleted").wait_for()
        assert picker.locator(".mutirao-Branch").count() == 1
        page.locator(".jp-Dialog .jp-mod-accept").click()

        # -- credentials for the remote's host, kept on the server; the token is never shown
        panel.locator('.mutirao-HistoryAction[data-action="credentials"]').click()
        form = page.locator(".jp-Dialog .mutirao-CredentialsForm")
        form.locator(".mutirao-Credential-host").fill("127.0.0.1:9")
        form.locator(".mutirao-Credential-username").fill("bruno")
        form.locator(".mutirao-Credential-password").fill("tok-secret")
        form.locator(".mutirao-CredentialSave").click()
        form.locator('.mutirao-CredentialHost[data-host="127.0.0.1:9"]').wait_for()
        assert "tok-secret" not in form.inner_text()
        form.locator(".mutirao-Credential-host").fill("-evil/host")
        form.locator(".mutirao-Credential-username").fill("x")
        form.locator(".mutirao-Credential-password").fill("y")
        form.locator(".mutirao-Credential-password").press("Enter")
        form.locator('[data-state="error"]', has_text="host name").wait_for()
        page.locator(".jp-Dialog .jp-mod-accept").click()

        # -- a failing push shows git's message, not a status code
        panel.locator('.mutirao-HistoryAction[data-action="push"]').click()
        error = panel.locator('.mutirao-HistoryStatus[data-state="error"]')
        error.wait_for(timeout=60_000)
        message = error.inner_text()
        assert message.startswith("Push failed: ")
        assert "127.0.0.1" in message or "connect" in message.lower(), message
        assert "Error 4" not in message
        assert "Error 5" not in message
        docs_screenshot(panel, "versioning-push-error.png")

        # -- a hostile file name, in the history and in the diff viewer
        if not page.locator("#filebrowser").is_visible():
            page.locator('.jp-SideBar .lm-TabBar-tab[data-id="filebrowser"]').click()
        item = page.locator(".jp-DirListing-item", has_text="onerror")
        if item.count() == 0:
            page.locator(".jp-DirListing-item", has_text="proj").dblclick()
        item.first.wait_for()
        item.first.click(button="right")
        page.locator('.lm-Menu-item[data-command="mutirao-lab:show-history"]').click()
        panel.locator(".mutirao-HistoryFile", has_text="onerror").wait_for()
        assert panel.locator(".mutirao-HistoryFile").inner_text() == XSS_NAME
        wait_for(lambda: entries(page, "commit").count() == 2, 20, what="the file's history")
        assert entries(page, "commit").first.locator(".mutirao-HistoryMessage").inner_text() == (
            "Change <b>a</b>"
        )
        entries(page, "commit").nth(1).locator(".mutirao-HistoryDiff").click()
        xss_view = page.locator(f'.mutirao-DiffView[data-state="loaded"][data-path="{XSS_NAME}"]')
        xss_view.wait_for()
        assert xss_view.locator(".mutirao-DiffPath").inner_text() == XSS_NAME
        changed = xss_view.locator(".jp-Cell-diff:not(.jp-Diff-unchanged)")
        wait_for(lambda: changed.count() >= 1, 10, what="the changed cell of the hostile file")
        assert "a = 1" in changed.first.inner_text()
        assert "a = 2" in changed.first.inner_text()
        tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current")
        assert XSS_NAME in tab.inner_text()
        page.screenshot(path=str(artifacts_dir / "xss-name.png"))
        assert page.locator('img[src="x"]').count() == 0
        assert page.locator("[onerror]").count() == 0
        assert dialogs == []
    finally:
        context.close()


def test_text_file_diff_and_more_pages(hub_factory, browser, artifacts_dir):
    """A text file with 30 commits: the History panel pages (25, then Load more), and the
    diff of two versions is nbdime's merge view side by side and a line diff unified."""
    hub = hub_factory()
    assert hub.api("POST", "users/bruno").status_code == 201
    proj = hub.state_dir / "homes" / "bruno" / "proj"
    proj.mkdir(parents=True)
    git(proj, "init", "-q", "-b", "main")
    lines = [f"line {i}" for i in range(10)]
    for n in range(30):
        lines[n % 10] = f"line {n % 10} (edit {n})"
        (proj / "notes.md").write_text("\n".join(lines) + "\n")
        git(proj, "add", "notes.md")
        git(proj, "commit", "-q", "-m", f"Edit {n}")
    hub.spawn("bruno")

    context, page, dialogs = open_lab(browser, hub, "proj/notes.md")
    try:
        page.locator(".jp-FileEditor .cm-content").wait_for(timeout=120_000)
        page.locator('.jp-SideBar .lm-TabBar-tab[data-id="mutirao-history"]').click()
        panel = page.locator(HISTORY)
        wait_for(lambda: entries(page, "commit").count() == 25, 20, what="the first page")
        more = panel.locator(".mutirao-HistoryMore")
        assert more.is_visible()
        more.click()
        wait_for(lambda: entries(page, "commit").count() == 30, 20, what="the second page")
        assert not more.is_visible()
        assert entries(page, "commit").last.locator(".mutirao-HistoryMessage").inner_text() == (
            "Edit 0"
        )

        # Edit 28 → Edit 29 changes line 9 only
        for i in (0, 1):
            entries(page, "commit").nth(i).locator(".mutirao-HistorySelect").check()
        panel.locator(".mutirao-HistoryCompare").click()
        view = page.locator('.mutirao-DiffView[data-state="loaded"]')
        view.wait_for()
        merge = view.locator(".mutirao-TextMergeView")
        assert merge.is_visible()
        left = merge.locator(".cm-diff-left-editor .cm-content").inner_text()
        right = merge.locator(".cm-diff-right-editor .cm-content").inner_text()
        assert "line 9 (edit 19)" in left
        assert "line 9 (edit 29)" in right
        assert "line 8 (edit 28)" in left
        assert "line 8 (edit 28)" in right
        assert "edit 19" not in right
        view.locator('.mutirao-DiffMode[data-mode="unified"]').click()
        unified = view.locator(".mutirao-UnifiedText")
        assert unified.is_visible()
        assert not merge.is_visible()
        assert view.locator(".mutirao-UnifiedText .mutirao-mod-removed").inner_text() == (
            "-line 9 (edit 19)"
        )
        assert view.locator(".mutirao-UnifiedText .mutirao-mod-added").inner_text() == (
            "+line 9 (edit 29)"
        )
        page.screenshot(path=str(artifacts_dir / "text-diff.png"))
        assert dialogs == []
    finally:
        context.close()
