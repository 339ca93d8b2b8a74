"""Which candidate lists at which size: the default link with each set of blockers, side by side.

For each set (registered benchmarks by name, ``demo-<N>`` for ``make_demo(N, seed=0)``) and
each configuration of :class:`~linker.blocking.blockers.Blockers`, runs
``Linker(on=..., how="1:1", id=..., blockers=...).link(left, right)`` and reports the
candidate pairs, the share of true pairs among them (blocking recall), links, precision,
recall and F1 of the matches, CPU seconds (all threads of the process) and wall seconds, with
the 1-minute load average beside them. CPU seconds move much less than wall seconds when the
machine is shared.

Configurations: ``default`` (the current defaults), ``previous`` (the defaults until
2026-12-07: the embedding and n-gram lists below 50,000 right rows, the n-gram list beside
the rare tokens below 100,000), ``tokens`` (the rare-token list alone at
every size), ``lists`` (the embedding and n-gram lists at every size, no rare tokens),
``ngram+tokens`` (the n-gram list beside the rare tokens at every size).

Example:
    python benchmarks/lists.py --sets febrl4,Abt-Buy,demo-30000 --configs default,tokens \\
        --data-root ../shared/datasets --out benchmarks/results/lists.md
"""

from __future__ import annotations

import argparse
import os
import time

import polars as pl
from _common import fmt, header_lines, markdown_table, print_table, write_atomic

from linker.blocking.blockers import Blockers
from linker.data.benchmarks import Benchmark, load_benchmark
from linker.data.demo import make_demo
from linker.pipeline.linker import Linker

CONFIGS = {
    "default": Blockers(),
    "previous": Blockers(dense_below=50_000, tokens_from=50_000, ngram_below=100_000),
    "tokens": Blockers(dense_below=0, tokens_from=0, ngram_below=0),
    "lists": Blockers(dense_below=None, tokens_from=None),
    "ngram+tokens": Blockers(dense_below=0, tokens_from=0, ngram_below=None),
}
DEMO_ON = ["name", "street", "city", "state", "zip", "phone"]
HEAD = ["set", "left x right", "blockers", "pairs", "block recall", "links", "P", "R", "F1",
        "CPU s", "wall s", "load"]  # fmt: skip


def load(name: str, data_root: str) -> Benchmark:
    """A registered benchmark, or ``demo-<N>``: the demo firms at N a side (seed 0)."""
    if name.startswith("demo-"):
        n = int(name.split("-", 1)[1])
        left, right, truth = make_demo(n, seed=0)
        return Benchmark(
            name=name, left=left, right=right, on=DEMO_ON, left_id="id", right_id="id",
            truth=truth.rename({truth.columns[0]: "left_id", truth.columns[1]: "right_id"}),
        )  # fmt: skip
    return load_benchmark(name, data_root=data_root)


def run(bench: Benchmark, blockers: Blockers) -> dict[str, float]:
    """One link; its quality and cost."""
    ids = (bench.left_id, bench.right_id)
    linker = Linker(on=bench.on, how="1:1", id=ids, blockers=blockers)
    wall, cpu = time.perf_counter(), time.process_time()
    res = linker.link(bench.left, bench.right)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    lid = bench.left[bench.left_id].cast(pl.Utf8).to_list()
    rid = bench.right[bench.right_id].cast(pl.Utf8).to_list()
    truth = set(zip(bench.truth["left_id"].cast(pl.Utf8).to_list(),
                    bench.truth["right_id"].cast(pl.Utf8).to_list(), strict=True))  # fmt: skip
    found = {(lid[a], rid[b]) for a, b in res.matches.select("left_row", "right_row").iter_rows()}
    cands = {(lid[a], rid[b]) for a, b in res.pairs.select("left_row", "right_row").iter_rows()}
    tp = len(found & truth)
    p, r = tp / max(len(found), 1), tp / max(len(truth), 1)
    return {
        "pairs": res.pairs.height, "recall": len(cands & truth) / max(len(truth), 1),
        "links": len(found), "P": p, "R": r, "F1": 2 * p * r / max(p + r, 1e-12),
        "cpu": cpu, "wall": wall, "load": os.getloadavg()[0],
    }  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", default="febrl4,Abt-Buy,D2,D3,demo-10000,demo-30000")
    ap.add_argument("--configs", default="default,tokens")
    ap.add_argument("--data-root", default="../shared/datasets")
    ap.add_argument("--out", default="benchmarks/results/lists.md")
    a = ap.parse_args()
    rows = []
    Linker(on=["name"]).link(pl.DataFrame({"name": ["a b"]}), pl.DataFrame({"name": ["a c"]}))
    for name in a.sets.split(","):
        bench = load(name, a.data_root)
        for config in a.configs.split(","):
            m = run(bench, CONFIGS[config])
            rows.append([
                name, f"{bench.left.height:,} x {bench.right.height:,}", config,
                f"{m['pairs']:,}", fmt(m["recall"], 4), f"{m['links']:,}", fmt(m["P"], 4),
                fmt(m["R"], 4), fmt(m["F1"], 4), fmt(m["cpu"], 1), fmt(m["wall"], 1),
                fmt(m["load"], 1),
            ])  # fmt: skip
            print_table(name, HEAD, rows[-1:])
    lines = header_lines("Candidate lists by size: the default link with each set of blockers")
    write_atomic(a.out, "\n".join([*lines, "", *markdown_table(HEAD, rows), ""]))
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
