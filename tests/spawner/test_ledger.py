"""The GPU ledger's decisions, as tables, plus a hypothesis state machine over whole hub lives.

The ledger is pure, so nothing here starts a hub or touches a GPU; the inventory is declared.
"""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from mutirao_spawner.inventory import inventory_from_config
from mutirao_spawner.ledger import (
    Claim,
    Conflict,
    Granted,
    Ledger,
    Mismatch,
    Policy,
    Queued,
    Refused,
    Request,
    Unknown,
)

A100 = "NVIDIA A100-SXM4-80GB"
H100 = "NVIDIA H100 80GB HBM3"
# two A100s, two H100s, and an A100 in MIG mode split into 3g.40gb + 2 x 1g.10gb
INVENTORY = inventory_from_config(
    [
        {"uuid": "GPU-a0", "model": A100},
        {"uuid": "GPU-a1", "model": A100},
        {"uuid": "GPU-h2", "model": H100},
        {"uuid": "GPU-h3", "model": H100},
        {"uuid": "GPU-m4", "model": A100},
        {"uuid": "MIG-m4-0", "parent_uuid": "GPU-m4", "profile": "3g.40gb"},
        {"uuid": "MIG-m4-1", "parent_uuid": "GPU-m4", "profile": "1g.10gb"},
        {"uuid": "MIG-m4-2", "parent_uuid": "GPU-m4", "profile": "1g.10gb"},
    ]
)
WHOLE = ("GPU-a0", "GPU-a1", "GPU-h2", "GPU-h3")
TEAMS = {
    "alice": {"ml-research"},
    "bob": {"ml-research"},
    "carol": {"ml-research"},
    "erin": {"ml-research", "vision"},
    "frank": {"vision"},
    "guest": set(),
}


def ask(server_id: str, **kw) -> Request:
    """A request from the server's owner (``server_id`` is ``user/name``) with their teams."""
    user = server_id.split("/")[0]
    return Request(server_id, user, frozenset(TEAMS[user]), **kw)


def run(ledger: Ledger, *requests: Request):
    return [ledger.request(r, now=i) for i, r in enumerate(requests)]


# -- quotas and profiles -----------------------------------------------------------------------

QUOTA = Policy(per_user_limit=2, per_team_limit={"ml-research": 3, "vision": 1})
PROFILES = Policy(team_profiles={"vision": {"gpu-large"}, "ml-research": {"gpu-mig"}})
held_by = [ask("alice/1", count=2), ask("bob/1")]  # ml-research now holds 3


