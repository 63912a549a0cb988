"""``GET /git/locate``: which repository holds the file the lab has in focus.

The History panel asks this for a server-root-relative path, then names ``repo`` and
``path`` in every other request. Same server and users as ``test_git_api.py``.
"""

from __future__ import annotations

import pytest

from . import test_git_api as base
from .test_git_api import git, write_nb

api, repo, jp_server_config, _owner = base.api, base.repo, base.jp_server_config, base._owner


async def test_locate_finds_the_nearest_repository(api, repo, jp_root_dir):
    code, body = await api("GET", "locate", params={"path": "proj/analysis.ipynb"})
    assert code == 200, body
    assert body == {"repo": "proj", "path": "analysis.ipynb"}

    # a repository nested in a folder of another one wins for its own files
    inner = repo / "sub" / "inner"
    inner.mkdir(parents=True)
    git(inner, "init", "-q", "-b", "main")
    write_nb(inner / "deep" / "nb.ipynb", "x = 1")
    code, body = await api("GET", "locate", params={"path": "proj/sub/inner/deep/nb.ipynb"})
    assert code == 200, body
    assert body == {"repo": "proj/sub/inner", "path": "deep/nb.ipynb"}
    code, body = await api("GET", "locate", params={"path": "proj/sub/other.ipynb"})
    assert body == {"repo": "proj", "path": "sub/other.ipynb"}

    # the root itself as repository
    git(jp_root_dir, "init", "-q", "-b", "main")
    code, body = await api("GET", "locate", params={"path": "top.ipynb"})
    assert code == 200, body
    assert body == {"repo": "", "path": "top.ipynb"}


async def test_locate_outside_any_repository_is_404(api, jp_root_dir):
    (jp_root_dir / "loose").mkdir()
    code, body = await api("GET", "locate", params={"path": "loose/a.ipynb"})
    assert code == 404
    assert body["message"] == "loose/a.ipynb is not in a git repository"


@pytest.mark.parametrize(
    "path",
    ["", "/etc/passwd", "../outside.ipynb", "proj/../../x", "-rf", "proj/.git/config", "a\nb"],
)
async def test_locate_refuses_hostile_paths(api, repo, path):
    code, body = await api("GET", "locate", params={"path": path})
    assert code == 400, body
    assert body["message"]


async def test_locate_needs_a_member(api, repo):
    code, body = await api("GET", "locate", user="vera", params={"path": "proj/notes.md"})
    assert code == 200, body
    code, body = await api("GET", "locate", user="sam", params={"path": "proj/notes.md"})
    assert code == 403
