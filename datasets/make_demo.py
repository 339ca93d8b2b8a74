"""Regenerate the bundled demo data: ``python datasets/make_demo.py [--n 3000 --seed 0]``.

Writes ``left.csv``, ``right.csv`` and ``truth.csv`` into ``--out`` (default ``datasets/demo``
next to this script) with :func:`linker.data.demo.write_demo`. The same arguments always give
byte-identical files.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from linker.data.demo import write_demo


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments and write the three files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=3000, help="number of left firms")
    parser.add_argument("--overlap", type=float, default=0.8, help="share found on the right")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "demo")
    args = parser.parse_args(argv)
    write_demo(args.out, n=args.n, overlap=args.overlap, seed=args.seed)
    for name in ("left.csv", "right.csv", "truth.csv"):
        path = args.out / name
        rows = sum(1 for _ in path.open(encoding="utf-8")) - 1
        print(f"{path}: {rows} rows, {path.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
