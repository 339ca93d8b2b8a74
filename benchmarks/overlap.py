"""Zero-label linking when the two tables overlap little: precision, false links, calibration.

The sweep (seeded by ``--seed``): for each set and each overlap fraction f (``--fs``, default
1, 0.5, 0.2, 0.05, 0.01, 0), every left record is kept; among the left records that have a true
partner, a random fraction f keep their right partners (one seeded order of those left records
per set, so each f's kept partners contain every smaller f's); every right record that is
nobody's partner is kept at every f. The truth of a run is the true pairs whose right record was
kept. ``lk.Linker(on=..., model=..., how="1:1").link(left, right)`` links each run, with the
library's defaults, and is measured against that truth: links, precision, recall, F1, false
links as a share of left rows, the expected calibration error (ECE) of ``score`` over every
scored candidate pair, the library's own ``stats["estimated_matches"]`` when it reports one,
and seconds. Beside it, the independent baseline: char 2-4-gram TF-IDF top-1 (scikit-learn)
with the threshold that gives it the best F1 on that run's truth (an oracle).

``--dedup`` adds one-table runs: Febrl2 and Febrl3 as published, and the demo firms stacked
(every left firm, plus the right partners of a fraction f of the left firms that have one),
each through ``lk.Linker(on=...).dedup(df)``: pairwise precision/recall/F1 of the clusters,
false links (linked pairs not true) as a share of rows, ECE, seconds.

The figures to reach (from the issue) are computed from each set's own runs and marked met or
NOT met in the results file. Only the public API is used (``Linker``, ``LinkResult``,
``linker.data.benchmarks``). Run ``python benchmarks/overlap.py --help``; see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl
from _common import (
    Rows,
    at_least,
    at_most,
    command_line,
    ece,
    fmt,
    header_lines,
    machine_info,
    markdown_table,
    print_table,
    record_strings,
    tfidf_topk,
    truth_rows,
    utc_now,
    write_atomic,
)

import linker as lk
from linker.data.benchmarks import Benchmark, list_benchmarks, load_benchmark, load_dedup_benchmark
from linker.pipeline.result import LinkResult

ALL_SETS = (
    "demo", "demo:name,city", "febrl4", "DBLP-ACM", "Abt-Buy", "Amazon-Google",
    "D1", "D2", "D3", "D4", "D10",
)  # fmt: skip
DEDUP_SETS = ("febrl2", "febrl3", "demo-stacked")
FS = (1.0, 0.5, 0.2, 0.05, 0.01, 0.0)
# The figures to reach (from the issue), as drifts from the same set's f = 1 run or as bounds.
PRECISION_DRIFT, RECALL_DRIFT, DRIFT_FROM = 0.05, 0.03, 0.05  # at every f >= DRIFT_FROM
FALSE_LINKS_MAX, FALSE_LINKS_AT = 0.005, (0.01, 0.0)
ECE_MAX, ECE_AT = 0.05, (1.0, 0.2)
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SetSpec:
    """A set as named on the command line: ``name`` or ``name:col,col`` (compare only those)."""

    label: str
    name: str
    columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class SetInfo:
    """A set as run (after ``--max-left``); ``None`` where a count does not apply (dedup)."""

    set: str
    left: int  # dedup: rows (the stacked demo: its left firms)
    right: int | None
    truth_pairs: int  # the stacked demo: the duplicate pairs at f = 1
    truth_kind: str
    left_with_partner: int | None
    right_lone: int | None  # right records that are nobody's partner
    columns: tuple[str, ...]

    def cells(self) -> list[str]:
        counts = (self.left, self.right, self.truth_pairs)
        return [self.set, *map(fmt, counts), self.truth_kind, fmt(self.left_with_partner),
                fmt(self.right_lone), ", ".join(self.columns)]  # fmt: skip

    def announce(self) -> None:
        facts = zip(SETS_HEAD[1:], self.cells()[1:], strict=True)
        print(f"\n== {self.set}: " + "; ".join(f"{h} {c}" for h, c in facts), flush=True)


@dataclass(frozen=True)
class Target:
    """A figure to reach: ``value`` must be at least (or at most) ``bound``."""

    value: float | None
    bound: float
    at_least: bool
    met: bool

    @classmethod
    def of(cls, value: float | None, bound: float, *, at_least: bool) -> Target:
        ok = value is not None and (value >= bound - 1e-12 if at_least else value <= bound + 1e-12)
        return cls(value, bound, at_least, ok)

    def cell(self, digits: int) -> str:
        check = at_least if self.at_least else at_most
        return f"{fmt(self.value, digits)} {check(self.value, self.bound, digits=digits)}"


@dataclass
class Run:
    """One measured (set, f) run; ``None`` marks an undefined measure (no truth, no links)."""

    part: str  # "link" or "dedup"
    set: str
    f: float | None  # None: the set as published (Febrl dedup)
    left_rows: int = 0  # dedup: rows of the table
    right_rows: int = 0  # dedup: 0
    true_pairs: int = 0
    true_matched_left: int = 0  # left records with a kept partner (dedup: rows in a true pair)
    candidates: int = 0
    links: int = 0
    true_links: int = 0
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    false_link_share: float | None = None
    ece: float | None = None
    estimated_matches: float | None = None
    seconds: float | None = None
    tfidf_f1: float | None = None
    tfidf_threshold: float | None = None
    note: str = ""
    targets: dict[str, Target] = field(default_factory=dict)


# -- the sweep's tables ------------------------------------------------------------------------
def truth_kind(bench: Benchmark) -> str:
    """``1:1``, ``1:m`` (a left record has several partners), ``m:1`` or ``m:m``."""
    many_l = bool((bench.truth.group_by("left_id").len()["len"] > 1).any())
    many_r = bool((bench.truth.group_by("right_id").len()["len"] > 1).any())
    return f"{'m' if many_r else '1'}:{'m' if many_l else '1'}"


def shrink(bench: Benchmark, max_left: int | None, rng: np.random.Generator) -> Benchmark:
    """Keep ``max_left`` random left records, their partners, and the same share of the right
    records that are nobody's partner, so a quick run keeps the full set's overlap."""
    if max_left is None or bench.left.height <= max_left:
        return bench
    tl, tr = truth_rows(bench)
    keep_l = np.sort(rng.choice(bench.left.height, size=max_left, replace=False))
    lone = np.setdiff1d(np.arange(bench.right.height), tr)
    n_lone = round(len(lone) * max_left / bench.left.height)
    keep_r = np.union1d(tr[np.isin(tl, keep_l)], rng.choice(lone, size=n_lone, replace=False))
    left, right = bench.left[keep_l.tolist()], bench.right[keep_r.tolist()]
    truth = bench.truth.filter(
        pl.col("left_id").is_in(left[bench.left_id].implode())
        & pl.col("right_id").is_in(right[bench.right_id].implode())
    )
    return replace(bench, left=left, right=right, truth=truth)


def partner_order(bench: Benchmark, rng: np.random.Generator) -> Rows:
    """The left rows that have a true partner, in one seeded random order."""
    tl, _ = truth_rows(bench)
    return rng.permutation(np.unique(tl))


def overlap(bench: Benchmark, order: Rows, f: float) -> tuple[pl.DataFrame, Rows, Rows]:
    """Right table of the run at fraction ``f`` (right order kept) and its truth as row numbers."""
    tl, tr = truth_rows(bench)
    chosen = order[: round(f * len(order))]
    keep = np.union1d(np.setdiff1d(np.arange(bench.right.height), tr), tr[np.isin(tl, chosen)])
    new_row = np.full(bench.right.height, -1, np.int64)
    new_row[keep] = np.arange(len(keep))
    kept = new_row[tr] >= 0  # every true pair whose right record stays
    return bench.right[keep.tolist()], tl[kept], new_row[tr[kept]]


# -- measures ----------------------------------------------------------------------------------
def keys(a: npt.ArrayLike, b: npt.ArrayLike, width: int) -> Rows:
    return np.asarray(a, np.int64) * width + np.asarray(b, np.int64)


def prf(tp: int, n_pred: int, n_true: int) -> tuple[float | None, float | None, float | None]:
    """Precision, recall, F1; ``None`` where undefined (no links; no truth for recall and F1)."""
    p = tp / n_pred if n_pred else None
    r = tp / n_true if n_true else None
    return p, r, (2 * tp / (n_pred + n_true) if n_true else None)


def pair_cosines(left: list[str], right: list[str], lrows: Rows, rrows: Rows) -> Floats:
    """Cosine of each (left, right) pair under the same TF-IDF as ``_common.tfidf_topk``."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(analyzer="char", ngram_range=(2, 4)).fit(left + right)
    q, items = vec.transform(left)[lrows], vec.transform(right)[rrows]  # rows are l2-normed
    return np.asarray(q.multiply(items).sum(axis=1), np.float64).ravel()


