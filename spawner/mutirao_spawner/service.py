"""The GPU service: the one GPU ledger of a hub process, and everything around it that does IO.

The ledger (:mod:`.ledger`) decides; this service moves data in and out of it:

- requests from spawners, timed (``mutirao_gpu_decision_seconds``) and turned into waiters: a
  queued spawn awaits an :class:`asyncio.Future` that is resolved when a release grants it;
- the inventory, from declared ``gpus`` or NVML, refreshed every ``gpu_refresh_interval``: a
  vanished GPU is logged and reported on the admin page, never crashed on; a failing NVML call
  keeps the last inventory (a driver hiccup must not look like every GPU vanishing);
- reconciliation with what really runs (each spawner's ``observe_running`` and the flavour's
  ``list_running_holders``): stale entries are released, unknown holders reported, adopted or
  reclaimed per ``unknown_gpu_holders``;
- idle sampling (``nvmlDeviceGetUtilizationRates``) every ``idle_sample_interval`` and the idle
  action per ``idle_gpu_action``; the decision itself is pure (:mod:`.idle`);
- the admin page's snapshot and the Prometheus gauges (:mod:`.metrics`).

There is one service per hub process (:meth:`GPUService.for_spawner` creates it from the first
spawner's hub-wide options); its state lives on the hub's event loop, so no lock is needed.
NVML calls (discovery, utilisation) run on one thread of their own (NVML may block for seconds
on a busy or failing driver, and is not re-entrant everywhere), so the hub keeps answering
while they do; the first NVML discovery happens there too, before the first GPU decision.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib
import inspect
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import Any, ClassVar

from . import idle, looplag, metrics
from .identity import hub_identity
from .inventory import Inventory, discover_nvml, inventory_from_config
from .ledger import Claim, Decision, Granted, Ledger, Policy, Queued, Refused, Request

__all__ = ["GPUService", "hub_identity", "stop_server"]


def _clock(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(epoch))


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


async def stop_server(spawner: Any, reason: str, log: logging.Logger) -> None:
    """Stop a running server from the hub side, as an admin's stop through the REST API does:
    the proxy route first, then ``user.stop`` (which calls the spawner's ``stop``)."""
    if spawner.pending:
        log.info("Not stopping %s (%s): it is %s", spawner._log_name, reason, spawner.pending)
        return
    log.warning("Stopping %s: %s", spawner._log_name, reason)
    proxy = spawner.user.settings.get("proxy")
    if proxy is not None:
        try:
            await proxy.delete_user(spawner.user, spawner.name)
        except Exception:
            log.exception("Could not remove %s from the proxy", spawner._log_name)
    await spawner.user.stop(spawner.name)


class GPUService:
    """One hub process's GPU ledger, waiters, periodic refresh/reconcile and idle sampling."""

    _current: ClassVar[GPUService | None] = None

    def __init__(
        self,
        *,
        discovery: str = "none",
        declared: list[dict] | None = None,
        nvml_module: str = "pynvml",
        policy: Policy | None = None,
        refresh_interval: float = 60,
        idle_sample_interval: float = 60,
        idle_window: float = 3600,
        idle_threshold: float = 5,
        idle_action: str = "none",
        unknown_holders: str = "report",
        flavours: tuple[Any, ...] = (),
        log: logging.Logger | None = None,
    ) -> None:
        self.log = log or logging.getLogger("mutirao.gpus")
        self.discovery = discovery
        self.declared = list(declared or [])
        self.nvml_module = nvml_module
        self.refresh_interval = refresh_interval
        self.idle_sample_interval = idle_sample_interval
        self.idle_window = idle_window
        self.idle_threshold = idle_threshold
        self.idle_action = idle_action
        self.unknown_holders = unknown_holders
        self.flavours = flavours
        policy = policy or Policy()
        policy = replace(policy, adopt_unknown=unknown_holders == "adopt")
        self._nvml_thread = _DaemonThread("mutirao-nvml")
        # NVML's inventory comes from the first round (on the NVML thread); see settled()
        initial = Inventory() if discovery == "nvml" else self.discover(initial=True)
        self.ledger = Ledger(initial, policy)
        self.spawners: dict[str, Any] = {}  # server id -> spawner, for servers in the ledger
        self.waiters: dict[str, asyncio.Future] = {}
        self.stop_at: dict[str, float] = {}  # server id -> max-runtime end (epoch seconds)
        self.samples: dict[str, deque] = {}
        self.utilisation: dict[str, float] = {}
        self.idle: set[str] = set()
        self.reports: deque[dict] = deque(maxlen=200)
        self.decision_ms: deque[float] = deque(maxlen=20000)
        self._tasks: list[asyncio.Task] = []
        self._first_round: asyncio.Task | None = None
        metrics.update(self.ledger, self.utilisation)

    # -- one per hub process ---------------------------------------------------------------------

    @classmethod
    def current(cls) -> GPUService | None:
        return cls._current

    @classmethod
    def for_spawner(cls, spawner: Any) -> GPUService:
        """The hub's service; the first spawner's hub-wide options create it."""
        if cls._current is None:
            cls._current = cls(
                discovery=spawner.gpu_discovery,
                declared=spawner.gpus,
                nvml_module=spawner.nvml_module,
                policy=Policy(
                    per_user_limit=spawner.gpu_limit_per_user,
                    queue_when_full=spawner.queue_when_full,
                    allow_backfill=spawner.allow_backfill,
                ),
                refresh_interval=spawner.gpu_refresh_interval,
                idle_sample_interval=spawner.idle_sample_interval,
                idle_window=spawner.idle_gpu_window,
                idle_threshold=spawner.idle_gpu_threshold,
                idle_action=spawner.idle_gpu_action,
                unknown_holders=spawner.unknown_gpu_holders,
                flavours=(type(spawner),),
                log=spawner.log,
            )
        service = cls._current
        service.start_background()
        return service

    @classmethod
    def reset(cls) -> None:
        """Forget the service (tests; a hub has one for its lifetime)."""
        if cls._current is not None:
            for task in cls._current._tasks:
                task.cancel()
        cls._current = None

    def start_background(self) -> None:
        """Start the periodic tasks once an event loop runs (the hub's)."""
        if self._tasks:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        looplag.start_hub_probe()
        self._first_round = asyncio.ensure_future(self._reconcile_once_started())
        self._tasks = [
            self._first_round,
            asyncio.ensure_future(self._every(self.refresh_interval, self.refresh_and_reconcile)),
        ]
        if self.discovery == "nvml" and self.idle_sample_interval > 0:
            self._tasks.append(
                asyncio.ensure_future(self._every(self.idle_sample_interval, self.sample_idle))
            )

    async def _reconcile_once_started(self) -> None:
        """The first NVML discovery, then the first reconciliation as soon as the hub has
        loaded the servers it knew (before that, a server not yet loaded would look like an
        unknown holder)."""
        if self.discovery == "nvml":
            try:
                self._apply_inventory(await self.discover_async(initial=True), time.time())
            except Exception:
                self.log.exception("GPU service: the first NVML discovery failed")
        await _hub_started()
        try:
            await self.refresh_and_reconcile()
        except Exception:
            self.log.exception("GPU service: the first reconciliation failed")

    async def settled(self) -> None:
        """Wait for the first reconciliation, so that the first GPU decisions after a hub start
        know the holders found then (adopted ones are not handed out again)."""
        self.start_background()
        if self._first_round is not None and not self._first_round.done():
            await asyncio.shield(self._first_round)

    async def _every(self, interval: float, step: Callable) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                result = step()
                if inspect.isawaitable(result):
                    await result
            except Exception:
                self.log.exception(
                    "GPU service: %s failed; trying again in %ss", step.__name__, interval
                )

    def report(self, kind: str, message: str, **details: Any) -> None:
        """Log a finding and keep it for the admin page.

        A finding made again (the same unknown holder at every reconciliation) is not listed
        twice: its entry counts it (``count``) and says when it was last made (``last_time``).
        """
        now = time.time()
        for entry in self.reports:
            if (entry["kind"], entry["message"]) == (kind, message) and all(
                entry.get(k) == v for k, v in details.items()
            ):
                entry["count"] += 1
                entry["last_time"] = now
                self.log.debug("GPU %s (again): %s", kind, message)
                return
        self.log.warning("GPU %s: %s", kind, message)
        self.reports.append(
            {"kind": kind, "message": message, "time": now, "last_time": now, "count": 1, **details}
        )

    # -- the inventory ---------------------------------------------------------------------------

    def _nvml(self) -> Any:
        return importlib.import_module(self.nvml_module)

    async def on_nvml_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` on the NVML thread, awaited from the hub's event loop."""
        return await asyncio.wrap_future(self._nvml_thread.submit(fn, *args))

    def discover(self, initial: bool = False) -> Inventory:
        """The current inventory; on an NVML error, the empty one at start, else the last one.

        Synchronous: for declared GPUs and tests. The hub uses :meth:`discover_async`."""
        if self.discovery == "config":
            return inventory_from_config(self.declared)
        if self.discovery != "nvml":
            return Inventory()
        try:
            return discover_nvml(self._nvml())
        except Exception as e:
            return self._discovery_failed(e, initial)

    async def discover_async(self, initial: bool = False) -> Inventory:
        """:meth:`discover`, with NVML called on the NVML thread."""
        if self.discovery != "nvml":
            return self.discover(initial)
        try:
            return await self.on_nvml_thread(discover_nvml, self._nvml())
        except Exception as e:
            return self._discovery_failed(e, initial)

    def _discovery_failed(self, e: Exception, initial: bool) -> Inventory:
        if initial:
            self.log.warning("No GPUs: NVML discovery failed (%s); only CPU profiles work", e)
            return Inventory()
        self.log.warning("NVML discovery failed (%s); keeping the last inventory", e)
        return self.ledger.inventory

    def refresh(self, now: float | None = None) -> None:
        """Discover the inventory again (synchronously) and apply it."""
        self._apply_inventory(self.discover(), time.time() if now is None else now)

    async def refresh_async(self, now: float | None = None) -> None:
        """:meth:`refresh` with NVML off the event loop."""
        inventory = await self.discover_async()
        self._apply_inventory(inventory, time.time() if now is None else now)

    def _apply_inventory(self, inventory: Inventory, now: float) -> None:
        report = self.ledger.refresh(inventory, now)
        for uuid in report.appeared:
            self.log.info("GPU %s appeared", uuid)
        for uuid in report.disappeared:
            holder = report.orphaned.get(uuid)
            held = f"; {holder} keeps it until it stops" if holder else ""
            self.report("vanished", f"GPU {uuid} is no longer in the inventory{held}", uuid=uuid)
        self._settle(report.granted, report.refused)

    async def refresh_and_reconcile(self) -> None:
        await self.refresh_async()
        await self.reconcile()
        metrics.update(self.ledger, self.utilisation)

    # -- requests and waiters ----------------------------------------------------------------------

    def request(
        self, req: Request, spawner: Any, policy: Policy | None = None, now: float | None = None
    ) -> Decision:
        """Decide ``req`` under ``policy`` (the quotas resolved for this spawner)."""
        now = time.time() if now is None else now
        if policy is not None:
            self.ledger.policy = replace(policy, adopt_unknown=self.ledger.policy.adopt_unknown)
        t0 = time.perf_counter()
        decision = self.ledger.request(req, now)
        elapsed = time.perf_counter() - t0
        self.decision_ms.append(elapsed * 1000)
        metrics.DECISION_SECONDS.observe(elapsed)
        if not isinstance(decision, Refused):
            self.spawners[req.server_id] = spawner
        if isinstance(decision, Queued):
            self.waiters[req.server_id] = asyncio.get_running_loop().create_future()
        metrics.update(self.ledger, self.utilisation)
        return decision

    def waiter(self, server_id: str) -> asyncio.Future | None:
        return self.waiters.get(server_id)

    def release(self, server_id: str, now: float | None = None) -> None:
        """Forget a server (stopped, failed, cancelled); hand its GPUs to the queue."""
        now = time.time() if now is None else now
        waiter = self.waiters.pop(server_id, None)
        if waiter is not None and not waiter.done():
            waiter.cancel()
        held = self.ledger.claim(server_id)
        self.spawners.pop(server_id, None)
        self.stop_at.pop(server_id, None)
        self.idle.discard(server_id)
        granted = self.ledger.release(server_id, now)
        if held is not None:
            self.log.info("Released %s from %s", ", ".join(held.gpu_uuids), server_id)
        self._settle(granted, ())

    def _settle(self, granted: list[Granted] | tuple, refused: tuple) -> None:
        for decision in granted:
            waiter = self.waiters.pop(decision.server_id, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(decision)
            else:  # nobody waits any more: give the GPUs straight back
                self.log.warning("%s was granted GPUs nobody waits for", decision.server_id)
                asyncio.get_running_loop().call_soon(self.release, decision.server_id)
        for decision in refused:
            waiter = self.waiters.pop(decision.server_id, None)
            self.spawners.pop(decision.server_id, None)
            if waiter is not None and not waiter.done():
                waiter.set_exception(RuntimeError(decision.reason))
        metrics.update(self.ledger, self.utilisation)

    def adopt(self, claim: Claim, spawner: Any | None) -> Decision:
        decision = self.ledger.adopt(claim)
        if isinstance(decision, Granted):
            if spawner is not None:
                self.spawners[claim.server_id] = spawner
            metrics.update(self.ledger, self.utilisation)
        return decision

    # -- what users and admins read --------------------------------------------------------------

    def next_free(self, req: Request) -> str:
        """When GPUs like the ones ``req`` asks for free up, as a phrase."""
        holders = {
            claim.server_id
            for uuid, claim in self.ledger.holdings().items()
            if (gpu := self.ledger.inventory.get(uuid)) is not None and self._fits(gpu, req)
        }
        ends = sorted((self.stop_at[h], h) for h in holders if h in self.stop_at)
        if ends:
            return (
                f"next frees at {_clock(ends[0][0])}, when {ends[0][1]} reaches its maximum runtime"
            )
        if holders:
            return "next frees when one of their servers stops (none has a maximum runtime)"
        return "none is held"

    @staticmethod
    def _fits(gpu: Any, req: Request) -> bool:
        if (gpu.profile if gpu.is_mig else None) != req.mig_profile:
            return False
        return req.model is None or gpu.model.casefold() == req.model.casefold()

    def queue_message(self, server_id: str) -> str | None:
        position = self.ledger.queue_position(server_id)
        if position is None:
            return None
        req = next(r for r in self.ledger.queue() if r.server_id == server_id)
        units = [g for g in self.ledger.inventory.allocatable() if self._fits(g, req)]
        held = sum(1 for g in units if g.uuid in self.ledger.holdings())
        models = sorted({g.model for g in units}) or [req.model or "any"]
        kind = "GPUs" if req.mig_profile is None else f"MIG {req.mig_profile} instances"
        return (
            f"Waiting for a GPU: position {position} in the queue ({held} of {len(units)} {kind}"
            f" of model {', '.join(models)} held; {self.next_free(req)})"
        )

    def snapshot(self) -> dict:
        """What the admin page and ``GET /hub/api/mutirao/gpus`` show."""
        holdings = self.ledger.holdings()
        gpus = []
        for gpu in self.ledger.inventory:
            claim = holdings.get(gpu.uuid)
            gpus.append(
                {
                    "uuid": gpu.uuid,
                    "index": gpu.index,
                    "model": gpu.model,
                    "memory_mib": gpu.memory_mib,
                    "mig_profile": gpu.profile,
                    "parent_uuid": gpu.parent_uuid,
                    "allocatable": gpu.is_mig or not gpu.mig_enabled,
                    "present": True,
                    "holder": claim.server_id if claim else None,
                    "user": claim.user if claim else None,
                    "team": claim.charge_team if claim else None,
                    "since": claim.since if claim else None,
                    "stop_at": self.stop_at.get(claim.server_id) if claim else None,
                    "idle": bool(claim and claim.server_id in self.idle),
                    "utilization": self.utilisation.get(gpu.uuid),
                }
            )
        for uuid in self.ledger.gone():
            claim = holdings[uuid]
            gpus.append(
                {"uuid": uuid, "present": False, "holder": claim.server_id, "user": claim.user,
                 "team": claim.charge_team, "since": claim.since, "allocatable": True,
                 "stop_at": self.stop_at.get(claim.server_id), "idle": False, "utilization": None}
            )  # fmt: skip
        queue = [
            {"server_id": r.server_id, "user": r.user, "position": i, "count": r.count,
             "model": r.model, "mig_profile": r.mig_profile, "team": r.charge_team,
             "profile": r.profile}
            for i, r in enumerate(self.ledger.queue(), 1)
        ]  # fmt: skip
        ms = sorted(self.decision_ms)
        decisions: dict[str, float] = {"count": len(ms)}
        if ms:
            decisions["p50_ms"] = ms[len(ms) // 2]
            decisions["p99_ms"] = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
        return {"gpus": gpus, "queue": queue, "reports": list(self.reports), "decisions": decisions}

    # -- reconciling with what runs --------------------------------------------------------------

    async def reconcile(self) -> None:
        running: dict[str, set[str]] = {}
        for server_id, spawner in list(self.spawners.items()):
            claim = self.ledger.claim(server_id)
            if claim is None:
                continue  # queued: nothing runs yet
            if spawner is None or spawner.pending:
                running[server_id] = set(claim.gpu_uuids)  # starting or stopping: as recorded
                continue
            try:
                observed = await spawner.observe_running()
            except Exception:
                self.log.exception("Could not observe %s; keeping its GPUs", server_id)
                observed = set(claim.gpu_uuids)
            if observed is not None:
                running[server_id] = set(observed)
        for flavour in self.flavours:
            try:
                holders = await flavour.list_running_holders()
            except Exception:
                self.log.exception("%s.list_running_holders failed", flavour.__name__)
                continue
            for server_id, uuids in holders.items():
                if server_id not in running and (
                    server_id not in self.spawners or self.ledger.claim(server_id) is None
                ):
                    running[server_id] = set(uuids)
        report = self.ledger.reconcile(running)
        for server_id in report.stale:
            self.report(
                "stale", f"{server_id} no longer runs; its GPUs are released", server=server_id
            )
            self.release(server_id)
        for mismatch in report.mismatched:
            self.report(
                "mismatch",
                f"{mismatch.server_id} holds {', '.join(mismatch.recorded) or 'no GPU'} in the"
                f" ledger but sees {', '.join(mismatch.observed) or 'none'}",
                server=mismatch.server_id,
            )
        for unknown in report.unknown:
            await self._unknown(unknown)

    async def _unknown(self, unknown: Any) -> None:
        gpus = ", ".join(unknown.gpu_uuids)
        if self.unknown_holders == "adopt" and unknown.action == "adopt":
            user = unknown.server_id.split("/", 1)[0]
            claim = Claim(unknown.server_id, user, frozenset(), unknown.gpu_uuids, time.time())
            if isinstance(self.adopt(claim, None), Granted):
                self.spawners[unknown.server_id] = None
                self.report(
                    "adopted",
                    f"{unknown.server_id} runs with {gpus}; adopted",
                    server=unknown.server_id,
                )
                return
        if self.unknown_holders == "reclaim":
            spawner = _hub_spawner(unknown.server_id)
            if spawner is not None:
                self.report(
                    "reclaimed",
                    f"{unknown.server_id} runs with {gpus} ({unknown.reason}); stopping it",
                    server=unknown.server_id,
                )
                await stop_server(spawner, "it holds GPUs the ledger did not give it", self.log)
                return
            # not a hub server (a container started by hand, a server whose hub record is
            # gone): the flavour that found it stops it
            stopped = await self._stop_holder(unknown.server_id)
            if stopped:
                self.report(
                    "reclaimed",
                    f"{unknown.server_id} runs with {gpus} ({unknown.reason}); stopped "
                    + ", ".join(stopped),
                    server=unknown.server_id,
                )
                return
        self.report(
            "unknown",
            f"{unknown.server_id} runs with {gpus} ({unknown.reason})",
            server=unknown.server_id,
        )

    async def _stop_holder(self, server_id: str) -> list[str]:
        stopped: list[str] = []
        for flavour in self.flavours:
            try:
                stopped += await flavour.stop_holder(server_id)
            except Exception:
                self.log.exception("%s.stop_holder(%r) failed", flavour.__name__, server_id)
        return stopped

    # -- idle GPUs -------------------------------------------------------------------------------

    def read_utilisation(self, uuids: list[str]) -> dict[str, float]:
        """NVML utilisation of each GPU that NVML can measure (MIG instances cannot)."""
        nvml = self._nvml()
        found: dict[str, float] = {}
        nvml.nvmlInit()
        try:
            for uuid in uuids:
                try:
                    handle = nvml.nvmlDeviceGetHandleByUUID(uuid)
                    found[uuid] = float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
                except nvml.NVMLError:
                    continue
        finally:
            nvml.nvmlShutdown()
        return found

    async def sample_idle(self, now: float | None = None) -> list[str]:
        """Sample utilisation, decide which servers are idle, act per ``idle_gpu_action``."""
        now = time.time() if now is None else now
        units = [g.uuid for g in self.ledger.inventory.allocatable()]
        self.utilisation = await self.on_nvml_thread(self.read_utilisation, units)
        holdings = {c.server_id: c.gpu_uuids for c in self.ledger.holdings().values()}
        held = {u for uuids in holdings.values() for u in uuids}
        for uuid, value in self.utilisation.items():
            idle.record(self.samples.setdefault(uuid, deque()), now, value, self.idle_window)
        for uuid in list(self.samples):
            if uuid not in held:
                self.samples[uuid].clear()  # a new holder starts a new window
        found = idle.idle_servers(
            holdings, self.samples, now, self.idle_window, self.idle_threshold
        )
        self.idle = set(found)
        metrics.update(self.ledger, self.utilisation)
        for server_id in found:
            await self._idle_action(server_id)
        return found

    async def _idle_action(self, server_id: str) -> None:
        spawner = self.spawners.get(server_id)
        reason = f"its GPUs were under {self.idle_threshold:g}% for {_duration(self.idle_window)}"
        if self.idle_action == "none" or spawner is None:
            self.log.info("%s: %s", server_id, reason)
            return
        claim = self.ledger.claim(server_id)
        for uuid in claim.gpu_uuids if claim is not None else ():
            self.samples.pop(uuid, None)
        if self.idle_action == "release":
            self.report(
                "idle", f"{server_id}: {reason}; restarting it without GPUs", server=server_id
            )
            await spawner.restart_without_gpus(reason)
        else:
            self.report("idle", f"{server_id}: {reason}; stopping it", server=server_id)
            await stop_server(spawner, reason, self.log)


class _DaemonThread:
    """One daemon thread running the calls submitted to it, in order.

    Not a ThreadPoolExecutor: the interpreter waits for those threads at exit, and a hung
    NVML call must not keep a stopping hub alive."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._calls: queue.SimpleQueue[tuple[concurrent.futures.Future, Callable, tuple]] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None

    def submit(self, fn: Callable[..., Any], *args: Any) -> concurrent.futures.Future:
        done: concurrent.futures.Future = concurrent.futures.Future()
        self._calls.put((done, fn, args))
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()
        return done

    def _run(self) -> None:
        while True:
            done, fn, args = self._calls.get()
            if not done.set_running_or_notify_cancel():
                continue
            try:
                done.set_result(fn(*args))
            except BaseException as e:
                done.set_exception(e)


async def _hub_started() -> None:
    """Wait until the hub has started (it has loaded the servers of its database); at once
    outside a hub."""
    try:
        from jupyterhub.app import JupyterHub
    except ImportError:  # pragma: no cover
        return
    if not JupyterHub.initialized():
        return
    # set at the end of JupyterHub.start(), after init_spawners (JupyterHub 2 to 6)
    started = getattr(JupyterHub.instance(), "_start_future", None)
    if isinstance(started, asyncio.Future) and not started.done():
        await asyncio.shield(started)


def _hub_spawner(server_id: str) -> Any:
    """The hub's spawner for ``server_id`` if that server is a hub server, else None."""
    try:
        from jupyterhub.app import JupyterHub
    except ImportError:  # pragma: no cover
        return None
    if not JupyterHub.initialized():
        return None
    user_name, _, server_name = server_id.partition("/")
    try:
        user = JupyterHub.instance().users[user_name]  # looked up by name in the hub's database
    except KeyError:
        return None
    spawner = user.spawners.get(server_name)
    return spawner if spawner is not None and spawner.active else None
