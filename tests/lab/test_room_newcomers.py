"""A room's server reads its shares again for someone it does not know yet
(mutirao_lab.rooms.newcomers), and its lab page carries the person's role
(mutirao_lab.rooms.pageconfig).

The hub's answer is replaced by a reading that counts itself (a subclass of HubShares whose
``refresh`` sets the table the hub would return): the end-to-end path, a viewer's first visit
right after an invitation with no refused request, runs against a real hub in
tests/e2e/test_rooms_browser.py::test_invite_before_first_sign_in.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from mutirao_lab.rooms.authorizer import RoomAuthorizer
from mutirao_lab.rooms.newcomers import NewcomerRefresh, install
from mutirao_lab.rooms.pageconfig import role_page_config
from mutirao_lab.rooms.shares import HubShares


class CountedShares(HubShares):
    def __init__(self, table: dict):
        super().__init__("http://127.0.0.1:1/hub/api", "token", "room-ml")
        self.readings = 0
        self.next_table = table

    async def refresh(self) -> bool:
        self.readings += 1
        await asyncio.sleep(0.01)  # the hub answers later than the page's parallel requests ask
        changed = self.table != self.next_table
        self.table = dict(self.next_table)
        return changed


def person(name: str, groups=()) -> SimpleNamespace:
    return SimpleNamespace(username=name, hub_user={"name": name, "groups": list(groups)})


def authorizer(shares: HubShares) -> RoomAuthorizer:
    a = RoomAuthorizer(server_user="room-ml", server_name="")
    a.shares = shares
    return a


def test_a_newcomers_parallel_requests_wait_for_one_reading():
    shares = CountedShares({("user", "carla"): "viewer"})
    shares.table = {("user", "ana"): "editor"}
    refresh = NewcomerRefresh(shares.refresh, authorizer(shares))
    carla = person("carla")

    async def page_load():
        await asyncio.gather(*(refresh(carla) for _ in range(20)))

    asyncio.run(page_load())
    assert shares.readings == 1
    assert refresh.authorizer.role(carla) == "viewer"
    # known now: her next requests cost nothing
    asyncio.run(refresh(carla))
    assert shares.readings == 1


def test_a_non_member_cannot_make_the_server_ask_the_hub_at_will():
    shares = CountedShares({("user", "ana"): "editor"})
    refresh = NewcomerRefresh(shares.refresh, authorizer(shares), min_interval=60)
    stranger = person("mallory")
    for _ in range(5):
        asyncio.run(refresh(stranger))
    assert shares.readings == 1
    assert refresh.authorizer.role(stranger) is None


def test_members_and_anonymous_requests_are_not_read_again():
    shares = CountedShares({})
    shares.table = {("group", "ml-research"): "editor"}
    refresh = NewcomerRefresh(shares.refresh, authorizer(shares))
    asyncio.run(refresh(person("bruno", ["ml-research"])))
    asyncio.run(refresh(None))
    asyncio.run(refresh(SimpleNamespace(username="token-only", hub_user=None)))
    assert shares.readings == 0


def test_the_reading_happens_before_the_identity_is_returned():
    shares = CountedShares({("user", "carla"): "viewer"})
    refresh = NewcomerRefresh(shares.refresh, authorizer(shares))
    provider = SimpleNamespace(get_user=lambda handler: person("carla"))
    install(provider, refresh)
    user = asyncio.run(provider.get_user(None))
    assert user.username == "carla"
    assert refresh.authorizer.role(user) == "viewer"


def test_the_page_carries_the_role_and_hides_terminals_below_editor():
    shares = CountedShares({})
    shares.table = {("user", "carla"): "viewer", ("user", "ana"): "editor"}
    shared = {"terminalsAvailable": True, "hubUser": ""}

    def jupyterhub_hook(handler, page_config):
        page_config["hubUser"] = handler.current_user.username
        return page_config

    hook = role_page_config(authorizer(shares), jupyterhub_hook)
    carla = hook(SimpleNamespace(current_user=person("carla")), shared)
    assert (carla["mutiraoRoomRole"], carla["terminalsAvailable"]) == ("viewer", False)
    assert carla["hubUser"] == "carla"
    ana = hook(SimpleNamespace(current_user=person("ana")), shared)
    assert (ana["mutiraoRoomRole"], ana["terminalsAvailable"]) == ("editor", True)
    # the dict jupyterlab_server shares between requests is not changed for the next one
    assert shared["terminalsAvailable"] is True
