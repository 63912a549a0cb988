"""Recorded HTTP answers for the GitHub and GitLab authenticators' tests.

GitHub's and GitLab's APIs cannot be reached from the tests, so the authenticators talk to
:class:`RecordedHTTP` instead of tornado's ``AsyncHTTPClient``: oauthenticator's ``httpfetch``
builds a real ``tornado.httpclient.HTTPRequest`` and this answers it with a real ``HTTPResponse``
(status, headers including ``Link`` pagination, JSON body) in the shapes the providers' REST
APIs return, as documented by them (trimmed to the fields read). Everything above the HTTP layer
is the real code: oauthenticator's flow, the team mapping, JupyterHub's ``get_authenticated_user``.
"""

from __future__ import annotations

import asyncio
import io
import json
from dataclasses import dataclass, field

from oauthenticator.oauth2 import _serialize_state
from tornado.httpclient import HTTPClientError, HTTPRequest, HTTPResponse
from tornado.httputil import HTTPHeaders

ACCESS_TOKEN = "gho_recorded0access0token0never0logged"
#: A 1×1 PNG, as a provider's avatar (the bytes a real PNG starts and ends with).
PNG_AVATAR = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360f8cfc0f01f0005000201e2b1a3a30000000049454e44ae426082"
)
CLIENT_SECRET = "recorded-client-secret-never-logged"


@dataclass
class Answer:
    body: object
    status: int = 200
    headers: dict = field(default_factory=dict)


class RecordedHTTP:
    """A stand-in for ``AsyncHTTPClient``: answers (method, URL) from a table, 404 otherwise."""

    def __init__(self, routes: dict[tuple[str, str], Answer]):
        self.routes = routes
        self.requests: list[HTTPRequest] = []

    async def fetch(self, req: HTTPRequest, raise_error: bool = True, **kwargs) -> HTTPResponse:
        self.requests.append(req)
        answer = self.routes.get((req.method, req.url), Answer({"message": "Not Found"}, 404))
        body = answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body).encode()
        resp = HTTPResponse(
            req,
            answer.status,
            headers=HTTPHeaders({"Content-Type": "application/json", **answer.headers}),
            buffer=io.BytesIO(body),
        )
        if raise_error and answer.status >= 400:
            raise HTTPClientError(answer.status, response=resp)
        return resp

    def urls(self) -> list[str]:
        return [r.url for r in self.requests]


class CallbackHandler:
    """Just enough of oauthenticator's callback handler for ``authenticate``."""

    def __init__(self, code: str = "recorded-code"):
        self._args = {"code": code}

    def get_argument(self, name, default=None):
        return self._args.get(name, default)

    def get_state_cookie(self):
        return _serialize_state({"state_id": "s", "code_verifier": "v" * 43})


class StoredUser:
    """A hub user as ``refresh_user`` sees it: a name and the auth_state kept at login."""

    def __init__(self, name: str, auth_state: dict):
        self.name = name
        self._auth_state = auth_state

    async def get_auth_state(self):
        return self._auth_state


def login(authenticator, handler=None):
    """Run JupyterHub's own login sequence (authenticate, blocked, allowed) once."""
    return asyncio.run(authenticator.get_authenticated_user(handler or CallbackHandler(), None))


def refresh(authenticator, user):
    return asyncio.run(authenticator.refresh_user(user))
