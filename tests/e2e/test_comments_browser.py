"""Comments in the browser: two people on one notebook, live, through a real hub and Chromium.

Ana's personal server is shared with Davi through JupyterHub's sharing API (JupyterHub 5+):
the test's service gets the ``shares`` scope and calls ``POST /hub/api/shares/ana/`` with
``{"user": "davi"}``, which grants Davi ``access:servers!server=ana/``. Davi then logs in
through the form and opens ``/user/ana/lab`` in a second browser context. On a personal server
the default ``OwnerRoleResolver`` gives everyone the server lets in every right, and the only
member who can be @mentioned is the owner, Ana; the notebook is shared live between both
through jupyter-collaboration, as in a room.

Flow: Ana comments on a cell and on an output, Davi sees both live (no reload), replies with an
@mention picked from the autocomplete, Ana sees the unread mention; the notebook is renamed and
the cell moved, and the threads follow; the cell is deleted, and the thread shows as outdated
with the cell's last source. A body carrying ``<img onerror>`` and ``<script>`` is rendered
inert in both browsers.
"""

from __future__ import annotations

import os
import time
from urllib.parse import quote

import nbformat
import pytest
import requests
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from mutirao_hub.auth.identity import colour_for

from ..harness import REPO, wait_for

pytestmark = pytest.mark.e2e

SHARING = """
c.JupyterHub.load_roles.append(
    {"name": "mutirao-tests-sharing", "scopes": ["shares"], "services": ["mutirao-tests"]}
)
"""
XSS_BODY = 'Why **sum** here? <img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'
LOAD_SOURCE = "x = [1, 2, 3]\nprint(sum(x))"
PANEL = "#mutirao-comments"
LIVE_S = 1.5  # the goal is one second; the slack is for a loaded 2-core test machine


def docs_screenshot(page, name: str) -> None:
    """Refresh the user guide's screenshot when asked (MUTIRAO_UPDATE_SCREENSHOTS=1)."""
    if os.environ.get("MUTIRAO_UPDATE_SCREENSHOTS") == "1":
        hide_toasts(page)
        page.locator(PANEL).screenshot(path=str(REPO / "docs" / "_static" / "screenshots" / name))


def hide_toasts(page) -> None:
    """Keep JupyterLab's notifications (its news offer, say) out of the user guide's pictures."""
    page.add_style_tag(content=".Toastify { display: none !important; }")


def write_notebook(path) -> None:
    nb = new_notebook(
        cells=[
            new_code_cell(
                LOAD_SOURCE,
                id="cell-load",
                execution_count=1,
                outputs=[new_output("stream", name="stdout", text="6\n")],
            ),
            new_code_cell("y = [v * 2 for v in x]", id="cell-double"),
            new_markdown_cell("## Notes", id="cell-notes"),
        ],
        # with a kernel named, the lab opens the notebook without asking for one
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))


def open_lab(browser, hub, username: str, lab_path: str):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(hub.hub_url("login?next=" + quote(hub.base_url + lab_path)))
    page.fill("#username_input", username)
    page.fill("#password_input", f"{username}-demo")
    page.click("#login_submit")
    cells = page.locator(".jp-Notebook .jp-Cell").nth(2)
    # someone else's server asks them to let it identify them (JupyterHub's OAuth consent)
    authorize = page.get_by_role("button", name="Authorize")
    cells.or_(authorize).wait_for(timeout=120_000)
    if authorize.is_visible():
        authorize.click()
    cells.wait_for(timeout=120_000)
    page.locator('.jp-SideBar .lm-TabBar-tab[data-id="mutirao-comments"]').click()
    page.locator(f"{PANEL} .mutirao-CommentsFile").wait_for()
    return context, page


def post_thread(page, body: str, output: str = "") -> None:
    page.locator(".jp-Notebook .jp-Cell").nth(0).locator(".jp-InputArea-prompt").click()
    page.select_option(f"{PANEL} .mutirao-ComposerAnchor", output)
    page.fill(f"{PANEL} .mutirao-ComposerInput", body)
    page.click(f"{PANEL} .mutirao-ComposerSubmit")


def threads(page):
    return page.locator(f"{PANEL} .mutirao-Thread")


def assert_inert(page) -> None:
    assert page.evaluate("window.__xss") is None
    panel = page.locator(PANEL)
    assert panel.locator("script").count() == 0
    assert panel.locator("[onerror]").count() == 0
    # the Markdown itself is rendered
    assert panel.locator(".mutirao-CommentBody strong", has_text="sum").count() >= 1


