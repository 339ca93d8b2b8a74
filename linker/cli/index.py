"""``linker index`` and ``linker link``: build a reference index once, link new files to it."""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["add_parsers", "run_index", "run_link"]


def add_parsers(sub: Any, fmt: dict[str, Any]) -> None:
    """Add the ``index`` and ``link`` verbs to the CLI's subparsers."""
    i = sub.add_parser(
        "index", help="embed a reference table once and save it for `linker link`", **fmt
    )
    i.add_argument("reference", help="reference table (.csv/.parquet)")
    i.add_argument("--on", help="comma-separated columns to compare (default: all)")
    i.add_argument("--model", help="embedding model: minilm (default), static, a path")
    i.add_argument("-k", "--k", type=int, default=10, help="candidates per record per blocker (10)")
    i.add_argument("--delimiter", help="CSV delimiter (default: sniffed)")
    i.add_argument("--encoding", help="text encoding of the input (default: BOM, else UTF-8)")
    i.add_argument("-o", "--output", required=True, help="index folder to write")
    i.add_argument("-q", "--quiet", action="store_true", help="no progress bars or summary")
    i.add_argument("-v", "--verbose", action="store_true", help="log each stage")
    n = sub.add_parser(
        "link", help="link new records to a saved index (the reference is not re-embedded)", **fmt
    )
    n.add_argument("new", help="new records (.csv/.parquet) with the index's columns")
    n.add_argument("--index", required=True, help="folder written by `linker index`")
    n.add_argument(
        "--how", default="m:1", choices=["1:1", "m:1", "1:m", "m:m"], help="merge kind (m:1)"
    )
    n.add_argument("--threshold", type=float, default=0.5, help="minimum match probability (0.5)")
    n.add_argument("--delimiter", help="CSV delimiter (default: sniffed)")
    n.add_argument("--encoding", help="text encoding of the input (default: BOM, else UTF-8)")
    n.add_argument("-o", "--output", default="-", help="output .csv or .parquet (default: stdout)")
    n.add_argument("-q", "--quiet", action="store_true", help="no progress bars or summary")
    n.add_argument("-v", "--verbose", action="store_true", help="log each stage")


def run_index(a: argparse.Namespace) -> str:
    """Build and save the index; returns the summary line."""
    from linker.frames import read
    from linker.pipeline.incremental import LinkIndex

    on = [c.strip() for c in a.on.split(",") if c.strip()] if a.on else None
    index = LinkIndex.build(
        read(a.reference, delimiter=a.delimiter, encoding=a.encoding),
        a.output,
        on=on,
        model=a.model,
        k=a.k,
        show_progress=not a.quiet and sys.stderr.isatty(),
    )
    return (
        f"indexed {index.reference.height} reference rows on {index.settings['on']} in {a.output}"
    )


def run_link(a: argparse.Namespace) -> str:
    """Link the new file to the index and write every new row; returns the summary line."""
    from linker.frames import read
    from linker.io.write import write as _write
    from linker.pipeline.incremental import LinkIndex

    result = LinkIndex.load(a.index).link(
        read(a.new, delimiter=a.delimiter, encoding=a.encoding),
        how=a.how,
        threshold=a.threshold,
        show_progress=not a.quiet and sys.stderr.isatty(),
    )
    _write(result.frame, a.output)
    counts = dict(result.frame.group_by("_merge").len().iter_rows())
    return (
        f"{result.frame.height} new rows: {counts.get('both', 0)} matched, "
        f"{counts.get('left_only', 0)} without a match"
    )
