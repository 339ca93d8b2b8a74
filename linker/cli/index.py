"""``linker index`` and ``linker link``: build a reference index once, link new files to it."""

from __future__ import annotations

import argparse

import linker as lk
from linker.cli.link import HOWS
from linker.cli.options import (
    add_io,
    add_model,
    cols,
    given,
    library_option,
    read_input,
    show_progress,
)

__all__ = ["add_index", "add_link", "run_index", "run_link"]


def add_index(p: argparse.ArgumentParser) -> None:
    """The ``index`` verb's arguments."""
    p.add_argument("reference", help="reference table (.csv/.parquet)")
    p.add_argument("--on", help="comma-separated columns to compare (default: all)")
    add_model(p, linking=True)
    library_option(
        p, "-k", "--k", type=int, owner=lk.LinkIndex.build, help="candidates per record per blocker"
    )
    add_io(p, output=None, output_help="index folder to write")


def add_link(p: argparse.ArgumentParser) -> None:
    """The ``link`` verb's arguments."""
    p.add_argument("new", help="new records (.csv/.parquet) with the index's columns")
    p.add_argument("--index", required=True, help="folder written by `linker index`")
    library_option(p, "--how", choices=HOWS, owner=lk.LinkIndex.link, help="merge kind")
    library_option(
        p, "--threshold", type=float, owner=lk.LinkIndex.link, help="minimum match probability"
    )
    add_io(p)


def run_index(a: argparse.Namespace) -> str:
    """Build and save the index; returns the summary line."""
    index = lk.LinkIndex.build(
        read_input(a.reference, a),
        a.output,
        on=cols(a.on),
        show_progress=show_progress(a),
        **given(a, "model", "k"),
    )
    return (
        f"indexed {index.reference.height} reference rows on {index.settings['on']} in {a.output}"
    )


def run_link(a: argparse.Namespace) -> str:
    """Link the new file to the index and write every new row; returns the summary line."""
    from linker.io.write import write

    result = lk.LinkIndex.load(a.index).link(
        read_input(a.new, a), show_progress=show_progress(a), **given(a, "how", "threshold")
    )
    write(result.frame, a.output)
    counts = dict(result.frame.group_by("_merge").len().iter_rows())
    return (
        f"{result.frame.height} new rows: {counts.get('both', 0)} matched, "
        f"{counts.get('left_only', 0)} without a match"
    )
