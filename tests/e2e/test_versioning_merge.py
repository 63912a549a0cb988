"""Merging in the browser, through a real hub (demo config), a real user server, real git (with
nbdime's merge driver) and Chromium.

Two branches change the same notebook cell. Bruno merges the other branch from the branch
picker: the merge stops with a conflict, the conflicted notebook is listed, "Show conflict"
opens nbdime's merge widget with both sides' sources, and "Abort merge" puts the branch back
on its pre-merge commit. A conflicted text file named ``<img src=x onerror=alert(1)>.md`` is
listed and shown (local, base and remote side by side) with its name as text. A branch that
merges cleanly then merges with a notification. Nothing is mocked.
"""

from __future__ import annotations

import subprocess

import pytest

from ..harness import wait_for
from .test_versioning_browser import HISTORY, docs_screenshot, git, open_lab, write_notebook

HOSTILE = "<img src=x onerror=alert(1)>.md"

pytestmark = pytest.mark.e2e


def rev(cwd, name: str) -> str:
    return subprocess.run(
        ["git", "rev-parse", name], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def make_repo(home):
    """``proj/`` on ``main``; ``feature`` and ``main`` both change the notebook's load cell and
    the line of a text file with a hostile name; ``docs`` only adds a file."""
    proj = home / "proj"
    proj.mkdir(parents=True)
    git(proj, "init", "-q", "-b", "main")
    write_notebook(proj / "analysis.ipynb", "total = 1 + 1")
    (proj / "notes.md").write_text("notes\n")
    (proj / HOSTILE).write_text("plan: base\n")
    git(proj, "add", "-A")
    git(proj, "commit", "-q", "-m", "Load the sales")
    git(proj, "branch", "docs")
    git(proj, "checkout", "-q", "-b", "feature")
    write_notebook(proj / "analysis.ipynb", "total = 3 + 3  # feature")
    (proj / HOSTILE).write_text("plan: feature\n")
    git(proj, "commit", "-q", "-am", "Feature total")
    git(proj, "checkout", "-q", "docs")
    (proj / "guide.md").write_text("a guide\n")
    git(proj, "add", "guide.md")
    git(proj, "commit", "-q", "-m", "A guide")
    git(proj, "checkout", "-q", "main")
    write_notebook(proj / "analysis.ipynb", "total = 2 + 2  # main")
    (proj / HOSTILE).write_text("plan: main\n")
    git(proj, "commit", "-q", "-am", "Main total")
    return proj


def test_merge_conflict_shown_in_nbdime_and_aborted(hub_factory, browser, artifacts_dir):
    hub = hub_factory()
    assert hub.api("POST", "users/bruno").status_code == 201
    proj = make_repo(hub.state_dir / "homes" / "bruno")
    before = rev(proj, "HEAD")
    hub.spawn("bruno")

    context, page, dialogs = open_lab(browser, hub, "proj/notes.md")
    try:
        page.locator(".jp-FileEditor .cm-content").wait_for(timeout=120_000)
        page.locator('.jp-SideBar .lm-TabBar-tab[data-id="mutirao-history"]').click()
        panel = page.locator(HISTORY)
        wait_for(lambda: "Branch: main" in panel.inner_text(), 30, what="the History panel")

        # -- merge the conflicting branch from the branch picker
        panel.locator('.mutirao-HistoryAction[data-action="branches"]').click()
        picker = page.locator(".jp-Dialog .mutirao-BranchPicker")
        picker.locator('.mutirao-Branch[data-name="feature"] .mutirao-BranchMerge').click()
        conflicts = page.locator(".mutirao-ConflictsPanel")
        item = conflicts.locator('.mutirao-Conflict[data-path="analysis.ipynb"]')
        item.wait_for()
        assert page.locator(".jp-Dialog").count() == 0
        assert conflicts.locator(".mutirao-Conflict").count() == 2
        assert HOSTILE in conflicts.locator(".mutirao-ConflictList").inner_text()
        assert "Merging feature" in conflicts.inner_text()
        assert (proj / ".git" / "MERGE_HEAD").exists()

        # -- nbdime's merge widget shows both sides of the cell
        item.locator(".mutirao-ConflictShow").click()
        view = page.locator('.mutirao-ConflictView[data-state="loaded"]')
        view.wait_for()
        merge = view.locator(".mutirao-NotebookMerge")
        assert merge.is_visible()
        conflicted = merge.locator(".jp-Merge-conflict")
        wait_for(lambda: conflicted.count() >= 1, 10, what="nbdime's conflict marking")
        text = merge.inner_text()
        assert "total = 2 + 2  # main" in text
        assert "total = 3 + 3  # feature" in text
        assert "total = 1 + 1" in text
        page.screenshot(path=str(artifacts_dir / "merge-conflict.png"))
        # the "has conflicts" notification stays out of the user guide's picture
        style = page.add_style_tag(content=".Toastify { display: none !important; }")
        docs_screenshot(page.locator(".mutirao-ConflictWidget"), "versioning-conflict.png")
        style.evaluate("node => node.remove()")

        # -- the text file's three sides, its name rendered as text
        tabs = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab")
        tabs.filter(has_text="Merge conflicts").click()
        conflicts.locator(".mutirao-Conflict").filter(has_text=HOSTILE).locator(
            ".mutirao-ConflictShow"
        ).click()
        text_view = page.locator('.mutirao-ConflictView[data-state="loaded"]').filter(
            has=page.locator(".mutirao-TextConflict")
        )
        text_view.wait_for()
        side = text_view.locator(".mutirao-TextConflictSide")
        assert side.nth(0).locator("pre").inner_text() == "plan: main\n"
        assert side.nth(1).locator("pre").inner_text() == "plan: base\n"
        assert side.nth(2).locator("pre").inner_text() == "plan: feature\n"
        assert HOSTILE in tabs.filter(has_text="Conflict: <img").inner_text()
        assert page.locator('img[src="x"]').count() == 0

        # -- abort: the branch is back on its pre-merge commit
        tabs.filter(has_text="Merge conflicts").click()
        conflicts.locator(".mutirao-MergeAbort").click()
        conflicts.locator(".mutirao-ConflictsStatus", has_text="aborted").wait_for()
        assert conflicts.locator(".mutirao-Conflict").count() == 0
        assert rev(proj, "HEAD") == before
        assert not (proj / ".git" / "MERGE_HEAD").exists()
        assert "total = 2 + 2  # main" in (proj / "analysis.ipynb").read_text()
        assert (proj / HOSTILE).read_text() == "plan: main\n"

        # -- a branch without conflicts merges, with a notification
        panel.locator('.mutirao-HistoryAction[data-action="branches"]').click()
        picker.locator('.mutirao-Branch[data-name="docs"] .mutirao-BranchMerge').click()
        picker.locator(".mutirao-BranchStatus", has_text="Merged docs").wait_for()
        page.locator(".Toastify__toast", has_text="Merged docs").first.wait_for()
        assert (proj / "guide.md").read_text() == "a guide\n"
        assert rev(proj, "HEAD^1") == before
        page.locator(".jp-Dialog .jp-mod-accept").click()
        assert dialogs == []
    finally:
        page.screenshot(path=str(artifacts_dir / "last.png"))
        context.close()
