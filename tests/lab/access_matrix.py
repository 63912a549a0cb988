"""The room boundary as a table: every route a room's server registers × every identity.

Used by ``tests/lab/test_access_matrix.py`` (on pytest-jupyter's server) and by the ``R4``
benchmark (on a server of its own). The routes are read from the running server's tornado
routers, not from a list: a route that an extension adds shows up here, and fails the
test until :data:`mutirao_lab.rooms.roles.ROUTES` gives it a role.

A stand-in for JupyterHub's identity provider gives each identity the hub user model the
room's server would get (the hub cannot run inside pytest-jupyter's server; the rooms
tests in ``tests/hub`` go through a real hub): ``token tok-<name>`` is ``<name>`` with the
scopes of a share at their room role (``mutirao_hub.rooms.policy.share_scopes``).
"""

from __future__ import annotations

import gc
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

from jupyter_server.auth.identity import IdentityProvider, User
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from mutirao_hub.rooms import policy
from mutirao_lab.rooms import roles, routes

ROOM = "room-ml-research"

#: identity -> (room role the table should give them, hub user model extras)
IDENTITIES: dict[str, str | None] = {
    "anonymous": None,
    "non-member": None,
    "viewer": "viewer",
    "commenter": "commenter",
    "editor": "editor",
    "owner": "owner",
    "admin": "owner",  # a hub admin with an owner's share of the room
    "admin-without-share": None,
}
#: the user name behind each identity
NAMES = {
    "non-member": "otto",
    "viewer": "vera",
    "commenter": "cami",
    "editor": "edu",
    "owner": "olga",
    "admin": "ada",
    "admin-without-share": "sam",
}
ROLE_OF_NAME = {NAMES[i]: IDENTITIES[i] for i in NAMES}


def hub_model(name: str, room: str = ROOM) -> dict[str, Any]:
    """The hub user model a room's server would get for ``name``'s token."""
    role = ROLE_OF_NAME.get(name)
    if role is not None:
        scopes = policy.share_scopes(role, room)
    elif name == "otto":  # a member of another room
        scopes = [
            f"access:servers!server={room}/",
            "custom:mutirao-room-owner!server=room-other/",
            "custom:mutirao-room-editor!user=room-other",
        ]
    else:  # an admin: reaches every server, holds no share of this one
        scopes = [f"access:servers!server={room}/", "admin:servers", "access:servers"]
    admin = name in ("ada", "sam")
    return {"kind": "user", "name": name, "admin": admin, "groups": [], "scopes": scopes}


class HubUser(User):
    """Like JupyterHub's ``JupyterHubUser``: the hub model rides along, not as a field."""

    hub_user: dict

    def __init__(self, hub_user: dict):
        self.hub_user = hub_user
        super().__init__(username=hub_user["name"])


class HubScopesIdentityProvider(IdentityProvider):
    """``Authorization: token tok-<name>`` is ``<name>`` with hub-like scopes."""

    async def get_user(self, handler):
        scheme, _, token = handler.request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "token" and token.startswith("tok-"):
            handler._token_authenticated = True  # a token, like the hub's: no XSRF
            return HubUser(hub_model(token[4:]))
        return await super().get_user(handler)


def auth_header(identity: str) -> dict[str, str]:
    name = NAMES.get(identity)
    return {
        "Authorization": f"token tok-{name}" if name else "token nope",
        # a browser's XSRF cookie and header, so that only the room boundary refuses
        "Cookie": "_xsrf=matrix",
        "X-XSRFToken": "matrix",
    }


def collect_leaked_pipes() -> None:
    """Close what the server's handlers left to the garbage collector.

    A server with every extension a room runs leaves a subprocess pipe for the collector to
    close, which warns (``ResourceWarning``) in whichever later test happens to run the
    collection. Collected here, before each test of these modules and after the last, the
    warning does not land on an unrelated test.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


# -- from a route's pattern to a URL ------------------------------------------------------------

_NAMED = {
    "path": "/no-such.ipynb",
    "kernel_id": "1c6b9d5e-0000-4000-8000-000000000000",
    "session_id": "1c6b9d5e-0000-4000-8000-000000000001",
    "checkpoint_id": "checkpoint",
    "section_name": "notebook",
    "action": "interrupt",
    "kernel_name": "python3",
    "schema_name": "@jupyterlab/apputils-extension:themes",
    "space_name": "matrix",
    "locale": "en",
    "language_server": "pylsp",
    "format": "html",
    "mode": "lab",
}
_META = set(".^$*+?{}[]|()\\")


def _group_sample(content: str) -> str:
    named = re.match(r"\?P<(\w+)>", content)
    if named:
        return _NAMED.get(named.group(1), "x")
    if content.startswith("?"):
        return ""
    literal = re.sub(r"\\(.)", r"\1", content)
    if "|" in content and "(" not in content:
        return re.sub(r"\\(.)", r"\1", content.split("|")[0])
    if not any(c in _META for c in re.sub(r"\\.", "", content)):
        return literal
    return "x"


def sample_path(pattern: str) -> str:
    """A request path that the route ``pattern`` (relative, without ``$``) matches."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(pattern[i + 1])
            i += 2
        elif c == "(":
            depth, j = 0, i
            while j < len(pattern):
                if pattern[j] == "\\":
                    j += 2
                    continue
                depth += {"(": 1, ")": -1}.get(pattern[j], 0)
                if depth == 0:
                    break
                j += 1
            content = pattern[i + 1 : j]
            optional = pattern[j + 1 : j + 2] == "?"
            named = re.match(r"\?P<(\w+)>", content)
            if optional and not (named and named.group(1) in _NAMED and named.group(1) != "mode"):
                out.append("")
            else:
                out.append(_group_sample(content))
            i = j + (2 if optional else 1)
        elif pattern.startswith("/?", i) and i + 2 == len(pattern):
            i += 2
        elif pattern.startswith(".*", i):
            out.append("x")
            i += 2
        else:
            out.append(c)
            i += 1
    return re.sub("/+", "/", "".join(out))


