"""A fast line differ: patience anchors, then histogram anchors, then a bounded Myers pass.

difflib's SequenceMatcher is quadratic on texts with many repeated lines (a 3,000-line training
log takes it seconds), so notebooks' sources and outputs and plain text files are diffed here
instead. The result is always a correct edit script; it is minimal in the common cases (a few
changed lines, inserted or deleted blocks) and falls back to replacing a whole region when
that region has nothing cheap to anchor on, which keeps the worst case near-linear.

Pure: no IO. Lines are compared as whole strings, line endings included.
"""

from __future__ import annotations

import bisect
import time
from collections import Counter
from collections.abc import Callable, Hashable, Sequence

#: A region whose best anchor line occurs more often than this in the old side is not anchored
#: (git's histogram diff uses the same bound).
MAX_CHAIN = 64
#: Edit distance explored by the Myers fallback before a region is replaced wholesale.
MAX_MYERS_D = 128

Hunk = tuple[int, int, int, int]
"""``(i1, i2, j1, j2)``: old lines ``a[i1:i2]`` become new lines ``b[j1:j2]``."""


class DiffTooLarge(Exception):
    """A diff went past its size or time limit; ``message`` says which, for the user."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class Budget:
    """The time limit of one diff; ``check()`` raises :class:`DiffTooLarge` once it is spent."""

    def __init__(self, deadline_s: float | None = None):
        self.deadline_s = deadline_s
        self._end = None if deadline_s is None else time.monotonic() + deadline_s

    def check(self) -> None:
        if self._end is not None and time.monotonic() > self._end:
            raise DiffTooLarge(
                f"The diff took longer than its limit of {self.deadline_s:g} s and was stopped."
            )


def _never() -> None:
    return None


def split_text_lines(text: str) -> list[str]:
    """Split a text into lines at ``\\n`` only, keeping the endings: git's notion of a line."""
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def diff_lines(
    a: Sequence[Hashable], b: Sequence[Hashable], tick: Callable[[], None] | None = None
) -> list[Hunk]:
    """The changed regions between two lists of lines, in order, as :data:`Hunk` tuples.

    Lines may be any hashable values (strings, or keys standing for JSON values).
    ``tick`` is called now and then so a caller can stop a diff that runs too long.
    """
    tick = tick or _never
    hunks: list[Hunk] = []
    stack = [(0, len(a), 0, len(b))]
    while stack:
        tick()
        a0, a1, b0, b1 = stack.pop()
        while a0 < a1 and b0 < b1 and a[a0] == b[b0]:
            a0 += 1
            b0 += 1
        while a0 < a1 and b0 < b1 and a[a1 - 1] == b[b1 - 1]:
            a1 -= 1
            b1 -= 1
        if a0 == a1 or b0 == b1 or (a1 - a0 == 1 and b1 - b0 == 1):
            if a0 != a1 or b0 != b1:
                hunks.append((a0, a1, b0, b1))
            continue
        # counting runs in C: most regions of a re-run's outputs share no line at all
        count_a, count_b = Counter(a[a0:a1]), Counter(b[b0:b1])
        common = count_a.keys() & count_b.keys()
        if not common:
            hunks.append((a0, a1, b0, b1))
            continue
        unique = {x for x in common if count_a[x] == 1 and count_b[x] == 1}
        if unique:
            anchors = _unique_anchors(a, a0, a1, b, b0, b1, unique)
            # regions between anchors, pushed right to left so they pop in order
            bounds = [(a0 - 1, b0 - 1), *anchors, (a1, b1)]
            for (pi, pj), (ni, nj) in zip(bounds[-2::-1], bounds[:0:-1], strict=True):
                stack.append((pi + 1, ni, pj + 1, nj))
            continue
        if any(count_a[x] <= MAX_CHAIN for x in common):
            run = _histogram_anchor(a, a0, a1, b, b0, b1)
            if run is not None:
                i, j, n = run
                stack.append((i + n, a1, j + n, b1))
                stack.append((a0, i, b0, j))
                continue
        # the edit distance is at least n + m - 2 * (the most lines that could match)
        most = sum(min(count_a[x], count_b[x]) for x in common)
        sub = None
        if a1 - a0 + b1 - b0 - 2 * most <= MAX_MYERS_D:
            sub = _myers(a, a0, a1, b, b0, b1, tick)
        if sub is None:
            hunks.append((a0, a1, b0, b1))
        else:
            hunks.extend(sub)
    hunks.sort()
    return _merge_touching(hunks)


def _merge_touching(hunks: list[Hunk]) -> list[Hunk]:
    merged: list[Hunk] = []
    for h in hunks:
        if merged and merged[-1][1] == h[0] and merged[-1][3] == h[2]:
            p = merged[-1]
            merged[-1] = (p[0], h[1], p[2], h[3])
        else:
            merged.append(h)
    return merged


def _unique_anchors(
    a: Sequence[Hashable],
    a0: int,
    a1: int,
    b: Sequence[Hashable],
    b0: int,
    b1: int,
    unique: set[Hashable],
) -> list[tuple[int, int]]:
    """Patience diff's anchors: lines once in each side, longest increasing subsequence."""
    in_a = {a[i]: i for i in range(a0, a1) if a[i] in unique}
    pairs = sorted((in_a[b[j]], j) for j in range(b0, b1) if b[j] in unique)
    return longest_increasing(pairs)


