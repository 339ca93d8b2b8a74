"""Assignment, dedup clustering and LLM rerank: quality and cost.

Sections (``--sections``, default all):

1. ``assign``: F1 of Hungarian vs greedy vs none (every pair above the threshold) on the
   one-to-one tasks DBLP-ACM, Fodors-Zagats and febrl4, all from the same scores
   (``Linker(on=bench.on).candidates``, threshold 0.5).
2. ``scale``: seconds and peak memory of ``assign(how="1:1")`` on 1M synthetic candidate pairs
   (a blocking-like graph and a random graph whose pairs form one giant component), each in
   a fresh child process so that its peak RSS is its own.
3. ``rerank``: F1 before/after the LLM rerank of the uncertain band (0.3, 0.7) on Abt-Buy and
   Amazon-Google with the local SmolLM2-135M server; at most ``--llm-max-left`` band left
   records (seeded sample) are reranked, because each call takes seconds on this CPU.
4. ``dedup``: pairwise precision/recall/F1 of the clusters of each method on Febrl 1-3 and
   pyJedAI's dirty sets cora, cddb and abtbuy.

Scored pairs and LLM calls are cached under ``--cache-dir``, so a re-run of one section is
cheap. Run ``python benchmarks/assign_rerank.py --help``; see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from _common import fmt, header_lines, markdown_table, print_table, truth_rows, write_atomic

from linker.data.benchmarks import load_benchmark, load_dedup_benchmark
from linker.decide.assign import assign
from linker.decide.cluster import cluster
from linker.pipeline.linker import Linker
from linker.rerank.base import band_pairs, rerank_band

ASSIGN_SETS = ("DBLP-ACM", "Fodors-Zagats", "febrl4")
RERANK_SETS = ("Abt-Buy", "Amazon-Google")
DEDUP_SETS = ("febrl1", "febrl2", "febrl3", "cora", "cddb", "abtbuy")
METHODS = ("components", "centre", "average")
THRESHOLD = 0.5
BAND = (0.3, 0.7)
Rows = list[list[str]]


def chosen_sets(args: argparse.Namespace, default: tuple[str, ...]) -> list[str]:
    """The section's datasets, limited by ``--datasets`` when given."""
    if not args.datasets:
        return list(default)
    return [d for d in default if d in args.datasets.split(",")]


def merged(old: Rows, new: Rows) -> Rows:
    """``old`` rows whose dataset (first cell) was not re-run, then the new rows, in order."""
    again = {r[0] for r in new}
    return [r for r in old if r[0] not in again] + new


def prf(pred: set[tuple[int, int]], true: set[tuple[int, int]]) -> tuple[float, float, float]:
    tp = len(pred & true)
    p = tp / len(pred) if pred else 0.0
    r = tp / len(true) if true else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def pairs_of(frame: pl.DataFrame) -> set[tuple[int, int]]:
    return set(zip(frame["left_row"].to_list(), frame["right_row"].to_list(), strict=True))


def cached_pairs(path: Path, make: Any) -> pl.DataFrame:
    if path.is_file():
        return pl.read_parquet(path)
    out: pl.DataFrame = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    out.write_parquet(path)
    return out


# -- 1. assignment ---------------------------------------------------------------------------
def run_assign(args: argparse.Namespace) -> Rows:
    rows = []
    for name in chosen_sets(args, ASSIGN_SETS):
        bench = load_benchmark(name, data_root=args.data_root)
        start = time.perf_counter()
        linker = Linker(on=bench.on, show_progress=False)
        pairs = cached_pairs(
            args.cache_dir / f"pairs-{name}.parquet",
            lambda b=bench, lk=linker: lk.candidates(b.left, b.right),
        )
        score_s = time.perf_counter() - start
        tl, tr = truth_rows(bench)
        true = set(zip(tl.tolist(), tr.tolist(), strict=True))
        p = pairs.select("left_row", "right_row", "score")
        for label, how, method in (("none (m:m)", "m:m", "greedy"), ("greedy", "1:1", "greedy"),
                                   ("hungarian", "1:1", "hungarian")):  # fmt: skip
            t = time.perf_counter()
            out = assign(p, how=how, threshold=THRESHOLD, method=method)  # type: ignore[arg-type]
            sec = time.perf_counter() - t
            pr, rc, f1 = prf(pairs_of(out), true)
            rows.append([name, f"{p.height:,}", label, fmt(pr, 4), fmt(rc, 4), fmt(f1, 4),
                         f"{out.height:,}", f"{sec:.3f}", f"{score_s:.0f}"])  # fmt: skip
        print_table(f"assign: {name}", ASSIGN_HEAD, rows[-3:])
    return rows