@pytest.mark.parametrize(
    ("policy", "before", "request_", "expected"),
    [
        pytest.param(
            QUOTA, [ask("alice/1", count=2)], ask("alice/2"),
            "GPU quota for user alice is 2, alice holds 2; this server asks for 1 more",
            id="user-quota",
        ),
        pytest.param(
            QUOTA, [], ask("alice/1", count=3),
            "GPU quota for user alice is 2, alice holds 0; this server asks for 3 more",
            id="user-quota-in-one-request",
        ),
        pytest.param(
            QUOTA, held_by, ask("carol/1"),
            "GPU quota for team ml-research is 3, it holds 3; this server asks for 1 more",
            id="team-quota",
        ),
        pytest.param(
            QUOTA, held_by, ask("erin/1"),
            "GPU quota for team ml-research is 3, it holds 3; this server asks for 1 more",
            id="two-teams-charged-to-first-alphabetically",
        ),
        pytest.param(
            QUOTA, held_by, ask("erin/1", charge_team="vision"), ("GPU-h3",),
            id="two-teams-spawner-picks-the-team",
        ),
        pytest.param(
            QUOTA, [ask("frank/1")], ask("erin/1", charge_team="vision"),
            "GPU quota for team vision is 1, it holds 1; this server asks for 1 more",
            id="charged-team-full",
        ),
        pytest.param(
            QUOTA, [], ask("alice/1", charge_team="vision"),
            "alice is not in team vision, so GPUs cannot be charged to it",
            id="charge-team-not-a-member",
        ),
        pytest.param(
            Policy(per_user_limit=2),
            [ask("alice/1"), ask("bob/1", count=2), ask("frank/1"), ask("alice/2")],
            ask("alice/3"),
            "GPU quota for user alice is 2, alice holds 1 and waits for 1; "
            "this server asks for 1 more",
            id="queued-gpus-count-against-quota",
        ),
        pytest.param(
            PROFILES, [], ask("alice/1", profile="gpu-large"),
            "profile 'gpu-large' is for teams vision; alice is in none",
            id="profile-for-other-team",
        ),
        pytest.param(
            PROFILES, [], ask("frank/1", profile="gpu-large"), ("GPU-a0",),
            id="profile-for-own-team",
        ),
        pytest.param(
            PROFILES, [], ask("erin/1", profile="gpu-large", charge_team="ml-research"),
            "team ml-research may not use profile 'gpu-large'",
            id="charged-team-may-not-use-profile",
        ),
        pytest.param(PROFILES, [], ask("guest/1"), ("GPU-a0",), id="open-profile-no-team"),
        pytest.param(
            Policy(), [], ask("alice/1", count=0),
            "the GPU count must be a whole number of at least 1, not 0", id="count-zero",
        ),
        pytest.param(
            Policy(), [], ask("alice/1", count=-3),
            "the GPU count must be a whole number of at least 1, not -3", id="count-negative",
        ),
        pytest.param(
            Policy(), [], ask("alice/1", count=10**9),
            "this hub has 4 GPUs and the server asks for 1000000000", id="count-huge",
        ),
        pytest.param(
            Policy(), [], ask("alice/1", count=True),
            "the GPU count must be a whole number of at least 1, not True", id="count-bool",
        ),
    ],
)  # fmt: skip
def test_quotas_and_profiles(policy, before, request_, expected):
    ledger = Ledger(INVENTORY, policy)
    run(ledger, *before)
    decision = ledger.request(request_, now=99)
    if isinstance(expected, str):
        assert decision == Refused(request_.server_id, expected)
        assert ledger.claim(request_.server_id) is None
        assert ledger.queue_position(request_.server_id) is None
    else:
        assert decision == Granted(request_.server_id, expected)


def test_erin_charged_to_the_team_that_may_use_the_profile():
    ledger = Ledger(INVENTORY, PROFILES)
    assert ledger.request(ask("erin/1", profile="gpu-large"), now=5) == Granted(
        "erin/1", ("GPU-a0",)
    )
    assert ledger.claim("erin/1") == Claim(
        "erin/1", "erin", frozenset(TEAMS["erin"]), ("GPU-a0",), 5, "vision", "gpu-large"
    )
    assert ledger.holdings() == {"GPU-a0": ledger.claim("erin/1")}


# -- MIG slices and models -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (ask("alice/1", mig_profile="1g.10gb", count=2), ("MIG-m4-1", "MIG-m4-2")),
        (ask("alice/1", mig_profile="3g.40gb"), ("MIG-m4-0",)),
        (ask("alice/1", mig_profile="3g.40gb", model=A100.lower()), ("MIG-m4-0",)),
        (ask("alice/1", count=4), WHOLE),
        (ask("alice/1", model=H100, count=2), ("GPU-h2", "GPU-h3")),
        (ask("alice/1", model="nvidia h100 80gb hbm3"), ("GPU-h2",)),
        (ask("alice/1", model=A100, count=2), ("GPU-a0", "GPU-a1")),
        (
            ask("alice/1", mig_profile="7g.80gb"),
            "this hub has 0 MIG 7g.80gb instances and the server asks for 1",
        ),
        (
            ask("alice/1", mig_profile="1g.10gb", count=3),
            "this hub has 2 MIG 1g.10gb instances and the server asks for 3",
        ),
        (
            ask("alice/1", mig_profile="3g.40gb", model=H100),
            f"this hub has 0 MIG 3g.40gb instances ({H100}) and the server asks for 1",
        ),
        (
            ask("alice/1", model=H100, count=3),
            f"this hub has 2 GPUs ({H100}) and the server asks for 3",
        ),
        (ask("alice/1", model="A100"), "this hub has 0 GPUs (A100) and the server asks for 1"),
        (ask("alice/1", count=5), "this hub has 4 GPUs and the server asks for 5"),
    ],
)
def test_mig_slices_and_models(request_, expected):
    decision = Ledger(INVENTORY).request(request_, now=0)
    if isinstance(expected, str):
        assert decision == Refused("alice/1", expected)
    else:
        assert decision == Granted("alice/1", expected)


