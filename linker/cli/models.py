"""``linker train`` and ``linker score``: fit a pair matcher on labelled pairs, score pairs.

linker train ../shared/datasets/ditto/er_magellan/Structured/Beer -o beer_matcher
linker train ../shared/datasets/ditto/er_magellan/Textual/Abt-Buy --model boosted -o abt_matcher
linker train train.csv --left tableA.csv --right tableB.csv --valid valid.csv -o matcher
linker score beer_matcher test.txt -o scores.csv
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import linker as lk
from linker.cli.options import add_io, cols, given, library_default, library_option, show_progress

__all__ = ["add_score", "add_train", "run_score", "run_train"]


def _pair_source(p: argparse.ArgumentParser) -> None:
    p.add_argument("--left", help="left table (tableA.csv) for DeepMatcher id pairs")
    p.add_argument("--right", help="right table (tableB.csv) for DeepMatcher id pairs")


def add_train(p: argparse.ArgumentParser) -> None:
    """The ``train`` verb's arguments."""
    from linker.scoring.ditto import DittoMatcher

    p.add_argument(
        "pairs", help="Ditto pair file, DeepMatcher pair CSV, or a folder of train/valid files"
    )
    _pair_source(p)
    p.add_argument("--valid", help="validation pairs (default: the folder's valid split)")
    p.add_argument("--test", help="test pairs: report precision/recall/F1 after training")
    library_option(
        p, "--model", dest="kind", choices=["ditto", "boosted", "stack"], owner=lk.train,
        help="ditto: fine-tune a transformer cross-encoder (minutes); boosted: boosted trees "
        "over similarity features (seconds; the options marked [ditto] do not apply); stack: "
        "both, combined on the validation pairs",
    )  # fmt: skip
    p.add_argument("--backbone", help="[ditto] minilm (default), a model folder or hub name")
    library_option(p, "--epochs", type=int, owner=lk.train, help="[ditto] most epochs")
    for flag, kind, what in (
        ("--max-len", int, "tokens per pair"),
        ("--batch-size", int, "pairs per step"),
        ("--lr", float, "learning rate"),
    ):
        library_option(p, flag, type=kind, owner=DittoMatcher, help=f"[ditto] {what}")
    p.add_argument(
        "--max-minutes",
        type=float,
        help="[ditto] training time budget in minutes (stack: of the whole fit)",
    )
    p.add_argument(
        "--hard-negatives", type=float, metavar="K",
        help="[stack] train the cross-encoder on the matches and the K non-matches per match "
        "that the boosted matcher scores highest (default: all pairs)",
    )  # fmt: skip
    p.add_argument("--columns", help="comma-separated columns to serialize, in order")
    for flag, what in (("summarize", "TF-IDF summarization"), ("inject", "span marking"),
                       ("augment", "data augmentation")):  # fmt: skip
        p.add_argument(f"--no-{flag}", action="store_true", help=f"[ditto] switch off {what}")
    library_option(
        p, "--device", choices=["auto", "cpu", "cuda"], owner=DittoMatcher, help="[ditto] device"
    )
    library_option(p, "--seed", type=int, owner=lk.train, help="seed")
    add_io(p, delimiter=False, output=None, output_help="folder to save the matcher to")


def add_score(p: argparse.ArgumentParser) -> None:
    """The ``score`` verb's arguments."""
    p.add_argument("matcher", help="folder written by `linker train`")
    p.add_argument("pairs", help="Ditto pair file or DeepMatcher pair CSV (labels optional)")
    _pair_source(p)
    add_io(p, delimiter=False)


def _metrics(m: dict[str, float]) -> str:
    return f"P {m['precision']:.3f} R {m['recall']:.3f} F1 {m['f1']:.3f}"


def _read(a: argparse.Namespace, source: str | Path, split: str, **kwargs: Any) -> Any:
    """Pairs from ``source`` with the verb's ``--left``, ``--right`` and ``--encoding``."""
    from linker.scoring.labelled_pairs import read_pairs

    return read_pairs(
        source, split=split, left=a.left, right=a.right, encoding=a.encoding, **kwargs
    )


def _ditto_settings(a: argparse.Namespace) -> dict[str, Any]:
    """The ``[ditto]`` options given, as :func:`linker.train` keyword arguments."""
    out = given(a, "backbone", "epochs", "max_len", "batch_size", "lr", "device")
    out |= {flag: False for flag in ("summarize", "inject", "augment") if getattr(a, f"no_{flag}")}
    if a.max_minutes:
        out["max_train_seconds"] = a.max_minutes * 60
    return out


def run_train(a: argparse.Namespace) -> str:
    """Fit, save, and summarize (valid F1, threshold, seconds)."""
    from linker.scoring.labelled_pairs import split_file

    kind = a.kind or library_default(lk.train, "model")
    valid = a.valid or split_file(a.pairs, "valid")  # neither: lk.train holds out a share
    matcher = lk.train(
        _read(a, a.pairs, "train"),
        valid=_read(a, valid, "valid") if valid else None,
        columns=cols(a.columns),
        save=a.output,
        show_progress=show_progress(a),
        **({"model": a.kind} if a.kind else {}),
        **given(a, "seed", "hard_negatives"),
        **(_ditto_settings(a) if kind != "boosted" else {}),
    )
    epochs = len(getattr(matcher, "history_", []))
    if isinstance(getattr(matcher, "parts_", None), dict):  # a stack: its cross-encoder's
        epochs = len(matcher.parts_["ditto"].history_)  # type: ignore[attr-defined]
    rounds = f"{epochs} epochs" if kind != "boosted" else "boosted trees"
    out = (
        f"trained on {matcher.n_train_['pairs']} pairs in {matcher.train_seconds_:.0f} s, "
        f"{rounds}; valid F1 {matcher.valid_f1_:.3f} at threshold {matcher.threshold_:.3f}"
    )
    if a.test:
        out += f"; test {_metrics(matcher.evaluate(_read(a, a.test, 'test')))}"
    return out


def run_score(a: argparse.Namespace) -> str:
    """One row per pair with ``score`` and ``match`` (and the ids and label, if any)."""
    import numpy as np
    import polars as pl

    from linker.io.write import write
    from linker.measures import f1_at
    from linker.scoring.registry import load_matcher

    matcher = load_matcher(a.matcher)
    if hasattr(matcher, "show_progress"):
        matcher.show_progress = show_progress(a)
    pairs = _read(a, a.pairs, "test", labelled=False)
    scores = matcher.predict_proba(pairs)
    columns: dict[str, Any] = {"pair": np.arange(len(pairs))}
    if pairs.ids:
        columns["ltable_id"] = [i for i, _ in pairs.ids]
        columns["rtable_id"] = [j for _, j in pairs.ids]
    columns["score"] = scores
    columns["match"] = (scores >= matcher.threshold_).astype(np.int8)
    if pairs.labels:
        columns["label"] = pairs.labels
    write(pl.DataFrame(columns), a.output)
    out = f"{len(pairs)} pairs scored, {int(columns['match'].sum())} matches"
    if pairs.labels:
        out += "; " + _metrics(f1_at(scores, np.asarray(pairs.labels), matcher.threshold_))
    return out
