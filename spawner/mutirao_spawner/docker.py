"""GPUDockerSpawner: the Docker flavour of the GPU spawner (DockerSpawner underneath).

One Docker host, its GPUs in the GPU ledger. When the ledger grants a server its GPUs,
:meth:`GPUDockerSpawner.apply_assignment` turns the profile into DockerSpawner settings, and the
container is created with:

- a device request naming exactly the granted GPUs or MIG instances by uuid
  (``DeviceRequest(Driver="nvidia", DeviceIDs=[...], Capabilities=[["gpu"]])``, what
  ``docker run --gpus '"device=GPU-..."'`` sends), and ``NVIDIA_VISIBLE_DEVICES`` /
  ``CUDA_VISIBLE_DEVICES`` naming the same uuids (``void`` / empty for CPU servers, so a CUDA
  image on a host whose default runtime is nvidia does not see every GPU);
- labels naming the server and its GPUs (:data:`LABEL_SERVER`, :data:`LABEL_GPUS`,
  :data:`LABEL_PROFILE`), from which :meth:`~GPUDockerSpawner.observe_running` and
  :meth:`~GPUDockerSpawner.list_running_holders` read back what really runs after a hub restart;
- the profile's image (only ever one of the profile's allow-list: DockerSpawner's
  ``allowed_images`` is set to that list, never ``"*"``, see CVE-2023-48311), CPU and memory
  limits;
- a persistent home volume per user and the team dataset volumes of the user's teams, read-only
  or read-write by team role (:func:`team_volume_binds`).

As in :mod:`.kube`, the container's GPU settings are built by pure functions (tested without a
daemon); the spawner moves them into DockerSpawner and reads the Docker API.
"""

from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

try:
    import docker
    import requests
    from docker.types import DeviceRequest
    from dockerspawner import DockerSpawner
except ImportError as e:  # the flavour's libraries are an extra
    raise ImportError(
        "the mutirao-docker spawner needs the docker extra: pip install 'mutirao-spawner[docker]'"
    ) from e
from jupyterhub.utils import random_port
from traitlets import (
    Bool,
    Callable,
    Dict,
    List,
    TraitError,
    Unicode,
    Union,
    default,
    validate,
)
from traitlets.config import Config

from .identity import hub_aliases, hub_identity
from .mixin import GPUSpawnerMixin

__all__ = [
    "LABEL_GPUS", "LABEL_HUB", "LABEL_PROFILE", "LABEL_SERVER", "DockerSpawnError",
    "GPUDockerSpawner", "container_labels", "finish_create_kwargs", "gpu_device_requests",
    "gpu_env", "holders_from_containers", "team_volume_binds",
]  # fmt: skip

LABEL_SERVER = "org.mutirao.server"
LABEL_GPUS = "org.mutirao.gpus"
LABEL_PROFILE = "org.mutirao.profile"
LABEL_HUB = "org.mutirao.hub"  # the hub that made the container (service.hub_identity)
VOLUME_MODES = ("ro", "rw", "by-role")
# what a profile's dockerspawner_override may not change: the profile itself says it
_NOT_OVERRIDDEN = frozenset({"image", "allowed_images", "cpu_limit", "mem_limit", "remove"})


class DockerSpawnError(RuntimeError):
    """A start that failed on the Docker side; the message is shown on the spawn page."""

    def __init__(self, message: str):
        super().__init__(message)
        self.jupyterhub_message = message


# -- pure: what a container gets -----------------------------------------------------------


def gpu_env(gpu_uuids: Iterable[str]) -> dict[str, str]:
    """The GPU environment of a container holding ``gpu_uuids`` (none: a CPU server)."""
    uuids = ",".join(gpu_uuids)
    # "void" makes the nvidia runtime leave the container alone; CUDA images set "all"
    return {"NVIDIA_VISIBLE_DEVICES": uuids or "void", "CUDA_VISIBLE_DEVICES": uuids}