def test_two_people_comment_live(hub_factory, browser, artifacts_dir):
    started = time.monotonic()
    hub = hub_factory(extra_config=SHARING)
    for name in ("ana", "davi"):
        assert hub.api("POST", f"users/{name}").status_code == 201
    hub.spawn("ana")
    write_notebook(hub.state_dir / "homes" / "ana" / "review.ipynb")
    r = hub.api("POST", "shares/ana/", json={"user": "davi"})
    assert r.status_code == 200, r.text
    token = hub.user_token("ana")

    def api_threads(path):
        r = requests.get(
            hub.user_url("ana", "mutirao/api/comments/threads"),
            params={"path": path},
            headers={"Authorization": f"token {token}"},
            timeout=30,
        )
        assert r.status_code == 200, r.text
        return r.json()["threads"]

    ana_ctx, ana = open_lab(browser, hub, "ana", "user/ana/lab/tree/review.ipynb")
    davi_ctx, davi = open_lab(browser, hub, "davi", "user/ana/lab/tree/review.ipynb")
    try:
        # -- a thread on a cell, seen live by the other person
        post_thread(ana, XSS_BODY)
        threads(ana).first.wait_for()
        t0 = time.monotonic()
        threads(davi).first.wait_for(timeout=LIVE_S * 1000)
        cell_latency = time.monotonic() - t0

        # -- a thread on the cell's output
        post_thread(ana, "Is **6** right?", output="0")
        wait_for(lambda: threads(ana).count() == 2, 10, what="ana's second thread")
        t0 = time.monotonic()
        davi.locator(f'{PANEL} .mutirao-Thread[data-output-index="0"]').wait_for(
            timeout=LIVE_S * 1000
        )
        output_latency = time.monotonic() - t0
        badge = davi.locator('.jp-OutputArea-child .mutirao-CommentBadge[data-count="1"]')
        badge.wait_for()
        cell_badge = davi.locator('.jp-Cell > .mutirao-CommentBadge[data-cell-id="cell-load"]')
        cell_badge.wait_for()
        for page in (ana, davi):
            assert_inert(page)
        davi.screenshot(path=str(artifacts_dir / "davi-sees-threads.png"))

        # -- each comment shows its author as the lab shows people everywhere (one avatar
        # renderer): Ana's hub initials on her hub colour, her display name as tooltip
        author = threads(davi).first.locator(".mutirao-Comment .mutirao-Avatar").first
        assert author.locator(".mutirao-AvatarInitials").inner_text() == "AS"
        assert author.get_attribute("title") == "Ana Souza"
        hub_colour = colour_for("ana")  # "#8c564b"
        rgb = ", ".join(str(int(hub_colour[i : i + 2], 16)) for i in (1, 3, 5))
        assert author.evaluate("n => n.style.backgroundColor") == f"rgb({rgb})"

        # -- clicking a badge opens its thread
        badge.click()
        davi.locator(
            f'{PANEL} .mutirao-Thread.mutirao-mod-selected[data-output-index="0"]'
        ).wait_for()

        # -- Davi replies with an @mention picked from the autocomplete
        reply = threads(davi).first.locator(".mutirao-ReplyInput")
        reply.click()
        reply.press_sequentially("Because of the log, @an")
        option = davi.locator(f'{PANEL} .mutirao-MentionOption[data-username="ana"]')
        option.wait_for()
        reply.press("Enter")
        assert reply.input_value() == "Because of the log, @ana "
        reply.press_sequentially("— see `np.log`.")
        threads(davi).first.locator(".mutirao-ReplyButton").click()

        indicator = ana.locator(f'{PANEL} .mutirao-MentionsIndicator[data-count="1"]')
        indicator.wait_for(timeout=5000)
        mention = ana.locator(f"{PANEL} .mutirao-Comment.mutirao-mod-unread")
        mention.wait_for()
        assert "Because of the log" in mention.inner_text()
        ana.screenshot(path=str(artifacts_dir / "ana-sees-mention.png"))
        docs_screenshot(ana, "comments-panel.png")
        ana.locator(f"{PANEL} .mutirao-Filter[data-filter='mentions']").click()
        assert threads(ana).count() == 1

        # -- rename the notebook in the lab: the threads follow its file id
        ana.locator(f"{PANEL} .mutirao-Filter[data-filter='all']").click()
        ana.locator(".lm-MenuBar-item", has_text="File").click()
        ana.locator('.lm-Menu-item[data-command="docmanager:rename"]').click()
        name_input = ana.locator(".jp-Dialog input")
        name_input.fill("reviewed.ipynb")
        ana.locator(".jp-Dialog .jp-mod-accept").click()
        ana.locator(f"{PANEL} .mutirao-CommentsFile", has_text="reviewed.ipynb").wait_for()
        wait_for(lambda: threads(ana).count() == 2, 10, what="the threads after the rename")
        assert len(api_threads("reviewed.ipynb")) == 2

        # -- move the commented cell down: its threads move with it
        ana.locator(".jp-Notebook .jp-Cell").nth(0).locator(".jp-InputArea-prompt").click()
        ana.keyboard.press("Escape")
        ana.keyboard.press("Control+Shift+ArrowDown")
        for page in (ana, davi):
            page.locator(".jp-Notebook .jp-Cell").nth(1).locator(
                '.mutirao-CommentBadge[data-cell-id="cell-load"]'
            ).first.wait_for(timeout=10_000)
        ana.locator(f"{PANEL} .mutirao-ThreadAnchor", has_text="Cell 2").first.wait_for()

        # -- delete the cell: the thread is outdated, and still readable with the cell's source
        ana.locator(".jp-Notebook .jp-Cell").nth(1).locator(".jp-InputArea-prompt").click()
        ana.keyboard.press("Escape")
        ana.keyboard.press("d")
        ana.keyboard.press("d")
        for page in (ana, davi):
            outdated = page.locator(f"{PANEL} .mutirao-Thread.mutirao-mod-outdated")
            wait_for(lambda p=outdated: p.count() == 2, 15, what="outdated threads")
            source = outdated.first.locator(".mutirao-LastSourceCode")
            assert "print(sum(x))" in source.inner_text()
            assert "Because of the log" in page.locator(PANEL).inner_text()
        wait_for(
            lambda: all(t["outdated"] for t in api_threads("reviewed.ipynb")),
            15,
            what="the server to mark the threads outdated",
        )
        davi.screenshot(path=str(artifacts_dir / "davi-sees-outdated.png"))
        docs_screenshot(davi, "comments-outdated.png")
        for page in (ana, davi):
            assert_inert(page)
    finally:
        ana_ctx.close()
        davi_ctx.close()
    print(
        f"live latency: cell {cell_latency * 1000:.0f} ms, output {output_latency * 1000:.0f} ms;"
        f" test {time.monotonic() - started:.0f} s"
    )
