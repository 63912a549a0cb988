"""Notebook-aware diffs in nbdime's diff format, fast on large notebooks. Pure: no IO.

The result of :func:`diff_notebooks` is what ``nbdime.diff_notebooks`` returns (a list of
``DiffEntry`` dicts: ``add``/``remove``/``replace``/``patch`` on mappings,
``addrange``/``removerange``/``patch`` on sequences and line-split strings), so nbdime's
widgets render it, and ``nbdime.patch(a, diff) == b`` holds for every pair.

How cells are aligned (nbdime compares every cell with every other, which is quadratic):

1. by nbformat cell id (``cell["id"]``), the identity JupyterLab keeps across edits;
2. cells left over (no ids, as in nbformat 4.4, or regenerated ids) by identical cell type and
   source, k-th occurrence with k-th occurrence;
3. of those candidate pairs, the longest order-preserving subset is kept (a longest increasing
   subsequence); a cell that moved is therefore removed and added, as nbdime writes moves;
4. in each gap between kept pairs, what is left is paired position by position when both sides
   have as many cells, of the same types in the same order (cells edited in place); otherwise
   it is matched greedily in order against the next ``SIMILARITY_WINDOW`` cells of the other
   side by a cheap similarity (same cell type, then line-set Jaccard of the source, or
   difflib's ratio on a short prefix). So regenerated ids, even with edited sources, pair up
   instead of becoming "remove all, add all", and no step compares all cells with all cells.

Within a pair of cells, sources are diffed line by line with :mod:`.textdiff`; outputs are
compared whole first (equal lists cost nothing), then aligned by a key standing for each
output's JSON, and outputs of the same type left in a changed region are patched: text is
line-diffed, images and other binary MIME data are replaced, never text-diffed.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from nbdime.diff_format import DiffEntry

from ..jsonbody import nested_deeper_than
from .textdiff import (
    Budget,
    DiffTooLarge,
    diff_lines,
    longest_increasing,
    split_text_lines,
    unified_diff,
)

__all__ = [
    "DIFF_ENGINE_VERSION",
    "DiffTooLarge",
    "diff_cache_key",
    "diff_notebooks",
    "diff_text",
    "json_size",
    "loads_notebook",
]

#: Part of every cache key: bump it when a change here changes the diffs produced.
DIFF_ENGINE_VERSION = "mutirao-diff-1"
#: Deepest nesting of a notebook's JSON that history, show and diff read; a deeper one (only
#: written by hand: nbformat cannot) is "not a readable notebook" (422).
MAX_NOTEBOOK_DEPTH = 100
#: How many cells of the other side a left-over cell is compared with (step 4 above).
SIMILARITY_WINDOW = 8
#: Characters of a source that the similarity looks at.
SIMILARITY_PREFIX = 4000
SIMILARITY_RATIO_PREFIX = 300
SIMILARITY_THRESHOLD = 0.6
#: Outputs of a changed region are paired with one of the next this-many of the other side.
OUTPUT_WINDOW = 16

# MIME types whose values are text worth a line diff; anything else (images, PDFs, ...) is
# replaced whole, as nbdime does
_TEXT_MIMES = ("text/", "image/svg+xml", "application/javascript")

Ops = list[DiffEntry]
Differ = Callable[[Any, Any], "Ops | None"]


def _add(key: str, value: Any) -> DiffEntry:
    return DiffEntry(op="add", key=key, value=value)


def _remove(key: str) -> DiffEntry:
    return DiffEntry(op="remove", key=key)


def _replace(key: str, value: Any) -> DiffEntry:
    return DiffEntry(op="replace", key=key, value=value)


def _patch(key: str | int, diff: Ops) -> DiffEntry:
    return DiffEntry(op="patch", key=key, diff=diff)


def _addrange(key: int, valuelist: list) -> DiffEntry:
    return DiffEntry(op="addrange", key=key, valuelist=valuelist)


def _removerange(key: int, length: int) -> DiffEntry:
    return DiffEntry(op="removerange", key=key, length=length)


def _atomic(_a: Any, _b: Any) -> Ops | None:
    return None


def diff_notebooks(
    a: Mapping,
    b: Mapping,
    *,
    ignore_outputs: bool = False,
    ignore_metadata: bool = False,
    deadline_s: float | None = None,
    max_bytes: int | None = None,
) -> list[DiffEntry]:
    """The diff from notebook ``a`` to notebook ``b`` in nbdime's format.

    With nothing ignored, ``nbdime.patch(a, diff) == b``. ``ignore_outputs`` leaves the
    ``outputs`` and ``execution_count`` of cells present on both sides out of the diff;
    ``ignore_metadata`` leaves out the notebook's, the cells' and the outputs' ``metadata``.
    A key ignored is only left alone where both sides have it, so the patched notebook stays
    well formed; the patched notebook then equals ``b`` once the ignored keys are removed from
    both. Added cells carry all their content.

    Raises :class:`DiffTooLarge` when either notebook's JSON is larger than ``max_bytes``
    (see :func:`json_size`) or the diff takes longer than ``deadline_s`` seconds.
    """
    if max_bytes is not None:
        for side, nb in (("old", a), ("new", b)):
            if json_size(nb, limit=max_bytes) > max_bytes:
                raise DiffTooLarge(
                    f"The {side} notebook is larger than the diff size limit "
                    f"of {max_bytes:,} bytes, so no diff was computed."
                )
    return _NotebookDiffer(ignore_outputs, ignore_metadata, Budget(deadline_s)).notebook(a, b)


def diff_text(
    a: str,
    b: str,
    *,
    fromfile: str = "a",
    tofile: str = "b",
    context: int = 3,
    deadline_s: float | None = None,
    max_bytes: int | None = None,
) -> list[str]:
    """A unified diff of two texts, as lines without line endings (empty when equal).

    Lines end at ``\\n`` only (a ``\\r`` stays part of its line, as in git), and a last line
    without a newline is followed by ``\\ No newline at end of file``.
    """
    if max_bytes is not None:
        for side, text in (("old", a), ("new", b)):
            if len(text) > max_bytes:
                raise DiffTooLarge(
                    f"The {side} file is larger than the diff size limit "
                    f"of {max_bytes:,} bytes, so no diff was computed."
                )
    if a == b:
        return []
    la, lb = split_text_lines(a), split_text_lines(b)
    hunks = diff_lines(la, lb, Budget(deadline_s).check)
    return unified_diff(la, lb, hunks, fromfile=fromfile, tofile=tofile, context=context)


def diff_cache_key(blob_a: str, blob_b: str, options: Mapping[str, Any] | None = None) -> str:
    """A cache key for the diff between two git blobs (by their ids) under ``options``.

    The limits (``deadline_s``, ``max_bytes``) are left out: they decide whether a diff is
    computed, not what it is. Options set to ``False`` or ``None`` are the defaults and left out
    too, so ``{"ignore_outputs": False}`` and ``{}`` share a key.
    """
    opts = {
        k: v
        for k, v in (options or {}).items()
        if k not in ("deadline_s", "max_bytes") and v is not None and v is not False
    }
    payload = json.dumps([DIFF_ENGINE_VERSION, blob_a, blob_b, opts], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def json_size(value: Any, limit: int | None = None) -> int:
    """About the size of ``value``'s JSON in characters; stops counting once past ``limit``."""
    total = 0
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            total += len(v) + 2
        elif isinstance(v, dict):
            total += 2
            for k, x in v.items():
                total += len(k) + 4
                stack.append(x)
        elif isinstance(v, list):
            total += 2 + len(v)
            stack.extend(v)
        else:
            total += 5
        if limit is not None and total > limit:
            break
    return total


