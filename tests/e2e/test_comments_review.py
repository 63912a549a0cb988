"""Comments in the browser, for a review: a thread on a piece of a cell's source, the command
palette's entries, and taking the threads away (a JSON download, a downloaded notebook with the
threads in its metadata, a copy saved beside the notebook).

Real hub, proxy, user server and Chromium. Ana works on her own server, so she is its owner and
may save the commented copy.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest
import requests
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from ..harness import REPO, wait_for
from .test_comments_browser import (
    LOAD_SOURCE,
    PANEL,
    hide_toasts,
    open_lab,
    threads,
    write_notebook,
)

pytestmark = pytest.mark.e2e

# the second line of the first cell, as code points of its source
SELECTED = "print(sum(x))"
ADDED = "# totals\n"  # typed at the top of the cell after commenting
RANGE = {"start": LOAD_SOURCE.index(SELECTED), "end": len(LOAD_SOURCE)}
PALETTE_LABELS = [
    "Show Comments",
    "Comment on Cell",
    "Comment on Selection",
    "Download Comments as JSON",
    "Download Notebook with Comments",
    "Save Copy of Notebook with Comments",
]


def screenshot(locator, name: str) -> None:
    """Refresh a user guide's screenshot when asked (MUTIRAO_UPDATE_SCREENSHOTS=1)."""
    if os.environ.get("MUTIRAO_UPDATE_SCREENSHOTS") == "1":
        hide_toasts(locator.page)
        locator.screenshot(path=str(REPO / "docs" / "_static" / "screenshots" / name))


def palette(page, query: str):
    """Open the command palette and search it; answers the items it lists."""
    search = page.locator(".lm-CommandPalette-input")
    # The shortcut keeps the editor's selection (a click on the menu would not). The palette's
    # input is always in the page, hidden while the palette is closed; a modal palette closes
    # when the lab moves focus (a shortcut pressed while the lab is still settling), so it is
    # opened again until the search is typed into it.
    items = page.locator(".lm-CommandPalette-item")
    for attempt in range(5):
        if not search.is_visible():
            page.keyboard.press("Control+Shift+C")
        try:
            search.fill(query, timeout=5000)
            # closed again after the search was typed: its items never show
            items.first.wait_for(timeout=10_000)
            break
        except PlaywrightTimeout:
            if attempt == 4:
                raise
    return items


def run_from_palette(page, label: str) -> None:
    items = palette(page, label)
    item = items.filter(has=page.locator(".lm-CommandPalette-itemLabel", has_text=label))
    item.first.wait_for()
    assert "lm-mod-disabled" not in (item.first.get_attribute("class") or "")
    item.first.click()


def download(page, selector: str) -> tuple[str, dict]:
    with page.expect_download() as info:
        page.click(selector)
    d = info.value
    return d.suggested_filename, json.loads(Path(d.path()).read_text())


