"""``POST /git/resolve``: a conflicted notebook resolved in nbdime's merge widget.

The merged notebook is written as the working file through the live collaborative document
when the notebook is open (every connected client gets it, as with restore), then staged.
The body may be as large as ``MutiraoApp.max_diff_bytes`` (the size the conflict view is
built for), not only the other requests' 1 MiB.
"""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..gitcore import GitError, check_path
from ..resolve import check_conflicted, check_notebook, mark_resolved
from .base import GitHandler


class ResolveHandler(GitHandler):
    """``POST /git/resolve {repo, path, notebook}``: write the merged notebook chosen in
    nbdime's merge widget as the working file (and into its live document), and mark the
    conflict resolved (staged)."""

    def limit(self) -> int:
        return int(self.service.app.max_diff_bytes)

    def body_limit(self) -> tuple[int, str]:
        # a notebook with outputs is often larger than the other requests' 1 MiB limit
        limit = self.limit()
        message = f"the merged notebook is larger than {limit:,} bytes (MutiraoApp.max_diff_bytes)"
        return limit, message

    @web.authenticated
    @authorized
    async def post(self) -> None:
        await self.allow(write=True)
        path = check_path(self.arg("path"))
        if not path.endswith(".ipynb"):
            raise GitError(400, "only notebooks are resolved here; edit a text file and commit it")
        repository = self.repo()
        data = await self.core.call(check_notebook, self.arg("notebook"))
        await self.core.call(check_conflicted, repository, path)
        root_path = self.root_path(path)
        live = await self.service.live.replace(root_path, data)
        self.service.snapshots.note_editor(root_path, self.current_user.username, self.me())
        remaining = await self.core.call(mark_resolved, repository, path)
        self.write_json({"path": path, "staged": True, "conflicts": remaining, **live})
