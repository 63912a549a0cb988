"""A room's contents manager never follows a symlink out of the room's folder.

An editor can plant a symlink (from a terminal, a kernel or a git checkout) to ``/etc/passwd``
or to another user's files; jupyter-server's file contents manager follows it, so a viewer
could read through it what the room's server process can read. On a room's server, Mutirão
configures the contents manager with :class:`RoomContentsMixin` in front, which resolves every
path (``os.path.realpath``) and answers a path that ends outside the root, or outside the
folders in ``allowed_link_targets``, exactly like a missing file (404). Everything the server
does through its contents manager goes through it: ``/api/contents`` (get, save, rename,
copy, delete), ``/files``, nbconvert, and jupyter-collaboration's documents. Directory
listings leave such links out, as they leave out files that cannot be read.
"""

from __future__ import annotations

import errno
import os
from typing import Any

from jupyter_server.base.handlers import AuthenticatedFileHandler
from jupyter_server.services.contents.filemanager import (
    AsyncFileContentsManager,
    FileContentsManager,
)
from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from tornado import web
from traitlets import List, Unicode, default
from traitlets.config import LoggingConfigurable


class OutsideTheRoom(web.HTTPError, OSError):
    """A path that resolves outside the room: a 404 to a client, and to jupyter-server's
    directory listing an ``ELOOP`` error (what a symlink loop raises), which it skips quietly.
    Not ``EACCES``: the contents manager would turn that into a 403, which tells that the
    file exists."""

    def __init__(self, path: str) -> None:
        # preformatted, as jupyter-server's own: its API handlers show log_message as it is
        web.HTTPError.__init__(self, 404, f"No such file or directory: {path}")
        self.errno = errno.ELOOP


class RoomFileHandler(AuthenticatedFileHandler):
    """``/files``: a file tornado refuses as outside the root (it resolves symlinks) is
    answered as a missing one, 404, not 403."""

    def validate_absolute_path(self, root: str, absolute_path: str) -> str:
        try:
            return super().validate_absolute_path(root, absolute_path)
        except web.HTTPError as e:
            if e.status_code == 403:
                raise web.HTTPError(404) from None
            raise


class RoomContentsMixin(LoggingConfigurable):
    """Put in front of a file contents manager: refuse paths that resolve out of the root.
    Its option is set on this class, whatever the contents manager it is put in front of."""

    allowed_link_targets = List(
        Unicode(),
        help="""Folders outside the room's folder that symlinks in the room may point into
        (a shared dataset mount, say); every other symlink that leads out of the room's
        folder is answered as a missing file. Default: none. Example::

            c.RoomContentsMixin.allowed_link_targets = ["/datasets"]

        .. versionadded:: 0.2
        """,
    ).tag(config=True)

    @default("files_handler_class")
    def _room_files_handler(self) -> type:
        return RoomFileHandler

    def _allowed_roots(self) -> list[str]:
        roots = [self.root_dir, *self.allowed_link_targets]  # type: ignore[attr-defined]
        return [os.path.realpath(r) for r in roots]

    def _get_os_path(self, path: str) -> str:
        os_path: str = super()._get_os_path(path)  # type: ignore[misc]
        real = os.path.realpath(os_path)
        for root in self._allowed_roots():
            if real == root or real.startswith(root.rstrip(os.sep) + os.sep):
                return os_path
        raise OutsideTheRoom(path)


class RoomContentsManager(RoomContentsMixin, AsyncLargeFileManager):  # type: ignore[misc]
    """jupyter-server's default contents manager, kept inside the room's folder."""


def room_contents_class(configured: Any) -> type | None:
    """The contents manager class a room uses, given the server's. A file contents manager
    gets :class:`RoomContentsMixin` in front; for another kind (not on the local file system)
    ``None`` is returned, and it is kept."""
    if configured is AsyncLargeFileManager:
        return RoomContentsManager
    if isinstance(configured, type) and issubclass(
        configured, (FileContentsManager, AsyncFileContentsManager)
    ):
        if issubclass(configured, RoomContentsMixin):
            return configured
        return type(f"Room{configured.__name__}", (RoomContentsMixin, configured), {})
    return None
