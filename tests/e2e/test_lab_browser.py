"""A demo user logs in through the login form in Chromium and finds Mutirão in JupyterLab."""

from __future__ import annotations

import os
import re

import pytest

from mutirao_lab import __version__ as lab_version

from ..harness import REPO

pytestmark = pytest.mark.e2e


def docs_screenshot(page, name: str) -> None:
    """Refresh the user guide's screenshot when asked (MUTIRAO_UPDATE_SCREENSHOTS=1)."""
    if os.environ.get("MUTIRAO_UPDATE_SCREENSHOTS") == "1":
        page.screenshot(path=str(REPO / "docs" / "_static" / "screenshots" / name))


def log_in(page, hub, username, password):
    page.goto(hub.hub_url("login"))
    page.fill("#username_input", username)
    page.fill("#password_input", password)
    page.click("#login_submit")


def test_demo_user_reaches_lab_and_sees_mutirao(hub_factory, page, artifacts_dir):
    hub = hub_factory()
    log_in(page, hub, "bruno", "bruno-demo")
    page.wait_for_url(re.compile(r".*/user/bruno/lab.*"), timeout=120_000)
    page.wait_for_selector("#jp-main-dock-panel", state="visible", timeout=120_000)

    tab = page.locator('.jp-SideBar .lm-TabBar-tab[title="Mutirão"]')
    tab.click()
    panel = page.locator("#mutirao-panel")
    panel.wait_for(state="visible")
    version = panel.locator('.mutirao-version[data-state="loaded"]')
    version.wait_for()
    assert lab_version in version.inner_text()
    page.screenshot(path=str(artifacts_dir / "lab-mutirao-panel.png"))
    docs_screenshot(page, "lab-mutirao-panel.png")


def test_wrong_password_shows_the_login_message(hub_factory, page, artifacts_dir):
    hub = hub_factory()
    log_in(page, hub, "bruno", "not-the-password")
    message = page.locator("#login-main .alert-danger, #login-main .login_error")
    message.first.wait_for()
    assert "Invalid username or password" in page.content()
    assert "/hub/login" in page.url
    page.screenshot(path=str(artifacts_dir / "login-error.png"))
