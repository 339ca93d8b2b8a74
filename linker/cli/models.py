"""The ``linker train`` and ``linker score`` verbs (wired into :mod:`linker.cli`).

linker train ../shared/datasets/ditto/er_magellan/Structured/Beer -o beer_matcher
linker train ../shared/datasets/ditto/er_magellan/Textual/Abt-Buy --model boosted -o abt_matcher
linker train train.csv --left tableA.csv --right tableB.csv --valid valid.csv -o matcher
linker score beer_matcher test.txt -o scores.csv
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["add_parsers", "run_score", "run_train"]


def _pair_source(p: argparse.ArgumentParser) -> None:
    p.add_argument("--left", help="left table (tableA.csv) for DeepMatcher id pairs")
    p.add_argument("--right", help="right table (tableB.csv) for DeepMatcher id pairs")


def add_parsers(sub: Any, fmt: dict[str, Any]) -> None:
    """Add ``train`` and ``score`` to the CLI's subparsers."""
    t = sub.add_parser(
        "train", help="train a pair matcher on labelled pairs (Ditto-style or boosted)", **fmt
    )
    t.add_argument(
        "pairs", help="Ditto pair file, DeepMatcher pair CSV, or a folder of train/valid files"
    )
    _pair_source(t)
    t.add_argument("--valid", help="validation pairs (default: the folder's valid split)")
    t.add_argument("--test", help="test pairs: report precision/recall/F1 after training")
    t.add_argument(
        "--model", default="ditto", choices=["ditto", "boosted", "stack"],
        help="ditto: fine-tune a transformer cross-encoder (minutes); boosted: boosted trees "
        "over similarity features (seconds; the options marked [ditto] do not apply); stack: "
        "both, combined on the validation pairs",
    )  # fmt: skip
    t.add_argument(
        "--backbone", default=None, help="[ditto] minilm (default), a model folder or hub name"
    )
    t.add_argument("--epochs", type=int, default=10, help="[ditto] most epochs (10)")
    t.add_argument("--max-len", type=int, default=128, help="[ditto] tokens per pair (128)")
    t.add_argument("--batch-size", type=int, default=32, help="[ditto] pairs per step (32)")
    t.add_argument("--lr", type=float, default=5e-5, help="[ditto] learning rate (5e-5)")
    t.add_argument(
        "--max-minutes",
        type=float,
        help="[ditto] training time budget in minutes (stack: of the whole fit)",
    )
    t.add_argument(
        "--hard-negatives", type=float, default=None, metavar="K",
        help="[stack] train the cross-encoder on the matches and the K non-matches per match "
        "that the boosted matcher scores highest (default: all pairs)",
    )  # fmt: skip
    t.add_argument("--columns", help="comma-separated columns to serialize, in order")
    for flag, what in (("summarize", "TF-IDF summarization"), ("inject", "span marking"),
                       ("augment", "data augmentation")):  # fmt: skip
        t.add_argument(f"--no-{flag}", action="store_true", help=f"[ditto] switch off {what}")
    t.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="[ditto]")
    t.add_argument("--seed", type=int, default=0, help="seed (0)")
    t.add_argument("-o", "--output", required=True, help="folder to save the matcher to")
    t.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    t.add_argument("-v", "--verbose", action="store_true", help="log each epoch")
    s = sub.add_parser("score", help="score pairs with a trained matcher", **fmt)
    s.add_argument("matcher", help="folder written by `linker train`")
    s.add_argument("pairs", help="Ditto pair file or DeepMatcher pair CSV (labels optional)")
    _pair_source(s)
    s.add_argument("-o", "--output", default="-", help="output .csv or .parquet (default: stdout)")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    s.add_argument("-v", "--verbose", action="store_true", help="log progress")


def _metrics(m: dict[str, float]) -> str:
    return f"P {m['precision']:.3f} R {m['recall']:.3f} F1 {m['f1']:.3f}"


def run_train(a: argparse.Namespace) -> str:
    """``linker train``: fit, save, and summarize (valid F1, threshold, seconds)."""
    from linker.api import train
    from linker.scoring.labelled_pairs import read_pairs

    ditto = {
        "backbone": a.backbone, "epochs": a.epochs, "max_len": a.max_len,
        "batch_size": a.batch_size, "lr": a.lr, "summarize": not a.no_summarize,
        "inject": not a.no_inject, "augment": not a.no_augment,
        "max_train_seconds": a.max_minutes * 60 if a.max_minutes else None, "device": a.device,
        "show_progress": not a.quiet and sys.stderr.isatty(),
    }  # fmt: skip
    matcher = train(
        a.pairs,
        left=a.left,
        right=a.right,
        valid=a.valid,
        model=a.model,
        columns=[c.strip() for c in a.columns.split(",")] if a.columns else None,
        save=a.output,
        seed=a.seed,
        **(ditto if a.model != "boosted" else {}),
        **({"hard_negatives": a.hard_negatives} if a.hard_negatives is not None else {}),
    )
    epochs = len(getattr(matcher, "history_", []))
    if isinstance(getattr(matcher, "parts_", None), dict):  # a stack: its cross-encoder's
        epochs = len(matcher.parts_["ditto"].history_)  # type: ignore[attr-defined]
    rounds = f"{epochs} epochs" if a.model != "boosted" else "boosted trees"
    out = (
        f"trained on {matcher.n_train_['pairs']} pairs in {matcher.train_seconds_:.0f} s, "
        f"{rounds}; valid F1 {matcher.valid_f1_:.3f} at threshold {matcher.threshold_:.3f}"
    )
    if a.test:
        test = read_pairs(a.test, split="test", left=a.left, right=a.right)
        out += f"; test {_metrics(matcher.evaluate(test))}"
    return out


def run_score(a: argparse.Namespace) -> str:
    """``linker score``: one row per pair with ``score`` and ``match`` (and ids, label)."""
    import numpy as np
    import polars as pl

    from linker.io.write import write as _write
    from linker.measures import f1_at
    from linker.scoring.labelled_pairs import read_pairs
    from linker.scoring.registry import load_matcher

    matcher = load_matcher(a.matcher)
    if hasattr(matcher, "show_progress"):
        matcher.show_progress = not a.quiet and sys.stderr.isatty()
    pairs = read_pairs(a.pairs, split="test", left=a.left, right=a.right, labelled=False)
    scores = matcher.predict_proba(pairs)
    cols: dict[str, Any] = {"pair": np.arange(len(pairs))}
    if pairs.ids:
        cols["ltable_id"] = [i for i, _ in pairs.ids]
        cols["rtable_id"] = [j for _, j in pairs.ids]
    cols["score"] = scores
    cols["match"] = (scores >= matcher.threshold_).astype(np.int8)
    if pairs.labels:
        cols["label"] = pairs.labels
    _write(pl.DataFrame(cols), a.output)
    out = f"{len(pairs)} pairs scored, {int(cols['match'].sum())} matches"
    if pairs.labels:
        out += "; " + _metrics(f1_at(scores, np.asarray(pairs.labels), matcher.threshold_))
    return out
