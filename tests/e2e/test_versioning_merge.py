"""Merging in the browser, through a real hub (demo config), a real user server, real git (with
nbdime's merge driver) and Chromium.

Two branches change the same notebook cell. Bruno merges the other branch from the branch
picker: the merge stops with a conflict, the conflicted notebook is listed, "Show conflict"
opens nbdime's merge widget with both sides' sources, and "Abort merge" puts the branch back
on its pre-merge commit. A conflicted text file named ``<img src=x onerror=alert(1)>.md`` is
listed and shown (local, base and remote side by side) with its name as text. A branch that
merges cleanly then merges with a notification.

Resolving: a second merge stops on the notebook alone, which is open in the lab. Bruno
takes the merged branch's side of the conflicted cell in nbdime's widget (its ➭ picker),
marks it resolved (⚠), and saves the resolution: the file on disk and the open notebook hold
the chosen cell, git lists it as staged instead of conflicted, and "Commit merge" makes a
merge commit with both branches as parents. Saving before choosing warns first. Nothing is
mocked.
"""

from __future__ import annotations

import subprocess

import nbformat
import pytest

from ..harness import wait_for
from .test_versioning_browser import HISTORY, docs_screenshot, git, open_lab, write_notebook

HOSTILE = "<img src=x onerror=alert(1)>.md"

pytestmark = pytest.mark.e2e