def test_a_gpu_in_mig_mode_is_never_granted_whole():
    ledger = Ledger(INVENTORY)
    run(ledger, ask("alice/1", count=4))
    assert ledger.request(ask("bob/1"), now=1) == Queued("bob/1", 1)
    assert "GPU-m4" not in ledger.free()
    assert ledger.free() == ("MIG-m4-0", "MIG-m4-1", "MIG-m4-2")


# -- the queue ---------------------------------------------------------------------------------


def test_strict_fifo_a_blocked_head_holds_everyone_back():
    ledger = Ledger(INVENTORY)
    run(ledger, ask("alice/1", count=2), ask("bob/1", count=2))
    assert run(ledger, ask("carol/1", count=2), ask("frank/1")) == [
        Queued("carol/1", 1),
        Queued("frank/1", 2),
    ]
    freed = ledger.release("bob/1", now=10)
    assert freed == [Granted("carol/1", ("GPU-h2", "GPU-h3"))]
    assert ledger.queue_position("frank/1") == 1
    run(ledger, ask("guest/1", count=2))  # head now
    assert ledger.release("frank/1", now=11) == []  # gave up waiting
    assert ledger.release("carol/1", now=12) == [Granted("guest/1", ("GPU-h2", "GPU-h3"))]
    # two GPUs free, and a later one-GPU request still waits behind the blocked head
    run(ledger, ask("erin/1", count=3), ask("frank/2"))
    assert ledger.release("guest/1", now=13) == []
    assert ledger.queue_position("frank/2") == 2
    assert ledger.request(ask("bob/2"), now=14) == Queued("bob/2", 3)
    assert ledger.cancel("erin/1", now=15) == [
        Granted("frank/2", ("GPU-h2",)),
        Granted("bob/2", ("GPU-h3",)),
    ]


def test_a_free_gpu_waits_for_the_head_and_a_newcomer_queues_behind():
    ledger = Ledger(INVENTORY)
    run(ledger, ask("alice/1", count=4), ask("bob/1", count=2))
    assert ledger.release("alice/1", now=5) == [Granted("bob/1", ("GPU-a0", "GPU-a1"))]
    run(ledger, ask("alice/2", count=3))
    assert ledger.free() == ("GPU-h2", "GPU-h3", "MIG-m4-0", "MIG-m4-1", "MIG-m4-2")
    assert ledger.request(ask("carol/1"), now=6) == Queued("carol/1", 2)
    assert ledger.cancel("alice/2", now=7) == [Granted("carol/1", ("GPU-h2",))]
    assert ledger.cancel("alice/2", now=8) == []
    assert ledger.cancel("carol/1", now=8) == []  # holds, does not wait: untouched
    assert ledger.claim("carol/1") is not None


def test_backfill_lets_a_later_request_use_what_the_head_cannot():
    ledger = Ledger(INVENTORY, Policy(allow_backfill=True))
    run(ledger, ask("alice/1", count=4), ask("bob/1", count=2), ask("carol/1", model=H100))
    assert [d.server_id for d in ledger.release("alice/1", now=5)] == ["bob/1", "carol/1"]
    run(ledger, ask("alice/1", count=3))
    assert ledger.request(ask("erin/1"), now=6) == Granted("erin/1", ("GPU-h3",))