def loads_notebook(data: str | bytes) -> Any:
    """Parse a notebook file's JSON the way nbformat reads it, without validation.

    Multiline strings written as lists of lines are joined (so a notebook saved by any tool
    diffs by content, not by layout), transient metadata is dropped, and notebooks older than
    version 4 are upgraded. Validation is skipped: it costs a quarter of a second on 1,000
    cells, and a diff does not need it. Raises ``ValueError`` for what is not a notebook.
    """
    import nbformat
    from nbformat.reader import reads

    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if nested_deeper_than(raw, MAX_NOTEBOOK_DEPTH):
        # the parser, the diff and the JSON answer all recurse once per level
        raise ValueError(f"Not a readable notebook: nested over {MAX_NOTEBOOK_DEPTH} levels")
    try:
        nb = reads(data)
        if nb.get("nbformat", 4) < 4:
            nb = nbformat.convert(nb, 4)
        if not isinstance(nb.get("cells"), list):
            raise ValueError("it has no list of cells")
    except (ValueError, nbformat.ValidationError) as e:
        raise ValueError(f"Not a readable notebook: {e}") from e
    except (AttributeError, KeyError, TypeError) as e:
        raise ValueError(f"Not a readable notebook: {e!r}") from e
    except RecursionError:
        raise ValueError("Not a readable notebook: nested too deeply") from None
    return nb


