"""The static model against the model2vec-distilled one and MiniLM: blocking recall, merge F1, time.

For each dataset and each model, on the same tables and columns (the loader's ``Benchmark.on``):

- *load s*: the first ``encode`` of one short text (model load; for ``static``, the build too
  when its folder is empty, so run ``make install`` first to keep it out);
- *embed s*, *dense R@1 / R@10*: every record's ``on`` values joined by spaces, embedded, and
  searched exactly (cosine top-k); the share of true pairs whose right record is in the left
  record's top k;
- *block R*, *candidates*, *block s*: ``lk.candidates(left, right, on=on, model=...)`` (linker's
  blocking: embedding and n-gram top-k, k = 10): the share of true pairs among its pairs;
- *P / R / F1*, *merge s*, *merge CPU s*: ``lk.merge(left, right, on=on, how="1:1",
  model=...)`` against the truth (pairs with ``_merge == "both"``), and the wall-clock and CPU
  seconds (all threads of this process) of the whole call; CPU seconds depend less on what else
  runs on the machine.

Models: ``minilm`` (the packaged int8 ONNX MiniLM), ``static`` (linker's own distillation,
:func:`linker.vectors.embed.build_static_model`), ``model2vec`` (the model ``make
install-static`` used to distil with model2vec 0.10.0, run by model2vec's ``StaticModel``; give
its folder with ``--model2vec-dir``; needs ``pip install model2vec``).

Run: ``python benchmarks/static_model.py --model2vec-dir .venv/share/linker/static-minilm-256``
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
from _common import fmt, header_lines, markdown_table, print_table, record_strings, write_atomic

import linker as lk
from linker.data.benchmarks import Benchmark, load_benchmark
from linker.vectors.ann import search
from linker.vectors.embed import StaticEncoder, get_encoder

DATASETS = ["demo", "febrl4", "DBLP-ACM", "Abt-Buy", "Amazon-Google"]
MODELS = ["minilm", "static", "model2vec"]
HEAD = [
    "dataset", "model", "load s", "embed s", "dense R@1", "dense R@10", "block R", "candidates",
    "block s", "P", "R", "F1", "merge s", "merge CPU s", "load",
]  # fmt: skip


class Model2VecEncoder:
    """A model2vec folder run by model2vec itself (the path linker used before its own)."""

    def __init__(self, path: str):
        self.name = f"model2vec:{path}"
        self.path = path
        self._model: object | None = None

    def encode(self, texts: Sequence[str], *, show_progress: bool | None = None) -> npt.NDArray:
        from model2vec import StaticModel

        if self._model is None:
            self._model = StaticModel.from_pretrained(self.path)
        vecs = np.asarray(
            self._model.encode(list(texts), batch_size=4096, use_multiprocessing=False),  # type: ignore[attr-defined]
            np.float32,
        )
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        return vecs / np.where(norms == 0, 1.0, norms)


def encoder(name: str, args: argparse.Namespace) -> Any:
    if name == "model2vec":
        if not args.model2vec_dir:
            raise SystemExit("model=model2vec needs --model2vec-dir")
        return Model2VecEncoder(args.model2vec_dir)
    if name == "static" and args.static_dir:
        return StaticEncoder(args.static_dir)
    return get_encoder(name)


def renamed(bench: Benchmark) -> tuple[pl.DataFrame, pl.DataFrame, set[tuple[str, str]]]:
    left = bench.left.rename({bench.left_id: "left_id"})
    right = bench.right.rename({bench.right_id: "right_id"})
    return left, right, set(bench.truth.select("left_id", "right_id").iter_rows())


def prf(found: set[tuple[str, str]], truth: set[tuple[str, str]]) -> tuple[float, float, float]:
    tp = len(found & truth)
    p, r = tp / max(len(found), 1), tp / max(len(truth), 1)
    return p, r, 2 * p * r / max(p + r, 1e-12)


def measure(name: str, model: str, args: argparse.Namespace) -> list[str]:
    bench = load_benchmark(name, data_root=args.data_root)
    left, right, truth = renamed(bench)
    on, ids = bench.on, ("left_id", "right_id")
    enc = encoder(model, args)
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    enc.encode(["warm up"])
    t1 = time.perf_counter()
    lt = [t.lower() for t in record_strings(left, on)]
    rt = [t.lower() for t in record_strings(right, on)]
    lv, rv = enc.encode(lt), enc.encode(rt)
    t2 = time.perf_counter()
    top, _ = search(lv, rv, 10, method="exact")
    lrow = {v: i for i, v in enumerate(left["left_id"].to_list())}
    rrow = {v: i for i, v in enumerate(right["right_id"].to_list())}
    tl = np.array([lrow[a] for a, _ in truth if a in lrow and _ in rrow])
    tr = np.array([rrow[b] for a, b in truth if a in lrow and b in rrow])
    hits = top[tl] == tr[:, None]
    t3 = time.perf_counter()
    cand = lk.candidates(left, right, on=on, model=enc, id=ids, show_progress=False)
    t4, c4 = time.perf_counter(), time.process_time()
    block_r = len(set(cand.select(*ids).iter_rows()) & truth) / max(len(truth), 1)
    out = lk.merge(left, right, on=on, how="1:1", model=enc, id=ids, show_progress=False)
    t5, c5 = time.perf_counter(), time.process_time()
    found = set(out.filter(pl.col("_merge") == "both").select(*ids).iter_rows())
    p, r, f1 = prf(found, truth)
    cells = [t1 - t0, t2 - t1, hits[:, 0].mean(), hits.any(axis=1).mean(), block_r]
    return [
        name, model, *(fmt(float(c), 3) for c in cells), fmt(cand.height), fmt(t4 - t3, 1),
        fmt(p), fmt(r), fmt(f1), fmt(t5 - t4, 1), fmt(c5 - c4, 1),
        f"{load0:.1f} → {os.getloadavg()[0]:.1f}",
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--dataset", action="append", help=f"repeatable (default: {DATASETS})")
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated, of " + str(MODELS))
    p.add_argument("--data-root", default="../shared/datasets", help="shared datasets folder")
    p.add_argument("--static-dir", help="the static model folder (default: static_model_dir())")
    p.add_argument("--model2vec-dir", help="a folder model2vec's distill wrote")
    p.add_argument("--out", default="benchmarks/results/static_model.md", help="results file")
    args = p.parse_args(argv)
    rows: list[list[str]] = []
    header = header_lines("The static model: linker's distillation, model2vec's, and MiniLM")
    for name in args.dataset or DATASETS:
        for model in args.models.split(","):
            rows.append(measure(name, model, args))
            print_table("so far", HEAD, rows[-1:])
            text = "\n".join([*header, *markdown_table(HEAD, rows), "", *NOTES, ""])
            write_atomic(Path(args.out), text)
    print_table("static model comparison", HEAD, rows)
    return 0


NOTES = [
    "- Columns: see the docstring of `benchmarks/static_model.py`. Seconds are wall clock, so",
    "  they depend on what else ran on the machine; *load* is the 1-minute load average when the",
    "  row started → ended. CPU seconds depend less on it.",
]

if __name__ == "__main__":
    raise SystemExit(main())