ASSIGN_HEAD = ["dataset", "candidates", "assignment", "precision", "recall", "F1", "matches",
               "assign s", "scoring s"]  # fmt: skip


# -- 2. scale --------------------------------------------------------------------------------
def synthetic(kind: str, n_pairs: int, seed: int = 0) -> pl.DataFrame:
    """1M pairs: ``blocking`` = 100k left x 10 candidates, the true one (same row) usually
    best; ``random`` = uniformly random pairs between 200k x 200k rows, uniform scores."""
    rng = np.random.default_rng(seed)
    if kind == "blocking":
        n = n_pairs // 10
        left = np.repeat(np.arange(n), 10)
        right = np.where(np.arange(n_pairs) % 10 == 0, left, rng.integers(0, n, n_pairs))
        score = np.where(right == left, rng.beta(8, 2, n_pairs), rng.beta(2, 6, n_pairs))
    else:
        n = n_pairs // 5
        left, right = rng.integers(0, n, n_pairs), rng.integers(0, n, n_pairs)
        score = rng.random(n_pairs)
    frame = pl.DataFrame({"left_row": left, "right_row": right, "score": score})
    return frame.unique(["left_row", "right_row"], keep="first").sort("left_row", "right_row")


def _scale_child(path: str, method: str, queue: Any) -> None:
    import tracemalloc

    pairs = pl.read_parquet(path)  # built by the parent, so its peak is not this child's
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    start = time.perf_counter()
    out = assign(pairs, how="1:1", threshold=THRESHOLD, method=method)  # type: ignore[arg-type]
    sec = time.perf_counter() - start
    traced = tracemalloc.get_traced_memory()[1]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    eligible = int((pairs["score"] >= THRESHOLD).sum())
    queue.put((pairs.height, eligible, out.height, float(out["score"].sum()), sec, before, peak,
               traced))  # fmt: skip


def run_scale(args: argparse.Namespace) -> Rows:
    rows = []
    ctx = mp.get_context("spawn")
    for kind in ("blocking", "random"):
        path = args.cache_dir / f"synthetic-{kind}-{args.scale_pairs}.parquet"
        cached_pairs(path, lambda k=kind: synthetic(k, args.scale_pairs))
        for method in ("greedy", "hungarian"):
            queue = ctx.Queue()
            proc = ctx.Process(target=_scale_child, args=(str(path), method, queue))
            proc.start()
            n, eligible, kept, total, sec, before, peak, traced = queue.get()
            proc.join()
            rows.append([kind, f"{n:,}", f"{eligible:,}", method, f"{kept:,}", f"{total:,.1f}",
                         f"{sec:.2f}", f"{before / 1024:.0f}", f"{peak / 1024:.0f}",
                         f"{(peak - before) / 1024:.0f}", f"{traced / 2**20:.0f}"])  # fmt: skip
            print_table("scale", SCALE_HEAD, rows[-1:])
    return rows


SCALE_HEAD = ["graph", "pairs", "pairs ≥ 0.5", "method", "matches", "sum of scores", "seconds",
              "RSS before MB", "peak RSS MB", "RSS added MB", "numpy peak MB"]  # fmt: skip


# -- 3. LLM rerank ---------------------------------------------------------------------------
def run_rerank(args: argparse.Namespace) -> Rows:
    from linker.llm import CallCache, LLMSelectReranker, LocalServer

    rows = []
    cache = CallCache(args.cache_dir / "llm_calls.sqlite")
    with LocalServer() as server:
        for name in chosen_sets(args, RERANK_SETS):
            bench = load_benchmark(name, data_root=args.data_root)
            lk = Linker(on=bench.on, show_progress=False)
            pairs = cached_pairs(
                args.cache_dir / f"pairs-{name}.parquet",
                lambda b=bench, lk=lk: lk.candidates(b.left, b.right),
            )
            tl, tr = truth_rows(bench)
            true = set(zip(tl.tolist(), tr.tolist(), strict=True))
            band_left = band_pairs(pairs, BAND)["left_row"].unique().sort()
            rng = np.random.default_rng(args.seed)
            take = min(args.llm_max_left, band_left.len())
            chosen = np.sort(rng.choice(band_left.to_numpy(), size=take, replace=False))
            sub = pairs.filter(pl.col("left_row").is_in(chosen.tolist()))
            rr = LLMSelectReranker(server.client(), cache=cache, rounds=args.rounds,
                                   json_schema=True, seed=args.seed)  # fmt: skip
            start = time.perf_counter()
            new, stats = rerank_band(sub, rr, left=bench.left, right=bench.right,
                                     left_on=bench.on, right_on=bench.on, band=BAND)  # fmt: skip
            wall = time.perf_counter() - start
            after = pairs.join(
                new.select("left_row", "right_row", pl.col("score").alias("__new")),
                on=["left_row", "right_row"], how="left",
            ).with_columns(score=pl.coalesce("__new", "score"))  # fmt: skip
            in_sub = {(a, b) for a, b in true if a in set(chosen.tolist())}
            asked = stats["calls"] + stats["cache_hits"]  # calls this run would cost uncached
            per_1000 = asked / max(take, 1) * band_left.len() / bench.left.height * 1000
            for label, frame in (("before", pairs), ("after", after)):
                out = assign(frame.select("left_row", "right_row", "score"), threshold=THRESHOLD)
                _, _, f1 = prf(pairs_of(out), true)
                sub_out = out.filter(pl.col("left_row").is_in(chosen.tolist()))
                sp, sr, sf = prf(pairs_of(sub_out), in_sub)
                rows.append([name, label, fmt(f1, 4), f"{take:,} of {band_left.len():,}",
                             fmt(sp, 4), fmt(sr, 4), fmt(sf, 4)] + (
                    [f"{stats['calls']:.0f}", f"{stats['cache_hits']:.0f}",
                     f"{stats['malformed']:.0f}", f"{stats['undecided']:.0f}",
                     f"{stats['seconds'] / max(stats['calls'], 1):.2f}" if stats["calls"] else "—",
                     f"{per_1000:,.0f}",
                     f"{wall:.0f}"] if label == "after" else [""] * 7))  # fmt: skip
            print_table(f"rerank: {name}", RERANK_HEAD, rows[-2:])
    return rows