def longest_increasing(pairs: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The longest run of ``pairs`` (sorted by first item) whose second items increase too."""
    tails: list[int] = []  # smallest last j of an increasing run of each length
    tail_at: list[int] = []  # where in pairs that last item is
    prev = [-1] * len(pairs)
    for n, (_, j) in enumerate(pairs):
        k = bisect.bisect_left(tails, j)
        if k == len(tails):
            tails.append(j)
            tail_at.append(n)
        else:
            tails[k] = j
            tail_at[k] = n
        prev[n] = tail_at[k - 1] if k else -1
    out = []
    n = tail_at[-1] if tail_at else -1
    while n >= 0:
        out.append(pairs[n])
        n = prev[n]
    out.reverse()
    return out


def _histogram_anchor(
    ai: Sequence[Hashable], a0: int, a1: int, bi: Sequence[Hashable], b0: int, b1: int
) -> tuple[int, int, int] | None:
    """git's histogram step: the common run around the rarest shared line, longest on ties."""
    occurrences: dict[Hashable, list[int]] = {}
    for i in range(a0, a1):
        occurrences.setdefault(ai[i], []).append(i)
    best: tuple[int, int, int] | None = None
    best_count = MAX_CHAIN + 1
    best_len = 0
    j = b0
    while j < b1:
        positions = occurrences.get(bi[j])
        if positions is None or len(positions) > best_count:
            j += 1
            continue
        count = len(positions)
        next_j = j + 1
        for i in positions:
            si, sj = i, j
            while si > a0 and sj > b0 and ai[si - 1] == bi[sj - 1]:
                si -= 1
                sj -= 1
            ei, ej = i + 1, j + 1
            while ei < a1 and ej < b1 and ai[ei] == bi[ej]:
                ei += 1
                ej += 1
            length = ei - si
            if count < best_count or length > best_len:
                best, best_count, best_len = (si, sj, length), count, length
            next_j = max(next_j, ej)
        j = next_j
    return best


def _myers(
    ai: Sequence[Hashable],
    a0: int,
    a1: int,
    bi: Sequence[Hashable],
    b0: int,
    b1: int,
    tick: Callable[[], None],
) -> list[Hunk] | None:
    """Myers' O(ND) diff of a region, or None when its edit distance exceeds MAX_MYERS_D."""
    n, m = a1 - a0, b1 - b0
    max_d = min(n + m, MAX_MYERS_D)
    off = max_d + 1
    v = [0] * (2 * max_d + 3)
    trace: list[list[int]] = []
    for d in range(max_d + 1):
        tick()
        trace.append(v[:])
        for k in range(-d, d + 1, 2):
            if k == -d or (k != d and v[k - 1 + off] < v[k + 1 + off]):
                x = v[k + 1 + off]
            else:
                x = v[k - 1 + off] + 1
            y = x - k
            while x < n and y < m and ai[a0 + x] == bi[b0 + y]:
                x += 1
                y += 1
            v[k + off] = x
            if x >= n and y >= m:
                return _myers_hunks(trace, off, n, m, a0, b0)
    return None


def _myers_hunks(trace: list[list[int]], off: int, n: int, m: int, a0: int, b0: int) -> list[Hunk]:
    matches: list[tuple[int, int]] = []
    x, y = n, m
    for d in range(len(trace) - 1, 0, -1):
        v = trace[d]
        k = x - y
        if k == -d or (k != d and v[k - 1 + off] < v[k + 1 + off]):
            prev_k = k + 1
            px = v[prev_k + off]
            py = px - prev_k
            sx, sy = px, py + 1
        else:
            prev_k = k - 1
            px = v[prev_k + off]
            py = px - prev_k
            sx, sy = px + 1, py
        while x > sx and y > sy:
            x -= 1
            y -= 1
            matches.append((x, y))
        x, y = px, py
    while x > 0 and y > 0:
        x -= 1
        y -= 1
        matches.append((x, y))
    matches.reverse()
    hunks: list[Hunk] = []
    pi, pj = 0, 0
    for i, j in [*matches, (n, m)]:
        if i > pi or j > pj:
            hunks.append((a0 + pi, a0 + i, b0 + pj, b0 + j))
        pi, pj = i + 1, j + 1
    return hunks


def _format_range(start: int, stop: int) -> str:
    # the unified format's conventions, as difflib and GNU diff write them
    length = stop - start
    if length == 1:
        return f"{start + 1}"
    return f"{start + 1 if length else start},{length}"


def unified_diff(
    a: Sequence[str],
    b: Sequence[str],
    hunks: Sequence[Hunk],
    *,
    fromfile: str = "a",
    tofile: str = "b",
    context: int = 3,
) -> list[str]:
    """Unified-diff lines (without line endings) for ``hunks`` of ``diff_lines(a, b)``."""
    if not hunks:
        return []
    out = [f"--- {fromfile}", f"+++ {tofile}"]
    groups: list[list[Hunk]] = [[hunks[0]]]
    for h in hunks[1:]:
        if h[0] - groups[-1][-1][1] <= 2 * context:
            groups[-1].append(h)
        else:
            groups.append([h])
    for group in groups:
        i1 = max(group[0][0] - context, 0)
        j1 = max(group[0][2] - context, 0)
        i2 = min(group[-1][1] + context, len(a))
        j2 = min(group[-1][3] + context, len(b))
        out.append(f"@@ -{_format_range(i1, i2)} +{_format_range(j1, j2)} @@")
        i = i1
        for h1, h2, k1, k2 in group:
            _emit(out, " ", a[i:h1])
            _emit(out, "-", a[h1:h2])
            _emit(out, "+", b[k1:k2])
            i = h2
        _emit(out, " ", a[i:i2])
    return out


def _emit(out: list[str], prefix: str, lines: Sequence[str]) -> None:
    for line in lines:
        if line.endswith("\n"):
            out.append(prefix + line[:-1])
        else:
            out.append(prefix + line)
            out.append("\\ No newline at end of file")
