"""GPUSpawnerMixin: profiles, the GPU ledger, the queue and reclaim for any JupyterHub spawner.

The mixin owns everything GPU-related that does not depend on how a server runs; a flavour
(local process, Docker, Kubernetes) only translates an assignment into its base spawner's
settings and reports what really runs. See :class:`GPUSpawnerMixin` for the contract.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from tornado import web
from traitlets import Any as AnyTrait
from traitlets import Float, List, default

from .form import options_from_form, render_options_form
from .identity import hub_identity
from .ledger import Claim, Granted, Policy, Queued, Refused, Request
from .options import GPUSpawnerOptions
from .profiles import MAX_GPUS, Profile, ProfileError, allowed_profiles, choose, parse_profiles
from .service import GPUService, stop_server

try:
    from jupyterhub.spawner import SpawnException
except ImportError:  # JupyterHub before 6.0

    class SpawnException(web.HTTPError):  # type: ignore[no-redef]
        def __init__(self, message, *, reason, status_code=400, **_):
            self.message = self.log_message = message  # type: ignore[misc]
            self.reason = reason
            super().__init__(status_code, message, reason=reason)


__all__ = ["GPUSpawnError", "GPUSpawnerMixin"]


class GPUSpawnError(SpawnException):
    """A spawn that cannot go ahead; JupyterHub shows ``message`` on the spawn page and in the
    REST API's error, and logs it without a traceback."""

    def __init__(self, message: str, reason: str = "gpu") -> None:
        super().__init__(message, reason=reason)

    def __str__(self) -> str:
        return self.message


def _options_checked_at_start(spawner: Any, user_options: dict) -> None:
    """JupyterHub's ``apply_user_options`` hook: nothing to do before start(), which checks."""