RERANK_HEAD = ["dataset", "scores", "F1 (all)", "band left records reranked", "P (reranked)",
               "R (reranked)", "F1 (reranked)", "calls", "cache hits", "malformed", "undecided",
               "s/call", "calls per 1,000 left (all band)", "wall s"]  # fmt: skip


# -- 4. dedup --------------------------------------------------------------------------------
def dirty(name: str, root: Path) -> tuple[pl.DataFrame, str, pl.DataFrame]:
    """pyJedAI dirty-ER set: records (text), id column, truth ``id_a, id_b``."""
    base = root / "pyjedai" / "data" / "der"
    if name == "cora":
        df = pl.read_csv(base / "cora/cora.csv", separator="|", infer_schema=False,
                         quote_char=None).drop("")  # fmt: skip
        gt = pl.read_csv(base / "cora/cora_gt.csv", separator="|", has_header=False,
                         infer_schema=False, new_columns=["id_a", "id_b"])  # fmt: skip
        return df, "Entity Id", gt
    df = pl.read_csv(base / f"{name}/{name}.csv", infer_schema=False)
    gt = pl.read_csv(base / f"{name}/gt.csv", infer_schema=False)
    return df, "id", gt.rename(dict(zip(gt.columns, ["id_a", "id_b"], strict=True)))


def run_dedup(args: argparse.Namespace) -> Rows:
    rows = []
    for name in chosen_sets(args, DEDUP_SETS):
        if name.startswith("febrl"):
            df, idc, gt = load_dedup_benchmark(name, data_root=args.data_root)
        else:
            df, idc, gt = dirty(name, Path(args.data_root))
        on = [c for c in df.columns if c != idc]
        start = time.perf_counter()
        lk = Linker(on=on, id=idc, show_progress=False)
        pairs = cached_pairs(
            args.cache_dir / f"dedup-{name}.parquet",
            lambda d=df, k=lk: k.dedup(d).pairs.select("left_row", "right_row", "score"),
        )
        score_s = time.perf_counter() - start
        row_of = dict(zip(df[idc].to_list(), range(df.height), strict=True))
        true = {
            (min(row_of[a], row_of[b]), max(row_of[a], row_of[b]))
            for a, b in gt.iter_rows()
            if a in row_of and b in row_of and a != b
        }
        for method in METHODS:
            t = time.perf_counter()
            labels = cluster(df.height, pairs, threshold=THRESHOLD, method=method)  # type: ignore[arg-type]  # noqa: E501
            sec = time.perf_counter() - t
            pred: set[tuple[int, int]] = set()
            order = np.argsort(labels, kind="stable")
            bounds = np.flatnonzero(np.diff(labels[order])) + 1
            for members in np.split(order, bounds):
                if len(members) > 1:
                    m = np.sort(members).tolist()
                    pred.update((m[i], m[j]) for i in range(len(m)) for j in range(i + 1, len(m)))
            p, r, f1 = prf(pred, true)
            sizes = np.bincount(labels)
            rows.append([name, f"{df.height:,}", f"{len(true):,}", method, fmt(p, 4), fmt(r, 4),
                         fmt(f1, 4), f"{len(sizes):,}", f"{sizes.max():,}", f"{sec:.2f}",
                         f"{score_s:.0f}"])  # fmt: skip
        print_table(f"dedup: {name}", DEDUP_HEAD, rows[-3:])
    return rows


