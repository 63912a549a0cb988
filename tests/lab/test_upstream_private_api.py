"""The upstream names Mutirão relies on that are not public API, checked against what is
installed: an upgrade that renames one fails here, before a room's server silently loses
its read-only filter, its boundary or its save on stop. The dependency ranges in
lab_ext/pyproject.toml stop at the next major version of each of these packages.
"""

from __future__ import annotations

import inspect

import pytest
from traitlets.utils.importstring import import_item

from mutirao_lab.rooms import roles

from .test_access_matrix import pytestmark  # noqa: F401  (jupyter-lsp warns on import)


def source(obj) -> str:
    return inspect.getsource(obj)


def test_jupyter_server_ydoc_websocket_and_rooms():
    from jupyter_server_ydoc.handlers import DocSessionHandler, YDocWebSocketHandler
    from jupyter_server_ydoc.loaders import FileLoader
    from jupyter_server_ydoc.rooms import DocumentRoom
    from jupyter_server_ydoc.utils import encode_file_path, room_id_from_encoded_path

    # ydoc_filter subclasses the websocket and answers read-only saves with its encoder
    assert inspect.iscoroutinefunction(YDocWebSocketHandler.open)
    assert inspect.iscoroutinefunction(YDocWebSocketHandler.on_message)
    assert callable(YDocWebSocketHandler._encode_json_message)
    assert "self._room_id" in source(YDocWebSocketHandler)
    assert callable(DocSessionHandler.put)
    # save_on_stop and versioning's live document read a room's private parts
    init = source(DocumentRoom.__init__)
    for name in ("_file_format", "_file_type", "_file", "_document", "_update_lock"):
        assert f"self.{name}" in init, name
    assert "self._lock" in source(FileLoader.__init__)
    assert inspect.iscoroutinefunction(FileLoader.maybe_save_content)
    assert isinstance(inspect.getattr_static(FileLoader, "path"), property)
    assert callable(encode_file_path)
    assert callable(room_id_from_encoded_path)


def test_jupyter_server_hooks():
    from jupyter_server.extension.application import ExtensionApp
    from jupyter_server.serverapp import ServerApp

    assert callable(ExtensionApp._link_jupyter_server_extension)
    assert inspect.iscoroutinefunction(ExtensionApp._start_jupyter_server_extension)
    assert callable(ServerApp._signal_stop)
    assert "reraise_server_extension_failures" in ServerApp.class_trait_names()
    # the boundary's answer to the anonymous relies on prepare() setting the user first
    from jupyter_server.base.handlers import JupyterHandler

    assert "self.current_user = self._jupyter_current_user = user" in source(JupyterHandler.prepare)


def test_jupyterlab_server_per_person_attributes():
    from jupyterlab_server.settings_utils import SchemaHandler
    from jupyterlab_server.workspaces_handler import WorkspacesHandler, WorkspacesManager

    assert "self.settings_dir = settings_dir" in source(SchemaHandler.initialize)
    assert "self.manager = manager" in source(WorkspacesHandler.initialize)
    assert "self.workspaces_dir" in source(WorkspacesManager.__init__)


def test_nbdime_arguments_and_merge_parser():
    from nbdime.nbmergeapp import _build_arg_parser
    from nbdime.webapp.nb_server_extension import (
        ExtensionApiDiffHandler,
        GitDiffHandler,
        IsGitHandler,
    )

    assert callable(_build_arg_parser)
    # the room boundary checks exactly these arguments
    assert "body['base']" in source(ExtensionApiDiffHandler.post)
    assert "'file_path'" in source(GitDiffHandler)
    assert "'ref_local'" in source(GitDiffHandler)
    assert "body['path']" in source(IsGitHandler.post)


@pytest.mark.parametrize("name", sorted({n for r in roles.ROUTES for n in r.handlers}))
def test_every_handler_in_the_route_table_exists(name):
    cls = import_item(name)
    assert isinstance(cls, type), name