def rev(cwd, name: str) -> str:
    return subprocess.run(
        ["git", "rev-parse", name], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def make_repo(home, hostile: bool = True):
    """``proj/`` on ``main``; ``feature`` and ``main`` both change the notebook's load cell and
    (unless ``hostile`` is false) the line of a text file with a hostile name; ``docs`` only
    adds a file."""
    proj = home / "proj"
    proj.mkdir(parents=True)
    git(proj, "init", "-q", "-b", "main")
    write_notebook(proj / "analysis.ipynb", "total = 1 + 1")
    (proj / "notes.md").write_text("notes\n")
    if hostile:
        (proj / HOSTILE).write_text("plan: base\n")
    git(proj, "add", "-A")
    git(proj, "commit", "-q", "-m", "Load the sales")
    git(proj, "branch", "docs")
    git(proj, "checkout", "-q", "-b", "feature")
    write_notebook(proj / "analysis.ipynb", "total = 3 + 3  # feature")
    if hostile:
        (proj / HOSTILE).write_text("plan: feature\n")
    git(proj, "commit", "-q", "-am", "Feature total")
    git(proj, "checkout", "-q", "docs")
    (proj / "guide.md").write_text("a guide\n")
    git(proj, "add", "guide.md")
    git(proj, "commit", "-q", "-m", "A guide")
    git(proj, "checkout", "-q", "main")
    write_notebook(proj / "analysis.ipynb", "total = 2 + 2  # main")
    if hostile:
        (proj / HOSTILE).write_text("plan: main\n")
    git(proj, "commit", "-q", "-am", "Main total")
    return proj


def merge_feature(page):
    """From the History panel's branch picker, merge ``feature`` into ``main``; answers the
    conflicts panel and its entry for the notebook, once listed."""
    page.locator('.jp-SideBar .lm-TabBar-tab[data-id="mutirao-history"]').click()
    panel = page.locator(HISTORY)
    wait_for(lambda: "Branch: main" in panel.inner_text(), 30, what="the History panel")
    panel.locator('.mutirao-HistoryAction[data-action="branches"]').click()
    picker = page.locator(".jp-Dialog .mutirao-BranchPicker")
    picker.locator('.mutirao-Branch[data-name="feature"] .mutirao-BranchMerge').click()
    conflicts = page.locator(".mutirao-ConflictsPanel")
    item = conflicts.locator('.mutirao-Conflict[data-path="analysis.ipynb"]')
    item.wait_for()
    return conflicts, item


def test_merge_conflict_shown_in_nbdime_and_aborted(hub_factory, browser, artifacts_dir):
    hub = hub_factory()
    assert hub.api("POST", "users/bruno").status_code == 201
    proj = make_repo(hub.state_dir / "homes" / "bruno")
    before = rev(proj, "HEAD")
    hub.spawn("bruno")

    context, page, dialogs = open_lab(browser, hub, "proj/notes.md")
    try:
        page.locator(".jp-FileEditor .cm-content").wait_for(timeout=120_000)
        # -- merge the conflicting branch from the branch picker
        conflicts, item = merge_feature(page)
        panel = page.locator(HISTORY)
        picker = page.locator(".jp-Dialog .mutirao-BranchPicker")
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


def test_notebook_conflict_resolved_in_nbdime_and_merge_committed(
    hub_factory, browser, artifacts_dir
):
    hub = hub_factory()
    assert hub.api("POST", "users/bruno").status_code == 201
    proj = make_repo(hub.state_dir / "homes" / "bruno", hostile=False)
    before, feature = rev(proj, "HEAD"), rev(proj, "feature")
    hub.spawn("bruno")

    # the notebook stays open in the lab: the resolution reaches it through its live document
    context, page, dialogs = open_lab(browser, hub, "proj/analysis.ipynb")
    try:
        cells = page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell")
        cells.nth(2).wait_for(timeout=120_000)
        conflicts, item = merge_feature(page)
        assert conflicts.locator(".mutirao-Conflict").count() == 1
        assert conflicts.locator(".mutirao-MergeCommit").is_hidden()
        conflicted_file = (proj / "analysis.ipynb").read_bytes()
        assert b"<<<<<<<" in conflicted_file  # nbdime's driver marks the conflict in the cell
        wait_for(
            lambda: "<<<<<<<" in cells.nth(1).inner_text(),
            20,
            what="the open notebook to show the conflicted cell",
        )

        item.locator(".mutirao-ConflictShow").click()
        view = page.locator('.mutirao-ConflictView[data-state="loaded"]')
        view.wait_for()
        cell = view.locator(".jp-Cell-merge").filter(has=page.locator(".jp-Merge-conflict"))
        cell.first.wait_for()
        assert cell.count() == 1
        status = page.locator(".mutirao-ConflictView .mutirao-ConflictViewStatus")

        # -- saving before choosing warns, and cancelling changes nothing
        view.locator(".mutirao-ConflictSave").click()
        warning = page.locator(".jp-Dialog", has_text="Unresolved conflicts")
        warning.wait_for()
        assert "1 conflict is not marked resolved" in warning.inner_text()
        warning.locator(".jp-mod-reject").click()
        status.filter(has_text="Not saved: conflicts remain.").wait_for()
        assert (proj / "analysis.ipynb").read_bytes() == conflicted_file

        # -- take the merged branch's side (➭ in the remote column), mark it resolved (⚠)
        merged = cell.locator(".cm-merge-editor .cm-content")
        assert "total = 2 + 2  # main" not in merged.inner_text()
        cell.locator(".cm-merge-right-editor .jp-Merge-gutter-picker:visible").first.click()
        wait_for(
            lambda: "total = 3 + 3  # feature" in merged.inner_text(),
            10,
            what="the remote side in the merged column",
        )
        marker = cell.locator(".cm-merge-editor .jp-Merge-gutter-conflict:visible")
        marker.first.click()
        wait_for(
            lambda: marker.count() == 0,
            10,
            what="the conflict marked resolved",
        )
        style = page.add_style_tag(content=".Toastify { display: none !important; }")
        docs_screenshot(page.locator(".mutirao-ConflictWidget"), "versioning-resolve.png")
        style.evaluate("node => node.remove()")
        view.locator(".mutirao-ConflictSave").click()
        page.locator('.mutirao-ConflictView[data-state="resolved"]').wait_for()
        assert "No conflicted files remain" in status.inner_text()
        assert page.locator(".jp-Dialog").count() == 0  # nothing left to warn about

        # -- on disk: the chosen cell, staged; git no longer lists a conflict
        nb = nbformat.read(str(proj / "analysis.ipynb"), 4)
        assert [c.source for c in nb.cells] == [
            "# Sales",
            "total = 3 + 3  # feature",
            "print(total)",
        ]
        porcelain = subprocess.run(
            ["git", "status", "--porcelain", "-uno"],
            cwd=proj, check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        assert porcelain == "M  analysis.ipynb\n"
        page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab[title*="analysis.ipynb"]').first.click()
        wait_for(
            lambda: "total = 3 + 3  # feature" in cells.nth(1).inner_text(),
            20,
            what="the open notebook to show the resolution",
        )
        assert "<<<<<<<" not in page.locator(".jp-NotebookPanel .jp-Notebook").first.inner_text()

        # -- the conflicts list refreshed by itself; committing ends the merge
        tabs = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab")
        tabs.filter(has_text="Merge conflicts").click()
        commit = conflicts.locator(".mutirao-MergeCommit")
        commit.wait_for()
        assert conflicts.locator(".mutirao-Conflict").count() == 0
        assert commit.locator(".mutirao-MergeMessage").input_value() == "Merge branch 'feature'"
        commit.locator(".mutirao-MergeCommitButton").click()
        conflicts.locator(".mutirao-ConflictsStatus", has_text="Committed the merge").wait_for()
        parents = subprocess.run(
            ["git", "rev-list", "--parents", "-1", "HEAD"],
            cwd=proj, check=True, capture_output=True, text=True,
        ).stdout.split()[1:]  # fmt: skip
        assert parents == [before, feature]
        assert not (proj / ".git" / "MERGE_HEAD").exists()
        subject = subprocess.run(
            ["git", "log", "-1", "--format=%an|%s"],
            cwd=proj, check=True, capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip
        assert subject.endswith("|Merge branch 'feature'")
        assert commit.is_hidden()
        assert dialogs == []
    finally:
        page.screenshot(path=str(artifacts_dir / "last-resolve.png"))
        context.close()
