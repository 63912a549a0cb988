"""The demo's team room, ready to show: an example notebook under git, with two versions by two
people and one comment thread, written into the room's folder before its server first starts.

Run by config/demo/jupyterhub_config.py at every hub start; it does nothing once the notebook is
there, so people's changes are never overwritten. The room is born as every room is
(``mutirao_lab.versioning.repo.init_repo``); the comment goes through the comments store
(``mutirao_lab.comments.store``) and jupyter-server-fileid's own manager, as the room's server
would write them.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

NOTEBOOK = "example.ipynb"

#: The authors of the two versions and of the comment (config/demo/users.toml).
ANA = ("ana", "Ana Souza", "ana@example.org")
BRUNO = ("bruno", "Bruno Lima", "bruno@example.org")

LOAD = "sales = [120, 135, 128, 150]\nprint(sum(sales))"
PLOT = "growth = [b - a for a, b in zip(sales, sales[1:])]\nprint(growth)"


def _notebook(version: int) -> dict:
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

    cells = [
        new_markdown_cell("# Quarterly sales\nAn example notebook of the team room.", id="intro"),
        new_code_cell(
            LOAD,
            id="load",
            execution_count=1,
            outputs=[new_output("stream", name="stdout", text="533\n")],
        ),
    ]
    if version >= 2:
        cells.append(new_code_cell(PLOT, id="growth"))
    nb = new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    return nbformat.writes(nb)


def _git(home: Path, *args: str, who: tuple[str, str, str] | None = None) -> None:
    env = dict(os.environ)
    if who is not None:
        _, name, email = who
        env.update(
            GIT_AUTHOR_NAME=name,
            GIT_AUTHOR_EMAIL=email,
            GIT_COMMITTER_NAME=home.name,
            GIT_COMMITTER_EMAIL=f"{home.name}@users.noreply.mutirao",
        )
    subprocess.run(["git", *args], cwd=home, env=env, check=True, capture_output=True)


def _comment(home: Path) -> None:
    from jupyter_server_fileid.manager import ArbitraryFileIdManager

    from mutirao_lab.comments.model import Anchor, Author, Comment, Thread
    from mutirao_lab.comments.service import new_id, now
    from mutirao_lab.comments.store import CommentDB

    # where the room's server finds them: jupyter-server-fileid's default database in the
    # room's data folder (HOME is the room's folder), the comments database in its root
    data = home / ".local" / "share" / "jupyter"
    data.mkdir(parents=True, exist_ok=True)
    ids = ArbitraryFileIdManager(root_dir=str(home), db_path=str(data / "file_id_manager.db"))
    file_id = ids.index(NOTEBOOK)
    ids.con.close()
    db = CommentDB(str(home / ".mutirao" / "comments.sqlite"))
    try:
        ana = Author(ANA[0], ANA[1])
        bruno = Author(BRUNO[0], BRUNO[1])
        thread_id, stamp = new_id(), now()
        first = Comment(
            new_id(),
            thread_id,
            ana,
            "@bruno could we show the growth per quarter here?",
            stamp,
            None,
            ["bruno"],
        )
        reply = Comment(new_id(), thread_id, bruno, "Done in the next cell.", now(), None, [])
        thread = Thread(
            id=thread_id,
            anchor=Anchor(file_id, "load"),
            created_at=stamp,
            author=ana,
            last_source=LOAD,
            comments=[first],
        )
        db.create_thread(thread, NOTEBOOK)
        db.add_comment(reply)
    finally:
        db.close()


def seed_room(home: Path) -> bool:
    """Write the example into the room's folder ``home`` unless it is there; answer whether
    it was written."""
    if (home / NOTEBOOK).exists():
        return False
    from mutirao_lab.versioning.gitcore import GitCore
    from mutirao_lab.versioning.repo import Person, init_repo

    home.mkdir(parents=True, exist_ok=True)
    if not (home / ".git").exists():
        # born as every room is (its default .gitignore and first commit), by Ana
        room = Person.of(home.name, f"{home.name}@users.noreply.mutirao")
        core = GitCore(str(home))
        try:
            init_repo(core, "", Person.of(ANA[1], ANA[2]), room, "main")
        finally:
            core.close()  # its git helper processes must not outlive the seeding
    (home / NOTEBOOK).write_text(_notebook(1))
    _git(home, "add", NOTEBOOK)
    _git(home, "commit", "-q", "-m", "Load the quarterly sales", who=ANA)
    (home / NOTEBOOK).write_text(_notebook(2))
    _git(home, "add", NOTEBOOK)
    _git(home, "commit", "-q", "-m", "Show the growth per quarter", who=BRUNO)
    _comment(home)
    return True
