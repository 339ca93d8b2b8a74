"""Routed search against broadcast sharded search: recall of true pairs, overlap, seconds.

On the seeded demo firms (``linker.data.demo.make_demo(N, seed=0)``, cached as
``scale.py`` caches them), the pipeline's own vectors are made once per size:
``Linker(on=ON, model="static", id="id").prepare(left, right)`` serializes, embeds (the
static model, the values of the wordy columns) and n-grams both tables as a link does. Then
for each vector space (``dense``: the embeddings; ``ngram``: the n-gram TF-IDF rows, searched
through their sketch) the left rows search the right rows for their ``k`` nearest:

- *broadcast*: ``AnnParams(shards=S)``: the right rows cut into S slices, every left row
  searching every slice (what the Ray backend runs today, one task per slice);
- *routed*: ``AnnParams(cells=C, probes=g, spill=s)`` for each ``CxG`` or ``CxGxS`` of
  ``--configs`` (no S: the default spill): the right rows put in the s nearest of C k-means
  regions, each left row searching its g nearest.

Reported per run: recall (share of the generator's true pairs whose right row is among the
left row's ``k``), the share of the true pairs that broadcast finds which the routed run finds
too, overlap (share of broadcast's ``(left, right)`` pairs the routed run also returns),
the cells searched per left row (at least g: more where the g nearest hold fewer than k rows),
the largest and mean cell, and seconds: the whole search, and the plan alone (k-means,
assignment, probes), timed in a second call. Seconds are wall clock with every search using
``--threads`` threads, provisional on a shared machine: the 1-minute load average is
recorded beside each run.

Run ``python benchmarks/routing.py --help``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from _common import (
    fmt,
    header_lines,
    int_list,
    markdown_table,
    print_table,
    recall_topk,
    write_atomic,
)
from scale import ON, ensure_data, truth_keys

import linker as lk
from linker.vectors.ann import AnnParams, route_plan, search

SPACES = ("dense", "ngram")
TARGET_RECALL, TARGET_DROP = 0.99, 0.005


@dataclass
class Row:
    """One search's figures."""

    n: int
    space: str
    how: str
    seconds: float
    load: str
    recall: float
    kept: float | None = None  # share of broadcast's true pairs also found
    overlap: float | None = None
    probed: float | None = None
    largest: int | None = None
    mean_cell: float | None = None
    plan_s: float | None = None


def load1() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def config(text: str) -> tuple[int, int, int | None]:
    """``CxG`` or ``CxGxS``: cells, probes and spill (default: AnnParams's)."""
    parts = [int(v) for v in text.lower().split("x")]
    return parts[0], parts[1], parts[2] if len(parts) > 2 else None


def vectors(n: int, work: Path) -> tuple[dict[str, tuple[Any, Any]], Any, Any, float]:
    """The pipeline's vectors of both sides per space, the truth rows, prepare's seconds."""
    folder = ensure_data(work, n, wait_s=3600)
    left, right, truth = (
        pl.read_parquet(folder / f"{t}.parquet") for t in ("left", "right", "truth")
    )
    tl, tr = truth_keys(left, right, truth)
    start = time.perf_counter()
    lside, rside, _ = lk.Linker(on=ON, model="static", id="id").prepare(left, right)
    took = time.perf_counter() - start
    assert lside.vectors is not None and rside.vectors is not None
    spaces = {
        "dense": (lside.vectors.dense, rside.vectors.dense),
        "ngram": (lside.vectors.sparse, rside.vectors.sparse),
    }
    return spaces, tl, tr, took


def pair_codes(ids: np.ndarray, n_right: int) -> np.ndarray:
    rows = np.repeat(np.arange(ids.shape[0], dtype=np.int64), ids.shape[1])
    return np.unique(rows * n_right + ids.ravel())


