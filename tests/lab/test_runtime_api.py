"""``GET /mutirao/api/runtime`` in a pytest-jupyter server (no hub): the stop time the hub
put in the server's environment, for JupyterLab's warning before a profile's max runtime."""

from __future__ import annotations

import json
import time

import pytest
from tornado.httpclient import HTTPClientError


@pytest.fixture
def jp_server_config():
    return {"ServerApp": {"jpserver_extensions": {"mutirao_lab": True}}}


async def runtime(jp_fetch) -> dict:
    r = await jp_fetch("mutirao", "api", "runtime")
    assert r.code == 200
    assert r.headers["Content-Type"] == "application/json"
    return json.loads(r.body)


async def test_a_server_with_a_max_runtime_tells_when_it_stops(jp_fetch, monkeypatch):
    monkeypatch.setenv("MUTIRAO_STOP_AT", "1767225600")
    monkeypatch.setenv("MUTIRAO_STOP_WARNING_S", "900")
    before = time.time()
    model = await runtime(jp_fetch)
    assert model["stop_at"] == 1767225600
    assert model["warning_s"] == 900
    assert before <= model["now"] <= time.time()


async def test_a_server_without_a_max_runtime_has_no_stop_time(jp_fetch, monkeypatch):
    monkeypatch.delenv("MUTIRAO_STOP_AT", raising=False)
    monkeypatch.delenv("MUTIRAO_STOP_WARNING_S", raising=False)
    model = await runtime(jp_fetch)
    assert model["stop_at"] is None
    assert model["warning_s"] == 600  # the documented default


@pytest.mark.parametrize("value", ["", "soon", "nan", "inf", "-5", "0", "1e999", "1767225600x"])
async def test_a_malformed_environment_means_no_stop_time(jp_fetch, monkeypatch, value):
    monkeypatch.setenv("MUTIRAO_STOP_AT", value)
    monkeypatch.setenv("MUTIRAO_STOP_WARNING_S", value)
    model = await runtime(jp_fetch)
    assert model["stop_at"] is None
    assert model["warning_s"] == 600


@pytest.mark.parametrize(
    ("headers", "code"),
    [({"Authorization": ""}, 403), ({"Authorization": "token nope"}, 403)],
)
async def test_the_stop_time_needs_an_authenticated_user(jp_fetch, headers, code):
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch("mutirao", "api", "runtime", headers=headers)
    assert e.value.code == code


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
async def test_the_stop_time_cannot_be_changed(jp_fetch, method):
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch(
            "mutirao", "api", "runtime", method=method, body=None if method == "DELETE" else "{}"
        )
    assert e.value.code == 405
