"""Save every open collaborative document when the server stops.

jupyter-collaboration saves a document a second after its last change (its ``save delay``)
and, when the server stops, drops the rooms without saving (its pending save is cancelled).
Edits typed in that last second are then in the live document but not in the file, and the
document store (``.jupyter_ystore.db``) misses its last writes too (they are cancelled). When
the server starts again jupyter-collaboration finds store and file out of step and takes the
file's content: members who reconnect see their last edits vanish, and what they typed while
the server was away cannot be merged (it refers to text the store never got) and is dropped.
A room's server is stopped and started by its members (and by idle culling) while people are
typing, so its documents are saved as it stops.

Each document is read synchronously when the server begins to stop, before
jupyter-collaboration tears its rooms down; its whole state is written to the store and its
content saved through its own file loader (the contents manager, with its out-of-band-change
check), so the next start loads it from the store with its history and reconnecting members'
documents merge into it.

That needs the server to stop through its own shutdown. JupyterHub's local-process spawners
stop a server with SIGINT first; jupyter-server, without a terminal, lets SIGINT break its
event loop and exits without shutting its extensions down (nothing is saved, and the process
lingers until SIGKILL). :func:`stop_cleanly_on_sigint` makes SIGINT do what SIGTERM does in a
server started by JupyterHub, as JupyterHub's own single-user mixin does.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from typing import Any

log = logging.getLogger(__name__)


def unsaved_documents(serverapp: Any) -> list[tuple[Any, dict]]:
    """(room, model to save) for each open document.

    All of them: jupyter-collaboration does not track which have changed since their last
    save (its ``dirty`` flag is the lab's), and saving an unchanged document is harmless.
    """
    apps = serverapp.extension_manager.extension_apps.get("jupyter_server_ydoc", set())
    found = []
    for app in apps:
        server = getattr(app, "ywebsocket_server", None)
        for room in list(getattr(server, "rooms", {}).values()):
            document = getattr(room, "_document", None)
            loader = getattr(room, "_file", None)
            if document is None or loader is None or not getattr(room, "ready", False):
                continue  # a global awareness room, or one still loading its file
            model = {
                "format": room._file_format,
                "type": room._file_type,
                "content": document.get(),
                # the whole document as one Y update, taken at the same moment
                "state": room.ydoc.get_update(),
            }
            found.append((room, model))
    return found


async def save(documents: list[tuple[Any, dict]], logger: logging.Logger = log) -> int:
    """Save what :func:`unsaved_documents` found; returns how many were saved."""

    async def one(room: Any, model: dict) -> bool:
        state = model.pop("state")
        try:
            if getattr(room, "ystore", None) is not None:
                # the store's own writes of the last updates are cancelled when the room stops;
                # the file and the store must agree, or the next start reverts to the file
                await room.ystore.write(state)
            saved = await room._file.maybe_save_content(model)
        except Exception as e:  # out-of-band change, unwritable file: say so, save the rest
            logger.warning("Mutirão: could not save %s on stop: %r", room._file.path, e)
            return False
        return saved is not None

    results = await asyncio.gather(*(one(room, model) for room, model in documents))
    if documents:
        logger.info("Mutirão: saved %d of %d open documents on stop", sum(results), len(results))
    return sum(results)


def stop_cleanly_on_sigint(serverapp: Any) -> bool:
    """In a server started by JupyterHub, stop on SIGINT through the server's shutdown.

    Call it once the event loop runs (jupyter-server sets its own handlers before). Returns
    whether the handler was installed (not outside JupyterHub, nor off the main thread).
    """
    if not os.environ.get("JUPYTERHUB_API_TOKEN"):
        return False
    if threading.current_thread() is not threading.main_thread():
        return False
    signal.signal(signal.SIGINT, serverapp._signal_stop)
    return True