def run_size(n: int, args: argparse.Namespace) -> list[Row]:
    spaces, tl, tr, took = vectors(n, args.work)
    print(f"n={n:,}: vectors in {took:.0f} s (load {load1()})", flush=True)
    rows: list[Row] = []
    for space in args.spaces:
        q, items = spaces[space]
        n_right = items.shape[0]
        start, load = time.perf_counter(), load1()
        p = AnnParams(shards=args.shards, threads=args.threads)
        base, _ = search(q, items, args.k, params=p)
        secs = time.perf_counter() - start
        base_codes = pair_codes(base, n_right)
        true_codes = tl * n_right + tr
        base_found = np.isin(true_codes, base_codes)
        rows.append(
            Row(n, space, f"broadcast, {args.shards} shards", secs, f"{load} → {load1()}",
                recall_topk(base, args.k, tl, tr))
        )  # fmt: skip
        print_table(
            f"n={n:,} {space}",
            ["how", "s", "recall"],
            [[rows[-1].how, fmt(secs, 1), fmt(rows[-1].recall, 4)]],
        )
        for cells, probes, spill in args.configs:
            p = AnnParams(cells=cells, probes=probes, spill=spill, threads=args.threads)
            start, load = time.perf_counter(), load1()
            ids, _ = search(q, items, args.k, params=p)
            secs = time.perf_counter() - start
            t0 = time.perf_counter()
            routes = route_plan(q, items, args.k, "auto", p)
            plan_s = time.perf_counter() - t0
            assert routes is not None
            sizes = np.array([len(i) for i in routes.items])
            codes = pair_codes(ids, n_right)
            found = np.isin(true_codes, codes)
            row = Row(
                n, space, f"routed, {cells} cells, {probes} probes, spill {routes.spill}", secs,
                f"{load} → {load1()}",
                recall_topk(ids, args.k, tl, tr),
                kept=float((found & base_found).sum() / max(base_found.sum(), 1)),
                overlap=float(np.isin(base_codes, codes).mean()),
                probed=float(sum(len(x) for x in routes.queries) / q.shape[0]),
                largest=int(sizes.max()), mean_cell=float(sizes.mean()), plan_s=plan_s,
            )  # fmt: skip
            rows.append(row)
            print(
                f"  {row.how}: {secs:.1f} s (plan {plan_s:.1f}), recall {row.recall:.4f}, "
                f"kept {row.kept:.4f}, overlap {row.overlap:.4f}, {row.probed:.2f} cells/query, "
                f"load {row.load}",
                flush=True,
            )
        del q, items
    return rows


def report(rows: list[Row], args: argparse.Namespace) -> str:
    extra = {
        "Settings": f"k={args.k}, Linker(on={ON}, model='static', id='id').prepare vectors, "
        f"{args.threads} search threads, broadcast = AnnParams(shards={args.shards}), "
        "AnnParams defaults otherwise (dense: hnswlib from 20,000 items; n-gram: a 256-d "
        "sketch, hnswlib, exact re-scoring from 50,000 items)",
        "Data": f"{args.work}/data/n<N>/ (linker.data.demo.make_demo(N, seed=0))",
        "Load": "the 1-minute load average before → after each search (2 cores; "
        "other sessions share the machine, so seconds are provisional)",
    }
    lines = header_lines("Routed search against broadcast sharded search", extra=extra)
    headers = ["N", "space", "search", "recall@k", "of broadcast's true pairs",
               "overlap with broadcast", "cells per query", "largest / mean cell", "s (plan s)",
               "load"]  # fmt: skip
    table = []
    for r in rows:
        cell = f"{r.largest:,} / {r.mean_cell:,.0f}" if r.largest is not None else "—"
        secs = fmt(r.seconds, 1) + (f" ({r.plan_s:.1f})" if r.plan_s is not None else "")
        table.append(
            [fmt(r.n), r.space, r.how, fmt(r.recall, 4), fmt(r.kept, 4), fmt(r.overlap, 4),
             fmt(r.probed, 2), cell, secs, r.load]
        )  # fmt: skip
    lines += ["## Runs", "", *markdown_table(headers, table), ""]
    lines += ["## Against the target", ""]
    base = {(r.n, r.space): r.recall for r in rows if r.how.startswith("broadcast")}
    for r in rows:
        if r.how.startswith("routed"):
            change = r.recall - base[(r.n, r.space)]
            near, high = change >= -TARGET_DROP, r.recall >= TARGET_RECALL
            lines.append(
                f"- N={r.n:,} {r.space}, {r.how}: recall {r.recall:.4f}, {change:+.4f} against "
                f"broadcast's {base[(r.n, r.space)]:.4f} (at most {TARGET_DROP} below: "
                f"{'met' if near else 'not met'}; this list alone >= {TARGET_RECALL}: "
                f"{'met' if high else 'not met'})"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sizes", type=int_list, default=[100_000], help="N (default 100000)")
    ap.add_argument("--spaces", default="dense,ngram", help="dense,ngram (default both)")
    ap.add_argument(
        "--configs",
        default="16x4,64x4x1,64x4,64x8",
        help="CxG or CxGxS list (cells x probes x spill)",
    )
    ap.add_argument("--shards", type=int, default=2, help="broadcast shards (default 2)")
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("-k", type=int, default=10)
    ap.add_argument("--work", type=Path, default=Path("/tmp/linker_scale"))
    ap.add_argument("--out", type=Path, default=None, help="results markdown (default: print)")
    args = ap.parse_args(argv)
    args.spaces = [s for s in args.spaces.split(",") if s]
    if bad := set(args.spaces) - set(SPACES):
        ap.error(f"unknown spaces {sorted(bad)}: use {SPACES}")
    args.configs = [config(c) for c in args.configs.split(",") if c]
    rows: list[Row] = []
    for n in args.sizes:
        rows += run_size(n, args)
        text = report(rows, args)
        if args.out is not None:  # after each size: a run that stops early leaves a valid file
            write_atomic(args.out, text)
    if args.out is None:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