def gpu_device_requests(gpu_uuids: Iterable[str]) -> list[DeviceRequest]:
    """Docker device requests for exactly these GPUs / MIG instances (empty: none)."""
    uuids = list(gpu_uuids)
    if not uuids:
        return []
    return [DeviceRequest(driver="nvidia", device_ids=uuids, capabilities=[["gpu"]])]


def container_labels(
    server_id: str, profile: str, gpu_uuids: Iterable[str], hub: str = ""
) -> dict[str, str]:
    labels = {LABEL_SERVER: server_id, LABEL_PROFILE: profile, LABEL_GPUS: ",".join(gpu_uuids)}
    if hub:
        labels[LABEL_HUB] = hub
    return labels


def finish_create_kwargs(
    kwargs: Mapping[str, Any],
    labels: Mapping[str, str],
    device_requests: list[DeviceRequest],
    host_network: bool = False,
) -> dict[str, Any]:
    """DockerSpawner's ``create_container`` arguments with Mutirão's labels and device requests.

    Device requests from an admin's ``extra_host_config`` are replaced, not merged: the GPU
    ledger alone decides which GPUs a container gets. On the host network published ports mean
    nothing (Docker drops them with a warning), so they are left out.
    """
    out = dict(kwargs)
    out["labels"] = {**(kwargs.get("labels") or {}), **labels}
    host_config = dict(kwargs.get("host_config") or {})
    host_config.pop("DeviceRequests", None)
    if device_requests:
        host_config["DeviceRequests"] = list(device_requests)
    if host_network:
        host_config.pop("PortBindings", None)
        out.pop("ports", None)
    out["host_config"] = host_config
    return out


def team_volume_binds(
    team_volumes: Mapping[str, Iterable[Mapping[str, str]]],
    groups: Iterable[str],
    editor_groups: Iterable[str] = ("{team}-editors", "{team}-owners"),
) -> dict[str, dict[str, str]]:
    """DockerSpawner binds (``{volume: {"bind": mount, "mode": "ro"|"rw"}}``) for a user in the
    hub groups ``groups``.

    A team's volumes are mounted for members of the team's hub group. ``mode`` is ``"ro"``,
    ``"rw"``, or ``"by-role"``: read-write when the user is also in one of the team's editor
    groups (``editor_groups``, templates with ``{team}``), read-only otherwise. A volume listed
    by several of the user's teams is mounted once, read-write if any team grants it.
    """
    check_team_volumes(team_volumes)
    groups = set(groups)
    binds: dict[str, dict[str, str]] = {}
    for team in sorted(team_volumes):
        if team not in groups:
            continue
        editor = any(t.format(team=team) in groups for t in editor_groups)
        for entry in team_volumes[team]:
            mode = entry.get("mode", "ro")
            if mode == "by-role":
                mode = "rw" if editor else "ro"
            old = binds.get(entry["volume"])
            if old is not None and old["bind"] != entry["mount"]:
                raise ValueError(
                    f"team volume {entry['volume']!r} is mounted at both {old['bind']} and "
                    f"{entry['mount']}; give it one mount point"
                )
            if old is None or mode == "rw":
                binds[entry["volume"]] = {"bind": entry["mount"], "mode": mode}
    return binds


