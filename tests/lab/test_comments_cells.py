"""The comments service keeps a notebook's cells while its file is unchanged, so that a post
does not read and parse the notebook again; any change to the file is seen at once."""

from __future__ import annotations

import asyncio
import logging
import os
import time

import nbformat
import pytest
from jupyter_server.services.contents.filemanager import AsyncFileContentsManager
from nbformat.v4 import new_code_cell, new_notebook

from mutirao_lab.comments.service import RACY_NS, CommentsService


class CountingContentsManager(AsyncFileContentsManager):
    reads = 0

    async def get(self, path, content=True, type=None, format=None, **kwargs):
        if content:
            self.reads += 1
        return await super().get(path, content=content, type=type, format=format, **kwargs)


THEN = 1_700_000_000  # a modification time long past


def write(root, source: str, cell_id: str = "cell-a", back_date: bool = True) -> None:
    time.sleep(0.05)  # past the file system's clock tick, so the change time moves on
    nb = new_notebook(cells=[new_code_cell(source, id=cell_id)])
    nbformat.write(nb, str(root / "nb.ipynb"))
    if back_date:
        os.utime(root / "nb.ipynb", (THEN, THEN))


@pytest.fixture
def service(tmp_path, monkeypatch):
    # the change time cannot be back-dated: trust a file as soon as it is written
    monkeypatch.setattr("mutirao_lab.comments.service.RACY_NS", 0)
    cm = CountingContentsManager(root_dir=str(tmp_path))
    return CommentsService(None, None, {"contents_manager": cm}, logging.getLogger("test")), cm  # type: ignore[arg-type]


async def test_unchanged_notebook_is_read_once(service, tmp_path):
    svc, cm = service
    write(tmp_path, "x = 1")
    for _ in range(3):
        cells = await svc.cells("nb.ipynb")
        assert [(c["id"], c["source"]) for c in cells] == [("cell-a", "x = 1")]
    assert cm.reads == 1


async def test_a_changed_notebook_is_read_again(service, tmp_path):
    svc, cm = service
    write(tmp_path, "x = 1")
    await svc.cells("nb.ipynb")
    # the same size and (back-dated) modification time: the change time still differs
    write(tmp_path, "y = 2")
    cells = await svc.cells("nb.ipynb")
    assert [c["source"] for c in cells] == ["y = 2"]
    write(tmp_path, "y = 2", cell_id="cell-b")
    assert [c["id"] for c in await svc.cells("nb.ipynb")] == ["cell-b"]
    assert cm.reads == 3


async def test_a_notebook_just_written_is_not_kept(service, tmp_path, monkeypatch):
    # its timestamps may not change on the next write within the file system's clock tick
    monkeypatch.setattr("mutirao_lab.comments.service.RACY_NS", RACY_NS)
    assert RACY_NS >= 1_000_000_000
    svc, cm = service
    write(tmp_path, "x = 1", back_date=False)
    await svc.cells("nb.ipynb")
    await svc.cells("nb.ipynb")
    assert cm.reads == 2


async def test_concurrent_first_reads_share_one(service, tmp_path, monkeypatch):
    """A burst of posts on a notebook not read yet waits for one read, not one each; even a
    notebook just written (not kept afterwards) is read once for the calls that overlap."""
    monkeypatch.setattr("mutirao_lab.comments.service.RACY_NS", RACY_NS)
    svc, cm = service
    write(tmp_path, "x = 1", back_date=False)
    results = await asyncio.gather(*(svc.cells("nb.ipynb") for _ in range(20)))
    assert all([c["source"] for c in r] == ["x = 1"] for r in results)
    assert cm.reads == 1
    # a later call (the notebook is too new to be kept) reads it again
    await svc.cells("nb.ipynb")
    assert cm.reads == 2


async def test_a_failed_read_fails_every_caller_and_is_not_kept(service, tmp_path):
    svc, cm = service
    (tmp_path / "nb.ipynb").write_text("{not json")
    results = await asyncio.gather(
        *(svc.cells("nb.ipynb") for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, Exception) for r in results), results
    assert cm.reads == 1
    write(tmp_path, "fixed")
    assert [c["source"] for c in await svc.cells("nb.ipynb")] == ["fixed"]


async def test_the_first_listener_of_a_notebook_has_its_cells_read_ahead(service, tmp_path):
    svc, cm = service
    write(tmp_path, "x = 1")
    svc.subscribe("file-1", lambda frame: None, "nb.ipynb")
    svc.subscribe("file-1", lambda frame: None, "nb.ipynb")  # the second one reads nothing
    await asyncio.gather(*svc._warming)
    assert cm.reads == 1
    await svc.cells("nb.ipynb")  # a post now finds them
    assert cm.reads == 1
