"""Fixtures shared by every test folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .harness import REPO, HubProcess

pytest_plugins = ["pytest_jupyter.jupyter_server"]

ARTIFACTS = REPO / "test-artifacts"


@pytest.fixture
def artifacts_dir(request) -> Path:
    """A folder kept after the run (screenshots, logs), one per test."""
    path = ARTIFACTS / request.node.name.replace("/", "_")
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


@pytest.fixture
def hub_factory(tmp_path_factory, request):
    """Start real hubs; each is torn down at the end of the test, and a leak fails the test."""
    hubs: list[HubProcess] = []

    def make(**kwargs) -> HubProcess:
        hub = HubProcess(tmp_path_factory.mktemp("hub"), **kwargs)
        hubs.append(hub)
        return hub.start()

    yield make
    leaks = []
    for hub in hubs:
        leaks += hub.stop()
        log = hub.log()
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / f"{request.node.name}-jupyterhub.log").write_text(log)
        # the single-user servers log into the hub's output
        assert "JupyterServerAuthWarning" not in log, "a handler is missing authorization"
    assert not leaks, leaks


@pytest.fixture(scope="module")
def shared_hub(tmp_path_factory):
    """One hub for a module's read-mostly tests (start-up costs seconds)."""
    hub = HubProcess(tmp_path_factory.mktemp("hub")).start()
    yield hub
    leaks = hub.stop()
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "shared-hub-jupyterhub.log").write_text(hub.log())
    assert "JupyterServerAuthWarning" not in hub.log()
    assert not leaks, leaks