def test_asking_twice_returns_the_current_decision():
    ledger = Ledger(INVENTORY)
    run(ledger, ask("alice/1", count=4), ask("bob/1"))
    assert ledger.request(ask("alice/1", count=1), now=9) == Granted("alice/1", WHOLE)
    assert ledger.request(ask("bob/1", count=3), now=9) == Queued("bob/1", 1)
    assert len(ledger.queue()) == 1


def test_no_queue_refuses_with_who_holds_the_gpus():
    ledger = Ledger(INVENTORY, Policy(queue_when_full=False))
    run(ledger, ask("alice/1", model=H100, count=2))
    assert ledger.request(ask("bob/1", model=H100), now=1) == Refused(
        "bob/1",
        f"all 2 GPUs ({H100}) are in use (by alice/1) and this hub does not queue; "
        "try again when one is released",
    )


# -- GPUs that disappear -------------------------------------------------------------------------


def test_a_held_gpu_that_disappears_is_reported_and_never_regranted():
    ledger = Ledger(INVENTORY)
    run(ledger, ask("alice/1", model=H100), ask("bob/1", model=H100, count=2))
    report = ledger.gpu_disappeared("GPU-h2", now=5)
    assert (report.disappeared, report.orphaned) == (("GPU-h2",), {"GPU-h2": "alice/1"})
    assert report.refused == (
        Refused("bob/1", f"this hub has 1 GPU ({H100}) and the server asks for 2"),
    )
    assert ledger.gone() == ("GPU-h2",)
    assert ledger.release("alice/1", now=6) == []
    assert "GPU-h2" not in ledger.holdings()
    assert "GPU-h2" not in ledger.free()
    assert ledger.request(ask("carol/1", model=H100, count=2), now=7).reason.startswith(
        "this hub has 1 GPU"
    )
    back = ledger.refresh(INVENTORY, now=8)
    assert (back.appeared, back.disappeared) == (("GPU-h2",), ())
    assert ledger.request(ask("carol/1", model=H100, count=2), now=9) == Granted(
        "carol/1", ("GPU-h2", "GPU-h3")
    )


def test_a_gpu_reappearing_while_still_held_stays_held_and_unblocks_the_queue():
    ledger = Ledger(INVENTORY)
    run(ledger, ask("alice/1", count=4))
    ledger.gpu_disappeared("GPU-m4", now=1)  # the MIG GPU and its instances
    assert ledger.free() == ()
    run(ledger, ask("bob/1", mig_profile="1g.10gb"))  # refused: none left
    assert ledger.queue() == ()
    ledger.gpu_disappeared("GPU-a0", now=2)
    run(ledger, ask("bob/1", count=1))
    report = ledger.refresh(INVENTORY, now=3)
    assert report.granted == ()
    assert ledger.holdings()["GPU-a0"].server_id == "alice/1"
    assert ledger.release("alice/1", now=4) == [Granted("bob/1", ("GPU-a0",))]


# -- hub restart and reconciliation ---------------------------------------------------------------


def test_rebuild_reports_conflicting_claims_instead_of_merging_them():
    saved = [
        ("bob/1", "bob", {"ml-research"}, ["GPU-a0", "GPU-a1"], 20.0),
        Claim("alice/1", "alice", frozenset({"ml-research"}), ("GPU-a0",), 10.0),
        ("carol/1", "carol", {"ml-research"}, ["GPU-h2", "GPU-gone"], 30.0),
        ("carol/1", "carol", {"ml-research"}, ["GPU-h3"], 40.0),
        ("frank/1", "frank", {"vision"}, ["GPU-h3", "GPU-a0"], 50.0, "vision", "x"),
    ]
    ledger, report = Ledger.rebuild(INVENTORY, QUOTA, saved)
    assert report.conflicts == (
        Conflict("alice/1", "bob/1", ("GPU-a0",)),
        Conflict("carol/1", "carol/1", ("GPU-h3",)),
        Conflict("alice/1", "frank/1", ("GPU-a0",)),
    )
    assert report.missing == {"GPU-gone": "carol/1"}
    assert {u: c.server_id for u, c in ledger.holdings().items()} == {
        "GPU-a0": "alice/1",
        "GPU-h2": "carol/1",
        "GPU-gone": "carol/1",
    }
    assert ledger.free() == ("GPU-a1", "GPU-h3", "MIG-m4-0", "MIG-m4-1", "MIG-m4-2")
    # rebuilt holdings are charged: ml-research holds 3 (carol's gone GPU included)
    assert ledger.request(ask("bob/2"), now=60).reason.startswith(
        "GPU quota for team ml-research is 3, it holds 3"
    )


