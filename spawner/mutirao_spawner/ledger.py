"""The GPU ledger: which GPU (or MIG instance) belongs to which server.

Pure decision code: no IO, no clock, no locks. The spawner moves data in (requests, the
inventory, saved state, what really runs) and acts on what comes out (decisions and reports).

Contract
- :class:`Ledger` is a mutating state machine: each method changes the ledger in place and returns
  what changed. It is not thread-safe; the hub calls it from its one event loop, and every method
  is synchronous and returns in microseconds.
- Time comes from the caller as ``now`` (epoch seconds) and is only recorded, as ``since``.
- A GPU is never given to two servers: each allocatable unit is free, held by one server, or gone.

Policy (what admins read in the docs)
- Profiles: a profile listed for any team in ``Policy.team_profiles`` may be used only by those
  teams; a profile listed for no team is open to everyone.
- Quotas count allocatable units (a whole GPU or one MIG instance counts 1), held *and* queued, so
  a grant from the queue can never push anyone over a quota.
- A user in several teams is charged to one: ``Request.charge_team``, or when the spawner leaves it
  empty, the first team in alphabetical order that may use the profile.
- Checks run in this order: known server, count, profile, quotas, whether the request could ever
  fit this inventory (if not: refused, not queued), and only then free GPUs.
- The queue is strict FIFO: while its head is blocked, no later request is granted, even one that
  would fit. ``Policy.allow_backfill`` lets later requests take GPUs the head cannot use.
- A GPU that disappears stays with the server holding it (its container may still map the
  device, so giving it to anyone else could double-book it) and is reported; it is never granted
  while gone. Queued requests that can no longer fit are refused and reported.
- A hub restart rebuilds the holdings from saved claims; the queue is not rebuilt (the hub fails
  pending spawns on restart). Of two saved claims on one GPU the older (then lower server id) wins
  and the other is dropped whole and reported. :meth:`Ledger.reconcile` only reports.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from .inventory import GPU, Inventory

__all__ = [
    "Claim", "Conflict", "Decision", "Granted", "Ledger", "Mismatch", "Policy", "Queued",
    "RebuildReport", "ReconcileReport", "RefreshReport", "Refused", "Request", "Unknown",
]  # fmt: skip


@dataclass(frozen=True)
class Request:
    """What a server asks for. ``server_id`` is unique per server, e.g. ``"alice/train"``.

    ``mig_profile=None`` asks for whole GPUs, otherwise for MIG instances of that profile;
    ``model`` (compared case-insensitively with the NVML name) narrows either.
    """

    server_id: str
    user: str
    teams: frozenset[str] = frozenset()
    profile: str = "default"
    count: int = 1
    model: str | None = None
    mig_profile: str | None = None
    charge_team: str | None = None


@dataclass(frozen=True)
class Policy:
    """Quotas, profile rules and queue behaviour; see the module docstring for their meaning.

    ``adopt_unknown`` decides what :meth:`Ledger.reconcile` proposes for a running server holding
    GPUs that the ledger does not know: ``"adopt"`` them (when they are free) or ``"reclaim"``.
    """

    per_user_limit: int | None = None
    per_team_limit: Mapping[str, int] = field(default_factory=dict)
    team_profiles: Mapping[str, Collection[str]] = field(default_factory=dict)
    queue_when_full: bool = True
    allow_backfill: bool = False
    adopt_unknown: bool = False
    _profile_teams: dict[str, frozenset[str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        limits = {"per_user_limit": self.per_user_limit, **self.per_team_limit}
        for name, limit in limits.items():
            if limit is not None and (not isinstance(limit, int) or limit < 0):
                raise ValueError(f"GPU quota {name} must be a whole number >= 0, not {limit!r}")
        teams: dict[str, set[str]] = {}
        for team, profiles in self.team_profiles.items():
            for profile in profiles:
                teams.setdefault(profile, set()).add(team)
        object.__setattr__(self, "_profile_teams", {p: frozenset(t) for p, t in teams.items()})

    def teams_for(self, profile: str) -> frozenset[str] | None:
        """The teams that may use ``profile``, or None when it is open to everyone."""
        return self._profile_teams.get(profile)

    def charge_team_for(self, teams: Iterable[str], profile: str) -> str | None:
        """The team charged by default: the first, alphabetically, that may use ``profile``."""
        allowed = self.teams_for(profile)
        return min((t for t in teams if allowed is None or t in allowed), default=None)


@dataclass(frozen=True)
class Granted:
    server_id: str
    gpu_uuids: tuple[str, ...]


@dataclass(frozen=True)
class Queued:
    server_id: str
    position: int  # 1 is next


@dataclass(frozen=True)
class Refused:
    server_id: str
    reason: str  # a sentence for the spawn page


Decision = Granted | Queued | Refused


@dataclass(frozen=True)
class Claim:
    """A server's holding: what the spawner saves in its state and :meth:`Ledger.rebuild` reads."""

    server_id: str
    user: str
    teams: frozenset[str]
    gpu_uuids: tuple[str, ...]
    since: float
    charge_team: str | None = None
    profile: str | None = None