def test_review_selection_palette_and_export(hub_factory, browser, artifacts_dir):
    hub = hub_factory()
    assert hub.api("POST", "users/ana").status_code == 201
    hub.spawn("ana")
    home = hub.state_dir / "homes" / "ana"
    write_notebook(home / "review.ipynb")
    token = hub.user_token("ana")
    context, ana = open_lab(browser, hub, "ana", "user/ana/lab/tree/review.ipynb")
    try:
        # -- the palette lists every comments command; first the notebook is shown and has
        # the keyboard (a shortcut pressed while the lab still loads goes nowhere)
        ana.locator(".jp-Notebook .jp-Cell .jp-InputPrompt").first.click()
        items = palette(ana, "Comment")
        items.first.wait_for()
        labels = ana.locator(".lm-CommandPalette-itemLabel").all_inner_texts()
        for label in PALETTE_LABELS:
            assert label in labels, (label, labels)
        ana.keyboard.press("Escape")

        # -- select the second line of the first cell, and comment on it from the palette
        editor = ana.locator(".jp-Notebook .jp-Cell").nth(0).locator(".cm-content")
        editor.click()
        ana.keyboard.press("Control+End")
        ana.keyboard.press("Shift+Home")
        run_from_palette(ana, "Comment on Selection")
        composer_quote = ana.locator(f"{PANEL} .mutirao-ComposerQuote")
        composer_quote.wait_for()
        assert composer_quote.inner_text() == SELECTED
        assert ana.locator(f"{PANEL} .mutirao-ComposerAnchor").input_value() == "text"
        ana.fill(f"{PANEL} .mutirao-ComposerInput", "Is **sum** the right total here?")
        ana.click(f"{PANEL} .mutirao-ComposerSubmit")

        # -- the thread quotes the range, and the cell's editor marks it
        thread = ana.locator(f"{PANEL} .mutirao-Thread[data-text-range]")
        thread.wait_for()
        assert thread.get_attribute("data-text-range") == f"{RANGE['start']}-{RANGE['end']}"
        assert thread.locator(".mutirao-ThreadAnchor").inner_text() == "Cell 1, selected text"
        assert thread.locator(".mutirao-ThreadQuote").inner_text() == SELECTED
        marks = ana.locator(".jp-Notebook .jp-Cell").nth(0).locator(".mutirao-TextRangeMark")
        wait_for(lambda: "".join(marks.all_inner_texts()) == SELECTED, 10, what="the marked range")
        # nothing else in the notebook is marked
        assert "".join(ana.locator(".mutirao-TextRangeMark").all_inner_texts()) == SELECTED
        r = requests.get(
            hub.user_url("ana", "mutirao/api/comments/threads"),
            params={"path": "review.ipynb"},
            headers={"Authorization": f"token {token}"},
            timeout=30,
        )
        assert [t["text_range"] for t in r.json()["threads"]] == [RANGE]
        ana.screenshot(path=str(artifacts_dir / "ana-comments-selection.png"))
        screenshot(ana.locator(PANEL), "comments-selection.png")
        screenshot(ana.locator(".jp-Notebook .jp-Cell").nth(0), "comments-highlight.png")

        # -- a second thread, on the cell, so the exports carry more than one
        ana.locator(".jp-Notebook .jp-Cell").nth(1).locator(".jp-InputArea-prompt").click()
        run_from_palette(ana, "Comment on Cell")
        ana.fill(f"{PANEL} .mutirao-ComposerInput", "Why double?")
        ana.click(f"{PANEL} .mutirao-ComposerSubmit")
        wait_for(lambda: threads(ana).count() == 2, 10, what="the second thread")

        # -- download the threads as JSON
        name, data = download(ana, f"{PANEL} .mutirao-ExportJson")
        assert name == "review-comments.json"
        assert data["format"] == "mutirao-comments"
        assert data["path"] == "review.ipynb"
        bodies = sorted(t["comments"][0]["body"] for t in data["threads"])
        assert bodies == ["Is **sum** the right total here?", "Why double?"]
        assert [t["text_range"] for t in data["threads"] if t["text_range"]] == [RANGE]

        # -- download the notebook with the threads in its metadata
        name, notebook = download(ana, f"{PANEL} .mutirao-ExportNotebook")
        assert name == "review-with-comments.ipynb"
        embedded = notebook["metadata"]["mutirao"]["comments"]
        assert len(embedded["threads"]) == 2
        assert notebook["cells"][0]["source"] == LOAD_SOURCE

        # -- save a copy beside the notebook, from the palette; the original is unchanged
        run_from_palette(ana, "Save Copy of Notebook with Comments")
        status = ana.locator(f"{PANEL} .mutirao-ExportStatus")
        status.wait_for()
        assert "review-with-comments.ipynb" in status.inner_text()
        copy = nbformat.read(str(home / "review-with-comments.ipynb"), as_version=4)
        saved = copy.metadata["mutirao"]["comments"]["threads"]
        assert sorted(t["comments"][0]["body"] for t in saved) == bodies
        original = nbformat.read(str(home / "review.ipynb"), as_version=4)
        assert "mutirao" not in original.metadata

        # -- a line added at the top of the cell, and saved: the range follows the words
        editor.click()
        ana.keyboard.press("Control+Home")
        ana.keyboard.type(ADDED)
        ana.keyboard.press("Control+s")
        moved = f"{RANGE['start'] + len(ADDED)}-{RANGE['end'] + len(ADDED)}"
        wait_for(
            lambda: thread.get_attribute("data-text-range") == moved,
            60,
            what="the thread's range to follow the edit",
        )
        assert thread.locator(".mutirao-ThreadQuote").inner_text() == SELECTED
        wait_for(lambda: "".join(marks.all_inner_texts()) == SELECTED, 10, what="the new marks")
    finally:
        context.close()