@dataclass
class Endpoint:
    pattern: str
    path: str  # the request path, from the server's root
    handler: type
    route: roles.Route | None
    methods: list[str]


def handler_methods(cls: type) -> list[str]:
    """The HTTP methods a handler class implements itself (not tornado's 405 defaults)."""
    from tornado.web import RequestHandler

    found = []
    for method in cls.SUPPORTED_METHODS:
        impl = getattr(cls, method.lower(), None)
        if impl is not None and impl is not getattr(RequestHandler, method.lower(), None):
            found.append(method)
    return found or ["GET"]


def endpoints(web_app: Any, base_url: str) -> list[Endpoint]:
    """Every route the server registers, once (the wildcard router repeats them)."""
    seen: set[str] = set()
    found = []
    for rule in routes.rules(web_app):
        pattern = routes.pattern(rule)
        if pattern in seen:
            continue
        seen.add(pattern)
        body = pattern[:-1] if pattern.endswith("$") else pattern
        for prefix in (base_url, re.escape(base_url)):
            if body.startswith(prefix):
                path = base_url + sample_path(body[len(prefix) :])
                break
        else:
            path = base_url + "no-such-page" if body.startswith("(") else sample_path(body)
        handler = routes.unguarded(rule.target)
        route = getattr(rule.target, routes.ROUTE_ATTR, None)
        found.append(Endpoint(pattern, path, handler, route, handler_methods(handler)))
    return found


#: Requests that would do what a test must not (stop the server, build the lab, install
#: packages): sent only to those who must be refused.
NOT_SENT_WHEN_ALLOWED = {("shutdown", "POST"), ("lab-extensions", "POST")}
#: Cheap request bodies where ``{}`` would start something slow.
BODIES = {("kernels", "POST"): '{"name": "no-such-kernel"}'}


@dataclass
class Result:
    endpoints: int = 0
    calls: int = 0
    unexpected_allows: list[str] = field(default_factory=list)
    unexpected_denies: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


async def run(
    url: str,
    web_app: Any,
    base_url: str,
    identities: tuple[str, ...] = tuple(IDENTITIES),
    timeout: float = 60,
) -> Result:
    """Send every implemented method of every route as every identity to the server at
    ``url`` (``http://host:port``), and compare with :func:`roles.may_reach`."""
    client = AsyncHTTPClient()
    result = Result()
    for ep in endpoints(web_app, base_url):
        if ep.route is None:
            result.missing.append(f"{ep.pattern} ({roles.class_name(ep.handler)})")
        for method in ep.methods:
            result.endpoints += 1
            for identity in identities:
                role = IDENTITIES[identity]
                allow = roles.may_reach(role, ep.route, method)
                family = ep.route.family if ep.route else None
                if allow and (family, method) in NOT_SENT_WHEN_ALLOWED:
                    continue
                body = None
                if method in ("POST", "PUT", "PATCH"):
                    body = BODIES.get((family, method), "{}")
                request = HTTPRequest(
                    url + ep.path,
                    method=method,
                    body=body,
                    headers=auth_header(identity),
                    follow_redirects=False,
                    request_timeout=timeout,
                    allow_nonstandard_methods=True,
                )
                try:
                    response = await client.fetch(request, raise_error=False)
                except (OSError, HTTPClientError) as e:  # closed with no answer
                    result.server_errors.append(f"{method} {ep.path} as {identity}: {e}")
                    continue
                code = response.code
                result.calls += 1
                what = f"{method} {ep.path} ({family}) as {identity}: {code}"
                # the anonymous may be sent to sign in instead of a 403
                to_login = code == 302 and "login" in response.headers.get("Location", "")
                refused = code == 403 or (identity == "anonymous" and to_login)
                if allow and code == 403:
                    result.unexpected_denies.append(what)
                elif not allow and not refused:
                    result.unexpected_allows.append(what)
                if code >= 500:
                    result.server_errors.append(what)
    return result
