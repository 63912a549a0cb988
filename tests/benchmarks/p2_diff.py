"""P2: our notebook diff vs ``nbdime.diff_notebooks`` on large generated notebook pairs.

Every pair is generated here from a fixed seed: at least 1,000 cells and over 10 MB of outputs,
base64 PNG-like images included, edited the ways notebooks are edited (a few changed lines,
inserted, deleted and moved cells, a full re-execution, regenerated cell ids), with and
without cell ids (nbformat 4.5 and 4.4). Both differs run on the same pairs in the same run;
ours is timed as the best of three runs, nbdime once (it takes up to a minute on the worst
kinds). ``patch_ok`` counts pairs where ``nbdime.patch(a, our_diff) == b``.
"""

from __future__ import annotations

import base64
import copy
import random
import statistics
import time
from collections.abc import Callable

import nbdime
import nbformat

from mutirao_lab.versioning.diff import diff_notebooks, json_size

SEED = 20240611
CELLS = 1000
IMAGE_CELLS = 260  # ~180 land on code cells, x 56 KB of base64: most of the 12 MB
IMAGE_BYTES = 42_000
OUR_RUNS = 3

WORDS = [
    *("df", "model", "loss", "train", "test", "x", "y", "data", "result", "value", "mean"),
    *("std", "fit", "predict", "np", "pd", "plt", "epoch", "batch", "lr", "optimizer"),
    *("features", "labels", "score", "acc", "config", "path"),
]


def _code_line(rng: random.Random) -> str:
    a, b, c = rng.choice(WORDS), rng.choice(WORDS), rng.choice(WORDS)
    return rng.choice(
        (
            f"{a}_{rng.randrange(100)} = {b}.{c}({rng.randrange(1000)})",
            f"for {a} in range({rng.randrange(1, 50)}):",
            f"    {a}.{b}({c}, {rng.random():.3f})",
            f"print({a}, {b}_{rng.randrange(10)})",
            f"# {a} {b} {c} {rng.randrange(10_000)}",
        )
    )


def _source(rng: random.Random, markdown: bool) -> str:
    if markdown:
        words = [rng.choice(WORDS) for _ in range(rng.randrange(5, 60))]
        return f"## {rng.choice(WORDS).title()} {rng.randrange(1000)}\n\n" + " ".join(words)
    return "\n".join(_code_line(rng) for _ in range(rng.randrange(2, 16)))


def _image(rng: random.Random) -> str:
    # PNG magic number, then noise: as incompressible and as un-diffable as a real plot
    raw = b"\x89PNG\r\n\x1a\n" + rng.randbytes(IMAGE_BYTES)
    return base64.b64encode(raw).decode() + "\n"


def _outputs(rng: random.Random, count: int, image: bool, log_lines: int) -> list[dict]:
    outs: list[dict] = []
    if log_lines:
        # a training log: numbers change on every run, some lines repeat
        lines = []
        for k in range(log_lines):
            if k % 7 == 0:
                lines.append("Validating...\n")
            else:
                lines.append(f"epoch {k}: loss={rng.random():.5f} acc={rng.random():.4f}\n")
        outs.append({"output_type": "stream", "name": "stdout", "text": "".join(lines)})
    if image:
        outs.append(
            {
                "output_type": "display_data",
                "data": {"image/png": _image(rng), "text/plain": "<Figure size 640x480>"},
                "metadata": {"image/png": {"width": 640, "height": 480}},
            }
        )
    outs.append(
        {
            "output_type": "execute_result",
            "execution_count": count,
            "data": {
                "text/plain": "\n".join(f"{rng.random():.6f}" for _ in range(rng.randrange(1, 8))),
                "text/html": f"<table><tr><td>{rng.random():.4f}</td></tr></table>",
            },
            "metadata": {},
        }
    )
    return outs


def _new_id(rng: random.Random) -> str:
    return f"{rng.getrandbits(64):016x}"


def _cell(rng: random.Random, count: int, image: bool = False, log_lines: int = 0) -> dict:
    if rng.random() < 0.3:
        return {
            "cell_type": "markdown",
            "id": _new_id(rng),
            "metadata": {},
            "source": _source(rng, True),
        }
    return {
        "cell_type": "code",
        "id": _new_id(rng),
        "execution_count": count,
        "metadata": {"tags": []} if rng.random() < 0.2 else {},
        "source": _source(rng, False),
        "outputs": _outputs(rng, count, image, log_lines),
    }


def base_notebook(seed: int = SEED) -> dict:
    rng = random.Random(seed)
    image_at = set(rng.sample(range(CELLS), IMAGE_CELLS))
    log_at = set(rng.sample(range(CELLS), 20))
    cells = [_cell(rng, n + 1, n in image_at, 3000 if n in log_at else 0) for n in range(CELLS)]
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python", "version": "3.11.4"},
        },
        "cells": cells,
    }