@dataclass(frozen=True)
class RefreshReport:
    """What an inventory change did; ``orphaned`` maps vanished GPUs to the servers holding them."""

    appeared: tuple[str, ...] = ()
    disappeared: tuple[str, ...] = ()
    orphaned: Mapping[str, str] = field(default_factory=dict)
    granted: tuple[Granted, ...] = ()
    refused: tuple[Refused, ...] = ()


@dataclass(frozen=True)
class Conflict:
    """Two saved claims on the same GPUs: ``kept`` holds them, ``dropped`` got nothing."""

    kept: str
    dropped: str
    gpu_uuids: tuple[str, ...]


@dataclass(frozen=True)
class RebuildReport:
    conflicts: tuple[Conflict, ...] = ()
    missing: Mapping[str, str] = field(default_factory=dict)  # held GPU not in inventory -> server


@dataclass(frozen=True)
class Unknown:
    """A running server holding GPUs the ledger has not given it, and what to do about it."""

    server_id: str
    gpu_uuids: tuple[str, ...]
    action: Literal["adopt", "reclaim"]
    reason: str


@dataclass(frozen=True)
class Mismatch:
    server_id: str
    recorded: tuple[str, ...]
    observed: tuple[str, ...]


@dataclass(frozen=True)
class ReconcileReport:
    """``stale``: ledger entries with nothing running, to release."""

    unknown: tuple[Unknown, ...] = ()
    stale: tuple[str, ...] = ()
    mismatched: tuple[Mismatch, ...] = ()

    @property
    def clean(self) -> bool:
        return not (self.unknown or self.stale or self.mismatched)


def _as_claim(saved: Claim | tuple) -> Claim:
    claim = saved if isinstance(saved, Claim) else Claim(*saved)
    return replace(claim, teams=frozenset(claim.teams), gpu_uuids=tuple(claim.gpu_uuids))


def _what(req: Request, n: int) -> str:
    kind = "GPU" if req.mig_profile is None else f"MIG {req.mig_profile} instance"
    of = f" ({req.model})" if req.model else ""
    return f"{n} {kind}{'' if n == 1 else 's'}{of}"


