"""Each distribution as an admin installs it: one wheel, alone, in a clean virtual environment.

The hub's environment gets ``mutirao-hub`` and ``mutirao-spawner``, the user image gets
``mutirao-lab``; an admin may install any one of them without the others and without the test
extras. Each wheel is built from the checkout, installed into its own fresh venv against
``constraints.txt`` (the same pins CI uses, from the package index), and must import, register
its entry points and pass a smoke check there. Nothing here is mocked.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import venv
import zipfile
from pathlib import Path

import pytest
import requests
import tomllib

from .harness import REPO, free_port, wait_for

CONSTRAINTS = REPO / "constraints.txt"
NPM_VERSION = json.loads((REPO / "lab_ext" / "package.json").read_text())["version"]

pytestmark = pytest.mark.timeout(900)


def _run(*args: str | Path, **kwargs) -> str:
    out = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=600, **kwargs
    )
    assert out.returncode == 0, f"{args} failed:\n{out.stdout}\n{out.stderr}"
    return out.stdout + out.stderr


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> dict[str, Path]:
    """The three wheels and the metapackage's, built from the checkout."""
    out = tmp_path_factory.mktemp("wheels")
    for folder in (REPO / "hub_ext", REPO / "spawner", REPO / "lab_ext", REPO):
        _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", out, folder)
    found = {p.name.split("-")[0].replace("_", "-"): p for p in out.glob("*.whl")}
    assert set(found) == {"mutirao", "mutirao-hub", "mutirao-spawner", "mutirao-lab"}, found
    return found


@pytest.fixture(scope="module")
def installed(wheels, tmp_path_factory) -> dict[str, Path]:
    """One clean venv per distribution, each with only that wheel (installed side by side)."""
    envs: dict[str, Path] = {}
    procs = []
    for name in ("mutirao-hub", "mutirao-spawner", "mutirao-lab"):
        env_dir = tmp_path_factory.mktemp(name)
        venv.create(env_dir, with_pip=True)
        envs[name] = env_dir
        cmd = [env_dir / "bin" / "pip", "install", "-q", "-c", CONSTRAINTS, wheels[name]]
        procs.append((name, subprocess.Popen([str(c) for c in cmd], stderr=subprocess.PIPE)))
    for name, proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, f"installing {name} alone failed:\n{err.decode()}"
    return envs


def _python(env: Path, code: str) -> str:
    return _run(env / "bin" / "python", "-c", code, cwd=env)


def _entry_points(env: Path, group: str) -> dict[str, str]:
    """Each ``mutirao-*`` entry point of a group, loaded in the venv: class name or error."""
    code = f"""
import json
from importlib.metadata import entry_points
found = {{}}
for ep in entry_points(group={group!r}):
    if ep.name.startswith("mutirao-"):
        try:
            found[ep.name] = ep.load().__name__
        except ImportError as e:
            found[ep.name] = "ImportError: " + str(e)
print(json.dumps(found))
"""
    return json.loads(_python(env, code).strip().splitlines()[-1])


def test_one_version_for_every_distribution_and_the_npm_package(wheels):
    for name, wheel in wheels.items():
        assert wheel.name.startswith(f"{name.replace('-', '_')}-{NPM_VERSION}-"), wheel.name
    with zipfile.ZipFile(wheels["mutirao"]) as z:
        metadata = next(z.read(n).decode() for n in z.namelist() if n.endswith("METADATA"))
    for name in ("mutirao-hub", "mutirao-spawner", "mutirao-lab"):
        assert f"Requires-Dist: {name}=={NPM_VERSION}" in metadata
    # the hand-written version is gone from every pyproject
    for folder in ("hub_ext", "spawner", "lab_ext", "."):
        project = tomllib.loads((REPO / folder / "pyproject.toml").read_text())["project"]
        assert "version" not in project, folder
        assert "version" in project["dynamic"], folder


def test_hub_package_alone(installed):
    env = installed["mutirao-hub"]
    authenticators = _entry_points(env, "jupyterhub.authenticators")
    assert authenticators == {
        "mutirao-local": "LocalTeamAuthenticator",
        "mutirao-github": "GitHubTeamAuthenticator",
        "mutirao-gitlab": "GitLabTeamAuthenticator",
        "mutirao-oidc": "OIDCTeamAuthenticator",
    }
    version = _python(env, "import mutirao_hub; print(mutirao_hub.__version__)").strip()
    assert version == NPM_VERSION
    # the rooms service and the password tool start and answer --help
    assert "RoomsService" in _run(env / "bin" / "mutirao-rooms", "--help-all")
    hashed = _run(env / "bin" / "mutirao-hash-password", input="s3cret-pass\n").strip()
    assert hashed.startswith("$argon2"), hashed


def test_spawner_package_alone(installed):
    env = installed["mutirao-spawner"]
    spawners = _entry_points(env, "jupyterhub.spawners")
    assert spawners["mutirao-local"] == "GPULocalProcessSpawner"
    # the Docker and Kubernetes flavours are extras, and say which one to install
    assert "pip install 'mutirao-spawner[docker]'" in spawners["mutirao-docker"]
    assert "pip install 'mutirao-spawner[kubernetes]'" in spawners["mutirao-kube"]
    # a ledger decision runs with nothing but the package's own dependencies
    code = (
        "from mutirao_spawner import ledger; import mutirao_spawner as m; "
        "print(m.__version__, ledger.__name__)"
    )
    assert _python(env, code).split()[0] == NPM_VERSION


def test_lab_package_alone(installed):
    env = installed["mutirao-lab"]
    jupyter = env / "bin" / "jupyter"
    listing = _run(jupyter, "server", "extension", "list")
    assert "mutirao_lab enabled" in listing.replace("\x1b[32m", "").replace("\x1b[0m", "")
    assert f"mutirao_lab {NPM_VERSION} OK" in listing.replace("\x1b[32m", "").replace("\x1b[0m", "")
    labext = _run(jupyter, "labextension", "list").replace("\x1b[32m", "").replace("\x1b[0m", "")
    assert f"mutirao-lab v{NPM_VERSION} enabled OK" in labext, labext
    # smoke: a server starts with the extension, answers its API and serves the lab with it
    root = env / "root"
    root.mkdir()
    port, token = free_port(), "smoke-token"
    args = [jupyter, "server", f"--port={port}", "--ip=127.0.0.1", "--no-browser"]
    args += [f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}"]
    if os.geteuid() == 0:
        args.append("--allow-root")
    env_vars = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "PYTHON"))}
    env_vars["HOME"] = str(env)
    server = subprocess.Popen([str(a) for a in args], cwd=root, env=env_vars)
    try:
        url = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"token {token}"}
        answer = wait_for(
            lambda: requests.get(f"{url}/mutirao/api/version", headers=headers, timeout=5),
            timeout=120,
            what="the clean-venv server",
        )
        assert answer.status_code == 200
        assert answer.json()["version"] == NPM_VERSION
        lab = requests.get(f"{url}/lab", headers=headers, timeout=30)
        assert lab.status_code == 200
        assert '"mutirao-lab"' in lab.text
    finally:
        server.terminate()
        deadline = time.monotonic() + 30
        while server.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        if server.poll() is None:
            server.kill()