class GPUSpawnerMixin(GPUSpawnerOptions):
    """Profiles, GPUs from the hub's GPU ledger, a queue when none is free, and reclaim.

    Mix it in before the base spawner::

        class GPULocalProcessSpawner(GPUSpawnerMixin, LocalProcessSpawner): ...

    Before the flavour's ``start`` body runs (``super().start()`` from the mixin), the mixin has
    set ``self.profile`` (a :class:`~mutirao_spawner.profiles.Profile` with the chosen ``image``
    and ``gpus``) and ``self.gpu_uuids`` (the assigned GPU or MIG uuids, ``[]`` for a CPU
    profile); ``self.server_id`` is ``"<user>/<server name>"``.

    A flavour overrides:

    ``apply_assignment(self) -> None``
        Translate ``self.profile`` and ``self.gpu_uuids`` into the base spawner's settings
        (environment, device requests, resource limits, image, CPU and memory). Called after
        the ledger grants, right before ``super().start()``.
    ``async observe_running(self) -> set[str] | None``
        The GPU uuids the running server really holds (container labels, process env), or
        None when it does not run. Reconciliation compares this with the ledger.
    ``async list_running_holders(cls) -> dict[str, set[str]]`` (classmethod, optional)
        Everything running that carries Mutirão's labels or env, server id -> uuids, to find
        holders the ledger does not know. Default: ``{}``.
    ``async stop_holder(cls, server_id) -> list[str]`` (classmethod, optional)
        Stop what runs for ``server_id`` outside the hub's servers (``unknown_gpu_holders =
        "reclaim"``); answers what it stopped, in words. Default: nothing (``[]``).

    The mixin implements ``options_form``, ``run_options_from_form``, ``start``, ``stop``,
    ``poll``, ``progress``, ``get_state``, ``load_state`` and ``clear_state``; a flavour that
    overrides one calls ``super()``.
    """

    # Provided by the base spawner the mixin is combined with (jupyterhub.spawner.Spawner).
    if TYPE_CHECKING:
        user: Any
        name: str
        user_options: dict
        start_timeout: int
        pending: str | None
        active: bool

    # The options (profiles, quotas, queue, inventory, idle GPUs) are in GPUSpawnerOptions.

    # -- set by the mixin --------------------------------------------------------------------

    profile = AnyTrait(None, help="The chosen Profile, set before the flavour's start runs.")
    gpu_uuids: List[str] = List(
        help="The GPU or MIG uuids assigned to this server ([] without GPUs)."
    )
    gpu_since = Float(None, allow_none=True, help="When the GPUs were assigned (epoch seconds).")
    stop_at = Float(None, allow_none=True, help="When max runtime stops the server (epoch s).")

    _gpu_phase: str | None = "deciding"
    _runtime_timer: asyncio.TimerHandle | None = None
    _start_t0: float = 0.0

    @default("start_timeout")
    def _default_start_timeout(self) -> int:
        return int(self.gpu_queue_timeout) + 120

    @default("apply_user_options")
    def _default_apply_user_options(self) -> Any:
        # The options (profile, image, gpus) are checked and applied by start() itself, against
        # the user's teams and the ledger; saying so keeps JupyterHub from logging them as
        # "unhandled user_options" at every spawn.
        return _options_checked_at_start

    @default("options_form")
    def _default_options_form(self) -> Any:
        return type(self)._render_options_form

    @property
    def server_id(self) -> str:
        return f"{self.user.name}/{self.name}"

    @property
    def gpu_service(self) -> GPUService:
        return GPUService.for_spawner(self)

    @property
    def teams(self) -> frozenset[str]:
        """The user's team names: their JupyterHub groups."""
        return frozenset(group.name for group in self.user.groups)

    # -- flavour hooks -----------------------------------------------------------------------

    def apply_assignment(self) -> None:
        """Translate ``self.profile`` and ``self.gpu_uuids`` into the base spawner's settings."""

    async def observe_running(self) -> set[str] | None:
        """The GPU uuids this server really holds, or None when it does not run."""
        status = await self.poll()
        return set(self.gpu_uuids) if status is None else None

    @classmethod
    async def list_running_holders(cls) -> dict[str, set[str]]:
        """Every running server carrying Mutirão's labels or env: server id -> uuids."""
        return {}

    @classmethod
    async def stop_holder(cls, server_id: str) -> list[str]:
        """Stop what runs for ``server_id`` that is not a hub server; what was stopped."""
        return []

    def gpu_environment(self) -> dict[str, str]:
        """Environment for the user server: which GPUs it may see, when it will be stopped, and
        a new room's creator (the spawn option ``room_creator`` the rooms service sets).

        ``CUDA_VISIBLE_DEVICES`` is always set, to ``""`` for a CPU profile, so a server never
        falls back to seeing every GPU of the machine.
        """
        env = {
            "CUDA_VISIBLE_DEVICES": ",".join(self.gpu_uuids),
            "MUTIRAO_SERVER_ID": self.server_id,
            "MUTIRAO_GPU_UUIDS": ",".join(self.gpu_uuids),
        }
        if hub := hub_identity():
            env["MUTIRAO_HUB_ID"] = hub
        if self.profile is not None:
            env["MUTIRAO_PROFILE"] = self.profile.name
        if self.stop_at:
            env["MUTIRAO_STOP_AT"] = str(int(self.stop_at))
            env["MUTIRAO_STOP_WARNING_S"] = str(int(self.max_runtime_warning_s))
        creator = (self.user_options or {}).get("room_creator")
        if isinstance(creator, str) and 0 < len(creator) <= 512 and creator.isprintable():
            # the author of a new room's first commit (mutirao_lab.versioning.birth)
            env["MUTIRAO_ROOM_CREATOR"] = creator
        return env

    # -- configuration resolved per user -----------------------------------------------------

    async def _resolve(self, value: Any) -> Any:
        if callable(value):
            value = value(self)
            if inspect.isawaitable(value):
                value = await value
        return value

    async def resolve_gpu_config(self) -> tuple[list[Profile], dict, Policy]:
        """The profiles, team profiles and ledger policy for this spawner's user."""
        try:
            profiles = parse_profiles(await self._resolve(self.profiles) or [])
            team_profiles = dict(await self._resolve(self.team_profiles) or {})
            team_limits = dict(await self._resolve(self.gpu_limit_per_team) or {})
            policy = Policy(
                per_user_limit=self.gpu_limit_per_user,
                per_team_limit=team_limits,
                team_profiles=team_profiles,
                queue_when_full=self.queue_when_full,
                allow_backfill=self.allow_backfill,
            )
        except (ProfileError, ValueError, TypeError) as e:
            self.log.error("GPU spawner configuration error: %s", e)
            raise GPUSpawnError(f"The hub's profile configuration is invalid: {e}", "config") from e
        return profiles, team_profiles, policy

    # -- the spawn form ----------------------------------------------------------------------

    def _free_of(self, profile: Profile) -> tuple[int, int]:
        ledger = self.gpu_service.ledger
        req = Request("", "", model=profile.gpu_model, mig_profile=profile.mig_profile)
        units = [g for g in ledger.inventory.allocatable() if GPUService._fits(g, req)]
        free = set(ledger.free())
        return sum(1 for g in units if g.uuid in free), len(units)

    async def _render_options_form(self) -> str:
        profiles, team_profiles, _ = await self.resolve_gpu_config()
        return render_options_form(
            allowed_profiles(profiles, team_profiles, self.teams), self._free_of
        )

    def run_options_from_form(self, form_data: dict[str, list[str]]) -> dict[str, Any]:
        """The form's choice as ``user_options``: ``profile``, ``image``, ``gpus`` (strings;
        :meth:`start` checks them)."""
        return options_from_form(form_data)

    def options_from_query(self, query_data: dict) -> dict[str, Any]:
        return self.run_options_from_form(query_data)

    # -- start, stop, poll -------------------------------------------------------------------

    async def check_request(self) -> tuple[Profile, Request | None, Policy]:
        """Check ``user_options`` on the server side; the profile and the ledger request."""
        profiles, team_profiles, policy = await self.resolve_gpu_config()
        options = self.user_options or {}
        if not isinstance(options, dict):
            raise GPUSpawnError("spawn options must be a JSON object", "options")
        try:
            profile = choose(profiles, team_profiles, self.teams, options, self.user.name)
        except ProfileError as e:
            raise GPUSpawnError(f"Cannot start this server: {e}.", "options") from e
        if not profile.gpus:
            return profile, None, policy
        req = Request(
            server_id=self.server_id,
            user=self.user.name,
            teams=self.teams,
            profile=profile.name,
            count=profile.gpus,
            model=profile.gpu_model,
            mig_profile=profile.mig_profile,
        )
        return profile, req, policy

    async def start(self) -> Any:
        self._start_t0 = time.monotonic()
        self._gpu_phase = "deciding"
        self.gpu_uuids = []
        try:
            profile, req, policy = await self.check_request()
            self.profile = profile
            if req is not None:
                await self.gpu_service.settled()
                decision = self.gpu_service.request(req, self, policy)
                if isinstance(decision, Refused):
                    raise GPUSpawnError(
                        f"No GPU for this server: {decision.reason} (GPUs of this kind:"
                        f" {self.gpu_service.next_free(req)}).",
                        "gpu-refused",
                    )
                if isinstance(decision, Queued):
                    decision = await self._wait_in_queue(req)
                self.gpu_uuids = list(decision.gpu_uuids)
                self.log.info("%s got %s", self.server_id, ", ".join(self.gpu_uuids))
            claim = self.gpu_service.ledger.claim(self.server_id) if req is not None else None
            self.gpu_since = claim.since if claim is not None else time.time()
            if profile.max_runtime_s:
                self.stop_at = (self.gpu_since or time.time()) + profile.max_runtime_s
            self._gpu_phase = "starting"
            self.apply_assignment()
            try:
                result = super().start()  # type: ignore[misc]
                if inspect.isawaitable(result):
                    result = await result
            except (asyncio.CancelledError, GPUSpawnError):
                raise
            except Exception as e:
                detail = getattr(e, "log_message", None) or str(e) or type(e).__name__
                gpus = " Its GPUs were returned." if self.gpu_uuids else ""
                raise GPUSpawnError(f"The server could not start: {detail}.{gpus}", "start") from e
            self._arm_max_runtime()
            return result
        except BaseException:
            self._release()
            raise
        finally:
            self._gpu_phase = None

    def _queue_budget(self) -> float:
        left = self.start_timeout - (time.monotonic() - self._start_t0) - 15
        return max(1.0, min(self.gpu_queue_timeout, left))

    async def _wait_in_queue(self, req: Request) -> Granted:
        service = self.gpu_service
        waiter = service.waiter(req.server_id)
        assert waiter is not None, "a queued request always has a waiter"
        self._gpu_phase = "queued"
        self.log.info("%s waits for a GPU: %s", req.server_id, service.queue_message(req.server_id))
        timeout = self._queue_budget()
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), timeout)
        except asyncio.TimeoutError:
            where = service.queue_message(req.server_id) or "waiting for a GPU"
            raise GPUSpawnError(
                f"No GPU became free within {timeout:.0f} seconds. {where}. Try again later,"
                " or pick a profile with fewer GPUs.",
                "gpu-queue-timeout",
            ) from None
        except RuntimeError as e:  # refused while waiting (the inventory changed)
            raise GPUSpawnError(f"No GPU for this server: {e}.", "gpu-refused") from e

    async def progress(self) -> Any:
        last = None
        while self._gpu_phase in ("deciding", "queued"):
            if self._gpu_phase == "queued":
                message = self.gpu_service.queue_message(self.server_id)
                if message and message != last:
                    yield {"progress": 10, "message": message}
                    last = message
            await asyncio.sleep(0.5)
        if self.gpu_uuids:
            yield {"progress": 40, "message": f"Assigned GPU {', '.join(self.gpu_uuids)}"}
        async for event in super().progress():  # type: ignore[misc]
            yield event

    async def stop(self, now: bool = False) -> None:
        self._cancel_max_runtime()
        try:
            await super().stop(now=now)  # type: ignore[misc]
        finally:
            self._release()

    async def poll(self) -> int | None:
        status = await super().poll()  # type: ignore[misc]
        if status is not None and self._gpu_phase is None:
            self._release()
        return status

    def _release(self) -> None:
        self._cancel_max_runtime()
        service = GPUService.current()
        if service is not None:
            owner = service.spawners.get(self.server_id, self)
            if owner is self or owner is None:
                if service.ledger.claim(self.server_id) or self.server_id in service.waiters:
                    service.release(self.server_id)
                else:
                    service.ledger.cancel(self.server_id, time.time())
        self.gpu_uuids = []

    # -- max runtime -------------------------------------------------------------------------

    def _arm_max_runtime(self) -> None:
        if not self.stop_at or self.profile is None:
            return
        self._cancel_max_runtime()
        self.gpu_service.stop_at[self.server_id] = self.stop_at
        delay = max(0.0, self.stop_at - time.time())
        loop = asyncio.get_running_loop()
        self._runtime_timer = loop.call_later(
            delay, lambda: asyncio.ensure_future(self._max_runtime_reached())
        )

    def _cancel_max_runtime(self) -> None:
        if self._runtime_timer is not None:
            self._runtime_timer.cancel()
            self._runtime_timer = None

    async def _max_runtime_reached(self) -> None:
        self._runtime_timer = None
        while self.pending == "spawn":  # noqa: ASYNC110 - still coming up: stop it once up
            await asyncio.sleep(1)
        if not self.active:
            return
        runtime = self.profile.max_runtime_s if self.profile else None
        reason = f"it reached the maximum runtime of its profile ({runtime} s)"
        GPUService.for_spawner(self).report(
            "max-runtime", f"{self.server_id}: {reason}; stopping it"
        )
        await stop_server(self, reason, self.log)

    async def restart_without_gpus(self, reason: str) -> None:
        """``idle_gpu_action = "release"``: stop, then start again with a profile without GPUs."""
        profiles, team_profiles, _ = await self.resolve_gpu_config()
        cpu = next(
            (p for p in allowed_profiles(profiles, team_profiles, self.teams) if 0 in p.gpu_counts),
            None,
        )
        user, name = self.user, self.name
        await stop_server(self, reason, self.log)
        if cpu is None:
            self.log.warning("%s has no profile without GPUs; it stays stopped", self.server_id)
            return
        options: dict[str, Any] = {"profile": cpu.name, "gpus": 0}
        if self.profile is not None and self.profile.image in cpu.images:
            options["image"] = self.profile.image
        await user.spawn(name, options=options)
        proxy = user.settings.get("proxy")
        if proxy is not None:
            await proxy.add_user(user, name)

    # -- state across hub restarts -----------------------------------------------------------

    def get_state(self) -> dict:
        state = super().get_state()  # type: ignore[misc]
        if self.profile is not None:
            claim = None
            service = GPUService.current()
            if service is not None:
                claim = service.ledger.claim(self.server_id)
            state["mutirao"] = {
                "profile": self.profile.name,
                "image": self.profile.image,
                "gpus": self.profile.gpus,
                "max_runtime_s": self.profile.max_runtime_s,
                "gpu_uuids": list(self.gpu_uuids),
                "since": self.gpu_since,
                "stop_at": self.stop_at,
                "teams": sorted(claim.teams if claim else self.teams),
                "charge_team": claim.charge_team if claim else None,
            }
        return state

    def load_state(self, state: dict) -> None:
        super().load_state(state)  # type: ignore[misc]
        saved = state.get("mutirao") if isinstance(state, dict) else None
        # a hub restarting with servers running starts reconciling with what runs at once,
        # even when no saved state names a GPU (holders the ledger lost are found that way)
        self.gpu_service  # noqa: B018
        if not saved:
            return
        image = saved.get("image")
        self.profile = Profile(
            name=saved.get("profile") or "",
            images=(image,) if image else (),
            image=image,
            gpu_counts=(min(int(saved.get("gpus") or 0), MAX_GPUS),),
            gpus=min(int(saved.get("gpus") or 0), MAX_GPUS),
            max_runtime_s=saved.get("max_runtime_s"),
        )
        self.gpu_uuids = list(saved.get("gpu_uuids") or [])
        self.gpu_since = saved.get("since")
        self.stop_at = saved.get("stop_at")
        self._gpu_phase = None
        if self.gpu_uuids:
            self._adopt_saved(saved)
        with suppress(RuntimeError):  # no event loop (a script reading state): no timer
            self._arm_max_runtime()

    def _adopt_saved(self, saved: dict) -> None:
        service = self.gpu_service
        existing = service.ledger.claim(self.server_id)
        if existing is not None and set(existing.gpu_uuids) == set(self.gpu_uuids):
            service.spawners[self.server_id] = self
            return
        claim = Claim(
            self.server_id,
            self.user.name,
            frozenset(saved.get("teams") or ()),
            tuple(self.gpu_uuids),
            float(saved.get("since") or time.time()),
            saved.get("charge_team"),
            saved.get("profile"),
        )
        decision = service.adopt(claim, self)
        if isinstance(decision, Refused):
            service.report(
                "conflict",
                f"{self.server_id} was saved holding {', '.join(self.gpu_uuids)} but"
                f" {decision.reason}; it keeps running without a ledger entry",
                server=self.server_id,
            )
        else:
            self.log.info("Re-adopted %s for %s", ", ".join(self.gpu_uuids), self.server_id)

    def clear_state(self) -> None:
        super().clear_state()  # type: ignore[misc]
        self.profile = None
        self.gpu_uuids = []
        self.gpu_since = None
        self.stop_at = None