class Ledger:
    """Exclusive assignment of an inventory's allocatable units to servers, with a FIFO queue."""

    def __init__(self, inventory: Inventory, policy: Policy | None = None) -> None:
        self.policy = policy or Policy()
        self._claims: dict[str, Claim] = {}
        self._owner: dict[str, str] = {}  # uuid -> server_id, gone GPUs included
        self._queue: dict[str, Request] = {}  # insertion order is queue order
        self._held: Counter[tuple[str, str]] = Counter()  # ("user"|"team", name) -> units
        self._waiting: Counter[tuple[str, str]] = Counter()
        self._set_inventory(inventory)

    def _set_inventory(self, inventory: Inventory) -> None:
        self.inventory = inventory
        # allocation order: lowest index first, whole GPUs before MIG instances
        units = sorted(inventory.allocatable(), key=lambda g: (g.index, g.is_mig, g.uuid))
        self._units: dict[str, GPU] = {g.uuid: g for g in units}

    # -- reading -------------------------------------------------------------------------------

    def holdings(self) -> dict[str, Claim]:
        """Every held GPU uuid (gone ones included) and the claim holding it."""
        return {uuid: self._claims[server] for uuid, server in self._owner.items()}

    def claim(self, server_id: str) -> Claim | None:
        """The server's holding, which its spawner saves for :meth:`rebuild`."""
        return self._claims.get(server_id)

    def free(self) -> tuple[str, ...]:
        """Present, unheld units, in allocation order."""
        return tuple(uuid for uuid in self._units if uuid not in self._owner)

    def gone(self) -> tuple[str, ...]:
        """Held GPUs that are no longer in the inventory."""
        return tuple(uuid for uuid in self._owner if uuid not in self._units)

    def queue(self) -> tuple[Request, ...]:
        return tuple(self._queue.values())

    def queue_position(self, server_id: str) -> int | None:
        """1-based place in the queue, or None when the server is not waiting."""
        for position, waiting in enumerate(self._queue, 1):
            if waiting == server_id:
                return position
        return None

    # -- deciding ------------------------------------------------------------------------------

    def request(self, req: Request, now: float) -> Decision:
        """Decide a request. A server that already holds or waits gets its current state back."""
        if req.server_id in self._claims:
            return Granted(req.server_id, self._claims[req.server_id].gpu_uuids)
        if req.server_id in self._queue:
            return Queued(req.server_id, self.queue_position(req.server_id) or 0)
        reason, team = self._refusal(req)
        if reason:
            return Refused(req.server_id, reason)
        req = replace(req, teams=frozenset(req.teams), charge_team=team)
        if not self._queue or self.policy.allow_backfill:
            uuids = self._pick(req)
            if uuids:
                return self._grant(req, uuids, now)
        if not self.policy.queue_when_full:
            return Refused(req.server_id, self._busy(req))
        self._queue[req.server_id] = req
        self._charge(self._waiting, req, req.count)
        return Queued(req.server_id, len(self._queue))

    def release(self, server_id: str, now: float) -> list[Granted]:
        """Forget a server (stopped, crashed, or gave up waiting); grant what the queue can take."""
        self._dequeue(server_id)
        claim = self._claims.pop(server_id, None)
        if claim is not None:
            for uuid in claim.gpu_uuids:
                del self._owner[uuid]  # a gone GPU is forgotten here: it is no one's any more
            self._charge(self._held, claim, -len(claim.gpu_uuids))
        return self._drain(now)

    def cancel(self, server_id: str, now: float) -> list[Granted]:
        """Withdraw a waiting request (a holding is untouched); grant what that unblocks."""
        return self._drain(now) if self._dequeue(server_id) else []

    def adopt(self, claim: Claim) -> Decision:
        """Record a holding found running (see :meth:`reconcile`), bypassing quotas and queue."""
        claim = _as_claim(claim)
        if claim.server_id in self._claims or claim.server_id in self._queue:
            return Refused(claim.server_id, f"server {claim.server_id} is already in the ledger")
        for uuid in claim.gpu_uuids:
            if uuid not in self._units or uuid in self._owner:
                return Refused(claim.server_id, f"GPU {uuid} is not free in this inventory")
        self._install(claim)
        return Granted(claim.server_id, claim.gpu_uuids)

    # -- the inventory changes -----------------------------------------------------------------

    def refresh(self, inventory: Inventory, now: float) -> RefreshReport:
        """Take a new inventory: report vanished and new GPUs, then settle the queue."""
        old = set(self._units)
        self._set_inventory(inventory)
        disappeared = tuple(uuid for uuid in old if uuid not in self._units)
        refused = []
        for server_id, req in list(self._queue.items()):
            reason = self._never_fits(req)
            if reason:
                self._dequeue(server_id)
                refused.append(Refused(server_id, reason))
        return RefreshReport(
            appeared=tuple(uuid for uuid in self._units if uuid not in old),
            disappeared=disappeared,
            orphaned={uuid: self._owner[uuid] for uuid in disappeared if uuid in self._owner},
            granted=tuple(self._drain(now)),
            refused=tuple(refused),
        )

    def gpu_disappeared(self, uuid: str, now: float) -> RefreshReport:
        """One GPU (with its MIG instances) or one MIG instance vanished."""
        return self.refresh(self.inventory.without(uuid), now)

    # -- after a hub restart -------------------------------------------------------------------

    @classmethod
    def rebuild(
        cls, inventory: Inventory, policy: Policy | None, saved: Iterable[Claim | tuple]
    ) -> tuple[Ledger, RebuildReport]:
        """A ledger holding what spawners saved: :class:`Claim` objects or plain tuples
        ``(server_id, user, teams, gpu_uuids, since[, charge_team, profile])``.

        Conflicting claims are reported, never merged: the older claim (then the lower server
        id) keeps every GPU it names and the other is dropped whole. A held GPU missing from the
        inventory stays held, as gone, and is listed in ``missing``.
        """
        ledger = cls(inventory, policy)
        conflicts = []
        claims = sorted(map(_as_claim, saved), key=lambda c: (c.since, c.server_id))
        for claim in claims:
            if claim.server_id in ledger._claims:
                conflicts.append(Conflict(claim.server_id, claim.server_id, claim.gpu_uuids))
                continue
            holders: dict[str, list[str]] = {}
            for uuid in claim.gpu_uuids:
                if uuid in ledger._owner:
                    holders.setdefault(ledger._owner[uuid], []).append(uuid)
            if holders:
                conflicts += [Conflict(h, claim.server_id, tuple(u)) for h, u in holders.items()]
                continue
            if claim.charge_team is None:
                team = ledger.policy.charge_team_for(claim.teams, claim.profile or "")
                claim = replace(claim, charge_team=team)
            ledger._install(claim)
        missing = {uuid: ledger._owner[uuid] for uuid in ledger.gone()}
        return ledger, RebuildReport(tuple(conflicts), missing)

    def reconcile(self, running: Mapping[str, Iterable[str]]) -> ReconcileReport:
        """Compare the ledger with what runs: server id -> GPU uuids seen in its container
        labels or process env. Changes nothing; the spawner acts on the report (adopt with
        :meth:`adopt`, reclaim by stopping the server, release ``stale`` entries).
        """
        unknown, mismatched = [], []
        for server_id, observed_uuids in sorted(running.items()):
            observed = tuple(sorted(set(observed_uuids)))
            claim = self._claims.get(server_id)
            if claim is not None:
                if set(observed) != set(claim.gpu_uuids):
                    mismatched.append(Mismatch(server_id, claim.gpu_uuids, observed))
            elif observed:
                unknown.append(self._unknown(server_id, observed))
        stale = tuple(s for s in self._claims if s not in running)
        return ReconcileReport(tuple(unknown), stale, tuple(mismatched))

    def _unknown(self, server_id: str, uuids: tuple[str, ...]) -> Unknown:
        for uuid in uuids:
            if uuid in self._owner:
                holder = self._owner[uuid]
                return Unknown(server_id, uuids, "reclaim", f"GPU {uuid} is held by {holder}")
            if uuid not in self._units:
                return Unknown(server_id, uuids, "reclaim", f"GPU {uuid} is not in the inventory")
        if self.policy.adopt_unknown:
            return Unknown(server_id, uuids, "adopt", "its GPUs are free")
        return Unknown(server_id, uuids, "reclaim", "the ledger did not give it these GPUs")

    # -- internals -----------------------------------------------------------------------------

    def _refusal(self, req: Request) -> tuple[str | None, str | None]:
        """Why ``req`` may never be granted as asked (or None), and the team it is charged to."""
        if not isinstance(req.count, int) or isinstance(req.count, bool) or req.count < 1:
            return f"the GPU count must be a whole number of at least 1, not {req.count!r}", None
        allowed = self.policy.teams_for(req.profile)
        if allowed is not None and not allowed & req.teams:
            teams = ", ".join(sorted(allowed))
            return f"profile {req.profile!r} is for teams {teams}; {req.user} is in none", None
        team = req.charge_team
        if team is None:
            team = self.policy.charge_team_for(req.teams, req.profile)
        elif team not in req.teams:
            return f"{req.user} is not in team {team}, so GPUs cannot be charged to it", None
        elif allowed is not None and team not in allowed:
            return f"team {team} may not use profile {req.profile!r}", None
        limit = self.policy.per_user_limit
        if limit is not None:
            reason = self._over(("user", req.user), limit, req.count, req.user)
            if reason:
                return reason, None
        if team is not None and team in self.policy.per_team_limit:
            limit = self.policy.per_team_limit[team]
            reason = self._over(("team", team), limit, req.count, "it")
            if reason:
                return reason, None
        return self._never_fits(req), team

    def _over(self, key: tuple[str, str], limit: int, count: int, subject: str) -> str | None:
        held, waiting = self._held[key], self._waiting[key]
        if held + waiting + count <= limit:
            return None
        reason = f"GPU quota for {key[0]} {key[1]} is {limit}, {subject} holds {held}"
        if waiting:
            reason += f" and waits for {waiting}"
        return f"{reason}; this server asks for {count} more"

    def _matches(self, gpu: GPU, req: Request) -> bool:
        if (gpu.profile if gpu.is_mig else None) != req.mig_profile:
            return False
        return req.model is None or gpu.model.casefold() == req.model.casefold()

    def _never_fits(self, req: Request) -> str | None:
        have = sum(1 for gpu in self._units.values() if self._matches(gpu, req))
        if have >= req.count:
            return None
        return f"this hub has {_what(req, have)} and the server asks for {req.count}"

    def _busy(self, req: Request) -> str:
        matching = [u for u, gpu in self._units.items() if self._matches(gpu, req)]
        holders = sorted({self._owner[u] for u in matching if u in self._owner})
        return (
            f"all {_what(req, len(matching))} are in use (by {', '.join(holders)}) and this hub "
            "does not queue; try again when one is released"
        )

    def _pick(self, req: Request) -> tuple[str, ...] | None:
        found = []
        for uuid, gpu in self._units.items():
            if uuid not in self._owner and self._matches(gpu, req):
                found.append(uuid)
                if len(found) == req.count:
                    return tuple(found)
        return None

    def _grant(self, req: Request, uuids: tuple[str, ...], now: float) -> Granted:
        claim = Claim(req.server_id, req.user, req.teams, uuids, now, req.charge_team, req.profile)
        self._install(claim)
        return Granted(req.server_id, uuids)

    def _install(self, claim: Claim) -> None:
        self._claims[claim.server_id] = claim
        for uuid in claim.gpu_uuids:
            self._owner[uuid] = claim.server_id
        self._charge(self._held, claim, len(claim.gpu_uuids))

    def _charge(self, counter: Counter, who: Request | Claim, units: int) -> None:
        counter["user", who.user] += units
        if who.charge_team:
            counter["team", who.charge_team] += units

    def _dequeue(self, server_id: str) -> bool:
        req = self._queue.pop(server_id, None)
        if req is not None:
            self._charge(self._waiting, req, -req.count)
        return req is not None

    def _drain(self, now: float) -> list[Granted]:
        """Grant queued requests in order; without backfill, stop at the first that must wait."""
        granted: list[Granted] = []
        free = len(self._units) - sum(1 for u in self._owner if u in self._units)
        # free units only shrink during a drain, so a shape that did not fit will not fit later
        blocked: dict[tuple[str | None, str | None], int] = {}
        for req in self._queue.values():
            if free <= 0:
                break
            shape = (req.model, req.mig_profile)
            if shape in blocked and req.count >= blocked[shape]:
                continue
            uuids = self._pick(req)
            if uuids is None:
                if not self.policy.allow_backfill:
                    break
                blocked[shape] = req.count
                continue
            granted.append(self._grant(req, uuids, now))  # changes holdings, not the queue
            free -= len(uuids)
        for decision in granted:
            self._dequeue(decision.server_id)
        return granted
