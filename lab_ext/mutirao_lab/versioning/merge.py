"""Merging a branch into the current one, and the conflicts a merge leaves.

Notebooks merge through nbdime's merge driver (configured per repository by
:func:`~.repo.configure_nbdime`); a conflicted file's three sides and nbdime's merge decisions
feed nbdime's merge view in the lab. Synchronous, for the git thread pool, like :mod:`.repo`.
"""

from __future__ import annotations

from typing import Any

from .gitcore import GitError, Repository, check_path, check_rev
from .repo import Person, changed_paths, configure_nbdime, decode_content, head, ident_env


def conflicted(repo: Repository) -> list[str]:
    out = repo.git("diff", "--name-only", "--diff-filter=U", "-z", "--")
    return [p for p in out.decode("utf-8", "replace").split("\0") if p]


def merge(repo: Repository, branch: str, author: Person, committer: Person) -> dict[str, Any]:
    """Merge ``branch`` into the current branch; notebooks go through nbdime's merge driver.
    Conflicts answer 409 with the conflicted files (see :func:`conflict`)."""
    check_rev(branch)
    configure_nbdime(repo)
    with repo.writing():
        before = head(repo)
        try:
            repo.git(
                "merge", "--no-edit", "--no-ff", branch, "--", env=ident_env(author, committer)
            )
        except GitError as e:
            files = conflicted(repo)
            if files:
                raise GitError(
                    409, "the merge has conflicts in: " + ", ".join(files) + " (resolve or abort)"
                ) from e
            raise
        after = head(repo)
    return {"before": before, "after": after, "changed": changed_paths(repo, before, after)}


def merge_abort(repo: Repository) -> dict[str, Any]:
    with repo.writing():
        out = repo.git("diff", "--no-ext-diff", "--name-only", "-z", "HEAD", "--")
        repo.git("merge", "--abort")
    changed = [p for p in out.decode("utf-8", "replace").split("\0") if p]
    return {"changed": changed, "head": head(repo)}


def conflict(repo: Repository, path: str) -> dict[str, Any]:
    """The three sides of a conflicted file (base, ours, theirs) for a notebook-aware merge
    view, from index stages 1-3."""
    path = check_path(path)
    sides: dict[str, Any] = {}
    for stage_no, side in ((1, "base"), (2, "local"), (3, "remote")):
        found = repo.cat.read(f":{stage_no}:{path}")
        sides[side] = None if found is None else decode_content(path, found[2])["content"]
    if sides["local"] is None and sides["remote"] is None:
        raise GitError(404, f"{path} has no conflict")
    if path.endswith(".ipynb") and sides["local"] is not None and sides["remote"] is not None:
        sides["decisions"] = merge_decisions(sides["base"], sides["local"], sides["remote"])
    return {"path": path, **sides}


def merge_decisions(base: Any, local: Any, remote: Any) -> list[dict[str, Any]]:
    """nbdime's merge decisions for three notebooks, as its own merge tool computes them (its
    ``mergetool`` strategy: every conflict left for the user), for nbdime's merge widget. A file
    added on both sides merges against an empty notebook."""
    from nbdime.merging.notebooks import decide_notebook_merge
    from nbdime.nbmergeapp import _build_arg_parser

    args = _build_arg_parser().parse_args(["", "", ""])
    args.merge_strategy = "mergetool"
    if base is None:
        base = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    return list(decide_notebook_merge(base, local, remote, args=args))
