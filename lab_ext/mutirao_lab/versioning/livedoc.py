"""Restore and checkout through the live collaborative document.

When a file is open for collaboration, jupyter-collaboration keeps its content in a Y document
(a "room") and saves that document back to disk. Writing only the file would be undone by the
next save of a stale document (jupyter-collaboration#243). So a restore replaces the room's
content in one Y transaction, which every connected client receives, and writes the file while
holding the room's update lock, so the room neither saves back its old content nor reloads in
between. With no room open, the file is simply written.
"""

from __future__ import annotations

from typing import Any

from jupyter_core.utils import ensure_async

from .diff import loads_notebook


def content_kind(path: str) -> tuple[str, str]:
    """``(content type, format)`` of a file as the contents API and rooms name them."""
    return ("notebook", "json") if path.endswith(".ipynb") else ("file", "text")


class LiveDocuments:
    """Writes files through the contents manager and the open collaboration rooms."""

    def __init__(self, settings: dict, log: Any) -> None:
        self.settings = settings
        self.log = log

    def _room(self, path: str, content_type: str, file_format: str) -> Any:
        ydoc = self.settings.get("jupyter_server_ydoc")
        fim = self.settings.get("file_id_manager")
        if ydoc is None or fim is None or not hasattr(ydoc, "ywebsocket_server"):
            return None
        file_id = fim.get_id(path)
        if file_id is None:
            return None
        from jupyter_server_ydoc.utils import encode_file_path, room_id_from_encoded_path

        room_id = room_id_from_encoded_path(encode_file_path(file_format, content_type, file_id))
        room = ydoc.ywebsocket_server.rooms.get(room_id)
        if room is None or not getattr(room, "ready", False):
            return None
        return room

    def people(self, path: str) -> list[str]:
        """The user names of those who have ``path`` open now (its room's websocket clients,
        as the server authenticated them), in no particular order."""
        content_type, file_format = content_kind(path)
        room = self._room(path, content_type, file_format)
        names = set()
        for client in list(getattr(room, "clients", None) or ()):
            user = getattr(client, "current_user", None)
            name = getattr(user, "username", None)
            if isinstance(name, str) and name:
                names.add(name)
        return sorted(names)

    async def replace(self, path: str, data: bytes) -> dict[str, Any]:
        """Make ``path`` (root-relative) hold ``data`` on disk and in its open room, if any.
        Answers ``{"live": bool}``: whether a room (and its clients) got the new content."""
        content_type, file_format = content_kind(path)
        content: Any
        content = loads_notebook(data) if content_type == "notebook" else data.decode("utf-8")
        cm = self.settings["contents_manager"]
        model = {"type": content_type, "format": file_format, "content": content}
        room = self._room(path, content_type, file_format)
        if room is None:
            await ensure_async(cm.save(model, path))
            return {"live": False}
        async with room._update_lock:
            loader = room._file
            async with loader._lock:
                saved = await ensure_async(cm.save(model, path))
                loader.last_modified = saved["last_modified"]
            document = room._document
            # one transaction: clients see the restored, saved document at once, never half
            with document.ydoc.transaction():
                document.set(content)
                document.dirty = False
        return {"live": True}

    async def reload(self, paths: list[str]) -> list[str]:
        """After a checkout, pull or merge changed files on disk: give their open rooms the
        new content from disk. Answers the paths whose rooms were updated."""
        cm = self.settings["contents_manager"]
        updated = []
        for path in paths:
            content_type, file_format = content_kind(path)
            room = self._room(path, content_type, file_format)
            if room is None:
                continue
            try:
                model = await ensure_async(
                    cm.get(path, content=True, type=content_type, format=file_format)
                )
            except Exception:  # the file is gone on this branch; the room keeps what it has
                self.log.info("Mutirão: %s is not on disk after the change", path)
                continue
            async with room._update_lock:
                room._file.last_modified = model["last_modified"]
                document = room._document
                if await document.aget() != model["content"]:
                    with document.ydoc.transaction():
                        document.set(model["content"])
                        document.dirty = False
            updated.append(path)
        return updated
