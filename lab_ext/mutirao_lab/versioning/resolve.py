"""Resolving a conflicted notebook with the merged notebook from nbdime's merge widget.

The lab sends what the user chose in nbdime's merge widget (``NotebookMergeModel.serialize()``)
to ``POST /git/resolve`` (:mod:`.handlers.resolve`); these checks and the staging run in the
git thread pool. Only a file git lists as conflicted (unmerged) is accepted, only a plain file
inside the repository, and only a valid nbformat 4 notebook. Staging the written file marks
its conflict resolved; once none remains, a commit concludes the merge.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

from .gitcore import GitError, Repository
from .merge import conflicted


def check_notebook(value: Any) -> bytes:
    """The file content for a merged notebook sent as JSON: a valid nbformat 4 notebook,
    written as Jupyter writes notebooks. Raises ``GitError(400)`` for anything else."""
    import nbformat

    if not isinstance(value, dict):
        raise GitError(400, "`notebook` must be a notebook (a JSON object)")
    if value.get("nbformat") != 4:
        raise GitError(400, "`notebook` must be an nbformat 4 notebook")
    try:
        with warnings.catch_warnings():
            # nbformat warns about what it repairs (missing cell ids); the validation decides
            warnings.simplefilter("ignore")
            node = nbformat.from_dict(value)
            nbformat.validate(node)
            text = nbformat.writes(node)
    except nbformat.ValidationError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else "invalid"
        raise GitError(400, f"`notebook` is not a valid notebook: {first}") from None
    except (ValueError, TypeError, AttributeError, KeyError) as e:
        raise GitError(400, f"`notebook` is not a valid notebook: {e}") from None
    return text.encode("utf-8")


def check_conflicted(repo: Repository, path: str) -> None:
    """``path`` is a conflicted file of ``repo`` and a plain file inside it (not a link that
    would make the write land elsewhere)."""
    if path not in conflicted(repo):
        raise GitError(409, f"{path} has no conflict to resolve")
    full = os.path.join(repo.path, path)
    real_repo = os.path.realpath(repo.path)
    real = os.path.realpath(full)
    if os.path.islink(full) or not real.startswith(real_repo + os.sep):
        raise GitError(400, f"{path} is a link; resolve it with git")


def mark_resolved(repo: Repository, path: str) -> list[str]:
    """Stage the written file (git's way of marking a conflict resolved); answers the files
    still conflicted."""
    with repo.writing():
        repo.git("add", "--", path)
    return conflicted(repo)