@pytest.mark.parametrize("adopt", [True, False])
def test_reconcile_reports_unknown_stale_and_mismatched(adopt):
    ledger = Ledger(INVENTORY, Policy(adopt_unknown=adopt))
    run(ledger, ask("alice/1"), ask("bob/1", count=2), ask("carol/1", mig_profile="3g.40gb"))
    running = {
        "alice/1": ["GPU-a0"],  # as recorded
        "bob/1": ["GPU-a1"],  # recorded a1 + h2
        "orphan/1": ["GPU-h3"],  # free GPU, unknown server
        "thief/1": ["GPU-a0"],  # held by alice/1
        "ghost/1": ["GPU-zz"],  # not in the inventory
        "cpu/1": [],  # no GPU, not ours: fine
    }  # carol/1 is not running
    report = ledger.reconcile(running)
    action = "adopt" if adopt else "reclaim"
    reason = "its GPUs are free" if adopt else "the ledger did not give it these GPUs"
    assert report.unknown == (
        Unknown("ghost/1", ("GPU-zz",), "reclaim", "GPU GPU-zz is not in the inventory"),
        Unknown("orphan/1", ("GPU-h3",), action, reason),
        Unknown("thief/1", ("GPU-a0",), "reclaim", "GPU GPU-a0 is held by alice/1"),
    )
    assert report.stale == ("carol/1",)
    assert report.mismatched == (Mismatch("bob/1", ("GPU-a1", "GPU-h2"), ("GPU-a1",)),)
    assert not report.clean
    orphan = Claim("orphan/1", "orphan", frozenset(), ("GPU-h3",), 7.0)
    assert ledger.adopt(orphan) == Granted("orphan/1", ("GPU-h3",))
    assert ledger.adopt(orphan).reason == "server orphan/1 is already in the ledger"
    thief = Claim("thief/1", "thief", frozenset(), ("GPU-a0",), 7.0)
    assert ledger.adopt(thief).reason == "GPU GPU-a0 is not free in this inventory"
    ledger.release("carol/1", now=8)
    running["bob/1"] = ["GPU-h2", "GPU-a1"]
    del running["thief/1"], running["ghost/1"]
    assert ledger.reconcile(running).clean


def test_policy_refuses_negative_quotas():
    with pytest.raises(ValueError, match="GPU quota ml must be a whole number >= 0, not -1"):
        Policy(per_team_limit={"ml": -1})


# -- latency -------------------------------------------------------------------------------------


eight_uuids = tuple(f"GPU-{i}" for i in range(8))


@pytest.mark.parametrize("backfill", [False, True])
def test_a_long_queue_grants_in_order_as_servers_stop(backfill):
    """8 GPUs and 1,000 waiting: newcomers queue and give up, then servers stop one by one.

    Each waiting request wants all 8 GPUs, so with backfill every release scans the whole queue
    (how long a decision takes is measured by the P4 benchmark, not here).
    """
    eight = inventory_from_config([{"uuid": f"GPU-{i}", "model": A100} for i in range(8)])
    ledger = Ledger(eight, Policy(allow_backfill=backfill))
    for i in range(8):
        ledger.request(Request(f"h{i}/x", f"h{i}"), now=0)
    for i in range(1000):
        ledger.request(Request(f"q{i}/x", f"q{i}", count=8), now=0)
    for i in range(1000):
        assert isinstance(ledger.request(Request(f"n{i}/x", f"n{i}"), now=1), Queued)
    for i in range(1000):
        ledger.cancel(f"n{i}/x", now=2)
    for i in range(7):
        assert ledger.release(f"h{i}/x", now=3) == []
    assert [g.server_id for g in ledger.release("h7/x", now=4)] == ["q0/x"]
    for i in range(100):
        assert ledger.release(f"q{i}/x", now=5) == [Granted(f"q{i + 1}/x", eight_uuids)]


