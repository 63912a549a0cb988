"""The room boundary, generated: every route the room's server registers × eight identities.

The server is pytest-jupyter's, with every server extension a room's server runs (the
same set the ``mutirao`` metapackage installs) and ``$JUPYTERHUB_USER`` naming a room. See
:mod:`tests.lab.access_matrix` for the identities and how each route becomes a request.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mutirao_lab.rooms import roles, routes

from . import access_matrix as am

# jupyter-lsp 2.3 still uses names that jupyter-server and traitlets deprecate
pytestmark = [
    pytest.mark.filterwarnings("ignore:A `_load_jupyter_server_extension`:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:Keyword `trait` is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:Traits should be given as instances:DeprecationWarning"),
]

EXTENSIONS = (
    "jupyter_lsp",
    "jupyter_server_fileid",
    "jupyter_server_terminals",
    "jupyter_server_ydoc",
    "jupyterlab",
    "mutirao_lab",
    "nbdime",
)  # and notebook_shim, which registers no route (and warns under pytest's filterwarnings)


@pytest.fixture(autouse=True)
def collect_pipes():
    # what the previous test's server left is collected before this test starts
    am.collect_leaked_pipes()


@pytest.fixture(autouse=True, scope="module")
def collect_pipes_last():
    # and the last test's, once its server has been cleaned up
    yield
    am.collect_leaked_pipes()


@pytest.fixture(autouse=True)
def room_env(monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_USER", am.ROOM)
    monkeypatch.setenv("JUPYTERHUB_SERVER_NAME", "")


@pytest.fixture
def jp_server_config():
    return {
        "ServerApp": {
            "jpserver_extensions": dict.fromkeys(EXTENSIONS, True),
            "identity_provider_class": am.HubScopesIdentityProvider,
        },
        "YDocExtension": {"document_cleanup_delay": 1},
    }


def test_every_route_has_a_room_role(jp_serverapp, jp_base_url):
    found = am.endpoints(jp_serverapp.web_app, jp_base_url)
    missing = [f"{e.pattern} ({roles.class_name(e.handler)})" for e in found if e.route is None]
    assert missing == [], "routes with no entry in mutirao_lab.rooms.roles.ROUTES"
    assert routes.unguarded_routes(jp_serverapp.web_app) == []
    # the families the issue names are all registered and judged
    families = {e.route.family for e in found if e.route is not None}
    assert {
        "contents", "kernels", "kernel-channels", "terminals", "collaboration-room",
        "collaboration-history", "lab-settings", "lab-workspaces", "nbdime-api", "lsp",
        "file-ids", "comments", "versioning", "server-info",
    } <= families  # fmt: skip


def test_table_entries_name_real_handlers(jp_serverapp, jp_base_url):
    """An entry whose handler no extension registers any more is a stale role."""
    registered = set()
    for e in am.endpoints(jp_serverapp.web_app, jp_base_url):
        registered.update(roles.class_name(c) for c in e.handler.__mro__)
    # the hub's sign-in handlers are registered only under JupyterHub
    hub_only = {
        "jupyter_server.auth.login.LoginFormHandler",
        "jupyterhub.singleuser.extension.JupyterHubLogoutHandler",
        "jupyterhub.singleuser.extension.JupyterHubOAuthCallbackHandler",
    }
    stale = {n for r in roles.ROUTES for n in r.handlers} - registered - hub_only
    assert stale == set()


async def test_access_matrix(jp_serverapp, http_server_client, jp_http_port, jp_base_url):
    result = await am.run(f"http://localhost:{jp_http_port}", jp_serverapp.web_app, jp_base_url)
    assert result.missing == []
    assert result.unexpected_allows == []
    assert result.unexpected_denies == []
    assert result.endpoints > 100


def test_the_admin_guide_lists_every_route_family():
    """docs/admin/room-roles.md carries the table as ``roles.route_table_markdown()`` writes
    it: regenerate the block between its markers when ROUTES changes."""
    doc = (Path(__file__).parents[2] / "docs" / "admin" / "room-roles.md").read_text()
    start = doc.index("<!-- route table: generated")
    block = doc[doc.index("\n", start) + 1 : doc.index("<!-- end of route table -->")]
    assert block == roles.route_table_markdown()
    for route in roles.ROUTES:
        assert f"| `{route.family}` |" in block
