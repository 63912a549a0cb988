"""GPULocalProcessSpawner: single-user servers as local processes, GPUs by CUDA_VISIBLE_DEVICES.

The embedded default (``make demo``) uses it with ``run_as_hub_user = True``. A process sees
only the GPUs named in its ``CUDA_VISIBLE_DEVICES`` (uuids, which CUDA accepts for whole GPUs
and MIG instances alike); nothing stops a process from resetting its own environment, so on a
shared machine this is fair sharing among cooperating users, not isolation: use the Docker or
Kubernetes flavour for that.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner
from traitlets import Bool, Unicode, default

from .identity import hub_aliases, hub_identity
from .mixin import GPUSpawnerMixin

__all__ = ["GPULocalProcessSpawner", "read_environ"]


def read_environ(pid: int) -> dict[str, str] | None:
    """A process's environment from ``/proc/<pid>/environ``; None when it cannot be read."""
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    env = {}
    for item in raw.split(b"\0"):
        key, sep, value = item.partition(b"=")
        if sep:
            env[key.decode(errors="replace")] = value.decode(errors="replace")
    return env


def _server_processes(hub: str, aliases: frozenset[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """(pid, environment) of every process with ``MUTIRAO_SERVER_ID`` in its environment,
    except those whose ``MUTIRAO_HUB_ID`` names another hub than ``hub`` (or its aliases)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        env = read_environ(int(entry))
        if not env or "MUTIRAO_SERVER_ID" not in env:
            continue
        if hub and env.get("MUTIRAO_HUB_ID", hub) not in (hub, *aliases):
            continue  # another hub's server on this machine
        yield int(entry), env


async def _server_processes_async() -> list[tuple[int, dict[str, str]]]:
    """:func:`_server_processes` off the event loop: reading every process's environment
    takes a while on a machine with many servers."""
    hub, aliases = hub_identity(), hub_aliases()
    return await asyncio.to_thread(lambda: list(_server_processes(hub, aliases)))


def _uuids(value: str | None) -> set[str]:
    return {u for u in (value or "").split(",") if u}


class GPULocalProcessSpawner(GPUSpawnerMixin, LocalProcessSpawner):
    """LocalProcessSpawner with profiles and GPUs from the hub's GPU ledger.

    The server's environment gets ``CUDA_VISIBLE_DEVICES`` (the assigned uuids, comma-joined,
    or ``""`` for a CPU profile), ``MUTIRAO_SERVER_ID``, ``MUTIRAO_PROFILE`` and, with a
    maximum runtime, ``MUTIRAO_STOP_AT`` (epoch seconds). A profile's ``cpu_limit`` and
    ``mem_limit`` are passed on as JupyterHub's ``CPU_LIMIT`` / ``MEM_LIMIT`` variables (shown
    by resource-usage extensions) but not enforced: local processes have no limits.
    """

    run_as_hub_user = Bool(
        False,
        help="""
        Run every server as the hub's own system user, in a folder from ``home_dir_template``,
        like JupyterHub's SimpleLocalProcessSpawner: no system accounts needed, and no
        isolation between users. For a laptop and for tests (the embedded default uses it);
        keep it False on a shared machine, where each hub user must be a system user.

        Default: ``False``.

        Example::

            c.GPULocalProcessSpawner.run_as_hub_user = True

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    home_dir_template = Unicode(
        "/tmp/{username}",  # noqa: S108 - SimpleLocalProcessSpawner's default
        help="""
        The folder each server starts in when ``run_as_hub_user`` is True; ``{username}`` is
        replaced by the hub user's name. Created when missing.

        Default: ``"/tmp/{username}"``.

        Example::

            c.GPULocalProcessSpawner.home_dir_template = "/srv/jupyter/homes/{username}"

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    home_dir = Unicode(help="The folder this user's server starts in (run_as_hub_user).")

    @default("home_dir")
    def _default_home_dir(self) -> str:
        return self.home_dir_template.format(username=self.user.name)

    def apply_assignment(self) -> None:
        profile = self.profile
        if profile.cpu_limit is not None:
            self.cpu_limit = float(profile.cpu_limit)
        if profile.mem_limit is not None:
            self.mem_limit = profile.mem_limit

    def get_env(self) -> dict[str, str]:
        env = super().get_env()
        env.update(self.gpu_environment())
        return env

    async def observe_running(self) -> set[str] | None:
        if not self.pid:
            return None
        env = read_environ(self.pid)
        if env is None:
            return None  # the process is gone (or no longer readable: not ours)
        return _uuids(env.get("CUDA_VISIBLE_DEVICES"))

    @classmethod
    async def list_running_holders(cls) -> dict[str, set[str]]:
        """Processes with ``MUTIRAO_SERVER_ID`` in their environment (servers and kernels),
        except those whose ``MUTIRAO_HUB_ID`` names another hub."""
        holders: dict[str, set[str]] = {}
        for _, env in await _server_processes_async():
            holders.setdefault(env["MUTIRAO_SERVER_ID"], set()).update(
                _uuids(env.get("CUDA_VISIBLE_DEVICES"))
            )
        return holders

    @classmethod
    async def stop_holder(cls, server_id: str) -> list[str]:
        """Send SIGTERM to this hub's processes (servers and kernels) of ``server_id``."""
        stopped = []
        for pid, env in await _server_processes_async():
            if env["MUTIRAO_SERVER_ID"] != server_id:
                continue
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            stopped.append(f"process {pid}")
        return stopped

    # -- run_as_hub_user: SimpleLocalProcessSpawner's behaviour ------------------------------

    def make_preexec_fn(self, name: str):
        if not self.run_as_hub_user:
            return super().make_preexec_fn(name)
        home = self.home_dir

        def preexec() -> None:
            os.makedirs(home, 0o755, exist_ok=True)
            os.chdir(home)

        return preexec

    def user_env(self, env: dict[str, str]) -> dict[str, str]:
        if not self.run_as_hub_user:
            return super().user_env(env)
        env["USER"] = self.user.name
        env["HOME"] = self.home_dir
        env["SHELL"] = "/bin/bash"
        return env

    def move_certs(self, paths):
        if self.run_as_hub_user:
            return paths
        return super().move_certs(paths)
