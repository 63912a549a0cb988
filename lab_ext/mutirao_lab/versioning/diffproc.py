"""Diffs in a worker process, so that they never hold the server's event loop.

A diff of two large notebooks parses megabytes of JSON and writes megabytes back. In a thread
of the server's own process those C calls (``json.loads``, ``json.dumps``) hold Python's global
interpreter lock for a tenth of a second or more at a time, and the event loop, which needs the
lock to run, stops for as long: every member of a room froze at each diff. One worker process
(started with ``spawn`` at the first diff, replaced if it dies) computes them instead; the
server's thread only waits for it, without the lock.
"""

from __future__ import annotations

import json
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from .diff import DiffTooLarge, diff_notebooks, diff_text, loads_notebook
from .gitcore import GitError

EMPTY_NOTEBOOK = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def diff_body(
    path: str,
    revs: tuple[str, str],
    sides: dict[str, Any],
    a: bytes | None,
    b: bytes | None,
    options: dict[str, bool],
    max_bytes: int,
    deadline_s: float,
) -> str:
    """The diff API's answer (JSON text) for the two versions ``a`` and ``b`` of ``path``."""
    for data in (a, b):
        if data is not None and len(data) > max_bytes:
            raise DiffTooLarge(
                f"{path} is larger than the diff size limit of {max_bytes:,} bytes "
                "(MutiraoApp.max_diff_bytes), so no diff was computed."
            )
    if path.endswith(".ipynb"):
        nbs = []
        for rev, data in zip(revs, (a, b), strict=True):
            if data is None:
                nbs.append(dict(EMPTY_NOTEBOOK))
                continue
            try:
                nbs.append(loads_notebook(data))
            except ValueError as e:
                raise GitError(
                    422, f"{path} at {rev} is not a valid notebook, so it cannot be diffed: {e}"
                ) from None
        diff = diff_notebooks(
            nbs[0],
            nbs[1],
            ignore_outputs=options["ignore_outputs"],
            ignore_metadata=options["ignore_metadata"],
            deadline_s=deadline_s,
            max_bytes=max_bytes,
        )
        return json.dumps({"path": path, "kind": "notebook", **sides, "base": nbs[0], "diff": diff})
    texts = ["" if d is None else d.decode("utf-8", "replace") for d in (a, b)]
    lines = diff_text(
        texts[0],
        texts[1],
        fromfile=f"a/{path}",
        tofile=f"b/{path}",
        deadline_s=deadline_s,
        max_bytes=max_bytes,
    )
    return json.dumps({"path": path, "kind": "text", **sides, "unified": lines})


def _in_worker(*args: Any) -> tuple:
    # errors come back as data: exceptions with their own __init__ do not unpickle reliably
    try:
        return ("ok", diff_body(*args).encode())  # encoded here, not by the server's loop
    except DiffTooLarge as e:
        return ("too-large", str(e))
    except GitError as e:
        return ("git", e.status, e.message)


class DiffWorker:
    """One worker process for diffs; :meth:`run` blocks its (non-loop) caller until done."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=1, mp_context=multiprocessing.get_context("spawn")
                )
            return self._pool

    def run(self, *args: Any) -> bytes:
        """:func:`diff_body` ``(*args)`` in the worker, encoded in UTF-8."""
        pool = self._executor()
        try:
            outcome = pool.submit(_in_worker, *args).result()
        except BrokenProcessPool:
            with self._lock:  # the next diff starts a new worker
                if self._pool is pool:
                    self._pool = None
            raise GitError(503, "the diff stopped before it finished; try again") from None
        if outcome[0] == "too-large":
            raise DiffTooLarge(outcome[1])
        if outcome[0] == "git":
            raise GitError(outcome[1], outcome[2])
        return outcome[1]

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
