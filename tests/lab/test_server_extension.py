"""The mutirao_lab server extension in a pytest-jupyter server (no hub)."""

from __future__ import annotations

import json

import pytest
from tornado.httpclient import HTTPClientError

from mutirao_lab import __version__


@pytest.fixture
def jp_server_config():
    return {"ServerApp": {"jpserver_extensions": {"mutirao_lab": True}}}


async def test_version_with_token(jp_fetch):
    r = await jp_fetch("mutirao", "api", "version")
    assert r.code == 200
    assert json.loads(r.body) == {"version": __version__}


async def test_version_without_token_is_refused(jp_fetch):
    # an empty Authorization header keeps jp_fetch from adding the server's token
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch("mutirao", "api", "version", headers={"Authorization": ""})
    assert e.value.code == 403


async def test_version_with_a_wrong_token_is_refused(jp_fetch):
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch("mutirao", "api", "version", headers={"Authorization": "token nope"})
    assert e.value.code == 403