DEDUP_HEAD = ["dataset", "records", "true pairs", "clustering", "precision", "recall", "F1",
              "clusters", "largest", "cluster s", "scoring s"]  # fmt: skip

SECTIONS = {
    "assign": ("Hungarian vs greedy vs none (same scores, threshold 0.5)", ASSIGN_HEAD, run_assign),
    "scale": ("Assignment on 1M synthetic candidate pairs", SCALE_HEAD, run_scale),
    "rerank": ("LLM rerank of the uncertain band (0.3, 0.7), local SmolLM2-135M", RERANK_HEAD,
               run_rerank),
    "dedup": ("Dedup: pairwise P/R/F1 of the clusters (threshold 0.5)", DEDUP_HEAD, run_dedup),
}  # fmt: skip


NOTES = """## Definitions

- *none (m:m)*: every candidate pair scoring at least 0.5; *greedy*: pairs best-first, each
  record used once; *hungarian*: the maximum-weight one-to-one matching (weights: log-odds of
  the score above the threshold), `linker.decide.assign`.
- Scale: `assign(pairs, how="1:1")` alone (the frame is built before timing), in a fresh
  spawned process that reads the pairs from parquet; *peak RSS* is that process's `ru_maxrss`
  (Python, polars, scipy and the input frame included), *RSS added* is the peak minus the RSS
  just before the call, *numpy peak* the largest memory the call held in numpy/Python objects
  (tracemalloc; polars' own buffers are not traced).
- Rerank: *F1 (all)* is the Hungarian 1:1 F1 over the whole dataset, where only the sampled band
  records got new scores; *P/R/F1 (reranked)* are restricted to the sampled left records.
  *calls per 1,000 left (all band)* projects the calls per reranked record onto every band
  record of the dataset (without cache), per 1,000 left records. *s/call* is wall seconds per
  real call to the local server (cache hits excluded); a fully cached re-run shows 0 calls.
- Dedup: predicted pairs = all pairs inside each cluster; truth = the gold pairs as given
  (Febrl: records sharing a `rec-<n>` number; pyJedAI: `gt.csv`). *clusters*, *largest*: counts
  and the size of the largest cluster.
"""


def render(results: dict[str, Any], notes: str) -> str:
    lines = header_lines("Assignment, dedup clustering and LLM rerank", extra=results["extra"])
    for key, (title, head, _) in SECTIONS.items():
        if key in results:
            lines += [f"## {title}", "", f"- Run: {results[key]['date']}", ""]
            lines += markdown_table(head, results[key]["rows"]) + [""]
    return "\n".join(lines) + "\n" + notes


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-root", default="../shared/datasets", help="shared datasets folder")
    p.add_argument("--sections", default=",".join(SECTIONS), help="comma-separated subset")
    p.add_argument("--out", default="benchmarks/results/assign_rerank.md", help="results file")
    p.add_argument("--cache-dir", type=Path, default=Path("/tmp/linker_assign_rerank"),
                   help="scored pairs, LLM calls and section results")  # fmt: skip
    p.add_argument("--scale-pairs", type=int, default=1_000_000, help="synthetic pairs")
    p.add_argument("--llm-max-left", type=int, default=60, help="band left records reranked")
    p.add_argument("--rounds", type=int, default=3, help="LLM voting rounds per record")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--datasets", help="comma-separated subset of each section's datasets")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args = parse_args(argv)
    state_path = args.cache_dir / "results.json"
    results: dict[str, Any] = json.loads(state_path.read_text()) if state_path.is_file() else {}
    results["extra"] = {
        "Settings": f"threshold {THRESHOLD}, rerank band {BAND}, LLM rounds {args.rounds}, "
        f"at most {args.llm_max_left} band left records reranked per dataset, seed {args.seed}; "
        "sections run at the dates shown (results kept in --cache-dir between runs)",
    }
    for key in [k for k in args.sections.split(",") if k]:  # "" only re-renders the file
        rows = SECTIONS[key][2](args)
        old = results.get(key, {}).get("rows", []) if key != "scale" else []
        date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        dates = [d for d in [results.get(key, {}).get("date"), date] if d and old]
        results[key] = {"rows": merged(old, rows), "date": " and ".join(dates) or date}
        args.cache_dir.mkdir(parents=True, exist_ok=True)
        state_path.write_text(json.dumps(results))
        write_atomic(args.out, render(results, NOTES))
    write_atomic(args.out, render(results, NOTES))
    print(f"\nwrote {args.out}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