# -- the state machine ---------------------------------------------------------------------------

SERVERS = [f"{user}/{n}" for user in TEAMS for n in (1, 2, 3)]
SHAPES = [
    {},
    {"count": 2},
    {"count": 3, "profile": "gpu-large"},
    {"model": H100},
    {"model": A100, "count": 2},
    {"mig_profile": "1g.10gb"},
    {"mig_profile": "1g.10gb", "count": 2, "profile": "gpu-mig"},
    {"mig_profile": "3g.40gb"},
    {"count": 5},  # never fits
]
MACHINE_POLICY = {
    "per_user_limit": 4,
    "per_team_limit": {"ml-research": 6, "vision": 4},
    "team_profiles": {"vision": {"gpu-large"}, "ml-research": {"gpu-mig"}},
}
UUIDS = [g.uuid for g in INVENTORY]


def fits(req: Request, free: list) -> bool:
    """An oracle written apart from the ledger: could ``req`` take free units right now?"""
    model = req.model.casefold() if req.model else None
    matching = [
        g
        for g in free
        if (g.profile if g.is_mig else None) == req.mig_profile
        and (model is None or g.model.casefold() == model)
    ]
    return len(matching) >= req.count


class LedgerLives(RuleBasedStateMachine):
    """Servers start, stop, crash and give up; the hub restarts; GPUs vanish and come back.

    ``saved`` is what each spawner would hold in its state: the claim it got when granted.
    """

    policy = Policy(**MACHINE_POLICY)

    def __init__(self):
        super().__init__()
        self.clock = 0
        self.removed: set[str] = set()
        self.ledger = Ledger(INVENTORY, self.policy)
        self.saved: dict[str, Claim] = {}

    def now(self) -> int:
        self.clock += 1
        return self.clock

    def inventory(self):
        inventory = INVENTORY
        for uuid in self.removed:
            inventory = inventory.without(uuid)
        return inventory

    def record(self, granted):
        for decision in granted:
            assert decision.server_id not in self.saved
            self.saved[decision.server_id] = self.ledger.claim(decision.server_id)

    @rule(
        spawns=st.lists(
            st.tuples(st.sampled_from(SERVERS), st.sampled_from(SHAPES)), min_size=1, max_size=6
        )
    )
    def start(self, spawns):
        """A burst of spawns, as when a class starts at nine."""
        for server, shape in spawns:
            self.spawn(server, shape)

    def spawn(self, server, shape):
        req = ask(server, **shape)
        was_known = server in self.saved or self.ledger.queue_position(server)
        decision = self.ledger.request(req, now=self.now())
        if isinstance(decision, Granted):
            if not was_known:
                gpus = [INVENTORY[u] for u in decision.gpu_uuids]
                assert len(gpus) == req.count
                assert fits(req, gpus)
                self.record([decision])
            assert self.saved[server].gpu_uuids == decision.gpu_uuids
        elif isinstance(decision, Queued):
            assert self.ledger.queue()[decision.position - 1].server_id == server
        else:
            assert decision.reason
            assert self.ledger.claim(server) is None
            assert self.ledger.queue_position(server) is None

    @rule(server=st.sampled_from(SERVERS))
    def stop(self, server):
        self.saved.pop(server, None)
        self.record(self.ledger.release(server, now=self.now()))

    @precondition(lambda self: self.saved)
    @rule(data=st.data())
    def crash(self, data):
        """The server's process dies; the spawner's poll notices and releases."""
        server = data.draw(st.sampled_from(sorted(self.saved)))
        self.stop(server)

    @rule(server=st.sampled_from(SERVERS))
    def give_up_waiting(self, server):
        self.record(self.ledger.cancel(server, now=self.now()))

    @rule()
    def hub_restart(self):
        before = self.ledger.holdings()
        self.ledger, report = Ledger.rebuild(self.inventory(), self.policy, self.saved.values())
        assert report.conflicts == ()
        assert self.ledger.holdings() == before
        assert set(report.missing) == set(self.ledger.gone())
        assert self.ledger.queue() == ()

    @rule(uuid=st.sampled_from(UUIDS))
    def gpu_disappears(self, uuid):
        self.removed.add(uuid)
        report = self.ledger.refresh(self.inventory(), now=self.now())
        for gone, server in report.orphaned.items():
            assert gone in self.saved[server].gpu_uuids
        self.record(report.granted)

    @precondition(lambda self: self.removed)
    @rule(data=st.data())
    def gpu_reappears(self, data):
        self.removed.discard(data.draw(st.sampled_from(sorted(self.removed))))
        self.record(self.ledger.refresh(self.inventory(), now=self.now()).granted)

    @rule()
    def reconcile_with_what_runs(self):
        running = {server: claim.gpu_uuids for server, claim in self.saved.items()}
        assert self.ledger.reconcile(running).clean

    @invariant()
    def ledger_agrees_with_the_spawners(self):
        for server in SERVERS:
            assert self.ledger.claim(server) == self.saved.get(server)

    @invariant()
    def no_gpu_is_assigned_twice(self):
        uuids = [u for claim in self.saved.values() for u in claim.gpu_uuids]
        assert len(uuids) == len(set(uuids))

    @invariant()
    def every_gpu_is_free_held_or_gone(self):
        units = {g.uuid for g in self.inventory().allocatable()}
        free, held, gone = set(self.ledger.free()), set(self.ledger.holdings()), self.ledger.gone()
        assert not free & held
        assert units == free | (held & units)
        assert set(gone) == held - units

    @invariant()
    def no_queued_request_could_be_granted_now(self):
        free = [INVENTORY[u] for u in self.ledger.free()]
        queue = self.ledger.queue()
        waiting = queue if self.policy.allow_backfill else queue[:1]
        assert not any(fits(req, free) for req in waiting)

    @invariant()
    def no_queued_request_is_hopeless(self):
        """Each waiting request would fit were every present GPU free, so none blocks forever."""
        units = list(self.inventory().allocatable())
        assert all(fits(req, units) for req in self.ledger.queue())

    @invariant()
    def quotas_are_never_exceeded(self):
        used: dict[str, int] = {}
        for who in [*self.saved.values(), *self.ledger.queue()]:
            units = len(who.gpu_uuids) if isinstance(who, Claim) else who.count
            used["user " + who.user] = used.get("user " + who.user, 0) + units
            if who.charge_team:
                team = "team " + who.charge_team
                used[team] = used.get(team, 0) + units
        for key, units in used.items():
            kind, name = key.split(" ")
            limit = self.policy.per_user_limit if kind == "user" else None
            limit = self.policy.per_team_limit.get(name, limit) if kind == "team" else limit
            assert limit is None or units <= limit, (key, units)


class LedgerLivesWithBackfill(LedgerLives):
    policy = Policy(**MACHINE_POLICY, allow_backfill=True)


class LedgerLivesWithoutQueue(LedgerLives):
    policy = Policy(**MACHINE_POLICY, queue_when_full=False)


MACHINE_SETTINGS = settings(
    max_examples=150,
    stateful_step_count=50,
    deadline=None,
    derandomize=True,
    database=None,
)
TestLedgerLives = LedgerLives.TestCase
TestLedgerLivesWithBackfill = LedgerLivesWithBackfill.TestCase
TestLedgerLivesWithoutQueue = LedgerLivesWithoutQueue.TestCase
for case in (TestLedgerLives, TestLedgerLivesWithBackfill, TestLedgerLivesWithoutQueue):
    case.settings = MACHINE_SETTINGS
del case