def check_team_volumes(team_volumes: Any) -> None:
    """Raise ValueError naming the entry when ``team_volumes`` is not well formed."""
    if not isinstance(team_volumes, Mapping):
        raise ValueError(f"team_volumes must be a dict of team -> list, not {team_volumes!r}")
    for team, entries in team_volumes.items():
        if isinstance(entries, (str, Mapping)) or not isinstance(entries, Iterable):
            raise ValueError(f"team_volumes[{team!r}] must be a list of dicts")
        for i, entry in enumerate(entries):
            where = f"team_volumes[{team!r}][{i}]"
            if not isinstance(entry, Mapping):
                raise ValueError(f"{where}: expected a dict, not {entry!r}")
            unknown = sorted(set(entry) - {"volume", "mount", "mode"})
            if unknown:
                raise ValueError(
                    f"{where}: unknown key {unknown[0]!r} (known: mode, mount, volume)"
                )
            if not isinstance(entry.get("volume"), str) or not entry["volume"]:
                raise ValueError(f"{where}: volume (a Docker volume name or host path) is required")
            mount = entry.get("mount")
            if not isinstance(mount, str) or not mount.startswith("/"):
                raise ValueError(f"{where}: mount must be an absolute path, not {mount!r}")
            if entry.get("mode", "ro") not in VOLUME_MODES:
                raise ValueError(f"{where}: mode must be one of {', '.join(VOLUME_MODES)}")


def _of_this_hub(labels: Mapping[str, str], hub: str, aliases: Iterable[str] = ()) -> bool:
    """Whether a container is this hub's to count: made by it (under its id or one of its
    ``aliases``, see :mod:`.identity`), or by nobody's hub (by hand)."""
    label = labels.get(LABEL_HUB, hub)
    return not hub or label == hub or label in aliases


def holders_from_containers(
    containers: Iterable[Mapping[str, Any]], hub: str = "", aliases: Iterable[str] = ()
) -> dict[str, set[str]]:
    """Server id → GPU uuids, from containers as ``docker ps`` lists them (``Labels``).

    With ``hub``, containers labelled by another hub (on a Docker host that two hubs share) are
    left out: they are that hub's to reconcile.
    """
    holders: dict[str, set[str]] = {}
    for container in containers:
        labels = container.get("Labels") or {}
        server = labels.get(LABEL_SERVER)
        if server and _of_this_hub(labels, hub, aliases):
            uuids = {u for u in (labels.get(LABEL_GPUS) or "").split(",") if u}
            holders.setdefault(server, set()).update(uuids)
    return holders


def _explain(e: Exception) -> str:
    if isinstance(e, docker.errors.APIError):
        return str(e.explanation or e)
    return str(e)


# -- the spawner ---------------------------------------------------------------------------


