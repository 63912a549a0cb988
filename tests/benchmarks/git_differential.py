"""GIT: the versioning API against the git CLI over many drawn sequences of steps.

The state machine of ``tests/lab/test_git_differential.py`` (API commits, snapshots, restores,
merges and branch changes interleaved with plain ``git`` commands on the same repository, a
replica driven by the git CLI alone) run longer than in ``make test``, counting disagreements
instead of stopping at the first: after every step ``git fsck --strict`` errors, an unclean
``git status``, and a current branch or branch tree that differs from the replica's.
"""

from __future__ import annotations

import os

from tests.lab.test_git_differential import run as run_machine

EXAMPLES = int(os.environ.get("MUTIRAO_BENCH_GIT_EXAMPLES", "40"))
STEPS = 25


def run() -> str:
    stats = run_machine(examples=EXAMPLES, steps=STEPS, strict=False)
    return "GIT: " + " ".join(f"{key}={value}" for key, value in stats.items())


if __name__ == "__main__":
    print(run())
