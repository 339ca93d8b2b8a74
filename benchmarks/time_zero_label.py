"""Seconds of the default ``Linker(on=...).link`` on the demo firms and Febrl4: one process per run.

Run from the repository root; ``--tree`` points at another checkout (e.g. the commit before the
zero-label scorer, via ``git worktree add``) whose ``linker`` package is timed instead, in the same
virtual environment, so two versions can be compared in one run on the same machine. The model is
loaded and warmed before the clock starts; the clock covers ``link`` only.

    .venv/bin/python benchmarks/time_zero_label.py --tree /tmp/base --tree . --repeat 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

_ONE = """
import json, sys, time
sys.path.insert(0, {tree!r})
import linker as lk
from linker.data.benchmarks import load_benchmark
from linker.vectors.embed import get_encoder
assert lk.__file__.startswith({tree!r}), lk.__file__
b = load_benchmark({name!r}, data_root={root!r})
enc = get_encoder("minilm"); enc.encode(["warm up"])
start = time.perf_counter()
res = lk.Linker(on=b.on, model=enc).link(b.left, b.right)
print(json.dumps({{"seconds": time.perf_counter() - start, "matches": res.matches.height}}))
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tree", action="append", required=True, help="checkout to time (repeatable)")
    p.add_argument("--sets", default="demo,febrl4")
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--data-root", default="../shared/datasets")
    p.add_argument("--out", default=None, help="also write the table here (markdown)")
    a = p.parse_args()
    rows: list[list[str]] = []
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    root = str(Path(a.data_root).resolve())
    for name in a.sets.split(","):
        for rep in range(a.repeat):
            for tree in a.tree:
                code = _ONE.format(tree=str(Path(tree).resolve()), name=name, root=root)
                out = subprocess.run(
                    [sys.executable, "-c", code], env=env, capture_output=True, text=True,
                    check=True,
                )  # fmt: skip
                row = json.loads(out.stdout.strip().splitlines()[-1])
                cells = [name, tree, str(rep + 1), f"{row['seconds']:.1f}", str(row["matches"])]
                print("\t".join(cells), flush=True)  # noqa: T201
                rows.append(cells)
    if a.out:
        sys.path.insert(0, str(Path(__file__).parent))
        from _common import header_lines, markdown_table, write_atomic

        head = ["set", "tree", "run", "seconds", "matches"]
        text = header_lines("Zero-label link time, one process per run")
        write_atomic(a.out, "\n".join([*text, *markdown_table(head, rows), ""]))


if __name__ == "__main__":
    main()