class GPUDockerSpawner(GPUSpawnerMixin, DockerSpawner):
    """Start each server in its own container on one Docker host, with the GPUs the GPU
    ledger granted it.

    Differences from DockerSpawner's defaults, each because GPUs are involved:

    - ``remove`` is True, and False is refused: a container is created afresh at every start,
      so it never comes back with the device requests and labels of an earlier assignment.
      Users' files live in their home volume (:attr:`home_volume`), which stays.
    - The image comes from the profile's allow-list; ``allowed_images`` is replaced by that
      list at every start, so ``"*"`` is never in effect.
    - ``extra_host_config`` may not hand out GPUs: its device requests are replaced by the
      ledger's.
    - With ``network_name = "host"`` (containers on the host's network, no published ports) each
      server listens on ``host_ip`` (default 127.0.0.1) on a random free port.
    """

    gpu_device_requests = Bool(
        True,
        help="""
        Give GPU servers a Docker device request for exactly their GPUs.

        This needs the NVIDIA Container Toolkit on the Docker host (without it Docker refuses to
        start the container: "could not select device driver"). Set it to False only where the
        ``nvidia`` runtime is the default runtime and selects GPUs from the
        ``NVIDIA_VISIBLE_DEVICES`` variable, which is set either way. Default: True. Example::

            c.GPUDockerSpawner.gpu_device_requests = False

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    home_volume = Unicode(
        "jupyterhub-user-{username}",
        help="""
        The Docker volume holding a user's files, mounted read-write at ``notebook_dir``.

        One volume per user (shared by the user's named servers), kept when servers stop.
        ``{username}`` is the escaped user name, as in DockerSpawner's ``volumes``. An empty
        string mounts no home volume. Default: ``"jupyterhub-user-{username}"``. Example::

            c.GPUDockerSpawner.home_volume = "home-{username}"

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    team_volumes = Union(
        [Callable(), Dict()],
        help="""
        Team dataset volumes: hub group (team) → list of volumes its members get.

        Each entry is ``{"volume": name, "mount": path, "mode": mode}``: a Docker volume name
        (or a host path), an absolute mount point in the container, and ``"ro"`` (the default),
        ``"rw"``, or ``"by-role"``: read-write for members who are also in one of the team's
        editor groups (:attr:`team_editor_groups`), read-only for the others. Volumes of teams
        the user is not in are not mounted. A value, or a callable (sync or async) that takes
        the spawner and returns one. Default: ``{}``. Example::

            c.GPUDockerSpawner.team_volumes = {
                "ml-research": [
                    {"volume": "ml-datasets", "mount": "/data/ml", "mode": "by-role"},
                    {"volume": "ml-scratch", "mount": "/scratch", "mode": "rw"},
                ],
            }

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    team_editor_groups = List(
        Unicode(),
        ["{team}-editors", "{team}-owners"],
        help="""
        Hub groups whose members edit a team's ``"by-role"`` volumes, as templates of ``{team}``.

        With the default, members of ``ml-research`` get ``ml-research``'s ``"by-role"``
        volumes read-only, and read-write if they are also in ``ml-research-editors`` or
        ``ml-research-owners`` (teams in the identity provider, mirrored as hub groups by the
        team authenticators). Default: ``["{team}-editors", "{team}-owners"]``. Example::

            c.GPUDockerSpawner.team_editor_groups = ["{team}-maintainers"]

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    # DockerSpawner's `executor` stores this on the class it is read from
    _executor: ThreadPoolExecutor | None = None
    _class_docker_url = "the configured address"
    _mutirao_binds = Dict()  # team volumes resolved for the container being created

    @default("remove")
    def _default_remove(self) -> bool:
        return True

    @default("use_internal_ip")
    def _default_use_ip(self) -> bool:
        # DockerSpawner's rule, except that the host network publishes no ports either
        return self.network_name != "bridge"

    @default("notebook_dir")
    def _default_notebook_dir(self) -> str:
        return "/home/jovyan"  # the Jupyter Docker Stacks' home, where most user images work

    @validate("remove")
    def _validate_remove(self, proposal: Any) -> bool:
        if not proposal.value:
            raise TraitError(
                "GPUDockerSpawner.remove must be True: a kept container would start again with"
                " the GPUs of its earlier start; keep users' files in home_volume instead"
            )
        return True

    @validate("team_volumes")
    def _validate_team_volumes(self, proposal: Any) -> Any:
        if not callable(proposal.value):
            check_team_volumes(proposal.value)  # a typo fails at hub start
        return proposal.value

    # -- the mixin's hooks ---------------------------------------------------------------------

    def apply_assignment(self) -> None:
        """Set DockerSpawner's traits for the granted profile; called before the container is
        made."""
        profile = self.profile
        if profile.image is not None and profile.image not in profile.images:
            # the mixin checks the form; this keeps an unchecked image from reaching Docker
            raise DockerSpawnError(
                f"image {profile.image!r} is not allowed for profile {profile.name!r}"
                f" (allowed: {', '.join(profile.images) or 'none'})"
            )
        overrides = dict((profile.extra or {}).get("dockerspawner_override") or {})
        refused = sorted(set(overrides) & _NOT_OVERRIDDEN)
        if refused:
            raise DockerSpawnError(
                f"profile {profile.name!r}: dockerspawner_override may not set"
                f" {', '.join(refused)} (the profile itself says what image and limits it has)"
            )
        for trait, value in overrides.items():
            setattr(self, trait, value)  # an admin's escape hatch, as kubespawner's profiles have
        if self.allowed_images == "*":  # type: ignore[has-type]
            self.log.warning(
                "GPUDockerSpawner ignores allowed_images='*': images come from the profiles"
            )
        if profile.image is not None:
            self.image = profile.image
        # DockerSpawner re-checks user_options["image"] against this; never "any image"
        self.allowed_images = list(profile.images) or [self.image]
        if profile.cpu_limit:
            self.cpu_limit = float(profile.cpu_limit)
        if profile.mem_limit:
            self.mem_limit = profile.mem_limit

    async def observe_running(self) -> set[str] | None:
        """The GPU uuids on this server's running container's labels; None if none runs."""
        container = await self.get_object()
        if not container or not container["State"]["Running"]:
            return None
        labels = container["Config"].get("Labels") or {}
        if labels.get(LABEL_SERVER) != self.server_id:
            return None  # a container of this name made by something else
        return {u for u in (labels.get(LABEL_GPUS) or "").split(",") if u}

    @classmethod
    async def list_running_holders(cls) -> dict[str, set[str]]:
        """Server id → GPU uuids for every running container with Mutirão's labels (except
        another hub's)."""
        containers = await cls._labelled_containers()
        return holders_from_containers(containers, hub_identity(), hub_aliases())

    @classmethod
    async def stop_holder(cls, server_id: str) -> list[str]:
        """Stop the running containers labelled with ``server_id`` (not another hub's); they
        are kept, stopped, for the admin to inspect (unless made with auto-remove)."""
        hub = hub_identity()
        found = await cls._labelled_containers(server_id)
        stopped = []
        for container in found:
            if not _of_this_hub(container.get("Labels") or {}, hub, hub_aliases()):
                continue
            client = cls._shared_client()
            try:
                await _in_thread(cls._class_executor(), client.stop, container["Id"], timeout=10)
            except docker.errors.NotFound:
                continue  # gone meanwhile (auto-remove)
            except (docker.errors.DockerException, requests.RequestException) as e:
                raise DockerSpawnError(_unreachable(cls._class_docker_url, e)) from e
            names = container.get("Names") or [container["Id"][:12]]
            stopped.append(f"container {names[0].lstrip('/')}")
        return stopped

    @classmethod
    async def _labelled_containers(cls, server_id: str = "") -> list[dict[str, Any]]:
        """Running containers with Mutirão's server label (equal to ``server_id`` if given)."""
        label = f"{LABEL_SERVER}={server_id}" if server_id else LABEL_SERVER
        try:
            client = cls._shared_client()
            return await _in_thread(
                cls._class_executor(), client.containers, filters={"label": label}
            )
        except (docker.errors.DockerException, requests.RequestException) as e:
            raise DockerSpawnError(_unreachable(cls._class_docker_url, e)) from e

    # -- DockerSpawner -------------------------------------------------------------------------

    def get_env(self) -> dict[str, str]:
        env = super().get_env()
        env.update(self.gpu_environment())
        env.update(gpu_env(self.gpu_uuids))
        return env

    @property
    def volume_binds(self) -> dict[str, dict[str, str]]:
        binds = super().volume_binds
        if self.home_volume:
            home = self.format_volume_name(self.home_volume, self)
            binds[home] = {"bind": self.format_string(self.notebook_dir), "mode": "rw"}
        binds.update(self._mutirao_binds)
        return binds

    async def create_object(self) -> Any:
        team_volumes = self.team_volumes
        if callable(team_volumes):
            team_volumes = team_volumes(self)
            if inspect.isawaitable(team_volumes):
                team_volumes = await team_volumes
        self._mutirao_binds = team_volume_binds(team_volumes, self.teams, self.team_editor_groups)
        if self._host_network:
            self.port = random_port()
            if self.ip in ("", "0.0.0.0"):  # type: ignore[has-type]  # noqa: S104 - replaced
                self.ip = self.host_ip  # on the host network, listen on the host's loopback
        return await super().create_object()

    async def get_ip_and_port(self) -> tuple[str, int]:
        if self._host_network:
            return self.ip, self.port
        return await super().get_ip_and_port()

    def docker(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """DockerSpawner's one door to the Docker API: add labels and device requests to the
        container it creates, and say clearly when the daemon cannot be reached."""
        if method == "create_container":
            kwargs = finish_create_kwargs(
                kwargs,
                container_labels(self.server_id, self.profile.name, self.gpu_uuids, hub_identity()),
                gpu_device_requests(self.gpu_uuids) if self.gpu_device_requests else [],
                host_network=self._host_network,
            )
        return self._explained(super().docker(method, *args, **kwargs))

    async def get_object(self) -> Any:
        try:
            return await super().get_object()
        except DockerSpawnError:
            if not self.object_id:
                return None  # this server never made a container: none of it can be running
            raise

    async def pull_image(self, image: str) -> None:
        try:
            await super().pull_image(image)
        except docker.errors.APIError as e:
            how = "and pulling is off" if self.pull_policy == "never" else "and could not be pulled"
            raise DockerSpawnError(
                f"The image {image!r} is not on the Docker host {how} ({_explain(e)});"
                " ask an admin to pull or build it"
            ) from e

    async def start_object(self) -> None:
        try:
            await super().start_object()
        except docker.errors.APIError as e:
            reason = _explain(e)
            await self._remove_failed()
            if "could not select device driver" in reason:
                raise DockerSpawnError(
                    "The Docker host cannot give containers GPUs: the NVIDIA Container Toolkit"
                    f" is missing or not configured ({reason}); ask an admin to install it"
                ) from e
            raise DockerSpawnError(f"Docker could not start the container: {reason}") from e

    # -- helpers -------------------------------------------------------------------------------

    @property
    def _host_network(self) -> bool:
        return self.network_name == "host"

    async def _explained(self, future: Any) -> Any:
        try:
            return await future
        except docker.errors.APIError:
            raise
        except (docker.errors.DockerException, requests.ConnectionError) as e:
            raise DockerSpawnError(_unreachable(_docker_url(self.client_kwargs), e)) from e

    async def _remove_failed(self) -> None:
        """A container that did not start is removed, so nothing stays behind holding GPUs."""
        try:
            await self.remove_object()
        except Exception as e:
            self.log.warning("Could not remove container %s: %s", self.object_name, e)
        self.object_id = ""

    @classmethod
    def _class_executor(cls) -> ThreadPoolExecutor:
        if cls._executor is None:
            cls._executor = ThreadPoolExecutor(1)
        return cls._executor

    @classmethod
    def _shared_client(cls) -> Any:  # docker.APIClient
        """The Docker client spawners share; made from the hub's config if none exists yet."""
        if cls._client is None:
            from jupyterhub.app import JupyterHub

            config = JupyterHub.instance().config if JupyterHub.initialized() else Config()
            # no user here: a bare DockerSpawner reads the client settings, this class's too
            merged = Config()
            for section in ("DockerSpawner", cls.__name__):
                if section in config:
                    merged.DockerSpawner.merge(config[section])
            probe = DockerSpawner(config=merged)
            cls._class_docker_url = _docker_url(probe.client_kwargs)
            cls._client = probe.client
        return cls._client


async def _in_thread(executor: ThreadPoolExecutor, fn: Any, *args: Any, **kwargs: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(executor, lambda: fn(*args, **kwargs))


def _docker_url(client_kwargs: Mapping[str, Any]) -> str:
    """Where the Docker client connects, as docker-py decides it."""
    return str(
        client_kwargs.get("base_url")
        or os.environ.get("DOCKER_HOST")
        or "unix:///var/run/docker.sock"
    )


def _unreachable(url: str, e: Exception) -> str:
    return (
        f"The Docker daemon at {url} is not reachable ({type(e).__name__}); ask an admin to check"
        " that dockerd is running"
    )