def tfidf_oracle(
    left: list[str], right: list[str], tl: Rows, tr: Rows
) -> tuple[float | None, float | None]:
    """Best F1 (and its threshold) of TF-IDF top-1 links over every cosine threshold."""
    if not tl.size or not right:
        return None, None
    top = tfidf_topk(left, right, 1)[:, 0]
    rows = np.arange(len(left), dtype=np.int64)
    cos = pair_cosines(left, right, rows, top)
    order = np.argsort(-cos, kind="stable")
    c = cos[order]
    hit = np.isin(keys(rows, top, len(right)), keys(tl, tr, len(right)))[order]
    last = np.r_[c[1:] != c[:-1], True]  # a threshold keeps whole groups of tied cosines
    f1 = (2 * np.cumsum(hit) / (np.arange(1, len(c) + 1) + len(tl)))[last]
    best = int(np.argmax(f1))
    return (float(f1[best]), float(c[last][best])) if f1[best] > 0 else (0.0, None)


def measure(run: Run, res: LinkResult, pairs: pl.DataFrame, truth: Rows, width: int) -> None:
    """Fill the measures link and dedup share: links, false links per row, ECE, estimate, s."""
    m = res.matches
    run.links, run.candidates = m.height, pairs.height
    run.true_links = int(np.isin(keys(m["left_row"], m["right_row"], width), truth).sum())
    run.false_link_share = (run.links - run.true_links) / run.left_rows
    hits = np.isin(keys(pairs["left_row"], pairs["right_row"], width), truth)
    run.ece = ece(pairs["score"].to_numpy().astype(np.float64), hits)
    estimate = res.stats.get("estimated_matches")
    run.estimated_matches = float(estimate) if estimate is not None else None
    run.seconds = float(res.timings["total"])


