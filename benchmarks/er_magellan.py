"""ER-Magellan pair matching: the Ditto-style cross-encoder and the feature matchers.

For each task (a folder of ``train/valid/test`` pair files, Ditto ``.txt`` or DeepMatcher
``.csv`` with ``tableA.csv``/``tableB.csv``): train on ``train``, select the epoch and the
threshold on ``valid``, report precision/recall/F1 on ``test``, training and scoring seconds and
pairs/s; with ``--ablation``, the F1 with each Ditto optimization switched off; with
``--fast``, the feature matchers on :class:`linker.scoring.boosted.PairFeatures` (rapidfuzz
per column, static-embedding cosines, number agreement, n-gram cosine): the boosted trees of
``lk.train(model="boosted")`` and, for comparison, the monotone logistic model, both fitted on
``train`` with the threshold on ``valid``; when a cross-encoder row exists, a stack of the
cross-encoder and the boosted matcher (logistic on valid).

Runs are written to a JSON file (``--json``), one entry per (task, variant, machine); the
markdown file (``--out``) is rendered from all JSON files given with ``--merge``, so GPU runs
(made where polars is absent: this script imports it only to render) and CPU runs share a table.

    python benchmarks/er_magellan.py --data-root ../shared/datasets --task Structured/DBLP-ACM
    python benchmarks/er_magellan.py --data-root ../shared/datasets --all --ablation
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from linker.measures import best_threshold, f1_at  # noqa: E402
from linker.scoring.ditto import DittoMatcher  # noqa: E402
from linker.scoring.labelled_pairs import PairSet, read_pairs  # noqa: E402

TASKS = [
    "Structured/Amazon-Google", "Structured/Beer", "Structured/DBLP-ACM",
    "Structured/Fodors-Zagats", "Structured/iTunes-Amazon", "Dirty/DBLP-ACM",
    "Dirty/iTunes-Amazon", "Textual/Abt-Buy",
]  # fmt: skip
DITTO_F1 = {  # Ditto (RoBERTa, all optimizations), Li et al. VLDB 2021, Table 4
    "Structured/Amazon-Google": 75.58, "Structured/Beer": 94.37, "Structured/DBLP-ACM": 98.99,
    "Structured/Fodors-Zagats": 100.0, "Structured/iTunes-Amazon": 97.06,
    "Dirty/DBLP-ACM": 99.03, "Dirty/iTunes-Amazon": 95.65, "Textual/Abt-Buy": 89.33,
}  # fmt: skip
DEEPMATCHER_F1 = {  # DeepMatcher (hybrid), Mudgal et al. SIGMOD 2018, as quoted by the issue
    "Structured/Amazon-Google": 69.3, "Structured/Beer": 72.7, "Structured/DBLP-ACM": 98.4,
    "Textual/Abt-Buy": 62.8,
}  # fmt: skip
VARIANTS = {
    "full": {},
    "no summarize": {"summarize": False},
    "no inject": {"inject": False},
    "no augment": {"augment": False},
}


def task_dir(data_root: str, task: str) -> Path:
    """The folder of ``task``: under ``ditto/er_magellan/``, under the root, or a path."""
    for cand in (Path(data_root) / "ditto" / "er_magellan" / task, Path(data_root) / task,
                 Path(task)):  # fmt: skip
        if cand.is_dir():
            return cand
    raise SystemExit(f"task {task!r} not found under {data_root} (nor as a folder)")


def machine_label(args: argparse.Namespace) -> str:
    if args.machine:
        return str(args.machine)
    try:
        import torch

        if torch.cuda.is_available() and args.device != "cpu":
            return f"GPU, {torch.cuda.get_device_name(0)}"
    except ImportError:
        pass
    return f"CPU, {len(os.sched_getaffinity(0))} cores"


def run_ditto(
    name: str, splits: dict[str, PairSet], args: argparse.Namespace, variant: str
) -> dict[str, Any]:
    """Train one matcher (variant = which optimization is off) and measure it on test.

    With ``--hard-negatives K``, as :class:`linker.scoring.stack.StackedMatcher` with
    ``hard_negatives=K`` does: the boosted matcher is fitted first (with out-of-fold scores
    of the training pairs), the cross-encoder trains on the matches and the ``K`` hardest
    non-matches per match, and the time budget and ``train_s`` cover both.
    """
    from linker.scoring.stack import first_stage

    t0 = time.perf_counter()
    load0 = os.getloadavg()[0]
    train, budget = splits["train"], args.max_train_minutes * 60 if args.max_train_minutes else None
    first_s = 0.0
    if args.hard_negatives:
        _, train = first_stage(
            train, splits["valid"], hard_negatives=args.hard_negatives, seed=args.seed
        )
        first_s = time.perf_counter() - t0
        budget = None if budget is None else budget - first_s
    m = DittoMatcher(
        args.backbone, max_len=args.max_len, epochs=args.epochs, batch_size=args.batch_size,
        lr=args.lr, patience=args.patience, device=args.device, seed=args.seed,
        pooling=args.pooling, balance=not args.no_balance,
        max_train_seconds=budget, show_progress=args.progress, **VARIANTS[variant],
    )  # fmt: skip
    m.fit(train, splits["valid"])
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    test_scores = m.predict_proba(splits["test"])
    score_s = time.perf_counter() - t0
    valid_scores = m.predict_proba(splits["valid"])
    y = np.asarray(splits["test"].labels)
    res = f1_at(test_scores, y, m.threshold_)
    hard = {}
    if args.hard_negatives:
        variant = f"{variant} + hard negatives {args.hard_negatives:g}"
        hard = {"hard_negatives": args.hard_negatives, "first_stage_s": first_s,
                "train_pairs": len(train), "train_matches": int(sum(train.labels))}  # fmt: skip
    return {
        **hard, "task": name, "variant": variant, "model": "cross-encoder",
        "backbone": args.backbone_name or args.backbone or "all-MiniLM-L6-v2",
        "precision": res["precision"], "recall": res["recall"], "f1": res["f1"],
        "valid_f1": m.valid_f1_, "threshold": m.threshold_, "epochs_run": len(m.history_),
        "train_s": train_s, "score_s": score_s, "test_pairs": len(y),
        "pairs_per_s": len(y) / score_s, "load_avg": [load0, os.getloadavg()[0]],
        "settings": {k: v for k, v in m.get_params().items() if k != "show_progress"},
        "history": m.history_,
        "test_scores": test_scores.round(5).tolist(),
        "valid_scores": valid_scores.round(5).tolist(),
    }  # fmt: skip


def run_fast(
    name: str, splits: dict[str, PairSet], args: argparse.Namespace, model: str
) -> dict[str, Any]:
    """A feature matcher, fitted on train, threshold on valid, measured on test.

    ``model="boosted"``: the library's :class:`BoostedMatcher`; ``"fast"``: the monotone
    logistic :class:`FastMatcher` (the unsupervised pipeline's model) fitted on the same
    features, to show what the trees add.
    """
    from linker.scoring.boosted import BoostedMatcher, PairFeatures
    from linker.scoring.selftrained import FastMatcher

    t0 = time.perf_counter()
    train, valid, test = splits["train"], splits["valid"], splits["test"]
    if model == "boosted":
        m = BoostedMatcher(seed=args.seed).fit(train, valid)
        predict = m.predict_proba
    else:
        feats = PairFeatures(train.columns).fit([*train.left, *train.right])
        fm = FastMatcher().fit(feats.transform(train.left, train.right), train.labels)

        def predict(p: PairSet) -> Any:
            return fm.predict_proba(feats.transform(p.left, p.right))

    valid_scores = predict(valid)
    threshold, valid_f1 = best_threshold(valid_scores, np.asarray(valid.labels))
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    test_scores = predict(test)
    score_s = time.perf_counter() - t0
    res = f1_at(test_scores, np.asarray(test.labels), threshold)
    return {
        "task": name, "variant": model, "model": model, "backbone": "—",
        "precision": res["precision"], "recall": res["recall"], "f1": res["f1"],
        "valid_f1": valid_f1, "threshold": threshold, "epochs_run": 0, "train_s": train_s,
        "score_s": score_s, "test_pairs": len(test_scores),
        "pairs_per_s": len(test_scores) / score_s, "load_avg": [os.getloadavg()[0]] * 2,
        "test_scores": test_scores.round(5).tolist(),
        "valid_scores": valid_scores.round(5).tolist(),
    }  # fmt: skip


def pick_cross_encoder(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The cross-encoder run the stack uses: of the variants run (full and the ablations), the
    one with the best valid F1, ties to ``full``; the first run of a variant counts (new runs
    come first). Ditto, too, chose the optimizations per task."""
    seen: dict[str, dict[str, Any]] = {}
    for r in runs:
        if r["model"] == "cross-encoder" and not r.get("hard_negatives"):
            seen.setdefault(r["variant"], r)
    if not seen:
        return None
    return max(seen.values(), key=lambda r: (r["valid_f1"], r["variant"] == "full"))


def stack(ce: dict[str, Any], fast: dict[str, Any], splits: dict[str, PairSet]) -> dict[str, Any]:
    """The stack of :class:`linker.scoring.stack.StackedMatcher`, from two runs' saved scores:
    logistic regression on their logits, fitted and thresholded on valid."""
    from linker.scoring.stack import fit_stack, logits

    weights, intercept, threshold, valid_f1 = fit_stack(
        [ce["valid_scores"], fast["valid_scores"]], splits["valid"].labels
    )
    z = np.column_stack([logits(ce["test_scores"]), logits(fast["test_scores"])]) @ weights
    test = 1.0 / (1.0 + np.exp(-(z + intercept)))
    res = f1_at(test, np.asarray(splits["test"].labels), threshold)
    hard = ce.get("hard_negatives")
    train_s = ce["train_s"] + (0.0 if hard else fast["train_s"])  # hard: the CE's time has both
    return {**{k: ce[k] for k in ("task", "backbone", "machine")},
            "variant": f"stack + hard negatives {hard:g}" if hard else "stack",
            "model": "stack", **res, "valid_f1": valid_f1, "threshold": threshold,
            "cross_encoder": ce["variant"], "train_s": train_s}  # fmt: skip


# -- rendering ------------------------------------------------------------------------------
def render(runs: list[dict[str, Any]], args: argparse.Namespace) -> str:
    from _common import fmt, header_lines, markdown_table

    def pct(v: float | None) -> str:
        return "—" if v is None else f"{100 * v:.2f}"

    lines = header_lines(
        "ER-Magellan pair matching: Ditto-style cross-encoder and feature matchers",
        extra={"Data": "Ditto's ER-Magellan train/valid/test pair files (../shared/datasets)"},
    )
    ce = [r for r in runs if r["model"] == "cross-encoder" and r["variant"] == "full"]
    head = ["task", "F1", "P", "R", "Ditto F1", "Δ", "valid F1", "epochs", "train min",
            "score s", "pairs/s", "backbone", "machine", "load avg", "date"]  # fmt: skip
    rows = [[r["task"], pct(r["f1"]), pct(r["precision"]), pct(r["recall"]),
             fmt(DITTO_F1.get(r["task"]), 2),
             f"{100 * r['f1'] - DITTO_F1[r['task']]:+.2f}" if r["task"] in DITTO_F1 else "—",
             pct(r["valid_f1"]), str(r["epochs_run"]), fmt(r["train_s"] / 60, 1),
             fmt(r["score_s"], 1), fmt(r["pairs_per_s"], 0), r["backbone"], r["machine"],
             "–".join(f"{v:.1f}" for v in r["load_avg"]), r["date"]]
            for r in ce]  # fmt: skip
    lines += ["## Cross-encoder (all three optimizations on), test split", "",
              *markdown_table(head, rows), ""]  # fmt: skip
    hard = [r for r in runs if r["model"] == "cross-encoder" and r.get("hard_negatives")]
    rows = [[r["task"], fmt(r["hard_negatives"], 1),
             f"{r['train_pairs']} ({r['train_matches']})", pct(r["f1"]), pct(r["valid_f1"]),
             str(r["epochs_run"]), fmt(r["first_stage_s"], 0), fmt(r["train_s"] / 60, 1),
             fmt(r["pairs_per_s"], 0), r["machine"],
             "–".join(f"{v:.1f}" for v in r["load_avg"]), r["date"]]
            for r in hard]  # fmt: skip
    if rows:
        lines += ["## Cross-encoder trained on the hard non-matches (the stack's part), test split",
                  "", "All three optimizations on; trained on every match and the K non-matches "
                  "per match that the boosted matcher scores highest out of fold "
                  "(`StackedMatcher(hard_negatives=K)`). 'first stage s': the boosted matcher "
                  "with its out-of-fold scores; 'train min' includes it. On its own it is "
                  "not meant to be used: it has seen few of the easy non-matches.", "",
                  *markdown_table(["task", "K", "train pairs (matches)", "F1", "valid F1",
                                   "epochs", "first stage s", "train min", "pairs/s",
                                   "machine", "load avg", "date"], rows), ""]  # fmt: skip
    abl = [r for r in runs if r["model"] == "cross-encoder"]
    by_task: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for r in abl:
        by_task.setdefault((r["task"], r["machine"]), {})[r["variant"]] = r
    rows = []
    for (task, machine), v in by_task.items():
        if len(v) < 2 or "full" not in v:
            continue
        full = v["full"]["f1"]
        rows.append([task, machine, pct(full)] + [
            f"{pct(v[k]['f1'])} ({100 * (v[k]['f1'] - full):+.2f})" if k in v else "—"
            for k in ("no summarize", "no inject", "no augment")])  # fmt: skip
    if rows:
        lines += ["## Ablation: test F1 with one optimization off (change against full)", "",
                  *markdown_table(["task", "machine", "full", "no summarize", "no inject",
                                   "no augment"], rows), ""]  # fmt: skip
    for kind, title in (
        (
            "boosted",
            'Boosted feature matcher (`lk.train(model="boosted")`, no transformer), test split',
        ),
        (
            "fast",
            "Monotone logistic on the same features (the unsupervised "
            "pipeline's model, here fitted on the labels), test split",
        ),
    ):
        rows = [[r["task"], pct(r["f1"]), pct(r["precision"]), pct(r["recall"]),
                 fmt(DEEPMATCHER_F1.get(r["task"]), 1), fmt(DITTO_F1.get(r["task"]), 2),
                 fmt(r["train_s"], 1), fmt(r["pairs_per_s"], 0), r["machine"],
                 "–".join(f"{v:.1f}" for v in r["load_avg"]), r["date"]]
                for r in runs if r["model"] == kind]  # fmt: skip
        if rows:
            lines += [f"## {title}", "",
                      *markdown_table(["task", "F1", "P", "R", "DeepMatcher F1", "Ditto F1",
                                       "fit s", "pairs/s", "machine", "load avg", "date"], rows),
                      ""]  # fmt: skip
    st = [r for r in runs if r["model"] == "stack"]
    by_key = {(r["task"], r["variant"], r["model"]): r for r in runs}

    def stack_s(r: dict[str, Any]) -> float | None:
        """Training seconds of both parts (rows from before ``train_s`` was kept: summed)."""
        if r.get("train_s"):
            return float(r["train_s"])
        ce = by_key.get((r["task"], r.get("cross_encoder", "full"), "cross-encoder"))
        boosted = by_key.get((r["task"], "boosted", "boosted"))
        return ce["train_s"] + boosted["train_s"] if ce and boosted else None

    def minutes(seconds: float | None) -> str:
        return fmt(None if seconds is None else seconds / 60, 1)

    rows = [[r["task"], pct(r["f1"]), pct(r["precision"]), pct(r["recall"]),
             fmt(DITTO_F1.get(r["task"]), 2),
             f"{100 * r['f1'] - DITTO_F1[r['task']]:+.2f}" if r["task"] in DITTO_F1 else "—",
             pct(r["valid_f1"]), r.get("cross_encoder", "full"),
             minutes(stack_s(r)), r["backbone"],
             r["machine"]]
            for r in st]  # fmt: skip
    if rows:
        lines += ["## Stack: logistic on (cross-encoder, boosted) logits, fitted on valid", "",
                  "Rows 'full', 'no inject' ...: the cross-encoder trained on all pairs, the "
                  "optimization variant with the best valid F1 among those run for the task "
                  "(ties to all on). Rows '... + hard negatives K': "
                  "`StackedMatcher(hard_negatives=K)`, its cross-encoder trained on the hard "
                  "non-matches (table above). 'train min': both parts (for the first kind, the "
                  "cross-encoder's minutes plus the boosted fit).", "",
                  *markdown_table(["task", "F1", "P", "R", "Ditto F1", "Δ", "valid F1",
                                   "cross-encoder variant", "train min", "backbone",
                                   "cross-encoder run on"], rows), ""]  # fmt: skip
    notes = list(args.note)
    if args.notes_file:
        notes += [n.strip() for n in Path(args.notes_file).read_text().split("\n\n") if n.strip()]
    lines += [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--data-root", default="../shared/datasets")
    p.add_argument("--task", action="append", default=[], help="task folder (repeatable)")
    p.add_argument("--all", action="store_true", help="the eight tasks of the issue")
    p.add_argument("--ablation", action="store_true", help="also each optimization off")
    p.add_argument("--ablation-tasks", default=None, help="comma list; default: all run")
    p.add_argument(
        "--fast", action="store_true",
        help="also the feature matchers (boosted trees, and the monotone logistic)",
    )  # fmt: skip
    p.add_argument("--no-ditto", action="store_true", help="skip the cross-encoder")
    p.add_argument("--backbone", default=None)
    p.add_argument("--backbone-name", default=None, help="label of the backbone column")
    p.add_argument("--variants", default="full", help="comma list of " + ", ".join(VARIANTS))
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--max-len", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--patience", type=int, default=3)
    p.add_argument("--pooling", default="mean", choices=["mean", "cls"])
    p.add_argument("--no-balance", action="store_true", help="unweighted loss")
    p.add_argument("--max-train-minutes", type=float, default=None)
    p.add_argument(
        "--hard-negatives", type=float, default=None, metavar="K",
        help="train the cross-encoder on the matches and the K non-matches per match that the "
        "boosted matcher scores highest out of fold (StackedMatcher(hard_negatives=K))",
    )  # fmt: skip
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--machine", default=None, help="label of the machine column")
    p.add_argument("--progress", action="store_true")
    p.add_argument("--json", default="benchmarks/results/er_magellan.json")
    p.add_argument("--merge", action="append", default=[], help="more JSON runs to render")
    p.add_argument("--out", default="benchmarks/results/er_magellan.md")
    p.add_argument("--no-render", action="store_true", help="write JSON only (no polars)")
    p.add_argument("--render-only", action="store_true")
    p.add_argument("--note", action="append", default=[], help="a note line for the file")
    p.add_argument("--notes-file", help="notes for the file, separated by blank lines")
    return p.parse_args(argv)


def _load(paths: list[str]) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = []
    for path in paths:
        if Path(path).is_file():
            runs += json.loads(Path(path).read_text())
    return runs


def _save(path: str, runs: list[dict[str, Any]]) -> None:
    tmp = Path(path + ".part")
    tmp.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_text(json.dumps(runs))
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    tasks = TASKS if args.all else args.task
    runs = _load([args.json])
    machine = machine_label(args)
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    abl_tasks = set(args.ablation_tasks.split(",")) if args.ablation_tasks else set(tasks)
    for name in [] if args.render_only else tasks:
        folder = task_dir(args.data_root, name)
        splits = {s: read_pairs(folder, split=s) for s in ("train", "valid", "test")}
        variants = [] if args.no_ditto else args.variants.split(",")
        if args.ablation and name in abl_tasks and not args.no_ditto:
            variants += [v for v in VARIANTS if v not in variants]
        new = []
        for v in variants:
            new.append(run_ditto(name, splits, args, v))
            r = new[-1]
            print(f"{name} {r['variant']}: F1 {r['f1']:.4f} train {r['train_s']:.0f}s", flush=True)
        if args.fast:
            for model in ("boosted", "fast"):
                new.append(run_fast(name, splits, args, model))
                print(f"{name} {model}: F1 {new[-1]['f1']:.4f}", flush=True)
        for r in new:
            r.update(machine=machine, date=date, node=platform.node())
        old = _load(args.merge)
        ce = pick_cross_encoder([r for r in new + old + runs if r["task"] == name])
        hard = [r for r in new if r["model"] == "cross-encoder" and r.get("hard_negatives")]
        fast = [r for r in new if r["model"] == "boosted"]
        for c in ([ce] if ce else []) + hard if fast else []:
            new.append({**stack(c, fast[0], splits), "date": date})
        keys = {(r["task"], r["variant"], r["machine"]) for r in new}
        runs = [r for r in runs if (r["task"], r["variant"], r["machine"]) not in keys] + new
        _save(args.json, runs)
        if not args.no_render:
            from _common import write_atomic

            write_atomic(args.out, render(_dedup(runs + _load(args.merge)), args))
    if args.render_only:
        from _common import write_atomic

        write_atomic(args.out, render(_dedup(runs + _load(args.merge)), args))
    return 0


def _dedup(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in runs:
        seen[(r["task"], r["variant"], r["machine"])] = r
    order = {t: i for i, t in enumerate(TASKS)}
    return sorted(seen.values(), key=lambda r: (r["machine"], order.get(r["task"], 99), r["task"]))


if __name__ == "__main__":
    raise SystemExit(main())
