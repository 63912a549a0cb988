"""The GPU spawner mixin's configuration: profiles, quotas, the queue, the inventory, idle GPUs.

Every option here is a traitlet set on a flavour (``c.GPULocalProcessSpawner.profiles = ...``);
the docs' configuration reference is generated from these help strings.
"""

from __future__ import annotations

from traitlets import (
    Bool,
    Callable,
    CaselessStrEnum,
    Dict,
    Float,
    Int,
    List,
    Unicode,
    Union,
    default,
    validate,
)
from traitlets.config import LoggingConfigurable

__all__ = ["GPUSpawnerOptions"]


class GPUSpawnerOptions(LoggingConfigurable):
    """The configuration options of :class:`~mutirao_spawner.mixin.GPUSpawnerMixin`."""

    # -- profiles and quotas (may vary per user) ---------------------------------------------

    profiles = Union(
        [List(Dict()), Callable()],
        default_value=[],
        help="""
        The profiles users choose from: what a server runs with.

        A list of dicts, or a callable (sync or async) taking the spawner and returning one, so
        profiles can depend on the user. Keys: ``name`` (required, unique), ``display_name``,
        ``description``, ``images`` (the allowed images, the first is the default; users can
        never run an image outside this list), ``cpu_limit``, ``mem_limit``, ``gpu_counts`` (the
        GPU counts a user may pick, the first is the default; default ``[0]``), ``gpu_model``
        (NVML name, e.g. ``"NVIDIA A100-SXM4-80GB"``), ``mig_profile`` (e.g. ``"1g.10gb"``: MIG
        instances instead of whole GPUs), ``max_runtime_s`` (the hub stops the server after
        this many seconds), ``node_selector`` and ``tolerations`` (Kubernetes), ``extra``
        (free-form, for the flavour).

        Default: ``[]``, which means one profile ``cpu`` without GPUs.

        Example::

            c.GPULocalProcessSpawner.profiles = [
                {"name": "cpu", "display_name": "CPU only"},
                {"name": "gpu", "display_name": "One GPU", "gpu_counts": [1, 2],
                 "max_runtime_s": 8 * 3600},
            ]

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    team_profiles = Union(
        [Dict(), Callable()],
        default_value={},
        help="""
        Which teams may use which profiles: team (JupyterHub group) name -> profile names.

        A profile listed for any team may be used only by those teams; a profile listed for no
        team is open to everyone. A dict, or a callable (sync or async) taking the spawner.
        The same rule is checked when the spawn form is shown and again, on the server side,
        when the spawn starts.

        Default: ``{}`` (every profile open to everyone).

        Example::

            c.GPULocalProcessSpawner.team_profiles = {"ml-research": ["gpu"]}

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    gpu_limit_per_team = Union(
        [Dict(), Callable()],
        default_value={},
        help="""
        GPU quota per team: team name -> the most GPUs (whole GPUs or MIG instances, held and
        queued together) that the team's servers may have. Teams not listed have no quota.

        A user in several teams is charged to the first team, alphabetically, that may use the
        chosen profile. A dict, or a callable (sync or async) taking the spawner.

        Default: ``{}``.

        Example::

            c.GPULocalProcessSpawner.gpu_limit_per_team = {"ml-research": 4, "data-platform": 1}

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    gpu_limit_per_user = Int(
        None,
        allow_none=True,
        help="""
        The most GPUs (held and queued together) one user's servers may have; None for no
        limit. A spawn over the quota fails at once with a message that says so.

        Default: ``None``.

        Example::

            c.GPULocalProcessSpawner.gpu_limit_per_user = 2

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    # -- the queue ---------------------------------------------------------------------------

    queue_when_full = Bool(
        True,
        help="""
        When no GPU is free: wait in the hub's FIFO queue (True), or fail the spawn at once with
        a message that says who holds the GPUs and when the next one frees up (False).

        Hub-wide: read when the hub loads its first server.

        Default: ``True``.

        Example::

            c.GPULocalProcessSpawner.queue_when_full = False

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    allow_backfill = Bool(
        False,
        help="""
        Let a later spawn take GPUs that the spawn at the head of the queue cannot use (say, one
        free GPU while the head waits for two). False keeps the queue strictly first come,
        first served. Hub-wide.

        Default: ``False``.

        Example::

            c.GPULocalProcessSpawner.allow_backfill = True

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    gpu_queue_timeout = Float(
        900,
        help="""
        The most seconds a spawn waits in the GPU queue. After it, the spawn fails with a
        message giving its queue position and when GPUs free up: never a silent timeout.

        The spawner's ``start_timeout`` defaults to this plus 120 seconds, so JupyterHub does
        not cut the wait short; if you set ``start_timeout`` yourself, the wait ends 15 seconds
        before it.

        Default: ``900``.

        Example::

            c.GPULocalProcessSpawner.gpu_queue_timeout = 3600

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    # -- max runtime ---------------------------------------------------------------------------

    max_runtime_warning_s = Float(
        600,
        help="""
        How many seconds before a profile's ``max_runtime_s`` stops a server its user is
        warned in JupyterLab (a notification with the exact stop time); a second warning
        comes one minute before the stop. The server gets it as ``MUTIRAO_STOP_WARNING_S``
        (and the stop time as ``MUTIRAO_STOP_AT``); the mutirao_lab server extension serves
        both at ``GET <server>/mutirao/api/runtime``.

        Default: ``600`` (ten minutes).

        Example::

            c.GPULocalProcessSpawner.max_runtime_warning_s = 30 * 60

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    @validate("max_runtime_warning_s")
    def _check_warning(self, proposal: dict) -> float:
        if not proposal["value"] >= 60:
            raise ValueError("max_runtime_warning_s must be at least 60 (the last warning)")
        return proposal["value"]

    # -- the inventory (hub-wide) ------------------------------------------------------------

    gpus = List(
        Dict(),
        help="""
        GPUs declared by hand, for hosts whose GPUs the hub cannot see with NVML (a remote
        Docker host) and for tests. Each dict: ``uuid`` (required), ``model`` (required for a
        whole GPU), ``index``, ``memory_mib``; a MIG instance has ``parent_uuid`` and
        ``profile`` instead of ``model``. Used when ``gpu_discovery`` is ``"config"``.

        Default: ``[]``.

        Example::

            c.GPULocalProcessSpawner.gpus = [
                {"uuid": "GPU-5a3b...", "model": "NVIDIA A100-SXM4-80GB", "memory_mib": 81920},
            ]

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    gpu_discovery = CaselessStrEnum(
        ["nvml", "config", "none"],
        help="""
        Where the GPU inventory comes from: ``"nvml"`` asks the NVIDIA driver on the hub's
        machine (needs ``pip install mutirao-spawner[nvml]``; without a driver the hub starts
        with no GPUs and logs why), ``"config"`` uses ``gpus``, ``"none"`` means no GPUs (CPU
        profiles only). Hub-wide.

        Default: ``"config"`` when ``gpus`` is set, else ``"nvml"``.

        Example::

            c.GPULocalProcessSpawner.gpu_discovery = "nvml"

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    @default("gpu_discovery")
    def _default_discovery(self) -> str:
        return "config" if self.gpus else "nvml"

    nvml_module = Unicode(
        "pynvml",
        help="""
        The Python module that provides NVML (``pynvml`` from nvidia-ml-py). Tests point it to
        a stand-in module; admins leave it alone.

        Default: ``"pynvml"``.

        Example::

            c.GPULocalProcessSpawner.nvml_module = "pynvml"

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    gpu_refresh_interval = Float(
        60,
        help="""
        Seconds between inventory refreshes and reconciliations with what really runs. A GPU
        that disappears is logged and shown on the admin page; its holder keeps it until it
        stops. Hub-wide.

        Default: ``60``.

        Example::

            c.GPULocalProcessSpawner.gpu_refresh_interval = 30

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    unknown_gpu_holders = CaselessStrEnum(
        ["report", "adopt", "reclaim"],
        default_value="report",
        help="""
        What to do with a running server that holds GPUs the ledger did not give it (found by
        the flavour's ``list_running_holders``, e.g. a container started by hand with
        Mutirão's labels): ``"report"`` (log it and show it on the admin page), ``"adopt"``
        (record the holding when its GPUs are free, else report), ``"reclaim"`` (stop it: a hub
        server through the hub, as an admin's stop; anything else through its flavour — the
        container is stopped and kept, the processes get SIGTERM, the pod is deleted). A server
        of another hub sharing the host (``org.mutirao.hub`` label, ``MUTIRAO_HUB_ID``) is that
        hub's to handle and is never counted. Hub-wide.

        Default: ``"report"``.

        Example::

            c.GPULocalProcessSpawner.unknown_gpu_holders = "adopt"

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    # -- idle GPUs (hub-wide) ----------------------------------------------------------------

    idle_sample_interval = Float(
        60,
        help="""
        Seconds between NVML utilisation samples of the held GPUs (only with
        ``gpu_discovery = "nvml"``; 0 switches sampling off). Hub-wide.

        Default: ``60``.

        Example::

            c.GPULocalProcessSpawner.idle_sample_interval = 30

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    idle_gpu_window = Float(
        3600,
        help="""
        Seconds over which a server's GPUs must all stay below ``idle_gpu_threshold`` for the
        server to count as idle. Hub-wide.

        Default: ``3600``.

        Example::

            c.GPULocalProcessSpawner.idle_gpu_window = 2 * 3600

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    idle_gpu_threshold = Float(
        5,
        help="""
        Utilisation (percent of time a kernel ran, as NVML reports it) under which a GPU
        sample counts as idle. Hub-wide.

        Default: ``5``.

        Example::

            c.GPULocalProcessSpawner.idle_gpu_threshold = 1

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    idle_gpu_action = CaselessStrEnum(
        ["stop", "release", "none"],
        default_value="none",
        help="""
        What happens to an idle GPU server: ``"stop"`` stops it; ``"release"`` stops it and
        starts it again at once with the user's first allowed profile that can run without
        GPUs (same image when that profile allows it; files in the home folder stay, running
        kernels and their memory are lost), or stops it when there is no such profile;
        ``"none"`` only marks it idle on the admin page. Hub-wide.

        Default: ``"none"``.

        Example::

            c.GPULocalProcessSpawner.idle_gpu_action = "release"

        .. versionadded:: 0.1
        """,
    ).tag(config=True)