def run_link(
    left: pl.DataFrame, right: pl.DataFrame, tl: Rows, tr: Rows, on: list[str], model: str | None
) -> Run:
    """``Linker(on, model, how="1:1").link`` on one run's tables, measured against its truth."""
    run = Run("link", "", None, left.height, right.height, len(tl), len(np.unique(tl)))
    res = lk.Linker(on=on, model=model, how="1:1", show_progress=False).link(left, right)
    width, truth, pairs = right.height, keys(tl, tr, right.height), res.pairs
    measure(run, res, pairs, truth, width)
    run.precision, run.recall, run.f1 = prf(run.true_links, run.links, len(tl))
    strings = record_strings(left, on), record_strings(right, on)
    run.tfidf_f1, run.tfidf_threshold = tfidf_oracle(*strings, tl, tr)
    return run


def run_dedup(df: pl.DataFrame, on: list[str], ta: Rows, tb: Rows, model: str | None) -> Run:
    """``Linker(on, model).dedup``: pairwise P/R/F1 of the clusters against true pairs (a < b)."""
    run = Run("dedup", "", None, df.height, 0, len(ta), len(np.union1d(ta, tb)))
    res = lk.Linker(on=on, model=model, show_progress=False).dedup(df)
    labels = res.frame["_cluster"].to_numpy()
    sizes = np.unique(labels, return_counts=True)[1].astype(np.int64)
    in_clusters = int((sizes * (sizes - 1) // 2).sum())
    same = int((labels[ta] == labels[tb]).sum())
    run.precision, run.recall, run.f1 = prf(same, in_clusters, len(ta))
    pairs = res.pairs.filter(pl.col("left_row") < pl.col("right_row"))  # each pair once
    measure(run, res, pairs, keys(ta, tb, df.height), df.height)
    return run


# -- the figures to reach ----------------------------------------------------------------------
def near(f: float | None, values: tuple[float, ...]) -> bool:
    return f is not None and any(abs(f - v) < 1e-9 for v in values)


def add_targets(runs: list[Run]) -> None:
    """Each run's targets, from its set's own f = 1 run (drifts) or fixed bounds."""
    ref = next((r for r in runs if near(r.f, (1.0,)) and not r.note), None)
    for r in runs:
        if r.f is None or r.note:  # as published, skipped or failed: nothing to hold it to
            continue
        t = r.targets = {}
        if ref is not None and r is not ref and r.f >= DRIFT_FROM - 1e-9:
            if ref.precision is not None:
                bound = ref.precision - PRECISION_DRIFT
                t["precision"] = Target.of(r.precision, bound, at_least=True)
            if ref.recall is not None:
                t["recall"] = Target.of(r.recall, ref.recall - RECALL_DRIFT, at_least=True)
        if near(r.f, FALSE_LINKS_AT):
            t["false_links"] = Target.of(r.false_link_share, FALSE_LINKS_MAX, at_least=False)
        if near(r.f, ECE_AT):
            t["ece"] = Target.of(r.ece, ECE_MAX, at_least=False)
        if r.part == "link" and r.tfidf_f1 is not None and r.f1 is not None:
            t["f1_vs_tfidf"] = Target.of(r.f1, r.tfidf_f1, at_least=True)


# -- reporting ---------------------------------------------------------------------------------
LINK_HEAD = ["set", "f", "left", "right", "true pairs", "links", "true links", "precision",
             "recall", "F1", "TF-IDF oracle F1 (cos ≥)", "false links / left", "ECE",
             "est. matched left", "true matched left", "candidates", "seconds", "note"]  # fmt: skip
DEDUP_HEAD = ["set", "f", "rows", "true pairs", "links", "true links", "precision", "recall",
              "F1", "false links / rows", "ECE", "est. matches", "rows in a true pair",
              "candidates", "seconds", "note"]  # fmt: skip
TARGET_NAMES = {
    "precision": f"precision ≥ f=1 − {PRECISION_DRIFT} (f ≥ {DRIFT_FROM})",
    "recall": f"recall ≥ f=1 − {RECALL_DRIFT} (f ≥ {DRIFT_FROM})",
    "false_links": f"false links ≤ {FALSE_LINKS_MAX:.1%} (f = 0.01, 0)",
    "ece": f"ECE ≤ {ECE_MAX} (f = 1, 0.2)",
    "f1_vs_tfidf": "F1 ≥ TF-IDF oracle F1",
}


def f_cell(f: float | None) -> str:
    return "as published" if f is None else f"{f:g}"


def tfidf_cell(r: Run) -> str:
    if r.tfidf_f1 is None:
        return "—"
    return fmt(r.tfidf_f1) + (f" ({r.tfidf_threshold:.3f})" if r.tfidf_threshold else "")


def link_rows(runs: list[Run]) -> list[list[str]]:
    return [[
        r.set, f_cell(r.f), fmt(r.left_rows), fmt(r.right_rows), fmt(r.true_pairs), fmt(r.links),
        fmt(r.true_links), fmt(r.precision), fmt(r.recall), fmt(r.f1), tfidf_cell(r),
        fmt(r.false_link_share, 4), fmt(r.ece), fmt(r.estimated_matches, 1),
        fmt(r.true_matched_left), fmt(r.candidates), fmt(r.seconds, 1), r.note or "",
    ] for r in runs if r.part == "link"]  # fmt: skip


def dedup_rows(runs: list[Run]) -> list[list[str]]:
    return [[
        r.set, f_cell(r.f), fmt(r.left_rows), fmt(r.true_pairs), fmt(r.links), fmt(r.true_links),
        fmt(r.precision), fmt(r.recall), fmt(r.f1), fmt(r.false_link_share, 4), fmt(r.ece),
        fmt(r.estimated_matches, 1), fmt(r.true_matched_left), fmt(r.candidates),
        fmt(r.seconds, 1), r.note or "",
    ] for r in runs if r.part == "dedup"]  # fmt: skip


def target_rows(runs: list[Run], part: str) -> list[list[str]]:
    def cell(r: Run, name: str) -> str:
        t = r.targets.get(name)
        return "—" if t is None else t.cell(4 if name == "false_links" else 3)

    return [
        [r.set, f_cell(r.f), *(cell(r, name) for name in TARGET_NAMES)]
        for r in runs
        if r.part == part and r.targets
    ]


def tally(runs: list[Run]) -> str:
    checks = [t.met for r in runs for t in r.targets.values()]
    return f"{sum(checks)} of {len(checks)} figures met" if checks else "no figures to check"


def render(runs: list[Run], loaded: list[SetInfo], errors: list[str], extra: dict[str, str]) -> str:
    """The whole results file as markdown."""
    lines = header_lines("Zero-label linking when the tables overlap little", extra=extra)
    lines += ["## Figures to reach (from the issue; computed from this run's own f = 1 rows)", ""]
    lines += [f"- {v}" for v in TARGET_NAMES.values()]
    lines += ["", f"This run: {tally(runs)}.", "", "## Sets", ""]
    lines += markdown_table(SETS_HEAD, [i.cells() for i in loaded]) + [""]
    target_head = ["set", "f", *TARGET_NAMES.values()]
    for title, head, rows in (
        ("Link: measures", LINK_HEAD, link_rows(runs)),
        ("Link: figures to reach", target_head, target_rows(runs, "link")),
        ("Dedup: measures", DEDUP_HEAD, dedup_rows(runs)),
        ("Dedup: figures to reach", target_head[:-1], [r[:-1] for r in target_rows(runs, "dedup")]),
    ):
        if rows:
            lines += [f"## {title}", "", *markdown_table(head, rows), ""]
    if errors:
        lines += ["## Errors", "", *[f"- {e}" for e in errors], ""]
    return "\n".join([*lines, "## Definitions", "", DEFINITIONS, ""])


SETS_HEAD = ["set", "left (dedup: rows)", "right", "truth pairs", "truth kind",
             "left with a partner", "right nobody's partner", "compared columns"]  # fmt: skip
DEFINITIONS = """\
- f: share of the left records with a true partner whose partners stay in the right table (one
  seeded order per set; every left record and every right record that is nobody's partner
  stay). true pairs: the true pairs whose right record stayed (all of them count when a set's
  truth is 1:m or m:m). A set where every right record is somebody's partner (febrl4, D2) has
  an empty right table at f = 0: that run is skipped.
- `--max-left N`: N random left records, their partners, and the same share of the right
  records that are nobody's partner (so the overlap at f = 1 stays the full set's).
- links: `.matches` of `lk.Linker(on=..., model=..., how="1:1").link(left, right)` (library
  defaults otherwise, a fresh Linker per run: seconds = `timings["total"]`, model load
  included). precision, recall, F1 against the run's true pairs (no truth at f = 0: recall and
  F1 undefined, precision 0 if anything was linked). false links / left: links not true,
  divided by left rows.
- ECE: over every scored candidate in `.pairs` (label: the pair is true), 10 equal-width score
  bins, Σ (pairs in bin / pairs) × |mean score − share true|.
- est. matched left: `stats["estimated_matches"]` when the library reports it (— otherwise);
  true matched left: left records with a true pair in the run.
- TF-IDF oracle F1: scikit-learn char 2-4-gram TF-IDF fitted on both tables of the run (the
  compared columns' non-null values joined by spaces), each left record's top-1 right record
  and its cosine, linked when the cosine is at least the threshold that gives the best F1
  against the run's truth (shown in brackets). An upper bound for that baseline, not a method.
- truth kind: `1:m` when a left record has several true partners, `m:1` for a right record,
  `m:m` both (Abt-Buy, Amazon-Google): there `how="1:1"` cannot reach recall 1.
- DeepMatcher sets (DBLP-ACM, Abt-Buy, Amazon-Google) list only the labelled pairs as truth:
  a right record that is "nobody's partner" may still match a left record there, and such a
  link counts as false.
- Dedup: `lk.Linker(on=...).dedup(df)`; precision/recall/F1 over the pairs inside clusters
  against the true duplicate pairs; links: `.matches`; ECE over the scored pairs with
  left_row < right_row. Febrl2/Febrl3 run as published (no f, no figures to reach); the demo
  firms stacked hold every left firm plus the right partners of a fraction f of the left firms
  with a partner (compared columns: all of the demo's)."""


# -- driver ------------------------------------------------------------------------------------
def parse_sets(text: str) -> list[SetSpec]:
    """``demo,demo:name,city,febrl4``: after ``name:``, columns run until the next set name."""
    known = set(list_benchmarks())
    specs: list[SetSpec] = []
    if text.strip() == "none":
        return specs
    for token in (t.strip() for t in text.split(",") if t.strip()):
        name = token.split(":", 1)[0]
        if ":" in token or name in known or Path(token).is_dir():
            cols = token.split(":", 1)[1:]
            specs.append(SetSpec(token, name, tuple(c for c in cols if c)))
        elif specs and specs[-1].columns:
            last = specs[-1]
            specs[-1] = SetSpec(f"{last.label},{token}", last.name, (*last.columns, token))
        else:
            raise argparse.ArgumentTypeError(f"unknown set {token!r}: one of {sorted(known)}")
    return specs


def parse_fs(text: str) -> list[float]:
    try:
        fs = sorted({float(v) for v in text.split(",") if v.strip()}, reverse=True)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"expected fractions like 1,0.2,0, got {text!r}") from e
    if not fs or fs[0] > 1 or fs[-1] < 0:
        raise argparse.ArgumentTypeError(f"fractions must lie in [0, 1], got {text!r}")
    return fs


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="\n\n".join((__doc__ or "").split("\n\n")[:3]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="e.g. --sets demo,demo:name,city,febrl4 --fs 1,0 --max-left 300 --dedup",
    )
    p.add_argument("--sets", type=parse_sets, default=parse_sets(",".join(ALL_SETS)),
                   help=f"comma-separated; name:col,col compares only those columns "
                   f"(default: {', '.join(ALL_SETS)}); 'none' runs no link sets")  # fmt: skip
    p.add_argument("--fs", type=parse_fs, default=list(FS),
                   help="overlap fractions (default 1,0.5,0.2,0.05,0.01,0)")  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="seed of the sweep and of --max-left")
    p.add_argument("--max-left", type=int, metavar="N", help="quick runs: N random left records")
    p.add_argument("--model", default=None, help="Linker(model=...); default: the library's")
    p.add_argument("--dedup", action="store_true",
                   help=f"also the dedup runs: {', '.join(DEDUP_SETS)}")  # fmt: skip
    p.add_argument("--data-root", default="../shared/datasets", help="shared datasets folder")
    p.add_argument("--out", default="benchmarks/results/overlap.md", help="results markdown "
                   "(the raw rows go to the same path with .json)")  # fmt: skip
    return p.parse_args(argv)


