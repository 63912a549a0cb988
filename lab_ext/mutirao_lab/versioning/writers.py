"""Who wrote to each collaborative document since its last snapshot.

A snapshot's ``Edited-by`` names the people whose edits it contains. In real-time
collaboration every edit reaches the server as a Y update on the document's websocket, whose
user the server authenticated when it opened; the collaboration websocket
(:mod:`mutirao_lab.rooms.ydoc_filter`) calls :func:`wrote` for each update it applies, and the
snapshot service takes the names when it snapshots the file. Awareness, which a client
writes itself, is never used for this.

Documents are known by their file id (jupyter-server-fileid), so a rename keeps its writers.
"""

from __future__ import annotations

from typing import Any

from .repo import Person

#: Where the versioning service keeps its :class:`Writers` in the server's settings.
SETTINGS_KEY = "mutirao_writers"
#: An empty Y update (no structs, empty delete set): what a client in sync answers to the
#: server's sync step 1 when it connects, which is no edit.
_EMPTY_UPDATE = b"\x00\x00"


class Writers:
    """Per file id, the people (by user name) whose Y updates were applied since the file's
    last snapshot."""

    def __init__(self) -> None:
        self._by_file: dict[str, dict[str, Person]] = {}

    def wrote(self, room_id: str, user: Any) -> None:
        file_id = room_id.rpartition(":")[2]
        username = getattr(user, "username", None)
        if not file_id or not isinstance(username, str) or not username:
            return
        people = self._by_file.setdefault(file_id, {})
        if username not in people:
            people[username] = Person.from_user(user)

    def knows(self, room_id: str, user: Any) -> bool:
        """Whether ``user`` is already recorded as a writer of ``room_id``'s document."""
        people = self._by_file.get(room_id.rpartition(":")[2])
        return people is not None and getattr(user, "username", None) in people

    def take(self, file_id: str | None) -> dict[str, Person]:
        """The writers of ``file_id`` since the last call, forgotten."""
        if not file_id:
            return {}
        return self._by_file.pop(file_id, {})


def carries_change(message: bytes) -> bool:
    """Whether a document write (Y sync step 2 or update) holds anything: the empty update a
    client sends when it connects in sync does not."""
    try:
        from pycrdt import Decoder

        decoder = Decoder(bytes(message))
        decoder.read_var_uint()  # the message type: sync
        decoder.read_var_uint()  # step 2 or update
        return decoder.read_message() != _EMPTY_UPDATE
    except Exception:
        return True  # undecodable: it reached the document, so count it


def wrote(settings: Any, room_id: str, user: Any, message: bytes) -> None:
    """Record that ``user`` wrote ``message`` (a document write) to the document ``room_id``
    (``<format>:<type>:<file id>``); called by the collaboration websocket."""
    writers = settings.get(SETTINGS_KEY) if hasattr(settings, "get") else None
    # decoding copies the update: skipped for someone already recorded since the snapshot
    if not isinstance(writers, Writers) or writers.knows(room_id, user):
        return
    if carries_change(message):
        writers.wrote(room_id, user)