def without_ids(nb: dict) -> dict:
    nb = copy.deepcopy(nb)
    nb["nbformat_minor"] = 4
    for cell in nb["cells"]:
        cell.pop("id", None)
    return nb


def small_edit(nb: dict, rng: random.Random) -> dict:
    nb = copy.deepcopy(nb)
    for cell in rng.sample(nb["cells"], 3):
        lines = cell["source"].split("\n")
        lines[rng.randrange(len(lines))] = _code_line(rng)
        cell["source"] = "\n".join(lines)
    return nb


def structural_edit(nb: dict, rng: random.Random) -> dict:
    nb = copy.deepcopy(nb)
    cells = nb["cells"]
    for _ in range(10):
        del cells[rng.randrange(len(cells))]
    for _ in range(5):
        cells.insert(rng.randrange(len(cells)), cells.pop(rng.randrange(len(cells))))
    for _ in range(10):
        new = _cell(rng, None)
        if "id" not in cells[0]:
            new.pop("id")
        cells.insert(rng.randrange(len(cells) + 1), new)
    return nb


def reexecute(nb: dict, rng: random.Random) -> dict:
    """Run every cell again: new execution counts, new numbers, new images."""
    nb = copy.deepcopy(nb)
    count = 0
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        count += 1
        cell["execution_count"] = count
        has_image = any(o["output_type"] == "display_data" for o in cell["outputs"])
        log = next((o for o in cell["outputs"] if o["output_type"] == "stream"), None)
        log_lines = log["text"].count("\n") if log else 0
        cell["outputs"] = _outputs(rng, count, has_image, log_lines)
    return nb


def regenerate_ids(nb: dict, rng: random.Random) -> dict:
    nb = small_edit(nb, rng)
    for cell in nb["cells"]:
        cell["id"] = _new_id(rng)
    return nb


def mixed(nb: dict, rng: random.Random) -> dict:
    """Edits, structure and half the notebook re-run, as between two commits of a day's work."""
    nb = structural_edit(small_edit(nb, rng), rng)
    half = reexecute(nb, rng)
    nb["cells"][len(nb["cells"]) // 2 :] = half["cells"][len(nb["cells"]) // 2 :]
    return nb


def pairs(seed: int = SEED) -> list[tuple[str, Callable[[], tuple[dict, dict]]]]:
    """(name, make) for every pair; each pair is built when asked, to keep memory flat."""
    base = base_notebook(seed)
    base_noids = without_ids(base)

    def make(nb: dict, edit: Callable, n: int) -> Callable[[], tuple[dict, dict]]:
        return lambda: (nb, edit(nb, random.Random(seed + n)))

    return [
        ("small_edit", make(base, small_edit, 1)),
        ("small_edit_noids", make(base_noids, small_edit, 2)),
        ("structural", make(base, structural_edit, 3)),
        ("structural_noids", make(base_noids, structural_edit, 4)),
        ("reexecuted", make(base, reexecute, 5)),
        ("reexecuted_noids", make(base_noids, reexecute, 6)),
        ("regenerated_ids", make(base, regenerate_ids, 7)),
        ("mixed", make(base, mixed, 8)),
    ]


def outputs_size(nb: dict) -> int:
    return sum(json_size(c.get("outputs", [])) for c in nb["cells"])


def run(verbose: bool = True) -> str:
    speedups, ours_max, patch_ok, n = [], 0.0, 0, 0
    for name, make in pairs():
        a, b = (nbformat.from_dict(nb) for nb in make())  # nbdime wants attribute access
        assert len(a.cells) >= CELLS, name
        assert outputs_size(a) >= 10_000_000, name
        ours = []
        for _ in range(OUR_RUNS):
            t0 = time.perf_counter()
            diff = diff_notebooks(a, b)
            ours.append(time.perf_counter() - t0)
        ok = nbdime.patch(a, diff) == b
        t0 = time.perf_counter()
        nbdime.diff_notebooks(a, b)
        theirs = time.perf_counter() - t0
        best = min(ours)
        n += 1
        patch_ok += ok
        ours_max = max(ours_max, best)
        speedups.append(theirs / best)
        if verbose:
            print(
                f"  {name}: cells={len(a.cells)}/{len(b.cells)} "
                f"outputs_mb={outputs_size(a) / 1e6:.1f} ours_s={best:.3f} "
                f"nbdime_s={theirs:.2f} speedup={theirs / best:.0f}x patch_ok={ok}",
                flush=True,
            )
    return (
        f"P2: pairs={n} min_speedup={min(speedups):.1f} "
        f"median_speedup={statistics.median(speedups):.1f} max_s={ours_max:.2f} "
        f"patch_ok={patch_ok}/{n}"
    )


if __name__ == "__main__":
    print(run())