def rngs(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """Two independent generators from ``seed``: the ``--max-left`` sample and the sweep order."""
    a, b = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(a), np.random.default_rng(b)


def progress(r: Run) -> Run:
    print(f"  {r.set} f={f_cell(r.f)}: {r.links:,} links ({r.true_links:,} true of "
          f"{r.true_pairs:,}), P {fmt(r.precision)}, R {fmt(r.recall)}, false/rows "
          f"{fmt(r.false_link_share, 4)}, ECE {fmt(r.ece)}, {fmt(r.seconds, 1)} s {r.note}",
          flush=True)  # fmt: skip
    return r


def attempt(
    fn: Callable[[], Run], part: str, label: str, f: float | None, errors: list[str]
) -> Run:
    """``fn()`` labelled, or a stand-in run when it raised (traceback printed, error listed)."""
    try:
        run = fn()
    except Exception as e:  # a benchmark records a failed run and goes on with the next one
        traceback.print_exc()
        errors.append(f"{label} f={f_cell(f)}: {e!r}")
        run = Run(part, label, f, note="failed (see Errors)")
    run.set, run.f = label, f
    return progress(run)


def sweep(spec: SetSpec, args: argparse.Namespace, errors: list[str]) -> tuple[list[Run], SetInfo]:
    """Load one set, run every f; returns the runs and the set's row of the Sets table."""
    sample_rng, order_rng = rngs(args.seed)
    bench = load_benchmark(spec.name, data_root=args.data_root)
    bench = shrink(bench, args.max_left, sample_rng)
    on = list(spec.columns) or bench.on
    missing = [c for c in on if c not in bench.left.columns or c not in bench.right.columns]
    if missing:
        raise lk.ConfigError(f"{spec.label}: no column(s) {missing} in both tables; {bench.on}")
    tl, tr = truth_rows(bench)
    order = partner_order(bench, order_rng)
    lone = bench.right.height - len(np.unique(tr))
    loaded = SetInfo(spec.label, bench.left.height, bench.right.height, len(tl),
                     truth_kind(bench), len(order), lone, tuple(on))  # fmt: skip
    loaded.announce()
    runs = []
    for f in args.fs:
        right, rl, rr = overlap(bench, order, f)
        if right.height == 0:
            empty = Run("link", spec.label, f, bench.left.height, 0, note="skipped: right empty")
            runs.append(progress(empty))
            continue
        run = partial(run_link, bench.left, right, rl, rr, on, args.model)
        runs.append(attempt(run, "link", spec.label, f, errors))
    add_targets(runs)
    return runs, loaded


# -- dedup -------------------------------------------------------------------------------------
def febrl(name: str, args: argparse.Namespace) -> tuple[pl.DataFrame, list[str], Rows, Rows]:
    """A Febrl dedup set (``--max-left``: whole ``rec-<n>`` groups up to N rows), its true pairs."""
    records, idc, truth = load_dedup_benchmark(name, data_root=args.data_root)
    if args.max_left is not None and records.height > args.max_left:
        group = pl.col(idc).str.extract(r"^rec-(\d+)-")
        sizes = records.group_by(group.alias("g"), maintain_order=True).len()
        perm = rngs(args.seed)[0].permutation(sizes.height)
        fits = np.cumsum(sizes["len"].to_numpy()[perm]) <= args.max_left
        records = records.filter(group.is_in(sizes["g"].gather(perm[fits]).implode()))
    rows = records.select(pl.col(idc).alias("id")).with_row_index("row")
    t = truth.join(rows, left_on="id_a", right_on="id").join(rows, left_on="id_b", right_on="id")
    a, b = t["row"].to_numpy().astype(np.int64), t["row_right"].to_numpy().astype(np.int64)
    on = [c for c in records.columns if c != idc]
    return records, on, np.minimum(a, b), np.maximum(a, b)


def stacked(bench: Benchmark, order: Rows, f: float) -> tuple[pl.DataFrame, Rows, Rows]:
    """Every left record, then the right partners of the first ``f`` of ``order``; true pairs."""
    tl, tr = truth_rows(bench)
    chosen = np.isin(tl, order[: round(f * len(order))])
    parts = np.unique(tr[chosen])
    cols = [bench.left_id, *bench.on]
    right = bench.right[parts.tolist()].rename({bench.right_id: bench.left_id}).select(cols)
    df = pl.concat([bench.left.select(cols), right])
    return df, tl[chosen], bench.left.height + np.searchsorted(parts, tr[chosen])


def dedup_sets(args: argparse.Namespace, errors: list[str]) -> Iterator[tuple[list[Run], SetInfo]]:
    """Febrl2, Febrl3 as published, then the stacked demo firms at every f; one set at a time."""
    for name in DEDUP_SETS[:2]:
        try:
            df, on, ta, tb = febrl(name, args)
        except Exception as e:  # a set that cannot load is listed; the others still run
            traceback.print_exc()
            errors.append(f"{name} (dedup): cannot load: {e!r}")
            continue
        loaded = SetInfo(name, df.height, None, len(ta), "dedup", None, None, tuple(on))
        loaded.announce()
        run = partial(run_dedup, df, on, ta, tb, args.model)
        yield [attempt(run, "dedup", name, None, errors)], loaded
    name = DEDUP_SETS[2]
    try:
        bench = shrink(load_benchmark("demo", data_root=args.data_root), args.max_left,
                       rngs(args.seed)[0])  # fmt: skip
        if truth_kind(bench) != "1:1":
            raise lk.ConfigError("the stacked demo needs a 1:1 truth (its true pairs are direct)")
    except Exception as e:  # as above
        traceback.print_exc()
        errors.append(f"{name}: cannot load: {e!r}")
        return
    order = partner_order(bench, rngs(args.seed)[1])
    kind = "dedup (left + f of their partners)"
    loaded = SetInfo(name, bench.left.height, None, len(order), kind, len(order), None,
                     tuple(bench.on))  # fmt: skip
    loaded.announce()
    runs = []
    for f in args.fs:
        df, ta, tb = stacked(bench, order, f)
        run = partial(run_dedup, df, bench.on, ta, tb, args.model)
        runs.append(attempt(run, "dedup", name, f, errors))
    add_targets(runs)
    yield runs, loaded


# -- main --------------------------------------------------------------------------------------
def settings(args: argparse.Namespace) -> dict[str, str]:
    extra = {
        "Settings": f"f = {', '.join(f'{f:g}' for f in args.fs)}; seed {args.seed}; "
        f"model {args.model or 'the library default'}; threshold, k and the rest: the "
        "library defaults",
    }
    if args.max_left is not None:
        extra["Subsample"] = (
            f"at most {args.max_left:,} left records per set (seed {args.seed}), with their "
            "partners and the same share of the right records that are nobody's partner; "
            "a quick run, not the published figures"
        )
    return extra


def save(
    args: argparse.Namespace,
    runs: list[Run],
    loaded: list[SetInfo],
    errors: list[str],
    extra: dict[str, str],
) -> None:
    """Rewrite the markdown and its JSON (the raw rows) atomically."""
    write_atomic(args.out, render(runs, loaded, errors, extra))
    raw = {
        "command": command_line(),
        "date": utc_now(),
        "machine": machine_info(),
        "settings": extra,
        "sets": [asdict(i) for i in loaded],
        "runs": [asdict(r) for r in runs],
        "errors": errors,
    }
    write_atomic(Path(args.out).with_suffix(".json"), json.dumps(raw, indent=1) + "\n")


def report(new: list[Run]) -> None:
    """Print one set's tables to the console."""
    target_head = ["set", "f", *TARGET_NAMES]
    for title, head, rows in (
        ("measures", LINK_HEAD, link_rows(new)),
        ("measures", DEDUP_HEAD, dedup_rows(new)),
        ("figures to reach", target_head, target_rows(new, "link")),
        ("figures to reach", target_head[:-1], [r[:-1] for r in target_rows(new, "dedup")]),
    ):
        if rows:
            print_table(f"{new[0].set}: {title}", head, rows)
    print(f"{new[0].set}: {tally(new)}", flush=True)


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args = parse_args(argv)
    extra = settings(args)
    runs: list[Run] = []
    loaded: list[SetInfo] = []
    errors: list[str] = []
    start = time.perf_counter()
    for spec in args.sets:
        try:
            new, row = sweep(spec, args, errors)
        except Exception as e:  # a set that cannot load is listed; the others still run
            traceback.print_exc()
            errors.append(f"{spec.label}: cannot load: {e!r}")
        else:
            runs, loaded = runs + new, [*loaded, row]
            report(new)
        save(args, runs, loaded, errors, extra)
    for new, row in dedup_sets(args, errors) if args.dedup else []:
        runs, loaded = runs + new, [*loaded, row]
        report(new)
        save(args, runs, loaded, errors, extra)
    save(args, runs, loaded, errors, extra)
    print(f"\n{tally(runs)}; {len(errors)} error(s); {time.perf_counter() - start:.0f} s; "
          f"wrote {args.out} and {Path(args.out).with_suffix('.json')}", flush=True)  # fmt: skip
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
