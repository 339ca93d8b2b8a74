"""``make demo`` / ``linker demo``: link the demo firms and report against the truth.

The demo tables are made by :func:`linker.data.demo.make_demo` (its defaults are the demo:
the same tables as ``datasets/demo/*.csv``, byte for byte), so the demo needs no checkout.
"""

from __future__ import annotations

import argparse

import linker as lk
from linker.cli.options import add_output, show_progress

__all__ = ["COLUMNS", "add_demo", "run_demo"]

#: The columns the demo compares (every column but the id and the founding year).
COLUMNS = ["name", "street", "city", "state", "zip", "phone"]


def add_demo(p: argparse.ArgumentParser) -> None:
    """The ``demo`` verb's arguments."""
    add_output(
        p, default="demo_linked.csv", help="output .csv or .parquet (default: demo_linked.csv)"
    )


def run_demo(a: argparse.Namespace) -> str:
    """Link the demo's left firms to its right firms, write ``-o``, return the report.

    Example:
        >>> run_demo(argparse.Namespace(output="demo.csv", quiet=True))  # doctest: +SKIP
    """
    from linker.data.demo import make_demo
    from linker.io.write import write

    left, right, truth = make_demo()
    linked = lk.merge(left, right, on=COLUMNS, how="1:1", id="id", show_progress=show_progress(a))
    write(linked, a.output)
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
    ]  # main() adds where it was written and the seconds
    return "\n".join(lines)
