"""Chromium from Debian (/usr/bin/chromium), driven by Playwright; no browser download."""

from __future__ import annotations

import os

import pytest

CHROMIUM = os.environ.get("MUTIRAO_CHROMIUM", "/usr/bin/chromium")
# Keep Chromium from calling home: this machine has no network beyond loopback.
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """When a browser test fails, keep a screenshot of every page still open in its browser
    (test-artifacts/<test>/failure-<n>.png): a timeout alone does not say what the page
    showed."""
    report = yield
    if report.when == "call" and report.failed:
        browser = item.funcargs.get("browser")
        if browser is not None:
            from .. import conftest as root

            folder = root.ARTIFACTS / item.name.replace("/", "_")
            folder.mkdir(parents=True, exist_ok=True)
            pages = [page for context in browser.contexts for page in context.pages]
            for n, page in enumerate(pages):
                try:
                    page.screenshot(path=str(folder / f"failure-{n}.png"), timeout=10_000)
                except Exception:  # noqa: S112 - a page that cannot be shot is skipped
                    continue
    return report


@pytest.fixture
def jp_asyncio_loop():
    """Replace pytest-jupyter's autouse event loop: Playwright's sync API runs its own loop."""
    return None


@pytest.fixture
def jp_server_cleanup():
    """No in-process jupyter server to clean up here (pytest-jupyter's autouse fixture)."""
    return None


@pytest.fixture(scope="module")
def browser():
    """One Chromium per test module.

    Module scope, not session: Playwright's sync API keeps its event loop running in the main
    thread while it is open, which would break pytest-jupyter's loop in the other test folders.
    """
    from playwright.sync_api import sync_playwright

    assert os.path.exists(CHROMIUM), f"{CHROMIUM} is missing: run scripts/setup.sh test"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()