def _source_text(cell: Mapping) -> str:
    source = cell.get("source", "")
    if isinstance(source, list):
        return "".join(str(s) for s in source)
    return source if isinstance(source, str) else repr(source)


def _cell_type(cell: Any) -> str | None:
    return cell.get("cell_type") if isinstance(cell, Mapping) else None


def _json_key(value: Any) -> Any:
    """A hashable stand-in for a JSON value: equal keys mean equal values.

    Cheaper than serialising: strings stand for themselves and cache their own hash, so a
    10 MB image is hashed once, not copied into a JSON text on every comparison.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return ("d", tuple(sorted((k, _json_key(v)) for k, v in value.items())))
    if isinstance(value, list):
        return ("l", tuple(_json_key(v) for v in value))
    if isinstance(value, bool):
        return ("b", value)
    if value is None or isinstance(value, int | float):
        return ("n", value)
    return ("r", repr(value))


def _similarity(ca: Any, cb: Any) -> float:
    if _cell_type(ca) is None or _cell_type(ca) != _cell_type(cb):
        return 0.0
    sa = _source_text(ca)[:SIMILARITY_PREFIX]
    sb = _source_text(cb)[:SIMILARITY_PREFIX]
    if sa == sb:
        return 1.0
    la = {line.strip() for line in sa.splitlines()} - {""}
    lb = {line.strip() for line in sb.splitlines()} - {""}
    if la and lb:
        jaccard = len(la & lb) / len(la | lb)
        if jaccard >= 0.5:
            return jaccard
    matcher = difflib.SequenceMatcher(
        None, sa[:SIMILARITY_RATIO_PREFIX], sb[:SIMILARITY_RATIO_PREFIX], autojunk=False
    )
    if matcher.real_quick_ratio() < SIMILARITY_THRESHOLD:
        return 0.0
    if matcher.quick_ratio() < SIMILARITY_THRESHOLD:
        return 0.0
    return matcher.ratio()


def _match_gap(
    A: Sequence, a0: int, a1: int, B: Sequence, b0: int, b1: int, budget: Budget
) -> list[tuple[int, int]]:
    """In-order pairs of similar cells between A[a0:a1] and B[b0:b1], each looked up in a window.

    A gap with as many cells on each side, of the same types in the same order, is paired
    position by position: cells edited in place, however much.
    """
    if a1 - a0 == b1 - b0 and all(
        _cell_type(A[a0 + k]) == _cell_type(B[b0 + k]) is not None for k in range(a1 - a0)
    ):
        return [(a0 + k, b0 + k) for k in range(a1 - a0)]
    pairs = []
    j0 = b0
    for i in range(a0, a1):
        if j0 >= b1:
            break
        budget.check()
        best, best_j = SIMILARITY_THRESHOLD, -1
        for j in range(j0, min(j0 + SIMILARITY_WINDOW, b1)):
            score = _similarity(A[i], B[j])
            if score >= best:
                if score > best or best_j < 0:
                    best, best_j = score, j
                if score == 1.0:
                    break
        if best_j >= 0:
            pairs.append((i, best_j))
            j0 = best_j + 1
    return pairs


def align_cells(A: Sequence, B: Sequence, budget: Budget | None = None) -> list[tuple[int, int]]:
    """Pairs ``(i, j)`` of matching cells, increasing in both; the rest is removed or added."""
    budget = budget or Budget()
    candidates: dict[int, int] = {}
    by_id_a: dict[str, list[int]] = {}
    by_id_b: dict[str, list[int]] = {}
    for index, cells in ((by_id_a, A), (by_id_b, B)):
        for n, cell in enumerate(cells):
            cid = cell.get("id") if isinstance(cell, Mapping) else None
            if isinstance(cid, str):
                index.setdefault(cid, []).append(n)
    for cid, positions in by_id_a.items():
        for i, j in zip(positions, by_id_b.get(cid, ()), strict=False):
            candidates[i] = j
    taken_b = set(candidates.values())
    by_src_a: dict[tuple, list[int]] = {}
    by_src_b: dict[tuple, list[int]] = {}
    for src_index, cells, taken in ((by_src_a, A, candidates), (by_src_b, B, taken_b)):
        for n, cell in enumerate(cells):
            if n not in taken and isinstance(cell, Mapping):
                src_index.setdefault((cell.get("cell_type"), _source_text(cell)), []).append(n)
    for key, positions in by_src_a.items():
        for i, j in zip(positions, by_src_b.get(key, ()), strict=False):
            candidates[i] = j
    budget.check()
    anchors = longest_increasing(sorted(candidates.items()))
    pairs: list[tuple[int, int]] = []
    pi, pj = -1, -1
    for i, j in [*anchors, (len(A), len(B))]:
        if i - pi > 1 and j - pj > 1:
            pairs.extend(_match_gap(A, pi + 1, i, B, pj + 1, j, budget))
        if i < len(A):
            pairs.append((i, j))
        pi, pj = i, j
    return pairs


class _NotebookDiffer:
    def __init__(self, ignore_outputs: bool, ignore_metadata: bool, budget: Budget):
        self.budget = budget
        self.ignore_metadata = ignore_metadata
        self.notebook_skip = {"metadata"} if ignore_metadata else set()
        self.cell_skip = set(self.notebook_skip)
        if ignore_outputs:
            self.cell_skip |= {"outputs", "execution_count"}
        self.output_skip = self.notebook_skip
        self.cell_differs: dict[str, Differ] = {
            "source": self.text,
            "outputs": self.outputs,
            "attachments": self.attachments,
            "id": _atomic,
            "cell_type": _atomic,
            "execution_count": _atomic,
        }
        self.output_differs: dict[str, Differ] = {
            "data": self.mime_bundle,
            "text": self.text,
            "output_type": _atomic,
            "execution_count": _atomic,
        }

    # generic JSON values

    def value(self, a: Any, b: Any) -> Ops | None:
        """Ops turning a into b, or None when b is to replace a whole."""
        if isinstance(a, dict) and isinstance(b, dict):
            return self.mapping(a, b)
        if isinstance(a, list) and isinstance(b, list):
            return self.sequence(a, b)
        if isinstance(a, str) and isinstance(b, str) and ("\n" in a or "\n" in b):
            return self.string(a, b)
        return None

    def mapping(
        self,
        a: Mapping,
        b: Mapping,
        differs: Mapping[str, Differ] | None = None,
        skip: set[str] | frozenset[str] = frozenset(),
        default: Differ | None = None,
    ) -> Ops:
        ops: Ops = []
        default = default or self.value
        for key in sorted(a.keys() | b.keys()):
            if key not in b:
                ops.append(_remove(key))
            elif key not in a:
                ops.append(_add(key, b[key]))
            elif key not in skip:
                va, vb = a[key], b[key]
                if va is vb or (type(va) is type(vb) and va == vb):
                    continue
                differ = differs.get(key, default) if differs else default
                sub = differ(va, vb)
                if sub is None:
                    ops.append(_replace(key, vb))
                elif sub:
                    ops.append(_patch(key, sub))
        return ops

    def sequence(self, a: Sequence, b: Sequence) -> Ops:
        keys_a = [_json_key(v) for v in a]
        keys_b = [_json_key(v) for v in b]
        return self._range_ops(b, diff_lines(keys_a, keys_b, self.budget.check))

    def string(self, a: str, b: str) -> Ops:
        # str.splitlines, because that is how nbdime.patch splits a string it patches
        la, lb = a.splitlines(True), b.splitlines(True)
        return self._range_ops(lb, diff_lines(la, lb, self.budget.check))

    def text(self, a: Any, b: Any) -> Ops | None:
        """A multiline text field (a source, a stream's text), as a string or a list of lines."""
        if isinstance(a, str) and isinstance(b, str):
            return self.string(a, b)
        if isinstance(a, list) and isinstance(b, list):
            return self.sequence(a, b)
        return None

    @staticmethod
    def _range_ops(b: Sequence, hunks: list) -> Ops:
        ops: Ops = []
        for i1, i2, j1, j2 in hunks:
            if j2 > j1:
                ops.append(_addrange(i1, list(b[j1:j2])))
            if i2 > i1:
                ops.append(_removerange(i1, i2 - i1))
        return ops

    # notebooks

    def notebook(self, a: Mapping, b: Mapping) -> Ops:
        return self.mapping(a, b, {"cells": self.cells}, self.notebook_skip)

    def cells(self, A: Any, B: Any) -> Ops | None:
        if not (isinstance(A, list) and isinstance(B, list)):
            return None
        ops: Ops = []
        pi, pj = 0, 0
        for i, j in [*align_cells(A, B, self.budget), (len(A), len(B))]:
            self.budget.check()
            if j > pj:
                ops.append(_addrange(pi, B[pj:j]))
            if i > pi:
                ops.append(_removerange(pi, i - pi))
            if i < len(A):
                ca, cb = A[i], B[j]
                if ca is not cb and ca != cb:
                    if isinstance(ca, dict) and isinstance(cb, dict):
                        sub = self.mapping(ca, cb, self.cell_differs, self.cell_skip)
                        if sub:
                            ops.append(_patch(i, sub))
                    else:
                        ops += [_addrange(i, [cb]), _removerange(i, 1)]
            pi, pj = i + 1, j + 1
        return ops

    def attachments(self, a: Any, b: Any) -> Ops | None:
        if not (isinstance(a, dict) and isinstance(b, dict)):
            return None
        return self.mapping(a, b, default=self.mime_bundle)

    def mime_bundle(self, a: Any, b: Any) -> Ops | None:
        if not (isinstance(a, dict) and isinstance(b, dict)):
            return None
        ops: Ops = []
        for key in sorted(a.keys() | b.keys()):
            if key not in b:
                ops.append(_remove(key))
            elif key not in a:
                ops.append(_add(key, b[key]))
            else:
                va, vb = a[key], b[key]
                if type(va) is type(vb) and va == vb:
                    continue
                sub = None
                if key.startswith(_TEXT_MIMES) or key.endswith("json"):
                    sub = self.text(va, vb) if isinstance(va, str | list) else self.value(va, vb)
                if sub is None:
                    ops.append(_replace(key, vb))
                elif sub:
                    ops.append(_patch(key, sub))
        return ops

    def outputs(self, A: Any, B: Any) -> Ops | None:
        if not (isinstance(A, list) and isinstance(B, list)):
            return None
        keys_a = [_json_key(o) for o in A]
        keys_b = [_json_key(o) for o in B]
        ops: Ops = []
        for i1, i2, j1, j2 in diff_lines(keys_a, keys_b, self.budget.check):
            pi, pj = i1, j1
            for i, j in [*self._pair_outputs(A, i1, i2, B, j1, j2), (i2, j2)]:
                if j > pj:
                    ops.append(_addrange(pi, B[pj:j]))
                if i > pi:
                    ops.append(_removerange(pi, i - pi))
                if i < i2:
                    sub = self.mapping(A[i], B[j], self.output_differs, self.output_skip)
                    if sub:
                        ops.append(_patch(i, sub))
                pi, pj = i + 1, j + 1
        return ops

    @staticmethod
    def _pair_outputs(
        A: Sequence, i1: int, i2: int, B: Sequence, j1: int, j2: int
    ) -> list[tuple[int, int]]:
        """Outputs of the same kind, in order: a re-run's new result patches the old one."""

        def kind(o: Any) -> tuple | None:
            if not isinstance(o, dict):
                return None
            return (o.get("output_type"), o.get("name"))

        pairs = []
        j0 = j1
        for i in range(i1, i2):
            k = kind(A[i])
            if k is None:
                continue
            for j in range(j0, min(j0 + OUTPUT_WINDOW, j2)):
                if kind(B[j]) == k:
                    pairs.append((i, j))
                    j0 = j + 1
                    break
        return pairs
