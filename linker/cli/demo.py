"""``make demo`` / ``linker demo``: link the bundled demo firms and report against the truth."""

from __future__ import annotations

import time
from pathlib import Path

__all__ = ["DEMO_DIR", "run_demo"]

DEMO_DIR = Path(__file__).resolve().parents[2] / "datasets" / "demo"


def run_demo(output: str, *, show_progress: bool = False) -> str:
    """Link ``datasets/demo/left.csv`` to ``right.csv``, write ``output``, return a summary.

    Example:
        >>> summary = run_demo("/tmp/linker_demo_doctest.csv")  # doctest: +SKIP
    """
    import linker as lk
    from linker.errors import InputError
    from linker.io.write import write as _write

    if not (DEMO_DIR / "left.csv").exists():
        raise InputError(
            f"the demo data is missing from {DEMO_DIR}: run python datasets/make_demo.py"
        )
    start = time.perf_counter()
    left, right = lk.read(DEMO_DIR / "left.csv"), lk.read(DEMO_DIR / "right.csv")
    truth = lk.read(DEMO_DIR / "truth.csv")
    on = ["name", "street", "city", "state", "zip", "phone"]
    linked = lk.merge(left, right, on=on, how="1:1", id="id", show_progress=show_progress)
    seconds = time.perf_counter() - start
    _write(linked, output)
    ev = lk.evaluate(
        linked,
        truth,
        left_id="id",
        right_id="id_right",
        truth_left_id="left_id",
        truth_right_id="right_id",
    )
    counts = dict(linked.group_by("_merge").len().iter_rows())
    lines = [
        f"demo: {left.height} left x {right.height} right firms ({truth.height} true links)",
        f"  output rows {linked.height}: both {counts.get('both', 0)}, "
        f"left_only {counts.get('left_only', 0)}, right_only {counts.get('right_only', 0)}",
        f"  precision {ev.precision:.3f}  recall {ev.recall:.3f}  F1 {ev.f1:.3f}",
        f"  {seconds:.1f} s, written to {output}",
    ]
    return "\n".join(lines)
