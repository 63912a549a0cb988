"""``make bench``: every benchmark, each printing one ``ID: key=value ...`` summary line.

Each figure is a ratio against its peer measured in the same run, on the same machine.
"""

from __future__ import annotations

import sys

from . import (
    git_differential,
    p0_first_server,
    p1_rooms,
    p2_diff,
    p3_git,
    p4_ledger,
    p5_comments,
    p6_time_to_lab,
    p7_loop,
    r1_comments,
    r3_rooms,
    r4_boundary,
    r5_hostile,
)


def main() -> int:
    for bench in (
        p0_first_server,
        p1_rooms,
        p2_diff,
        p3_git,
        p4_ledger,
        p5_comments,
        p6_time_to_lab,
        p7_loop,
        r1_comments,
        r3_rooms,
        # the whole R4 line: the access matrix and r4_sessions' open-session figures
        r4_boundary,
        r5_hostile,
        git_differential,
    ):
        print(bench.run(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
